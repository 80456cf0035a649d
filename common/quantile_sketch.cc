#include "common/quantile_sketch.h"

#include <cmath>

namespace vigil {

QuantileSketch::QuantileSketch(double alpha, double min_value)
    : alpha_(alpha), gamma_((1 + alpha) / (1 - alpha)), log_gamma_(std::log(gamma_)), min_value_(min_value) {}

int QuantileSketch::Index(double v) const { return static_cast<int>(std::ceil(std::log(v) / log_gamma_)); }

// The point of bucket i that is within alpha of everything in it.
double QuantileSketch::Value(int i) const { return 2 * std::pow(gamma_, i) / (gamma_ + 1); }

void QuantileSketch::Add(double v, uint64_t n) {
  if (!(v == v) || n == 0) return;  // NaN
  if (v <= min_value_) zeros_ += n;
  else buckets_[Index(v)] += n;
  count_ += n;
  sum_ += v * static_cast<double>(n);
}

void QuantileSketch::Merge(const QuantileSketch& o) {
  for (const auto& kv : o.buckets_) buckets_[kv.first] += kv.second;
  zeros_ += o.zeros_;
  count_ += o.count_;
  sum_ += o.sum_;
}

QuantileSketch QuantileSketch::Since(const QuantileSketch& older) const {
  QuantileSketch d(alpha_, min_value_);
  for (const auto& kv : buckets_) {
    auto it = older.buckets_.find(kv.first);
    const uint64_t before = it == older.buckets_.end() ? 0 : it->second;
    if (kv.second > before) d.buckets_[kv.first] = kv.second - before;
  }
  d.zeros_ = zeros_ > older.zeros_ ? zeros_ - older.zeros_ : 0;
  d.count_ = count_ > older.count_ ? count_ - older.count_ : 0;
  d.sum_ = sum_ - older.sum_;
  return d;
}

void QuantileSketch::Clear() {
  buckets_.clear();
  zeros_ = count_ = 0;
  sum_ = 0;
}

double QuantileSketch::Quantile(double q) const {
  if (count_ == 0) return 0;
  q = q < 0 ? 0 : (q > 1 ? 1 : q);
  // Rank as numpy's "lower" interpolation: the value at floor(q * (n - 1)).
  const uint64_t rank = static_cast<uint64_t>(std::floor(q * static_cast<double>(count_ - 1)));
  uint64_t seen = zeros_;
  if (rank < seen) return 0;
  for (const auto& kv : buckets_) {
    seen += kv.second;
    if (rank < seen) return Value(kv.first);
  }
  return Value(buckets_.rbegin()->first);
}

}  // namespace vigil
