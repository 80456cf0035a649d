// Token sampling: greedy rows by argmax on the model's device; random rows on
// the host with a per-request generator, so a seed gives the same tokens on
// any device and libtorch version.
#pragma once

#include <torch/torch.h>

#include <random>
#include <vector>

#include "engine/engine.h"

namespace vigil::engine {

struct SampleRow {
  int64_t logits_row;  // row in the logits tensor
  const SamplingParams* params;
  std::mt19937_64* rng;
};

// logits: float32 [N, vocab]. Returns one token per row of `rows`.
std::vector<int32_t> SampleTokens(const torch::Tensor& logits, const std::vector<SampleRow>& rows);

// Samples from one row of float logits (temperature > 0, top-k, top-p).
int32_t SampleFromLogits(const float* logits, int64_t vocab, const SamplingParams& params, std::mt19937_64& rng);

}  // namespace vigil::engine
