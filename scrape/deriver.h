// ScrapeDeriver: successive InstanceReadings of one scraped engine -> Vigil
// signal values, row by row of the signal table (monitor/signal_table.h), as
// monitor/signals.h's SignalDeriver does for the hosted engine: gauges as
// read, counters made reset-safe, rates over the window (the same helpers,
// monitor/derive.h), engine_stalled_seconds from the engine's progress
// counter. What stays here is what only a scrape has: classic Prometheus
// histograms (fixed buckets), not Vigil's quantile sketches, so quantiles are
// Prometheus' histogram_quantile over the bucket increases in the window (they
// match what a PromQL dashboard shows); SGLang's recent-evictions gauge; and
// any input may be absent.
// Time is passed in (`now`, seconds), never read from a clock.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "monitor/derive.h"
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
  explicit ScrapeDeriver(const monitor::DeriverConfig& cfg);
  explicit ScrapeDeriver(double window_s = 60) : ScrapeDeriver(monitor::DeriverConfig{window_s}) {}

  // Values for this scrape, in monitor::Catalogue() order. Signals whose
  // inputs are absent, quantiles with no observation in the window, rates
  // before a second scrape or over no time and the hit rate without queries
  // are left out. engine_stall_timeout_seconds comes with
  // engine_stalled_seconds; target_up and target_health_up are ScrapeOutcome's.
  std::vector<std::pair<std::string, double>> Tick(double now, const InstanceReading& r);

 private:
  struct Window {  // per-scrape bucket increases inside the window
    bool init = false;
    Buckets last;
    std::deque<std::pair<double, std::vector<double>>> deltas;
    // Cumulative counts of the observations in the window (empty: none).
    std::vector<double> Update(double now, double window_s, const Buckets& cumulative);
  };

  monitor::DeriverConfig cfg_;
  std::map<std::string, monitor::ResetSafeCounter> counters_;  // per canonical counter
  // Per catalogue row: its rate's (a ratio's two) increases.
  std::vector<monitor::WindowIncrease> increases_, denominators_;
  std::map<std::string, Window> windows_;  // per histogram
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

// A target's scrape itself, as the table's target_up and target_health_up
// (health < 0: not probed): every instance of the target carries them, a
// failed scrape's too.
void AppendScrapeOutcome(bool ok, int health, std::vector<std::pair<std::string, double>>* values);

}  // namespace vigil::scrape
