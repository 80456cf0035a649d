#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <map>

namespace vigil::engine {
namespace {

std::vector<float> Logits() { return {0.1f, 2.0f, 1.5f, -1.0f, 1.9f, 0.0f}; }

TEST(SamplerTest, SeededSamplingIsReproducible) {
  SamplingParams p;
  p.temperature = 1.0f;
  auto l = Logits();
  std::mt19937_64 a(7), b(7);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(SampleFromLogits(l.data(), 6, p, a), SampleFromLogits(l.data(), 6, p, b));
}

TEST(SamplerTest, TopKOneIsGreedy) {
  SamplingParams p;
  p.top_k = 1;
  auto l = Logits();
  std::mt19937_64 rng(1);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(SampleFromLogits(l.data(), 6, p, rng), 1);
}

TEST(SamplerTest, TopPKeepsTheSmallestSufficientSet) {
  SamplingParams p;
  p.top_p = 0.5f;  // token 1 alone has < 50%; with token 4 it reaches it
  auto l = Logits();
  std::mt19937_64 rng(3);
  std::map<int, int> seen;
  for (int i = 0; i < 2000; ++i) seen[SampleFromLogits(l.data(), 6, p, rng)]++;
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_GT(seen[1], 0);
  EXPECT_GT(seen[4], 0);
}

TEST(SamplerTest, FrequenciesFollowTheSoftmax) {
  SamplingParams p;
  std::vector<float> l = {0.0f, std::log(3.0f)};  // p = 0.25, 0.75
  std::mt19937_64 rng(11);
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += SampleFromLogits(l.data(), 2, p, rng);
  EXPECT_NEAR(ones / static_cast<double>(n), 0.75, 0.02);
}

TEST(SamplerTest, BatchedGreedyAndRandomRows) {
  auto t = torch::tensor(std::vector<float>{0, 5, 1, 9, 0, 0}).view({2, 3});
  SamplingParams greedy;
  greedy.temperature = 0;
  SamplingParams hot;
  hot.top_k = 1;
  std::mt19937_64 rng(0);
  auto out = SampleTokens(t, {{0, &greedy, &rng}, {1, &hot, &rng}});
  EXPECT_EQ(out, (std::vector<int32_t>{1, 0}));
}

}  // namespace
}  // namespace vigil::engine
