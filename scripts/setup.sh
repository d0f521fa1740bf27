#!/usr/bin/env bash
# Installs what eddy needs to build and test on Debian: the Swift toolchain is
# expected on PATH; SQLite and LZ4 come from Debian's -dev packages; the Kinesis
# tests need moto_server from PyPI, the monitor's tests Prometheus' Python
# client (its exposition parser) and Debian's headless Chromium (with a font
# for its screenshots). EDDY_SKIP_PYTHON=1 (quickstart, benchmarks) skips the
# test-only tools. Safe to run again: it only installs what is missing.
set -euo pipefail

need_apt=()
packages=(libsqlite3-dev liblz4-dev pkg-config)
if [ "${EDDY_SKIP_PYTHON:-0}" != "1" ]; then
  packages+=(chromium fonts-dejavu-core)
fi
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The Kinesis tests run moto's server through scripts/moto_kinesis_ext.py,
# which patches moto 5.2.1's internals: that exact version.
if [ "${EDDY_SKIP_PYTHON:-0}" != "1" ]; then
  if ! python3 -c 'import moto, flask, werkzeug, sys; sys.exit(0 if moto.__version__ == "5.2.1" else 1)' >/dev/null 2>&1 \
     || ! command -v moto_server >/dev/null 2>&1; then
    echo "setup: installing moto[server]==5.2.1 (Kinesis test server)" >&2
    python3 -m pip install -q 'moto[server]==5.2.1'
  fi
  if ! python3 -c 'import prometheus_client.parser' >/dev/null 2>&1; then
    echo "setup: installing prometheus_client==0.26.0 (the monitor tests parse /metrics with it)" >&2
    python3 -m pip install -q 'prometheus_client==0.26.0'
  fi
fi

command -v swift >/dev/null 2>&1 || { echo "setup: swift is not on PATH (expected /opt/swift/usr/bin)" >&2; exit 1; }
