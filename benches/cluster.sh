#!/usr/bin/env bash
# A three-node Cairn cluster (replication factor 3, every node on this machine, sharing its
# cores) against a single node, with the same TSBS cpu-only file and the same loader:
#
#   cairn bench ingest --out FILE ─► FILE ─┬─► fresh single node                ─► numbers ─┐
#                                          └─► fresh 3-node cluster (idle first) ─► numbers ─┴─► table
#
# Reported per setup: ingest samples/s (the loader's), server CPU-seconds per million samples
# during the load (summed over the nodes), Raft commit latency p50/p99 (proposal to applied on
# the leader, `cairn_raft_commit_seconds` of the node the loader writes to, interpolated within
# its buckets as PromQL's histogram_quantile does), and for the cluster the CPU its three idle
# nodes use with --shards shard groups plus the meta group heartbeating; then the ratio
# cluster / single node (issue 4's target: at least 0.5).
#
# Writers: each setup is loaded with every writer count in --concurrency (requests in flight;
# default "4 16"), a fresh setup per load. A single node is CPU-bound already with 4 writers
# (16 add a few percent). The cluster is not: with 3 nodes and the loader sharing 2 cores, a
# write takes ~16 ms (parse, Raft round trips to a follower, apply), so 4 writers leave ~15%
# of the cores idle and measure that latency more than the cluster's ingest rate. The verdict
# compares capacities: each setup's best rate over the writer counts, per round (production
# ingest comes from many collectors at once); the ratio for each writer count is printed too.
#
# The loader writes to node 1, which bootstrapped the cluster and leads its groups, so the
# cluster's numbers include replication to two followers but no forwarding.
#
# Rounds: a load takes only a few seconds, so one noisy moment on a shared machine moves one
# number a lot. Each of --rounds rounds (default 3) loads a fresh single node and then a fresh
# cluster; the table lists every round, and the verdict is the median of the rounds' ratios.
# Idle CPU is measured in the first round.
#
# Scale-out (issue 19: 3 vs 5 nodes, a shard move's time and bytes, write latency during
# moves): `benches/cluster.sh --scale-out [its flags]` runs benches/scaleout.sh.
#
# Usage: benches/cluster.sh [--hosts N] [--duration D] [--interval I] [--shards S] [--rounds R]
#                           [--idle SECONDS] [--concurrency "C1 C2 ..."] [--batch-lines B] [--no-build] [--keep]
# Environment (flags win): HOSTS DURATION INTERVAL SEED SHARDS ROUNDS IDLE CONCURRENCY BATCH_LINES
#   CAIRN_BIN=path (use this binary, skip the build)  KEEP=1 (leave the temp dir)
#   CARGO_TARGET_DIR (default ~/.cache/cairn-target)
# Servers listen on free 127.0.0.1 ports only; all data lives in one mktemp -d dir, removed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

HOSTS=${HOSTS:-100}
DURATION=${DURATION:-1d}
INTERVAL=${INTERVAL:-10s}
SEED=${SEED:-1}
SHARDS=${SHARDS:-16}
ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-30}
CONCURRENCY=${CONCURRENCY:-"4 16"}
BATCH_LINES=${BATCH_LINES:-1000}
KEEP=${KEEP:-0}
BUILD=1

BENCH="cluster bench"
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"

if [ "${1:-}" = --scale-out ]; then
  shift
  exec "$ROOT/benches/scaleout.sh" "$@"
fi

while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) HOSTS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --interval) INTERVAL=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --shards) SHARDS=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --idle) IDLE=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --batch-lines) BATCH_LINES=$2; shift ;;
    --no-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "cluster bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

bash "$ROOT/scripts/setup.sh" >&2
find_cairn

WORK=$(mktemp -d -t cairn-cluster-bench.XXXXXX)
PIDS=()

trap cleanup EXIT
trap 'exit 130' INT TERM

all_ticks() {
  local pid sum=0
  for pid in "${PIDS[@]}"; do sum=$((sum + $(cpu_ticks "$pid"))); done
  echo "$sum"
}
# q-quantile (0..1) of cairn_raft_commit_seconds on the node at URL, interpolated linearly
# within the bucket it falls in (the lowest bucket starts at 0); "-" without observations.
commit_quantile() { # URL Q
  curl -fs "$1/metrics" | awk -v q="$2" '
    /^cairn_raft_commit_seconds_bucket/ {
      match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
      n++; les[n] = le; cum[n] = $2
    }
    END {
      total = cum[n]
      if (total == 0) { print "-"; exit }
      rank = q * total; lo = 0; prev = 0
      for (i = 1; i <= n; i++) {
        if (cum[i] >= rank) {
          if (les[i] == "+Inf") { printf "> %s s\n", les[i - 1]; exit }
          hi = les[i] + 0
          printf "%.1f ms\n", 1000 * (lo + (hi - lo) * (rank - prev) / (cum[i] - prev))
          exit
        }
        lo = les[i] + 0; prev = cum[i]
      }
    }'
}

CLK_TCK=$(getconf CLK_TCK)
LOADER=("$CAIRN" bench ingest --batch-lines "$BATCH_LINES" --json)

start_node() { # ID HTTP_PORT GRPC_PORT [--join ADDR]
  local id=$1 http=$2 grpc=$3
  shift 3
  "$CAIRN" server --node-id "$id" --data-dir "$WORK/$ROUND-$C-$MODE-n$id" \
    --http-addr "127.0.0.1:$http" --grpc-addr "127.0.0.1:$grpc" --shards "$SHARDS" "$@" \
    >"$WORK/$ROUND-$C-$MODE-n$id.log" 2>&1 &
  PIDS+=($!)
}

wait_healthy() { # URL NODES
  for _ in $(seq 1 600); do
    if curl -fs "$1/api/v1/cluster/status" |
      python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; sys.exit(0 if d["healthy"] and len(d["nodes"])==int(sys.argv[1]) else 1)' "$2" 2>/dev/null; then
      return 0
    fi
    for pid in "${PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null || { echo "cluster bench: a node exited; see $WORK" >&2; KEEP=1; exit 1; }
    done
    sleep 0.2
  done
  echo "cluster bench: $1 not healthy after 120 s" >&2
  KEEP=1
  exit 1
}

FILE="$WORK/tsbs-cpu-only.lp"
log "generating $HOSTS hosts × $DURATION every $INTERVAL (seed $SEED)"
"$CAIRN" bench ingest --out "$FILE" --hosts "$HOSTS" --duration "$DURATION" \
  --interval "$INTERVAL" --seed "$SEED" >/dev/null

# A setup's capacity in round $ROUND: its best rate over the writer counts.
best() { # single|cluster
  local m=0 c
  for c in $CONCURRENCY; do
    m=$(awk -v a="$m" -v b="${RATE[$ROUND.$c.$1]}" 'BEGIN { printf "%.0f", (b > a ? b : a) }')
  done
  echo "$m"
}

declare -A RATE CPU P50 P99 RATIO
IDLE_CPU="-"
CAPACITY=()
for ROUND in $(seq 1 "$ROUNDS"); do
  for C in $CONCURRENCY; do
    for MODE in single cluster; do
      h1=$(free_port) g1=$(free_port)
      URL="http://127.0.0.1:$h1"
      start_node 1 "$h1" "$g1"
      wait_healthy "$URL" 1
      if [ "$MODE" = cluster ]; then
        start_node 2 "$(free_port)" "$(free_port)" --join "127.0.0.1:$g1"
        start_node 3 "$(free_port)" "$(free_port)" --join "127.0.0.1:$g1"
        wait_healthy "$URL" 3
      fi
      sleep 3
      if [ "$MODE" = cluster ] && [ "$IDLE_CPU" = - ]; then
        log "cluster: healthy; measuring idle CPU for $IDLE s"
        t0=$(all_ticks)
        sleep "$IDLE"
        t1=$(all_ticks)
        IDLE_CPU=$(awk -v t=$((t1 - t0)) -v s="$IDLE" -v hz="$CLK_TCK" -v sh="$SHARDS" \
          'BEGIN { printf "%.1f%% of one core (3 nodes, %d shards)", 100 * t / hz / s, sh }')
      fi
      log "round $ROUND/$ROUNDS, $MODE, $C writers: loading"
      key="$ROUND.$C.$MODE"
      t0=$(all_ticks)
      "${LOADER[@]}" --concurrency "$C" --url "$URL" --input "$FILE" >"$WORK/$key.json"
      t1=$(all_ticks)
      samples=$(json_get "$WORK/$key.json" samples)
      RATE[$key]=$(json_get "$WORK/$key.json" samples_per_second)
      CPU[$key]=$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$samples" \
        'BEGIN { printf "%.3f", t / hz / (n / 1e6) }')
      P50[$key]=$(commit_quantile "$URL" 0.5)
      P99[$key]=$(commit_quantile "$URL" 0.99)
      log "round $ROUND/$ROUNDS, $MODE, $C writers: $samples samples at ${RATE[$key]} samples/s"
      stop_all
      [ "$KEEP" = 1 ] || rm -rf "$WORK/$ROUND-$C-$MODE"-n?
    done
    RATIO[$ROUND.$C]=$(awk -v c="${RATE[$ROUND.$C.cluster]}" -v s="${RATE[$ROUND.$C.single]}" \
      'BEGIN { printf "%.2f", c / s }')
  done
  CAPACITY+=("$(awk -v c="$(best cluster)" -v s="$(best single)" 'BEGIN { printf "%.2f", c / s }')")
done

median() { sort -n | awk '{ v[NR] = $1 } END {
  if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '\n%-6s %-8s %-9s %14s %16s %12s %12s %8s\n' round writers setup samples/s \
  "CPU-s/M samples" "commit p50" "commit p99" ratio
for ROUND in $(seq 1 "$ROUNDS"); do
  for C in $CONCURRENCY; do
    for MODE in single cluster; do
      key="$ROUND.$C.$MODE"
      ratio=""
      [ "$MODE" = cluster ] && ratio=${RATIO[$ROUND.$C]}
      printf '%-6s %-8s %-9s %14.0f %16s %12s %12s %8s\n' "$ROUND" "$C" "$MODE" "${RATE[$key]}" \
        "${CPU[$key]}" "${P50[$key]}" "${P99[$key]}" "$ratio"
    done
  done
done
echo "idle CPU of the cluster: $IDLE_CPU"
echo
for C in $CONCURRENCY; do
  m=$(for ROUND in $(seq 1 "$ROUNDS"); do echo "${RATIO[$ROUND.$C]}"; done | median)
  echo "cluster / single node ingest with $C writers, median of $ROUNDS rounds: $m"
done
echo "cluster / single node ingest capacity (each setup's best rate over $(echo "$CONCURRENCY" | sed 's/ /, /g') writers)," \
  "median of $ROUNDS rounds: $(printf '%s\n' "${CAPACITY[@]}" | median) (target: at least 0.50)"
