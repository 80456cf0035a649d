// The one cooldown-and-claim policy of every capture Vigil takes: the hosted
// engine's (CaptureManager) and the watched targets' (RemoteCaptures). Keyed
// by what is profiled: the hosted engine (InstanceId::Local()) or a target
// (InstanceId::Watched(name): its /start_profile profiles every engine behind
// it). Per key: one capture in flight, a global cooldown between two starts;
// per (key, rule): the rule's cooldown. All on one injected Clock's steady
// time, so a ManualClock moves every cooldown at once.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>

#include "common/clock.h"
#include "common/instance_id.h"
#include "common/mutex.h"

namespace vigil::capture {

class CapturePolicy {
 public:
  enum class Verdict { kClaimed, kBusy, kGlobalCooldown, kRuleCooldown };
  struct Claim {
    Verdict verdict = Verdict::kBusy;
    double at = 0;      // the clock's steady seconds the decision was made at
    double wait_s = 0;  // cooldowns: seconds until a capture is possible again
    bool ok() const { return verdict == Verdict::kClaimed; }
  };

  // The key of a capture of `instance`: the hosted engine, or the target
  // (every engine behind a target shares its profiler).
  static InstanceId KeyOf(const InstanceId& instance) {
    return instance.local() ? InstanceId::Local() : InstanceId::Watched(instance.target);
  }

  // `clock` (not owned) outlives the policy.
  CapturePolicy(double rule_cooldown_s, double global_cooldown_s, Clock* clock = DefaultClock())
      : rule_cooldown_s_(rule_cooldown_s), global_cooldown_s_(global_cooldown_s), clock_(clock) {}

  // Claims `key`'s one slot for `rule` ("": a capture asked for by hand,
  // which no rule's cooldown holds). Refused while one is in flight, then in
  // the global cooldown, then in the rule's. Claimed: in flight until Release.
  Claim TryClaim(const InstanceId& key, const std::string& rule) EXCLUDES(mu_);
  // The claimed capture started: the cooldowns run from the claim's `at`
  // (a claim released without Started leaves no cooldown).
  void Started(const InstanceId& key, const std::string& rule, double at) EXCLUDES(mu_);
  // The capture in flight ended, or never started.
  void Release(const InstanceId& key) EXCLUDES(mu_);
  bool InFlight(const InstanceId& key) const EXCLUDES(mu_);

  Clock* clock() const { return clock_; }

 private:
  const double rule_cooldown_s_;
  const double global_cooldown_s_;
  Clock* const clock_;
  mutable Mutex mu_;  // taken last: its callers may hold their own
  std::set<InstanceId> in_flight_ GUARDED_BY(mu_);
  std::map<InstanceId, double> last_start_ GUARDED_BY(mu_);                         // steady seconds
  std::map<std::pair<InstanceId, std::string>, double> rule_last_ GUARDED_BY(mu_);  // steady seconds
};

}  // namespace vigil::capture
