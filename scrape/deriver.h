// ScrapeDeriver: successive InstanceReadings of one scraped engine -> Vigil
// signal values, as monitor/signals.cc's SignalDeriver does for the hosted
// engine: gauges as read, counters made reset-safe, rates and quantiles over
// a sliding window, engine_stalled_seconds from the engine's progress counter.
// Why a second deriver: a scraped engine gives classic Prometheus histograms
// (fixed buckets), not Vigil's quantile sketches, and any input may be
// absent. Quantiles are Prometheus' histogram_quantile over the bucket
// increases in the window, so they match what a PromQL dashboard shows.
// Time is passed in (`now`, seconds), never read from a clock.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "scrape/adapter.h"

namespace vigil::scrape {

// Prometheus' histogram_quantile over classic buckets (promql/quantile.go,
// bucketQuantile): `le` ascending with +Inf last, `cumulative` the counts.
// rank = q * (+Inf count); the first bucket whose count reaches the rank is
// interpolated linearly, from 0 when it is the first bucket with a positive
// bound. In the +Inf bucket: the last finite bound. NaN without
// observations, with fewer than two buckets, without +Inf last, or for a NaN
// q; -Inf/+Inf for q < 0 / q > 1. Decreasing counts are raised to the
// running maximum first, as Prometheus does.
double HistogramQuantile(double q, const std::vector<double>& le, const std::vector<double>& cumulative);

// One per scraped instance: the windows and counters are that engine's.
class ScrapeDeriver {
 public:
  explicit ScrapeDeriver(double window_s = 60) : window_s_(window_s) {}

  // Values for this scrape, in monitor::Catalogue() order. Signals whose
  // inputs are absent, quantiles with no observation in the window, rates
  // before a second scrape and the hit rate without queries are left out.
  std::vector<std::pair<std::string, double>> Tick(double now, const InstanceReading& r);

 private:
  struct Counter {  // monotonic across source restarts
    bool init = false;
    double last_raw = 0, total = 0;
    double Update(double raw);
  };
  struct Rate {  // increase of a reset-safe total over the window
    std::deque<std::pair<double, double>> points;
    // False until two points span a positive time.
    bool Increase(double now, double total, double window_s, double* increase, double* span);
  };
  struct Window {  // per-scrape bucket increases inside the window
    bool init = false;
    Buckets last;
    std::deque<std::pair<double, std::vector<double>>> deltas;
    // Cumulative counts of the observations in the window (empty: none).
    std::vector<double> Update(double now, double window_s, const Buckets& cumulative);
  };

  double window_s_;
  std::map<std::string, Counter> counters_;
  std::map<std::string, Rate> rates_;
  std::map<std::string, Window> windows_;
  // SGLang's retraction gauge (kv_evictions_recent) added up: each new
  // non-zero publication once, a value held over several scrapes once.
  struct Publications {
    bool init = false;
    double last = 0, total = 0;
    double Update(double v);
  };
  Publications recent_evictions_;
  // When progress_total last moved with requests in flight.
  bool have_progress_ = false;
  double last_progress_ = 0, last_progress_t_ = 0;
};

}  // namespace vigil::scrape
