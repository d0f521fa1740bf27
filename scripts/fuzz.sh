#!/usr/bin/env bash
# libFuzzer targets for eddy's parsers (Fuzz/, README "Fuzzing").
#
#   bash scripts/fuzz.sh list                     the targets
#   bash scripts/fuzz.sh TARGET [SECONDS] [ARGS]  build TARGET, fuzz it SECONDS (default 600)
#   bash scripts/fuzz.sh repro TARGET FILE...     run TARGET once on each FILE (a crash, a seed)
#
# Targets are built at -O (the configuration users run) with libFuzzer and
# AddressSanitizer, into .build-fuzz (git-ignored), only when EDDY_FUZZ=1 puts
# them in the package. The run starts from the committed seeds in
# Fuzz/corpus/TARGET and keeps what it learns in .build-fuzz/fuzz/corpus/TARGET;
# crashes, hangs and out-of-memory inputs go to .build-fuzz/fuzz/findings/TARGET,
# the full log to .build-fuzz/fuzz/logs. ARGS go to libFuzzer (for instance
# -fork=1 -ignore_crashes=1 to go on past a crash and collect them all).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(job records wal checkpoint kpl kinesis-json)
scratch=.build-fuzz

usage() { echo "usage: $0 list | TARGET [SECONDS] [libFuzzer args] | repro TARGET FILE..." >&2; exit 2; }
known() { local t; for t in "${targets[@]}"; do [ "$t" = "$1" ] && return 0; done; echo "$0: unknown target '$1' (targets: ${targets[*]})" >&2; exit 2; }

build() {
  # EDDY_FUZZ_NO_BUILD=1 runs what .build-fuzz already holds.
  [ "${EDDY_FUZZ_NO_BUILD:-0}" = "1" ] && [ -x "$scratch/release/fuzz-$1" ] && return 0
  # Builds share one lock on this machine (see the helper notes).
  EDDY_FUZZ=1 flock /tmp/eddy-build.lock swift build -c release --scratch-path "$scratch" --product "fuzz-$1" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -use-ld=lld >&2
}

# Where targets write the files they read back (a log segment, a checkpoint):
# in memory when /dev/shm is there, so fsyncs cost nothing.
workdir() { if [ -d /dev/shm ] && [ -w /dev/shm ]; then echo "/dev/shm/eddy-fuzz-$1-$$"; else echo "$PWD/$scratch/work/$1"; fi; }

# libFuzzer and ASan report crashes themselves; Swift's backtracer would also
# catch the signal and hold the terminal for its own report.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}

[ $# -ge 1 ] || usage
case "$1" in
  list) printf '%s\n' "${targets[@]}"; exit 0 ;;
  repro)
    [ $# -ge 3 ] || usage
    known "$2"; build "$2"
    target=$2; shift 2
    export EDDY_FUZZ_WORKDIR="$(workdir "$target")"
    status=0
    "$scratch/release/fuzz-$target" -runs=1 "$@" || status=$?
    rm -rf "$EDDY_FUZZ_WORKDIR"
    exit $status ;;
esac

target=$1; known "$target"; shift
seconds=${1:-600}; [ $# -ge 1 ] && shift
[[ "$seconds" =~ ^[0-9]+$ ]] || usage
build "$target"

# Not $scratch/artifacts: SwiftPM keeps binary artifacts there and empties it.
corpus="$scratch/fuzz/corpus/$target"
artifacts="$scratch/fuzz/findings/$target"
mkdir -p "$corpus" "$artifacts" "$scratch/fuzz/logs"
export EDDY_FUZZ_WORKDIR="$(workdir "$target")"
log="$scratch/fuzz/logs/$target-$(date +%Y%m%d-%H%M%S).log"
dict=(); [ -f "Fuzz/dict/$target.dict" ] && dict=(-dict="Fuzz/dict/$target.dict")

status=0
nice -n 19 "$scratch/release/fuzz-$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$@" "$corpus" "Fuzz/corpus/$target" \
  2>&1 | tee "$log" || status=$?
rm -rf "$EDDY_FUZZ_WORKDIR"

# One line for the README table: time, executions, executions/s, coverage.
execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
[ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
findings=$(find "$artifacts" -type f | wc -l)
echo "fuzz $target: ${seconds}s, ${execs:-?} executions, $(( ${execs:-0} / (seconds > 0 ? seconds : 1) ))/s, ${cov:-cov: ?}, $findings file(s) in $artifacts; log $log"
exit $status
