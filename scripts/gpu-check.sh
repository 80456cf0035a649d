#!/usr/bin/env bash
# Engine-only build and golden tests against PyTorch's own libtorch with CUDA
# (the GPU machine has PyTorch but none of Debian's -dev packages).
#   scripts/gpu-check.sh [BUILD_DIR]
set -euo pipefail
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
  VIGIL_TEST_DEVICE=cuda VIGIL_TEST_DTYPE=$dt "$B/tests/golden_test" 2>&1 | grep -E "FAILED|PASSED|actual|max abs" | head -16
done
