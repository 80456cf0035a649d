#include "daemon/diagnosis.h"

#include "common/time_util.h"

#include <cstdio>
#include <ctime>

namespace vigil::daemon {

using json = nlohmann::json;

std::string FormatTime(double t) { return t < 0 ? "" : FormatRfc3339(t); }

std::vector<std::string> RulePatterns(const std::string& config_path, const std::vector<std::string>& files) {
  const size_t slash = config_path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : config_path.substr(0, slash);
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(!f.empty() && f[0] == '/' ? f : dir + "/" + f);
  return out;
}

namespace {

json Evidence(const rules::RuleStatus& s) {
  json e = json::object();
  for (const auto& [text, v] : s.evidence) e[text] = v ? json(*v) : json();
  return e;
}

json ActionNames(const rules::Rule& r) {
  json out = json::array();
  for (auto a : r.actions) out.push_back(rules::RuleActionName(a));
  return out;
}

json Alert(const rules::RuleEngine::View& v) {
  return {{"labels", v.rule.labels},
          {"annotations", v.status.annotations},
          {"state", rules::RuleStateName(v.status.state)},
          {"activeAt", FormatTime(v.status.active_since)},
          {"value", v.status.value ? json(*v.status.value) : json()}};
}

}  // namespace

json RulesJson(const std::vector<rules::RuleEngine::View>& views) {
  json groups = json::array();
  for (const auto& v : views) {
    if (groups.empty() || groups.back()["name"] != v.rule.group)
      groups.push_back({{"name", v.rule.group}, {"file", v.rule.file}, {"rules", json::array()}});
    json r = {{"type", "alerting"},
              {"name", v.rule.name},
              {"query", v.rule.expr->text()},
              {"duration", v.rule.for_s},
              {"keepFiringFor", v.rule.keep_firing_for_s},
              {"labels", v.rule.labels},
              {"annotations", v.rule.annotations},
              {"actions", ActionNames(v.rule)},
              {"state", rules::RuleStateName(v.status.state)},
              {"health", rules::RuleHealthName(v.status.health)},
              {"lastError", v.status.last_error},
              {"lastEvaluation", FormatTime(v.status.last_eval)},
              {"evaluationTime", v.status.eval_seconds},
              {"evidence", Evidence(v.status)},
              {"alerts", json::array()}};
    if (v.status.state != rules::RuleState::kInactive) r["alerts"].push_back(Alert(v));
    groups.back()["rules"].push_back(r);
  }
  return {{"status", "success"}, {"data", {{"groups", groups}}}};
}

json AlertsJson(const std::vector<rules::RuleEngine::View>& views, const SilencedByFn& silenced_by) {
  json alerts = json::array();
  for (const auto& v : views) {
    if (v.status.state == rules::RuleState::kInactive) continue;
    json a = Alert(v);
    const auto ids = silenced_by ? silenced_by(v.rule.labels) : std::vector<std::string>{};
    a["silenced"] = !ids.empty();
    a["silencedBy"] = ids;
    a["inhibited"] = !v.status.inhibited_by.empty();
    a["inhibitedBy"] = v.status.inhibited_by;
    if (!v.status.held_by.empty()) a["captureHeldBy"] = v.status.held_by;
    alerts.push_back(a);
  }
  return {{"status", "success"}, {"data", {{"alerts", alerts}}}};
}

namespace {

// Unknown severities (page, error, ...) rank with warning: below critical,
// above info, so a pack's own words never drop a diagnosis to the bottom.
int SeverityRank(const std::string& s) { return s == "critical" ? 3 : s == "info" ? 1 : 2; }

}  // namespace

json Diagnosis(const std::vector<rules::RuleEngine::View>& views) {
  std::string status = "healthy";
  json firing = json::array();
  // The primary diagnosis: a firing root cause (a rule naming a pathology,
  // not inhibited), the most severe, then the earliest; the rest of what
  // fires are its symptoms. Without a pathology rule, any uninhibited alert;
  // if inhibition cycles leave none uninhibited, the best of all.
  int primary = -1, fallback = -1;
  auto better = [&](const json& a, const json& b) {
    const bool pa = !a["pathology"].get<std::string>().empty(), pb = !b["pathology"].get<std::string>().empty();
    if (pa != pb) return pa;
    const int sa = SeverityRank(a["severity"]), sb = SeverityRank(b["severity"]);
    if (sa != sb) return sa > sb;
    return a["firedAt"].get<double>() < b["firedAt"].get<double>();
  };
  for (const auto& v : views) {
    if (v.status.state != rules::RuleState::kFiring) continue;
    auto sev = v.rule.labels.find("severity");
    const std::string severity = sev == v.rule.labels.end() ? "warning" : sev->second;
    if (severity == "critical") status = "critical";
    else if (status == "healthy") status = "degraded";
    auto ann = [&](const char* k) {
      auto it = v.status.annotations.find(k);
      return it == v.status.annotations.end() ? std::string() : it->second;
    };
    json f = {{"alert", v.rule.name},
              {"severity", severity},
              {"pathology", v.rule.labels.count("pathology") ? v.rule.labels.at("pathology") : ""},
              {"since", FormatTime(v.status.fired_at)},
              {"value", v.status.value ? json(*v.status.value) : json()},
              {"summary", ann("summary")},
              {"description", ann("description")},
              {"recommendation", ann("recommendation")},
              {"evidence", Evidence(v.status)},
              {"inhibitedBy", v.status.inhibited_by},
              {"firedAt", v.status.fired_at}};
    // Which monitored instance: the watched target (and engine) it is about.
    for (const char* l : {"target", "engine"})
      if (auto it = v.rule.labels.find(l); it != v.rule.labels.end()) f[l] = it->second;
    firing.push_back(f);
    const int i = static_cast<int>(firing.size()) - 1;
    if (v.status.inhibited_by.empty() && (primary < 0 || better(f, firing[primary]))) primary = i;
    if (fallback < 0 || better(f, firing[fallback])) fallback = i;
  }
  if (primary < 0) primary = fallback;
  json symptoms = json::array();
  for (int i = 0; i < static_cast<int>(firing.size()); ++i) {
    firing[i].erase("firedAt");
    if (i != primary) symptoms.push_back(firing[i]);
  }
  return {{"status", status},
          {"primary", primary < 0 ? json() : firing[primary]},
          {"symptoms", symptoms},
          {"firing", firing}};
}

}  // namespace vigil::daemon
