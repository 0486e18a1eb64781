#!/usr/bin/env bash
# Reads `cargo test ... 2>&1` on stdin and passes it through, keeping the conformance pass
# counts and each test binary's result line easy to find, and prints a grand total at the end.
#
# Exits 1 on its own, without relying on the caller's `pipefail`, when the output shows
#   - a failed test: `test result: FAILED`, or libtest's `failures:` section;
#   - a crash: `process didn't exit successfully` or `signal: ` (a test binary killed by a
#     signal), or a panic outside a test harness (`thread '…' (id) panicked at`);
#   - a compile or cargo error: `error[E…]`, `error: could not compile`, any `error: ` line;
#   - no test result at all (cargo stopped before running a test binary).
# Lines a test printed itself (libtest's `---- <name> stdout ----` sections, shown by
# `--show-output` or for a failing test) are passed through but not judged: a test may well
# print "error: " or a caught panic. A failing test is still caught by its result line.
set -uo pipefail
passed=0; failed=0; ignored=0; results=0
conformance=()
measured=()
problems=()
captured=false
while IFS= read -r line; do
  printf '%s\n' "$line"
  case "$line" in
    "line-protocol corpus:"* | "promql total"* | "promql "*".test:"*) conformance+=("$line") ;;
    "kill -9 of node"*) measured+=("$line") ;;
  esac
  # Where a test's own output starts and ends in libtest's report.
  if [[ "$line" =~ ^----\ .*\ std(out|err)\ ----$ ]]; then
    captured=true
    continue
  fi
  if [[ "$line" == "successes:" || "$line" == "failures:" || "$line" =~ ^running\ [0-9]+\ tests?$ || "$line" =~ ^test\ result:\  ]]; then
    captured=false
  fi
  if [[ "$line" =~ ^test\ result:\ [A-Za-z]+\.\ ([0-9]+)\ passed\;\ ([0-9]+)\ failed\;\ ([0-9]+)\ ignored ]]; then
    passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2])); ignored=$((ignored + BASH_REMATCH[3]))
    results=$((results + 1))
  fi
  $captured && continue
  case "$line" in
    "test result: FAILED"* | "failures:" | *"process didn't exit successfully"* | *"signal: "* \
      | "thread '"*" panicked at "* | "error["*"]"* | "error: "*)
      problems+=("$line") ;;
  esac
done
echo
echo "==== conformance ===="
if [ ${#conformance[@]} -gt 0 ]; then
  printf '%s\n' "${conformance[@]}"
else
  echo "(no conformance counts were printed)"
fi
if [ ${#measured[@]} -gt 0 ]; then
  echo "==== measured ===="
  printf '%s\n' "${measured[@]}"
fi
echo "tests: $passed passed, $failed failed, $ignored skipped"
if [ "$results" -eq 0 ]; then
  problems+=("no \"test result:\" line: no test binary ran")
fi
if [ ${#problems[@]} -gt 0 ]; then
  echo "==== FAILED ===="
  printf '%s\n' "${problems[@]}" | head -n 20
  [ ${#problems[@]} -gt 20 ] && echo "… and $(( ${#problems[@]} - 20 )) more"
  exit 1
fi
exit 0
