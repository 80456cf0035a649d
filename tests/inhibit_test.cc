// Inhibition: Alertmanager's inhibit_rules semantics over the rule engine's
// firing set, the capture hold while a root cause is pending, and
// inhibit_rules in rule files with positioned errors.
#include "rules/inhibit.h"

#include <gtest/gtest.h>

#include <map>

#include "rules/rules.h"

namespace vigil::rules {
namespace {

InhibitRule Make(std::vector<std::string> src, std::vector<std::string> tgt, std::vector<std::string> equal = {}) {
  InhibitRuleSpec spec;
  spec.source_matchers = std::move(src);
  spec.target_matchers = std::move(tgt);
  spec.equal = std::move(equal);
  InhibitRule r;
  Status st = MakeInhibitRule(spec, &r);
  EXPECT_TRUE(st.ok()) << st.message();
  return r;
}

TEST(InhibitTest, FiringSourceMutesMatchingTargetsWithEqualLabels) {
  const auto rule = Make({"alertname=Thrash"}, {"alertname=~\"Starve|HighTTFT\""}, {"target"});
  Labels thrash_a = {{"alertname", "Thrash"}, {"target", "a"}};
  Labels starve_a = {{"alertname", "Starve"}, {"target", "a"}};
  Labels starve_b = {{"alertname", "Starve"}, {"target", "b"}};
  Labels other = {{"alertname", "Other"}, {"target", "a"}};
  const auto res = Inhibit(
      {rule}, {{&thrash_a, true, 5, 0}, {&starve_a, true, 9, 0}, {&starve_b, true, 9, 0}, {&other, true, 1, 0}});
  EXPECT_TRUE(res[0].inhibited_by.empty());
  EXPECT_EQ(res[1].inhibited_by, std::vector<std::string>{"Thrash"});
  EXPECT_TRUE(res[2].inhibited_by.empty()) << "another engine's thrashing explains nothing here";
  EXPECT_TRUE(res[3].inhibited_by.empty()) << "not a target";
}

TEST(InhibitTest, LabelsAbsentOnBothSidesAreEqualAndNothingInhibitsItself) {
  const auto rule = Make({"severity=critical"}, {"severity=~\".*\""}, {"target"});
  Labels a = {{"alertname", "A"}, {"severity", "critical"}};
  Labels b = {{"alertname", "B"}, {"severity", "warning"}};
  const auto alone = Inhibit({rule}, {{&a, true, 0, 0}});
  EXPECT_TRUE(alone[0].inhibited_by.empty()) << "a source never inhibits itself";
  const auto both = Inhibit({rule}, {{&a, true, 0, 0}, {&b, true, 0, 0}});
  EXPECT_TRUE(both[0].inhibited_by.empty());
  EXPECT_EQ(both[1].inhibited_by, std::vector<std::string>{"A"});
}

// Alertmanager's rule: alerts that each match both sides never mute each other.
TEST(InhibitTest, AlertsMatchingBothSidesDoNotMuteEachOther) {
  const auto rule = Make({"severity=critical"}, {"severity=~\"warning|critical\""}, {"pathology"});
  Labels a = {{"alertname", "A"}, {"severity", "critical"}, {"pathology", "p"}};
  Labels b = {{"alertname", "B"}, {"severity", "critical"}, {"pathology", "p"}};
  Labels w = {{"alertname", "W"}, {"severity", "warning"}, {"pathology", "p"}};
  const auto res = Inhibit({rule}, {{&a, true, 0, 0}, {&b, true, 0, 0}, {&w, true, 0, 0}});
  EXPECT_TRUE(res[0].inhibited_by.empty());
  EXPECT_TRUE(res[1].inhibited_by.empty());
  EXPECT_EQ(res[2].inhibited_by, (std::vector<std::string>{"A", "B"}));
}

TEST(InhibitTest, PendingSourceHoldsCapturesForAtMostItsFor) {
  const auto rule = Make({"alertname=Thrash"}, {"alertname=Starve"});
  Labels thrash = {{"alertname", "Thrash"}};
  Labels starve = {{"alertname", "Starve"}};
  // Thrash pending with for 30s; Starve fired 10 s ago: held, not inhibited.
  auto res = Inhibit({rule}, {{&thrash, false, 0, 30}, {&starve, true, 10, 0}});
  EXPECT_TRUE(res[1].inhibited_by.empty());
  EXPECT_EQ(res[1].held_by, std::vector<std::string>{"Thrash"});
  // After the source's `for` the hold lapses: the cause did not come.
  res = Inhibit({rule}, {{&thrash, false, 0, 30}, {&starve, true, 31, 0}});
  EXPECT_TRUE(res[1].held_by.empty());
  // A pending target is neither inhibited nor held.
  res = Inhibit({rule}, {{&thrash, true, 0, 30}, {&starve, false, 0, 0}});
  EXPECT_TRUE(res[1].inhibited_by.empty());
}

TEST(InhibitTest, OldMapFieldsAndErrorsNameTheField) {
  InhibitRuleSpec spec;
  spec.source_match = {{"alertname", "Thrash"}};
  spec.target_match_re = {{"alertname", "Starve|HighTTFT"}};
  InhibitRule r;
  ASSERT_TRUE(MakeInhibitRule(spec, &r).ok());
  Labels t = {{"alertname", "HighTTFT"}}, s = {{"alertname", "Thrash"}};
  EXPECT_EQ(Inhibit({r}, {{&s, true, 0, 0}, {&t, true, 0, 0}})[1].inhibited_by, std::vector<std::string>{"Thrash"});

  InhibitRuleSpec bad;
  bad.source_matchers = {"alertname=Thrash"};
  bad.target_matchers = {"alertname=X", "alertname=~\"(\""};
  std::string field;
  Status st = MakeInhibitRule(bad, &r, &field);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(field, "target_matchers[1]");
  InhibitRuleSpec empty;
  empty.target_matchers = {"alertname=X"};
  st = MakeInhibitRule(empty, &r, &field);
  EXPECT_EQ(field, "source_matchers");
  EXPECT_NE(st.message().find("at least one matcher"), std::string::npos) << st.message();
  InhibitRuleSpec bad_re = spec;
  bad_re.target_match_re = {{"alertname", "("}};
  EXPECT_FALSE(MakeInhibitRule(bad_re, &r, &field).ok());
  EXPECT_EQ(field, "target_match_re.alertname");
  InhibitRuleSpec bad_equal = spec;
  bad_equal.equal = {"target", "not a label"};
  EXPECT_FALSE(MakeInhibitRule(bad_equal, &r, &field).ok());
  EXPECT_EQ(field, "equal[1]");
}

class Ctx : public EvalContext {
 public:
  std::map<std::string, double> v;
  double Now() const override { return 0; }
  Value Latest(const std::string& s) const override {
    auto it = v.find(s);
    return it == v.end() ? std::nullopt : Value(it->second);
  }
  std::vector<std::pair<double, double>> Range(const std::string&, double) const override { return {}; }
  Value DetectorOutput(const std::string&, const std::vector<std::string>&) const override { return std::nullopt; }
};

const char* kFile = R"(groups:
  - name: g
    rules:
      - alert: Thrash
        expr: kv_cache_usage > 0.95
        for: 20s
        labels: {severity: critical}
      - alert: Starve
        expr: ttft_p95 > 5
        labels: {severity: critical}
inhibit_rules:
  - source_matchers: ['alertname="Thrash"']
    target_matchers: ['alertname="Starve"']
)";

TEST(InhibitTest, RuleEngineAppliesRuleFileInhibitions) {
  std::vector<RuleGroup> groups;
  std::vector<InhibitRule> inhibits;
  Status st = ParseRules(kFile, "pack.yaml", &groups, &inhibits);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(inhibits.size(), 1u);
  RuleEngine engine;
  engine.Swap(std::move(groups), std::move(inhibits));
  Ctx ctx;
  ctx.v = {{"kv_cache_usage", 0.99}, {"ttft_p95", 8}};
  auto status = [&](const std::string& name) {
    for (const auto& v : engine.Snapshot())
      if (v.rule.name == name) return v.status;
    return RuleStatus();
  };
  engine.Evaluate(0, ctx);  // Starve fires at once; Thrash is pending (for 20s)
  EXPECT_EQ(status("Starve").state, RuleState::kFiring);
  EXPECT_TRUE(status("Starve").inhibited_by.empty());
  EXPECT_EQ(status("Starve").held_by, std::vector<std::string>{"Thrash"});
  engine.Evaluate(20, ctx);  // Thrash fires: Starve becomes its symptom
  EXPECT_EQ(status("Thrash").state, RuleState::kFiring);
  EXPECT_EQ(status("Starve").inhibited_by, std::vector<std::string>{"Thrash"});
  EXPECT_EQ(status("Starve").state, RuleState::kFiring) << "inhibition mutes; the rule still fires";
  ctx.v["kv_cache_usage"] = 0.5;
  engine.Evaluate(30, ctx);  // Thrash resolves: Starve pages again
  EXPECT_TRUE(status("Starve").inhibited_by.empty());
}

TEST(InhibitTest, RuleFileErrorsHaveFileLineAndField) {
  std::vector<RuleGroup> groups;
  std::vector<InhibitRule> inhibits;
  Status st = ParseRules("inhibit_rules:\n  - source_matchers: ['alertname=A']\n    target_matchers: ['=x']\n",
                         "i.yaml", &groups, &inhibits);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("i.yaml:3:23: inhibit_rules[0].target_matchers[0]: matcher \"=x\""), std::string::npos)
      << st.message();
  st =
      ParseRules("inhibit_rules:\n  - source_matchers: ['alertname=A']\n    target: x\n", "i.yaml", &groups, &inhibits);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("i.yaml:3:5: inhibit_rules[0]: unknown key \"target\""), std::string::npos)
      << st.message();
  ASSERT_TRUE(ParseRules("inhibit_rules: []\n", "only.yaml", &groups, &inhibits).ok()) << "a file of inhibitions only";
}

}  // namespace
}  // namespace vigil::rules
