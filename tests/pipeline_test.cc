// The monitoring pipeline: the hosted engine and scraped targets as
// instances, FetchTarget's errors, TargetDown through the rules, the grid.
// Scraped targets are a real HTTP server in the test; rule time is driven.
#include "pipeline/pipeline.h"

#include <cmath>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <thread>

#include "common/clock.h"
#include "common/os_util.h"
#include "pipeline/coverage.h"
#include "rules/rules.h"
#include "test_util.h"

namespace vigil::pipeline {
namespace {

using vigil::testing::WaitFor;

// vLLM with two engine cores (data parallel), as vllm/v1/metrics/loggers.py names them.
std::string VllmBody(double running0, double tokens0) {
  std::string b = "# TYPE vllm:num_requests_running gauge\n";
  b += "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} " + std::to_string(running0) + "\n";
  b += "vllm:num_requests_running{engine=\"1\",model_name=\"m\"} 0\n";
  b += "# TYPE vllm:num_requests_waiting gauge\n";
  b += "vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 0\n";
  b += "vllm:num_requests_waiting{engine=\"1\",model_name=\"m\"} 0\n";
  b += "# TYPE vllm:generation_tokens counter\n";
  b += "vllm:generation_tokens_total{engine=\"0\",model_name=\"m\"} " + std::to_string(tokens0) + "\n";
  b += "vllm:generation_tokens_total{engine=\"1\",model_name=\"m\"} 5\n";
  return b;
}

class FakeServer {
 public:
  FakeServer() : port_(FreeLoopbackPort()) {
    srv_.Get("/metrics", [this](const httplib::Request& q, httplib::Response& r) {
      std::unique_lock<std::mutex> lock(mu);
      held_cv.wait(lock, [this] { return !held; });  // a slow target: answers once the test lets it
      if (!token.empty() && q.get_header_value("Authorization") != "Bearer " + token) {
        r.status = 401;
        return;
      }
      r.status = metrics_status;
      r.set_content(body, "text/plain; version=0.0.4");
    });
    srv_.Get("/health", [this](const httplib::Request&, httplib::Response& r) { r.status = health_status.load(); });
    EXPECT_TRUE(srv_.bind_to_port("127.0.0.1", port_));  // bound before the first scrape
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
  }
  ~FakeServer() {
    Release();
    srv_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void SetBody(std::string b) {
    std::lock_guard<std::mutex> lock(mu);
    body = std::move(b);
  }
  void SetToken(std::string t) {
    std::lock_guard<std::mutex> lock(mu);
    token = std::move(t);
  }
  void Hold() {
    std::lock_guard<std::mutex> lock(mu);
    held = true;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu);
      held = false;
    }
    held_cv.notify_all();
  }

  std::mutex mu;
  std::string body = VllmBody(1, 10);  // guarded by mu
  std::atomic<int> metrics_status{200};
  std::string token;  // guarded by mu
  std::atomic<int> health_status{200};
  bool held = false;  // guarded by mu
  std::condition_variable held_cv;

 private:
  int port_;
  httplib::Server srv_;
  std::thread thread_;
};

TargetConfig Target(const std::string& name, const std::string& url) {
  TargetConfig t;
  t.name = name;
  t.url = url;
  t.scrape_timeout_s = 2;
  return t;
}

std::vector<rules::RuleGroup> Rules(const std::string& yaml) {
  std::vector<rules::RuleGroup> g;
  Status st = rules::ParseRules(yaml, "test.yaml", &g);
  EXPECT_TRUE(st.ok()) << st.message();
  return g;
}

const char* kTargetDown = R"(groups:
  - name: watch
    rules:
      - alert: TargetDown
        expr: target_up < 1
        for: 3s
)";

TEST(SplitTargetUrlTest, BaseAndPath) {
  std::string base, path;
  ASSERT_TRUE(SplitTargetUrl("http://127.0.0.1:8000", &base, &path).ok());
  EXPECT_EQ(base, "http://127.0.0.1:8000");
  EXPECT_EQ(path, "/metrics");
  ASSERT_TRUE(SplitTargetUrl("https://h:1/custom/metrics", &base, &path).ok());
  EXPECT_EQ(base, "https://h:1");
  EXPECT_EQ(path, "/custom/metrics");
  EXPECT_FALSE(SplitTargetUrl("ftp://h:1", &base, &path).ok());
  EXPECT_FALSE(SplitTargetUrl("127.0.0.1:8000", &base, &path).ok());
  EXPECT_FALSE(SplitTargetUrl("http:///metrics", &base, &path).ok());
  EXPECT_FALSE(SplitTargetUrl("http://h:1/metrics?x=1", &base, &path).ok());
}

TEST(FetchTargetTest, ReadsEveryEngineAndTheHealthEndpoint) {
  FakeServer s;
  const ScrapeResult r = FetchTarget(Target("t", s.url()), "", 100);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.kind, scrape::EngineKind::kVllm);
  ASSERT_EQ(r.readings.size(), 2u);
  EXPECT_EQ(r.readings[0].instance, "0");
  EXPECT_EQ(r.readings[1].instance, "1");
  EXPECT_EQ(r.samples, 6u);
  EXPECT_EQ(r.health, 1);
  s.health_status = 503;
  EXPECT_EQ(FetchTarget(Target("t", s.url()), "", 100).health, 0);
}

TEST(FetchTargetTest, EachFailureHasAReason) {
  FakeServer s;
  TargetConfig small = Target("t", s.url());
  small.limits.max_bytes = 64;
  ScrapeResult r = FetchTarget(small, "", 0);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "too_large");
  EXPECT_TRUE(r.readings.empty());

  s.SetBody("vllm:num_requests_running{engine=\"0\" 1\n");  // a broken label set
  r = FetchTarget(Target("t", s.url()), "", 0);
  EXPECT_EQ(r.reason, "syntax");
  EXPECT_NE(r.error.find("line 1"), std::string::npos) << r.error;

  s.SetBody("# TYPE something_else gauge\nsomething_else 1\n");
  r = FetchTarget(Target("t", s.url()), "", 0);
  EXPECT_EQ(r.reason, "unknown_engine");

  // A hostile target cannot make vigild monitor unbounded instances.
  std::string many = "# TYPE vllm:num_requests_running gauge\n";
  for (int i = 0; i < 70; ++i) many += "vllm:num_requests_running{engine=\"" + std::to_string(i) + "\"} 1\n";
  s.SetBody(many);
  r = FetchTarget(Target("t", s.url()), "", 0);
  EXPECT_EQ(r.reason, "too_many_engines");
  EXPECT_TRUE(r.readings.empty());

  s.SetToken("sekrit");
  r = FetchTarget(Target("t", s.url()), "", 0);
  EXPECT_EQ(r.reason, "http_status");
  EXPECT_NE(r.error.find("401"), std::string::npos);
  s.SetBody(VllmBody(0, 0));
  EXPECT_TRUE(FetchTarget(Target("t", s.url()), "sekrit", 0).ok);

  const std::string closed = "http://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  r = FetchTarget(Target("t", closed), "", 0);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "connect");

  s.Hold();  // answers only after the scrape gave up
  TargetConfig slow = Target("t", s.url());
  slow.scrape_timeout_s = 0.2;
  s.SetToken("");
  r = FetchTarget(slow, "", 0);
  s.Release();
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.reason == "timeout" || r.reason == "read") << r.reason;
}

TEST(PipelineTest, OneInstancePerEngineWithTheirLabels) {
  FakeServer s;
  PipelineConfig cfg;
  cfg.targets = {Target("vllm-a", s.url())};
  std::unique_ptr<Pipeline> p;
  ASSERT_TRUE(Pipeline::Create(cfg, nullptr, &p).ok());
  p->SetRules(Rules(kTargetDown), {});
  p->TickOnce(1000, 5);
  EXPECT_EQ(p->InstanceNames(), (std::vector<std::string>{"vllm-a/0", "vllm-a/1"}));
  const Instance* e0 = p->Find("vllm-a/0");
  ASSERT_NE(e0, nullptr);
  EXPECT_EQ(e0->labels().at("target"), "vllm-a");
  EXPECT_EQ(e0->labels().at("engine"), "0");
  monitor::Point pt;
  ASSERT_TRUE(e0->series().Latest("requests_running", &pt));
  EXPECT_EQ(pt.v, 1);
  ASSERT_TRUE(e0->series().Latest("target_up", &pt));
  EXPECT_EQ(pt.v, 1);
  ASSERT_TRUE(e0->series().Latest("target_health_up", &pt));
  EXPECT_EQ(pt.v, 1);
  // A signal the engine does not expose is absent, never 0.
  EXPECT_FALSE(e0->series().Has("kv_cache_usage"));
  EXPECT_FALSE(WhyUnavailable("kv_cache_usage", e0->missing()).empty());
  // The rules carry the instance's labels.
  const auto views = p->Views();
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[1].rule.labels.at("target"), "vllm-a");
  EXPECT_EQ(views[1].rule.labels.at("engine"), "1");
  const auto targets = p->Targets();
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_TRUE(targets[0].up);
  EXPECT_EQ(targets[0].kind, "vllm");
  EXPECT_EQ(targets[0].instances.size(), 2u);
}

TEST(PipelineTest, TargetDownFiresWhileScrapesFailAndResolvesWhenTheyWork) {
  auto server = std::make_unique<FakeServer>();
  PipelineConfig cfg;
  cfg.targets = {Target("t", server->url())};
  std::unique_ptr<Pipeline> p;
  ASSERT_TRUE(Pipeline::Create(cfg, nullptr, &p).ok());
  p->SetRules(Rules(std::string(kTargetDown) + "      - alert: Busy\n        expr: requests_running > 0\n"), {});
  std::vector<std::string> fired;
  p->SetHook([&](const TickResult& tick) {
    for (const auto& it : tick.instances)
      for (const auto& t : it.transitions)
        if (t.to == rules::RuleState::kFiring) fired.push_back(it.id.Name() + ":" + t.name);
  });
  double now = 1000;
  p->TickOnce(now, 5);
  EXPECT_EQ(fired, (std::vector<std::string>{"t/0:Busy"}));  // engine 0 runs a request
  fired.clear();
  server->health_status = 200;
  server->metrics_status = 500;
  p->TickOnce(now += 1, 5);
  // A failed scrape leaves its last figures stale: Busy no longer matches.
  for (const auto& v : p->Views())
    if (v.rule.name == "Busy") { EXPECT_EQ(v.status.state, rules::RuleState::kInactive); }
  for (int i = 0; i < 4; ++i) p->TickOnce(now += 1, 5);
  // Both engine instances saw the failure and waited out `for: 3s`.
  EXPECT_EQ(fired, (std::vector<std::string>{"t/0:TargetDown", "t/1:TargetDown"}));
  EXPECT_FALSE(p->Targets()[0].up);
  EXPECT_EQ(p->Targets()[0].errors.at("http_status"), 5u);
  // The same through the pipeline's /metrics families.
  const auto fams = p->Collect();
  auto value = [&](const std::string& name, const std::vector<std::pair<std::string, std::string>>& labels) {
    for (const auto& f : fams)
      for (const auto& m : f.metrics)
        if (f.name == name && m.labels == labels) return m.value;
    return -1.0;
  };
  EXPECT_EQ(value("vigil_target_up", {{"target", "t"}}), 0);
  EXPECT_EQ(value("vigil_target_scrape_errors_total", {{"target", "t"}, {"reason", "http_status"}}), 5);
  EXPECT_EQ(value("vigil_rules_loaded", {}), 2);
  for (const char* engine : {"0", "1"})
    EXPECT_EQ(
        value("vigil_rule_state", {{"alert", "TargetDown"}, {"group", "watch"}, {"target", "t"}, {"engine", engine}}),
        2)
        << engine;
  server->metrics_status = 200;
  p->TickOnce(now += 1, 5);
  for (const auto& v : p->Views())
    if (v.rule.name == "TargetDown") {
      EXPECT_EQ(v.status.state, rules::RuleState::kInactive) << v.rule.labels.at("engine");
    }
}

TEST(PipelineTest, ATargetNeverReachedStillGetsAnInstance) {
  PipelineConfig cfg;
  cfg.targets = {Target("gone", "http://127.0.0.1:" + std::to_string(FreeLoopbackPort()))};
  std::unique_ptr<Pipeline> p;
  ASSERT_TRUE(Pipeline::Create(cfg, nullptr, &p).ok());
  p->SetRules(Rules(kTargetDown), {});
  for (int i = 0; i < 5; ++i) p->TickOnce(1000 + i, 5);
  ASSERT_EQ(p->InstanceNames(), std::vector<std::string>{"gone"});
  EXPECT_EQ(p->Views()[0].status.state, rules::RuleState::kFiring);
  EXPECT_EQ(p->Views()[0].rule.labels.at("target"), "gone");
}

TEST(PipelineTest, TheStandInOfATargetNeverReachedGivesWayToItsEngines) {
  FakeServer s;
  s.metrics_status = 500;
  PipelineConfig cfg;
  cfg.targets = {Target("t", s.url())};
  std::unique_ptr<Pipeline> p;
  ASSERT_TRUE(Pipeline::Create(cfg, nullptr, &p).ok());
  p->SetRules(Rules(kTargetDown), {});
  std::vector<std::string> resolved;
  p->SetHook([&](const TickResult& tick) {
    for (const auto& it : tick.instances)
      for (const auto& t : it.transitions)
        if (t.from == rules::RuleState::kFiring) resolved.push_back(it.id.Name());
  });
  for (int i = 0; i < 5; ++i) p->TickOnce(1000 + i, 5);
  ASSERT_EQ(p->InstanceNames(), std::vector<std::string>{"t"});
  EXPECT_EQ(p->Views()[0].status.state, rules::RuleState::kFiring);
  s.metrics_status = 200;  // it answers: two engines
  p->TickOnce(1005, 5);
  EXPECT_EQ(resolved, std::vector<std::string>{"t"});                       // the stand-in's alert resolves...
  EXPECT_EQ(p->InstanceNames(), (std::vector<std::string>{"t/0", "t/1"}));  // ...and it is gone
  EXPECT_EQ(p->Find("t"), nullptr);
  EXPECT_EQ(p->Targets()[0].instances, (std::vector<std::string>{"t/0", "t/1"}));
  s.metrics_status = 500;  // down again: one TargetDown per engine, none for the stand-in
  for (int i = 6; i < 11; ++i) p->TickOnce(1000 + i, 5);
  int firing = 0;
  for (const auto& v : p->Views()) firing += v.status.state == rules::RuleState::kFiring;
  EXPECT_EQ(firing, 2);
}

TEST(PipelineTest, ASlowTargetDoesNotHoldTheTick) {
  FakeServer s;
  s.Hold();  // the target answers when the test says so, not after a set time
  PipelineConfig cfg;
  cfg.targets = {Target("slow", s.url())};
  std::unique_ptr<Pipeline> p;
  ASSERT_TRUE(Pipeline::Create(cfg, nullptr, &p).ok());
  int ticks = 0;
  p->SetHook([&](const TickResult&) { ++ticks; });
  p->TickOnce(1000, 0);  // does not wait: the scrape is taken by a later tick
  EXPECT_EQ(ticks, 1);
  EXPECT_FALSE(p->Targets()[0].scraped);
  p->TickOnce(1001, 0);  // still in flight: not started twice
  EXPECT_FALSE(p->Targets()[0].scraped);
  s.Release();
  ASSERT_TRUE(WaitFor([&] {
    p->TickOnce(1002, 0.05);
    return p->Targets()[0].scraped;
  }));
  EXPECT_TRUE(p->Targets()[0].up);
  // The scrape's own start time: the late one (1000), or the next tick's
  // (1002) when that one is also done by then and, being newer, replaces it.
  const double last = p->Targets()[0].last_scrape;
  EXPECT_TRUE(last == 1000 || last == 1002) << last;
  // A tick that moves on without its scrape still lists the target's
  // instances with their rules (no transitions): the alerting and the
  // history read every instance from the tick, and must not see them go.
  p->SetRules(Rules(kTargetDown), {});
  s.Hold();
  p->TickOnce(1010, 0);
  const auto tick = p->LastTick();
  ASSERT_NE(tick, nullptr);
  EXPECT_EQ(tick->now, 1010);
  ASSERT_EQ(tick->instances.size(), 2u);
  for (const auto& it : tick->instances) {
    EXPECT_EQ(it.id.target, "slow");
    EXPECT_TRUE(it.transitions.empty());
    ASSERT_EQ(it.views.size(), 1u);
    EXPECT_EQ(it.views[0].rule.name, "TargetDown");
  }
  s.Release();
}

// The hook gets one TickResult per tick: the tick's time (the clock's, as
// Loop passes it), each instance's transitions, and its rules as they stood
// after that tick, not as they stand when read later. /metrics shows the
// last tick's rules, taken by the tick rather than copied again.
TEST(PipelineTest, TheHookGetsTheTicksTimeTransitionsAndViews) {
  ManualClock clock;
  PipelineConfig cfg;
  cfg.clock = &clock;
  std::unique_ptr<Pipeline> p;
  ASSERT_TRUE(Pipeline::Create(
                  cfg,
                  [] {
                    engine::EngineStats s;
                    s.requests_waiting = 5;
                    return s;
                  },
                  &p)
                  .ok());
  p->SetRules(Rules("groups:\n  - name: g\n    rules:\n      - alert: Queued\n        expr: requests_waiting > 0\n"
                    "        for: 2s\n"),
              {});
  std::vector<TickResult> seen;
  p->SetHook([&](const TickResult& t) { seen.push_back(t); });
  EXPECT_EQ(p->LastTick(), nullptr);
  std::vector<double> times;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) clock.Advance(1);
    times.push_back(clock.UnixNow());
    p->TickOnce(clock.UnixNow(), 0);
  }
  using S = rules::RuleState;
  const std::vector<S> state = {S::kPending, S::kPending, S::kFiring, S::kFiring};
  const std::vector<std::vector<S>> to = {{S::kPending}, {}, {S::kFiring}, {}};
  ASSERT_EQ(seen.size(), 4u);
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].now, times[i]) << i;
    EXPECT_EQ(seen[i].seq, i + 1);
    ASSERT_EQ(seen[i].instances.size(), 1u);
    const InstanceTick& it = seen[i].instances[0];
    EXPECT_TRUE(it.id.local());
    EXPECT_EQ(it.instance, p->Find("local"));
    ASSERT_EQ(it.views.size(), 1u);
    EXPECT_EQ(it.views[0].rule.name, "Queued");
    EXPECT_EQ(it.views[0].status.state, state[i]) << i;
    std::vector<S> got;
    for (const auto& t : it.transitions) got.push_back(t.to);
    EXPECT_EQ(got, to[i]) << i;
  }
  EXPECT_EQ(seen[2].instances[0].views[0].status.fired_at, times[2]);
  monitor::Point pt;
  ASSERT_TRUE(p->Find("local")->series().Latest("requests_waiting", &pt));
  EXPECT_EQ(pt.t, times[3]);
  EXPECT_EQ(p->LastTick()->seq, 4u);

  auto state_metric = [&](const std::string& alert) {
    for (const auto& f : p->Collect())
      if (f.name == "vigil_rule_state")
        for (const auto& m : f.metrics)
          if (m.labels == std::vector<std::pair<std::string, std::string>>{{"alert", alert}, {"group", "g"}})
            return m.value;
    return -1.0;
  };
  EXPECT_EQ(state_metric("Queued"), 2);
  // A reload shows in Views() at once, and on /metrics from the next tick.
  p->SetRules(Rules("groups:\n  - name: g\n    rules:\n      - alert: Other\n        expr: requests_waiting > 9\n"),
              {});
  ASSERT_EQ(p->Views().size(), 1u);
  EXPECT_EQ(p->Views()[0].rule.name, "Other");
  EXPECT_EQ(state_metric("Queued"), 2);
  clock.Advance(1);
  p->TickOnce(clock.UnixNow(), 0);
  EXPECT_EQ(state_metric("Queued"), -1);
  EXPECT_EQ(state_metric("Other"), 0);
}

TEST(PipelineTest, TheHostedEngineIsInstanceLocal) {
  PipelineConfig cfg;
  std::unique_ptr<Pipeline> p;
  int64_t steps = 0;
  ASSERT_TRUE(Pipeline::Create(
                  cfg,
                  [&] {
                    engine::EngineStats s;
                    s.requests_running = 3;
                    s.steps_total = ++steps;
                    return s;
                  },
                  &p)
                  .ok());
  p->TickOnce(1000, 0);
  EXPECT_EQ(p->InstanceNames(), std::vector<std::string>{"local"});
  monitor::Point pt;
  ASSERT_TRUE(p->Find("local")->series().Latest("requests_running", &pt));
  EXPECT_EQ(pt.v, 3);
  EXPECT_FALSE(p->Find("local")->series().Has("target_up"));
  EXPECT_EQ(p->Find("local")->labels().at("target"), "local");
}

TEST(PipelineTest, TicksOnAGridAndStopInterruptsALongInterval) {
  PipelineConfig cfg;
  cfg.interval_s = 0.02;
  std::unique_ptr<Pipeline> p;
  ASSERT_TRUE(Pipeline::Create(
                  cfg, [] { return engine::EngineStats(); }, &p)
                  .ok());
  p->Start();
  EXPECT_TRUE(WaitFor([&] { return p->ticks() >= 5; }));
  p->Stop();
  PipelineConfig slow;
  slow.interval_s = 3600;
  std::unique_ptr<Pipeline> q;
  ASSERT_TRUE(Pipeline::Create(
                  slow, [] { return engine::EngineStats(); }, &q)
                  .ok());
  q->Start();
  EXPECT_TRUE(WaitFor([&] { return q->ticks() >= 1; }));
  q->Stop();  // returns without waiting out the hour
  EXPECT_EQ(q->ticks(), 1u);
}

TEST(PipelineTest, TicksOnTheClocksGridAndSkipsOverrunSlots) {
  ManualClock clock;
  PipelineConfig cfg;
  cfg.interval_s = 1;
  cfg.clock = &clock;
  std::unique_ptr<Pipeline> p;
  ASSERT_TRUE(Pipeline::Create(
                  cfg, [] { return engine::EngineStats(); }, &p)
                  .ok());
  const double t0 = clock.SteadyNow();
  // Each move of the clock waits until the loop has read the time after its
  // tick (its next slot set): a move before that would count as an overrun.
  auto parked = [&](uint64_t ticks, double due) {
    return WaitFor([&] { return p->ticks() == ticks && std::abs(p->next_tick_due() - (t0 + due)) < 1e-9; });
  };
  p->Start();
  ASSERT_TRUE(parked(1, 1));  // at once, at the clock's time
  monitor::Point pt;
  ASSERT_TRUE(p->Find("local")->series().Latest("requests_running", &pt));
  EXPECT_DOUBLE_EQ(pt.t, clock.UnixNow());
  clock.Advance(0.5);  // not due yet: no tick (checked at the next one)
  clock.Advance(0.5);
  ASSERT_TRUE(parked(2, 2));
  ASSERT_TRUE(p->Find("local")->series().Latest("requests_running", &pt));
  EXPECT_DOUBLE_EQ(pt.t, clock.UnixNow());
  EXPECT_EQ(p->skipped_ticks(), 0u);
  clock.Advance(3.5);  // slots 3, 4 and 5 passed while nothing ran: one tick, two skipped
  ASSERT_TRUE(parked(3, 5));
  EXPECT_EQ(p->skipped_ticks(), 2u);
  clock.Advance(0.5);  // slot 5 (at 5 s) is due
  ASSERT_TRUE(parked(4, 6));
  p->Stop();
  EXPECT_EQ(p->ticks(), 4u);
}

TEST(PipelineTest, AnUnreadableTokenFileNamesTheTarget) {
  PipelineConfig cfg;
  cfg.targets = {Target("secured", "http://127.0.0.1:1")};
  cfg.targets[0].bearer_token_file = "/nonexistent/token";
  std::unique_ptr<Pipeline> p;
  Status st = Pipeline::Create(cfg, nullptr, &p);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("targets[0] (secured).bearer_token_file"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace vigil::pipeline
