// The scheduler against a fake model whose next token is a function of the
// whole sequence, so outputs are checkable without libtorch.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <map>

namespace vigil::engine {
namespace {

int32_t FakeNext(const std::vector<int32_t>& tokens) {
  uint32_t h = 2166136261u;
  for (int32_t t : tokens) h = (h ^ static_cast<uint32_t>(t)) * 16777619u;
  return static_cast<int32_t>(h % 97) + 3;  // never 0..2 (0 is our EOS)
}

struct Harness {
  BlockManager blocks;
  Scheduler sched;
  std::map<std::string, std::vector<int32_t>> outputs;
  std::map<std::string, FinishReason> finished;

  Harness(int64_t num_blocks, SchedulerConfig cfg, bool caching = false)
      : blocks(num_blocks, 4, caching), sched(cfg, &blocks, {0}) {}

  void Add(const std::string& id, int prompt_len, int max_tokens, int32_t base = 1) {
    auto r = std::make_unique<Request>();
    r->id = id;
    for (int i = 0; i < prompt_len; ++i) r->tokens.push_back(base + i % 50);
    r->num_prompt_tokens = prompt_len;
    r->params.max_tokens = max_tokens;
    r->max_total_tokens = prompt_len + max_tokens;
    sched.Add(std::move(r));
  }

  SchedulerOutput Step() {
    SchedulerOutput so = sched.Schedule();
    std::vector<int32_t> sampled(so.scheduled.size());
    for (size_t i = 0; i < so.scheduled.size(); ++i) {
      const auto& s = so.scheduled[i];
      // Stands in for attention: the token depends on every token so far.
      std::vector<int32_t> prefix(s.request->tokens.begin(),
                                  s.request->tokens.begin() + s.start_pos + s.num_new_tokens);
      sampled[i] = FakeNext(prefix);
    }
    for (const RequestUpdate& u : sched.Update(so, sampled)) {
      auto& out = outputs[u.request->id];
      out.insert(out.end(), u.new_tokens.begin(), u.new_tokens.end());
      if (u.finished) {
        finished[u.request->id] = u.request->finish_reason;
        sched.Take(u.request->id);
      }
    }
    EXPECT_EQ(blocks.CheckInvariants(), "");
    return so;
  }

  void RunToCompletion(int max_steps = 10000) {
    for (int i = 0; i < max_steps && sched.has_work(); ++i) Step();
    EXPECT_FALSE(sched.has_work());
  }
};

SchedulerConfig Cfg(int seqs, int budget, bool chunked = true) {
  SchedulerConfig c;
  c.max_num_seqs = seqs;
  c.max_num_batched_tokens = budget;
  c.max_model_len = 4096;
  c.enable_chunked_prefill = chunked;
  return c;
}

TEST(SchedulerTest, DecodesComeFirstAndBudgetHolds) {
  Harness h(100, Cfg(8, 10));
  h.Add("a", 5, 10);
  auto s1 = h.Step();
  ASSERT_EQ(s1.scheduled.size(), 1u);
  EXPECT_EQ(s1.scheduled[0].num_new_tokens, 5);
  h.Add("b", 20, 10);
  auto s2 = h.Step();
  ASSERT_EQ(s2.scheduled.size(), 2u);
  EXPECT_EQ(s2.scheduled[0].request->id, "a");  // the decode
  EXPECT_EQ(s2.scheduled[0].num_new_tokens, 1);
  EXPECT_EQ(s2.scheduled[1].num_new_tokens, 9);  // chunk of b's prompt
  EXPECT_FALSE(s2.scheduled[1].samples);
  EXPECT_EQ(s2.total_tokens, 10);
}

TEST(SchedulerTest, ChunkedPrefillSplitsAndMatchesUnchunked) {
  Harness chunked(100, Cfg(8, 8, true));
  Harness whole(100, Cfg(8, 64, false));
  for (Harness* h : {&chunked, &whole}) {
    h->Add("a", 30, 6);
    h->Add("b", 3, 6, 7);
    h->RunToCompletion();
  }
  EXPECT_EQ(chunked.outputs, whole.outputs);
  EXPECT_EQ(chunked.outputs["a"].size(), 6u);
}

TEST(SchedulerTest, WithoutChunkingAPromptWaitsForRoom) {
  Harness h(100, Cfg(8, 16, false));
  h.Add("a", 10, 5);
  h.Add("b", 10, 5);
  auto s = h.Step();
  ASSERT_EQ(s.scheduled.size(), 1u);  // b (10 tokens) does not fit in the remaining 6
  EXPECT_EQ(h.sched.num_waiting(), 1);
  s = h.Step();
  ASSERT_EQ(s.scheduled.size(), 2u);
  EXPECT_EQ(s.scheduled[1].num_new_tokens, 10);
}

TEST(SchedulerTest, MaxNumSeqsCapsRunning) {
  Harness h(100, Cfg(2, 100));
  for (int i = 0; i < 5; ++i) h.Add(std::to_string(i), 3, 4);
  h.Step();
  EXPECT_EQ(h.sched.num_running(), 2);
  EXPECT_EQ(h.sched.num_waiting(), 3);
  h.RunToCompletion();
  EXPECT_EQ(h.finished.size(), 5u);
}

TEST(SchedulerTest, StopsOnEosStopIdsAndLength) {
  Harness h(100, Cfg(8, 100));
  h.Add("len", 3, 4);
  h.RunToCompletion();
  EXPECT_EQ(h.finished["len"], FinishReason::kLength);
  EXPECT_EQ(h.outputs["len"].size(), 4u);
  // Stop on the first token it would produce.
  Harness h2(100, Cfg(8, 100));
  h2.Add("stop", 3, 10);
  h2.sched.Find("stop")->params.stop_token_ids = {FakeNext({1, 2, 3})};
  h2.RunToCompletion();
  EXPECT_EQ(h2.finished["stop"], FinishReason::kStop);
  EXPECT_EQ(h2.outputs["stop"].size(), 1u);
}

TEST(SchedulerTest, PreemptsMostRecentAndRecomputesToTheSameOutput) {
  // 6 blocks of 4 tokens: three requests growing to 14 tokens cannot coexist.
  Harness tight(6, Cfg(8, 64));
  Harness roomy(100, Cfg(8, 64));
  for (Harness* h : {&tight, &roomy}) {
    h->Add("a", 6, 8);
    h->Add("b", 6, 8, 11);
    h->Add("c", 6, 8, 21);
    h->RunToCompletion();
  }
  EXPECT_GT(tight.sched.preemptions_total(), 0);
  EXPECT_EQ(roomy.sched.preemptions_total(), 0);
  EXPECT_EQ(tight.outputs, roomy.outputs);
  EXPECT_EQ(tight.blocks.Counts().used, 0);
}

TEST(SchedulerTest, PrefixCacheHitsSkipComputation) {
  Harness h(100, Cfg(8, 100), /*caching=*/true);
  h.Add("a", 17, 1);
  h.RunToCompletion();
  h.Add("b", 17, 1);
  auto s = h.Step();
  ASSERT_EQ(s.scheduled.size(), 1u);
  EXPECT_EQ(s.scheduled[0].start_pos, 16);  // 4 cached blocks
  EXPECT_EQ(s.scheduled[0].num_new_tokens, 1);
  EXPECT_EQ(h.blocks.prefix_hits(), 16);
  EXPECT_EQ(h.blocks.prefix_queries(), 34);
  EXPECT_EQ(h.outputs["a"], h.outputs["b"]);
}

TEST(SchedulerTest, RemoveFreesAtAnyPoint) {
  Harness h(100, Cfg(8, 8));
  h.Add("a", 30, 10);  // chunked over 4 steps
  h.Step();
  EXPECT_GT(h.blocks.Counts().used, 0);
  h.sched.Remove("a");
  EXPECT_EQ(h.blocks.Counts().used, 0);
  EXPECT_FALSE(h.sched.has_work());
}

}  // namespace
}  // namespace vigil::engine
