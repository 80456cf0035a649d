// The sampler thread: every interval it reads one EngineStats snapshot,
// derives the signals, appends them to the series store and runs the
// after-tick hooks (detectors, then rules). Ticks are drift-corrected: they
// stay on the start time's grid, and a slow tick skips the ticks it
// overran instead of sliding the schedule.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/stats.h"
#include "monitor/series_store.h"
#include "monitor/signals.h"

namespace vigil::monitor {

struct SamplerConfig {
  double interval_s = 1.0;
  DeriverConfig deriver;
};

class Sampler {
 public:
  using StatsSource = std::function<engine::EngineStats()>;
  using TickHook = std::function<void(double now, const std::vector<std::pair<std::string, double>>& values)>;

  Sampler(SamplerConfig cfg, StatsSource source, SeriesStore* store);
  ~Sampler();

  void AddHook(TickHook hook) { hooks_.push_back(std::move(hook)); }
  void Start();
  void Stop();  // interrupts the wait; returns after the current tick

  // One tick at `now` (unix seconds), on the caller's thread (tests, replay).
  void TickOnce(double now);

  uint64_t ticks() const { return ticks_; }
  uint64_t skipped_ticks() const { return skipped_; }

 private:
  void Loop();

  SamplerConfig cfg_;
  StatsSource source_;
  SeriesStore* store_;
  SignalDeriver deriver_;
  std::vector<TickHook> hooks_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t ticks_ = 0, skipped_ = 0;
};

}  // namespace vigil::monitor
