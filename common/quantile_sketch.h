// A DDSketch-style quantile sketch: values land in logarithmic buckets
// gamma^(i-1) < v <= gamma^i, so any quantile comes back within `alpha`
// relative error, in memory that depends on the value range, not the count.
// Bucket counts only grow, so two cumulative snapshots subtract to the exact
// sketch of what happened between them, and sketches of consecutive
// intervals merge by adding counts (the monitor builds sliding windows so).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

namespace vigil {

class QuantileSketch {
 public:
  // alpha: relative accuracy (0.005 = 0.5%); values <= min_value count as zero.
  explicit QuantileSketch(double alpha = 0.005, double min_value = 1e-9);

  void Add(double v, uint64_t n = 1);
  void Merge(const QuantileSketch& other);
  // this - older, where `older` is an earlier snapshot of the same sketch.
  QuantileSketch Since(const QuantileSketch& older) const;
  void Clear();

  // The q-quantile (0..1) of what was added; 0 when empty.
  double Quantile(double q) const;
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  size_t num_buckets() const { return buckets_.size(); }

 private:
  int Index(double v) const;
  double Value(int index) const;

  double alpha_, gamma_, log_gamma_, min_value_;
  std::map<int, uint64_t> buckets_;
  uint64_t zeros_ = 0;
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace vigil
