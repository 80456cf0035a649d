// Alerting rules: YAML files in Prometheus' alerting-rule shape over Vigil's
// signals, and the engine that evaluates them after the detectors on every
// tick: inactive -> pending (matched, waiting `for`) -> firing -> resolved
// (no match for `keep_firing_for`).
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "rules/expr.h"
#include "rules/inhibit.h"

namespace vigil::rules {

// What a firing rule does: notify (alert) and/or profile the engine (capture).
enum class RuleAction { kAlert, kCapture };
const char* RuleActionName(RuleAction a);  // "alert", "capture"
// Prometheus' rule health: whether the last evaluation rendered cleanly.
enum class RuleHealth { kUnknown, kOk, kErr };
const char* RuleHealthName(RuleHealth h);  // "unknown", "ok", "err"

struct Rule {
  std::string group;
  std::string name;  // the `alert:` name
  std::string file;
  int line = 0;
  std::shared_ptr<Expr> expr;
  double for_s = 0;
  double keep_firing_for_s = 0;
  std::map<std::string, std::string> labels;       // includes alertname
  std::map<std::string, std::string> annotations;  // templates
  std::vector<RuleAction> actions;                 // default: alert
  bool Has(RuleAction a) const { return std::find(actions.begin(), actions.end(), a) != actions.end(); }
};

struct RuleGroup {
  std::string name;
  std::string file;
  std::vector<Rule> rules;
};

// One file's text: `groups:` and/or `inhibit_rules:` (Alertmanager's
// fields), so a pack ships the inhibitions between its own rules. Every
// error, each "file:line:col: message", one per line. `inhibits` may be null.
Status ParseRules(const std::string& yaml_text, const std::string& source, std::vector<RuleGroup>* out,
                  std::vector<InhibitRule>* inhibits = nullptr);
// Only the `inhibit_rules:` key of a YAML document that holds others too
// (a rule test file); absent is fine.
Status ParseInhibitRulesOnly(const std::string& yaml_text, const std::string& source, std::vector<InhibitRule>* out);
// Files or globs; a pattern that matches nothing is an error (NotFound when
// that is every error, so a caller can tell "no files" from bad files).
Status LoadRules(const std::vector<std::string>& patterns, std::vector<RuleGroup>* out,
                 std::vector<InhibitRule>* inhibits = nullptr);

enum class RuleState { kInactive, kPending, kFiring };
const char* RuleStateName(RuleState s);

struct RuleStatus {
  RuleState state = RuleState::kInactive;
  double active_since = -1;  // unix seconds
  double last_match = -1;
  double fired_at = -1;
  double resolved_at = -1;
  Value value;
  std::vector<std::pair<std::string, Value>> evidence;
  std::map<std::string, std::string> annotations;  // rendered
  RuleHealth health = RuleHealth::kUnknown;
  std::string last_error;
  double last_eval = -1;
  double eval_seconds = 0;
  // Firing rules only: the firing rules that inhibit this one (it sends
  // nothing, takes no capture) and the pending ones that hold its capture.
  std::vector<std::string> inhibited_by;
  std::vector<std::string> held_by;
};

struct Transition {
  std::string group, name;
  RuleState from, to;
  double at;
};

class RuleEngine {
 public:
  // Replaces the whole set at once; rules that keep their group and name
  // keep their state.
  void Swap(std::vector<RuleGroup> groups, std::vector<InhibitRule> inhibits = {}) EXCLUDES(mu_);
  // Evaluates every rule, then inhibition over the result. The evaluation
  // runs outside the lock on a copy of the state, which is swapped in after
  // (as Prometheus' rule manager does), so readers (Snapshot: /metrics, the
  // API, the report) never wait behind a tick. One evaluator at a time.
  std::vector<Transition> Evaluate(double now, const EvalContext& ctx) EXCLUDES(mu_);

  struct View {
    Rule rule;
    RuleStatus status;
  };
  std::vector<View> Snapshot() const;
  size_t size() const;
  uint64_t evaluation_failures() const;

 private:
  struct RuleSet {  // immutable once installed: evaluations hold it without the lock
    std::vector<RuleGroup> groups;
    std::vector<InhibitRule> inhibits;
  };
  using StatusMap = std::map<std::pair<std::string, std::string>, RuleStatus>;
  static void ApplyInhibitions(const RuleSet& set, double now, StatusMap* status);

  mutable Mutex mu_;
  std::shared_ptr<const RuleSet> set_ GUARDED_BY(mu_) = std::make_shared<RuleSet>();
  StatusMap status_ GUARDED_BY(mu_);
  uint64_t failures_ GUARDED_BY(mu_) = 0;
};

}  // namespace vigil::rules
