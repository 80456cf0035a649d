#include "alerts/history.h"

#include <algorithm>
#include <set>

namespace vigil::alerts {

void AlertHistory::Observe(double now, const std::vector<Episode>& firing) {
  MutexLock lock(&mu_);
  std::set<Key> seen;
  for (const Episode& e : firing) {
    Key k{e.instance, e.group, e.alertname};
    seen.insert(k);
    if (open_.count(k)) continue;
    Episode opened = e;
    opened.ends_at = 0;
    if (opened.starts_at <= 0) opened.starts_at = now;
    open_.emplace(std::move(k), std::move(opened));
  }
  for (auto it = open_.begin(); it != open_.end();) {
    if (seen.count(it->first)) {
      ++it;
      continue;
    }
    it->second.ends_at = std::max(now, it->second.starts_at);
    closed_.push_back(std::move(it->second));
    it = open_.erase(it);
  }
  Trim(now);
}

void AlertHistory::Trim(double now) {
  while (!closed_.empty() && (closed_.size() > max_episodes_ || closed_.front().ends_at < now - max_age_s_))
    closed_.pop_front();
}

std::vector<Episode> AlertHistory::Since(double since, const std::string& instance) const {
  std::vector<Episode> out;
  MutexLock lock(&mu_);
  auto take = [&](const Episode& e) {
    if ((instance.empty() || e.instance == instance) && (e.ends_at == 0 || e.ends_at >= since)) out.push_back(e);
  };
  for (const Episode& e : closed_) take(e);
  for (const auto& [k, e] : open_) take(e);
  std::stable_sort(out.begin(), out.end(),
                   [](const Episode& a, const Episode& b) { return a.starts_at < b.starts_at; });
  return out;
}

}  // namespace vigil::alerts
