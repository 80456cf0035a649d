#include "common/quantile_sketch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace vigil {
namespace {

double Exact(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(std::floor(q * static_cast<double>(v.size() - 1)))];
}

TEST(QuantileSketchTest, WithinOnePercentOfExactOnSkewedData) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> lat(-3.0, 1.2);  // latency-like: long tail
  std::vector<double> v;
  QuantileSketch s;
  for (int i = 0; i < 200000; ++i) {
    double x = lat(rng);
    v.push_back(x);
    s.Add(x);
  }
  for (double q : {0.01, 0.5, 0.9, 0.95, 0.99, 0.999}) {
    const double want = Exact(v, q);
    EXPECT_NEAR(s.Quantile(q), want, want * 0.01) << "q=" << q;
  }
  EXPECT_EQ(s.count(), 200000u);
  EXPECT_LT(s.num_buckets(), 3000u);  // memory bounded by range, not count
}

TEST(QuantileSketchTest, DifferenceOfSnapshotsIsTheInterval) {
  QuantileSketch cum;
  for (int i = 1; i <= 100; ++i) cum.Add(i * 0.01);
  QuantileSketch before = cum;
  std::vector<double> later;
  for (int i = 0; i < 50; ++i) {
    cum.Add(5.0 + i);
    later.push_back(5.0 + i);
  }
  QuantileSketch d = cum.Since(before);
  EXPECT_EQ(d.count(), 50u);
  EXPECT_NEAR(d.Quantile(0.5), Exact(later, 0.5), Exact(later, 0.5) * 0.01);
  QuantileSketch merged = before;
  merged.Merge(d);
  EXPECT_EQ(merged.count(), cum.count());
  EXPECT_DOUBLE_EQ(merged.Quantile(0.9), cum.Quantile(0.9));
}

TEST(QuantileSketchTest, ZerosAndEmpty) {
  QuantileSketch s;
  EXPECT_EQ(s.Quantile(0.5), 0);
  s.Add(0);
  s.Add(0);
  s.Add(1);
  EXPECT_EQ(s.Quantile(0.5), 0);
  EXPECT_NEAR(s.Quantile(1.0), 1.0, 0.01);
}

}  // namespace
}  // namespace vigil
