// EngineCore stepped by hand: validation, abort, prefix caching, faults,
// chunked prefill equivalence and the stats the monitor reads.
#include "engine/engine_core.h"

#include <gtest/gtest.h>

#include <map>

#include "test_util.h"

namespace vigil::engine {
namespace {

struct Collected {
  std::vector<int32_t> tokens;
  bool finished = false;
  FinishReason reason = FinishReason::kNone;
  int64_t cached = 0;
  std::string error;
};

class EngineCoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<EngineCore> Make(EngineConfig cfg) {
    std::unique_ptr<EngineCore> core;
    Status st = EngineCore::Create(cfg, &core);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return core;
  }
  static EngineConfig Fixture(const std::string& m = "llama") {
    EngineConfig c;
    c.model = vigil::testing::ModelDir(m);
    c.num_blocks = 64;
    return c;
  }
  OutputCallback Collect(const std::string& id) {
    return [this, id](const RequestOutput& o) {
      Collected& c = out_[id];
      c.tokens.insert(c.tokens.end(), o.new_token_ids.begin(), o.new_token_ids.end());
      c.finished = o.finished;
      c.reason = o.finish_reason;
      c.cached = o.num_cached_tokens;
      c.error = o.error;
    };
  }
  static std::vector<int32_t> Prompt(int n, int32_t base = 1) {
    std::vector<int32_t> p(n);
    for (int i = 0; i < n; ++i) p[i] = (base + i * 7) % 500;
    return p;
  }
  static SamplingParams Greedy(int max_tokens) {
    SamplingParams p;
    p.temperature = 0;
    p.max_tokens = max_tokens;
    p.ignore_eos = true;
    return p;
  }
  std::map<std::string, Collected> out_;
};

TEST_F(EngineCoreTest, BuiltinModelServes) {
  EngineConfig cfg;  // builtin:tiny-llama
  auto core = Make(cfg);
  ASSERT_TRUE(core);
  EXPECT_EQ(core->model_info().vocab_size, 50257);
  EXPECT_EQ(core->model_info().architecture, "llama");
  ASSERT_TRUE(core->AddRequest("a", {464, 2068, 7586}, Greedy(8), Collect("a")).ok());
  while (core->HasWork()) core->Step();
  EXPECT_EQ(out_["a"].tokens.size(), 8u);
  EXPECT_EQ(out_["a"].reason, FinishReason::kLength);
  // Deterministic weights: a second engine gives the same tokens.
  auto again = Make(cfg);
  ASSERT_TRUE(again->AddRequest("b", {464, 2068, 7586}, Greedy(8), Collect("b")).ok());
  while (again->HasWork()) again->Step();
  EXPECT_EQ(out_["a"].tokens, out_["b"].tokens);
}

TEST_F(EngineCoreTest, RejectsRequestsThatCanNeverRun) {
  EngineConfig cfg = Fixture();
  cfg.max_model_len = 64;
  cfg.num_blocks = 3;  // 48 tokens
  auto core = Make(cfg);
  struct Case {
    std::vector<int32_t> prompt;
    int max_tokens;
    const char* expect;
  };
  std::vector<Case> cases = {
      {{}, 4, "empty"},
      {{1, 2, 600}, 4, "outside the vocabulary"},
      {{1, -3}, 4, "outside the vocabulary"},
      {Prompt(64), 4, "max_model_len"},
      {{1, 2}, 0, "max_tokens"},
      {Prompt(40), 20, "KV blocks"},
  };
  for (const Case& c : cases) {
    Status st = core->AddRequest("x", c.prompt, Greedy(c.max_tokens), nullptr);
    EXPECT_FALSE(st.ok()) << c.expect;
    EXPECT_NE(st.message().find(c.expect), std::string::npos) << st.ToString();
  }
  SamplingParams bad = Greedy(4);
  bad.top_p = 0;
  EXPECT_FALSE(core->AddRequest("x", {1}, bad, nullptr).ok());
  ASSERT_TRUE(core->AddRequest("dup", {1, 2}, Greedy(2), nullptr).ok());
  EXPECT_NE(core->AddRequest("dup", {1, 2}, Greedy(2), nullptr).message().find("duplicate"), std::string::npos);
  EXPECT_EQ(core->stats().requests_rejected_total, 7);
}

TEST_F(EngineCoreTest, AbortMidPrefillAndMidDecodeFreesEveryBlock) {
  EngineConfig cfg = Fixture();
  cfg.max_num_batched_tokens = 16;
  cfg.enable_prefix_caching = false;
  auto core = Make(cfg);
  ASSERT_TRUE(core->AddRequest("prefill", Prompt(100), Greedy(10), Collect("prefill")).ok());
  core->Step();  // 16 of 100 prompt tokens
  EXPECT_GT(core->block_counts().used, 0);
  EXPECT_TRUE(core->AbortRequest("prefill"));
  EXPECT_EQ(core->block_counts().used, 0);
  EXPECT_EQ(out_["prefill"].reason, FinishReason::kAbort);

  ASSERT_TRUE(core->AddRequest("decode", Prompt(10), Greedy(50), Collect("decode")).ok());
  for (int i = 0; i < 5; ++i) core->Step();
  EXPECT_EQ(out_["decode"].tokens.size(), 5u);
  EXPECT_TRUE(core->AbortRequest("decode"));
  EXPECT_EQ(core->block_counts().used, 0);
  EXPECT_FALSE(core->HasWork());
  EXPECT_FALSE(core->AbortRequest("decode"));
  EXPECT_EQ(core->stats().requests_finished_by_reason[static_cast<int>(FinishReason::kAbort)], 2);
  EXPECT_EQ(core->CheckInvariants(), "");
}

TEST_F(EngineCoreTest, PrefixCacheServesASharedPrefix) {
  auto core = Make(Fixture());
  auto shared = Prompt(40);
  auto a = shared, b = shared;
  a.push_back(5);
  b.push_back(9);
  ASSERT_TRUE(core->AddRequest("a", a, Greedy(4), Collect("a")).ok());
  while (core->HasWork()) core->Step();
  ASSERT_TRUE(core->AddRequest("b", b, Greedy(4), Collect("b")).ok());
  while (core->HasWork()) core->Step();
  EXPECT_EQ(out_["a"].cached, 0);
  EXPECT_EQ(out_["b"].cached, 32);  // two full blocks of 16
  const EngineStats& s = core->stats(true);
  EXPECT_EQ(s.prefix_cache_queries_total, 82);
  EXPECT_EQ(s.prefix_cache_hits_total, 32);
  EXPECT_GT(s.kv_blocks_cached_free, 0);
  // And the cached result is the same as computing from scratch.
  EngineConfig nocache = Fixture();
  nocache.enable_prefix_caching = false;
  auto fresh = Make(nocache);
  ASSERT_TRUE(fresh->AddRequest("b2", b, Greedy(4), Collect("b2")).ok());
  while (fresh->HasWork()) fresh->Step();
  EXPECT_EQ(out_["b"].tokens, out_["b2"].tokens);
}

TEST_F(EngineCoreTest, ChunkedPrefillGivesTheSameSampledOutput) {
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 50;
  p.seed = 1234;
  p.max_tokens = 12;
  p.ignore_eos = true;
  EngineConfig chunked = Fixture();
  chunked.max_num_batched_tokens = 16;
  EngineConfig whole = Fixture();
  whole.enable_chunked_prefill = false;
  whole.max_num_batched_tokens = 512;
  for (auto* cfg : {&chunked, &whole}) {
    auto core = Make(*cfg);
    const std::string id = cfg == &chunked ? "chunked" : "whole";
    ASSERT_TRUE(core->AddRequest(id, Prompt(90), p, Collect(id)).ok());
    ASSERT_TRUE(core->AddRequest(id + "2", Prompt(5, 3), p, Collect(id + "2")).ok());
    while (core->HasWork()) core->Step();
  }
  EXPECT_EQ(out_["chunked"].tokens, out_["whole"].tokens);
  EXPECT_EQ(out_["chunked2"].tokens, out_["whole2"].tokens);
  EXPECT_EQ(out_["chunked"].tokens.size(), 12u);
}

TEST_F(EngineCoreTest, ChunkedPrefillOffNeedsABudgetForTheLongestPrompt) {
  EngineConfig cfg = Fixture();
  cfg.enable_chunked_prefill = false;
  cfg.max_num_batched_tokens = 64;  // < max_model_len 512
  std::unique_ptr<EngineCore> core;
  Status st = EngineCore::Create(cfg, &core);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("max_num_batched_tokens"), std::string::npos);
}

TEST_F(EngineCoreTest, StopTokenIdsAndEos) {
  auto core = Make(Fixture());
  // Learn the greedy continuation, then ask to stop at its third token.
  ASSERT_TRUE(core->AddRequest("probe", Prompt(6), Greedy(5), Collect("probe")).ok());
  while (core->HasWork()) core->Step();
  auto p = Greedy(10);
  p.stop_token_ids = {out_["probe"].tokens[2]};
  ASSERT_TRUE(core->AddRequest("stop", Prompt(6), p, Collect("stop")).ok());
  while (core->HasWork()) core->Step();
  EXPECT_EQ(out_["stop"].reason, FinishReason::kStop);
  EXPECT_LE(out_["stop"].tokens.size(), 3u);
  EXPECT_EQ(out_["stop"].tokens.back(), out_["probe"].tokens[2]);
}

TEST_F(EngineCoreTest, LeakFaultLeavesOrphanedBlocks) {
  EngineConfig cfg = Fixture();
  cfg.faults.leak_blocks_on_abort = 1.0;
  auto core = Make(cfg);
  ASSERT_TRUE(core->AddRequest("a", Prompt(40), Greedy(20), Collect("a")).ok());
  core->Step();
  const int64_t held = core->block_counts().used;
  ASSERT_GT(held, 0);
  core->AbortRequest("a");
  const EngineStats& s = core->stats(/*force=*/true);
  EXPECT_EQ(s.kv_blocks_orphaned, held);
  EXPECT_EQ(s.kv_blocks_used, held);
  EXPECT_EQ(core->CheckInvariants(), "");
}

TEST_F(EngineCoreTest, StatsTrackLatenciesTokensAndSettings) {
  EngineConfig cfg = Fixture();
  cfg.max_num_seqs = 7;
  auto core = Make(cfg);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(core->AddRequest(std::to_string(i), Prompt(10 + i), Greedy(5), Collect(std::to_string(i))).ok());
  core->Step();
  const EngineStats& mid = core->stats();
  EXPECT_EQ(mid.requests_running, 3);
  EXPECT_GT(mid.kv_cache_usage, 0);
  EXPECT_GT(mid.avg_sequence_length, 10);
  while (core->HasWork()) core->Step();
  const EngineStats& s = core->stats(true);
  EXPECT_EQ(s.ttft_seconds.count(), 3u);
  EXPECT_EQ(s.inter_token_seconds.count(), 12u);
  EXPECT_EQ(s.e2e_seconds.count(), 3u);
  EXPECT_EQ(s.queue_seconds.count(), 3u);
  EXPECT_EQ(s.generation_tokens_total, 15);
  EXPECT_EQ(s.prompt_tokens_total, 33);
  EXPECT_EQ(s.requests_finished_by_reason[static_cast<int>(FinishReason::kLength)], 3);
  EXPECT_EQ(s.steps_total, 5);
  EXPECT_EQ(s.batch_size.count(), 5u);
  EXPECT_GT(s.busy_seconds_total, 0);
  EXPECT_GT(s.memory_used_bytes, 0);
  EXPECT_EQ(s.max_num_seqs, 7);
  EXPECT_EQ(s.block_size, 16);
  EXPECT_TRUE(s.prefix_caching_enabled);
  EXPECT_EQ(s.kv_blocks_used + s.kv_blocks_free + s.kv_blocks_cached_free, s.kv_blocks_total);
  EXPECT_EQ(s.requests_running, 0);
}

TEST_F(EngineCoreTest, UnknownBuiltinAndMissingCheckpointAreClearErrors) {
  EngineConfig cfg;
  cfg.model = "builtin:huge";
  std::unique_ptr<EngineCore> core;
  EXPECT_NE(EngineCore::Create(cfg, &core).message().find("unknown built-in model"), std::string::npos);
  cfg.model = "/nonexistent/model";
  EXPECT_EQ(EngineCore::Create(cfg, &core).code(), Status::Code::kNotFound);
  cfg.model = "builtin:tiny-llama";
  cfg.device = "tpu";
  EXPECT_FALSE(EngineCore::Create(cfg, &core).ok());
}

}  // namespace
}  // namespace vigil::engine
