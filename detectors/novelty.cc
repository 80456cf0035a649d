#include "detectors/novelty.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace vigil::detectors {

NoveltyDetector::NoveltyDetector(NoveltyConfig cfg) : cfg_(cfg) {
  for (int& k : cfg_.chunks) window_ += static_cast<size_t>(k = std::max(k, 1));
  cfg_.warmup = std::max(cfg_.warmup, 2 * static_cast<int>(window_));
  cfg_.exclude = std::max(cfg_.exclude, static_cast<int>(window_));
  cfg_.memory = std::max(cfg_.memory, 2 * cfg_.exclude);
  cfg_.long_window = std::max(cfg_.long_window, 10);
  cfg_.settle = std::max(cfg_.settle, 1);
  cfg_.smooth = std::clamp(cfg_.smooth, 1, kMaxSmooth);
  recent_.assign(window_, 0.0);
  shapes_.assign(static_cast<size_t>(cfg_.memory) * kDims, 0);
}

size_t NoveltyDetector::StateBytes() const {
  return sizeof(*this) + recent_.capacity() * sizeof(double) + shapes_.capacity() * sizeof(int16_t);
}

void NoveltyDetector::Summarise(std::array<double, kDims>* s) const {
  // recent_ is a ring; the newest value is at (n_ - 1) % window_. Walk back
  // from it, wrapping by hand (a modulo per value costs more than the sums).
  size_t idx = static_cast<size_t>((n_ - 1) % window_);
  for (size_t d = 0; d < kDims; ++d) {
    const size_t len = static_cast<size_t>(cfg_.chunks[d]);
    double sum = 0;
    for (size_t i = 0; i < len; ++i) {
      sum += recent_[idx];
      idx = idx == 0 ? window_ - 1 : idx - 1;
    }
    (*s)[d] = sum / static_cast<double>(len);
  }
}

void NoveltyDetector::Widen() {
  unit_ *= 2;
  for (int16_t& v : shapes_) v = static_cast<int16_t>(v / 2);
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
  std::copy(q.begin(), q.end(), shapes_.begin() + static_cast<std::ptrdiff_t>(head_ * kDims));
  const size_t cap = shapes_.size() / kDims;
  head_ = (head_ + 1) % cap;
  count_ = std::min(count_ + 1, cap);
}

namespace {
// Squared distance of q to each of `n` packed shapes from p; the smallest
// and its index. |values| <= 8191, so a difference fits int16 and a sum of
// eight squares fits int32: SSE2's multiply-add does a shape in one step.
inline void Scan(const int16_t* p, size_t n, const int16_t* q, int32_t* best, size_t* best_i, size_t offset) {
  constexpr size_t kD = NoveltyDetector::kDims;
#if defined(__SSE2__)
  static_assert(kD == 8, "one shape is one 128-bit vector");
  const __m128i vq = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  size_t i = 0;
  // Per lane k: the best of shapes i + k, i + 4 + k, ... and its index.
  __m128i vbest = _mm_set1_epi32(*best), vidx = _mm_set1_epi32(-1);
  __m128i cur = _mm_setr_epi32(0, 1, 2, 3);
  const __m128i four = _mm_set1_epi32(4);
  for (; i + 4 <= n; i += 4, p += 4 * kD, cur = _mm_add_epi32(cur, four)) {
    __m128i r[4];
    for (int k = 0; k < 4; ++k) {
      const __m128i e = _mm_sub_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + k * kD)), vq);
      r[k] = _mm_madd_epi16(e, e);
    }
    // Transpose-add: lane k of d is shape k's sum.
    const __m128i s01 = _mm_add_epi32(_mm_unpacklo_epi32(r[0], r[1]), _mm_unpackhi_epi32(r[0], r[1]));
    const __m128i s23 = _mm_add_epi32(_mm_unpacklo_epi32(r[2], r[3]), _mm_unpackhi_epi32(r[2], r[3]));
    const __m128i d = _mm_add_epi32(_mm_unpacklo_epi64(s01, s23), _mm_unpackhi_epi64(s01, s23));
    const __m128i lt = _mm_cmplt_epi32(d, vbest);
    vbest = _mm_or_si128(_mm_and_si128(lt, d), _mm_andnot_si128(lt, vbest));
    vidx = _mm_or_si128(_mm_and_si128(lt, cur), _mm_andnot_si128(lt, vidx));
  }
  alignas(16) int32_t lb[4], li[4];
  _mm_store_si128(reinterpret_cast<__m128i*>(lb), vbest);
  _mm_store_si128(reinterpret_cast<__m128i*>(li), vidx);
  int lane = -1;  // the lanes' best; ties go to the earlier shape, as in the scalar loop
  for (int k = 0; k < 4; ++k)
    if (li[k] >= 0 && (lane < 0 || lb[k] < lb[lane] || (lb[k] == lb[lane] && li[k] < li[lane]))) lane = k;
  if (lane >= 0 && lb[lane] < *best) {
    *best = lb[lane];
    *best_i = offset + static_cast<size_t>(li[lane]);
  }
  for (; i < n; ++i, p += kD) {
#else
  for (size_t i = 0; i < n; ++i, p += kD) {
#endif
    int32_t d1 = 0;
    for (size_t j = 0; j < kD; ++j) {
      const int32_t e = static_cast<int32_t>(p[j]) - static_cast<int32_t>(q[j]);
      d1 += e * e;
    }
    if (d1 < *best) {
      *best = d1;
      *best_i = offset + i;
    }
  }
}
}  // namespace

double NoveltyDetector::Nearest(const Packed& q, double range, NoveltyResult* r) const {
  // The newest `exclude` shapes overlap this one (or nearly): skipped. The
  // rest of the ring is at most two contiguous runs.
  const size_t exclude = static_cast<size_t>(cfg_.exclude), cap = shapes_.size() / kDims;
  if (count_ <= exclude || range <= 0) return -1;
  const size_t usable = count_ - exclude;
  const size_t oldest = (head_ + cap - count_) % cap;  // usable shapes: oldest .. oldest + usable - 1 (mod cap)
  const size_t first = std::min(usable, cap - oldest);
  int32_t best = std::numeric_limits<int32_t>::max();
  size_t best_i = 0;
  Scan(shapes_.data() + oldest * kDims, first, q.data(), &best, &best_i, oldest);
  Scan(shapes_.data(), usable - first, q.data(), &best, &best_i, 0);
  const int16_t* nn = shapes_.data() + best_i * kDims;
  r->expected = anchor_ + unit_ * nn[0];
  r->direction = q[0] > nn[0] ? 1 : q[0] < nn[0] ? -1 : 0;
  const double dist = std::sqrt(static_cast<double>(best) / kDims) * unit_;
  return std::min(2.0, dist / range);
}

NoveltyResult NoveltyDetector::Observe(double x) {
  NoveltyResult r;
  if (!std::isfinite(x)) return r;
  // The range so far, before x (a value far outside it is itself novel).
  // The previous value joins it now, unless it came within `unlearned`
  // observations of an episode's opening: a fault does not redefine the
  // series' scale, or one huge outlier would hide every later, smaller one.
  if (n_ == 0) lo_ = hi_ = x;
  if (n_ > 0 && (!cfg_.faults_keep_range || since_open_ >= cfg_.unlearned)) {
    lo_ = std::min(lo_, prev_);
    hi_ = std::max(hi_, prev_);
  }
  prev_ = x;
  const double range = hi_ - lo_;
  recent_[n_ % window_] = x;
  ++n_;
  if (n_ < window_) return r;
  std::array<double, kDims> shape;
  Summarise(&shape);
  Packed q;
  if (!Quantise(shape, &q)) return r;  // flat so far: nothing to compare
  double raw = Nearest(q, range, &r);
  if (raw < 0) {
    Remember(q);
    return r;
  }
  // The mean of the last `smooth` raw scores: a lone spike stays at full
  // resolution in the shape for that many observations, so it keeps its
  // whole score, while a one-off poor match (noise) is averaged down.
  smoothed_[smooth_n_++ % kMaxSmooth] = raw;
  {
    const uint64_t k = std::min<uint64_t>(smooth_n_, static_cast<uint64_t>(cfg_.smooth));
    double sum = 0;
    for (uint64_t i = 0; i < k; ++i) sum += smoothed_[(smooth_n_ - 1 - i) % kMaxSmooth];
    raw = sum / static_cast<double>(k);
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
