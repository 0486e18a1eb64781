#!/usr/bin/env bash
# What moving one shard costs at each end (issue 19, streamed snapshots): a one-shard engine is
# filled with random-valued series (they compress badly, so the shard is big for its sample
# count), then the sender's side (Engine::dump_shard_to, into a file) and the receiver's side
# (Engine::install_shard_from, from it) run in processes of their own, each reporting its time
# and peak RSS (VmHWM). The network in between adds one chunk (at most 1 MiB) on each side.
#
#   shard_move fill DIR SIZE ─► DIR (one shard of about SIZE)
#   shard_move dump DIR FILE ─► bytes, seconds, peak RSS       (sender)
#   shard_move install DIR2 FILE ─► bytes, seconds, peak RSS  (receiver)
#
# Usage: benches/shard_move.sh [--size 1GiB] [--keep]
# Environment: SIZE, KEEP=1, CARGO_TARGET_DIR (default ~/.cache/cairn-target)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE=${SIZE:-1GiB}
KEEP=${KEEP:-0}
BENCH="shard move bench"
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=$2; shift ;;
    --keep) KEEP=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "shard move bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

bash "$ROOT/scripts/setup.sh" >&2
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}
log "building the shard_move helper (release)"
(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -q -p cairn-benches --bin shard_move)
BIN="$TARGET/release/shard_move"

WORK=$(mktemp -d -t cairn-shard-move.XXXXXX)
cleanup() { if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

log "filling one shard to about $SIZE"
"$BIN" fill "$WORK/sender" "$SIZE" | tee "$WORK/fill.json" >&2
"$BIN" dump "$WORK/sender" "$WORK/shard.dump" | tee "$WORK/dump.json" >&2
"$BIN" install "$WORK/receiver" "$WORK/shard.dump" | tee "$WORK/install.json" >&2

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
printf '\n%-9s %12s %10s %12s %18s %16s\n' side bytes seconds MiB/s "peak RSS at open" "peak RSS"
for step in dump install; do
  f="$WORK/$step.json"
  b=$(json_get "$f" bytes) s=$(json_get "$f" seconds)
  side=$([ "$step" = dump ] && echo sender || echo receiver)
  printf '%-9s %12s %10s %12s %18s %16s\n' "$side" "$b" "$s" \
    "$(awk -v b="$b" -v s="$s" 'BEGIN { printf "%.0f", b / 1048576 / s }')" \
    "$(mib "$(json_get "$f" peak_rss_at_open)")" "$(mib "$(json_get "$f" peak_rss)")"
done
