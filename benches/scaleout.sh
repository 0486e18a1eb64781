#!/usr/bin/env bash
# Scale-out (issue 19), with real node processes on this machine (they share its cores):
#
#  1. ingest: the same TSBS cpu-only file loaded by the same loader into a fresh 3-node and a
#     fresh 5-node cluster (RF 3, replicas balanced first), through node 1; per setup the
#     loader's samples/s, and per node its CPU-seconds during the load and its data dir bytes
#     after a flush (the load spread over the nodes).
#  2. a move: a 3-node cluster holding the file's data (flushed, so a new replica catches up
#     by snapshot), then a fourth node joins: the time until replicas and leaders are balanced
#     again, the moves made, and the snapshot bytes node 4 received.
#  3. write latency: a probe writes one small request every 50 ms to node 1, first for
#     --probe seconds at rest, then while the moves of step 2 run; p50 / p99 / max of each.
#  4. backup and restore: `cairn backup` of the 4-node cluster of step 2 (while the probe
#     writes), then `cairn restore` of it into a new data dir; the time and bytes of each.
#
# On one 2-core machine five nodes have no more cores than three: the ingest rate shows the
# cost of the extra replication work and fan-out more than any gain; the per-node CPU and bytes
# show that the load spreads (each node holds ~3/5 of the replicas instead of all of them).
#
# Usage: benches/scaleout.sh [--hosts N] [--duration D] [--shards S] [--concurrency C]
#                            [--probe SECONDS] [--no-build] [--keep]
# Environment (flags win): HOSTS DURATION INTERVAL SEED SHARDS CONCURRENCY PROBE
#   CAIRN_BIN=path (use this binary, skip the build)  KEEP=1 (leave the temp dir)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOSTS=${HOSTS:-100}
DURATION=${DURATION:-1d}
INTERVAL=${INTERVAL:-10s}
SEED=${SEED:-1}
SHARDS=${SHARDS:-16}
CONCURRENCY=${CONCURRENCY:-16}
PROBE=${PROBE:-15}
KEEP=${KEEP:-0}
BUILD=1
BENCH="scale-out bench"
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) HOSTS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --shards) SHARDS=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --probe) PROBE=$2; shift ;;
    --no-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "scale-out bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

bash "$ROOT/scripts/setup.sh" >&2
find_cairn
WORK=$(mktemp -d -t cairn-scaleout.XXXXXX)
PIDS=()
declare -A HTTP GRPC
trap cleanup EXIT
trap 'exit 130' INT TERM
CLK_TCK=$(getconf CLK_TCK)
# The one tenant of the load spans every shard (by default a tenant owns 4 of them), so that
# the load can spread over every node.
printf '[tenancy]\nshards_per_tenant = %d\n[rebalance]\nstable_after = "1s"\n' "$SHARDS" >"$WORK/cairn.toml"

start_node() { # SETUP ID
  local setup=$1 id=$2 join=()
  HTTP[$id]=$(free_port) GRPC[$id]=$(free_port)
  [ "$id" -gt 1 ] && join=(--join "127.0.0.1:${GRPC[1]}")
  "$CAIRN" server --config "$WORK/cairn.toml" --node-id "$id" --data-dir "$WORK/$setup-n$id" \
    --http-addr "127.0.0.1:${HTTP[$id]}" --grpc-addr "127.0.0.1:${GRPC[$id]}" \
    --shards "$SHARDS" "${join[@]}" >"$WORK/$setup-n$id.log" 2>&1 &
  PIDS[$id]=$!
}

# Waits until every node of 1..N sees N members, no move, replica counts and leader counts
# each differing by at most one.
wait_balanced() { # N
  local n=$1 i ports=()
  for i in $(seq 1 "$n"); do ports+=("${HTTP[$i]}"); done
  for _ in $(seq 1 1800); do
    if python3 - "$n" "${ports[@]}" <<'PY' 2>/dev/null; then return 0; fi
import json, sys, urllib.request
n, ports = int(sys.argv[1]), sys.argv[2:]
leaders, ok = {}, True
for p in ports:
    d = json.load(urllib.request.urlopen(f"http://127.0.0.1:{p}/api/v1/cluster/status", timeout=2))["data"]
    reps = [x["replicas"] for x in d["nodes"]]
    ok &= len(d["nodes"]) == n and not d["moves"] and max(reps) - min(reps) <= 1
    for s in d["shards"]:
        if s["local"]:
            ok &= s["leader"] is not None and sorted(s["voters"]) == sorted(s["placement"]) and not s["learners"]
            leaders[s["id"]] = s["leader"]
led = [list(leaders.values()).count(i + 1) for i in range(n)]
ok &= len(leaders) == d["shard_count"] and max(led) - min(led) <= 1
sys.exit(0 if ok else 1)
PY
    for i in "${!PIDS[@]}"; do
      kill -0 "${PIDS[$i]}" 2>/dev/null || { log "node $i exited; see $WORK"; KEEP=1; exit 1; }
    done
    sleep 0.2
  done
  log "not balanced after 6 minutes"; KEEP=1; exit 1
}

FILE="$WORK/tsbs.lp"
log "generating $HOSTS hosts × $DURATION every $INTERVAL (seed $SEED)"
"$CAIRN" bench ingest --out "$FILE" --hosts "$HOSTS" --duration "$DURATION" --interval "$INTERVAL" \
  --seed "$SEED" >/dev/null

# 1. ingest into 3 and 5 nodes
declare -A RATE
for N in 3 5; do
  for id in $(seq 1 "$N"); do start_node "ingest$N" "$id"; [ "$id" = 1 ] && sleep 2; done
  wait_balanced "$N"
  sleep 2
  declare -A T0=()
  for id in $(seq 1 "$N"); do T0[$id]=$(cpu_ticks "${PIDS[$id]}"); done
  log "$N nodes: loading with $CONCURRENCY writers"
  "$CAIRN" bench ingest --json --batch-lines 1000 --concurrency "$CONCURRENCY" \
    --url "http://127.0.0.1:${HTTP[1]}" --input "$FILE" >"$WORK/ingest$N.json"
  RATE[$N]=$(json_get "$WORK/ingest$N.json" samples_per_second)
  samples=$(json_get "$WORK/ingest$N.json" samples)
  for id in $(seq 1 "$N"); do
    curl -fs -XPOST "http://127.0.0.1:${HTTP[$id]}/api/v1/admin/flush" >/dev/null
  done
  echo "== $N nodes: $(printf %.0f "${RATE[$N]}") samples/s ($samples samples)" >>"$WORK/report"
  for id in $(seq 1 "$N"); do
    cpu=$(awk -v t=$(($(cpu_ticks "${PIDS[$id]}") - T0[$id])) -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", t / hz }')
    bytes=$(du -sb "$WORK/ingest$N-n$id" | cut -f1)
    printf '   node %d: %6s CPU-s during the load, %6.1f MiB on disk\n' "$id" "$cpu" \
      "$(awk -v b="$bytes" 'BEGIN { print b / 1048576 }')" >>"$WORK/report"
  done
  stop_all
  [ "$KEEP" = 1 ] || rm -rf "$WORK/ingest$N"-n?
done

# 2 and 3. a move under a latency probe
for id in 1 2 3; do start_node move "$id"; [ "$id" = 1 ] && sleep 2; done
wait_balanced 3
log "3 nodes: loading the data to move"
"$CAIRN" bench ingest --json --batch-lines 1000 --concurrency "$CONCURRENCY" \
  --url "http://127.0.0.1:${HTTP[1]}" --input "$FILE" >/dev/null
for id in 1 2 3; do curl -fs -XPOST "http://127.0.0.1:${HTTP[$id]}/api/v1/admin/flush" >/dev/null; done
log "latency at rest for $PROBE s"
python3 "$ROOT/benches/latency_probe.py" "http://127.0.0.1:${HTTP[1]}" "$PROBE" "$WORK/none" >"$WORK/rest.json"
log "node 4 joins: moves under the probe"
python3 "$ROOT/benches/latency_probe.py" "http://127.0.0.1:${HTTP[1]}" 600 "$WORK/moved" >"$WORK/moving.json" &
PROBE_PID=$!
t0=$(date +%s.%N)
start_node move 4
wait_balanced 4
t1=$(date +%s.%N)
touch "$WORK/moved"
wait "$PROBE_PID"
received=$(curl -fs "http://127.0.0.1:${HTTP[4]}/api/v1/cluster/status" | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
r = [x for x in d["snapshot_receives"] if x["finished"]]
print(len(r), sum(x["bytes_received"] for x in r), sum(n["replicas"] for n in d["nodes"] if n["id"] == 4))')
read -r snaps bytes reps <<<"$received"
moves=$(grep -h "moving a shard replica" "$WORK"/move-n?.log | wc -l)
{
  echo "== node 4 joins a 3-node cluster holding the data ($SHARDS shards, RF 3)"
  printf '   balanced (replicas and leaders) after %.1f s: %s moves, node 4 holds %s replicas\n' \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$moves" "$reps"
  printf '   node 4 received %s snapshots, %.1f MiB\n' "$snaps" "$(awk -v b="$bytes" 'BEGIN { print b / 1048576 }')"
  echo "== write latency of one small request every 50 ms through node 1 (ms)"
  echo "   at rest:      $(cat "$WORK/rest.json")"
  echo "   during moves: $(cat "$WORK/moving.json")"
} >>"$WORK/report"
log "backup of the 4-node cluster under the probe"
python3 "$ROOT/benches/latency_probe.py" "http://127.0.0.1:${HTTP[1]}" 600 "$WORK/backed" >"$WORK/backup-probe.json" &
PROBE_PID=$!
t0=$(date +%s.%N)
"$CAIRN" backup --url "http://127.0.0.1:${HTTP[2]}" --to "$WORK/backup" 2>/dev/null >"$WORK/backup.out"
t1=$(date +%s.%N)
touch "$WORK/backed"
wait "$PROBE_PID"
"$CAIRN" restore --from "$WORK/backup" --data-dir "$WORK/restored" 2>/dev/null >"$WORK/restore.out"
t2=$(date +%s.%N)
{
  echo "== backup and restore of that cluster (the whole data set, 16 shards)"
  printf '   backup:  %.1f s (%s)\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$(cat "$WORK/backup.out")"
  printf '   restore: %.1f s\n' "$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')"
  echo "   write latency during the backup: $(cat "$WORK/backup-probe.json")"
} >>"$WORK/report"
echo
cat "$WORK/report"
