#!/usr/bin/env bash
# Runs the test suite under a sanitizer (README "Sanitizers").
#
#   bash scripts/sanitize.sh address [swift test args]   AddressSanitizer (+ LeakSanitizer)
#   bash scripts/sanitize.sh thread  [swift test args]   ThreadSanitizer
#
# It builds the tests with --sanitize=address|thread into a scratch path of
# their own (.build-asan, .build-tsan; git-ignored), and the `eddy` binary the
# end-to-end tests run with the same sanitizer, in release mode (-O, what
# users run: issue 12's crash existed only at -O). The end-to-end tests run
# every job on 3 lanes (EDDY_TEST_PARALLELISM=3), so the lanes, the
# receivers and the ordered tail run side by side in sanitized processes.
#
# A sanitizer report anywhere fails the run: in the test process, which stops
# at the first one, and in every eddy process a test starts, which stops with
# exit status 66. Reports go to files under $scratch/reports/RUN, and the run
# fails at the end if any is there, even if the test that started the process
# did not look at its exit status. Suppressions live in
# scripts/sanitizers/*.supp, one comment per entry.
#
# With swift test args (say --filter KillSoakTests) it runs just those;
# without, the whole suite. EDDY_SANITIZE_NO_BUILD=1 runs what the scratch
# path already holds.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 address|thread [swift test args]" >&2; exit 2; }
[ $# -ge 1 ] || usage
sanitizer=$1; shift
case "$sanitizer" in
  address) scratch=.build-asan ;;
  thread) scratch=.build-tsan ;;
  *) usage ;;
esac

bash scripts/setup.sh

# Builds and test runs share one lock on this machine (one Swift build at a
# time). The system linker, gold, warns "Cannot export local symbol
# '__asan_check_…'" for each of ASan's outlined checks in every image it
# links: noise, not a finding, so those lines are dropped from the output.
build=(--sanitize="$sanitizer" --scratch-path "$scratch")
if [ "${EDDY_SANITIZE_NO_BUILD:-0}" != "1" ]; then
  flock /tmp/eddy-build.lock bash -c '
    set -o pipefail
    swift build -c release --product eddy "$@" 2>&1 | grep -v "Cannot export local symbol .__asan" &&
    swift build --build-tests "$@" 2>&1 | grep -v "Cannot export local symbol .__asan"' build "${build[@]}"
fi

reports="$PWD/$scratch/reports/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$reports"
supp="$PWD/scripts/sanitizers"
# log_path: each process writes its reports to NAME.PID instead of stderr.
# exitcode=66: a sanitized eddy that reported cannot pass for one that
# exited 1 (a job error) or 3 (a runtime failure), which tests expect.
# ASan stops a process at its first report (memory is no longer what the
# program thinks). TSan goes on (halt_on_error=0), so that one run lists
# every race, in the test process too, and still exits 66 at the end.
common="exitcode=66:log_path=$reports/$sanitizer"
case "$sanitizer" in
  address)
    export ASAN_OPTIONS="$common:halt_on_error=1:detect_leaks=1:${ASAN_OPTIONS:-}"
    export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}" ;;
  thread)
    export TSAN_OPTIONS="$common:halt_on_error=0:second_deadlock_stack=1:suppressions=$supp/tsan.supp:print_suppressions=0:${TSAN_OPTIONS:-}" ;;
esac
# The sanitizer reports a crash itself; Swift's backtracer would catch the
# signal first and hold the process for its own report.
export SWIFT_BACKTRACE=enable=no
export EDDY_BINARY="$PWD/$scratch/release/eddy"
export EDDY_TEST_PARALLELISM=3
# Tests that measure eddy's resident memory know that a sanitizer's own
# memory is in it (BackpressureTests).
export EDDY_SANITIZER=$sanitizer

log="$PWD/$scratch/logs/$(basename "$reports").log"
mkdir -p "$(dirname "$log")"
status=0
# Timed from when the lock is taken: waiting for other builds is not the run's.
flock /tmp/eddy-build.lock bash -c '
  started=$(date +%s)
  status=0
  nice -n 10 swift test --skip-build "$@" || status=$?
  echo "sanitize: swift test ran for $(( $(date +%s) - started ))s"
  exit $status' test "${build[@]}" "$@" 2>&1 | tee "$log" || status=$?
elapsed=$(sed -n 's/^sanitize: swift test ran for \([0-9]*\)s$/\1/p' "$log" | tail -n 1)
# Swift Testing's and XCTest's own summaries: how many tests ran.
grep -E '^(✔|✘) Test run with|^Executed [0-9]+ tests?' "$log" | tail -n 2 >&2 || true

found=$(find "$reports" -type f | sort)
if [ -n "$found" ]; then
  status=1
  echo "sanitize: $sanitizer: $(echo "$found" | wc -l) process(es) wrote a sanitizer report:" >&2
  for f in $found; do
    echo "----- $f" >&2
    head -n 80 "$f" >&2
  done
fi
echo "sanitize: $sanitizer: ${elapsed}s, test status $([ $status -eq 0 ] && echo ok || echo FAILED), sanitizer reports in $reports, test log $log" >&2
exit $status
