// What fired, and when: the firing episodes of every rule on every monitored
// instance, open and recently resolved, for the dashboard's "resolved in the
// recent past" list and the shaded bands on its charts.
// Why a reconcile (Observe with the whole firing set) and not transitions: a
// rule removed by a reload, or an instance retired, closes its episode
// without a transition of its own.
// Bounded: at most `max_episodes` closed episodes and none older than
// `max_age_s` are kept; open ones are always kept (one per firing rule).
#pragma once

#include <deque>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "alerts/dispatcher.h"
#include "common/mutex.h"

namespace vigil::alerts {

struct Episode {
  std::string instance;  // "local", "target" or "target/engine"
  std::string group, alertname;
  Labels labels;           // the rule's, severity and pathology included
  std::string summary;     // the summary annotation as it read when it fired
  double starts_at = 0;    // when it began firing
  double ends_at = 0;      // when it stopped; 0 while it fires
  bool inhibited = false;  // inhibited when it began (a symptom, not a cause)
};

class AlertHistory {
 public:
  explicit AlertHistory(size_t max_episodes = 1000, double max_age_s = 24 * 3600)
      : max_episodes_(max_episodes), max_age_s_(max_age_s) {}

  // The rules firing at `now` (ends_at ignored). Rules newly in the set open
  // an episode; open ones missing from it are closed at `now`.
  void Observe(double now, const std::vector<Episode>& firing);
  // Episodes that overlap [since, now], oldest start first; `instance`
  // empty: every instance.
  std::vector<Episode> Since(double since, const std::string& instance = "") const;

 private:
  using Key = std::tuple<std::string, std::string, std::string>;  // instance, group, alertname
  void Trim(double now) REQUIRES(mu_);

  const size_t max_episodes_;
  const double max_age_s_;
  mutable Mutex mu_;
  std::map<Key, Episode> open_ GUARDED_BY(mu_);
  std::deque<Episode> closed_ GUARDED_BY(mu_);  // in the order they closed
};

}  // namespace vigil::alerts
