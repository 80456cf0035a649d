// The threaded engine: concurrent submitters, aborts from other threads,
// stats read while stepping, heartbeat, and shutdown.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "engine_gate.h"
#include "test_util.h"

namespace vigil::engine {
namespace {

using namespace std::chrono_literals;

class Waiter {
 public:
  OutputCallback Callback() {
    return [this](const RequestOutput& o) {
      std::lock_guard<std::mutex> lock(mu_);
      tokens_[o.request_id] += static_cast<int>(o.new_token_ids.size());
      if (o.finished) {
        reasons_[o.request_id] = o.finish_reason;
        cv_.notify_all();
      }
    };
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = 30s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return reasons_.size() >= n; });
  }
  FinishReason Reason(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return reasons_.count(id) ? reasons_[id] : FinishReason::kNone;
  }
  int Tokens(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return tokens_[id];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> tokens_;
  std::map<std::string, FinishReason> reasons_;
};

EngineConfig Fixture() {
  EngineConfig c;
  c.model = vigil::testing::ModelDir("llama");
  c.num_blocks = 128;
  return c;
}

SamplingParams Params(int max_tokens) {
  SamplingParams p;
  p.temperature = 0.7f;
  p.max_tokens = max_tokens;
  p.ignore_eos = true;
  return p;
}

TEST(EngineTest, ServesConcurrentSubmitters) {
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(CreateEngine(Fixture(), &engine).ok());
  ASSERT_TRUE(engine->Start().ok());
  Waiter w;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string id = std::to_string(t) + "-" + std::to_string(i);
        EXPECT_TRUE(engine->AddRequest(id, {1, 2, 3, t, i}, Params(8), w.Callback()).ok());
        engine->GetStats();  // reads race with steps by design
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(w.WaitFor(40));
  EXPECT_EQ(w.Tokens("3-9"), 8);
  EngineStats s;
  // The snapshot is published after the step that finished the last request.
  EXPECT_TRUE(vigil::testing::WaitFor(
      [&] {
        s = engine->GetStats();
        return s.requests_finished_by_reason[static_cast<int>(FinishReason::kLength)] >= 40;
      },
      30000));
  EXPECT_EQ(s.requests_finished_by_reason[static_cast<int>(FinishReason::kLength)], 40);
  EXPECT_EQ(s.generation_tokens_total, 320);
  EXPECT_EQ(s.kv_blocks_used, 0);
  engine->Stop();
}

TEST(EngineTest, AbortFromAnotherThreadFreesBlocks) {
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(CreateEngine(Fixture(), &engine).ok());
  ASSERT_TRUE(engine->Start().ok());
  Waiter w;
  // The request's third token holds the engine thread (inside its step) until
  // Abort has been asked from this thread; Abort only queues the id for the
  // engine thread, so the request is still running, with ~390 tokens to go,
  // when the engine thread next looks at its aborts.
  auto gate = std::make_shared<vigil::testing::EngineGate>();
  ASSERT_TRUE(
      engine->AddRequest("long", {5, 6, 7}, Params(400), vigil::testing::EngineGate::Hold(gate, 3, w.Callback())).ok());
  const bool was_held = gate->WaitHeld();
  engine->Abort("long");
  gate->Release();
  ASSERT_TRUE(was_held);
  ASSERT_TRUE(w.WaitFor(1));
  EXPECT_EQ(w.Reason("long"), FinishReason::kAbort);
  EXPECT_EQ(w.Tokens("long"), 3);  // aborted at the next look, before another step
  EXPECT_TRUE(vigil::testing::WaitFor([&] { return engine->GetStats().kv_blocks_used == 0; }));
  engine->Abort("unknown-id");  // ignored
  // The id is free again once the request is over.
  ASSERT_TRUE(engine->AddRequest("long", {5, 6}, Params(2), w.Callback()).ok());
  engine->Stop();
}

TEST(EngineTest, ARequestTheEngineHoldsIsCountedWaitingUntilPublished) {
  // Admission (server.max_waiting_requests) reads GetLoad: a request drained
  // from the inbox into a step whose stats are not yet published must still
  // count, or one more is admitted for each step.
  EngineConfig c = Fixture();
  c.max_num_seqs = 1;
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(CreateEngine(c, &engine).ok());
  ASSERT_TRUE(engine->Start().ok());
  Waiter w;
  auto first = std::make_shared<vigil::testing::EngineGate>();
  auto second = std::make_shared<vigil::testing::EngineGate>();
  // Held at its 3rd token (step N), then at its 4th (step N+1, after the drain).
  ASSERT_TRUE(engine
                  ->AddRequest("running", {5, 6, 7}, Params(50),
                               vigil::testing::EngineGate::Hold(
                                   first, 3, vigil::testing::EngineGate::Hold(second, 4, w.Callback())))
                  .ok());
  struct ReleaseOnExit {
    std::shared_ptr<vigil::testing::EngineGate> a, b;
    ~ReleaseOnExit() { a->Release(), b->Release(); }
  } release{first, second};
  ASSERT_TRUE(first->WaitHeld());
  ASSERT_TRUE(engine->AddRequest("waiting", {8, 9}, Params(2), w.Callback()).ok());
  // Each request is counted once: published (a step's snapshot, at most every
  // 5 ms while busy, so possibly older than step N), drained since, or in the
  // inbox. A drained request counts as waiting until a snapshot says more.
  auto count = [&] {
    const Engine::Load l = engine->GetLoad();
    const EngineStats s = engine->GetStats();
    EXPECT_EQ(s.requests_waiting, l.requests_waiting);
    EXPECT_EQ(s.requests_running, l.requests_running);
    return l.requests_running + l.requests_waiting;
  };
  EXPECT_EQ(count(), 2);
  EXPECT_GE(engine->GetLoad().requests_waiting, 1);  // in the inbox
  first->Release();
  ASSERT_TRUE(second->WaitHeld());
  // Drained into step N+1, which has not published: no snapshot has it yet.
  EXPECT_EQ(count(), 2);
  EXPECT_GE(engine->GetLoad().requests_waiting, 1);
  second->Release();
  ASSERT_TRUE(w.WaitFor(2));
  EXPECT_TRUE(vigil::testing::WaitFor([&] { return engine->GetLoad().requests_waiting == 0; }));
  engine->Stop();
}

TEST(EngineTest, HeartbeatAdvancesWhileIdle) {
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(CreateEngine(Fixture(), &engine).ok());
  ASSERT_TRUE(engine->Start().ok());
  // No request ever arrives: the idle loop alone moves the heartbeat (every 50 ms).
  const int64_t a = engine->GetStats().heartbeat_ns;
  EXPECT_TRUE(vigil::testing::WaitFor([&] { return engine->GetStats().heartbeat_ns > a; }));
  engine->Stop();
}

TEST(EngineTest, StopAbortsWhatIsLeftAndRefusesNewWork) {
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(CreateEngine(Fixture(), &engine).ok());
  Waiter w;
  // Queued before Start: never stepped, must still get a final output.
  ASSERT_TRUE(engine->AddRequest("queued", {1, 2}, Params(100), w.Callback()).ok());
  engine->Stop();
  ASSERT_TRUE(w.WaitFor(1, 1s));
  EXPECT_EQ(w.Reason("queued"), FinishReason::kAbort);
  EXPECT_EQ(engine->AddRequest("late", {1}, Params(1), w.Callback()).code(), Status::Code::kUnavailable);
  EXPECT_EQ(engine->GetStats().kv_blocks_used, 0);
}

TEST(EngineTest, InvalidRequestsFailAtSubmission) {
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(CreateEngine(Fixture(), &engine).ok());
  Waiter w;
  EXPECT_EQ(engine->AddRequest("x", {}, Params(1), w.Callback()).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(engine->GetStats().requests_rejected_total, 1);
  ASSERT_TRUE(engine->AddRequest("d", {1}, Params(1), w.Callback()).ok());
  EXPECT_FALSE(engine->AddRequest("d", {1}, Params(1), w.Callback()).ok());
  engine->Stop();
}

}  // namespace
}  // namespace vigil::engine
