// The capture manager on the real engine: a capture under load is a valid
// trace whose events nest in their steps and cover the window; each bound
// (steps, duration, bytes) holds; one at a time and cooldowns hold under
// concurrent triggers; retention deletes the oldest; an unwritable directory
// fails cleanly; ids are validated. Cooldowns and ids run on a ManualClock
// where a test needs time to pass (or not to).
#include "capture/manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include "capture/trace.h"
#include "common/clock.h"
#include "common/time_util.h"
#include "engine_gate.h"
#include "test_util.h"

namespace vigil::capture {
namespace {

using json = nlohmann::json;
using vigil::testing::EngineGate;
using vigil::testing::TempDir;

class CaptureManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine::EngineConfig c;
    c.model = vigil::testing::ModelDir("llama");
    c.num_blocks = 512;
    ASSERT_TRUE(engine::CreateEngine(c, &engine_).ok());
    ASSERT_TRUE(engine_->Start().ok());
    cfg_.dir = dir_.File("captures");
    cfg_.global_cooldown_s = 0;
    cfg_.rule_cooldown_s = 0;
    cfg_.max_steps = 5;
    cfg_.max_duration_s = 0.5;  // an idle engine takes no steps
  }
  void TearDown() override {
    if (gate_) gate_->Release();  // never leave the engine thread held
    manager_.reset();
    engine_->Stop();
  }
  CaptureManager& M() {
    if (!manager_)
      manager_ = std::make_unique<CaptureManager>(
          cfg_, engine_.get(), [] { return 100.0; }, json{{"k", 1}}, clock_);
    return *manager_;
  }
  // With gated, the last request's first output holds the engine thread
  // until TakeGated triggers the capture: the capture starts with all of that
  // request's tokens still ahead, however late the test thread triggers it.
  void Load(int n, int tokens, bool gated = false) {
    for (int i = 0; i < n; ++i) {
      engine::SamplingParams p;
      p.max_tokens = tokens;
      p.ignore_eos = true;
      engine::OutputCallback cb;
      if (gated && i == n - 1) {
        gate_ = std::make_shared<EngineGate>();
        cb = EngineGate::Hold(gate_, 1);
      }
      ASSERT_TRUE(engine_->AddRequest("r" + std::to_string(next_++), {1, 2, 3, 4, 5, 6, 7, 8}, p, cb).ok());
    }
  }
  json Take(TriggerRequest req = {}) { return Finish(M().Trigger(req)); }
  // Triggers while the gate holds the engine thread, then lets it go.
  json TakeGated(TriggerRequest req = {}) {
    const bool held = gate_->WaitHeld();
    TriggerResult r = M().Trigger(req);
    gate_->Release();
    EXPECT_TRUE(held);
    return Finish(r);
  }
  json Finish(const TriggerResult& r) {
    EXPECT_TRUE(r.started) << r.message;
    EXPECT_TRUE(M().WaitIdle(60));
    json doc;
    EXPECT_TRUE(M().Get(r.id, &doc).ok());
    return doc;
  }
  TempDir dir_;
  CaptureConfig cfg_;
  ManualClock manual_;
  Clock* clock_ = DefaultClock();  // &manual_ in tests that move time themselves
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<CaptureManager> manager_;
  std::shared_ptr<EngineGate> gate_;
  int next_ = 0;
};

TEST_F(CaptureManagerTest, ACaptureUnderLoadIsAValidNestedTrace) {
  // Bounded by steps alone: the gated load (about 400 steps still ahead when
  // the capture starts) outlasts 5 steps, and real time (profiler start-up, a
  // starved engine thread) cannot end it first.
  cfg_.max_duration_s = 30;
  Load(6, 400, /*gated=*/true);
  TriggerRequest req;
  req.trigger = "manual";
  req.reason = "test";
  const json doc = TakeGated(req);
  ASSERT_EQ(doc["status"], "complete") << doc.dump();
  EXPECT_EQ(doc["steps"], 5);
  EXPECT_EQ(doc["stop_reason"], "max_steps");
  EXPECT_EQ(doc["trigger"], "manual");
  EXPECT_EQ(doc["config"]["vigild"]["k"], 1);
  EXPECT_GT(doc["stats_end"]["steps_total"].get<int64_t>(), doc["stats_start"]["steps_total"].get<int64_t>());
  const json& s = doc["summary"];
  EXPECT_NEAR(s["categories_sum"].get<double>(), 1.0, 0.05);
  EXPECT_GT(s["categories"]["matmul"].get<double>(), 0);
  EXPECT_GT(s["categories"]["attention"].get<double>(), 0);
  EXPECT_EQ(s["top_ops"].size(), 10u);
  EXPECT_EQ(s["steps"], 5);
  EXPECT_NE(s["throughput"]["ratio_during_to_before"], nullptr);
  EXPECT_GT(doc["timing"]["trigger_to_file_s"].get<double>(), 0);

  std::string path;
  ASSERT_TRUE(M().TracePath(doc["id"], &path).ok());
  std::vector<Event> ev;
  json meta;
  ASSERT_TRUE(ReadTrace(path, &ev, &meta).ok());
  EXPECT_EQ(meta["id"], doc["id"]);
  EXPECT_EQ(meta["truncated"], false);
  double start = 0, end = 0;
  ASSERT_TRUE(ParseRfc3339(doc["started"], &start));
  ASSERT_TRUE(ParseRfc3339(doc["ended"], &end));
  std::vector<const Event*> steps;
  for (const auto& e : ev)
    if (e.cat == "vigil" && e.name == "step") steps.push_back(&e);
  ASSERT_EQ(steps.size(), 5u);
  size_t checked = 0;
  for (const auto& e : ev) {
    EXPECT_GE(e.ts, start * 1e6 - 2000) << e.name;  // within the window (ms-rounded RFC 3339 times)
    EXPECT_LE(e.ts + e.dur, end * 1e6 + 2000) << e.name;
    if (e.tid != steps[0]->tid || (e.cat == "vigil" && e.name == "step")) continue;
    bool inside = false;
    for (const Event* st : steps) inside |= e.ts >= st->ts - 1 && e.ts + e.dur <= st->ts + st->dur + 1;
    EXPECT_TRUE(inside) << e.name << " at " << e.ts;
    ++checked;
  }
  EXPECT_GT(checked, 100u);
}

TEST_F(CaptureManagerTest, BoundedByDurationAndBytes) {
  cfg_.max_steps = 1000000;
  cfg_.max_duration_s = 0.4;
  cfg_.max_bytes = 1500;          // a step or two: truncated however slow the machine
  Load(4, 5000, /*gated=*/true);  // 504 tokens each (max_model_len 512), all still ahead
  const json doc = TakeGated();
  EXPECT_EQ(doc["stop_reason"], "max_duration");
  EXPECT_TRUE(doc["trace"]["truncated"].get<bool>());
  EXPECT_LE(doc["trace"]["bytes"].get<int64_t>(), 1500);
  std::string path;
  ASSERT_TRUE(M().TracePath(doc["id"], &path).ok());
  std::vector<Event> ev;
  json meta;
  ASSERT_TRUE(ReadTrace(path, &ev, &meta).ok());
  EXPECT_EQ(meta["truncated"], true);
  // A request for more than max_duration gets max_duration.
  TriggerRequest req;
  req.duration_s = 3600;
  const json again = Take(req);
  double s = 0, e = 0;
  ASSERT_TRUE(ParseRfc3339(again["started"], &s) && ParseRfc3339(again["ended"], &e));
  // 0.4 s plus profiler start-up and a loaded machine's scheduling; an hour
  // would not end within Take's 60 s wait at all.
  EXPECT_GE(e - s, 0.39);
  EXPECT_LT(e - s, 10.0);
}

TEST_F(CaptureManagerTest, OneAtATimeAndCooldownsUnderConcurrentTriggers) {
  cfg_.global_cooldown_s = 3600;
  Load(2, 5000);
  std::atomic<int> started{0}, refused{0};
  std::vector<std::thread> threads;
  CaptureManager& m = M();  // created before the threads race on it
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      TriggerResult r = m.Trigger({});
      (r.started ? started : refused)++;
      if (!r.started) {
        EXPECT_TRUE(r.result == CaptureOutcome::kBusy || r.result == CaptureOutcome::kCooldown)
            << CaptureOutcomeName(r.result);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(started, 1);
  EXPECT_EQ(refused, 7);
  ASSERT_TRUE(M().WaitIdle(60));
  TriggerResult r = M().Trigger({});
  EXPECT_EQ(r.result, CaptureOutcome::kCooldown);
  EXPECT_NE(r.message.find("global cooldown"), std::string::npos) << r.message;
  const auto counts = M().Counts();
  EXPECT_EQ(counts.at({"api", "ok"}), 1u);
  uint64_t refusals = 0;
  for (const auto& [k, v] : counts)
    if (k.second == "busy" || k.second == "cooldown") refusals += v;
  EXPECT_EQ(refusals, 8u);
  // The same as the manager's /metrics family.
  const auto fams = M().Collect();
  ASSERT_EQ(fams.size(), 1u);
  EXPECT_EQ(fams[0].name, "vigil_captures_total");
  double total = 0;
  for (const auto& m : fams[0].metrics) total += m.value;
  EXPECT_EQ(total, 9);
}

TEST_F(CaptureManagerTest, PerRuleCooldown) {
  cfg_.rule_cooldown_s = 3600;
  clock_ = &manual_;
  TriggerRequest a;
  a.trigger = "rule";
  a.rule = "KVCacheThrashing";
  const std::string first = Take(a)["id"];
  EXPECT_EQ(M().LatestForRule("KVCacheThrashing"), first);
  TriggerResult r = M().Trigger(a);
  EXPECT_EQ(r.result, CaptureOutcome::kCooldown);
  EXPECT_NE(r.message.find("KVCacheThrashing"), std::string::npos);
  TriggerRequest b = a;
  b.rule = "PrefillStarvation";
  Take(b);
  // The cooldown ends on the clock, to the second.
  manual_.Advance(3599);
  r = M().Trigger(a);
  EXPECT_EQ(r.result, CaptureOutcome::kCooldown) << r.message;
  EXPECT_NE(r.message.find("possible in 1s"), std::string::npos) << r.message;
  manual_.Advance(1);
  const std::string second = Take(a)["id"];
  EXPECT_EQ(M().LatestForRule("KVCacheThrashing"), second);
}

TEST_F(CaptureManagerTest, GlobalCooldownEndsOnTheClock) {
  cfg_.global_cooldown_s = 60;
  clock_ = &manual_;
  Take();
  manual_.Advance(59.5);
  TriggerResult r = M().Trigger({});
  EXPECT_EQ(r.result, CaptureOutcome::kCooldown);
  EXPECT_NE(r.message.find("global cooldown"), std::string::npos) << r.message;
  manual_.Advance(0.5);
  Take();
}

TEST_F(CaptureManagerTest, RetentionDeletesTheOldest) {
  cfg_.max_count = 2;
  cfg_.max_steps = 1;
  clock_ = &manual_;  // held still: all three captures in the same second
  Load(2, 5000);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Take()["id"]);
  // Distinct, and ordered as taken, within one second.
  EXPECT_EQ(ids[0], "20260101T000000Z-000001-api");
  EXPECT_EQ(ids[1], "20260101T000000Z-000002-api");
  EXPECT_EQ(ids[2], "20260101T000000Z-000003-api");
  json doc;
  EXPECT_EQ(M().Get(ids[0], &doc).code(), Status::Code::kNotFound);
  EXPECT_TRUE(M().Get(ids[1], &doc).ok());
  EXPECT_TRUE(M().Get(ids[2], &doc).ok());
  const auto list = M().List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["id"], ids[2]);  // newest first
  ASSERT_TRUE(M().Delete(ids[1]).ok());
  EXPECT_EQ(M().List().size(), 1u);
  EXPECT_EQ(M().Delete(ids[1]).code(), Status::Code::kNotFound);
}

TEST_F(CaptureManagerTest, AnUnwritableDirectoryFailsCleanlyAndIdsAreValidated) {
  cfg_.dir = "/proc/vigil-captures-test";
  TriggerResult r = M().Trigger({});
  EXPECT_FALSE(r.started);
  EXPECT_EQ(r.result, CaptureOutcome::kError);
  EXPECT_NE(r.message.find("not writable"), std::string::npos) << r.message;
  EXPECT_FALSE(engine_->capture_running());
  json doc;
  std::string path;
  EXPECT_EQ(M().Get("../../etc/passwd", &doc).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(M().TracePath("..", &path).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(M().Delete("a/b").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(M().Get("20260101T000000Z-api-0000", &doc).code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace vigil::capture
