#include "detectors/rolling.h"

#include <algorithm>

namespace vigil::detectors {

void RollingStats::Add(double x) {
  if (ring_.empty()) ring_.resize(window_);
  if (size_ == 0) shift_ = x;
  if (size_ == window_) {  // the oldest leaves
    const double o = ring_[head_] - shift_;
    s1_ -= o;
    s2_ -= o * o;
    --size_;
  }
  ring_[head_] = x;
  head_ = (head_ + 1) % window_;
  ++size_;
  const double d = x - shift_;
  s1_ += d;
  s2_ += d * d;
  if (++since_rebuild_ >= window_) Rebuild();
}

void RollingStats::Rebuild() {
  since_rebuild_ = 0;
  const size_t first = (head_ + window_ - size_) % window_;
  shift_ = size_ ? ring_[first] : 0;
  s1_ = s2_ = 0;
  for (size_t i = 0; i < size_; ++i) {
    const double d = ring_[(first + i) % window_] - shift_;
    s1_ += d;
    s2_ += d * d;
  }
}

double RollingStats::Mean() const { return size_ == 0 ? 0 : shift_ + s1_ / static_cast<double>(size_); }

double RollingStats::Std() const {
  if (size_ == 0) return 0;
  const double n = static_cast<double>(size_);
  const double m = s1_ / n;
  const double var = s2_ / n - m * m;
  // Relative to the values' own scale, a variance this small is rounding.
  return var <= 1e-12 * (s2_ / n + 1e-300) ? 0.0 : std::sqrt(var);
}

void RollingPearson::Add(double x, double y) {
  if (xs_.empty()) {
    shx_ = x;
    shy_ = y;
  }
  xs_.push_back(x);
  ys_.push_back(y);
  const double dx = x - shx_, dy = y - shy_;
  sx_ += dx;
  sy_ += dy;
  sxx_ += dx * dx;
  syy_ += dy * dy;
  sxy_ += dx * dy;
  if (xs_.size() > window_) {
    const double ox = xs_.front() - shx_, oy = ys_.front() - shy_;
    xs_.pop_front();
    ys_.pop_front();
    sx_ -= ox;
    sy_ -= oy;
    sxx_ -= ox * ox;
    syy_ -= oy * oy;
    sxy_ -= ox * oy;
  }
  if (++since_rebuild_ >= window_) Rebuild();
}

void RollingPearson::Rebuild() {
  since_rebuild_ = 0;
  shx_ = xs_.empty() ? 0 : xs_.front();
  shy_ = ys_.empty() ? 0 : ys_.front();
  sx_ = sy_ = sxx_ = syy_ = sxy_ = 0;
  for (size_t i = 0; i < xs_.size(); ++i) {
    const double dx = xs_[i] - shx_, dy = ys_[i] - shy_;
    sx_ += dx;
    sy_ += dy;
    sxx_ += dx * dx;
    syy_ += dy * dy;
    sxy_ += dx * dy;
  }
}

bool RollingPearson::R(double* r) const {
  const double n = static_cast<double>(xs_.size());
  if (n < 3) return false;
  const double vx = sxx_ / n - (sx_ / n) * (sx_ / n);
  const double vy = syy_ / n - (sy_ / n) * (sy_ / n);
  if (vx <= 1e-12 * (sxx_ / n + 1e-300) || vy <= 1e-12 * (syy_ / n + 1e-300)) return false;
  const double cov = sxy_ / n - (sx_ / n) * (sy_ / n);
  *r = std::clamp(cov / std::sqrt(vx * vy), -1.0, 1.0);
  return true;
}

}  // namespace vigil::detectors
