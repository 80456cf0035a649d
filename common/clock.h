// The one clock seam. Code that measures durations, keeps cooldowns or
// schedules retries reads an injected Clock (steady time); code that stamps
// times that leave the process (files, APIs, the outbox) reads its Unix time.
// Production passes DefaultClock(), a RealClock; tests pass a ManualClock and
// move it themselves, so nothing they assert depends on how long a sleep took.
//
// Code with no object to inject into (the engine's hot paths, the profiler's
// anchors) calls RealClock's static readers. Deliberately outside the seam:
// real-time bounds on condition-variable waits and I/O (a scrape's, a
// capture's, shutdown's grace, the notifier's idle tick) and measured
// durations (a rule's evaluation time) read std::chrono::steady_clock
// directly, because a ManualClock that never moves must not make them wait
// forever; a clock jump still ends such a wait early (Subscribe).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>

#include "common/mutex.h"

namespace vigil {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic nanoseconds since an arbitrary epoch: durations, deadlines.
  virtual int64_t SteadyNanos() const = 0;
  // Seconds since the Unix epoch: timestamps that leave the process.
  virtual double UnixNow() const = 0;
  double SteadyNow() const { return static_cast<double>(SteadyNanos()) / 1e9; }

  // Wakes `cv` (SignalAll with `mu` held, so no waiter misses it) whenever
  // this clock jumps: a ManualClock's Advance/SetUnix. Real time never jumps,
  // so a real clock never calls it. Waiters still wait on their condition
  // variable with a real timeout; a jump only ends the wait early, when it
  // may have made a deadline due. Must not be called with `mu` held.
  virtual uint64_t Subscribe(Mutex* mu, CondVar* cv) EXCLUDES(mu) { return 0; }
  virtual void Unsubscribe(uint64_t id) {}
  // How many times this clock has jumped (0 for a real one): a waiter that
  // compares it under its mutex misses no jump, even one made while it was
  // not yet waiting.
  virtual uint64_t Jumps() const { return 0; }
};

class RealClock final : public Clock {
 public:
  static int64_t SteadyNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  static double Steady() { return static_cast<double>(SteadyNs()) / 1e9; }
  static double Unix() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  static int64_t UnixNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t SteadyNanos() const override { return SteadyNs(); }
  double UnixNow() const override { return Unix(); }
};

// The process-wide real clock (never destroyed): the default wherever a
// Clock* may be injected.
Clock* DefaultClock();

// A clock that moves only when told (tests). Thread-safe. Steady and Unix
// time move together. Subscribers are woken on every move, so a thread
// waiting for a deadline on this clock sees it pass as soon as a test
// advances past it, with no real-time sleep.
class ManualClock final : public Clock {
 public:
  // 2026-01-01T00:00:00Z by default; steady time starts at 1000 s.
  explicit ManualClock(double unix_start = 1767225600.0) : unix_start_(unix_start) {}

  int64_t SteadyNanos() const override;
  double UnixNow() const override;
  uint64_t Subscribe(Mutex* mu, CondVar* cv) EXCLUDES(mu, subs_mu_) override;
  void Unsubscribe(uint64_t id) EXCLUDES(subs_mu_) override;
  uint64_t Jumps() const override { return jumps_.load(); }

  // Moves time forward by `seconds` (>= 0) and wakes every subscriber.
  // Must not be called with a subscriber's mutex held.
  void Advance(double seconds) EXCLUDES(subs_mu_);
  // Moves Unix time to `unix_seconds` (never backwards; steady time moves as
  // much) and wakes every subscriber.
  void SetUnix(double unix_seconds) EXCLUDES(subs_mu_);

 private:
  static constexpr int64_t kSteadyStartNs = 1000LL * 1000000000LL;
  const double unix_start_;
  std::atomic<int64_t> elapsed_ns_{0};  // read lock-free: readers may hold a subscriber's mutex
  std::atomic<uint64_t> jumps_{0};
  Mutex subs_mu_;  // taken before a subscriber's mutex, never after
  std::map<uint64_t, std::pair<Mutex*, CondVar*>> subs_ GUARDED_BY(subs_mu_);
  uint64_t next_id_ GUARDED_BY(subs_mu_) = 0;
};

// Keeps `cv` subscribed to `clock`'s jumps for its own lifetime.
class ClockWakeup {
 public:
  ClockWakeup(Clock* clock, Mutex* mu, CondVar* cv) EXCLUDES(mu) : clock_(clock), id_(clock->Subscribe(mu, cv)) {}
  ~ClockWakeup() { clock_->Unsubscribe(id_); }
  ClockWakeup(const ClockWakeup&) = delete;
  ClockWakeup& operator=(const ClockWakeup&) = delete;

 private:
  Clock* clock_;
  uint64_t id_;
};

}  // namespace vigil
