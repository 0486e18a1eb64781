#!/usr/bin/env bash
# Measures Cairn's retention tiers (issue 18: rollups) against its raw path and against
# VictoriaMetrics (Debian's `victoria-metrics`, 1.79) on this machine. One TSBS cpu-only file
# (seeded: the same bytes every run; 100 hosts × 10 fields = 1,000 series, every 60 s, 31 days
# ending on a 2-hour boundary at least 2 h before now, so that every 5-minute window of it is
# past the 1 h out-of-order window and may be rolled) is generated once and loaded into:
#
#   cairn bench ingest --out FILE ─► FILE ─┬─► Cairn, [maintenance] off ─► flush ─► sizes (raw)
#                                          │     └─► restart, [maintenance] on, cpu_share 1.0
#                                          │         ─► poll cluster status until every shard's
#                                          │            5m and 1h watermarks cover the data
#                                          │         ─► flush ─► sizes (raw + rollups) ─► queries
#                                          └─► VictoriaMetrics (-retentionPeriod=2y,
#                                              -search.disableCache) ─► flush ─► du ─► queries
#
# Cairn keeps every tier forever here ([retention] raw, rollup_5m and rollup_1h = "0s"): with
# the default raw 7d the job would delete the raw samples the comparison needs. It loads with
# the maintenance job off, so that no window is rolled while its samples are still arriving
# (and then re-rolled as dirty); the job starts with the restart, which the rollup time counts
# from (the process' start, RocksDB's open included).
#
# 1. Rollup throughput: wall seconds and Cairn's CPU seconds (/proc/PID/stat) from the
#    restart until every shard that took data has its 5m watermark (cluster status,
#    shards[].rollup."5m".built_to_ms) at the data's end and its 1h one at the last whole day's
#    end; as series-days per second and CPU-seconds per million raw samples.
# 2. Disk: SST bytes of the column families `chunks` (raw), `rollup_5m` and `rollup_1h` after a
#    flush and once the data dir stops changing, as bytes per series-year (× 365 / days /
#    series). /metrics gives only the total and `chunks` (cross-checked below); every SST file
#    belongs to one column family and names it in its properties block, which is how the
#    live *.sst files are summed per family. Also the data dir's du before and after the
#    rollups, and VictoriaMetrics' (raw only, for scale).
# 3. Query latency: p50 and p99 (nearest rank) of --runs timed runs (curl time_total) after 1
#    warm-up, all 100 hosts, range over the data's last 30 days (start and end on the hour),
#    step 1h: `avg_over_time(cpu_usage_user[1h])` and `rate(cpu_usage_user[1h])` (the TSBS
#    fields are gauges; rate over a gauge is still a valid workload: it reads first, last,
#    counts and resets per window). Cairn with nocache=1, resolution auto (X-Cairn-Resolution
#    is checked to say 1h) and resolution=raw; VictoriaMetrics with -search.disableCache (and
#    nocache=1). Cairn auto and raw must agree within 1e-9 relative; against VictoriaMetrics
#    the largest relative difference is reported (its rate does not extrapolate to the window
#    edges as Prometheus' does, so rate differs by design).
#
# Usage: benches/retention.sh [--hosts N] [--days D] [--interval I] [--runs N] [--deadline S]
#                             [--concurrency C] [--batch-lines B] [--no-build] [--keep]
#   --days D: the data's span (31); queries cover the last min(30, D - 1) days.
#   --deadline S: longest wait for the rollups (default 3600 s), then the script fails.
#   --concurrency C (1) and --batch-lines B (10 × hosts): the loader's requests in flight and
#   lines per request (see BATCH_LINES below: more in flight risks rejected samples).
# Environment (flags win): HOSTS DAYS INTERVAL SEED RUNS DEADLINE CONCURRENCY BATCH_LINES
#   MAINT_INTERVAL ([maintenance] interval, default 10s)  VM_BIN (path of victoria-metrics)
#   CAIRN_BIN=path (use this binary, skip the build)  KEEP=1 (leave the temp dir)
#   CARGO_TARGET_DIR (default ~/.cache/cairn-target)
# Servers listen on free 127.0.0.1 ports only; all data lives in one mktemp -d dir, removed at
# exit. The cairn binary is copied there first, so that a build of another branch into the
# shared target dir cannot swap it mid-run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

HOSTS=${HOSTS:-100}
DAYS=${DAYS:-31}
INTERVAL=${INTERVAL:-60s}
SEED=${SEED:-1}
RUNS=${RUNS:-20}
DEADLINE=${DEADLINE:-3600}
CONCURRENCY=${CONCURRENCY:-1}
BATCH_LINES=${BATCH_LINES:-}
MAINT_INTERVAL=${MAINT_INTERVAL:-10s}
KEEP=${KEEP:-0}
BUILD=1

BENCH=retention
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) HOSTS=$2; shift ;;
    --days) DAYS=$2; shift ;;
    --interval) INTERVAL=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --batch-lines) BATCH_LINES=$2; shift ;;
    --deadline) DEADLINE=$2; shift ;;
    --no-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "retention: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
# Lines per request: 10 of each host's timestamps (1,000 lines for 100 hosts). One request in
# flight by default: the file is in time order and 31 days old, and Cairn rejects a sample
# older than its series' newest by more than the 1 h out-of-order window; with several in
# flight, one request held up while the others run on (each 10 min of data) gets rejected
# whole (seen with 4 in flight: 10,000 samples refused, the load aborted).
BATCH_LINES=${BATCH_LINES:-$((HOSTS * 10))}
if ! [ "$DAYS" -ge 2 ] 2>/dev/null; then
  echo "retention: --days must be a whole number of days, at least 2" >&2
  exit 2
fi

# ---- tools and build -------------------------------------------------------------------
bash "$ROOT/scripts/setup.sh" victoria-metrics >&2
command -v jq >/dev/null 2>&1 || bash "$ROOT/scripts/setup.sh" jq >&2
VM_BIN=${VM_BIN:-$(command -v victoria-metrics || true)}
[ -n "$VM_BIN" ] || { echo "retention: victoria-metrics not found after setup" >&2; exit 1; }
find_cairn

# ---- temp dir, servers, cleanup --------------------------------------------------------
WORK=$(mktemp -d -t cairn-retention.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then stop_server "$SERVER_PID"; fi
  if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "$CAIRN" "$WORK/cairn"
CAIRN=$WORK/cairn
CLK_TCK=$(getconf CLK_TCK)

wait_ready() { # URL PID LOGFILE
  local url=$1 pid=$2 logf=$3
  for _ in $(seq 1 600); do
    if curl -fs -o /dev/null "$url"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "retention: server exited before it was ready; its log:" >&2
      tail -n 30 "$logf" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "retention: $url not ready after 60 s" >&2
  exit 1
}
# An unlabelled sample from a /metrics page.
metric() { { curl -fs "$URL/metrics" || true; } | awk -v k="$1" '$1 == k { printf "%.0f\n", $2 }'; }
# Waits until a directory's size has not changed for 6 s (flushes and compactions going on),
# at most 120 s, and prints the size in bytes.
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
now_s() { date +%s.%N; }
# Busy CPU ticks of the whole machine (/proc/stat: user nice system irq softirq steal), to
# tell how much of the machine other processes took while something was timed.
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# Cores' worth of CPU that processes other than PID used since MT0/PT0 (machine and PID
# ticks) over SECONDS.
others_cores() { # MT0 PT0 PID SECONDS
  awk -v m0="$1" -v p0="$2" -v m1="$(machine_ticks)" -v p1="$(cpu_ticks "$3")" -v s="$4" \
    -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", ((m1 - m0) - (p1 - p0)) / hz / s }'
}
status_json() { curl -fsS "$URL/api/v1/cluster/status"; }

# Cairn on DATA with CONFIG; sets SERVER_PID, URL, SPAWNED (time of the spawn), READY_S
# (seconds from the spawn to /ready) and READY_TICKS (CPU ticks by then).
start_cairn() { # CONFIG DATA LOGNAME
  local port
  port=$(free_port)
  URL="http://127.0.0.1:$port"
  SPAWNED=$(now_s)
  SPAWN_MT=$(machine_ticks)
  "$CAIRN" server --config "$1" --data-dir "$2" --http-addr "127.0.0.1:$port" \
    --grpc-addr "127.0.0.1:$(free_port)" >>"$WORK/$3.log" 2>&1 &
  SERVER_PID=$!
  wait_ready "$URL/ready" "$SERVER_PID" "$WORK/$3.log"
  READY_TICKS=$(cpu_ticks "$SERVER_PID")
  READY_S=$(awk -v a="$SPAWNED" -v b="$(now_s)" 'BEGIN { printf "%.2f", b - a }')
}
# Every shard led and its log applied (the elections' entries in), at most 30 s.
wait_shards_settled() {
  for _ in $(seq 1 150); do
    if status_json | jq -e '[.data.shards[] | select(.local) | (.leader != null and
        .last_applied == .last_log_index)] | all' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  log "WARNING: shards not all led and applied after 30 s"
}
applied_by_shard() { status_json | jq -r '.data.shards[] | select(.local) | "\(.id) \(.last_applied)"' | sort -n; }

cairn_config() { # ENABLED
  cat <<EOF
[retention]
raw = "0s"
rollup_5m = "0s"
rollup_1h = "0s"

[maintenance]
enabled = $1
cpu_share = 1.0
interval = "$MAINT_INTERVAL"
EOF
}

# ---- data ------------------------------------------------------------------------------
# The data ends on a 2-hour boundary at least 2 h before now: its last 5-minute window then
# ends at or before now − 1 h (the out-of-order window), so all of it may be rolled now.
NOW=$(date +%s)
END=$(((NOW - 7200) / 7200 * 7200))
START=$((END - DAYS * 86400))
FILE="$WORK/tsbs-cpu-only.lp"
log "generating $HOSTS hosts × ${DAYS}d every $INTERVAL, seed $SEED, ending $(date -u -d "@$END" +%FT%TZ)"
"$CAIRN" bench ingest --out "$FILE" --hosts "$HOSTS" --duration "${DAYS}d" --interval "$INTERVAL" \
  --seed "$SEED" --start "$START" --json >"$WORK/generate.json"
SAMPLES=$(json_get "$WORK/generate.json" samples)
GEN_START=$(($(json_get "$WORK/generate.json" start_ns) / 1000000000))
GEN_END=$((GEN_START + $(json_get "$WORK/generate.json" points) * $(json_get "$WORK/generate.json" interval_ns) / 1000000000))
if [ "$GEN_START" != "$START" ] || [ "$GEN_END" != "$END" ]; then
  echo "retention: the generator placed the data at $GEN_START..$GEN_END, not $START..$END" >&2
  exit 1
fi
SERIES=$((HOSTS * 10))
log "$SAMPLES samples ($SERIES series), $(json_get "$WORK/generate.json" bytes) bytes of line protocol"
# Rollup targets: the 5m tier covers (…, END] (END is on the 2-hour grid of its blocks); the
# 1h tier's blocks are whole days, so it covers up to END's day start; the hours after that
# are stitched from 5m buckets by queries until the day is over.
T5=$((END * 1000))
T1=$((END / 86400 * 86400 * 1000))
# Queries: the last min(30, DAYS - 1) days of the data, on the hour.
QDAYS=$((DAYS - 1 < 30 ? DAYS - 1 : 30))
QSTART=$((END - QDAYS * 86400))
LOADER=("$CAIRN" bench ingest --concurrency "$CONCURRENCY" --batch-lines "$BATCH_LINES" --json)
RES=$WORK/results
: >"$RES"
put() { echo "$*" >>"$RES"; }

# ---- Cairn: load with the maintenance job off ------------------------------------------
CDATA=$WORK/cairn-data
mkdir -p "$CDATA"
cairn_config false >"$WORK/cairn-load.toml"
cairn_config true >"$WORK/cairn-rollup.toml"
log "cairn: loading with [maintenance] enabled = false"
start_cairn "$WORK/cairn-load.toml" "$CDATA" cairn
wait_shards_settled
applied_by_shard >"$WORK/applied-before"
"${LOADER[@]}" --url "$URL" --input "$FILE" >"$WORK/cairn-load.json"
applied_by_shard >"$WORK/applied-after"
# The shards that took data: their logs moved during the load (the others never get a
# watermark: there is nothing to roll).
DATA_SHARDS=$(join "$WORK/applied-before" "$WORK/applied-after" | awk '$3 > $2 { printf "%s%s", s, $1; s = "," }')
put cairn load_rate "$(json_get "$WORK/cairn-load.json" samples_per_second)"
put cairn stored "$(metric cairn_samples_ingested_total)"
curl -fsS -X POST "$URL/api/v1/admin/flush" >/dev/null
put cairn du_before "$(settled_size "$CDATA")"
put cairn sst_before "$(metric cairn_storage_sst_bytes)"
put cairn chunks_before "$(metric cairn_chunk_sst_bytes)"
stop_server "$SERVER_PID"
SERVER_PID=""
log "cairn: loaded at $(awk '$2 == "load_rate" { printf "%.0f", $3 }' "$RES") samples/s; shards with data: $DATA_SHARDS"

# ---- Cairn: restart with the job on, until every watermark is there ---------------------
log "cairn: restarting with [maintenance] enabled, cpu_share 1.0; waiting for 5m >= $(date -u -d "@$((T5 / 1000))" +%FT%TZ) and 1h >= $(date -u -d "@$((T1 / 1000))" +%FT%TZ)"
start_cairn "$WORK/cairn-rollup.toml" "$CDATA" cairn
put cairn ready_s "$READY_S"
put cairn ready_cpu "$(awk -v t="$READY_TICKS" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')"
done_check='[.data.shards[] | select(.id as $i | $shards | index($i)) |
  ((.rollup."5m".built_to_ms // 0) >= $t5 and (.rollup."1h".built_to_ms // 0) >= $t1)] | all'
reached=0 last_note=0
while :; do
  elapsed=$(awk -v a="$SPAWNED" -v b="$(now_s)" 'BEGIN { printf "%d", b - a }')
  if status_json >"$WORK/status.json" 2>/dev/null &&
    jq -e --argjson shards "[$DATA_SHARDS]" --argjson t5 "$T5" --argjson t1 "$T1" \
      "$done_check" "$WORK/status.json" >/dev/null; then
    reached=1
    break
  fi
  if [ "$elapsed" -ge "$DEADLINE" ]; then break; fi
  if [ $((elapsed / 30)) -gt "$last_note" ]; then
    last_note=$((elapsed / 30))
    log "rollups, ${elapsed}s: oldest watermark over the shards with data:" \
      "$(jq -r --argjson shards "[$DATA_SHARDS]" '[.data.shards[] | select(.id as $i | $shards | index($i))
        | .rollup] | "5m \(map(."5m".built_to_ms // 0) | min / 1000 | todate), 1h \(map(."1h".built_to_ms // 0) | min / 1000 | todate)"' "$WORK/status.json" 2>/dev/null || echo ?)"
  fi
  sleep 0.25
done
t_done=$(now_s)
ticks_done=$(cpu_ticks "$SERVER_PID")
put cairn rollup_others "$(others_cores "$SPAWN_MT" 0 "$SERVER_PID" "$(awk -v a="$SPAWNED" -v b="$t_done" 'BEGIN { print b - a }')")"
if [ "$reached" != 1 ]; then
  echo "retention: the rollups did not reach their targets within $DEADLINE s; shards:" >&2
  jq -c '.data.shards[] | select(.local) | {id, rollup}' "$WORK/status.json" >&2 || true
  jq -c '.data.maintenance' "$WORK/status.json" >&2 || true
  exit 1
fi
put cairn rollup_s "$(awk -v a="$SPAWNED" -v b="$t_done" 'BEGIN { printf "%.2f", b - a }')"
put cairn rollup_cpu "$(awk -v t="$ticks_done" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')"
put cairn windows_rolled "$(jq '.data.maintenance.windows_rolled' "$WORK/status.json")"
put cairn blocks_written "$(jq '.data.maintenance.blocks_written' "$WORK/status.json")"
put cairn commands "$(jq '.data.maintenance.commands' "$WORK/status.json")"
curl -fsS -X POST "$URL/api/v1/admin/flush" >/dev/null
put cairn du_after "$(settled_size "$CDATA")"
put cairn sst_after "$(metric cairn_storage_sst_bytes)"
put cairn chunks_after "$(metric cairn_chunk_sst_bytes)"

# SST bytes per column family. Every SST file belongs to one column family and names it in
# its properties block (never compressed): the key `rocksdb.column.family.name`, stored
# prefix-compressed after `...column.family.id`, so as "column.family.id", the id's value and
# the next entry's header, then "name" and the name itself.
DB=$(dirname "$(find "$CDATA" -name CURRENT | head -n 1)")
for f in "$DB"/*.sst; do
  printf '%s %s\n' "$(perl -0777 -ne 'print $1 if /column\.family\.id.{1,12}?name([A-Za-z0-9_]+)/s' "$f")" \
    "$(stat -c %s "$f")"
done >"$WORK/sst-by-cf"
cf_bytes() { awk -v cf="$1" '$1 == cf { s += $2 } END { print s + 0 }' "$WORK/sst-by-cf"; }
for cf in chunks rollup_5m rollup_1h; do put cairn "cf_$cf" "$(cf_bytes "$cf")"; done
put cairn sst_files "$(find "$DB" -name '*.sst' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')"

# ---- queries ---------------------------------------------------------------------------
QDIR=$WORK/queries
mkdir -p "$QDIR"
QUERIES=("avg_over_time(cpu_usage_user[1h])" "rate(cpu_usage_user[1h])")
# One request: the answer to BODY, headers to BODY.h; prints "HTTP_CODE SECONDS".
query_once() { # BODY EXPR [PARAM...]
  local body=$1 expr=$2
  shift 2
  local args=(-sS -o "$body" -D "$body.h" -w '%{http_code} %{time_total}' -G
    --data-urlencode "query=$expr" --data-urlencode "start=$QSTART" --data-urlencode "end=$END"
    --data-urlencode "step=3600")
  local p
  for p in "$@"; do args+=(--data-urlencode "$p"); done
  curl "${args[@]}" "$URL/api/v1/query_range" || echo "000 0"
}
# 1 warm-up + RUNS timed runs; appends "LABEL I p50 p99 series points resolution" to RES.
time_query() { # LABEL I [PARAM...]
  local label=$1 i=$2 out code t times="$QDIR/$1-$2.times"
  shift 2
  out=$(query_once "$QDIR/$label-$i.json" "${QUERIES[$i]}" "$@")
  code=${out% *}
  if [ "$code" != 200 ]; then
    log "WARNING: $label answered query $((i + 1)) with HTTP $code: $(head -c 300 "$QDIR/$label-$i.json")"
    put "$label" "q$i" - - - - -
    return 0
  fi
  : >"$times"
  local mt0 pt0 q0
  mt0=$(machine_ticks) pt0=$(cpu_ticks "$SERVER_PID") q0=$(now_s)
  for _ in $(seq 1 "$RUNS"); do
    out=$(query_once "$QDIR/$label-$i.run.json" "${QUERIES[$i]}" "$@")
    code=${out% *} t=${out#* }
    [ "$code" = 200 ] || log "WARNING: $label: a timed run of query $((i + 1)) got HTTP $code"
    echo "$t" >>"$times"
  done
  local res others
  others=$(others_cores "$mt0" "$pt0" "$SERVER_PID" "$(awk -v a="$q0" -v b="$(now_s)" 'BEGIN { print b - a }')")
  res=$(tr -d '\r' <"$QDIR/$label-$i.json.h" | awk -F': ' 'tolower($1) == "x-cairn-resolution" { print $2 }')
  sort -g "$times" | awk -v l="$label" -v i="$i" -v r="${res:--}" \
    -v s="$(jq '.data.result | length' "$QDIR/$label-$i.json")" \
    -v n="$(jq '[.data.result[].values | length] | add // 0' "$QDIR/$label-$i.json")" -v o="$others" \
    '{ v[NR] = $1 } END {
      p50 = v[int((NR * 50 + 99) / 100)]; p99 = v[int((NR * 99 + 99) / 100)]
      printf "%s q%s %.2f %.2f %s %s %s %s\n", l, i, p50 * 1000, p99 * 1000, s, n, r, o }' >>"$RES"
}
# An answer as "hostname<TAB>time<TAB>value" lines, sorted.
points() { jq -r '.data.result[] | (.metric.hostname // "") as $h | .values[] | "\($h)\t\(.[0])\t\(.[1])"' "$1" | LC_ALL=C sort; }
# Largest relative difference between two answers, and the points only one of them has:
# prints "max_rel points missing".
compare_answers() { # A.json B.json
  points "$1" >"$1.pts"
  points "$2" >"$2.pts"
  awk -F'\t' 'NR == FNR { a[$1 "\t" $2] = $3; next }
    { k = $1 "\t" $2; n++
      if (!(k in a)) { miss++; next }
      x = a[k]; y = $3; delete a[k]
      if (x == y) next
      if (x !~ /^[-+0-9.eE]+$/ || y !~ /^[-+0-9.eE]+$/) { miss++; next }
      d = x - y; if (d < 0) d = -d
      m = (x < 0 ? -x : x); if ((y < 0 ? -y : y) > m) m = (y < 0 ? -y : y)
      if (m > 0 && d / m > max) max = d / m }
    END { for (k in a) miss++; printf "%.3g %d %d\n", max + 0, n, miss + 0 }' "$1.pts" "$2.pts"
}

for i in "${!QUERIES[@]}"; do
  log "cairn: query $((i + 1)), resolution auto and raw, 1 warm-up + $RUNS runs each"
  time_query cairn "$i" nocache=1
  time_query cairnraw "$i" nocache=1 resolution=raw
  put cmp "q$i" auto_raw "$(compare_answers "$QDIR/cairn-$i.json" "$QDIR/cairnraw-$i.json")"
done
stop_server "$SERVER_PID"
SERVER_PID=""

# ---- VictoriaMetrics -------------------------------------------------------------------
VDATA=$WORK/vm-data
port=$(free_port)
URL="http://127.0.0.1:$port"
log "victoria-metrics: loading"
"$VM_BIN" -storageDataPath "$VDATA" -httpListenAddr "127.0.0.1:$port" -retentionPeriod 2y \
  -search.disableCache >"$WORK/vm.log" 2>&1 &
SERVER_PID=$!
wait_ready "$URL/health" "$SERVER_PID" "$WORK/vm.log"
"${LOADER[@]}" --url "$URL" --input "$FILE" >"$WORK/vm-load.json"
put vm load_rate "$(json_get "$WORK/vm-load.json" samples_per_second)"
curl -fsS "$URL/internal/force_flush" >/dev/null
put vm du "$(settled_size "$VDATA")"
put vm stored "$(metric vm_rows_added_to_storage_total)"
for i in "${!QUERIES[@]}"; do
  log "victoria-metrics: query $((i + 1)), 1 warm-up + $RUNS runs"
  time_query vm "$i" nocache=1
  put cmp "q$i" vm_auto "$(compare_answers "$QDIR/vm-$i.json" "$QDIR/cairn-$i.json")"
done
stop_server "$SERVER_PID"
SERVER_PID=""

# ---- report ----------------------------------------------------------------------------
get() { awk -v s="$1" -v k="$2" '$1 == s && $2 == k { $1 = ""; $2 = ""; sub(/^  /, ""); print; exit }' "$RES"; }
printf '\nTSBS cpu-only: %s hosts × %s fields = %s series, every %s, %s days = %s samples\n' \
  "$HOSTS" 10 "$SERIES" "$INTERVAL" "$DAYS" "$SAMPLES"
printf 'data %s .. %s (ends %s h before the run started); stored: Cairn %s, VictoriaMetrics %s\n' \
  "$(date -u -d "@$START" +%FT%TZ)" "$(date -u -d "@$END" +%FT%TZ)" "$(((NOW - END) / 3600))" \
  "$(get cairn stored)" "$(get vm stored)"
printf 'load (same loader, %s in flight): Cairn %.0f samples/s, VictoriaMetrics %.0f samples/s\n' \
  "$CONCURRENCY" "$(get cairn load_rate)" "$(get vm load_rate)"

awk -v series="$SERIES" -v days="$DAYS" -v n="$SAMPLES" -v s="$(get cairn rollup_s)" \
  -v cpu="$(get cairn rollup_cpu)" -v rs="$(get cairn ready_s)" -v rcpu="$(get cairn ready_cpu)" \
  -v wr="$(get cairn windows_rolled)" -v bw="$(get cairn blocks_written)" \
  -v cmds="$(get cairn commands)" -v iv="$MAINT_INTERVAL" -v oth="$(get cairn rollup_others)" 'BEGIN {
    f = "  %-50s %s\n"
    printf "\n1. rollup throughput (Cairn, [maintenance] cpu_share = 1.0, interval = %s)\n", iv
    printf f, "wall s, restart -> every 5m and 1h watermark", sprintf("%.2f (%.2f of it to /ready)", s, rs)
    printf f, "Cairn CPU s in that time", sprintf("%.2f (%.2f of it to /ready)", cpu, rcpu)
    printf f, "series-days per second", sprintf("%.0f", series * days / s)
    printf f, "CPU-s per million raw samples", sprintf("%.4f", cpu / (n / 1e6))
    printf f, "windows rolled, blocks written, commands", wr ", " bw ", " cmds
    printf f, "other processes meanwhile (cores; polling incl.)", oth
  }'

awk -v series="$SERIES" -v days="$DAYS" -v c="$(get cairn cf_chunks)" -v r5="$(get cairn cf_rollup_5m)" \
  -v r1="$(get cairn cf_rollup_1h)" -v ssta="$(get cairn sst_after)" -v sstb="$(get cairn sst_before)" \
  -v cha="$(get cairn chunks_after)" -v chb="$(get cairn chunks_before)" -v files="$(get cairn sst_files)" \
  -v dub="$(get cairn du_before)" -v dua="$(get cairn du_after)" -v vdu="$(get vm du)" 'BEGIN {
    k = 365 / days / series
    f = "  %-56s %14s %16s\n"
    printf "\n2. disk after flush + settle (bytes; per series-year = bytes × 365 / %d / %d)\n", days, series
    printf f, "what", "bytes", "B/series-year"
    row("Cairn raw: chunks CF (SST properties)", c)
    row("Cairn rollup_5m CF (SST properties)", r5)
    row("Cairn rollup_1h CF (SST properties)", r1)
    row("Cairn chunks CF, /metrics cairn_chunk_sst_bytes", cha)
    row("Cairn rollups, /metrics: delta(all SST) - delta(chunks)", (ssta - sstb) - (cha - chb))
    row("Cairn all SSTs before rollups (cairn_storage_sst_bytes)", sstb)
    row("Cairn all SSTs after rollups (cairn_storage_sst_bytes)", ssta)
    row("Cairn all *.sst files after rollups", files)
    row("Cairn data dir before rollups (du -sb)", dub)
    row("Cairn data dir after rollups (du -sb)", dua)
    row("VictoriaMetrics data dir, raw (du -sb)", vdu)
    if (c > 0) printf "  rollup_5m / raw = %.4f, rollup_1h / raw = %.4f\n", r5 / c, r1 / c
  }
  function row(what, b) { printf f, what, sprintf("%.0f", b), sprintf("%.0f", b * k) }'

printf '\n3. query latency, ms over %s runs after 1 warm-up (curl time_total), %s hosts, %s days to %s, step 1h\n' \
  "$RUNS" "$HOSTS" "$QDAYS" "$(date -u -d "@$END" +%FT%TZ)"
printf '   (resolution: the X-Cairn-Resolution header; others, cores: CPU other processes, curl included, used while timed)\n'
for i in "${!QUERIES[@]}"; do
  printf '\n  %s\n' "${QUERIES[$i]}"
  awk -v a="$(get cairn "q$i")" -v r="$(get cairnraw "q$i")" -v v="$(get vm "q$i")" 'BEGIN {
    split(a, A, " "); split(r, R, " "); split(v, V, " ")
    f = "    %-34s %9s %9s %7s %7s  %-11s %s\n"
    printf f, "system", "p50", "p99", "series", "points", "resolution", "others, cores"
    printf f, "Cairn auto, nocache=1", A[1], A[2], A[3], A[4], A[5], A[6]
    printf f, "Cairn resolution=raw, nocache=1", R[1], R[2], R[3], R[4], R[5], R[6]
    printf f, "VictoriaMetrics (cache disabled)", V[1], V[2], V[3], V[4], "", V[6]
    printf f, "Cairn raw / Cairn auto", ratio(R[1], A[1]), ratio(R[2], A[2]), "", "", "", ""
    printf f, "VictoriaMetrics / Cairn auto", ratio(V[1], A[1]), ratio(V[2], A[2]), "", "", "", ""
  }
  function ratio(x, y) { return (x != "" && x != "-" && y > 0) ? sprintf("%.2f", x / y) : "n/a" }'
  read -r ar_max ar_n ar_miss <<<"$(awk -v q="q$i" '$1 == "cmp" && $2 == q && $3 == "auto_raw" { print $4, $5, $6 }' "$RES")"
  read -r vm_max vm_n vm_miss <<<"$(awk -v q="q$i" '$1 == "cmp" && $2 == q && $3 == "vm_auto" { print $4, $5, $6 }' "$RES")"
  res=$(get cairn "q$i" | awk '{ print $5 }')
  verdict=$(awk -v m="$ar_max" -v x="$ar_miss" 'BEGIN { print (m <= 1e-9 && x == 0) ? "ok" : "MISMATCH" }')
  printf '    Cairn auto vs raw: max relative difference %s over %s points, %s unmatched: %s\n' \
    "$ar_max" "$ar_n" "$ar_miss" "$verdict"
  printf '    VictoriaMetrics vs Cairn auto: max relative difference %s over %s points, %s unmatched\n' \
    "$vm_max" "$vm_n" "$vm_miss"
  if [ "$res" != 1h ]; then
    printf '    note: Cairn auto read %s, not 1h alone\n' "$res"
  fi
done
