#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: unit tests per module and
# end-to-end tests that run the release binary (what users run; some bugs exist
# only at -O) against real sockets, files, SQLite databases and a local
# Kinesis-compatible server (moto_server).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/lint.sh
swift build -c release --product eddy
swift build --build-tests
EDDY_BINARY="$PWD/.build/release/eddy" swift test --skip-build "$@"
