#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: unit tests per module and
# end-to-end tests that run the release binary (what users run; some bugs exist
# only at -O) against real sockets, files, SQLite databases and a local
# Kinesis-compatible server (moto_server). The end-to-end tests run twice:
# every job on 3 lanes, then on 1 (parallelism must never change an answer).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/lint.sh
swift build -c release --product eddy
swift build --build-tests
export EDDY_BINARY="$PWD/.build/release/eddy"
EDDY_TEST_PARALLELISM=3 swift test --skip-build "$@"
if [ $# -eq 0 ]; then
  EDDY_TEST_PARALLELISM=1 swift test --skip-build --filter EddyEndToEndTests
fi
