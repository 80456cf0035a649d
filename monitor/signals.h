// SignalDeriver turns successive EngineStats snapshots of the hosted engine
// into one value per signal per tick, row by row of the signal table
// (monitor/signal_table.h): gauges as read, counters made reset-safe, rates
// and quantiles over the sliding window. Quantiles come from the engine's
// mergeable sketches (a scraped engine's from its buckets: scrape/deriver.h).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/quantile_sketch.h"
#include "engine/stats.h"
#include "monitor/derive.h"
#include "monitor/signal_table.h"

namespace vigil::monitor {

class SignalDeriver {
 public:
  explicit SignalDeriver(DeriverConfig cfg);

  // Values for this tick, in catalogue order. Signals without data (a
  // quantile over an empty window, a hit rate without queries, a rate before
  // a second tick or over no time) are left out, never reported as 0.
  std::vector<std::pair<std::string, double>> Tick(double now, const engine::EngineStats& s);

 private:
  struct Window {  // a sliding window of per-tick sketch deltas
    std::deque<std::pair<double, QuantileSketch>> ticks;
    QuantileSketch sum;
    QuantileSketch last_cumulative;
    bool init = false;
    void Update(double now, double window_s, const QuantileSketch& cumulative);
  };

  DeriverConfig cfg_;
  // Per catalogue row: its counter, or its rate's (a ratio's two) increases.
  std::vector<ResetSafeCounter> counters_;
  std::vector<WindowIncrease> increases_, denominators_;
  std::map<std::string, Window> windows_;  // per distribution
  ResetSafeCounter busy_, cpu_;
  bool have_prev_ = false;
  double prev_t_ = 0, prev_busy_ = 0, prev_cpu_ = 0;
  // The engine's progress (steps) and when it last moved with work in flight.
  bool have_progress_ = false;
  int64_t last_steps_ = 0;
  double last_progress_t_ = 0;
};

}  // namespace vigil::monitor
