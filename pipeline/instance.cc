#include "pipeline/instance.h"

#include <spdlog/spdlog.h>

#include <limits>

#include "rules/series_context.h"

namespace vigil::pipeline {

Instance::Instance(InstanceId id, size_t points, const detectors::DetectorsConfig& det)
    : id_(std::move(id)), name_(id_.Name()), labels_(id_.Labels()), series_(points), detectors_(det, &series_) {}

std::vector<rules::Transition> Instance::Tick(double now, const std::vector<std::pair<std::string, double>>& values,
                                              bool stale) {
  series_.AppendTick(now, values);
  for (const auto& e : detectors_.Observe(now, values))
    spdlog::info("anomaly [{}]: {}: {}", name_, e.detector, e.message);
  rules::SeriesEvalContext ctx(&series_, &detectors_, now, stale ? now : -std::numeric_limits<double>::infinity());
  auto transitions = rules_.Evaluate(now, ctx);
  for (const auto& t : transitions) {
    const bool resolved = t.to == rules::RuleState::kInactive && t.from == rules::RuleState::kFiring;
    spdlog::log(t.to == rules::RuleState::kFiring ? spdlog::level::warn : spdlog::level::info,
                "rule [{}] {}/{}: {} -> {}", name_, t.group, t.name, rules::RuleStateName(t.from),
                resolved ? "resolved" : rules::RuleStateName(t.to));
  }
  return transitions;
}

void Instance::SetRules(std::vector<rules::RuleGroup> groups, std::vector<rules::InhibitRule> inhibits) {
  for (auto& g : groups)
    for (auto& r : g.rules)
      for (const auto& [k, v] : labels_)
        r.labels[k] = v;  // the instance's identity wins: alerts of two engines never merge
  rules_.Swap(std::move(groups), std::move(inhibits));
}

void Instance::SetMissing(std::vector<std::string> missing) {
  MutexLock lock(&mu_);
  missing_ = std::move(missing);
}

std::vector<std::string> Instance::missing() const {
  MutexLock lock(&mu_);
  return missing_;
}

}  // namespace vigil::pipeline
