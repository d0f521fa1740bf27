#!/usr/bin/env bash
# Builds the benchmarks in release mode and prints their figures:
#   bash scripts/bench.sh [core|blocks|e2e|windows|recovery|ui|all]
set -euo pipefail
cd "$(dirname "$0")/.."
EDDY_SKIP_PYTHON=1 bash scripts/setup.sh
swift build -c release --product eddy-bench
exec .build/release/eddy-bench "${@:-all}"
