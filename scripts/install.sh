#!/usr/bin/env bash
# Installs eddy as PREFIX/eddy (default /usr/local/bin):
#   bash scripts/install.sh [PREFIX]
# It installs dist/eddy, the self-contained binary of scripts/release.sh, when
# there is one; otherwise the development build .build/release/eddy, which
# needs the Swift toolchain at run time (fine on the build machine, not on an
# edge box: copy dist/eddy there). EDDY_BINARY names another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local/bin}
binary=${EDDY_BINARY:-}
if [ -z "$binary" ]; then
  if [ -x dist/eddy ]; then
    binary=dist/eddy
  elif [ -x .build/release/eddy ]; then
    binary=.build/release/eddy
    echo "install: dist/eddy not built (bash scripts/release.sh); installing .build/release/eddy, which needs /opt/swift at run time" >&2
  else
    echo "install: no eddy built; run bash scripts/release.sh (or swift build -c release --product eddy)" >&2
    exit 1
  fi
fi
[ -x "$binary" ] || { echo "install: $binary is not an executable" >&2; exit 1; }
mkdir -p "$prefix"
# install(1) writes a new file and renames it, so a running eddy keeps its binary.
install -m 0755 "$binary" "$prefix/eddy"
echo "install: $prefix/eddy: $("$prefix/eddy" --version | head -1)"
