#!/usr/bin/env bash
# Builds dist/eddy, the one file to copy to a box without Swift: the Swift
# runtime (--static-swift-stdlib), libstdc++, libgcc, SQLite and liblz4 are
# linked in statically and the result is stripped, so it needs only glibc
# (`ldd dist/eddy` lists libc, libm and the loader). Foundation stays out: the
# sources use FoundationEssentials, so no ICU data is linked in.
#
# The build goes to its own scratch path (.build-release-static), so the
# normal dynamic `swift build` that the tests use is untouched. The commit is
# baked in: `dist/eddy --version` names it.
set -euo pipefail
cd "$(dirname "$0")/.."
EDDY_SKIP_PYTHON=1 bash scripts/setup.sh

scratch=.build-release-static
libs="$PWD/$scratch/static-libs"
multiarch=$(gcc -print-multiarch)
mkdir -p "$libs" dist

# The linker takes the first directory on its -L path that has a library, and
# prefers a .so there; this directory holds only .a files and comes first (a
# -L given to swiftc goes before clang's own system directories; one given
# with -Xlinker would come after them), so -lsqlite3, -llz4 and -lstdc++ (from
# Swift's static-stdlib link arguments) resolve to Debian's static archives.
#
# --no-export-dynamic undoes the -export-dynamic of Swift's static-stdlib
# link arguments: nothing loads eddy's symbols at run time, and exporting all
# of them kept --gc-sections from dropping unused code (and a table of every
# symbol's name, about a tenth of the file). --icf=safe folds identical
# functions whose address is never taken (generic specializations, mostly).
#
# -Osize (which comes after -c release's -O, so it wins) brings the file from
# 32.8 MB to 31.1 MB (29.7 MiB): under issue 15's 30 MB. Its cost, measured
# on a 1.5M-line replayed word count on one lane, alternating binaries: 13.0-14.6 s
# against 12.9-14.0 s at -O, 1-4% slower; most of a batch's time is SQLite,
# which is C and not affected. The tests' `.build/release/eddy` stays at -O.
link_static() {
  local name=$1 path=$2
  [ -f "$path" ] || { echo "release: $path not found (package: $3)" >&2; exit 1; }
  ln -sf "$path" "$libs/$name"
}
link_static libsqlite3.a "/usr/lib/$multiarch/libsqlite3.a" libsqlite3-dev
link_static liblz4.a "/usr/lib/$multiarch/liblz4.a" liblz4-dev
link_static libstdc++.a "$(gcc -print-file-name=libstdc++.a)" "libstdc++-12-dev"
# Something on the link line asks for -lz; from here it is the static zlib,
# of which the linker takes only what is called (nothing, today).
link_static libz.a "/usr/lib/$multiarch/libz.a" zlib1g-dev

# SwiftPM puts the -L of a system library's pkg-config file (CSQLite, CLZ4)
# first on the link line, so the .pc files it reads here say libdir is that
# directory; everything else in them is Debian's own.
pcdir="$PWD/$scratch/pkgconfig"
mkdir -p "$pcdir"
for pc in sqlite3 liblz4; do
  src=$(pkg-config --variable=pcfiledir "$pc")/$pc.pc
  # Libs.private's -lz is for a shared libsqlite3; the static one calls no zlib.
  sed -e "s|^libdir=.*|libdir=$libs|" -e "/^Libs.private:/s/ -lz//" "$src" > "$pcdir/$pc.pc"
done
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo "unknown")
if [ "$commit" != "unknown" ] && ! git diff --quiet HEAD -- 2>/dev/null; then
  commit="$commit-dirty"
fi
stamp=Sources/eddy/ReleaseStamp.generated.swift
trap 'rm -f "$stamp"' EXIT
cat > "$stamp" <<EOF
// Written by scripts/release.sh for one build, then removed; not in git.
#if EDDY_RELEASE_STAMP
enum ReleaseStamp {
    static let commit: String? = "$commit"
}
#endif
EOF

swift build -c release --product eddy --scratch-path "$scratch" \
  --static-swift-stdlib \
  -Xswiftc -DEDDY_RELEASE_STAMP \
  -Xswiftc "-L$libs" \
  -Xswiftc -Xclang-linker -Xswiftc -static-libgcc \
  -Xlinker --no-export-dynamic \
  -Xswiftc -Osize \
  -Xlinker --icf=safe
rm -f "$stamp"

strip -o dist/eddy.tmp "$scratch/release/eddy"
mv dist/eddy.tmp dist/eddy

echo "release: dist/eddy, $(du -m dist/eddy | cut -f1) MB, commit $commit" >&2
echo "release: needs glibc $(objdump -T dist/eddy | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -1 | cut -d_ -f2) or newer; ldd:" >&2
ldd dist/eddy >&2
