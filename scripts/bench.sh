#!/usr/bin/env bash
# Builds the benchmarks in release mode and prints their figures:
#   bash scripts/bench.sh [core|blocks|e2e|windows|recovery|ui|all]
#   bash scripts/bench.sh startup [BINARY...]
# `startup` times exec → --version and exec → first batch of a replay job for
# dist/eddy (scripts/release.sh) and .build/release/eddy, built here if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
EDDY_SKIP_PYTHON=1 bash scripts/setup.sh
swift build -c release --product eddy-bench
if [ "${1:-}" = "startup" ] && [ $# -eq 1 ]; then
  swift build -c release --product eddy
fi
exec .build/release/eddy-bench "${@:-all}"
