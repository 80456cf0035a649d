#include "detectors/novelty.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vigil::detectors {

NoveltyDetector::NoveltyDetector(NoveltyConfig cfg) : cfg_(cfg) {
  for (int& k : cfg_.chunks) window_ += static_cast<size_t>(k = std::max(k, 1));
  cfg_.warmup = std::max(cfg_.warmup, 2 * static_cast<int>(window_));
  cfg_.memory = std::max(cfg_.memory, static_cast<int>(2 * window_));
  cfg_.long_window = std::max(cfg_.long_window, 10);
  cfg_.settle = std::max(cfg_.settle, 1);
  recent_.assign(window_, 0.0);
  shapes_.resize(static_cast<size_t>(cfg_.memory));
}

size_t NoveltyDetector::StateBytes() const {
  return sizeof(*this) + recent_.capacity() * sizeof(double) + shapes_.capacity() * sizeof(Packed);
}

void NoveltyDetector::Summarise(std::array<double, kDims>* s) const {
  // recent_ is a ring; the newest value is at (n_ - 1) % window_.
  size_t back = 0;
  for (size_t d = 0; d < kDims; ++d) {
    const size_t len = static_cast<size_t>(cfg_.chunks[d]);
    double sum = 0;
    for (size_t i = 0; i < len; ++i) sum += recent_[(n_ - 1 - back - i) % window_];
    back += len;
    (*s)[d] = sum / static_cast<double>(len);
  }
}

void NoveltyDetector::Widen() {
  unit_ *= 2;
  for (size_t k = 0; k < count_; ++k) {
    Packed& p = shapes_[(head_ + shapes_.size() - 1 - k) % shapes_.size()];
    for (int16_t& v : p) v = static_cast<int16_t>(v / 2);
  }
}

bool NoveltyDetector::Quantise(const std::array<double, kDims>& s, Packed* q) {
  if (unit_ <= 0) {
    // The frame is set once the series has some range: 1/2000 of it.
    if (hi_ <= lo_) return false;
    anchor_ = (hi_ + lo_) / 2;
    unit_ = (hi_ - lo_) / 2000;
  }
  double far = 0;
  for (double v : s) far = std::max(far, std::fabs(v - anchor_));
  while (far / unit_ > kMaxQ) Widen();
  for (size_t d = 0; d < kDims; ++d) (*q)[d] = static_cast<int16_t>(std::lround((s[d] - anchor_) / unit_));
  return true;
}

NoveltyResult NoveltyDetector::Observe(double x) {
  NoveltyResult r;
  if (!std::isfinite(x)) return r;
  if (n_ == 0) lo_ = hi_ = x;
  const double range = hi_ - lo_;  // before x: a value far outside it is itself novel
  lo_ = std::min(lo_, x);
  hi_ = std::max(hi_, x);
  recent_[n_ % window_] = x;
  ++n_;
  if (n_ < window_) return r;
  std::array<double, kDims> shape;
  Summarise(&shape);
  Packed q;
  if (!Quantise(shape, &q)) return r;  // flat so far: nothing to compare

  // Nearest past shape, skipping the newest ones that overlap this one.
  int64_t best = std::numeric_limits<int64_t>::max();
  size_t best_k = 0;
  if (count_ > window_) {
    const size_t cap = shapes_.size();
    for (size_t k = window_; k < count_; ++k) {
      const Packed& p = shapes_[(head_ + cap - 1 - k) % cap];
      int32_t d = 0;  // |q| <= 8191: each square < 2^28, eight of them < 2^31
      for (size_t j = 0; j < kDims; ++j) {
        const int32_t e = static_cast<int32_t>(p[j]) - static_cast<int32_t>(q[j]);
        d += e * e;
      }
      if (d < best) {
        best = d;
        best_k = k;
      }
    }
  }
  double raw = -1;
  int direction = 0;
  if (best != std::numeric_limits<int64_t>::max() && range > 0) {
    const double dist = std::sqrt(static_cast<double>(best) / kDims) * unit_;
    raw = std::min(2.0, dist / range);
    const Packed& nn = shapes_[(head_ + shapes_.size() - 1 - best_k) % shapes_.size()];
    direction = q[0] > nn[0] ? 1 : q[0] < nn[0] ? -1 : 0;
  }
  shapes_[head_] = q;
  head_ = (head_ + 1) % shapes_.size();
  count_ = std::min(count_ + 1, shapes_.size());
  if (raw < 0) return r;
  r.raw = raw;

  // Likelihood: this raw score against the raw scores' long-term distribution.
  const bool warm = n_ >= static_cast<uint64_t>(cfg_.warmup);
  const double z = (raw - mu_) / std::max(std::sqrt(std::max(var_, 0.0)), cfg_.min_spread);
  ++raw_n_;
  const double alpha = 1.0 / static_cast<double>(std::min<uint64_t>(raw_n_, static_cast<uint64_t>(cfg_.long_window)));
  const double delta = raw - mu_;
  mu_ += alpha * delta;
  var_ = (1 - alpha) * (var_ + alpha * delta * delta);
  if (!warm) return r;
  r.scored = true;
  const double tail = 0.5 * std::erfc(z / std::sqrt(2.0));
  r.likelihood = std::clamp(std::log(tail + 1e-10) / std::log(1e-10), 0.0, 1.0);

  ++since_open_;
  if (!active_) {
    if (r.likelihood >= cfg_.open && since_open_ > cfg_.refractory) {
      active_ = true;
      r.opened = true;
      since_open_ = 0;
      below_ = 0;
      peak_ = r.likelihood;
      direction_ = direction;
    }
  } else {
    peak_ = std::max(peak_, r.likelihood);
    below_ = r.likelihood < cfg_.close ? below_ + 1 : 0;
    if (below_ >= cfg_.settle) {
      active_ = false;
      r.closed = true;
    }
  }
  r.active = active_;
  r.peak = peak_;
  r.direction = direction_;
  return r;
}

}  // namespace vigil::detectors
