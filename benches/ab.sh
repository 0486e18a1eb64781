#!/usr/bin/env bash
# Two Cairn binaries side by side on one node: A (e.g. the last release, or main before a
# change) against B (this build), loaded with the same TSBS cpu-only file, in interleaved
# rounds (A B, B A, A B, ...) so that drift in what else the machine does falls on both.
#
#   cairn bench ingest --out FILE ─► FILE ─┬─► fresh A ─► flush ─► settle ─┐
#                                          └─► fresh B ─► flush ─► settle ─┴─► per round, medians
#
# Per load: ingest samples/s (the loader's), server CPU-seconds per million samples during the
# load, peak RSS (VmHWM), and bytes per sample on disk after the flush, as file sizes (du -sb)
# and as allocated blocks (du -s -B1). The table gives each binary's median over the rounds
# and B/A. Use it to show that a change that should not cost anything does not.
#
# Usage: benches/ab.sh A_BINARY [B_BINARY] [--rounds N] [--hosts N] [--duration D]
#                      [--interval I] [--concurrency C] [--keep]
#   B_BINARY defaults to this checkout's release build (built first).
# Environment (flags win): ROUNDS HOSTS DURATION INTERVAL SEED CONCURRENCY BATCH_LINES KEEP=1
# Servers listen on free 127.0.0.1 ports only; all data lives in one mktemp -d dir, removed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

ROUNDS=${ROUNDS:-5}
HOSTS=${HOSTS:-100}
DURATION=${DURATION:-1d}
INTERVAL=${INTERVAL:-10s}
SEED=${SEED:-1}
CONCURRENCY=${CONCURRENCY:-4}
BATCH_LINES=${BATCH_LINES:-1000}
KEEP=${KEEP:-0}
BUILD=1
BENCH=ab
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"

A=""
B=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift ;;
    --hosts) HOSTS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --interval) INTERVAL=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --keep) KEEP=1 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "ab: unknown flag $1 (see --help)" >&2; exit 2 ;;
    *) if [ -z "$A" ]; then A=$1; elif [ -z "$B" ]; then B=$1; else
         echo "ab: at most two binaries" >&2; exit 2; fi ;;
  esac
  shift
done
[ -n "$A" ] || { usage; exit 2; }
[ -x "$A" ] || { echo "ab: $A is not an executable" >&2; exit 1; }
if [ -z "$B" ]; then
  find_cairn
  B=$CAIRN
fi

WORK=$(mktemp -d -t cairn-ab.XXXXXX)
PID=""
cleanup() {
  if [ -n "$PID" ]; then stop_server "$PID"; fi
  if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

CLK_TCK=$(getconf CLK_TCK)
FILE="$WORK/tsbs.lp"
log "generating $HOSTS hosts × $DURATION every $INTERVAL (seed $SEED)"
"$B" bench ingest --hosts "$HOSTS" --duration "$DURATION" --interval "$INTERVAL" --seed "$SEED" \
  --out "$FILE" >/dev/null
RESULTS="$WORK/results"
: >"$RESULTS"

# One load of FILE into a fresh server of binary $2; appends "label metric value" lines.
load() { # LABEL BINARY
  local label=$1 bin=$2 port data t0 t1 size alloc prev stable
  port=$(free_port)
  data=$(mktemp -d "$WORK/$label-data.XXXXXX")
  "$bin" server --data-dir "$data" --http-addr "127.0.0.1:$port" \
    --grpc-addr "127.0.0.1:$(free_port)" >"$WORK/$label.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 600); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/ready" && break
    sleep 0.2
  done
  t0=$(cpu_ticks "$PID")
  "$B" bench ingest --url "http://127.0.0.1:$port" --input "$FILE" --concurrency "$CONCURRENCY" \
    --batch-lines "$BATCH_LINES" --json >"$WORK/$label.json"
  t1=$(cpu_ticks "$PID")
  curl -fsS -X POST "http://127.0.0.1:$port/api/v1/admin/flush" >/dev/null
  # Settled: the size has not changed for 6 s (background compactions after the flush).
  prev=-1
  stable=0
  for _ in $(seq 1 60); do
    size=$(du -sb "$data" | cut -f1)
    if [ "$size" = "$prev" ]; then stable=$((stable + 1)); else stable=0; fi
    [ $stable -ge 3 ] && break
    prev=$size
    sleep 2
  done
  alloc=$(du -s --block-size=1 "$data" | cut -f1)
  awk -v l="$label" -v rate="$(json_get "$WORK/$label.json" samples_per_second)" \
    -v n="$(json_get "$WORK/$label.json" samples)" -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
    -v hwm="$(awk '$1 == "VmHWM:" { print $2 * 1024 }' "/proc/$PID/status")" \
    -v size="$size" -v alloc="$alloc" 'BEGIN {
      printf "%s rate %.0f\n%s cpu %.4f\n%s hwm %.0f\n%s bps %.4f\n%s abps %.4f\n", l, rate, l,
        (t1 - t0) / hz / (n / 1e6), l, hwm, l, size / n, l, alloc / n
    }' | tee -a "$RESULTS" | awk -v l="$label" '{ o = o " " $2 "=" $3 } END { print "ab: " l ":" o }' >&2
  stop_server "$PID"
  PID=""
}

for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="A B"; else order="B A"; fi
  for which in $order; do
    if [ "$which" = A ]; then load A "$A"; else load B "$B"; fi
  done
done

med() { awk -v s="$1" -v k="$2" '$1 == s && $2 == k { print $3 }' "$RESULTS" | sort -g |
  awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.10g\n", m }'; }
range() { awk -v s="$1" -v k="$2" '$1 == s && $2 == k { print $3 }' "$RESULTS" | sort -g |
  awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'; }

printf '\nA: %s\nB: %s\n%d rounds, interleaved; TSBS cpu-only %s hosts × %s every %s, %s writers\n\n' \
  "$A" "$B" "$ROUNDS" "$HOSTS" "$DURATION" "$INTERVAL" "$CONCURRENCY"
fmt="%-6s %12s %13s %13s %14s %12s\n"
printf "$fmt" "" "samples/s" "CPU-s/M load" "peak RSS MiB" "B/sample file" "B/sample du"
for l in A B; do
  printf "$fmt" "$l" "$(printf %.0f "$(med $l rate)")" "$(printf %.3f "$(med $l cpu)")" \
    "$(awk -v h="$(med $l hwm)" 'BEGIN { printf "%.1f", h / 1048576 }')" "$(printf %.3f "$(med $l bps)")" \
    "$(printf %.3f "$(med $l abps)")"
done
printf "$fmt" "B/A" \
  "$(awk -v a="$(med A rate)" -v b="$(med B rate)" 'BEGIN { printf "%.3f", b / a }')" \
  "$(awk -v a="$(med A cpu)" -v b="$(med B cpu)" 'BEGIN { printf "%.3f", b / a }')" \
  "$(awk -v a="$(med A hwm)" -v b="$(med B hwm)" 'BEGIN { printf "%.3f", b / a }')" \
  "$(awk -v a="$(med A bps)" -v b="$(med B bps)" 'BEGIN { printf "%.3f", b / a }')" \
  "$(awk -v a="$(med A abps)" -v b="$(med B abps)" 'BEGIN { printf "%.3f", b / a }')"
printf '\nranges over the rounds: A samples/s %s, CPU-s/M %s; B samples/s %s, CPU-s/M %s\n' \
  "$(range A rate)" "$(range A cpu)" "$(range B rate)" "$(range B cpu)"
