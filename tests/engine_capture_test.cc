// Captures inside the threaded engine: bounded by steps and by time, Vigil's
// spans nest inside their step with the batch composition, libtorch's
// operators land on the engine thread inside the window, one at a time.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/engine.h"
#include "engine_gate.h"
#include "test_util.h"

namespace vigil::engine {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Engine> Make() {
  EngineConfig c;
  c.model = vigil::testing::ModelDir("llama");
  c.num_blocks = 256;
  std::unique_ptr<Engine> e;
  Status st = CreateEngine(c, &e);
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(e->Start().ok());
  return e;
}

void Load(Engine& e, int n, int tokens) {
  for (int i = 0; i < n; ++i) {
    SamplingParams p;
    p.max_tokens = tokens;
    p.ignore_eos = true;
    ASSERT_TRUE(e.AddRequest("r" + std::to_string(i), {1, 2, 3, 4, 5, 6, 7, 8}, p, nullptr).ok());
  }
}

CaptureData Capture(Engine& e, CaptureOptions o) {
  std::promise<CaptureData> done;
  auto f = done.get_future();
  Status st = e.StartCapture(o, [&done](CaptureData d) { done.set_value(std::move(d)); });
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(f.wait_for(30s), std::future_status::ready);
  CaptureData d = f.get();
  d.Materialize();
  return d;
}

TEST(EngineCaptureTest, BoundedByStepsWithNestedSpansAndOperators) {
  auto e = Make();
  Load(*e, 4, 200);
  CaptureOptions o;
  o.max_steps = 5;
  o.record_shapes = true;
  CaptureData d = Capture(*e, o);
  EXPECT_EQ(d.stop_reason, "max_steps");
  EXPECT_EQ(d.steps, 5);
  EXPECT_NE(d.profiler.find("torch"), std::string::npos) << d.profiler;
  std::vector<const TraceRecord*> steps;
  for (const auto& s : d.spans)
    if (s.name == "step") steps.push_back(&s);
  ASSERT_EQ(steps.size(), 5u);
  EXPECT_EQ(steps[0]->num_args.at("batch_size"), 4);
  EXPECT_TRUE(steps[0]->num_args.count("prefill_tokens"));
  EXPECT_TRUE(steps[0]->num_args.count("decode_seqs"));
  auto inside_a_step = [&](const TraceRecord& r) {
    for (const auto* s : steps)
      if (r.ts_us >= s->ts_us - 1 && r.ts_us + r.dur_us <= s->ts_us + s->dur_us + 1) return true;
    return false;
  };
  std::set<std::string> names;
  for (const auto& s : d.spans) {
    names.insert(s.name);
    EXPECT_TRUE(inside_a_step(s)) << s.name;
    EXPECT_GE(s.ts_us, d.start_unix * 1e6 - 1);
    EXPECT_LE(s.ts_us + s.dur_us, d.end_unix * 1e6 + 1);
  }
  for (const char* n : {"schedule", "prepare_inputs", "forward", "layer", "attention", "attention_core", "mlp", "norm",
                        "activation", "lm_head", "sample", "update"})
    EXPECT_TRUE(names.count(n)) << n;
  ASSERT_FALSE(d.ops.empty());
  size_t on_engine = 0, with_shapes = 0;
  for (const auto& op : d.ops) {
    if (op.tid != steps[0]->tid) continue;
    ++on_engine;
    EXPECT_TRUE(inside_a_step(op)) << op.name << " at " << op.ts_us;
    with_shapes += op.str_args.count("Input Dims");
  }
  EXPECT_GT(on_engine, 50u);
  EXPECT_GT(with_shapes, 0u);
  EXPECT_GE(d.stats_end.steps_total - d.stats_start.steps_total, 5);
  e->Stop();
}

TEST(EngineCaptureTest, BoundedByTimeWhileIdleAndOneAtATime) {
  auto e = Make();
  CaptureOptions o;
  o.max_duration_s = 0.3;
  std::promise<CaptureData> done;
  auto f = done.get_future();
  ASSERT_TRUE(e->StartCapture(o, [&done](CaptureData d) { done.set_value(std::move(d)); }).ok());
  EXPECT_TRUE(e->capture_running());
  EXPECT_EQ(e->StartCapture(o, nullptr).code(), Status::Code::kUnavailable);
  ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
  CaptureData d = f.get();
  EXPECT_EQ(d.stop_reason, "max_duration");
  EXPECT_EQ(d.steps, 0);
  EXPECT_GE(d.end_unix - d.start_unix, 0.29);
  // The bound, plus profiler start-up (inside the window) and a loaded
  // machine's scheduling (ASan, 2 cores); unbounded, it would never end.
  EXPECT_LT(d.end_unix - d.start_unix, 10.0);
  EXPECT_FALSE(e->capture_running());
  // Stopped on request, after at least one step inside the capture. s0's
  // first output (engine thread, inside a step) holds until StartCapture has
  // been asked, so the capture starts right after that step, with about 500
  // of s0's steps still ahead; its next output comes from a step inside it.
  auto gate = std::make_shared<vigil::testing::EngineGate>();
  for (int i = 0; i < 2; ++i) {
    SamplingParams p;
    p.max_tokens = 2000;  // 504 (max_model_len 512)
    p.ignore_eos = true;
    const OutputCallback cb = i == 0 ? vigil::testing::EngineGate::Hold(gate, 1) : nullptr;
    ASSERT_TRUE(e->AddRequest("s" + std::to_string(i), {1, 2, 3, 4, 5, 6, 7, 8}, p, cb).ok());
  }
  o.max_duration_s = 30;
  o.max_steps = 100000;
  o.profile_ops = false;
  std::promise<CaptureData> done2;
  auto f2 = done2.get_future();
  const bool was_held = gate->WaitHeld();
  const Status started = e->StartCapture(o, [&done2](CaptureData d) { done2.set_value(std::move(d)); });
  gate->Release();
  ASSERT_TRUE(was_held);
  ASSERT_TRUE(started.ok()) << started.ToString();
  EXPECT_TRUE(vigil::testing::WaitFor([&] { return gate->outputs() >= 2; }, 30000, 1));
  e->StopCapture();
  ASSERT_EQ(f2.wait_for(30s), std::future_status::ready);
  CaptureData d2 = f2.get();
  EXPECT_EQ(d2.stop_reason, "stopped");
  EXPECT_EQ(d2.profiler, "off");
  EXPECT_TRUE(d2.ops.empty());
  EXPECT_GT(d2.steps, 0);
  e->Stop();
}

}  // namespace
}  // namespace vigil::engine
