#!/usr/bin/env bash
# Checks the source for shapes that this compiler gets wrong or that the
# project bans. scripts/test.sh runs it first, so CI fails on them.
#
# Swift 6.3.1 at -O miscompiles destructuring an optional tuple in a binding
# (`guard let (a, b) = f()`, `if let (…)`, `while let (…)`, `case let (…)?`):
# the values come back as garbage. It crashed recovery after kill -9 (issue
# 12). scripts/miscompile/optional-tuple.swift is the minimal program; this
# script says whether the compiler in use still has the bug. Bind the
# optional to a name, or return a named struct, instead.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0

pattern='((guard|if|while)[[:space:]]+|,[[:space:]]*)(let|var)[[:space:]]*\(|case[[:space:]]+(let|var)[[:space:]]*\([^)]*\)[[:space:]]*\?'
dirs=(); for d in Sources Tests Benchmarks Fuzz; do [ -d "$d" ] && dirs+=("$d"); done
if hits=$(grep -rnE "$pattern" --include='*.swift' "${dirs[@]}" | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//'); then
  echo "lint: optional-tuple destructuring, which Swift 6.3.1 miscompiles at -O (see scripts/lint.sh):" >&2
  echo "$hits" >&2
  status=1
fi

# No tracked file over 1 MB (profiler output and binaries stay out of git:
# see .gitignore).
if command -v git >/dev/null 2>&1 && git rev-parse --git-dir >/dev/null 2>&1; then
  big=$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk '$1 > 1048576')
  if [ -n "$big" ]; then
    echo "lint: tracked files over 1 MB:" >&2
    echo "$big" >&2
    status=1
  fi
fi

# Is the compiler in use still affected? (Informational: the ban stays until
# the project moves to a compiler that prints bad=0 here.)
if [ "${EDDY_LINT_COMPILER:-1}" = "1" ] && command -v swiftc >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  if swiftc -O scripts/miscompile/optional-tuple.swift -o "$tmp/optional-tuple" >/dev/null 2>&1; then
    echo "lint: $(swiftc --version 2>&1 | head -1): optional-tuple program at -O prints $("$tmp/optional-tuple")" >&2
  fi
  rm -rf "$tmp"
fi
exit $status
