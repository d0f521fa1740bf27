#!/usr/bin/env bash
# Sets everything up, builds eddy in release mode and runs sql/quickstart.sql
# on the built-in generator for 10 seconds, printing each batch's results.
set -euo pipefail
cd "$(dirname "$0")/.."
EDDY_SKIP_PYTHON=1 bash scripts/setup.sh
swift build -c release --product eddy
exec .build/release/eddy run sql/quickstart.sql --duration "${EDDY_QUICKSTART_DURATION:-10s}"
