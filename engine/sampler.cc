#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace vigil::engine {

int32_t SampleFromLogits(const float* logits, int64_t vocab, const SamplingParams& p, std::mt19937_64& rng) {
  const float inv_t = 1.0f / p.temperature;
  std::vector<float> x(logits, logits + vocab);
  for (float& v : x) v = std::isnan(v) ? -INFINITY : v * inv_t;
  float cutoff = -INFINITY;
  if (p.top_k > 0 && p.top_k < vocab) {
    std::vector<float> tmp(x);
    std::nth_element(tmp.begin(), tmp.begin() + (p.top_k - 1), tmp.end(), std::greater<float>());
    cutoff = tmp[p.top_k - 1];
  }
  const float mx = *std::max_element(x.begin(), x.end());
  double sum = 0;
  std::vector<double> prob(vocab);
  for (int64_t i = 0; i < vocab; ++i) {
    prob[i] = (x[i] >= cutoff && x[i] > -INFINITY) ? std::exp(static_cast<double>(x[i] - mx)) : 0.0;
    sum += prob[i];
  }
  if (!(sum > 0)) return static_cast<int32_t>(std::max_element(x.begin(), x.end()) - x.begin());
  if (p.top_p < 1.0f) {
    // Keep the smallest set of most likely tokens whose mass reaches top_p.
    std::vector<int32_t> idx;
    idx.reserve(vocab);
    for (int64_t i = 0; i < vocab; ++i)
      if (prob[i] > 0) idx.push_back(static_cast<int32_t>(i));
    std::sort(idx.begin(), idx.end(),
              [&](int32_t a, int32_t b) { return prob[a] > prob[b] || (prob[a] == prob[b] && a < b); });
    double acc = 0, kept = 0;
    size_t keep = 0;
    for (; keep < idx.size(); ++keep) {
      acc += prob[idx[keep]] / sum;
      kept += prob[idx[keep]];
      if (acc >= p.top_p) {
        ++keep;
        break;
      }
    }
    for (size_t j = keep; j < idx.size(); ++j) prob[idx[j]] = 0;
    sum = kept;
  }
  const double u = static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0) * sum;
  double acc = 0;
  int64_t last = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    if (prob[i] <= 0) continue;
    acc += prob[i];
    last = i;
    if (u < acc) return static_cast<int32_t>(i);
  }
  return static_cast<int32_t>(last);
}

std::vector<int32_t> SampleTokens(const torch::Tensor& logits, const std::vector<SampleRow>& rows) {
  std::vector<int32_t> out(rows.size(), 0);
  std::vector<int64_t> greedy_rows, greedy_pos, random_rows, random_pos;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].params->temperature <= 0) {
      greedy_rows.push_back(rows[i].logits_row);
      greedy_pos.push_back(static_cast<int64_t>(i));
    } else {
      random_rows.push_back(rows[i].logits_row);
      random_pos.push_back(static_cast<int64_t>(i));
    }
  }
  auto index = [&](const std::vector<int64_t>& r) { return torch::tensor(r, torch::kInt64).to(logits.device()); };
  if (!greedy_rows.empty()) {
    auto ids = logits.index_select(0, index(greedy_rows)).argmax(-1).to(torch::kCPU).contiguous();
    const int64_t* p = ids.data_ptr<int64_t>();
    for (size_t j = 0; j < greedy_pos.size(); ++j) out[greedy_pos[j]] = static_cast<int32_t>(p[j]);
  }
  if (!random_rows.empty()) {
    auto host = logits.index_select(0, index(random_rows)).to(torch::kCPU).contiguous();
    const int64_t vocab = host.size(1);
    const float* base = host.data_ptr<float>();
    for (size_t j = 0; j < random_pos.size(); ++j) {
      const SampleRow& r = rows[random_pos[j]];
      out[random_pos[j]] = SampleFromLogits(base + j * vocab, vocab, *r.params, *r.rng);
    }
  }
  return out;
}

}  // namespace vigil::engine
