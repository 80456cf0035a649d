// The default streaming anomaly detector: shape novelty turned into a
// calibrated likelihood, reported as episodes. See docs/detection.md.
//
// Per observation, in O(memory) time and fixed memory (about 15 KiB):
//  1. raw score: how far the recent shape of the series (the last 24 values
//     summarised as 8 chunk means, fine for the newest values and coarser
//     before them) is from its nearest neighbour among the last `memory`
//     shapes, in units of the range the series has shown so far (the data's
//     own scale, learned online: no look-ahead; values at the start of an
//     episode do not widen it), averaged over the last 3 observations;
//  2. likelihood: the Gaussian tail probability of that raw score against
//     the raw scores' own long-term mean and spread (after HTM's anomaly
//     likelihood), mapped to [0,1] on a log scale: 0.5 is a 1e-5 tail,
//     1 a 1e-10 tail. A noisy series has to be far more novel than a quiet
//     one before it counts;
//  3. episodes: one opens when the likelihood reaches `open` (and none
//     opened in the last `refractory` observations), stays open while the
//     likelihood stays up, and closes after `settle` observations below
//     `close`. Offline (NAB), each opening is one alarm scored with its
//     likelihood; live, each episode is one anomaly event.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vigil::detectors {

struct NoveltyConfig {
  int warmup = 300;  // observations seen before any score
  // Chunk lengths of a shape, newest first (sum: the shape's window).
  std::array<int, 8> chunks = {1, 1, 1, 2, 2, 4, 4, 8};
  int memory = 900;          // past shapes searched for the nearest neighbour
  int exclude = 60;          // newest shapes left out of the search (they overlap the current one)
  int unlearned = 23;        // shapes not remembered after an episode opens (a repeat stays novel)
  int long_window = 1000;    // raw scores' distribution: exponential memory of this many
  double min_spread = 0.03;  // floor of the raw scores' spread, in ranges
  double open = 0.15;        // likelihood that opens an episode (NAB's best threshold: alarms are cheap there)
  double report = 0.5;       // live: an episode is reported once its likelihood reaches this (a 1e-5 tail)
  double close = 0.1;        // ... below which it starts to settle
  int settle = 10;           // observations below `close` that close it
  int refractory = 150;      // observations after an opening before another may open
  // Values within `unlearned` observations of an opening do not widen the
  // range (the scale): one huge fault would otherwise hide later ones.
  bool faults_keep_range = true;
  // Raw scores averaged over this many observations (at most 8): the
  // single-value chunks of a shape, so a lone spike keeps its full score.
  int smooth = 3;
};

struct NoveltyResult {
  bool scored = false;        // past the warm-up
  double raw = 0;             // shape novelty, in units of the range so far
  double likelihood = 0;      // calibrated score in [0,1]
  bool opened = false;        // an episode opened at this observation
  bool closed = false;        // the open episode settled at this observation
  bool active = false;        // inside an episode (after this observation)
  double peak = 0;            // highest likelihood of the current (or just closed) episode
  int direction = 0;          // +1: the value is above what the nearest past shape had, -1 below
  int episode_direction = 0;  // `direction` when the current episode opened
  double expected = 0;        // the newest value of the nearest past shape
};

class NoveltyDetector {
 public:
  static constexpr int kDims = 8;
  static constexpr int kMaxSmooth = 8;
  explicit NoveltyDetector(NoveltyConfig cfg = {});
  NoveltyResult Observe(double x);
  const NoveltyConfig& config() const { return cfg_; }
  // Bytes of state for one series: fixed once constructed.
  size_t StateBytes() const;

 private:
  // Shapes are stored as 14-bit integers in a per-series frame (anchor, unit)
  // that only ever widens: 16 bytes a shape, and exact int32 distances.
  using Packed = std::array<int16_t, kDims>;
  static constexpr int kMaxQ = 8191;
  void Summarise(std::array<double, kDims>* s) const;
  bool Quantise(const std::array<double, kDims>& s, Packed* q);
  void Widen();
  // Raw score of q against the remembered shapes (-1: none yet); fills
  // r->expected and r->direction from the nearest one.
  double Nearest(const Packed& q, double range, NoveltyResult* r) const;
  void Remember(const Packed& q);

  NoveltyConfig cfg_;
  size_t window_ = 0;
  uint64_t n_ = 0;
  double lo_ = 0, hi_ = 0;       // range so far (without the newest value and faults)
  double prev_ = 0;              // the newest value, not yet in the range
  std::vector<double> recent_;   // ring of the last window_ values
  std::vector<int16_t> shapes_;  // ring of past shapes, kDims values each
  size_t head_ = 0, count_ = 0;
  double anchor_ = 0, unit_ = 0;
  std::array<double, kMaxSmooth> smoothed_{};  // the newest raw scores (a ring)
  uint64_t smooth_n_ = 0;
  double mu_ = 0, var_ = 0;  // raw scores' long-term mean and variance
  uint64_t raw_n_ = 0;
  bool active_ = false;
  int below_ = 0;
  int64_t since_open_ = int64_t{1} << 40;
  double peak_ = 0;
  int direction_ = 0;
};

// NAB-style offline score of one observation: the likelihood where an
// episode opens, else 0 (one alarm per episode, as the scorer wants).
inline double AlarmScore(const NoveltyResult& r) { return r.opened ? r.likelihood : 0.0; }

}  // namespace vigil::detectors
