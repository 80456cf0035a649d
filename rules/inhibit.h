// Inhibition, with Alertmanager's inhibit_rules semantics: while a source
// alert fires, target alerts whose `equal` labels match its own are muted
// (listed with inhibitedBy, no notification, no capture). An alert never
// inhibits itself. Vigil adds one thing: while a source is still pending,
// a target's capture is held back (heldBy), for at most that source's `for`,
// so the capture goes to the root cause rather than its first symptom.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/matcher.h"
#include "common/status.h"

namespace vigil::rules {

using Labels = std::map<std::string, std::string>;

// Alertmanager's fields: the matcher-string form and the older map forms.
struct InhibitRuleSpec {
  std::vector<std::string> source_matchers, target_matchers;
  std::map<std::string, std::string> source_match, target_match, source_match_re, target_match_re;
  std::vector<std::string> equal;
};

struct InhibitRule {
  MatcherSet source, target;
  std::vector<std::string> equal;
};

// On error `field` (may be null) names the key at fault as the user wrote
// it: "target_matchers[1]", "source_match_re.alertname", "equal[0]", or
// "source_matchers" when a side has no matcher at all.
Status MakeInhibitRule(const InhibitRuleSpec& spec, InhibitRule* out, std::string* field = nullptr);

struct InhibitInput {
  const Labels* labels;
  bool firing;          // else pending
  double firing_for_s;  // a firing alert: seconds since it fired
  double hold_s;        // a pending source: how long it may hold a target's capture (its `for`)
};
struct Inhibition {
  std::vector<std::string> inhibited_by;  // alertnames of firing sources
  std::vector<std::string> held_by;       // alertnames of pending sources (captures wait)
};

// One result per input. Pending inputs are never inhibited themselves.
std::vector<Inhibition> Inhibit(const std::vector<InhibitRule>& rules, const std::vector<InhibitInput>& alerts);

}  // namespace vigil::rules
