#include "capture/policy.h"

namespace vigil::capture {

CapturePolicy::Claim CapturePolicy::TryClaim(const InstanceId& key, const std::string& rule) {
  Claim c;
  c.at = clock_->SteadyNow();
  MutexLock lock(&mu_);
  if (in_flight_.count(key)) {
    c.verdict = Verdict::kBusy;
  } else if (auto it = last_start_.find(key); it != last_start_.end() && c.at - it->second < global_cooldown_s_) {
    c.verdict = Verdict::kGlobalCooldown;
    c.wait_s = global_cooldown_s_ - (c.at - it->second);
  } else if (auto r = rule_last_.find({key, rule});
             !rule.empty() && r != rule_last_.end() && c.at - r->second < rule_cooldown_s_) {
    c.verdict = Verdict::kRuleCooldown;
    c.wait_s = rule_cooldown_s_ - (c.at - r->second);
  } else {
    c.verdict = Verdict::kClaimed;
    in_flight_.insert(key);
  }
  return c;
}

void CapturePolicy::Started(const InstanceId& key, const std::string& rule, double at) {
  MutexLock lock(&mu_);
  last_start_[key] = at;
  if (!rule.empty()) rule_last_[{key, rule}] = at;
}

void CapturePolicy::Release(const InstanceId& key) {
  MutexLock lock(&mu_);
  in_flight_.erase(key);
}

bool CapturePolicy::InFlight(const InstanceId& key) const {
  MutexLock lock(&mu_);
  return in_flight_.count(key) > 0;
}

}  // namespace vigil::capture
