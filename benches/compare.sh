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
# row of ratios Cairn/VictoriaMetrics. Bytes on disk are counted twice: the files' sizes
# (`du -sb`), and the blocks the file system allocated for them (`du -s -B1`, what a disk
# fills up with: preallocated space counts, sparse holes do not).
#
# --memory runs Cairn alone with 10,000 hosts × 30 min (100,000 active series) and reports
# the RSS it gained over its idle base per active series; and, since part of that gain does
# not grow with series (memtables, caches), the slope against a reference run with a tenth
# of the hosts.
#
# --queries compares query speed: the same file is loaded into Cairn, VictoriaMetrics and
# Prometheus 2.42 (Debian's `prometheus`, through its remote-write receiver: `cairn bench
# ingest --protocol remote-write`), one system at a time. Each is loaded, left to settle
# (flush, then its data dir stops changing), checked to hold every sample, and then, alone on
# the machine, answers five PromQL queries over the data's last day, 1 warm-up + --runs timed
# runs each (curl GET): p50 and p99 (nearest rank; with 20 runs the p99 is the slowest run),
# series per answer, a checksum of the answer (values to 6 significant digits) compared between
# Cairn and Prometheus, and Cairn / the faster of the other two. VictoriaMetrics caches range
# results, and so does Cairn: both run their queries twice, as users run them and with
# nocache=1 (evaluation alone).
#
# --steps uniform generates the walks with uniform steps in [-1, 1] instead of TSBS' Normal(0, 1)
# ones: 0.957 instead of 1.084 bytes per sample of entropy (see `cairn bench ingest --help`).
#
# Usage: benches/compare.sh [--memory | --queries] [--hosts N] [--duration D] [--interval I]
#                           [--steps normal|uniform] [--concurrency C] [--batch-lines B] [--rounds N] [--runs N]
#                           [--no-build] [--keep]
#   --rounds N loads each system N times, alternating which goes first, and reports medians
#   (samples/s swings with whatever else runs on the machine). Not used by --queries, which
#   loads each system once; --runs N sets its timed runs per query and system (default 20).
# Environment (flags win): HOSTS DURATION INTERVAL SEED STEPS CONCURRENCY BATCH_LINES ROUNDS RUNS
#   MEMORY=1 QUERIES=1  VM_BIN PROM_BIN (paths of the other servers)
#   CAIRN_BIN=path (use this binary, skip the build)  KEEP=1 (leave the temp dir)
#   CARGO_TARGET_DIR (default ~/.cache/cairn-target)
# Servers listen on free 127.0.0.1 ports only; all data lives in one mktemp -d dir, removed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

MEMORY=${MEMORY:-0}
QUERIES=${QUERIES:-0}
RUNS=${RUNS:-20}
HOSTS=${HOSTS:-}
DURATION=${DURATION:-}
INTERVAL=${INTERVAL:-10s}
SEED=${SEED:-1}
STEPS=${STEPS:-normal}
CONCURRENCY=${CONCURRENCY:-4}
BATCH_LINES=${BATCH_LINES:-1000}
KEEP=${KEEP:-0}
ROUNDS=${ROUNDS:-1}
BUILD=1

BENCH=compare
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --memory) MEMORY=1 ;;
    --queries) QUERIES=1 ;;
    --runs) RUNS=$2; shift ;;
    --hosts) HOSTS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --interval) INTERVAL=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --steps) STEPS=$2; shift ;;
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
if [ "$MEMORY" = 1 ] && [ "$QUERIES" = 1 ]; then
  echo "compare: --memory and --queries are separate modes; pick one" >&2
  exit 2
fi
if [ "$MEMORY" = 1 ]; then
  HOSTS=${HOSTS:-10000}
  DURATION=${DURATION:-30m}
else
  HOSTS=${HOSTS:-100}
  DURATION=${DURATION:-1d}
fi


# ---- tools and build -------------------------------------------------------------------
if [ "$MEMORY" = 1 ]; then
  bash "$ROOT/scripts/setup.sh" >&2
elif [ "$QUERIES" = 1 ]; then
  bash "$ROOT/scripts/setup.sh" victoria-metrics prometheus >&2
else
  bash "$ROOT/scripts/setup.sh" victoria-metrics >&2
fi
VM_BIN=${VM_BIN:-$(command -v victoria-metrics || true)}
if [ "$MEMORY" != 1 ] && [ -z "$VM_BIN" ]; then
  echo "compare: victoria-metrics not found after setup" >&2
  exit 1
fi
PROM_BIN=${PROM_BIN:-$(command -v prometheus || true)}
if [ "$QUERIES" = 1 ] && [ -z "$PROM_BIN" ]; then
  echo "compare: prometheus not found after setup" >&2
  exit 1
fi

find_cairn

# ---- temp dir, servers, cleanup --------------------------------------------------------
WORK=$(mktemp -d -t cairn-compare.XXXXXX)
SERVER_PID=""

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

# Bytes of disk blocks allocated under a directory (what `du` reports without --apparent-size).
allocated_size() { du -s --block-size=1 "$1" | cut -f1; }
# A /proc/PID/status value in bytes (VmHWM: peak resident set; VmRSS: current).
status_bytes() { awk -v k="$2:" '$1 == k { print $2 * 1024 }' "/proc/$1/status"; }
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
start_server() { # cairn|vm|prom
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
    prom)
      # No scrape jobs: the TSDB holds only what remote write brings. Concurrent batches can
      # arrive slightly out of time order; the out-of-order window takes those in (without it
      # Prometheus rejects the whole request). Retention covers the generated day.
      printf 'global:\n  scrape_interval: 1m\nstorage:\n  tsdb:\n    out_of_order_time_window: 2h\n' \
        >"$WORK/prometheus.yml"
      "$PROM_BIN" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$DATA" \
        --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
        --storage.tsdb.retention.time=30d >"$WORK/$name.log" 2>&1 &
      SERVER_PID=$!
      wait_ready "$URL/-/ready" "$SERVER_PID" "$WORK/$name.log"
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
  # (16 MiB in all), the block cache, allocator arenas. So a reference run
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
# Seconds in a duration like 1d, 12h, 1h30m or 90s; empty if it is in other units.
dur_seconds() {
  local s=$1 total=0
  while [[ $s =~ ^([0-9]+)(d|h|m|s)(.*)$ ]]; do
    case "${BASH_REMATCH[2]}" in
      d) total=$((total + BASH_REMATCH[1] * 86400)) ;;
      h) total=$((total + BASH_REMATCH[1] * 3600)) ;;
      m) total=$((total + BASH_REMATCH[1] * 60)) ;;
      s) total=$((total + BASH_REMATCH[1])) ;;
    esac
    s=${BASH_REMATCH[3]}
  done
  if [ -z "$s" ] && [ "$total" -gt 0 ]; then echo "$total"; fi
}
START_ARGS=()
if [ "$QUERIES" = 1 ] && span=$(dur_seconds "$DURATION") && [ -n "$span" ]; then
  # The data ends at least 10 minutes before now: VictoriaMetrics hides the last 30 s from
  # queries (-search.latencyOffset) and keeps the last 5 min out of its result cache, which
  # would make its answers change while the queries run. The start is on a whole hour, so
  # that the query times fall on the sample grid of any interval that divides an hour.
  start=$(($(date +%s) - span - 600))
  START_ARGS=(--start "$((start - start % 3600))")
fi
log "generating $HOSTS hosts × $DURATION every $INTERVAL, seed $SEED, $STEPS steps"
"$CAIRN" bench ingest --out "$FILE" --hosts "$HOSTS" --duration "$DURATION" \
  --interval "$INTERVAL" --seed "$SEED" --steps "$STEPS" "${START_ARGS[@]}" --json >"$WORK/generate.json"
SAMPLES=$(json_get "$WORK/generate.json" samples)
log "$SAMPLES samples, $(json_get "$WORK/generate.json" bytes) bytes of line protocol"


# ---- query mode ------------------------------------------------------------------------
if [ "$QUERIES" = 1 ]; then
  Q0=$SECONDS
  # The data's end: start + points × interval, in Unix seconds (the last sample is one
  # interval before it).
  START_S=$(( $(json_get "$WORK/generate.json" start_ns) / 1000000000 ))
  SPAN_S=$(( $(json_get "$WORK/generate.json" points) * $(json_get "$WORK/generate.json" interval_ns) / 1000000000 ))
  END=$((START_S + SPAN_S))
  # name|expr|kind|range start (seconds before END; 0 for instant)|step
  QUERY_SPECS=(
    "max_over_time|max_over_time(cpu_usage_user{hostname=\"host_1\"}[1h])|range|43200|60"
    "avg by region|avg by (region) (cpu_usage_user)|range|86400|300"
    "max by host > 90|max by (hostname) (cpu_usage_user) > 90|range|86400|300"
    "topk avg_over_time|topk(5, avg_over_time(cpu_usage_system[1h]))|instant|0|0"
    "rate|rate(cpu_usage_idle[5m])|range|21600|60"
  )
  QDIR="$WORK/queries"
  mkdir -p "$QDIR"
  QRESULTS="$QDIR/results"
  : >"$QRESULTS"

  # One query request; prints "HTTP_CODE SECONDS", the answer goes to BODY. FRACTION (".5")
  # moves start, end and time off the sample grid (see the checksums below).
  query_once() { # BODY I [EXTRA_PARAM] [FRACTION]
    local body=$1 i=$2 extra=${3:-} frac=${4:-} name expr kind back step
    IFS='|' read -r name expr kind back step <<<"${QUERY_SPECS[$i]}"
    local args=(-sS -o "$body" -w '%{http_code} %{time_total}' -G --data-urlencode "query=$expr")
    if [ "$kind" = range ]; then
      args+=(--data-urlencode "start=$((END - back))$frac" --data-urlencode "end=$END$frac" \
        --data-urlencode "step=$step" "$URL/api/v1/query_range")
    else
      args+=(--data-urlencode "time=$END$frac" "$URL/api/v1/query")
    fi
    if [ -n "$extra" ]; then args+=(--data-urlencode "$extra"); fi
    curl "${args[@]}" || echo "000 0"
  }

  # An answer as sorted "labels<TAB>time<TAB>value" lines, values to 6 significant digits:
  # what the checksum covers and what a mismatch shows.
  normalize() { # BODY
    jq -r '.data.result[] | (.metric | to_entries | sort_by(.key) | map("\(.key)=\(.value)")
        | join(",")) as $m | (.values // [.value])[] | "\($m)\t\(.[0])\t\(.[1])"' "$1" |
      awk -F'\t' '{ v = $3; if (v ~ /^[-+]?[0-9.]+([eE][-+]?[0-9]+)?$/) v = sprintf("%.6g", v)
        printf "%s\t%.3f\t%s\n", $1, $2, v }' | LC_ALL=C sort
  }

  # 1 warm-up + RUNS timed runs of query I; appends "sys i p50 p99 series checksum" to QRESULTS.
  time_query() { # SYS LABEL I [EXTRA_PARAM]
    local sys=$1 label=$2 i=$3 extra=${4:-} out code t times="$QDIR/$2-$3.times" series sum
    out=$(query_once "$QDIR/$label-$i.json" "$i" "$extra")
    code=${out% *}
    if [ "$code" != 200 ]; then
      log "WARNING: $sys answered query $((i + 1)) with HTTP $code: $(head -c 300 "$QDIR/$label-$i.json")"
      echo "$label $i - - - -" >>"$QRESULTS"
      return 0
    fi
    : >"$times"
    for _ in $(seq 1 "$RUNS"); do
      out=$(query_once "$QDIR/$label-$i.run.json" "$i" "$extra")
      code=${out% *} t=${out#* }
      [ "$code" = 200 ] || log "WARNING: $sys: a timed run of query $((i + 1)) got HTTP $code"
      echo "$t" >>"$times"
    done
    series=$(jq '.data.result | length' "$QDIR/$label-$i.json")
    normalize "$QDIR/$label-$i.json" >"$QDIR/$label-$i.norm"
    sum=$(md5sum <"$QDIR/$label-$i.norm" | cut -c1-8)
    # The same query half a second off the 10 s sample grid: Prometheus 2.x selects closed
    # windows [t - r, t], Cairn (as Prometheus 3.0) left-open ones (t - r, t], which differ
    # only when a sample sits exactly on t - r. Off the grid both must agree.
    if [ "$label" = cairn ] || [ "$label" = prom ]; then
      query_once "$QDIR/$label-$i.off.json" "$i" "" .5 >/dev/null
      normalize "$QDIR/$label-$i.off.json" >"$QDIR/$label-$i.off.norm"
    fi
    sort -g "$times" | awk -v l="$label" -v i="$i" -v s="$series" -v c="$sum" \
      '{ v[NR] = $1 } END {
        p50 = v[int((NR * 50 + 99) / 100)]; p99 = v[int((NR * 99 + 99) / 100)]
        printf "%s %s %.2f %.2f %s %s\n", l, i, p50 * 1000, p99 * 1000, s, c }' >>"$QRESULTS"
  }

  # Every sample the system holds, by its own count: count_over_time over more than the
  # whole span at END, one metric at a time (over all of them at once the results would
  # lose their names and collide).
  stored_samples() {
    local f n total=0
    for f in user system idle nice iowait irq softirq steal guest guest_nice; do
      n=$(curl -sS -G "$URL/api/v1/query" --data-urlencode "time=$END" \
        --data-urlencode "query=sum(count_over_time(cpu_usage_$f[$((SPAN_S + 3600))s]))" |
        jq -r '.data.result[0].value[1] // "none"' 2>/dev/null || echo none)
      case "$n" in
        '' | *[!0-9]*) echo "none (cpu_usage_$f: $n)"; return 0 ;;
      esac
      total=$((total + n))
    done
    echo "$total"
  }

  for sys in cairn vm prom; do
    log "queries, $sys: starting on a fresh data dir, loading"
    start_server "$sys"
    case "$sys" in
      prom) "${LOADER[@]}" --protocol remote-write --url "$URL" --input "$FILE" >"$QDIR/$sys-load.json" ;;
      *) "${LOADER[@]}" --url "$URL" --input "$FILE" >"$QDIR/$sys-load.json" ;;
    esac
    log "queries, $sys: loaded at $(json_get "$QDIR/$sys-load.json" samples_per_second | cut -d. -f1) samples/s; settling"
    case "$sys" in
      cairn) curl -fsS -X POST "$URL/api/v1/admin/flush" >/dev/null ;;
      vm) curl -fsS "$URL/internal/force_flush" >/dev/null ;;
      # Prometheus compacts its head into 2h blocks once it spans more than 3h (a commit
      # triggers it); wait until it spans no more, then for the writes to stop.
      prom)
        for _ in $(seq 1 120); do
          span=$(awk -v a="$(metric "$URL" prometheus_tsdb_head_max_time)" \
            -v b="$(metric "$URL" prometheus_tsdb_head_min_time)" 'BEGIN { print (a - b) / 1000 }')
          awk -v s="$span" 'BEGIN { exit !(s <= 3 * 3600) }' && break
          sleep 1
        done
        ;;
    esac
    settled_size "$DATA" >/dev/null
    stored=$(stored_samples)
    echo "$sys stored $stored" >>"$QRESULTS"
    if [ "$stored" != "$SAMPLES" ]; then
      log "WARNING: $sys answers for $stored samples, $SAMPLES were loaded"
      if [ "$sys" = prom ]; then
        log "  prometheus: $(metric "$URL" prometheus_tsdb_head_samples_appended_total) appended to the head," \
          "$(metric "$URL" prometheus_tsdb_out_of_order_samples_total) out of order," \
          "$(metric "$URL" prometheus_tsdb_out_of_bound_samples_total) out of bounds"
      fi
    fi
    compactions=$(metric "$URL" prometheus_tsdb_compactions_total)
    for i in "${!QUERY_SPECS[@]}"; do
      log "queries, $sys: query $((i + 1)), 1 warm-up + $RUNS runs"
      time_query "$sys" "$sys" "$i"
      case "$sys" in
        vm) time_query "$sys" vmnc "$i" nocache=1 ;;
        cairn) time_query "$sys" cairnnc "$i" nocache=1 ;;
      esac
    done
    # Prometheus merges 2h blocks into longer ones on a 1-minute timer, which nothing can
    # wait for; say when that ran during the timings.
    if [ "$sys" = prom ] && [ "$compactions" != "$(metric "$URL" prometheus_tsdb_compactions_total)" ]; then
      log "note: Prometheus compacted blocks while its queries were timed"
      echo "prom compacted during queries" >>"$QRESULTS"
    fi
    stop_server "$SERVER_PID"
    SERVER_PID=""
  done

  # "p50 p99 series checksum" of LABEL for query I.
  row() { awk -v l="$1" -v i="$2" '$1 == l && $2 == i { print $3, $4, $5, $6 }' "$QRESULTS"; }
  printf '\nTSBS cpu-only: %s hosts × %s every %s = %s samples, same file for all; END = %s (%s)\n' \
    "$HOSTS" "$DURATION" "$INTERVAL" "$SAMPLES" "$END" "$(date -u -d "@$END" +%FT%TZ)"
  printf 'samples each system answers for: Cairn %s, VictoriaMetrics %s, Prometheus %s\n' \
    "$(awk '$1 == "cairn" && $2 == "stored" { print $3 }' "$QRESULTS")" \
    "$(awk '$1 == "vm" && $2 == "stored" { print $3 }' "$QRESULTS")" \
    "$(awk '$1 == "prom" && $2 == "stored" { print $3 }' "$QRESULTS")"
  printf 'query latency in ms over %s runs after 1 warm-up (curl time_total), one system running at a time\n' "$RUNS"
  MISMATCH=0
  for i in "${!QUERY_SPECS[@]}"; do
    IFS='|' read -r name expr kind back step <<<"${QUERY_SPECS[$i]}"
    if [ "$kind" = range ]; then what="range END-$((back / 3600))h..END step ${step}s"; else what="instant at END"; fi
    printf '\n%d. %s   (%s)\n' "$((i + 1))" "$expr" "$what"
    awk -v c="$(row cairn "$i")" -v v="$(row vm "$i")" -v n="$(row vmnc "$i")" -v p="$(row prom "$i")" \
      -v k="$(row cairnnc "$i")" 'BEGIN {
      split(c, C, " "); split(v, V, " "); split(n, N, " "); split(p, P, " "); split(k, K, " ")
      f = "   %-30s %9s %9s %8s %10s\n"
      printf f, "system", "p50", "p99", "series", "checksum"
      printf f, "Cairn", C[1], C[2], C[3], C[4]
      printf f, "Cairn nocache=1", K[1], K[2], K[3], K[4]
      printf f, "VictoriaMetrics", V[1], V[2], V[3], V[4]
      printf f, "VictoriaMetrics nocache=1", N[1], N[2], N[3], N[4]
      printf f, "Prometheus", P[1], P[2], P[3], P[4]
      printf f, "Cairn/min(VM, Prometheus)", ratio(C[1], V[1], P[1]), ratio(C[2], V[2], P[2]), "", ""
      printf f, "Cairn nocache/min(VM nocache, Prom)", ratio(K[1], N[1], P[1]), ratio(K[2], N[2], P[2]), "", ""
    }
    function ratio(a, b, c,   m) {
      if (a == "" || a == "-") return "n/a"
      m = (b != "" && b != "-") ? b + 0 : -1
      if (c != "" && c != "-" && (m < 0 || c + 0 < m)) m = c + 0
      return (m > 0) ? sprintf("%.2f", a / m) : "n/a"
    }'
    read -r _ _ cs cc <<<"$(row cairn "$i")"
    read -r _ _ vs _ <<<"$(row vm "$i")"
    read -r _ _ ns _ <<<"$(row vmnc "$i")"
    read -r _ _ ps pc <<<"$(row prom "$i")"
    if [ "$cs" != "$vs" ] || [ "$cs" != "$ps" ] || [ "$cs" != "$ns" ]; then
      echo "   WARNING: series counts differ: Cairn $cs, VictoriaMetrics $vs (nocache $ns), Prometheus $ps"
    fi
    if [ "$cc" != "$pc" ]; then
      if cmp -s "$QDIR/cairn-$i.off.norm" "$QDIR/prom-$i.off.norm"; then
        echo "   note: Cairn's checksum differs from Prometheus' because its windows are left-open" \
          "(Prometheus 3.0), 2.42's closed: $(diff "$QDIR/cairn-$i.norm" "$QDIR/prom-$i.norm" |
            grep -c '^<' || true) of $(wc -l <"$QDIR/cairn-$i.norm") values differ; with times" \
          "0.5 s off the sample grid the answers agree"
      else
        MISMATCH=1
        echo "   WARNING: Cairn's answer differs from Prometheus' (values to 6 significant digits)," \
          "also 0.5 s off the sample grid; first differences there (< Cairn, > Prometheus;" \
          "labels, time, value):"
        diff "$QDIR/cairn-$i.off.norm" "$QDIR/prom-$i.off.norm" | grep '^[<>]' | head -n 6 |
          sed 's/^/     /' || true
      fi
    fi
  done
  if grep -q '^prom compacted' "$QRESULTS"; then
    echo "note: Prometheus compacted blocks while its queries were timed (its p99 may show it)"
  fi
  if [ "$MISMATCH" = 1 ] && [ "$KEEP" != 1 ]; then
    echo "(run with --keep to keep every answer: queries/SYSTEM-N.json and .norm in the temp dir)"
  fi
  printf '\nquery comparison took %d s (load, settle and queries of three systems)\n' "$((SECONDS - Q0))"
  exit 0
fi

# One load of FILE into a fresh server; appends "system metric value" lines to RESULTS.
RESULTS="$WORK/results"
: >"$RESULTS"
run_system() { # cairn|vm ROUND
  local sys=$1 round=$2 t0 t1 t2 size alloc stored rate
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
  alloc=$(allocated_size "$DATA")
  t2=$(cpu_ticks "$SERVER_PID")
  # Samples the server says it stored: a check that nothing was dropped or rejected.
  case "$sys" in
    cairn) stored=$(metric "$URL" cairn_samples_ingested_total) ;;
    vm) stored=$(metric "$URL" vm_rows_added_to_storage_total) ;;
  esac
  rate=$(json_get "$WORK/$sys-$round.json" samples_per_second)
  awk -v sys="$sys" -v rate="$rate" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v hz="$CLK_TCK" \
    -v n="$SAMPLES" -v hwm="$(status_bytes "$SERVER_PID" VmHWM)" -v size="$size" \
    -v alloc="$alloc" -v stored="${stored:-0}" 'BEGIN {
      m = n / 1e6
      printf "%s rate %.0f\n%s cpu %.4f\n%s cpu_all %.4f\n", sys, rate, sys, (t1 - t0) / hz / m, sys, (t2 - t0) / hz / m
      printf "%s hwm %.0f\n%s bps %.4f\n%s abps %.4f\n", sys, hwm, sys, size / n, sys, alloc / n
      printf "%s stored %.0f\n", sys, stored
    }' | tee -a "$RESULTS" | awk -v r="$round" -v s="$sys" \
      '{ o = o " " $2 "=" $3 } END { printf "compare: round %s, %s:%s\n", r, s, o }' >&2
  if [ "$sys" = vm ]; then
    curl -fsS "$URL/internal/force_merge" >/dev/null
    sleep 2
    echo "vm merged_bps $(awk -v s="$(settled_size "$DATA")" -v n="$SAMPLES" 'BEGIN { printf "%.4f", s / n }')" \
      >>"$RESULTS"
    echo "vm merged_abps $(awk -v s="$(allocated_size "$DATA")" -v n="$SAMPLES" 'BEGIN { printf "%.4f", s / n }')" \
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
  -v steps="$STEPS" \
  -v c_rate="$(med cairn rate)" -v v_rate="$(med vm rate)" \
  -v c_cpu="$(med cairn cpu)" -v v_cpu="$(med vm cpu)" \
  -v c_cpua="$(med cairn cpu_all)" -v v_cpua="$(med vm cpu_all)" \
  -v c_hwm="$(med cairn hwm)" -v v_hwm="$(med vm hwm)" \
  -v c_bps="$(med cairn bps)" -v v_bps="$(med vm bps)" \
  -v c_abps="$(med cairn abps)" -v v_abps="$(med vm abps)" \
  -v c_st="$(med cairn stored)" -v v_st="$(med vm stored)" -v v_merged="$(med vm merged_bps)" \
  -v v_amerged="$(med vm merged_abps)" 'BEGIN {
    printf "\nTSBS cpu-only (%s steps): %d hosts × %s every %s = %d samples, same file for both", steps, hosts, dur, iv, n
    if (rounds > 1) printf "; median of %d rounds\n\n", rounds
    else printf "\n\n"
    fmt = "%-16s %12s %14s %16s %14s %13s %13s %14s\n"
    printf fmt, "system", "samples/s", "CPU-s/M load", "CPU-s/M +flush", "peak RSS MiB", "B/sample file", "B/sample du", "stored samples"
    printf fmt, "Cairn", sprintf("%.0f", c_rate), sprintf("%.3f", c_cpu), sprintf("%.3f", c_cpua), \
      sprintf("%.1f", c_hwm / 1048576), sprintf("%.3f", c_bps), sprintf("%.3f", c_abps), sprintf("%.0f", c_st)
    printf fmt, "VictoriaMetrics", sprintf("%.0f", v_rate), sprintf("%.3f", v_cpu), sprintf("%.3f", v_cpua), \
      sprintf("%.1f", v_hwm / 1048576), sprintf("%.3f", v_bps), sprintf("%.3f", v_abps), sprintf("%.0f", v_st)
    printf fmt, "Cairn/VM", ratio(c_rate, v_rate), ratio(c_cpu, v_cpu), ratio(c_cpua, v_cpua), \
      ratio(c_hwm, v_hwm), ratio(c_bps, v_bps), ratio(c_abps, v_abps), ""
    printf "\nB/sample file: the files'"'"' sizes (du -sb); du: the disk blocks allocated for them (du -s -B1)\n"
    printf "VictoriaMetrics after /internal/force_merge: %.3f bytes/sample (files), %.3f (du)\n", v_merged, v_amerged
    if (steps == "normal")
      printf "entropy of these values: 1.084 bytes/sample (--steps uniform: 0.957, the foundation issue'"'"'s data)\n"
    else
      printf "entropy of these values: 0.957 bytes/sample (--steps normal, TSBS'"'"': 1.084)\n"
  }
  function ratio(a, b) { return (b > 0) ? sprintf("%.2f", a / b) : "n/a" }'
