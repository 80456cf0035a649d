// Rule files, the rule state machine and annotation templates on synthetic
// signals: no model.
#include "rules/rules.h"

#include <gtest/gtest.h>

#include <map>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "rules/template.h"
#include "test_util.h"

namespace vigil::rules {
namespace {

class Ctx : public EvalContext {
 public:
  std::map<std::string, double> v;
  double now = 0;
  double Now() const override { return now; }
  Value Latest(const std::string& s) const override {
    auto it = v.find(s);
    return it == v.end() ? std::nullopt : Value(it->second);
  }
  std::vector<std::pair<double, double>> Range(const std::string&, double) const override { return {}; }
  Value DetectorOutput(const std::string&, const std::vector<std::string>&) const override { return std::nullopt; }
};

const char* kPack = R"(groups:
  - name: pathologies
    rules:
      - alert: KVCacheThrashing
        expr: kv_cache_usage > 0.95 and kv_evictions_per_s > 10 and ttft_p95 > 3
        for: 30s
        keep_firing_for: 1m
        labels: {severity: critical, pathology: kv_thrashing}
        annotations:
          summary: KV cache is thrashing
          description: "KV cache at {{ $value | humanizePercentage }} with {{ query \"kv_evictions_per_s\" | printf \"%.0f\" }} evictions/s"
          recommendation: "Lower max_num_seqs to {{ query \"kv_blocks_total * 0.85 / (avg_sequence_length / block_size)\" | printf \"%.0f\" }}"
        actions: [alert, capture]
)";

TEST(RulesTest, ParsesThePrometheusShape) {
  std::vector<RuleGroup> g;
  Status st = ParseRules(kPack, "pack.yaml", &g);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(g.size(), 1u);
  const Rule& r = g[0].rules[0];
  EXPECT_EQ(r.name, "KVCacheThrashing");
  EXPECT_EQ(r.for_s, 30);
  EXPECT_EQ(r.keep_firing_for_s, 60);
  EXPECT_EQ(r.labels.at("severity"), "critical");
  EXPECT_EQ(r.labels.at("alertname"), "KVCacheThrashing");
  EXPECT_EQ(r.actions, (std::vector<RuleAction>{RuleAction::kAlert, RuleAction::kCapture}));
  EXPECT_EQ(r.line, 4);
}

TEST(RulesTest, LifecycleWithForAndKeepFiringFor) {
  std::vector<RuleGroup> g;
  ASSERT_TRUE(ParseRules(kPack, "pack.yaml", &g).ok());
  RuleEngine eng;
  eng.Swap(std::move(g));
  Ctx c;
  c.v = {{"kv_cache_usage", 0.97},  {"kv_evictions_per_s", 40},   {"ttft_p95", 4},
         {"kv_blocks_total", 1000}, {"avg_sequence_length", 320}, {"block_size", 16}};
  std::vector<std::string> log;
  for (int t = 0; t <= 200; ++t) {
    c.now = t;
    if (t == 60) c.v["ttft_p95"] = 1;  // recovers
    for (const auto& tr : eng.Evaluate(t, c))
      log.push_back(std::to_string(t) + ":" + RuleStateName(tr.from) + "->" + RuleStateName(tr.to));
  }
  EXPECT_EQ(log, (std::vector<std::string>{"0:inactive->pending", "30:pending->firing", "119:firing->inactive"}));
  auto view = eng.Snapshot()[0];
  EXPECT_EQ(view.status.health, RuleHealth::kOk);
  EXPECT_EQ(view.status.resolved_at, 119);
  EXPECT_EQ(view.status.annotations.at("description"), "KV cache at 97% with 40 evictions/s");
  EXPECT_EQ(view.status.annotations.at("recommendation"), "Lower max_num_seqs to 42");
}

TEST(RulesTest, PendingThatStopsMatchingNeverFires) {
  std::vector<RuleGroup> g;
  ASSERT_TRUE(ParseRules(kPack, "pack.yaml", &g).ok());
  RuleEngine eng;
  eng.Swap(std::move(g));
  Ctx c;
  c.v = {{"kv_cache_usage", 0.97}, {"kv_evictions_per_s", 40}, {"ttft_p95", 4}};
  size_t fired = 0;
  for (int t = 0; t < 100; ++t) {
    c.v["ttft_p95"] = (t % 20 < 15) ? 4 : 1;  // matches 15 s at a time, never 30
    for (const auto& tr : eng.Evaluate(t, c)) fired += tr.to == RuleState::kFiring;
  }
  EXPECT_EQ(fired, 0u);
}

TEST(RulesTest, TemplateErrorsShowButNeverStopEvaluation) {
  std::vector<RuleGroup> g;
  ASSERT_TRUE(ParseRules(R"(groups:
  - name: g
    rules:
      - alert: A
        expr: requests_waiting > 1
        annotations: {d: "{{ query \"ttft_p95\" | humanize }} waiting"}
)",
                         "t.yaml", &g)
                  .ok());
  RuleEngine eng;
  eng.Swap(std::move(g));
  Ctx c;
  c.v = {{"requests_waiting", 5}};  // ttft_p95 has no data
  auto tr = eng.Evaluate(0, c);
  ASSERT_EQ(tr.size(), 1u);
  auto v = eng.Snapshot()[0].status;
  EXPECT_EQ(v.state, RuleState::kFiring);
  EXPECT_EQ(v.health, RuleHealth::kErr);
  EXPECT_NE(v.annotations.at("d").find("<error: query \"ttft_p95\" has no data>"), std::string::npos);
}

TEST(RulesTest, ErrorsNameFileLineAndColumn) {
  std::vector<RuleGroup> g;
  Status st = ParseRules(R"(groups:
  - name: g
    rules:
      - alert: A
        expr: ttft_p96 > 3
        for: soon
        annotations: {d: "{{ $value | shout }}"}
        actions: [page]
        severity: high
)",
                         "bad.yaml", &g);
  ASSERT_FALSE(st.ok());
  const std::string& m = st.message();
  EXPECT_NE(m.find("bad.yaml:5:15: expr: unknown signal \"ttft_p96\"; did you mean \"ttft_p95\"?"), std::string::npos)
      << m;
  EXPECT_NE(m.find("bad.yaml:6:14: for: expected a duration"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown template function \"shout\""), std::string::npos) << m;
  EXPECT_NE(m.find("unknown action \"page\""), std::string::npos) << m;
  EXPECT_NE(m.find("bad.yaml:9:9: unknown rule key \"severity\""), std::string::npos) << m;
}

TEST(RulesTest, SwapKeepsStateOfSurvivingRules) {
  std::vector<RuleGroup> g1, g2;
  ASSERT_TRUE(ParseRules(kPack, "pack.yaml", &g1).ok());
  ASSERT_TRUE(ParseRules(kPack, "pack.yaml", &g2).ok());
  RuleEngine eng;
  eng.Swap(std::move(g1));
  Ctx c;
  c.v = {{"kv_cache_usage", 0.97}, {"kv_evictions_per_s", 40}, {"ttft_p95", 4}};
  eng.Evaluate(0, c);
  eng.Swap(std::move(g2));
  EXPECT_EQ(eng.Snapshot()[0].status.state, RuleState::kPending);
}

TEST(TemplateTest, Humanizers) {
  EXPECT_EQ(Humanize(1234567), "1.235M");
  EXPECT_EQ(Humanize(0.0025), "2.5m");
  EXPECT_EQ(HumanizePercentage(0.9712), "97.12%");
  EXPECT_EQ(HumanizeDuration(3725), "1h 2m 5s");
  EXPECT_EQ(HumanizeDuration(0.25), "250ms");
  std::string e;
  std::map<std::string, std::string> labels = {{"severity", "critical"}};
  EXPECT_EQ(
      RenderTemplate("{{ $labels.severity }}: {{ $value | printf \"%.2f\" }}", {Value(1.5), &labels, nullptr}, &e),
      "critical: 1.50");
  EXPECT_TRUE(e.empty());
}

// Readers never wait behind an evaluation: Evaluate works on a copy outside
// the lock (Prometheus' rule manager). The context blocks mid-evaluation
// until the test has taken a snapshot.
TEST(RuleEngineTest, SnapshotsDoNotWaitBehindAnEvaluation) {
  class Blocking : public Ctx {
   public:
    std::mutex* mu;
    std::condition_variable* cv;
    bool* entered;
    bool* release;
    Value Latest(const std::string& s) const override {
      std::unique_lock<std::mutex> lock(*mu);
      *entered = true;
      cv->notify_all();
      cv->wait(lock, [this] { return *release; });
      return Ctx::Latest(s);
    }
  };
  std::vector<RuleGroup> groups;
  ASSERT_TRUE(ParseRules("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: requests_waiting > 1\n",
                         "t.yaml", &groups)
                  .ok());
  RuleEngine engine;
  engine.Swap(std::move(groups));
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  Blocking ctx;
  ctx.mu = &mu;
  ctx.cv = &cv;
  ctx.entered = &entered;
  ctx.release = &release;
  ctx.v["requests_waiting"] = 2;
  std::thread eval([&] { engine.Evaluate(100, ctx); });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return entered; });  // the evaluation is under way, blocked
  }
  const auto views = engine.Snapshot();  // would deadlock if Evaluate held the engine's lock
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].status.state, RuleState::kInactive);  // the state before this evaluation
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  eval.join();
  EXPECT_EQ(engine.Snapshot()[0].status.state, RuleState::kFiring);  // swapped in after
}

}  // namespace
}  // namespace vigil::rules

namespace vigil::rules {
namespace {

TEST(DefaultPackTest, ShippedRulesLoad) {
  std::vector<RuleGroup> g;
  Status st = LoadRules({std::string(VIGIL_TEST_DATA_DIR) + "/../../etc/rules/*.yaml"}, &g);
  ASSERT_TRUE(st.ok()) << st.message();
  std::set<std::string> names;
  for (const auto& grp : g)
    for (const auto& r : grp.rules) names.insert(r.name);
  for (const char* want :
       {"KVCacheThrashing", "PrefillStarvation", "GPUUnderutilization", "KVBlocksLeaking", "OrphanedKVBlocks",
        "RequestsStuck", "PrefixCacheMisses", "KVPressureDrivesLatency", "HighTTFT", "KVCacheNearFull", "QueueBuildUp",
        "LowThroughput", "GPUThrottled", "GPUHardwareErrors"})
    EXPECT_TRUE(names.count(want)) << want;
}

TEST(DefaultPackTest, ThrashingRecommendationIsComputedFromLiveValues) {
  std::vector<RuleGroup> g;
  ASSERT_TRUE(LoadRules({std::string(VIGIL_TEST_DATA_DIR) + "/../../etc/rules/pathologies.yaml"}, &g).ok());
  RuleEngine eng;
  eng.Swap(std::move(g));
  Ctx c;
  c.v = {{"kv_cache_usage", 0.98},      {"kv_evictions_per_s", 25}, {"ttft_p95", 4.5},   {"kv_blocks_total", 4096},
         {"avg_sequence_length", 1450}, {"block_size", 16},         {"max_num_seqs", 64}};
  for (int t = 0; t <= 31; ++t) {
    c.now = t;
    eng.Evaluate(t, c);
  }
  for (const auto& v : eng.Snapshot()) {
    if (v.rule.name != "KVCacheThrashing") continue;
    EXPECT_EQ(v.status.state, RuleState::kFiring);
    // 4096 * 0.85 / (1450 / 16) = 38.4
    EXPECT_EQ(v.status.annotations.at("recommendation").substr(0, 27), "Lower max_num_seqs to 38 (f");
    EXPECT_EQ(v.status.health, RuleHealth::kOk) << v.status.last_error;
  }
}

}  // namespace
}  // namespace vigil::rules

#include "rules/rule_tester.h"

namespace vigil::rules {
namespace {

TEST(RuleTestRunnerTest, ExpandsPromtoolNotation) {
  std::vector<double> v;
  ASSERT_TRUE(ExpandSeries("0+10x3 100 _ -1-2x2 7x1", &v).ok());
  ASSERT_EQ(v.size(), 11u);
  EXPECT_EQ(v[3], 30);
  EXPECT_EQ(v[4], 100);
  EXPECT_TRUE(std::isnan(v[5]));
  EXPECT_EQ(v[8], -5);
  EXPECT_EQ(v[10], 7);
  EXPECT_FALSE(ExpandSeries("1+x3", &v).ok());
  EXPECT_FALSE(ExpandSeries("abc", &v).ok());
}

TEST(RuleTestRunnerTest, AWrongExpectationFails) {
  vigil::testing::TempDir dir;
  vigil::testing::WriteFile(dir.File("r.yaml"),
                            "groups:\n  - name: g\n    rules:\n      - alert: Q\n"
                            "        expr: requests_waiting > 5\n        for: 30s\n"
                            "        labels: {severity: warning}\n");
  vigil::testing::WriteFile(dir.File("t.yaml"), R"(rule_files: [r.yaml]
evaluation_interval: 15s
tests:
  - interval: 15s
    input_series: [{series: requests_waiting, values: '10x10'}]
    alert_rule_test:
      - {eval_time: 15s, alertname: Q, exp_alerts: [{exp_labels: {severity: warning}}]}
      - {eval_time: 1m, alertname: Q, exp_alerts: [{exp_labels: {severity: critical}}]}
      - {eval_time: 2m, alertname: Q, exp_alerts: [{exp_labels: {severity: warning}}]}
)");
  RuleTestResult r;
  ASSERT_TRUE(RunRuleTestFile(dir.File("t.yaml"), &r).ok());
  EXPECT_EQ(r.cases, 3);
  ASSERT_EQ(r.failures, 2);  // not firing yet at 15s; wrong severity at 1m
  EXPECT_NE(r.messages[0].find("expected 1 firing, got 0"), std::string::npos) << r.messages[0];
  EXPECT_NE(r.messages[1].find("label severity=\"warning\", want \"critical\""), std::string::npos) << r.messages[1];
}

}  // namespace
}  // namespace vigil::rules
