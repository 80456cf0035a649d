#include "rules/rules.h"
#include "common/os_util.h"

#include <glob.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <map>
#include <fstream>
#include <set>
#include <sstream>

#include "common/units.h"
#include "rules/template.h"

namespace vigil::rules {

const char* RuleStateName(RuleState s) {
  switch (s) {
    case RuleState::kInactive: return "inactive";
    case RuleState::kPending: return "pending";
    case RuleState::kFiring: return "firing";
  }
  return "inactive";
}

namespace {

std::string Where(const std::string& src, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  return m.is_null() ? src : src + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

}  // namespace

Status ParseRulesImpl(const std::string& text, const std::string& src, std::vector<RuleGroup>* out,
                      std::vector<InhibitRule>* inhibits);

Status ParseRules(const std::string& text, const std::string& src, std::vector<RuleGroup>* out,
                  std::vector<InhibitRule>* inhibits) {
  // Odd shapes can make yaml-cpp throw from accessors; they are bad input.
  try {
    return ParseRulesImpl(text, src, out, inhibits);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(src + ":" + std::to_string(e.mark.line + 1) + ":" +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

namespace {

// `inhibit_rules:` in a rule file, with Alertmanager's field names.
void ParseInhibits(const YAML::Node& list, const std::string& src, std::vector<std::string>* errs,
                   std::vector<InhibitRule>* out) {
  auto err = [&](const YAML::Node& n, const std::string& m) { errs->push_back(Where(src, n) + ": " + m); };
  if (!list.IsSequence()) return err(list, "inhibit_rules must be a list");
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node r = list[i];
    const std::string path = "inhibit_rules[" + std::to_string(i) + "]";
    if (!r.IsMap()) {
      err(r, path + ": expected a mapping with source_matchers, target_matchers, equal");
      continue;
    }
    InhibitRuleSpec spec;
    std::map<std::string, YAML::Node> nodes;  // field -> its node, to point errors at it
    bool ok = true;
    for (auto it = r.begin(); it != r.end(); ++it) {
      const std::string k = it->first.Scalar();
      const YAML::Node v = it->second;
      std::vector<std::string>* strings = k == "source_matchers"   ? &spec.source_matchers
                                          : k == "target_matchers" ? &spec.target_matchers
                                          : k == "equal"           ? &spec.equal
                                                                   : nullptr;
      std::map<std::string, std::string>* map = k == "source_match"      ? &spec.source_match
                                                : k == "target_match"    ? &spec.target_match
                                                : k == "source_match_re" ? &spec.source_match_re
                                                : k == "target_match_re" ? &spec.target_match_re
                                                                         : nullptr;
      if (strings) {
        if (!v.IsSequence()) {
          err(v, path + "." + k + ": expected a list of strings");
          ok = false;
          continue;
        }
        for (const YAML::Node& e : v) {
          if (!e.IsScalar()) {
            err(e, path + "." + k + ": expected a string");
            ok = false;
            continue;
          }
          nodes[k + "[" + std::to_string(strings->size()) + "]"] = e;
          strings->push_back(e.Scalar());
        }
        nodes[k] = v;
      } else if (map) {
        if (!v.IsMap()) {
          err(v, path + "." + k + ": expected a mapping of label to value");
          ok = false;
          continue;
        }
        for (auto m = v.begin(); m != v.end(); ++m) {
          if (!m->second.IsScalar()) {
            err(m->second, path + "." + k + ": expected a string");
            ok = false;
            continue;
          }
          nodes[k + "." + m->first.Scalar()] = m->second;
          (*map)[m->first.Scalar()] = m->second.Scalar();
        }
      } else {
        err(it->first, path + ": unknown key \"" + k + "\"");
        ok = false;
      }
    }
    if (!ok) continue;
    InhibitRule rule;
    std::string field;
    if (Status st = MakeInhibitRule(spec, &rule, &field); !st.ok()) {
      auto n = nodes.find(field);
      err(n == nodes.end() ? r : n->second, path + "." + field + ": " + st.message());
    } else if (out) {
      out->push_back(std::move(rule));
    }
  }
}

}  // namespace

Status ParseRulesImpl(const std::string& text, const std::string& src, std::vector<RuleGroup>* out,
                      std::vector<InhibitRule>* inhibits) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(src + ":" + std::to_string(e.mark.line + 1) + ":" +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  std::vector<std::string> errs;
  auto err = [&](const YAML::Node& n, const std::string& m) { errs.push_back(Where(src, n) + ": " + m); };
  if (!root.IsMap() || (!root["inhibit_rules"] && (!root["groups"] || !root["groups"].IsSequence()))) {
    return Status::InvalidArgument(src + ": expected a top-level \"groups:\" list (or \"inhibit_rules:\")");
  }
  for (auto it = root.begin(); it != root.end(); ++it)
    if (it->first.Scalar() != "groups" && it->first.Scalar() != "inhibit_rules")
      err(it->first, "unknown key \"" + it->first.Scalar() + "\"");
  if (root["inhibit_rules"]) ParseInhibits(root["inhibit_rules"], src, &errs, inhibits);
  if (root["groups"] && !root["groups"].IsSequence()) err(root["groups"], "groups must be a list");
  std::set<std::string> group_names;
  const YAML::Node groups_node = root["groups"] && root["groups"].IsSequence() ? root["groups"] : YAML::Node();
  for (const YAML::Node& g : groups_node) {
    RuleGroup group;
    group.file = src;
    if (!g.IsMap()) {
      err(g, "a group must be a mapping with name and rules");
      continue;
    }
    for (auto it = g.begin(); it != g.end(); ++it) {
      const std::string k = it->first.Scalar();
      if (k != "name" && k != "rules" && k != "interval") err(it->first, "unknown group key \"" + k + "\"");
    }
    if (!g["name"] || !g["name"].IsScalar() || g["name"].Scalar().empty()) {
      err(g, "group needs a name");
      continue;
    }
    group.name = g["name"].Scalar();
    if (!group_names.insert(group.name).second) err(g["name"], "duplicate group \"" + group.name + "\"");
    if (!g["rules"] || !g["rules"].IsSequence()) {
      err(g, "group \"" + group.name + "\" needs a rules list");
      continue;
    }
    std::set<std::string> names;
    for (const YAML::Node& r : g["rules"]) {
      if (!r.IsMap()) {
        err(r, "a rule must be a mapping");
        continue;
      }
      Rule rule;
      rule.group = group.name;
      rule.file = src;
      rule.line = static_cast<int>(r.Mark().line + 1);
      static const std::set<std::string> keys = {"alert",  "expr",        "for",    "keep_firing_for",
                                                 "labels", "annotations", "actions"};
      for (auto it = r.begin(); it != r.end(); ++it)
        if (!keys.count(it->first.Scalar())) err(it->first, "unknown rule key \"" + it->first.Scalar() + "\"");
      if (!r["alert"] || !r["alert"].IsScalar() || r["alert"].Scalar().empty()) {
        err(r, "rule needs an alert name (recording rules are not supported)");
        continue;
      }
      rule.name = r["alert"].Scalar();
      if (!names.insert(rule.name).second) err(r["alert"], "duplicate alert \"" + rule.name + "\" in group");
      if (!r["expr"] || !r["expr"].IsScalar()) {
        err(r, "rule \"" + rule.name + "\" needs an expr");
        continue;
      }
      std::unique_ptr<Expr> e;
      Expr::ParseError where;
      Status st = Expr::Parse(r["expr"].Scalar(), &e, &where);
      if (!st.ok()) {
        // Point at the column inside the expression when we can.
        const YAML::Mark m = r["expr"].Mark();
        const bool plain = r["expr"].Tag() != "!" && m.column >= 0;
        errs.push_back(src + ":" + std::to_string(m.line + 1) + ":" +
                       std::to_string(m.column + (plain ? where.col : 1)) +
                       ": expr: " + (where.message.empty() ? st.message() : where.message));
      } else {
        rule.expr = std::move(e);
      }
      for (const char* key : {"for", "keep_firing_for"}) {
        if (!r[key]) continue;
        double s = 0;
        Status ds =
            r[key].IsScalar() ? ParseDuration(r[key].Scalar(), &s) : Status::InvalidArgument("expected a duration");
        if (!ds.ok()) err(r[key], std::string(key) + ": " + ds.message());
        (std::string(key) == "for" ? rule.for_s : rule.keep_firing_for_s) = s;
      }
      for (const char* key : {"labels", "annotations"}) {
        if (!r[key]) continue;
        if (!r[key].IsMap()) {
          err(r[key], std::string(key) + " must be a mapping of strings");
          continue;
        }
        for (auto it = r[key].begin(); it != r[key].end(); ++it) {
          if (!it->second.IsScalar()) {
            err(it->second, std::string(key) + "." + it->first.Scalar() + " must be a string");
            continue;
          }
          if (std::string(key) == "annotations") {
            Status ts = CheckTemplate(it->second.Scalar());
            if (!ts.ok()) err(it->second, "annotations." + it->first.Scalar() + ": template: " + ts.message());
            rule.annotations[it->first.Scalar()] = it->second.Scalar();
          } else {
            rule.labels[it->first.Scalar()] = it->second.Scalar();
          }
        }
      }
      rule.labels["alertname"] = rule.name;
      if (r["actions"]) {
        if (!r["actions"].IsSequence()) {
          err(r["actions"], "actions must be a list (alert, capture)");
        } else {
          for (const YAML::Node& a : r["actions"]) {
            if (!a.IsScalar() || (a.Scalar() != "alert" && a.Scalar() != "capture"))
              err(a, "unknown action \"" + (a.IsScalar() ? a.Scalar() : std::string("?")) + "\" (alert, capture)");
            else rule.actions.push_back(a.Scalar() == "alert" ? RuleAction::kAlert : RuleAction::kCapture);
          }
        }
      } else {
        rule.actions = {RuleAction::kAlert};
      }
      group.rules.push_back(std::move(rule));
    }
    out->push_back(std::move(group));
  }
  if (!errs.empty()) {
    std::string all;
    for (const auto& e : errs) all += (all.empty() ? "" : "\n") + e;
    return Status::InvalidArgument(all);
  }
  return Status::OK();
}

Status ParseInhibitRulesOnly(const std::string& text, const std::string& src, std::vector<InhibitRule>* out) {
  std::vector<std::string> errs;
  try {
    const YAML::Node root = YAML::Load(text);
    if (root.IsMap() && root["inhibit_rules"]) ParseInhibits(root["inhibit_rules"], src, &errs, out);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(src + ":" + std::to_string(e.mark.line + 1) + ":" +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  std::string all;
  for (const auto& e : errs) all += (all.empty() ? "" : "\n") + e;
  return all.empty() ? Status::OK() : Status::InvalidArgument(all);
}

const char* RuleActionName(RuleAction a) { return a == RuleAction::kAlert ? "alert" : "capture"; }

const char* RuleHealthName(RuleHealth h) {
  return h == RuleHealth::kOk ? "ok" : h == RuleHealth::kErr ? "err" : "unknown";
}

Status LoadRules(const std::vector<std::string>& patterns, std::vector<RuleGroup>* out,
                 std::vector<InhibitRule>* inhibits) {
  std::vector<RuleGroup> groups;
  std::vector<InhibitRule> inh;
  std::string errors;
  bool only_unmatched = true;  // every error is a pattern that matched nothing
  for (const std::string& p : patterns) {
    glob_t g{};
    const int rc = glob(p.c_str(), GLOB_ERR | GLOB_BRACE, nullptr, &g);
    if (rc == GLOB_NOMATCH || g.gl_pathc == 0) {
      globfree(&g);
      errors += (errors.empty() ? "" : "\n") + p + ": no rule files match";
      continue;
    }
    only_unmatched = false;
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      const std::string path = g.gl_pathv[i];
      std::string text;
      if (!ReadFileToString(path, &text)) {
        errors += (errors.empty() ? "" : "\n") + path + ": cannot open";
        continue;
      }
      Status st = ParseRules(text, path, &groups, &inh);
      if (!st.ok()) errors += (errors.empty() ? "" : "\n") + st.message();
    }
    globfree(&g);
  }
  if (!errors.empty()) return only_unmatched ? Status::NotFound(errors) : Status::InvalidArgument(errors);
  *out = std::move(groups);
  if (inhibits) *inhibits = std::move(inh);
  return Status::OK();
}

void RuleEngine::Swap(std::vector<RuleGroup> groups, std::vector<InhibitRule> inhibits) {
  auto set = std::make_shared<RuleSet>();
  set->groups = std::move(groups);
  set->inhibits = std::move(inhibits);
  MutexLock lock(&mu_);
  StatusMap kept;
  for (const auto& g : set->groups)
    for (const auto& r : g.rules) {
      auto it = status_.find({g.name, r.name});
      kept[{g.name, r.name}] = it != status_.end() ? it->second : RuleStatus();
    }
  status_ = std::move(kept);
  set_ = std::move(set);
}

std::vector<Transition> RuleEngine::Evaluate(double now, const EvalContext& ctx) {
  std::shared_ptr<const RuleSet> set;
  StatusMap status;
  {
    MutexLock lock(&mu_);
    set = set_;
    status = status_;
  }
  std::vector<Transition> out;
  uint64_t failures = 0;
  for (const auto& g : set->groups) {
    for (const auto& r : g.rules) {
      RuleStatus& s = status[{g.name, r.name}];
      const auto t0 = std::chrono::steady_clock::now();
      s.evidence.clear();
      s.value = r.expr->Eval(ctx, &s.evidence);
      s.last_eval = now;
      const RuleState before = s.state;
      if (s.value) {
        s.last_match = now;
        if (s.state == RuleState::kInactive) {
          s.state = RuleState::kPending;
          s.active_since = now;
        }
        if (s.state == RuleState::kPending && now - s.active_since >= r.for_s) {
          s.state = RuleState::kFiring;
          s.fired_at = now;
        }
      } else if (s.state == RuleState::kPending) {
        s.state = RuleState::kInactive;
        s.active_since = -1;
      } else if (s.state == RuleState::kFiring && now - s.last_match >= r.keep_firing_for_s) {
        s.state = RuleState::kInactive;
        s.resolved_at = now;
        s.active_since = -1;
      }
      std::string first_error;
      if (s.state != RuleState::kInactive && s.value) {
        TemplateData data{s.value, &r.labels, &ctx};
        for (const auto& [k, tmpl] : r.annotations) {
          std::string e;
          s.annotations[k] = RenderTemplate(tmpl, data, &e);
          if (!e.empty() && first_error.empty()) first_error = "annotations." + k + ": " + e;
        }
      }
      s.health = first_error.empty() ? RuleHealth::kOk : RuleHealth::kErr;
      s.last_error = first_error;
      if (!first_error.empty()) ++failures;
      s.eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (s.state != before) out.push_back({g.name, r.name, before, s.state, now});
    }
  }
  ApplyInhibitions(*set, now, &status);
  MutexLock lock(&mu_);
  failures_ += failures;
  if (set_ == set) {
    status_ = std::move(status);
  } else {  // a Swap came in meanwhile: the rules it kept take their new state
    for (auto& [key, st] : status)
      if (auto it = status_.find(key); it != status_.end()) it->second = std::move(st);
  }
  return out;
}

void RuleEngine::ApplyInhibitions(const RuleSet& set, double now, StatusMap* status) {
  std::vector<InhibitInput> in;
  std::vector<RuleStatus*> who;
  for (const auto& g : set.groups)
    for (const auto& r : g.rules) {
      RuleStatus& s = (*status)[{g.name, r.name}];
      s.inhibited_by.clear();
      s.held_by.clear();
      if (s.state == RuleState::kInactive) continue;
      const bool firing = s.state == RuleState::kFiring;
      in.push_back({&r.labels, firing, firing ? now - s.fired_at : 0, r.for_s});
      who.push_back(&s);
    }
  if (set.inhibits.empty() || in.empty()) return;
  const auto res = Inhibit(set.inhibits, in);
  for (size_t i = 0; i < res.size(); ++i) {
    who[i]->inhibited_by = res[i].inhibited_by;
    who[i]->held_by = res[i].held_by;
  }
}

std::vector<RuleEngine::View> RuleEngine::Snapshot() const {
  MutexLock lock(&mu_);
  std::vector<View> out;
  for (const auto& g : set_->groups)
    for (const auto& r : g.rules) {
      auto it = status_.find({g.name, r.name});
      out.push_back({r, it == status_.end() ? RuleStatus() : it->second});
    }
  return out;
}

size_t RuleEngine::size() const {
  MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& g : set_->groups) n += g.rules.size();
  return n;
}

uint64_t RuleEngine::evaluation_failures() const {
  MutexLock lock(&mu_);
  return failures_;
}

}  // namespace vigil::rules
