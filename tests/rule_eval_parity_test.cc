// One rule evaluation: the same rule file and series give the same firing
// times through `vigilctl rules test` (RunRuleTestFile) and through a live
// Pipeline ticking on a ManualClock's time over a hosted engine's stats.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "pipeline/pipeline.h"
#include "rules/rule_tester.h"
#include "rules/rules.h"
#include "test_util.h"

namespace vigil {
namespace {

// Rules over gauges the hosted deriver passes through as read: a `for:`
// hold, a ratio, a window function and a delta over a range.
constexpr const char* kRules = R"(groups:
  - name: parity
    rules:
      - alert: QueueHigh
        expr: requests_waiting > 5
        for: 3s
      - alert: QueueOverBatch
        expr: requests_waiting / requests_running > 2
      - alert: QueueAvgHigh
        expr: avg_over_time(requests_waiting[5s]) > 6
        for: 2s
      - alert: QueueGrowing
        expr: delta(requests_waiting[3s]) > 4
)";

const std::vector<std::string> kAlerts = {"QueueHigh", "QueueOverBatch", "QueueAvgHigh", "QueueGrowing"};

// One value per second.
std::vector<double> Waiting() {
  std::vector<double> v;
  for (int i = 0; i < 5; ++i) v.push_back(0);
  for (int i = 0; i < 6; ++i) v.push_back(10);
  for (int i = 0; i < 4; ++i) v.push_back(2);
  for (int i = 0; i < 2; ++i) v.push_back(9);  // shorter than QueueHigh's hold
  for (int i = 0; i < 3; ++i) v.push_back(1);
  for (int i = 0; i < 8; ++i) v.push_back(3 + 2.0 * i);
  for (int i = 0; i < 4; ++i) v.push_back(0);
  return v;
}
std::vector<double> Running() {
  std::vector<double> v;
  for (size_t i = 0; i < Waiting().size(); ++i) v.push_back(i < 15 ? 4 : 3);
  return v;
}

std::string Join(const std::vector<double>& v) {
  std::string s;
  for (double x : v) s += (s.empty() ? "" : " ") + std::to_string(x);
  return s;
}

using Firing = std::map<int, std::set<std::string>>;  // second -> alerts firing

Firing FromTester(const std::string& dir, int seconds) {
  std::ofstream(dir + "/parity.yaml") << kRules;
  std::ofstream t(dir + "/parity_test.yaml");
  t << "rule_files: [parity.yaml]\nevaluation_interval: 1s\ntests:\n  - interval: 1s\n    input_series:\n"
    << "      - series: requests_waiting\n        values: '" << Join(Waiting()) << "'\n"
    << "      - series: requests_running\n        values: '" << Join(Running()) << "'\n"
    << "    alert_rule_test:\n";
  for (int s = 0; s < seconds; ++s)
    for (const auto& a : kAlerts) t << "      - eval_time: " << s << "s\n        alertname: " << a << "\n";
  t.close();
  rules::RuleTestResult result;
  rules::RuleTestRecord record;
  Status st = rules::RunRuleTestFile(dir + "/parity_test.yaml", &result, &record);
  EXPECT_TRUE(st.ok()) << st.message();
  Firing out;
  if (record.cases.empty()) return out;
  for (const auto& c : record.cases[0].checks) {
    auto& set = out[static_cast<int>(std::lround(c.eval_time))];
    if (!c.firing.empty()) set.insert(c.alertname);
  }
  return out;
}

Firing FromPipeline(const std::string& dir, int seconds) {
  ManualClock clock;
  const double t0 = clock.UnixNow();
  const auto waiting = Waiting(), running = Running();
  pipeline::PipelineConfig cfg;
  cfg.interval_s = 1;
  cfg.clock = &clock;
  std::unique_ptr<pipeline::Pipeline> p;
  Status st = pipeline::Pipeline::Create(
      cfg,
      [&] {
        engine::EngineStats s;
        const size_t i = static_cast<size_t>(std::lround(clock.UnixNow() - t0));
        s.requests_waiting = static_cast<int64_t>(waiting[std::min(i, waiting.size() - 1)]);
        s.requests_running = static_cast<int64_t>(running[std::min(i, running.size() - 1)]);
        return s;
      },
      &p);
  EXPECT_TRUE(st.ok()) << st.message();
  std::vector<rules::RuleGroup> groups;
  std::vector<rules::InhibitRule> inhibits;
  st = rules::LoadRules({dir + "/parity.yaml"}, &groups, &inhibits);
  EXPECT_TRUE(st.ok()) << st.message();
  p->SetRules(std::move(groups), std::move(inhibits));

  // The hook sees what the daemon's consumers see after each tick.
  Firing out;
  p->SetHook([&](const pipeline::TickResult& tick) {
    std::set<std::string>& firing = out[static_cast<int>(std::lround(tick.now - t0))];
    for (const auto& it : tick.instances)
      for (const auto& v : it.views)
        if (v.status.state == rules::RuleState::kFiring) firing.insert(v.rule.name);
  });
  // The loop's own tick (TickOnce) at each second of the clock, on this
  // thread: Start()'s loop would skip a slot the clock passed mid-tick,
  // which a test that moves the clock from outside cannot rule out.
  for (int s = 0; s < seconds; ++s) {
    if (s > 0) clock.Advance(1);
    p->TickOnce(clock.UnixNow(), 0);
  }
  return out;
}

TEST(RuleEvalParityTest, TesterAndLivePipelineFireAtTheSameTimes) {
  testing::TempDir dir;
  const int seconds = static_cast<int>(Waiting().size());
  const Firing tester = FromTester(dir.path(), seconds);
  const Firing live = FromPipeline(dir.path(), seconds);
  ASSERT_EQ(tester.size(), static_cast<size_t>(seconds));
  ASSERT_EQ(live.size(), static_cast<size_t>(seconds));
  std::set<std::string> ever;
  for (int s = 0; s < seconds; ++s) {
    EXPECT_EQ(tester.at(s), live.at(s)) << "at " << s << " s";
    ever.insert(tester.at(s).begin(), tester.at(s).end());
  }
  // The series exercise every rule, so a vacuous match cannot pass.
  EXPECT_EQ(ever, std::set<std::string>(kAlerts.begin(), kAlerts.end()));
}

}  // namespace
}  // namespace vigil
