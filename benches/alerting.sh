#!/usr/bin/env bash
# Rule evaluation, Cairn against Prometheus 2.42 (Debian's `prometheus`), on the same rules and
# the same data, one system at a time on this machine:
#
#   rules.yml (generated) ──┬─► Prometheus (rule_files, remote-write receiver) ─┐
#   cairn bench ingest ─────┴─► Cairn (cairn rules apply, /write)              ─┴─► table
#
# Data: TSBS cpu-like hosts (10 series each: cpu_usage_user ... cpu_usage_guest_nice), 15
# minutes at 10 s from 5 minutes before the load, generated with the same seed for each system
# just before it loads (so both evaluate over equally fresh data; the values are the same, only
# shifted in time).
# Rules: --rules alerting rules in groups of 100, each group evaluated every --eval-interval.
# Nine rules in ten watch one host's metric (`cpu_usage_user{hostname="host_7"} > 80`, the
# per-host thresholds monitoring platforms set up), one in ten a fleet-wide aggregate
# (`avg by (region) (cpu_usage_system) > 50`); every rule has `for: 1m`, a severity label and a
# templated summary (`{{ $labels.hostname }} at {{ $value | humanize }}`).
# Measured once every group has been evaluated 4 times: the sum over groups of the last
# evaluation's duration (Prometheus' `prometheus_rule_group_last_duration_seconds`, Cairn's
# `cairn_rule_group_last_duration_seconds`, same meaning), the slowest group, and the server's
# CPU-seconds per evaluation round over --window seconds.
#
# --flapping measures the meta group's write load caused by alert state instead: one rule over
# --flap-series series (10,000) that all fire, of which 1% per minute flap (go to 0 and back),
# written every 10 s for --window seconds; reports alert-state commits and bytes per second
# (`cairn_alert_state_commits_total`, `cairn_alert_state_commit_bytes_total`), the server's CPU
# and all its disk writes (/proc/PID/io: samples, Raft logs, the meta record it rewrites after
# every apply, compactions).
#
# Usage: benches/alerting.sh [--rules N] [--hosts H] [--eval-interval D] [--window S]
#                            [--flapping [--flap-series N]] [--no-build] [--keep]
#   defaults: --rules 1000 --hosts 1000 (10,000 series) --eval-interval 10s --window 60
#   the issue's second size: --rules 10000 --hosts 10000 (100,000 series)
# Environment (flags win): RULES HOSTS EVAL_INTERVAL WINDOW FLAPPING FLAP_SERIES
#   PROM_BIN CAIRN_BIN=path (skip the build)  KEEP=1 (leave the temp dir)
# Servers listen on free 127.0.0.1 ports only; all data lives in one mktemp -d dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=alerting
BUILD=1
RULES=${RULES:-1000}
HOSTS=${HOSTS:-1000}
EVAL_INTERVAL=${EVAL_INTERVAL:-10s}
WINDOW=${WINDOW:-60}
FLAPPING=${FLAPPING:-0}
FLAP_SERIES=${FLAP_SERIES:-10000}
KEEP=${KEEP:-0}
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --rules) RULES=$2; shift ;;
    --hosts) HOSTS=$2; shift ;;
    --eval-interval) EVAL_INTERVAL=$2; shift ;;
    --window) WINDOW=$2; shift ;;
    --flapping) FLAPPING=1 ;;
    --flap-series) FLAP_SERIES=$2; shift ;;
    --no-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "$BENCH: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

bash "$ROOT/scripts/setup.sh" prometheus >&2
find_cairn
PROM_BIN=${PROM_BIN:-$(command -v prometheus || true)}
[ -n "$PROM_BIN" ] || { echo "$BENCH: prometheus not found after setup" >&2; exit 1; }

WORK=$(mktemp -d /tmp/cairn-alerting.XXXXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && stop_server "$SERVER_PID"
  if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

interval_s=${EVAL_INTERVAL%s}
metric() { { curl -fs "$1/metrics" || true; } | awk -v k="$2" '$1 == k { print $2 }'; }
# Sum, max and count of a per-group gauge or counter (lines `name{...} value`).
group_stats() { # URL NAME → "sum max count"
  { curl -fs "$1/metrics" || true; } |
    awk -v k="$2" 'index($1, k "{") == 1 { s += $2; if ($2 > m) m = $2; n++ } END { printf "%.6f %.6f %d\n", s, m, n }'
}
# Alerts firing on a Cairn node (tenant `default`); 0 when none or unreachable.
firing_count() { # URL
  { curl -fs -H 'X-Scope-OrgID: default' "$1/api/v1/alerts" || true; } |
    { grep -o '"state":"firing"' || true; } | wc -l
}
wait_http() { # URL PID LOG
  for _ in $(seq 1 600); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; exit 1; }
    sleep 0.2
  done
  echo "$BENCH: $1 not ready" >&2; cat "$3" >&2; exit 1
}

# ---- the rule file ----------------------------------------------------------------------
FIELDS=(usage_user usage_system usage_idle usage_nice usage_iowait usage_irq usage_softirq
  usage_steal usage_guest usage_guest_nice)
gen_rules() { # N HOSTS FILE
  awk -v n="$1" -v hosts="$2" -v iv="$EVAL_INTERVAL" -v fields="${FIELDS[*]}" 'BEGIN {
    split(fields, f, " ")
    print "groups:"
    for (i = 0; i < n; i++) {
      if (i % 100 == 0) { printf "  - name: g%04d\n    interval: %s\n    rules:\n", i / 100, iv }
      m = "cpu_" f[(i % 10) + 1]
      if (i % 10 == 9) {
        expr = sprintf("avg by (region) (%s) > %d", m, 40 + (i % 20))
      } else {
        expr = sprintf("%s{hostname=\"host_%d\"} > %d", m, int(i / 10) % hosts, 60 + (i % 30))
      }
      printf "      - alert: R%05d\n        expr: %s\n        for: 1m\n", i, expr
      printf "        labels:\n          severity: %s\n", (i % 3 == 0 ? "critical" : "warning")
      printf "        annotations:\n          summary: \"{{ $labels.hostname }} at {{ $value | humanize }}\"\n"
    }
  }' >"$3"
}

load_data() { # URL PROTOCOL
  local extra=()
  [ "$2" = remote-write ] && extra=(--protocol remote-write)
  # From 5 minutes ago to 10 minutes ahead: a load of 100,000 series takes minutes, and
  # rules must still find samples within the 5-minute lookback when they run.
  "$CAIRN" bench ingest --url "$1" --hosts "$HOSTS" --duration 15m --interval 10s --seed 1 \
    --start "$(($(date +%s) - 300))" --concurrency 4 "${extra[@]}" --json >"$WORK/load-$2.json"
}

# Waits until every group has run `want` more iterations than at the call.
wait_iterations() { # URL ITER_METRIC GROUPS WANT
  local base now
  base=$(group_stats "$1" "$2" | awk '{ print $1 }')
  for _ in $(seq 1 3000); do
    now=$(group_stats "$1" "$2")
    if [ "$(echo "$now" | awk '{ print $3 }')" -ge "$3" ] &&
      awk -v a="$(echo "$now" | awk '{ print $1 }')" -v b="$base" -v g="$3" -v w="$4" \
        'BEGIN { exit !(a - b >= g * w) }'; then
      return 0
    fi
    sleep 0.5
  done
  echo "$BENCH: rule groups did not reach $4 iterations" >&2; exit 1
}

# ---- rule evaluation ---------------------------------------------------------------------
# Runs one system; appends "name sum_last max_last cpu_per_round groups firing" to RESULTS.
run_system() { # prom|cairn
  local sys=$1 port url data groups t0 t1 c0 c1 stats firing
  port=$(free_port)
  url="http://127.0.0.1:$port"
  data="$WORK/$sys-data"
  mkdir -p "$data"
  groups=$(((RULES + 99) / 100))
  case $sys in
    prom)
      printf 'global:\n  scrape_interval: 1m\n  evaluation_interval: %s\nrule_files:\n  - %s\nstorage:\n  tsdb:\n    out_of_order_time_window: 2h\n' \
        "$EVAL_INTERVAL" "$WORK/rules.yml" >"$WORK/prometheus.yml"
      "$PROM_BIN" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$data" \
        --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
        >"$WORK/prom.log" 2>&1 &
      SERVER_PID=$!
      wait_http "$url/-/ready" "$SERVER_PID" "$WORK/prom.log"
      load_data "$url" remote-write
      iters=prometheus_rule_group_iterations_total
      last=prometheus_rule_group_last_duration_seconds
      ;;
    cairn)
      "$CAIRN" server --data-dir "$data" --http-addr "127.0.0.1:$port" \
        --grpc-addr "127.0.0.1:$(free_port)" >"$WORK/cairn.log" 2>&1 &
      SERVER_PID=$!
      wait_http "$url/ready" "$SERVER_PID" "$WORK/cairn.log"
      load_data "$url" influx
      "$CAIRN" rules apply --url "$url" --tenant default "$WORK/rules.yml" >&2
      iters=cairn_rule_group_iterations_total
      last=cairn_rule_group_last_duration_seconds
      ;;
  esac
  log "$sys: loaded $(json_get "$WORK/load-$([ "$sys" = prom ] && echo remote-write || echo influx).json" samples) samples; waiting for $groups groups to evaluate"
  wait_iterations "$url" "$iters" "$groups" 4
  t0=$(date +%s.%N)
  c0=$(cpu_ticks "$SERVER_PID")
  sleep "$WINDOW"
  c1=$(cpu_ticks "$SERVER_PID")
  t1=$(date +%s.%N)
  stats=$(group_stats "$url" "$last")
  case $sys in
    prom) firing=$({ curl -fs "$url/api/v1/alerts" || true; } | { grep -o '"state":"firing"' || true; } | wc -l) ;;
    cairn) firing=$(firing_count "$url") ;;
  esac
  RESULTS+=("$sys $(echo "$stats" | awk '{ print $1, $2 }') $(awk -v c="$((c1 - c0))" -v t0="$t0" -v t1="$t1" -v iv="$interval_s" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.4f", c / hz / ((t1 - t0) / iv) }') $(echo "$stats" | awk '{ print $3 }') $firing")
  stop_server "$SERVER_PID"
  SERVER_PID=""
}

# ---- alert-state write load ---------------------------------------------------------------
run_flapping() {
  local port url t0 t1 c0 c1 b0 b1 n0 n1 round on
  port=$(free_port)
  url="http://127.0.0.1:$port"
  mkdir -p "$WORK/flap-data"
  "$CAIRN" server --data-dir "$WORK/flap-data" --http-addr "127.0.0.1:$port" \
    --grpc-addr "127.0.0.1:$(free_port)" >"$WORK/cairn.log" 2>&1 &
  SERVER_PID=$!
  wait_http "$url/ready" "$SERVER_PID" "$WORK/cairn.log"
  printf 'groups:\n  - name: flap\n    interval: %s\n    rules:\n      - alert: Flap\n        expr: flap > 0\n' \
    "$EVAL_INTERVAL" >"$WORK/flap.yml"
  "$CAIRN" rules apply --url "$url" --tenant default "$WORK/flap.yml" >&2
  # Every 10 s all series get a sample; 1% of them per minute are 0 for that round (a
  # different 1% each minute, spread over the minute's six rounds).
  write_round() { # ROUND
    local now per
    now=$(date +%s%3N)
    per=$((FLAP_SERIES / 100 / 6 + 1))
    awk -v n="$FLAP_SERIES" -v r="$1" -v per="$per" -v t="$now" 'BEGIN {
      lo = (r * per) % n
      for (i = 0; i < n; i++) {
        off = ((i - lo + n) % n) < per
        printf "flap,series=s%d value=%d %s\n", i, (off ? 0 : 1), t
      }
    }' | curl -fs -X POST --data-binary @- "$url/write?precision=ms"
  }
  write_round 0
  log "flapping: waiting until $FLAP_SERIES alerts fire"
  for _ in $(seq 1 600); do
    on=$(firing_count "$url")
    [ "$on" -ge $((FLAP_SERIES * 98 / 100)) ] && break
    write_round 0
    sleep 2
  done
  t0=$(date +%s.%N)
  c0=$(cpu_ticks "$SERVER_PID")
  w0=$(awk '/^write_bytes/ { print $2 }' "/proc/$SERVER_PID/io")
  n0=$(metric "$url" cairn_alert_state_commits_total)
  b0=$(metric "$url" cairn_alert_state_commit_bytes_total)
  round=1
  while awk -v t0="$t0" -v now="$(date +%s.%N)" -v w="$WINDOW" 'BEGIN { exit !(now - t0 < w) }'; do
    write_round "$round"
    round=$((round + 1))
    sleep 10
  done
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$SERVER_PID")
  w1=$(awk '/^write_bytes/ { print $2 }' "/proc/$SERVER_PID/io")
  n1=$(metric "$url" cairn_alert_state_commits_total)
  b1=$(metric "$url" cairn_alert_state_commit_bytes_total)
  on=$(firing_count "$url")
  awk -v n0="$n0" -v n1="$n1" -v b0="$b0" -v b1="$b1" -v t0="$t0" -v t1="$t1" -v c="$((c1 - c0))" \
    -v hz="$(getconf CLK_TCK)" -v s="$FLAP_SERIES" -v on="$on" -v w="$((w1 - w0))" 'BEGIN {
      d = t1 - t0
      printf "alert-state write load, %d alerts (%d firing at the end), 1%% flapping per minute, %.0f s:\n", s, on, d
      printf "  %.2f commits/s, %.0f bytes/s (%.1f KiB per minute) proposed to the meta group; server CPU %.1f%%\n",
        (n1 - n0) / d, (b1 - b0) / d, (b1 - b0) / d * 60 / 1024, c / hz / d * 100
      printf "  disk writes of the whole server (samples, Raft logs, the meta record, compactions): %.2f MiB/s\n",
        w / d / 1048576
    }'
  stop_server "$SERVER_PID"
  SERVER_PID=""
}

if [ "$FLAPPING" = 1 ]; then
  run_flapping
  exit 0
fi

gen_rules "$RULES" "$HOSTS" "$WORK/rules.yml"
log "$RULES rules in $(((RULES + 99) / 100)) groups over $((HOSTS * 10)) series, every $EVAL_INTERVAL"
RESULTS=()
run_system prom
run_system cairn
printf '\n%-10s %14s %14s %18s %7s %7s\n' system "sum last (s)" "slowest (s)" "CPU-s per round" groups firing
for r in "${RESULTS[@]}"; do
  # shellcheck disable=SC2086
  printf '%-10s %14s %14s %18s %7s %7s\n' $r
done
awk -v p="${RESULTS[0]}" -v c="${RESULTS[1]}" 'BEGIN {
  split(p, a, " "); split(c, b, " ")
  printf "%-10s %14.3f %14.3f %18.3f\n", "cairn/prom", b[2] / a[2], b[3] / a[3], b[4] / a[4]
}'
