#include "common/clock.h"

#include <cmath>

namespace vigil {

Clock* DefaultClock() {
  static RealClock* const clock = new RealClock();  // never destroyed: threads may read it at exit
  return clock;
}

int64_t ManualClock::SteadyNanos() const { return kSteadyStartNs + elapsed_ns_.load(); }

double ManualClock::UnixNow() const { return unix_start_ + static_cast<double>(elapsed_ns_.load()) / 1e9; }

uint64_t ManualClock::Subscribe(Mutex* mu, CondVar* cv) {
  MutexLock lock(&subs_mu_);
  subs_[++next_id_] = {mu, cv};
  return next_id_;
}

void ManualClock::Unsubscribe(uint64_t id) {
  MutexLock lock(&subs_mu_);
  subs_.erase(id);
}

void ManualClock::Advance(double seconds) {
  if (seconds > 0) elapsed_ns_ += std::llround(seconds * 1e9);
  ++jumps_;
  // Each subscriber is notified under its own mutex: a waiter that read the
  // old time still holds it until it waits, so the notification reaches it.
  MutexLock lock(&subs_mu_);
  for (const auto& [id, sub] : subs_) {
    MutexLock l(sub.first);
    sub.second->SignalAll();
  }
}

void ManualClock::SetUnix(double unix_seconds) { Advance(unix_seconds - UnixNow()); }

}  // namespace vigil
