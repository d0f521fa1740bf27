#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: unit tests per module and
# end-to-end tests that run the built binary against real sockets, files,
# SQLite databases and a local Kinesis-compatible server (moto_server).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
swift test --skip-build
