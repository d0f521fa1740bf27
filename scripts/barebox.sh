#!/usr/bin/env bash
# Proves that dist/eddy runs on a box without Swift: in a private mount
# namespace (unshare -m, needs root) the Swift toolchain (/opt/swift) is
# hidden under an empty tmpfs, and /dev/null is mounted over the shared
# libraries a dynamic build would load (SQLite, liblz4, libstdc++, libgcc_s).
# There, with an empty environment, it runs `eddy --version`, `eddy check` and
# a replay job, and compares their output with what is expected:
#   --version   eddy's version and commit, the SQLite and LZ4 of Debian's -dev
#               packages it was linked with
#   check       the same plan the development build prints outside
#   replay      the job's golden output, samples/replay/JOB/expected.txt
# As a control, the development build must fail in the same namespace.
#   bash scripts/barebox.sh [BINARY]        (default dist/eddy)
# The control is .build/release/eddy, or .build/debug/eddy, or EDDY_DEV_BINARY.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-dist/eddy}
# The control and the reference for `check`: a dynamically linked build.
dev=${EDDY_DEV_BINARY:-.build/release/eddy}
[ -x "$dev" ] || dev=.build/debug/eddy
job=windowed_wordcount

[ -x "$binary" ] || { echo "barebox: $binary not found; run bash scripts/release.sh first" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "barebox: unshare -m needs root" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$binary" "$work/eddy"
cp "sql/$job.sql" "$work/job.sql"
cp -r "samples/replay/$job" "$work/replay"

# What the run must print, worked out outside the namespace.
version_pattern="^eddy [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]{12}(-dirty)?\)
SQLite $(pkg-config --modversion sqlite3)
LZ4 $(pkg-config --modversion liblz4)\$"
if [ -x "$dev" ]; then
  (cd "$work" && "$OLDPWD/$dev" check job.sql > expected-check.txt)
else
  echo "barebox: $dev not built; comparing check output with the release binary's own outside" >&2
  (cd "$work" && ./eddy check job.sql > expected-check.txt)
fi
[ -x "$dev" ] && cp "$dev" "$work/eddy-dev"

hide=(/opt/swift)
for lib in libsqlite3.so.0 liblz4.so.1 libstdc++.so.6 libgcc_s.so.1; do
  for dir in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib /lib; do
    [ -e "$dir/$lib" ] && hide+=("$(readlink -f "$dir/$lib")")
  done
done
# /lib is /usr/lib on a merged-/usr system: each file once.
mapfile -t hide < <(printf '%s\n' "${hide[@]}" | awk '!seen[$0]++')

# The inner script runs in the namespace; every mount vanishes with it.
cat > "$work/inside.sh" <<'EOF'
set -u
cd "$1"; shift
mount -t tmpfs none /opt/swift
for f in "$@"; do [ "$f" = /opt/swift ] || mount --bind /dev/null "$f"; done
status=0
check() { if [ "$2" = ok ]; then echo "barebox: ok    $1"; else echo "barebox: FAIL  $1"; status=1; fi; }
[ -z "$(ls -A /opt/swift)" ] && check "/opt/swift is empty" ok || check "/opt/swift is empty" fail

if [ -x ./eddy-dev ]; then
  env -i PATH=/usr/bin:/bin ./eddy-dev --version > dev.out 2> dev.err
  code=$?
  [ $code -ne 0 ] && check "control: the development build cannot start here (exit $code: $(head -c 120 dev.err))" ok \
                  || check "control: the development build cannot start here (it did)" fail
fi

env -i PATH=/usr/bin:/bin ./eddy --version > version.txt 2> version.err; code=$?
cat version.txt | sed 's/^/  | /'
[ $code -eq 0 ] && grep -Ezq "$VERSION_PATTERN" version.txt && check "eddy --version" ok || check "eddy --version (exit $code, $(cat version.err))" fail

env -i PATH=/usr/bin:/bin ./eddy check job.sql > check.txt 2> check.err; code=$?
[ $code -eq 0 ] && cmp -s check.txt expected-check.txt && check "eddy check job.sql: $(wc -l < check.txt) lines as expected" ok \
  || { check "eddy check job.sql (exit $code)" fail; diff expected-check.txt check.txt | head -20; cat check.err; }

env -i PATH=/usr/bin:/bin ./eddy run job.sql --replay replay --quiet > replay.txt 2> replay.err; code=$?
[ $code -eq 0 ] && cmp -s replay.txt replay/expected.txt && check "eddy run job.sql --replay: $(grep -c '^--- batch' replay.txt) batches as expected.txt" ok \
  || { check "eddy run --replay (exit $code)" fail; diff replay/expected.txt replay.txt | head -20; cat replay.err; }
exit $status
EOF

echo "barebox: $binary ($(du -m "$binary" | cut -f1) MB); ldd:"
ldd "$binary" | sed 's/^/  /'
echo "barebox: needs glibc $(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | cut -d_ -f2 | sort -V | tail -1) or newer"
echo "barebox: hidden: ${hide[*]}"
VERSION_PATTERN="$version_pattern" unshare -m --propagation private bash "$work/inside.sh" "$work" "${hide[@]}"
