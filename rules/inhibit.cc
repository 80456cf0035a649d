#include "rules/inhibit.h"

#include <algorithm>

namespace vigil::rules {

namespace {

// One side's matchers from the three forms; `field` names the bad entry.
Status Collect(const std::vector<std::string>& strings, const std::map<std::string, std::string>& eq,
               const std::map<std::string, std::string>& re, const std::string& side, MatcherSet* out,
               std::string* field) {
  std::vector<Matcher> ms;
  std::vector<std::string> where;
  for (size_t i = 0; i < strings.size(); ++i) {
    Matcher m;
    *field = side + "_matchers[" + std::to_string(i) + "]";
    VIGIL_RETURN_IF_ERROR(ParseMatcher(strings[i], &m));
    ms.push_back(m);
    where.push_back(*field);
  }
  for (const auto& [k, v] : eq) {
    ms.push_back({k, v, false, true});
    where.push_back(side + "_match." + k);
  }
  for (const auto& [k, v] : re) {
    ms.push_back({k, v, true, true});
    where.push_back(side + "_match_re." + k);
  }
  *field = side + "_matchers";
  if (ms.empty()) return Status::InvalidArgument("at least one matcher is needed");
  for (size_t i = 0; i < ms.size(); ++i) {  // compiled one by one to name the bad one
    MatcherSet one;
    *field = where[i];
    VIGIL_RETURN_IF_ERROR(MatcherSet::Compile({ms[i]}, &one));
  }
  field->clear();
  return MatcherSet::Compile(std::move(ms), out);
}

bool LabelName(const std::string& n) {
  Matcher m;
  return ParseMatcher(n + "=x", &m).ok() && m.name == n;
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
  std::string f;
  Status st = Collect(spec.source_matchers, spec.source_match, spec.source_match_re, "source", &r.source, &f);
  if (st.ok()) st = Collect(spec.target_matchers, spec.target_match, spec.target_match_re, "target", &r.target, &f);
  for (size_t i = 0; st.ok() && i < spec.equal.size(); ++i) {
    if (!LabelName(spec.equal[i])) {
      f = "equal[" + std::to_string(i) + "]";
      st = Status::InvalidArgument("\"" + spec.equal[i] + "\" is not a label name");
    }
  }
  if (!st.ok()) {
    if (field) *field = f;
    return st;
  }
  r.equal = spec.equal;
  *out = std::move(r);
  return Status::OK();
}

std::vector<Inhibition> Inhibit(const std::vector<InhibitRule>& rules, const std::vector<InhibitInput>& alerts) {
  std::vector<Inhibition> out(alerts.size());
  for (const InhibitRule& r : rules) {
    for (size_t t = 0; t < alerts.size(); ++t) {
      if (!alerts[t].firing || !r.target.Matches(*alerts[t].labels)) continue;
      // As Alertmanager: a target that matches the source side too is not
      // inhibited by sources that match the target side, so two alerts that
      // each match both sides never mute each other.
      const bool two_sided = r.source.Matches(*alerts[t].labels);
      for (size_t s = 0; s < alerts.size(); ++s) {
        if (s == t || !r.source.Matches(*alerts[s].labels)) continue;
        if (two_sided && r.target.Matches(*alerts[s].labels)) continue;
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
