#!/bin/sh
# The default pack exported as Prometheus rules passes promtool check rules,
# and keeps every rule that has a /metrics equivalent.
set -e
vigilctl="$1"; shift
out=$(mktemp --suffix=.yaml)
trap 'rm -f "$out"' EXIT
"$vigilctl" rules export --format prometheus "$@" > "$out"
promtool check rules "$out"
n=$(grep -c '^      - alert:' "$out")
echo "exported $n rules"
test "$n" -ge 10
grep -q 'KVBlocksLeaking skipped: trend_r2() reads the trend detector' "$out"
