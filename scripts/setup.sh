#!/usr/bin/env bash
# Installs what building Cairn needs on a fresh Debian machine that has only the Rust toolchain.
# Idempotent: every step checks first and says what it does.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

need=()
# librocksdb-sys runs bindgen, which loads libclang at build time.
if ! ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1; then
  need+=(libclang-dev)
fi
# clang++ compiles RocksDB's C++ about twice as fast as g++ at -O0.
if ! command -v clang++ >/dev/null 2>&1; then need+=(clang); fi
if ! command -v make >/dev/null 2>&1; then need+=(make); fi
for extra in "$@"; do
  case "$extra" in
    prometheus) command -v prometheus >/dev/null 2>&1 || need+=(prometheus) ;;
    victoria-metrics) command -v victoria-metrics >/dev/null 2>&1 || need+=(victoria-metrics) ;;
    *) need+=("$extra") ;;
  esac
done

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  echo "setup: installed ${need[*]}"
else
  echo "setup: build dependencies present (libclang, clang, make${*:+, $*})"
fi
