#!/usr/bin/env bash
# The kill -9 soak, long form: the suite's KillSoakTests with 200 or more
# SIGKILLs over the generator, socket (ack = on) and file sources, each with a
# checkpoint, a STATE table, a file sink and a sqlite sink, against the
# release binary. Prints, per source and in all: kills, restarts, crashes,
# records lost and records duplicated.
#   bash scripts/soak.sh [KILLS]      (default 216)
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-216}
bash scripts/setup.sh
swift build -c release --product eddy
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
EDDY_SOAK_KILLS="$kills" EDDY_BINARY="$PWD/.build/release/eddy" \
  swift test --skip-build --filter KillSoakTests >"$log" 2>&1 || status=$?
grep -E '^soak: ' "$log" || true
grep -E '✘|error:|Issue recorded' "$log" | head -40 || true
awk '/^soak: /{ for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] ~ /^(kills|restarts|crashes|lost|duplicated)$/) t[kv[1]] += kv[2] } }
     END { printf "soak total: kills=%d restarts=%d crashes=%d lost=%d duplicated=%d\n", t["kills"], t["restarts"], t["crashes"], t["lost"], t["duplicated"] }' "$log"
[ "$status" -eq 0 ] && echo "soak: passed" || echo "soak: FAILED (swift test exit $status)"
exit "$status"
