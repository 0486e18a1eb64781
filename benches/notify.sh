#!/usr/bin/env bash
# Notifications, Cairn against Alertmanager 0.25 (Debian's `prometheus-alertmanager`) and, for
# rule-evaluated alerts, Prometheus 2.42 sending to that Alertmanager; one system at a time on
# this machine, each notifying a webhook sink that `cairn bench notify` runs and measures:
#
#   push:  cairn bench notify --mode push ─► Cairn  POST /api/v1/alerts/external (signed) ─┐
#                                        └─► Alertmanager POST /api/v2/alerts             ─┴─► sink
#   rules: bench_metric{instance=0..N-1} = 1 ─► Cairn (/write; rule group)               ─┐
#          (cairn bench ingest, the same file) ─► Prometheus (remote-write receiver;      │
#                                                 rule file) ─► Alertmanager             ─┴─► sink
#
# Both notifiers get the same route: group_by [alertname, instance] (every alert is its own
# group, so N alerts are N notifications), group_wait 0s, group_interval 1m, repeat_interval 1h,
# one webhook receiver (send_resolved false).
# push: --alerts distinct firing alerts (alertname=BenchAlert, instance=i) posted 100 per
#   request, 4 requests in flight. Measured: notifications/s and alerts/s from the first post
#   to the notification that completes the set; latency = the notification's arrival at the
#   sink − the acknowledgement of the request that posted its alert (p50/p99); for Cairn the
#   meta group's Raft entries per notification (from `meta_last_applied` in
#   /api/v1/cluster/status, before the first post and once it settles after the last
#   notification; the posts' own entries, one per request, are also shown subtracted).
# rules: one rule `bench_metric > 0` with `for: 0s` in a group evaluated every --eval-interval
#   over --series series written once (line protocol to Cairn's /write; the same lines
#   converted to remote_write for Prometheus' --web.enable-remote-write-receiver, by
#   `cairn bench ingest --input`). Latency = arrival − the alert's startsAt (the evaluation that
#   fired it, for Prometheus and Cairn alike; both clocks are this machine's). Cairn's meta
#   entries here include the rule's alert-state commits.
#
# Usage: benches/notify.sh [--alerts N] [--series N] [--eval-interval D] [--timeout D]
#                          [--no-build] [--keep]
#   defaults: --alerts 10000 --series 1000 --eval-interval 1s --timeout 5m
# Environment (flags win): ALERTS SERIES EVAL_INTERVAL TIMEOUT
#   AM_BIN PROM_BIN CAIRN_BIN=path (skip the build)  KEEP=1 (leave the temp dir)
# Servers listen on free 127.0.0.1 ports only; all data lives in one mktemp -d dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=notify
BUILD=1
ALERTS=${ALERTS:-10000}
SERIES=${SERIES:-1000}
EVAL_INTERVAL=${EVAL_INTERVAL:-1s}
TIMEOUT=${TIMEOUT:-5m}
KEEP=${KEEP:-0}
SECRET=bench-secret
# shellcheck source=benches/lib.sh
. "$ROOT/benches/lib.sh"

while [ $# -gt 0 ]; do
  case "$1" in
    --alerts) ALERTS=$2; shift ;;
    --series) SERIES=$2; shift ;;
    --eval-interval) EVAL_INTERVAL=$2; shift ;;
    --timeout) TIMEOUT=$2; shift ;;
    --no-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "$BENCH: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

bash "$ROOT/scripts/setup.sh" prometheus alertmanager >&2
find_cairn
AM_BIN=${AM_BIN:-$(command -v prometheus-alertmanager || command -v alertmanager || true)}
PROM_BIN=${PROM_BIN:-$(command -v prometheus || true)}
[ -n "$AM_BIN" ] || { echo "$BENCH: alertmanager not found after setup" >&2; exit 1; }
[ -n "$PROM_BIN" ] || { echo "$BENCH: prometheus not found after setup" >&2; exit 1; }

WORK=$(mktemp -d /tmp/cairn-notify.XXXXXX)
PIDS=()
trap cleanup EXIT

wait_http() { # URL PID LOG
  for _ in $(seq 1 600); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; exit 1; }
    sleep 0.2
  done
  echo "$BENCH: $1 not ready" >&2; cat "$3" >&2; exit 1
}

# The notifiers' configuration, Alertmanager's syntax for both; Cairn's also takes the
# external alerts' secret.
am_config() { # SINK_URL [cairn]
  printf 'route:\n  receiver: sink\n  group_by: [alertname, instance]\n  group_wait: 0s\n'
  printf '  group_interval: 1m\n  repeat_interval: 1h\nreceivers:\n  - name: sink\n'
  printf '    webhook_configs:\n      - url: %s\n        send_resolved: false\n' "$1"
  [ "${2:-}" = cairn ] && printf 'external_alerts:\n  secret: %s\n' "$SECRET"
  return 0
}

start_cairn() { # NAME → sets URL
  local port
  port=$(free_port)
  URL="http://127.0.0.1:$port"
  mkdir -p "$WORK/$1-data"
  "$CAIRN" server --data-dir "$WORK/$1-data" --http-addr "127.0.0.1:$port" \
    --grpc-addr "127.0.0.1:$(free_port)" >"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
  wait_http "$URL/ready" "$!" "$WORK/$1.log"
  am_config "$SINK_URL/hook" cairn >"$WORK/$1-am.yml"
  "$CAIRN" alerts config apply --url "$URL" --tenant default "$WORK/$1-am.yml" >&2
}

start_am() { # NAME → sets AM_URL
  local port
  port=$(free_port)
  AM_URL="http://127.0.0.1:$port"
  am_config "$SINK_URL/hook" >"$WORK/$1-am.yml"
  # No cluster: a clustered Alertmanager waits for its peers to settle before notifying.
  "$AM_BIN" --config.file="$WORK/$1-am.yml" --storage.path="$WORK/$1-am-data" \
    --web.listen-address="127.0.0.1:$port" --cluster.listen-address= >"$WORK/$1-am.log" 2>&1 &
  PIDS+=($!)
  wait_http "$AM_URL/-/ready" "$!" "$WORK/$1-am.log"
}

new_sink() { SINK_ADDR="127.0.0.1:$(free_port)"; SINK_URL="http://$SINK_ADDR"; }

# ---- push -------------------------------------------------------------------------------
push_cairn() {
  new_sink
  start_cairn push-cairn
  log "push: $ALERTS alerts to Cairn"
  "$CAIRN" bench notify --mode push --target cairn --url "$URL" --secret "$SECRET" \
    --listen "$SINK_ADDR" --alerts "$ALERTS" --timeout "$TIMEOUT" >"$WORK/push-cairn.json" ||
    log "push to Cairn incomplete (see the table)"
  stop_all
}

push_am() {
  new_sink
  start_am push
  log "push: $ALERTS alerts to Alertmanager"
  "$CAIRN" bench notify --mode push --target alertmanager --url "$AM_URL" \
    --listen "$SINK_ADDR" --alerts "$ALERTS" --timeout "$TIMEOUT" >"$WORK/push-am.json" ||
    log "push to Alertmanager incomplete (see the table)"
  stop_all
}

# ---- rules ------------------------------------------------------------------------------
# Lines without a timestamp: each system stamps them when they arrive (Cairn's /write, and
# the remote_write conversion of `cairn bench ingest`).
awk -v n="$SERIES" 'BEGIN { for (i = 0; i < n; i++) printf "bench_metric,instance=%d value=1\n", i }' \
  >"$WORK/data.lp"
printf 'groups:\n  - name: bench\n    interval: %s\n    rules:\n      - alert: BenchRule\n        expr: bench_metric > 0\n        for: 0s\n        labels:\n          severity: page\n' \
  "$EVAL_INTERVAL" >"$WORK/rules.yml"

start_sink() { # OUT [--meta-url URL]
  local out=$1
  shift
  "$CAIRN" bench notify --mode sink --listen "$SINK_ADDR" --expect "$SERIES" \
    --timeout "$TIMEOUT" "$@" >"$out" 2>"$out.err" &
  SINK_PID=$!
  wait_http "$SINK_URL/ready" "$SINK_PID" "$out.err"
}

load() { # URL PROTOCOL
  "$CAIRN" bench ingest --url "$1" --input "$WORK/data.lp" --protocol "$2" --json \
    >"$WORK/load-$2.json"
}

rules_cairn() {
  new_sink
  start_cairn rules-cairn
  start_sink "$WORK/rules-cairn.json" --meta-url "$URL"
  "$CAIRN" rules apply --url "$URL" --tenant default "$WORK/rules.yml" >&2
  log "rules: $SERIES series to Cairn, rule every $EVAL_INTERVAL"
  load "$URL" influx
  wait "$SINK_PID" || log "Cairn's rule notifications incomplete (see the table)"
  cat "$WORK/rules-cairn.json.err" >&2
  stop_all
}

rules_prom() {
  local port url
  new_sink
  start_am rules
  port=$(free_port)
  url="http://127.0.0.1:$port"
  printf 'global:\n  evaluation_interval: %s\nrule_files:\n  - %s\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ["%s"]\n' \
    "$EVAL_INTERVAL" "$WORK/rules.yml" "${AM_URL#http://}" >"$WORK/prometheus.yml"
  "$PROM_BIN" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom-data" \
    --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
    >"$WORK/prom.log" 2>&1 &
  PIDS+=($!)
  wait_http "$url/-/ready" "$!" "$WORK/prom.log"
  # Prometheus learns its Alertmanagers from discovery, which reports at most every 5 s;
  # alerts that fire before are dropped (and sent again only after the 1m resend delay).
  for _ in $(seq 1 150); do
    curl -fs "$url/api/v1/alertmanagers" | grep -q '"activeAlertmanagers":\[{' && break
    sleep 0.2
  done
  start_sink "$WORK/rules-prom.json"
  log "rules: $SERIES series to Prometheus (remote write), rule every $EVAL_INTERVAL, via Alertmanager"
  load "$url" remote-write
  wait "$SINK_PID" || log "Prometheus' rule notifications incomplete (see the table)"
  cat "$WORK/rules-prom.json.err" >&2
  stop_all
}

push_am
push_cairn
rules_prom
rules_cairn

# ---- the table --------------------------------------------------------------------------
row() { # SCENARIO SYSTEM FILE
  local f=$3
  g() { local v; v=$(json_get "$f" "$1"); [ -z "$v" ] || [ "$v" = null ] && v=-; echo "$v"; }
  printf '%-6s %-24s %8s %7s %8s %10s %10s %9s %9s %9s %9s\n' "$1" "$2" \
    "$(g complete)" "$(g alerts_notified)" "$(g notifications)" "$(g notifications_per_s)" \
    "$(g alerts_per_s)" "$(g latency_p50_ms)" "$(g latency_p99_ms)" "$(g latency_max_ms)" \
    "$(g meta_entries_per_notification)"
}
{
  printf '\n%-6s %-24s %8s %7s %8s %10s %10s %9s %9s %9s %9s\n' scen system complete alerts \
    notifs "notifs/s" "alerts/s" "p50 ms" "p99 ms" "max ms" "meta/notif"
  row push "alertmanager-0.25" "$WORK/push-am.json"
  row push cairn "$WORK/push-cairn.json"
  row rules "prometheus+alertmanager" "$WORK/rules-prom.json"
  row rules cairn "$WORK/rules-cairn.json"
  printf '\npush: %s alerts, latency from the acknowledgement of the alert'"'"'s POST ' "$ALERTS"
  printf '(negative when notified before the answer came back: Alertmanager %s, Cairn %s alerts);\n' \
    "$(json_get "$WORK/push-am.json" notified_before_ack)" \
    "$(json_get "$WORK/push-cairn.json" notified_before_ack)"
  printf '  from the POST'"'"'s sending instead: Alertmanager p50 %s ms, p99 %s ms; Cairn p50 %s ms, p99 %s ms\n' \
    "$(json_get "$WORK/push-am.json" latency_from_post_p50_ms)" \
    "$(json_get "$WORK/push-am.json" latency_from_post_p99_ms)" \
    "$(json_get "$WORK/push-cairn.json" latency_from_post_p50_ms)" \
    "$(json_get "$WORK/push-cairn.json" latency_from_post_p99_ms)"
  printf '  posting took: Alertmanager %s s, Cairn %s s\n' \
    "$(json_get "$WORK/push-am.json" posting_s)" "$(json_get "$WORK/push-cairn.json" posting_s)"
  printf '  Cairn meta entries per notification without the posts'"'"' own (one per POST): %s\n' \
    "$(json_get "$WORK/push-cairn.json" meta_entries_per_notification_without_posts)"
  printf 'rules: %s series, evaluated every %s; latency from startsAt (the evaluation that fired)\n' \
    "$SERIES" "$EVAL_INTERVAL"
}
