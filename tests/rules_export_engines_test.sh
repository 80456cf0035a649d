#!/bin/sh
# `vigilctl rules export --engine E` for each engine a fleet scrapes itself:
# the default pack exports under that engine's own names, promtool accepts
# it, and EngineStalled (requests running while the engine's progress
# counters stay flat for the window) passes its promtool unit test
# (tests/data/rules_export/engine_stalled_E.yml): quiet while the engine
# steps, firing once it has not for the window, quiet when idle.
set -e
vigilctl="$1"
src="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for e in vllm sglang tgi llamacpp trtllm triton; do
  "$vigilctl" rules export --format prometheus --engine "$e" -o "$tmp/exported.yml" \
    "$src/etc/rules/pathologies.yaml" "$src/etc/rules/classic.yaml"
  promtool check rules "$tmp/exported.yml" > /dev/null
  grep -q '^      - alert: "EngineStalled"' "$tmp/exported.yml"
  grep -q "^      - alert: \"KVCacheNearFull\"" "$tmp/exported.yml" || test "$e" = tgi
  cp "$src/tests/data/rules_export/engine_stalled_$e.yml" "$tmp/test.yml"
  (cd "$tmp" && promtool test rules test.yml)
  echo "$e: $(grep -c '^      - alert:' "$tmp/exported.yml") rules exported, EngineStalled tested"
done
# Where evictions exist (vLLM preemptions, SGLang retractions), thrashing exports too.
"$vigilctl" rules export --format prometheus --engine vllm "$src/etc/rules/pathologies.yaml" | grep -q 'alert: "KVCacheThrashing"'
"$vigilctl" rules export --format prometheus --engine sglang "$src/etc/rules/pathologies.yaml" | grep -q 'alert: "KVCacheThrashing"'
# An engine it does not know is refused.
if "$vigilctl" rules export --format prometheus --engine nope "$src/etc/rules/pathologies.yaml" 2>/dev/null; then exit 1; fi
