// Vigil's own spans on the engine thread. While no capture runs a scope costs
// one thread-local pointer test; while one runs it records a TraceRecord.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/clock.h"
#include "engine/capture.h"

namespace vigil::engine {

class Tracer {
 public:
  // The tracer recording on this thread, or null.
  static Tracer* Active();
  void Begin();  // this thread records into this tracer
  void End();
  std::vector<TraceRecord> TakeSpans() { return std::move(spans_); }

  static int64_t SteadyNs() { return RealClock::SteadyNs(); }
  // Steady nanoseconds to unix microseconds.
  double ToUnixUs(int64_t steady_ns) const { return static_cast<double>(steady_ns) / 1e3 + offset_us_; }
  void Add(TraceRecord r) { spans_.push_back(std::move(r)); }
  int64_t tid() const { return tid_; }

 private:
  std::vector<TraceRecord> spans_;
  double offset_us_ = 0;
  int64_t tid_ = 0;
};

class TraceScope {
 public:
  explicit TraceScope(const char* name) : t_(Tracer::Active()), name_(name) {
    if (t_) start_ = Tracer::SteadyNs();
  }
  ~TraceScope() {
    if (!t_) return;
    const int64_t end = Tracer::SteadyNs();
    TraceRecord r;
    r.name = name_;
    r.cat = "vigil";
    r.ts_us = t_->ToUnixUs(start_);
    r.dur_us = static_cast<double>(end - start_) / 1e3;
    r.tid = t_->tid();
    r.num_args = std::move(args_);
    t_->Add(std::move(r));
  }
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;
  bool active() const { return t_ != nullptr; }
  void Arg(const char* key, double v) {
    if (t_) args_[key] = v;
  }

 private:
  Tracer* t_;
  const char* name_;
  int64_t start_ = 0;
  std::map<std::string, double> args_;
};

}  // namespace vigil::engine
