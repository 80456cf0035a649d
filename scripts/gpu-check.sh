#!/usr/bin/env bash
# Engine-only build and golden tests against PyTorch's own libtorch with CUDA
# (the GPU machine has PyTorch but none of Debian's -dev packages), then the
# engine's throughput at TinyLlama-1.1B's shape (random weights, bf16) beside
# HF transformers' generate() on the same shape, in the same run.
#   scripts/gpu-check.sh [BUILD_DIR]
# Each stage is bounded so the whole fits a 10-minute slot once built.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-gpu}
TD=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')/Torch
python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda)'
if [[ ! -f $B/build.ninja ]]; then
  cmake -S . -B "$B" -G Ninja -DTorch_DIR="$TD" -DVIGIL_ENGINE_ONLY=ON -DVIGIL_SPDLOG_STD_FORMAT=ON \
    -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
ninja -C "$B" >"$B.log" 2>&1 || { grep -E "error" "$B.log" | head -30; exit 1; }
for dt in float32 bfloat16 float16; do
  echo "== golden tests on cuda, $dt"
  VIGIL_TEST_DEVICE=cuda VIGIL_TEST_DTYPE=$dt timeout 120 "$B/tests/golden_test" 2>&1 |
    grep -E "FAILED|PASSED|actual|max abs" | head -16 || true
done

# The HuggingFace generate baseline, a copy kept in the project.
HF=bench/hf_generate_baseline.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== engine_bench --shape tinyllama-1.1b, bf16, 128 prompt + 128 output tokens"
timeout 240 "$B/bench/engine_bench" --shape tinyllama-1.1b --device cuda --dtype bfloat16 \
  --batches 1,8,32,64,128 --prompt-tokens 128 --output-tokens 128 --json | tee "$tmp/engine.txt" ||
  echo "engine_bench failed or timed out (rc $?)"
if [[ -f $HF ]]; then
  echo "== HF generate() baseline ($HF)"
  # Its last line is its JSON; OUT (when set) also gets hf_baseline.json.
  timeout 240 python3 "$HF" 2>&1 | tee "$tmp/hf.txt" || echo "HF baseline failed or timed out (rc $?)"
else
  echo "== HF generate() baseline: $HF not found; engine figures only"
  : >"$tmp/hf.txt"
fi
python3 - "$tmp/engine.txt" "$tmp/hf.txt" <<'PY'
import json, sys

def last_json(path, kind):
    for line in reversed(open(path).read().splitlines()):
        line = line.strip()
        if line.startswith(kind):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None

engine = {r["batch"]: r for r in (last_json(sys.argv[1], "[") or [])}
hf = last_json(sys.argv[2], "{") or {}
print("\n== output tokens/s, TinyLlama-1.1B shape, bf16, 128 prompt + 128 output tokens")
print("e2e: all output tokens over the whole batch, prefill included (as HF's timing); decode: decode steps only")
print(f"{'batch':>6} {'vigil e2e':>11} {'vigil decode':>13} {'HF generate':>12} {'vigil/HF':>9}")
for b in [1, 8, 32, 64, 128]:
    e = engine.get(b, {})
    h = hf.get(f"sdpa_bs{b}_out_tok_per_s")
    e2e, dec = e.get("e2e_output_tokens_per_s"), e.get("output_tokens_per_s")
    fmt = lambda v, w: f"{v:>{w}.1f}" if isinstance(v, (int, float)) else f"{'-':>{w}}"
    ratio = f"{e2e / h:>8.2f}x" if e2e and h else f"{'-':>9}"
    print(f"{b:>6} {fmt(e2e, 11)} {fmt(dec, 13)} {fmt(h, 12)} {ratio}")
if "d2d_copy_GBps_rw" in hf:
    print(f"device-to-device copy: {hf['d2d_copy_GBps_rw']} GB/s (read+write); HF model bytes {hf.get('model_bytes')}")
PY
