#include <algorithm>
#include <cmath>

#include "detectors/detectors.h"

namespace vigil::detectors {

namespace {
double Median(std::vector<double> v) {
  const size_t n = v.size();
  std::nth_element(v.begin(), v.begin() + n / 2, v.end());
  double hi = v[n / 2];
  if (n % 2 == 1) return hi;
  return (hi + *std::max_element(v.begin(), v.begin() + n / 2)) / 2;
}
}  // namespace

std::optional<double> RobustZScoreDetector::Observe(double x, double* median, double* scale) {
  const size_t k = std::max<size_t>(5, cfg_.window / 10);
  std::optional<double> z;
  double resid = 0;
  bool have_baseline = values_.size() >= std::min(k, cfg_.min_samples);
  if (have_baseline) {
    const double base = Median(std::vector<double>(values_.begin(), values_.end()));
    resid = x - base;
    if (residuals_.size() >= cfg_.min_samples) {
      std::vector<double> dev(residuals_.begin(), residuals_.end());
      const double rmed = Median(dev);
      double mean_abs = 0;
      for (double& d : dev) {
        d = std::fabs(d - rmed);
        mean_abs += d;
      }
      mean_abs /= static_cast<double>(dev.size());
      // A mostly-flat history has MAD 0: the mean absolute deviation stands in.
      double s = 1.4826 * Median(dev);
      if (s <= 0) s = 1.2533 * mean_abs;
      if (median) *median = base;
      if (scale) *scale = s;
      if (s > 0) z = (resid - rmed) / s;
    }
  }
  values_.push_back(x);
  if (values_.size() > k) values_.pop_front();
  if (have_baseline) {
    residuals_.push_back(resid);
    if (residuals_.size() > cfg_.window) residuals_.pop_front();
  }
  return z;
}

bool RobustZScoreDetector::Flags(double z) const {
  switch (cfg_.direction) {
    case Direction::kHigh: return z > cfg_.threshold;
    case Direction::kLow: return z < -cfg_.threshold;
    case Direction::kBoth: return std::fabs(z) > cfg_.threshold;
  }
  return false;
}

}  // namespace vigil::detectors
