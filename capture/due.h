// Which rule captures are due, decided once per monitor tick from the tick's
// result (each instance's transitions and rules): a rule with the capture action that
// turned firing becomes due; it waits while a pending root cause holds it
// (RuleStatus::held_by), and is dropped when its rule is inhibited or stops
// firing, so the capture goes to the cause. What is due is returned with
// its instance: the hosted engine's captures go to CaptureManager, a
// watched target's to RemoteCaptures; both then claim through the one
// CapturePolicy (busy, cooldowns). Monitor thread only: not thread-safe.
#pragma once

#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/instance_id.h"
#include "pipeline/tick_result.h"
#include "rules/rules.h"

namespace vigil::capture {

struct DueCapture {
  InstanceId instance;
  std::string group, rule;
  std::string reason;       // the rule's rendered summary, or "RULE fired"
  nlohmann::json evidence;  // {expression text: value or null}
};

class DueCaptures {
 public:
  // Returns the captures to take now, each once; held ones stay due for a
  // later tick.
  std::vector<DueCapture> Tick(const pipeline::TickResult& tick);
  size_t waiting() const { return due_.size(); }  // held by a pending root cause

 private:
  std::set<std::tuple<InstanceId, std::string, std::string>> due_;  // (instance, group, rule)
};

}  // namespace vigil::capture
