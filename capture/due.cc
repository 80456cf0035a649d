#include "capture/due.h"

#include <spdlog/spdlog.h>

namespace vigil::capture {

std::vector<DueCapture> DueCaptures::Tick(const pipeline::TickResult& tick) {
  for (const auto& inst : tick.instances)
    for (const auto& t : inst.transitions)
      if (t.to == rules::RuleState::kFiring) due_.insert({inst.id, t.group, t.name});
  std::vector<DueCapture> out;
  for (auto it = due_.begin(); it != due_.end();) {
    const auto& [instance, group, name] = *it;
    const rules::RuleEngine::View* v = nullptr;
    for (const auto& inst : tick.instances)
      if (inst.id == instance)
        for (const auto& x : inst.views)
          if (x.rule.group == group && x.rule.name == name) v = &x;
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
