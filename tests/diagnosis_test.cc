// The primary diagnosis of /health/report from synthetic rule views: a root
// cause first, then severity, then the earliest; inhibited rules are symptoms.
#include "daemon/diagnosis.h"

#include <gtest/gtest.h>

namespace vigil::daemon {
namespace {

rules::RuleEngine::View View(const std::string& name, const std::string& severity, const std::string& pathology,
                             double fired_at, std::vector<std::string> inhibited_by = {}) {
  rules::RuleEngine::View v;
  v.rule.name = name;
  v.rule.labels = {{"alertname", name}, {"severity", severity}};
  if (!pathology.empty()) v.rule.labels["pathology"] = pathology;
  v.status.state = rules::RuleState::kFiring;
  v.status.fired_at = fired_at;
  v.status.inhibited_by = std::move(inhibited_by);
  v.status.annotations = {{"summary", name + " summary"}, {"recommendation", "fix " + name}};
  return v;
}

TEST(DiagnosisTest, HealthyWhenNothingFires) {
  auto v = View("A", "critical", "p", 1);
  v.status.state = rules::RuleState::kPending;
  const auto d = Diagnosis({v});
  EXPECT_EQ(d["status"], "healthy");
  EXPECT_TRUE(d["primary"].is_null());
  EXPECT_TRUE(d["symptoms"].empty());
}

TEST(DiagnosisTest, RootCauseFirstThenSeverityThenEarliest) {
  // A classic alert without a pathology is never preferred to a diagnosis.
  auto d = Diagnosis({View("HighTTFT", "critical", "", 1), View("Leak", "warning", "memory_leak", 5)});
  EXPECT_EQ(d["primary"]["alert"], "Leak");
  EXPECT_EQ(d["primary"]["recommendation"], "fix Leak");
  ASSERT_EQ(d["symptoms"].size(), 1u);
  EXPECT_EQ(d["symptoms"][0]["alert"], "HighTTFT");
  EXPECT_EQ(d["status"], "critical");
  d = Diagnosis({View("Warn", "warning", "a", 1), View("Crit", "critical", "b", 9)});
  EXPECT_EQ(d["primary"]["alert"], "Crit");
  d = Diagnosis({View("Late", "critical", "a", 9), View("Early", "critical", "b", 2)});
  EXPECT_EQ(d["primary"]["alert"], "Early");
  d = Diagnosis({View("Page", "page", "a", 1), View("Info", "info", "b", 0)});
  EXPECT_EQ(d["primary"]["alert"], "Page") << "an unknown severity ranks above info";
  d = Diagnosis({View("Classic", "warning", "", 1)});
  EXPECT_EQ(d["primary"]["alert"], "Classic") << "without a pathology rule, any alert";
}

TEST(DiagnosisTest, InhibitedRulesAreSymptoms) {
  auto d = Diagnosis(
      {View("Starve", "critical", "prefill_starvation", 1, {"Thrash"}), View("Thrash", "critical", "kv_thrashing", 5)});
  EXPECT_EQ(d["primary"]["alert"], "Thrash") << "though the symptom fired first";
  ASSERT_EQ(d["symptoms"].size(), 1u);
  EXPECT_EQ(d["symptoms"][0]["inhibitedBy"][0], "Thrash");
  EXPECT_EQ(d["firing"].size(), 2u);
  // An inhibition cycle leaves nothing uninhibited: still name the best one.
  d = Diagnosis({View("A", "warning", "a", 1, {"B"}), View("B", "critical", "b", 2, {"A"})});
  EXPECT_EQ(d["primary"]["alert"], "B");
}

}  // namespace
}  // namespace vigil::daemon
