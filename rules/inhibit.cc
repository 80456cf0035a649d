#include "rules/inhibit.h"

#include <algorithm>

namespace vigil::rules {

namespace {

Status Collect(const std::vector<std::string>& strings, const std::map<std::string, std::string>& eq,
               const std::map<std::string, std::string>& re, const std::string& field, MatcherSet* out) {
  std::vector<Matcher> ms;
  for (size_t i = 0; i < strings.size(); ++i) {
    Matcher m;
    VIGIL_RETURN_IF_ERROR(ParseMatcher(strings[i], &m).WithContext(field + "_matchers[" + std::to_string(i) + "]"));
    ms.push_back(m);
  }
  for (const auto& [k, v] : eq) ms.push_back({k, v, false, true});
  for (const auto& [k, v] : re) ms.push_back({k, v, true, true});
  if (ms.empty()) return Status::InvalidArgument(field + "_matchers: at least one matcher is needed");
  return MatcherSet::Compile(std::move(ms), out).WithContext(field + "_matchers");
}

std::string Get(const Labels& l, const std::string& k) {
  auto it = l.find(k);
  return it == l.end() ? "" : it->second;
}

void AddOnce(std::vector<std::string>* v, const std::string& s) {
  if (std::find(v->begin(), v->end(), s) == v->end()) v->push_back(s);
}

}  // namespace

Status MakeInhibitRule(const InhibitRuleSpec& spec, InhibitRule* out, std::string* field) {
  InhibitRule r;
  for (const char* side : {"source", "target"}) {
    const bool src = side[0] == 's';
    Status st = Collect(src ? spec.source_matchers : spec.target_matchers, src ? spec.source_match : spec.target_match,
                        src ? spec.source_match_re : spec.target_match_re, side, src ? &r.source : &r.target);
    if (!st.ok()) {
      if (field) *field = std::string(side) + "_matchers";
      return st;
    }
  }
  r.equal = spec.equal;
  r.origin = spec.origin;
  *out = std::move(r);
  return Status::OK();
}

std::vector<Inhibition> Inhibit(const std::vector<InhibitRule>& rules, const std::vector<InhibitInput>& alerts) {
  std::vector<Inhibition> out(alerts.size());
  for (const InhibitRule& r : rules) {
    for (size_t t = 0; t < alerts.size(); ++t) {
      if (!alerts[t].firing || !r.target.Matches(*alerts[t].labels)) continue;
      for (size_t s = 0; s < alerts.size(); ++s) {
        if (s == t || !r.source.Matches(*alerts[s].labels)) continue;
        // Labels absent on both sides count as equal, as in Alertmanager.
        bool same = true;
        for (const auto& k : r.equal) same = same && Get(*alerts[s].labels, k) == Get(*alerts[t].labels, k);
        if (!same) continue;
        const std::string name = Get(*alerts[s].labels, "alertname");
        if (alerts[s].firing) AddOnce(&out[t].inhibited_by, name);
        else if (alerts[t].firing_for_s < alerts[s].hold_s) AddOnce(&out[t].held_by, name);
      }
    }
  }
  return out;
}

}  // namespace vigil::rules
