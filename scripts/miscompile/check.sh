#!/usr/bin/env bash
# Says whether the Swift compiler in use has the LoadableByAddress miscompile
# described in README.md next to this script (Swift 6.3.1: a tuple element
# taken out of an Optional's payload is copied into the return slot after the
# payload's stack slot was deallocated).
#
#   bash scripts/miscompile/check.sh          uses `swiftc` from PATH
#   SWIFTC=/path/to/swiftc bash scripts/miscompile/check.sh
#
# Exit status: 0 = not affected, 1 = affected, 2 = could not tell (the
# program did not build, or the -Onone control run was wrong).
#
# Two checks, because the bug is only visible at run time when LLVM happens to
# exploit it:
#   1. run time: optional-tuple.swift built at -O, -Osize and -Ounchecked must
#      print bad=0 (built at -Onone it must print bad=0 too, as a control);
#   2. SIL: in g(_:) as LoadableByAddress leaves it, no copy or load may read a
#      stack slot after its dealloc_stack. This catches the latent form (wrong
#      IR that LLVM did not exploit this time). It uses the hidden option
#      -sil-print-after; a compiler without it gets the run-time check only.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
program="$here/optional-tuple.swift"
swiftc=${SWIFTC:-swiftc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "compiler: $("$swiftc" --version 2>&1 | head -1)"

# build_and_run FLAGS... : prints the program's output, or "build failed".
build_and_run() {
  if "$swiftc" "$@" -module-name repro "$program" -o "$tmp/repro" >"$tmp/build.log" 2>&1; then
    "$tmp/repro" 2>&1 | tail -1
  else
    echo "build failed"
  fi
  rm -f "$tmp/repro"
}

control=$(build_and_run -Onone)
echo "  -Onone (control): $control"
if [ "$control" != "bad=0" ]; then
  echo "could not tell: the -Onone build should print bad=0" >&2
  sed -n 1,20p "$tmp/build.log" >&2
  exit 2
fi

affected=0
for flag in -O -Osize -Ounchecked; do
  out=$(build_and_run "$flag")
  echo "  $flag: $out"
  case "$out" in
    bad=0) ;;
    "build failed") echo "could not tell: the $flag build failed" >&2; sed -n 1,20p "$tmp/build.log" >&2; exit 2 ;;
    *) affected=1 ;;
  esac
done

# SIL check, on the program and on a copy whose S has 16 words: a compiler
# may move the size at which it keeps S in memory (-disable-aggressive-reg2mem
# does), and the bug with it. g(_:) in module `repro` is $s5repro1gyAA1SVSiF.
sed -e 's/var a, b, c, d, e, f, g, h: Int }/var a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q: Int }/' \
    -e 's/g: n, h: n)/g: n, h: n, i: n, j: n, k: n, l: n, m: n, o: n, p: n, q: n)/' \
    "$program" >"$tmp/wide.swift"
if ! grep -q 'q: n)' "$tmp/wide.swift"; then
  echo "could not tell: optional-tuple.swift no longer has the shape this script widens" >&2
  exit 2
fi

# sil_check FILE: prints the offending SIL lines, if any, then a last line
# "clean", "use after dealloc_stack" or "not available".
sil_check() {
  if ! "$swiftc" -O -module-name repro -c "$1" -o "$tmp/repro.o" \
       -Xllvm -sil-print-after=loadable-address \
       -Xllvm '-sil-print-function=$s5repro1gyAA1SVSiF' >"$tmp/sil.txt" 2>&1 \
     || ! grep -q '^sil .*\$s5repro1gyAA1SVSiF' "$tmp/sil.txt"; then
    echo "not available"
    return
  fi
  # Within each block: follow address projections back to their alloc_stack,
  # and flag a copy_addr/load whose source was deallocated earlier.
  awk '
    /^sil .*\$s5repro1gyAA1SVSiF/ { infn = 1 }
    !infn { next }
    /^} \/\/ end sil/ { infn = 0; next }
    /^bb[0-9]+/ { split("", dead) }
    function base(v) { while (v in parent) v = parent[v]; return v }
    function operand(s) { sub(/,.*/, "", s); return s }
    $2 == "=" && $3 ~ /^(tuple_element_addr|struct_element_addr|unchecked_take_enum_data_addr|unchecked_addr_cast|begin_access|index_addr)$/ {
      v = $4; if (v ~ /^\[/) v = $5
      parent[$1] = operand(v)
    }
    $1 == "dealloc_stack" { dead[base(operand($2))] = 1 }
    $1 == "copy_addr" || ($2 == "=" && $3 == "load") {
      for (i = 2; i <= NF; i++) if ($i ~ /^%/) { src = operand($i); break }
      if (base(src) in dead) { bad = 1; print "    " $0 }
    }
    END { print (bad ? "use after dealloc_stack" : "clean") }
  ' "$tmp/sil.txt"
}

sil_verdict=clean
for variant in "$program" "$tmp/wide.swift"; do
  name=$([ "$variant" = "$program" ] && echo "S of 8 words" || echo "S of 16 words")
  out=$(sil_check "$variant")
  verdict=$(printf '%s\n' "$out" | tail -1)
  echo "  SIL after LoadableByAddress at -O, $name: $verdict"
  printf '%s\n' "$out" | sed '$d'
  case "$verdict" in
    "use after dealloc_stack") sil_verdict=$verdict; affected=1 ;;
    "not available") [ "$sil_verdict" = clean ] && sil_verdict=$verdict ;;
  esac
done

if [ "$affected" = 1 ]; then
  echo "AFFECTED: this compiler has the optional-tuple miscompile (see scripts/miscompile/README.md)"
  exit 1
fi
echo "not affected: every run printed bad=0; SIL check: $sil_verdict"
exit 0
