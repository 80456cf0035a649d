#include "pipeline/instance.h"

#include <spdlog/spdlog.h>

#include <limits>
#include <stdexcept>

#include "rules/series_context.h"

namespace vigil::pipeline {

Instance::Instance(InstanceId id, size_t points, const detectors::DetectorsConfig& det,
                   const monitor::DeriverConfig& source)
    : id_(std::move(id)), name_(id_.Name()), labels_(id_.Labels()), series_(points), detectors_(det, &series_) {
  if (id_.local()) hosted_ = std::make_unique<monitor::SignalDeriver>(source);
  else scraped_ = std::make_unique<scrape::ScrapeDeriver>(source);
}

std::vector<std::pair<std::string, double>> Instance::Derive(double now, const engine::EngineStats& stats) {
  if (!hosted_) throw std::logic_error("engine stats given to watched instance " + name_);
  return hosted_->Tick(now, stats);
}

std::vector<std::pair<std::string, double>> Instance::Derive(double now, const scrape::InstanceReading& reading) {
  if (!scraped_) throw std::logic_error("a scraped reading given to the hosted instance " + name_);
  return scraped_->Tick(now, reading);
}

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
