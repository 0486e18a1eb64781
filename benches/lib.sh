# Shell helpers shared by the benchmark scripts (sourced, not run). The sourcing script sets
# BENCH (its name, for messages), ROOT (the repository) and BUILD (1: build cairn first).

# The script's header comment, as its --help.
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

log() { echo "$BENCH: $*" >&2; }

# Sets CAIRN: $CAIRN_BIN if given, else the release build (built first when BUILD=1).
find_cairn() {
  if [ -n "${CAIRN_BIN:-}" ]; then
    CAIRN=$CAIRN_BIN
  else
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/cairn-target}
    export CC=${CC:-clang} CXX=${CXX:-clang++}
    if [ "$BUILD" = 1 ]; then
      log "building cairn (release; the first build compiles RocksDB and takes a while)"
      (cd "$ROOT" && cargo build --release -p cairn-node --bin cairn >&2)
    fi
    CAIRN=$CARGO_TARGET_DIR/release/cairn
  fi
  [ -x "$CAIRN" ] || { echo "$BENCH: no cairn binary at $CAIRN" >&2; exit 1; }
}

# SIGTERM, up to 60 s to exit, then SIGKILL.
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
  echo "$BENCH: no free port found" >&2
  return 1
}

# utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15; the command
# name in field 2 may hold spaces, so count from after its closing parenthesis).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
# A number from the loader's one-line JSON report.
json_get() { sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"; }

# The servers a script started (their pids in the array PIDS): SIGTERM to all at once, then
# each given up to 60 s (stop_server). PIDS is emptied.
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do stop_server "$pid"; done
  PIDS=()
}

# The EXIT trap of a script with servers in PIDS and its files in WORK: stops the servers,
# then removes WORK unless KEEP=1.
cleanup() {
  stop_all
  if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
