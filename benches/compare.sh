#!/usr/bin/env bash
# Compares Cairn's ingest with VictoriaMetrics' (Debian's `victoria-metrics`, 1.79) on this
# machine. One TSBS cpu-only file (seeded, so the same bytes every run) is generated once and
# loaded into each server in turn, with the same loader (`cairn bench ingest --input`):
#
#   cairn bench ingest --out FILE ─► FILE ─┬─► fresh Cairn           ─► flush ─► du ─┐
#                                          └─► fresh VictoriaMetrics ─► flush ─► du ─┴─► table
#
# Per system: ingest samples/s, server CPU-seconds per million samples (during the load, and
# load + flush + settling), peak RSS (VmHWM), bytes on disk per sample after the flush, and a
# row of ratios Cairn/VictoriaMetrics.
#
# --memory runs Cairn alone with 10,000 hosts × 30 min (100,000 active series) and reports
# the RSS it gained over its idle base per active series; and, since part of that gain does
# not grow with series (memtables, caches), the slope against a reference run with a tenth
# of the hosts.
#
# Usage: benches/compare.sh [--memory] [--hosts N] [--duration D] [--interval I]
#                           [--concurrency C] [--batch-lines B] [--rounds N] [--no-build] [--keep]
#   --rounds N loads each system N times, alternating which goes first, and reports medians
#   (samples/s swings with whatever else runs on the machine).
# Environment (flags win): HOSTS DURATION INTERVAL SEED CONCURRENCY BATCH_LINES ROUNDS MEMORY=1
#   CAIRN_BIN=path (use this binary, skip the build)  KEEP=1 (leave the temp dir)
#   CARGO_TARGET_DIR (default ~/.cache/cairn-target)
# Servers listen on free 127.0.0.1 ports only; all data lives in one mktemp -d dir, removed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

MEMORY=${MEMORY:-0}
HOSTS=${HOSTS:-}
DURATION=${DURATION:-}
INTERVAL=${INTERVAL:-10s}
SEED=${SEED:-1}
CONCURRENCY=${CONCURRENCY:-4}
BATCH_LINES=${BATCH_LINES:-1000}
KEEP=${KEEP:-0}
ROUNDS=${ROUNDS:-1}
BUILD=1

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --memory) MEMORY=1 ;;
    --hosts) HOSTS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --interval) INTERVAL=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --batch-lines) BATCH_LINES=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --no-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "compare: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "$MEMORY" = 1 ]; then
  HOSTS=${HOSTS:-10000}
  DURATION=${DURATION:-30m}
else
  HOSTS=${HOSTS:-100}
  DURATION=${DURATION:-1d}
fi

log() { echo "compare: $*" >&2; }

# ---- tools and build -------------------------------------------------------------------
if [ "$MEMORY" = 1 ]; then
  bash "$ROOT/scripts/setup.sh" >&2
else
  bash "$ROOT/scripts/setup.sh" victoria-metrics >&2
fi
VM_BIN=${VM_BIN:-$(command -v victoria-metrics || true)}
if [ "$MEMORY" != 1 ] && [ -z "$VM_BIN" ]; then
  echo "compare: victoria-metrics not found after setup" >&2
  exit 1
fi

if [ -n "${CAIRN_BIN:-}" ]; then
  CAIRN=$CAIRN_BIN
else
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}
  export CC=${CC:-clang} CXX=${CXX:-clang++}
  if [ "$BUILD" = 1 ]; then
    log "building cairn (release; the first build compiles RocksDB and takes a while)"
    (cd "$ROOT" && cargo build --release -p cairn-node >&2)
  fi
  CAIRN=$CARGO_TARGET_DIR/release/cairn
fi
[ -x "$CAIRN" ] || { echo "compare: no cairn binary at $CAIRN" >&2; exit 1; }

# ---- temp dir, servers, cleanup --------------------------------------------------------
WORK=$(mktemp -d -t cairn-compare.XXXXXX)
SERVER_PID=""

stop_server() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  if [ -n "$SERVER_PID" ]; then stop_server "$SERVER_PID"; fi
  if [ "$KEEP" = 1 ]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nobody listens on, below Linux's ephemeral range (32768+) so no outgoing
# connection holds it either.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "compare: no free port found" >&2
  return 1
}

wait_ready() { # URL PID LOGFILE
  local url=$1 pid=$2 logf=$3
  for _ in $(seq 1 600); do
    if curl -fs -o /dev/null "$url"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "compare: server exited before it was ready; its log:" >&2
      tail -n 30 "$logf" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "compare: $url not ready after 120 s" >&2
  exit 1
}

# utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15; the command
# name in field 2 may hold spaces, so count from after its closing parenthesis).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# A /proc/PID/status value in bytes (VmHWM: peak resident set; VmRSS: current).
status_bytes() { awk -v k="$2:" '$1 == k { print $2 * 1024 }' "/proc/$1/status"; }
# A number from the loader's one-line JSON report.
json_get() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"; }
# An unlabelled sample from a /metrics page.
metric() { { curl -fs "$1/metrics" || true; } | awk -v k="$2" '$1 == k { print $2 }'; }
# Waits until a directory's size has not changed for 6 s (background merges and compactions
# after a flush), at most 120 s, and prints the size in bytes.
settled_size() {
  local dir=$1 prev=-1 cur stable=0
  for _ in $(seq 1 60); do
    cur=$(du -sb "$dir" | cut -f1)
    if [ "$cur" = "$prev" ]; then
      stable=$((stable + 1))
      if [ $stable -ge 3 ]; then break; fi
    else
      stable=0
    fi
    prev=$cur
    sleep 2
  done
  echo "$cur"
}

CLK_TCK=$(getconf CLK_TCK)
LOADER=("$CAIRN" bench ingest --concurrency "$CONCURRENCY" --batch-lines "$BATCH_LINES" --json)

# Starts one system on a fresh data dir and sets SERVER_PID, URL, DATA.
start_server() { # cairn|vm
  local name=$1 port
  port=$(free_port)
  URL="http://127.0.0.1:$port"
  DATA=$(mktemp -d "$WORK/$name-data.XXXXXX")
  case "$name" in
    cairn)
      # The gRPC port is unused by a single node, but keep it off any shared default.
      "$CAIRN" server --data-dir "$DATA" --http-addr "127.0.0.1:$port" \
        --grpc-addr "127.0.0.1:$(free_port)" >"$WORK/$name.log" 2>&1 &
      SERVER_PID=$!
      wait_ready "$URL/ready" "$SERVER_PID" "$WORK/$name.log"
      ;;
    vm)
      # Only the HTTP listener is enabled by default (graphite/influx/opentsdb listeners are
      # off); -retentionPeriod 100y so that no generated timestamp is out of retention.
      "$VM_BIN" -storageDataPath "$DATA" -httpListenAddr "127.0.0.1:$port" \
        -retentionPeriod 100y >"$WORK/$name.log" 2>&1 &
      SERVER_PID=$!
      wait_ready "$URL/health" "$SERVER_PID" "$WORK/$name.log"
      ;;
  esac
  sleep 1
}

# ---- memory mode -----------------------------------------------------------------------
# One memory run on a fresh Cairn; sets MR to (base rss hwm active head_bytes rate samples).
memory_run() { # HOSTS INTERVAL
  local base rss hwm
  start_server cairn
  base=$(status_bytes "$SERVER_PID" VmRSS)
  "${LOADER[@]}" --url "$URL" --hosts "$1" --duration "$DURATION" --interval "$2" \
    --seed "$SEED" >"$WORK/memory-$1.json"
  rss=$(status_bytes "$SERVER_PID" VmRSS)
  hwm=$(status_bytes "$SERVER_PID" VmHWM)
  MR=("$base" "$rss" "$hwm" "$(metric "$URL" cairn_active_series)" \
    "$(metric "$URL" cairn_head_bytes)" "$(json_get "$WORK/memory-$1.json" samples_per_second)" \
    "$(json_get "$WORK/memory-$1.json" samples)")
  stop_server "$SERVER_PID"
  SERVER_PID=""
}

if [ "$MEMORY" = 1 ]; then
  # RSS above the idle base also holds costs that do not grow with series: RocksDB memtables
  # (up to 64 MiB for the log alone), the block cache, allocator arenas. So a reference run
  # with a tenth of the hosts (same duration and interval, so the same history per series)
  # is made too; the slope between the two runs approximates the cost of one more series
  # (from above: the big run also fills the memtables further).
  ref_hosts=$((HOSTS / 10))
  ref_interval=$INTERVAL
  log "memory: Cairn alone, $HOSTS hosts × $DURATION every $INTERVAL (data generated on the fly)"
  memory_run "$HOSTS" "$INTERVAL"
  base=${MR[0]} rss=${MR[1]} hwm=${MR[2]} active=${MR[3]} head_bytes=${MR[4]} rate=${MR[5]}
  samples=${MR[6]}
  log "memory: reference run, $ref_hosts hosts × $DURATION every $ref_interval"
  memory_run "$ref_hosts" "$ref_interval"
  rbase=${MR[0]} rrss=${MR[1]} ractive=${MR[3]} rhb=${MR[4]} rsamples=${MR[6]}
  awk -v base="$base" -v rss="$rss" -v hwm="$hwm" -v n="${active:-0}" -v hb="${head_bytes:-0}" \
    -v rate="$rate" -v samples="$samples" -v rbase="$rbase" -v rrss="$rrss" \
    -v rn="${ractive:-0}" -v rhb="${rhb:-0}" -v rsamples="$rsamples" 'BEGIN {
      f = "%-40s %s\n"
      printf "\n" f, "samples loaded", samples
      printf f, "ingest samples/s", sprintf("%.0f", rate)
      printf f, "active series (cairn_active_series)", sprintf("%.0f", n)
      printf f, "idle base RSS", sprintf("%.1f MiB", base / 1048576)
      printf f, "RSS after the load", sprintf("%.1f MiB", rss / 1048576)
      printf f, "peak RSS (VmHWM)", sprintf("%.1f MiB", hwm / 1048576)
      printf f, "cairn_head_bytes", sprintf("%.1f MiB", hb / 1048576)
      if (n > 0) {
        printf f, "RSS above idle base per active series", sprintf("%.0f bytes", (rss - base) / n)
        printf f, "peak above idle base per active series", sprintf("%.0f bytes", (hwm - base) / n)
        printf f, "head bytes per active series", sprintf("%.0f bytes", hb / n)
      } else {
        print "no active series reported: cannot divide"
      }
      printf "\n" f, "reference run: samples, active series", rsamples ", " sprintf("%.0f", rn)
      printf f, "reference run: RSS above idle base", sprintf("%.1f MiB", (rrss - rbase) / 1048576)
      printf f, "reference run: cairn_head_bytes", sprintf("%.1f MiB", rhb / 1048576)
      if (n > rn) {
        printf f, "RSS per additional active series", \
          sprintf("%.0f bytes", ((rss - base) - (rrss - rbase)) / (n - rn))
      }
    }'
  exit 0
fi

# ---- comparison ------------------------------------------------------------------------
FILE="$WORK/tsbs-cpu-only.lp"
log "generating $HOSTS hosts × $DURATION every $INTERVAL, seed $SEED"
"$CAIRN" bench ingest --out "$FILE" --hosts "$HOSTS" --duration "$DURATION" \
  --interval "$INTERVAL" --seed "$SEED" --json >"$WORK/generate.json"
SAMPLES=$(json_get "$WORK/generate.json" samples)
log "$SAMPLES samples, $(json_get "$WORK/generate.json" bytes) bytes of line protocol"

# One load of FILE into a fresh server; appends "system metric value" lines to RESULTS.
RESULTS="$WORK/results"
: >"$RESULTS"
run_system() { # cairn|vm ROUND
  local sys=$1 round=$2 t0 t1 t2 size stored rate
  log "round $round, $sys: starting on a fresh data dir"
  start_server "$sys"
  t0=$(cpu_ticks "$SERVER_PID")
  "${LOADER[@]}" --url "$URL" --input "$FILE" >"$WORK/$sys-$round.json"
  t1=$(cpu_ticks "$SERVER_PID")
  # Flush what is still in memory so that du sees every sample. Cairn's flush returns when
  # done; VictoriaMetrics' force_flush only starts writing in-memory parts, and both keep
  # merging/compacting for a while, so the size is taken once it stops changing. No
  # force_merge for the table: that is a whole-partition rewrite VictoriaMetrics does only
  # on request (reported below for reference).
  case "$sys" in
    cairn) curl -fsS -X POST "$URL/api/v1/admin/flush" >"$WORK/$sys-flush-$round.json" ;;
    vm) curl -fsS "$URL/internal/force_flush" >/dev/null ;;
  esac
  size=$(settled_size "$DATA")
  t2=$(cpu_ticks "$SERVER_PID")
  # Samples the server says it stored: a check that nothing was dropped or rejected.
  case "$sys" in
    cairn) stored=$(metric "$URL" cairn_samples_ingested_total) ;;
    vm) stored=$(metric "$URL" vm_rows_added_to_storage_total) ;;
  esac
  rate=$(json_get "$WORK/$sys-$round.json" samples_per_second)
  awk -v sys="$sys" -v rate="$rate" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v hz="$CLK_TCK" \
    -v n="$SAMPLES" -v hwm="$(status_bytes "$SERVER_PID" VmHWM)" -v size="$size" \
    -v stored="${stored:-0}" 'BEGIN {
      m = n / 1e6
      printf "%s rate %.0f\n%s cpu %.4f\n%s cpu_all %.4f\n", sys, rate, sys, (t1 - t0) / hz / m, sys, (t2 - t0) / hz / m
      printf "%s hwm %.0f\n%s bps %.4f\n%s stored %.0f\n", sys, hwm, sys, size / n, sys, stored
    }' | tee -a "$RESULTS" | awk -v r="$round" -v s="$sys" \
      '{ o = o " " $2 "=" $3 } END { printf "compare: round %s, %s:%s\n", r, s, o }' >&2
  if [ "$sys" = vm ]; then
    curl -fsS "$URL/internal/force_merge" >/dev/null
    sleep 2
    echo "vm merged_bps $(awk -v s="$(settled_size "$DATA")" -v n="$SAMPLES" 'BEGIN { printf "%.4f", s / n }')" \
      >>"$RESULTS"
  fi
  stop_server "$SERVER_PID"
  SERVER_PID=""
}

# Alternate which system goes first, so that drift in the machine's load evens out.
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="cairn vm"; else order="vm cairn"; fi
  for sys in $order; do run_system "$sys" "$round"; done
done

# Median over rounds of each system's metric.
med() { awk -v s="$1" -v k="$2" '$1 == s && $2 == k { print $3 }' "$RESULTS" | sort -g |
  awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

awk -v n="$SAMPLES" -v hosts="$HOSTS" -v dur="$DURATION" -v iv="$INTERVAL" -v rounds="$ROUNDS" \
  -v c_rate="$(med cairn rate)" -v v_rate="$(med vm rate)" \
  -v c_cpu="$(med cairn cpu)" -v v_cpu="$(med vm cpu)" \
  -v c_cpua="$(med cairn cpu_all)" -v v_cpua="$(med vm cpu_all)" \
  -v c_hwm="$(med cairn hwm)" -v v_hwm="$(med vm hwm)" \
  -v c_bps="$(med cairn bps)" -v v_bps="$(med vm bps)" \
  -v c_st="$(med cairn stored)" -v v_st="$(med vm stored)" -v v_merged="$(med vm merged_bps)" 'BEGIN {
    printf "\nTSBS cpu-only: %d hosts × %s every %s = %d samples, same file for both", hosts, dur, iv, n
    if (rounds > 1) printf "; median of %d rounds\n\n", rounds
    else printf "\n\n"
    fmt = "%-16s %12s %14s %16s %14s %12s %14s\n"
    printf fmt, "system", "samples/s", "CPU-s/M load", "CPU-s/M +flush", "peak RSS MiB", "bytes/sample", "stored samples"
    printf fmt, "Cairn", sprintf("%.0f", c_rate), sprintf("%.3f", c_cpu), sprintf("%.3f", c_cpua), \
      sprintf("%.1f", c_hwm / 1048576), sprintf("%.3f", c_bps), sprintf("%.0f", c_st)
    printf fmt, "VictoriaMetrics", sprintf("%.0f", v_rate), sprintf("%.3f", v_cpu), sprintf("%.3f", v_cpua), \
      sprintf("%.1f", v_hwm / 1048576), sprintf("%.3f", v_bps), sprintf("%.0f", v_st)
    printf fmt, "Cairn/VM", ratio(c_rate, v_rate), ratio(c_cpu, v_cpu), ratio(c_cpua, v_cpua), \
      ratio(c_hwm, v_hwm), ratio(c_bps, v_bps), ""
    printf "\nVictoriaMetrics after /internal/force_merge: %.3f bytes/sample\n", v_merged
  }
  function ratio(a, b) { return (b > 0) ? sprintf("%.2f", a / b) : "n/a" }'
