// Streaming detectors over the monitor's signals: rolling z-score,
// correlation between pairs (and a correlation matrix), and linear trend with
// time to exhaustion. Each detection is an AnomalyEvent.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "detectors/novelty.h"
#include "detectors/rolling.h"
#include "monitor/series_store.h"

namespace vigil::detectors {

enum class Direction { kHigh, kLow, kBoth };
const char* DirectionName(Direction d);

struct AnomalyEvent {
  double time = 0;       // unix seconds; for novelty, when the episode opened
  std::string detector;  // novelty, zscore, correlation, trend
  std::vector<std::string> signals;
  double value = 0;                                     // the observation (zscore), r (correlation), slope (trend)
  double score = 0;                                     // |z|, r, or R^2
  double mean = 0, stddev = 0;                          // zscore's window
  double slope = 0, r2 = 0, time_to_exhaustion_s = -1;  // trend
  // novelty: an episode, open until `end` is set; `score` is its likelihood
  // when it opened, `peak` the highest since, `expected` what the nearest
  // past pattern had where the value is.
  double end = -1;
  double peak = 0;
  double expected = 0;
  uint64_t id = 0;
  std::string direction;
  std::string message;
};

// The reference method: score each point against the window before adding it.
struct ZScoreConfig {
  size_t window = 100;
  size_t min_samples = 20;
  double threshold = 3.0;
  Direction direction = Direction::kBoth;
  // Minimum effect size for an anomaly event (not for zscore(), which stays
  // the raw z): the value must also differ from the mean by this share of
  // it and by the absolute floor, so a few-percent wiggle on a very steady
  // signal is not shown to an operator as an anomaly.
  double min_relative_change = 0.1;
  double min_absolute_change = -1;  // < 0: by the signal's unit (MinAbsoluteChange)
};

// The default absolute floor for a signal of `unit` (monitor's catalogue units).
double MinAbsoluteChange(const std::string& unit);

class ZScoreDetector {
 public:
  explicit ZScoreDetector(ZScoreConfig cfg) : cfg_(cfg), stats_(cfg.window) {}
  // z of x against the window so far (nullopt before min_samples or on a
  // flat window); then x joins the window.
  std::optional<double> Observe(double x, double* mean = nullptr, double* stddev = nullptr);
  bool Flags(double z) const;
  const ZScoreConfig& config() const { return cfg_; }

 private:
  ZScoreConfig cfg_;
  RollingStats stats_;
};

struct TrendFit {
  double slope = 0;  // per second
  double intercept = 0;
  double r2 = 0;
  size_t n = 0;
  double span_s = 0;
};
// Least squares of v on t; false with fewer than 3 points or no time spread.
bool FitTrend(const std::vector<monitor::Point>& pts, TrendFit* out);

struct CorrelationPair {
  std::string a, b;
  double threshold = 0.8;
  size_t window = 20;
  std::string message;
};

struct TrendConfig {
  double window_s = 1800;
  double min_r2 = 0.8;
  double min_span_s = 300;  // judge a climb only over this much history
  std::vector<std::string> signals = {"memory_used_bytes", "kv_blocks_used"};
  // Capacity for time to exhaustion: another signal's latest value, or a number.
  std::map<std::string, std::string> capacity_signal = {{"kv_blocks_used", "kv_blocks_total"}};
  std::map<std::string, double> capacity_value;  // filled with MemTotal for memory_used_bytes
};

struct DetectorsConfig {
  // Where per-signal anomaly events come from: "novelty" (the default,
  // episodes; docs/detection.md) or "zscore" (one event per flagged point).
  // zscore() in rules is the z-score either way.
  std::string method = "novelty";
  NoveltyConfig novelty;
  ZScoreConfig zscore;
  std::map<std::string, ZScoreConfig> zscore_overrides;
  std::vector<std::string> zscore_signals;  // empty: every gauge and derived signal but settings
  std::vector<CorrelationPair> pairs = {{"kv_cache_usage", "ttft_p95", 0.8, 20,
                                         "KV cache pressure is increasing TTFT; reduce max_num_seqs or add capacity"}};
  std::vector<std::string> matrix_signals = {"kv_cache_usage",      "ttft_p95",          "tbt_p95",
                                             "requests_waiting",    "requests_running",  "busy_fraction",
                                             "output_tokens_per_s", "preemptions_per_s", "memory_used_bytes"};
  TrendConfig trend;
  size_t max_events = 1000;
};

class DetectorSet {
 public:
  DetectorSet(DetectorsConfig cfg, const monitor::SeriesStore* store);

  // After each sampler tick: feeds the detectors, records and returns new events.
  std::vector<AnomalyEvent> Observe(double now, const std::vector<std::pair<std::string, double>>& values);

  // Current outputs, for rules (false: no value yet).
  bool ZScore(const std::string& signal, double* z) const;
  bool Corr(const std::string& a, const std::string& b, double* r) const;
  bool Trend(const std::string& signal, TrendFit* fit) const;
  bool TimeToExhaustion(const std::string& signal, double* seconds) const;

  // Pearson correlations between `signals` over the last window_s, from the
  // series store (pairs with flat or missing data are NaN).
  std::vector<std::vector<double>> CorrelationMatrix(const std::vector<std::string>& signals, double now,
                                                     double window_s) const;

  // Events at or after `since`, and novelty episodes still open or ended after it.
  std::vector<AnomalyEvent> Events(double since) const;
  // (detector, signal) -> count since start, for vigil_anomalies_total.
  std::map<std::pair<std::string, std::string>, uint64_t> Counts() const;
  const DetectorsConfig& config() const { return cfg_; }

 private:
  void Record(AnomalyEvent e, std::vector<AnomalyEvent>* out) REQUIRES(mu_);
  // The novelty detector's step for one signal: opens, extends or closes its episode.
  void ObserveNovelty(double now, const std::string& name, double value, const ZScoreConfig& zc,
                      std::vector<AnomalyEvent>* out) REQUIRES(mu_);
  AnomalyEvent* FindEvent(uint64_t id) REQUIRES(mu_);

  struct NoveltyState {
    NoveltyDetector detector;
    double opened_at = 0;  // when the detector's current episode opened
    bool judged = false;   // that episode was reported (or found too small)
    uint64_t event = 0;    // id of the reported episode while it is open, else 0
  };

  DetectorsConfig cfg_;  // set up by the constructor, then read-only
  const monitor::SeriesStore* store_;
  mutable Mutex mu_;  // API readers vs the sampler
  std::unordered_map<std::string, std::unique_ptr<ZScoreDetector>> zscore_ GUARDED_BY(mu_);
  std::unordered_map<std::string, double> last_z_ GUARDED_BY(mu_);
  std::unordered_map<std::string, std::unique_ptr<NoveltyState>> novelty_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  std::map<std::pair<std::string, std::string>, RollingPearson> pearson_ GUARDED_BY(mu_);
  std::map<std::string, TrendFit> trends_ GUARDED_BY(mu_);
  std::map<std::string, double> tte_ GUARDED_BY(mu_);
  std::map<std::string, bool> trend_flagged_ GUARDED_BY(mu_);
  double last_failed_ GUARDED_BY(mu_) = 0;
  std::deque<AnomalyEvent> events_ GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, uint64_t> counts_ GUARDED_BY(mu_);
};

}  // namespace vigil::detectors

namespace vigil::detectors {

// Robust, local z-score (a Hampel filter): the baseline is the median of the
// last few points (window/10, at least 5), so drift, slow seasonality and a
// settled level shift do not count as deviations; the scale is 1.4826 x the
// MAD of the recent residuals over the whole window, so spikes do not
// inflate the spread that should expose them. Scored before adding, like
// the reference. O(window) per point: for offline replay (vigilctl detect).
class RobustZScoreDetector {
 public:
  explicit RobustZScoreDetector(ZScoreConfig cfg) : cfg_(cfg) {}
  std::optional<double> Observe(double x, double* median = nullptr, double* scale = nullptr);
  bool Flags(double z) const;

 private:
  ZScoreConfig cfg_;
  std::deque<double> values_;     // the last k values: the baseline
  std::deque<double> residuals_;  // residuals of the last `window` points: the scale
};

// Maps |z| to [0,1], monotone, 0.5 exactly at the threshold.
inline double ScoreFromZ(double z, double threshold) {
  const double a = z < 0 ? -z : z;
  return a / (a + threshold);
}

}  // namespace vigil::detectors
