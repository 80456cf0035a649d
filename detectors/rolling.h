// Streaming statistics over the last N points in O(1) amortized per point.
// Sums are kept relative to a shift (the window's first value when last
// rebuilt) and rebuilt exactly every N points, so rounding error never
// accumulates over days of data and a flat window has exactly zero spread.
#pragma once

#include <cmath>
#include <cstddef>
#include <deque>
#include <vector>

namespace vigil::detectors {

class RollingStats {
 public:
  explicit RollingStats(size_t window) : window_(window < 2 ? 2 : window) {}

  void Add(double x);
  size_t size() const { return size_; }
  size_t window() const { return window_; }
  double Mean() const;
  double Std() const;  // population std (numpy's default, ddof=0)

 private:
  void Rebuild();
  size_t window_;
  std::vector<double> ring_;  // contiguous: 10,000 detectors stay cache-friendly
  size_t head_ = 0, size_ = 0;
  double shift_ = 0, s1_ = 0, s2_ = 0;
  size_t since_rebuild_ = 0;
};

class RollingPearson {
 public:
  explicit RollingPearson(size_t window) : window_(window < 2 ? 2 : window) {}
  void Add(double x, double y);
  size_t size() const { return xs_.size(); }
  // Pearson r of the window; false when either side is flat or too few points.
  bool R(double* r) const;

 private:
  void Rebuild();
  size_t window_;
  std::deque<double> xs_, ys_;
  double sx_ = 0, sy_ = 0, sxx_ = 0, syy_ = 0, sxy_ = 0, shx_ = 0, shy_ = 0;
  size_t since_rebuild_ = 0;
};

}  // namespace vigil::detectors
