#include "detectors/novelty.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace vigil::detectors {

NoveltyDetector::NoveltyDetector(NoveltyConfig cfg) : cfg_(cfg) {
  for (int& k : cfg_.chunks) window_ += static_cast<size_t>(k = std::max(k, 1));
  cfg_.warmup = std::max(cfg_.warmup, 2 * static_cast<int>(window_));
  cfg_.exclude = std::max(cfg_.exclude, static_cast<int>(window_));
  cfg_.memory = std::max(cfg_.memory, 2 * cfg_.exclude);
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

void NoveltyDetector::Remember(const Packed& q) {
  // Not while an episode has just opened: the shapes that opened it (and
  // the next few) stay novel, so a repeat of the fault is flagged again.
  if (since_open_ < cfg_.unlearned) return;
  shapes_[head_] = q;
  head_ = (head_ + 1) % shapes_.size();
  count_ = std::min(count_ + 1, shapes_.size());
}

double NoveltyDetector::Nearest(const Packed& q, double range, NoveltyResult* r) const {
  // The newest `exclude` shapes overlap this one (or nearly): skipped.
  const size_t exclude = static_cast<size_t>(cfg_.exclude), cap = shapes_.size();
  if (count_ <= exclude || range <= 0) return -1;
  int32_t best = std::numeric_limits<int32_t>::max();
  size_t best_k = 0;
  for (size_t k = exclude; k < count_; ++k) {
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
  const Packed& nn = shapes_[(head_ + cap - 1 - best_k) % cap];
  r->expected = anchor_ + unit_ * nn[0];
  r->direction = q[0] > nn[0] ? 1 : q[0] < nn[0] ? -1 : 0;
  const double dist = std::sqrt(static_cast<double>(best) / kDims) * unit_;
  return std::min(2.0, dist / range);
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
  const double raw = Nearest(q, range, &r);
  if (raw < 0) {
    Remember(q);
    return r;
  }
  r.raw = raw;

  // Likelihood: this raw score against the raw scores' long-term
  // distribution, which learns from winsorized scores so that one fault
  // does not blunt the detector for the next.
  const double sd = std::max(std::sqrt(std::max(var_, 0.0)), cfg_.min_spread);
  const double z = (raw - mu_) / sd;
  ++raw_n_;
  const double alpha = 1.0 / static_cast<double>(std::min<uint64_t>(raw_n_, static_cast<uint64_t>(cfg_.long_window)));
  const double delta = std::min(raw, mu_ + 5 * sd) - mu_;
  mu_ += alpha * delta;
  var_ = (1 - alpha) * (var_ + alpha * delta * delta);
  if (n_ < static_cast<uint64_t>(cfg_.warmup)) {
    Remember(q);
    return r;
  }
  r.scored = true;
  const double tail = 0.5 * std::erfc(z / std::sqrt(2.0));
  r.likelihood = std::clamp(std::log(tail + 1e-10) / std::log(1e-10), 0.0, 1.0);

  ++since_open_;
  const int direction = r.direction;
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
  r.episode_direction = direction_;
  Remember(q);
  return r;
}

}  // namespace vigil::detectors
