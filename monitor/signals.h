// The signal catalogue: the names detectors, rules, the API and the docs use.
// SignalDeriver turns successive EngineStats snapshots into one value per
// signal per tick: gauges as read, counters made reset-safe, rates and
// quantiles over the sliding window.
#pragma once

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "common/quantile_sketch.h"
#include "engine/stats.h"

namespace vigil::monitor {

enum class SignalKind { kGauge, kCounter, kDerived };

struct SignalInfo {
  const char* name;
  SignalKind kind;
  const char* unit;
  const char* help;
};

// Every signal the monitor produces, in catalogue order.
const std::vector<SignalInfo>& Catalogue();
const SignalInfo* FindSignal(const std::string& name);

struct DeriverConfig {
  double window_s = 60;                // monitor.window
  double request_timeout_s = 300;      // monitor.request_timeout (engine reports stuck requests)
  double engine_stall_timeout_s = 10;  // server.engine_stall_timeout, published for EngineStalled
};

class SignalDeriver {
 public:
  explicit SignalDeriver(DeriverConfig cfg) : cfg_(cfg) {}

  // Values for this tick. Signals without data (a quantile over an empty
  // window, a hit rate without queries) are left out, never reported as 0.
  std::vector<std::pair<std::string, double>> Tick(double now, const engine::EngineStats& s);

 private:
  struct Counter {
    bool init = false;
    double last_raw = 0, total = 0;
    double Update(double raw);  // monotonic across resets
  };
  struct Window {  // a sliding window of per-tick sketch deltas
    std::deque<std::pair<double, QuantileSketch>> ticks;
    QuantileSketch sum;
    QuantileSketch last_cumulative;
    bool init = false;
    void Update(double now, double window_s, const QuantileSketch& cumulative);
  };
  struct Rate {  // counter increase over the window
    std::deque<std::pair<double, double>> points;
    double PerSecond(double now, double value, double window_s);
    double Increase(double now, double value, double window_s, double* span);
  };

  DeriverConfig cfg_;
  Counter preemptions_, evictions_, queries_, hits_, prompt_, gen_, finished_, aborted_, failed_, busy_, cpu_, xid_,
      ecc_;
  Window ttft_, tbt_, e2e_, queue_, prefill_, batch_;
  Rate out_rate_, req_rate_, preempt_rate_, evict_rate_, query_rate_, hit_rate_;
  bool have_prev_ = false;
  double prev_t_ = 0, prev_busy_ = 0, prev_cpu_ = 0;
  // The engine's progress (steps) and when it last moved with work in flight.
  bool have_progress_ = false;
  int64_t last_steps_ = 0;
  double last_progress_t_ = 0;
};

}  // namespace vigil::monitor
