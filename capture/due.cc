#include "capture/due.h"

#include <spdlog/spdlog.h>

namespace vigil::capture {

std::vector<DueCapture> DueCaptures::Tick(const std::vector<std::pair<std::string, rules::Transition>>& transitions,
                                          const std::vector<rules::RuleEngine::View>& views) {
  for (const auto& [inst, t] : transitions)
    if (t.to == rules::RuleState::kFiring) due_.insert({InstanceId::Parse(inst), t.group, t.name});
  std::vector<DueCapture> out;
  for (auto it = due_.begin(); it != due_.end();) {
    const auto& [instance, group, name] = *it;
    const rules::RuleEngine::View* v = nullptr;
    for (const auto& x : views)
      if (x.rule.group == group && x.rule.name == name && InstanceId::FromLabels(x.rule.labels) == instance) v = &x;
    if (!v || v->status.state != rules::RuleState::kFiring || !v->rule.Has(rules::RuleAction::kCapture)) {
      it = due_.erase(it);
      continue;
    }
    if (!v->status.inhibited_by.empty()) {
      spdlog::info("capture for {} skipped: inhibited by {}", v->rule.name, v->status.inhibited_by.front());
      it = due_.erase(it);
      continue;
    }
    if (!v->status.held_by.empty()) {
      ++it;
      continue;
    }
    DueCapture c{instance, group, name, "", nlohmann::json::object()};
    auto s = v->status.annotations.find("summary");
    c.reason = s == v->status.annotations.end() ? name + " fired" : s->second;
    for (const auto& [text, val] : v->status.evidence) c.evidence[text] = val ? nlohmann::json(*val) : nlohmann::json();
    out.push_back(std::move(c));
    it = due_.erase(it);
  }
  return out;
}

}  // namespace vigil::capture
