#!/usr/bin/env bash
# `make help-check`, part of `make check`: every target declared in the Makefile's .PHONY has
# exactly one `## target: description` line, each such line names a declared target, and
# `make help` prints one line per target. Fast and offline: it only reads the Makefile.
set -euo pipefail
cd "$(dirname "$0")/.."
makefile=Makefile

# The targets as make reads them (-p: its database; -q: runs nothing). Flags of a calling
# make (-j, -n, ...) are not passed on.
phony=$(MAKEFLAGS='' make -pRrq -f "$makefile" : 2>/dev/null | sed -n 's/^\.PHONY: //p' |
  tr ' ' '\n' | sed '/^$/d' | sort -u) || true
if [ -z "$phony" ]; then
  echo "help-check: no .PHONY targets read from $makefile" >&2
  exit 1
fi

fail=0
# Every `## ` line is one whole entry: a continuation line would be dropped from the help.
while IFS= read -r line; do
  echo "help-check: not a one-line \`## target: description\` entry: $line" >&2
  fail=1
done < <(grep -n '^## ' "$makefile" | grep -Ev '^[0-9]+:## [a-z0-9-]+: .+' || true)

entries=$(sed -n 's/^## \([a-z0-9-]*\): .*/\1/p' "$makefile" | sort)
for target in $(uniq -d <<<"$entries"); do
  echo "help-check: more than one help line for $target" >&2
  fail=1
done
for target in $(comm -23 <(echo "$phony") <(uniq <<<"$entries")); do
  echo "help-check: $target is in .PHONY but has no \`## $target: ...\` line" >&2
  fail=1
done
for target in $(comm -13 <(echo "$phony") <(uniq <<<"$entries")); do
  echo "help-check: \`## $target: ...\` names no target in .PHONY" >&2
  fail=1
done

# What `make help` prints: one line per target, each starting with its name.
listed=$(MAKEFLAGS='' make --no-print-directory -s -f "$makefile" help | awk '{ print $1 }' | sort)
if [ "$listed" != "$phony" ]; then
  echo "help-check: \`make help\` does not print exactly one line per target:" >&2
  diff <(echo "$phony") <(echo "$listed") >&2 || true
  fail=1
fi

[ "$fail" -eq 0 ] || exit 1
echo "help-check: $(wc -l <<<"$phony") targets, one help line each"
