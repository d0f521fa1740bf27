#!/usr/bin/env bash
# Flake hunt: runs CI (`.ci/run`) N times in a row (default 5) in one fresh
# clone of this checkout's HEAD, stopping at the first failure. A flaky test
# hides in one green run; it rarely survives five. The first run builds from
# cold, the others reuse the clone's .build. Each run's log is kept in the
# clone until the end; a failing run's log is printed and the clone is kept.
#
#   bash scripts/repeat.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
case "$runs" in ''|*[!0-9]*) echo "usage: scripts/repeat.sh [N]  (N: number of runs, got '$runs')" >&2; exit 2 ;; esac
clone=$(mktemp -d "${TMPDIR:-/tmp}/repeat-ci.XXXXXX")
git clone -q . "$clone"
echo "repeat: $(git rev-parse --short HEAD) in $clone, $runs runs" >&2
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if (cd "$clone" && CI=true bash .ci/run </dev/null >"$clone/run-$i.log" 2>&1); then
    summary=$(grep -aE '^✔ Test run with' "$clone/run-$i.log" | tr '\n' ' ')
    echo "repeat: run $i/$runs passed in $(( $(date +%s) - start )) s: $summary" >&2
  else
    echo "repeat: run $i/$runs FAILED after $(( $(date +%s) - start )) s; log: $clone/run-$i.log" >&2
    grep -aE '✘|error:|^ci:' "$clone/run-$i.log" | head -40 >&2
    exit 1
  fi
done
rm -rf "$clone"
echo "repeat: $runs runs in a row, no failure" >&2
