#!/usr/bin/env bash
# Passes cargo test's output through, keeping the conformance pass counts and each test
# binary's result line easy to find, and prints a grand total at the end. Exits with
# cargo's status (read from PIPESTATUS by the caller's shell via `set -o pipefail`).
set -uo pipefail
passed=0; failed=0; ignored=0
conformance=()
measured=()
while IFS= read -r line; do
  printf '%s\n' "$line"
  case "$line" in
    "line-protocol corpus:"* | "promql total"* | "promql "*".test:"*) conformance+=("$line") ;;
    "kill -9 of node"*) measured+=("$line") ;;
  esac
  if [[ "$line" =~ ^test\ result:\ [A-Za-z]+\.\ ([0-9]+)\ passed\;\ ([0-9]+)\ failed\;\ ([0-9]+)\ ignored ]]; then
    passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2])); ignored=$((ignored + BASH_REMATCH[3]))
  fi
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
