#!/bin/sh
# The default pack exported as Prometheus rules passes promtool check rules,
# and keeps every rule that has a /metrics equivalent: the detector rules
# too, through vigild's vigil_signal_* gauges, and EngineStalled through
# vigild's stall clock. Only the watch-mode rules are skipped (Prometheus
# has `up` for those).
set -e
vigilctl="$1"; shift
out=$(mktemp --suffix=.yaml)
trap 'rm -f "$out"' EXIT
"$vigilctl" rules export --format prometheus "$@" > "$out"
promtool check rules "$out"
n=$(grep -c '^      - alert:' "$out")
echo "exported $n rules"
test "$n" -ge 17
grep -q 'vigil_engine_stalled_seconds) > max without (model_name) (vigil_engine_stall_timeout_seconds)' "$out"
grep -q 'vigil_signal_trend_r2{signal=\\"kv_blocks_used\\"}' "$out"
grep -q 'vigil_signal_correlation{signal_a=\\"kv_cache_usage\\",signal_b=\\"ttft_p95\\"}' "$out"
grep -q 'max_over_time((max without (gpu, UUID) (vigil_gpu_throttled))\[60s:\])' "$out"
grep -q 'or vector(0))' "$out"   # a set operator with a number, in GPUHardwareErrors' description
if grep -q 'KVBlocksLeaking skipped\|MemoryClimbing skipped\|KVPressureDrivesLatency skipped\|GPUThrottled skipped\|GPUHardwareErrors skipped' "$out"; then exit 1; fi
