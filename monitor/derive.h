// The derivation steps both derivers share (the hosted engine's
// SignalDeriver, a scraped engine's ScrapeDeriver), written once so the two
// sources behave alike at the edges: a value that cannot be known (no second
// point, a span of zero time) is absent, never a made-up 0.
// Time is passed in (`now`, seconds), never read from a clock.
#pragma once

#include <deque>
#include <optional>
#include <utility>

namespace vigil::monitor {

struct DeriverConfig {
  double window_s = 60;                // monitor.window
  double request_timeout_s = 300;      // monitor.request_timeout (engine reports stuck requests)
  double engine_stall_timeout_s = 10;  // server.engine_stall_timeout, published for EngineStalled
};

// A counter made monotonic across source restarts: a drop means the source
// restarted from zero, so everything since counts. The first reading is the
// starting total.
class ResetSafeCounter {
 public:
  double Update(double raw);

 private:
  bool init_ = false;
  double last_raw_ = 0, total_ = 0;
};

// The increase of a reset-safe total over a sliding window. Keeps one point
// at or before the window's start, so the span covers the window.
class WindowIncrease {
 public:
  // Adds (now, total). The increase since the oldest point kept, or nullopt
  // until two points span a positive time (the first tick, a zero-span tick).
  std::optional<double> Increase(double now, double total, double window_s);
  // The same increase per second of the span.
  std::optional<double> PerSecond(double now, double total, double window_s);

 private:
  std::deque<std::pair<double, double>> points_;
};

}  // namespace vigil::monitor
