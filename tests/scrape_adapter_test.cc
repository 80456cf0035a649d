#include "scrape/adapter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

namespace vigil::scrape {
namespace {

using Strings = std::vector<std::string>;
using Map = std::map<std::string, double>;

std::vector<ParsedFamily> Parse(std::string_view body, Format format = Format::kPrometheusText) {
  std::vector<ParsedFamily> fams;
  Status st = ParseExposition(body, format, ParseLimits{}, &fams);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return fams;
}

std::vector<InstanceReading> AdaptOk(EngineKind kind, std::string_view body, Strings* missing = nullptr,
                                     Format format = Format::kPrometheusText) {
  std::vector<InstanceReading> out;
  Status st = Adapt(kind, Parse(body, format), &out, missing);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

std::string Series(const std::string& name, const std::string& labels, double v) {
  char num[32];
  std::snprintf(num, sizeof num, "%.17g", v);
  return name + (labels.empty() ? "" : "{" + labels + "}") + " " + num + "\n";
}
// A TYPE line and one series.
std::string One(const char* type, const std::string& name, const std::string& labels, double v) {
  return "# TYPE " + name + " " + type + "\n" + Series(name, labels, v);
}
// A histogram with bounds 0.1, 1 and +Inf (no TYPE line when `typed` is false).
std::string Hist(const std::string& name, const std::string& labels, int a, int b, int inf, double sum,
                 bool typed = true) {
  const std::string l = labels.empty() ? "" : labels + ",";
  return (typed ? "# TYPE " + name + " histogram\n" : "") + Series(name + "_bucket", l + "le=\"0.1\"", a) +
         Series(name + "_bucket", l + "le=\"1.0\"", b) + Series(name + "_bucket", l + "le=\"+Inf\"", inf) +
         Series(name + "_count", labels, inf) + Series(name + "_sum", labels, sum);
}
// Each histogram's observation count, checking its shape on the way.
Map Counts(const InstanceReading& r) {
  Map m;
  for (const auto& [key, h] : r.histograms) {
    EXPECT_EQ(h.le.size(), h.cumulative.size()) << key;
    EXPECT_TRUE(std::is_sorted(h.le.begin(), h.le.end()) && std::isinf(h.le.back())) << key;
    EXPECT_EQ(h.cumulative.back(), h.count) << key;
    m[key] = h.count;
  }
  return m;
}

// `keys` plus the inputs only vigild serves (kv_evictions_total is not
// among them: vLLM's preemptions and SGLang's retractions are evictions too) (vLLM's cache_config_info gives
// prefix_caching_enabled too, but none of these fixtures has it), in
// CanonicalInputs() order.
Strings PlusVigilOnly(Strings keys) {
  for (const char* k : {"kv_blocks_total", "kv_blocks_used", "kv_blocks_orphaned", "busy_fraction", "memory_used_bytes",
                        "avg_sequence_length", "max_num_seqs", "block_size", "prefix_caching_enabled", "requests_stuck",
                        // newer engines' optional figures, in none of these fixtures
                        "requests_deferred", "spec_accept_rate", "lora_adapters_running", "lora_adapters_waiting",
                        "lora_max", "spec_draft_tokens_total", "spec_accepted_tokens_total"})
    keys.push_back(k);
  Strings out;
  for (const std::string& k : CanonicalInputs())
    if (std::find(keys.begin(), keys.end(), k) != keys.end()) out.push_back(k);
  EXPECT_EQ(out.size(), keys.size()) << "not canonical: " << ::testing::PrintToString(keys);
  return out;
}

const std::string M = "model_name=\"m\"";

// vLLM before the 0.9/0.10 renames: gpu_ cache names, time_per_output_token.
const std::string kVllmOld =
    One("gauge", "vllm:num_requests_running", M, 4) + One("gauge", "vllm:num_requests_waiting", M, 2) +
    One("gauge", "vllm:gpu_cache_usage_perc", M, 0.75) + One("counter", "vllm:num_preemptions_total", M, 3) +
    One("counter", "vllm:gpu_prefix_cache_queries_total", M, 1000) +
    One("counter", "vllm:gpu_prefix_cache_hits_total", M, 250) + One("counter", "vllm:prompt_tokens_total", M, 5000) +
    One("counter", "vllm:generation_tokens_total", M, 7000) +
    One("counter", "vllm:request_success_total", "finished_reason=\"stop\"," + M, 10) +
    Series("vllm:request_success_total", "finished_reason=\"length\"," + M, 5) +
    Series("vllm:request_success_total", "finished_reason=\"abort\"," + M, 2) +
    Hist("vllm:iteration_tokens_total", M, 1, 80, 90, 12000) +
    Hist("vllm:time_to_first_token_seconds", M, 5, 15, 17, 4.5) +
    Hist("vllm:time_per_output_token_seconds", M, 600, 700, 700, 30) +
    Hist("vllm:e2e_request_latency_seconds", M, 0, 3, 17, 90) +
    Hist("vllm:request_queue_time_seconds", M, 10, 16, 17, 3) +
    Hist("vllm:request_prefill_time_seconds", M, 12, 17, 17, 2);

TEST(ScrapeAdapter, VllmOldGeneration) {
  EXPECT_EQ(DetectEngine(Parse(kVllmOld)), EngineKind::kVllm);
  Strings missing{"stale"};
  auto out = AdaptOk(EngineKind::kUnknown, kVllmOld, &missing);
  ASSERT_EQ(out.size(), 1u);
  const InstanceReading& r = out[0];
  EXPECT_EQ(r.instance, "");
  EXPECT_EQ(r.gauges, (Map{{"requests_running", 4}, {"requests_waiting", 2}, {"kv_cache_usage", 0.75}}));
  EXPECT_EQ(r.counters, (Map{{"preemptions_total", 3},
                             {"kv_evictions_total", 3},  // a preemption is vLLM's eviction
                             {"prefix_cache_queries_total", 1000},
                             {"prefix_cache_hits_total", 250},
                             {"prompt_tokens_total", 5000},
                             {"generation_tokens_total", 7000},
                             {"requests_finished_total", 15},  // stop + length
                             {"requests_aborted_total", 2},
                             {"progress_total", 90}}));  // engine steps: the iteration histogram's count
  EXPECT_EQ(Counts(r), (Map{{"ttft", 17}, {"tbt", 700}, {"e2e", 17}, {"queue_time", 17}, {"prefill_time", 17}}));
  const Buckets& ttft = r.histograms.at("ttft");
  EXPECT_EQ(ttft.le, (std::vector<double>{0.1, 1, INFINITY}));
  EXPECT_EQ(ttft.cumulative, (std::vector<double>{5, 15, 17}));
  EXPECT_DOUBLE_EQ(ttft.sum, 4.5);
  // All vLLM has: what it lacks is vigild's own view of the engine.
  EXPECT_EQ(missing, PlusVigilOnly({}));
}

// vLLM v0: a hit-rate gauge instead of hit/query counters, no iteration histogram.
TEST(ScrapeAdapter, VllmV0HasNoPrefixCountersAndFallsBackToTokensForProgress) {
  const std::string body =
      One("gauge", "vllm:num_requests_running", M, 1) + One("gauge", "vllm:gpu_prefix_cache_hit_rate", M, 0.5) +
      One("counter", "vllm:prompt_tokens_total", M, 30) + One("counter", "vllm:generation_tokens_total", M, 12);
  Strings missing;
  auto out = AdaptOk(EngineKind::kVllm, body, &missing);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].gauges, (Map{{"requests_running", 1}}));  // absent, not 0
  EXPECT_EQ(out[0].counters,
            (Map{{"prompt_tokens_total", 30}, {"generation_tokens_total", 12}, {"progress_total", 42}}));
  EXPECT_EQ(missing, PlusVigilOnly({"requests_waiting", "kv_cache_usage", "preemptions_total", "kv_evictions_total",
                                    "prefix_cache_queries_total", "prefix_cache_hits_total", "requests_finished_total",
                                    "requests_aborted_total", "ttft", "tbt", "e2e", "queue_time", "prefill_time"}));
}

// vLLM after the renames, still serving the deprecated names (with other
// values here): the new names win and nothing is counted twice.
TEST(ScrapeAdapter, VllmNewGenerationPrefersNewNames) {
  const std::string E = "engine=\"0\"," + M;
  const std::string body =
      One("gauge", "vllm:kv_cache_usage_perc", E, 0.5) + One("gauge", "vllm:gpu_cache_usage_perc", E, 0.9) +
      One("counter", "vllm:prefix_cache_queries_total", E, 400) +
      One("counter", "vllm:prefix_cache_hits_total", E, 100) +
      One("counter", "vllm:gpu_prefix_cache_queries_total", E, 999) +
      One("counter", "vllm:gpu_prefix_cache_hits_total", E, 999) + One("counter", "vllm:num_preemptions_total", E, 0) +
      Hist("vllm:inter_token_latency_seconds", E, 1, 2, 3, 0.5) +
      Hist("vllm:time_per_output_token_seconds", E, 9, 9, 9, 0.5);
  auto out = AdaptOk(EngineKind::kVllm, body);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].instance, "");  // one engine: no name needed
  EXPECT_EQ(out[0].gauges, (Map{{"kv_cache_usage", 0.5}}));
  EXPECT_EQ(out[0].counters,  // a counter exposed as 0 is present
            (Map{{"prefix_cache_queries_total", 400},
                 {"prefix_cache_hits_total", 100},
                 {"preemptions_total", 0},
                 {"kv_evictions_total", 0}}));
  EXPECT_EQ(Counts(out[0]), (Map{{"tbt", 3}}));
}

// OpenMetrics names a counter family without `_total` and adds `_created`.
TEST(ScrapeAdapter, VllmOpenMetrics) {
  const std::string body = "# TYPE vllm:prompt_tokens counter\n" + Series("vllm:prompt_tokens_total", M, 11) +
                           Series("vllm:prompt_tokens_created", M, 1.7e9) +
                           Hist("vllm:time_to_first_token_seconds", M, 1, 1, 2, 1.5) + "# EOF\n";
  auto out = AdaptOk(EngineKind::kUnknown, body, nullptr, Format::kOpenMetrics);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].counters, (Map{{"prompt_tokens_total", 11}}));
  EXPECT_EQ(Counts(out[0]), (Map{{"ttft", 2}}));
}

// Data parallel: one `engine` label value per engine core -> one instance each.
TEST(ScrapeAdapter, VllmDataParallelSplitsByEngineLabel) {
  const std::string e0 = "engine=\"0\"," + M, e1 = "engine=\"1\"," + M;
  std::string body = One("gauge", "vllm:num_requests_running", e0, 3) + Series("vllm:num_requests_running", e1, 5) +
                     "# TYPE vllm:request_success_total counter\n";
  for (const char* reason : {"stop", "length", "abort"}) {
    body += Series("vllm:request_success_total", e0 + ",finished_reason=\"" + reason + "\"", 1);
    body += Series("vllm:request_success_total", e1 + ",finished_reason=\"" + reason + "\"", 10);
  }
  body += Hist("vllm:time_to_first_token_seconds", e0, 1, 1, 1, 0.05) +
          Hist("vllm:time_to_first_token_seconds", e1, 0, 4, 4, 2, false);
  auto out = AdaptOk(EngineKind::kVllm, body);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].instance, "0");
  EXPECT_EQ(out[1].instance, "1");
  EXPECT_EQ(out[0].gauges, (Map{{"requests_running", 3}}));
  EXPECT_EQ(out[1].gauges, (Map{{"requests_running", 5}}));
  EXPECT_EQ(out[0].counters, (Map{{"requests_finished_total", 2}, {"requests_aborted_total", 1}}));
  EXPECT_EQ(out[1].counters, (Map{{"requests_finished_total", 20}, {"requests_aborted_total", 10}}));
  EXPECT_EQ(Counts(out[0]), (Map{{"ttft", 1}}));
  EXPECT_EQ(Counts(out[1]), (Map{{"ttft", 4}}));
}

TEST(ScrapeAdapter, SeveralModelsSplitByModelName) {
  auto out = AdaptOk(EngineKind::kVllm, One("gauge", "vllm:num_requests_running", "model_name=\"a\"", 1) +
                                            Series("vllm:num_requests_running", "model_name=\"b\"", 2));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].instance, "a");
  EXPECT_EQ(out[1].instance, "b");
  EXPECT_EQ(out[1].gauges, (Map{{"requests_running", 2}}));
}

// SGLang: scheduler metrics per tensor/pipeline rank, tokenizer metrics per model.
const std::string R = "engine_type=\"unified\"," + M + ",pp_rank=\"0\",tp_rank=\"0\"";
const std::string kSglang =
    One("gauge", "sglang:num_running_reqs", R, 6) +
    Series("sglang:num_running_reqs", "engine_type=\"unified\"," + M + ",pp_rank=\"0\",tp_rank=\"1\"", 6) +
    One("gauge", "sglang:num_queue_reqs", R, 3) + One("gauge", "sglang:token_usage", R, 0.42) +
    One("gauge", "sglang:cache_hit_rate", M, 0.1) + One("counter", "sglang:num_retracted_requests_total", R, 4) +
    One("counter", "sglang:prompt_tokens_total", M, 800) + One("counter", "sglang:generation_tokens_total", M, 900) +
    "# HELP sglang:cached_tokens_total Number of cached prompt tokens.\n"
    "# TYPE sglang:cached_tokens_total counter\n" +  // declared, no series yet: reads 0
    One("counter", "sglang:num_requests_total", M, 12) +
    One("counter", "sglang:num_aborted_requests_total", M, 1) +
    One("counter", "sglang:realtime_tokens_total", "mode=\"prefill_compute\"," + R, 700) +
    Series("sglang:realtime_tokens_total", "mode=\"prefill_cache\"," + R, 100) +
    Series("sglang:realtime_tokens_total", "mode=\"decode\"," + R, 950) +
    Hist("sglang:time_to_first_token_seconds", M, 2, 10, 12, 5) +
    Hist("sglang:inter_token_latency_seconds", M, 880, 900, 900, 20) +
    Hist("sglang:e2e_request_latency_seconds", M, 0, 2, 12, 60) + Hist("sglang:queue_time_seconds", R, 11, 12, 12, 0.4);

TEST(ScrapeAdapter, Sglang) {
  EXPECT_EQ(DetectEngine(Parse(kSglang)), EngineKind::kSglang);
  Strings missing;
  auto out = AdaptOk(EngineKind::kUnknown, kSglang, &missing);
  ASSERT_EQ(out.size(), 1u);
  const InstanceReading& r = out[0];
  EXPECT_EQ(r.instance, "");
  // Every tensor-parallel rank repeats one figure: 6 running, not 12.
  EXPECT_EQ(r.gauges, (Map{{"requests_running", 6}, {"requests_waiting", 3}, {"kv_cache_usage", 0.42}}));
  EXPECT_EQ(r.counters, (Map{{"preemptions_total", 4},
                             {"kv_evictions_total", 4},  // retractions
                             {"prefix_cache_queries_total", 800},
                             {"prefix_cache_hits_total", 0},
                             {"prompt_tokens_total", 800},
                             {"generation_tokens_total", 900},
                             {"requests_finished_total", 12},
                             {"requests_aborted_total", 1},
                             {"progress_total", 1750}}));
  EXPECT_EQ(Counts(r), (Map{{"ttft", 12}, {"tbt", 900}, {"e2e", 12}, {"queue_time", 12}}));
  EXPECT_EQ(missing, PlusVigilOnly({"prefill_time"}));
}

TEST(ScrapeAdapter, SglangDataParallelRanksAddUpButUsageIsTheFullest) {
  const std::string d0 = "dp_rank=\"0\"," + M + ",tp_rank=\"0\"", d1 = "dp_rank=\"1\"," + M + ",tp_rank=\"0\"";
  const std::string body = One("gauge", "sglang:num_running_reqs", d0, 2) + Series("sglang:num_running_reqs", d1, 5) +
                           One("gauge", "sglang:token_usage", d0, 0.3) + Series("sglang:token_usage", d1, 0.8) +
                           One("counter", "sglang:prompt_tokens_total", M, 10);
  Strings missing;
  auto out = AdaptOk(EngineKind::kSglang, body, &missing);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].gauges, (Map{{"requests_running", 7}, {"kv_cache_usage", 0.8}}));
  // No cached-token counter (older SGLang): no query count either.
  EXPECT_EQ(out[0].counters, (Map{{"prompt_tokens_total", 10}}));
  EXPECT_NE(std::find(missing.begin(), missing.end(), "prefix_cache_queries_total"), missing.end());
}

// TGI's Rust exporter: counters without `_total`, durations as histograms.
const std::string kTgi =
    One("gauge", "tgi_batch_current_size", "", 8) + One("gauge", "tgi_queue_size", "", 5) +
    One("gauge", "tgi_batch_current_max_tokens", "", 4096) + One("counter", "tgi_request_count", "", 40) +
    One("counter", "tgi_request_success", "kind=\"generate_stream\",stop_reason=\"eos_token\"", 20) +
    Series("tgi_request_success", "kind=\"generate_stream\",stop_reason=\"length\"", 7) +
    Series("tgi_request_success", "kind=\"generate\",stop_reason=\"stop_sequence\"", 3) +
    One("counter", "tgi_request_failure", "err=\"validation\"", 2) +
    One("counter", "tgi_batch_inference_count", "method=\"prefill\"", 30) +
    Series("tgi_batch_inference_count", "method=\"decode\"", 970) +
    Hist("tgi_request_input_length", "", 1, 20, 30, 6000) + Hist("tgi_request_generated_tokens", "", 0, 10, 30, 4500) +
    Hist("tgi_request_duration", "", 0, 5, 30, 120) + Hist("tgi_request_queue_duration", "", 25, 30, 30, 1.2) +
    Hist("tgi_request_mean_time_per_token_duration", "", 30, 30, 30, 0.9) +
    Hist("tgi_request_inference_duration", "", 0, 5, 30, 100);

TEST(ScrapeAdapter, Tgi) {
  EXPECT_EQ(DetectEngine(Parse(kTgi)), EngineKind::kTgi);
  Strings missing;
  auto out = AdaptOk(EngineKind::kUnknown, kTgi, &missing);
  ASSERT_EQ(out.size(), 1u);
  const InstanceReading& r = out[0];
  EXPECT_EQ(r.gauges, (Map{{"requests_running", 8}, {"requests_waiting", 5}}));
  EXPECT_EQ(r.counters, (Map{{"prompt_tokens_total", 6000},
                             {"generation_tokens_total", 4500},
                             {"requests_finished_total", 30},
                             {"progress_total", 1000}}));
  EXPECT_EQ(Counts(r), (Map{{"tbt", 30}, {"e2e", 30}, {"queue_time", 30}}));
  EXPECT_EQ(missing,
            PlusVigilOnly({"kv_cache_usage", "preemptions_total", "kv_evictions_total", "prefix_cache_queries_total",
                           "prefix_cache_hits_total", "requests_aborted_total", "ttft", "prefill_time"}));
}

// llama.cpp's server today: no KV usage gauge, no histograms, no request counters.
const std::string kLlamaCpp =
    "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n" +
    One("counter", "llamacpp:prompt_tokens_total", "", 1500) +
    One("counter", "llamacpp:prompt_seconds_total", "", 3.5) +
    One("counter", "llamacpp:tokens_predicted_total", "", 4200) +
    One("counter", "llamacpp:tokens_predicted_seconds_total", "", 80) +
    One("counter", "llamacpp:n_decode_total", "", 4300) + One("counter", "llamacpp:n_tokens_max", "", 2048) +
    One("gauge", "llamacpp:prompt_tokens_seconds", "", 430) +
    One("gauge", "llamacpp:predicted_tokens_seconds", "", 52) + One("gauge", "llamacpp:requests_processing", "", 2) +
    One("gauge", "llamacpp:requests_deferred", "", 1) + One("gauge", "llamacpp:n_busy_slots_per_decode", "", 1.8);

TEST(ScrapeAdapter, LlamaCpp) {
  EXPECT_EQ(DetectEngine(Parse(kLlamaCpp)), EngineKind::kLlamaCpp);
  Strings missing;
  auto out = AdaptOk(EngineKind::kUnknown, kLlamaCpp, &missing);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].gauges, (Map{{"requests_running", 2}, {"requests_waiting", 1}}));
  EXPECT_EQ(out[0].counters,
            (Map{{"prompt_tokens_total", 1500}, {"generation_tokens_total", 4200}, {"progress_total", 4300}}));
  EXPECT_TRUE(out[0].histograms.empty());
  EXPECT_EQ(missing, PlusVigilOnly({"kv_cache_usage", "preemptions_total", "kv_evictions_total",
                                    "prefix_cache_queries_total", "prefix_cache_hits_total", "requests_finished_total",
                                    "requests_aborted_total", "ttft", "tbt", "e2e", "queue_time", "prefill_time"}));
  // Why: upstream removed the KV gauges (the report quotes this).
  EXPECT_NE(MissingNote(EngineKind::kLlamaCpp, "kv_cache_usage").find("2025"), std::string::npos);
  EXPECT_EQ(MissingNote(EngineKind::kVllm, "kv_cache_usage"), "");
}

TEST(ScrapeAdapter, OlderLlamaCppServedKvUsage) {
  Strings missing;
  auto out =
      AdaptOk(EngineKind::kLlamaCpp, kLlamaCpp + One("gauge", "llamacpp:kv_cache_usage_ratio", "", 0.25), &missing);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].gauges.at("kv_cache_usage"), 0.25);
  EXPECT_EQ(std::count(missing.begin(), missing.end(), "kv_cache_usage"), 0);
}

// vigild: vLLM's names (both generations, same values) and its own.
const std::string T = "model_name=\"tiny\"";
const std::string kVigild =
    One("gauge", "vigil_up", "", 1) + One("gauge", "vllm:num_requests_running", T, 1) +
    One("gauge", "vllm:kv_cache_usage_perc", T, 0.2) + One("gauge", "vllm:gpu_cache_usage_perc", T, 0.2) +
    One("counter", "vllm:generation_tokens_total", T, 64) + One("counter", "vllm:prompt_tokens_total", T, 16) +
    Hist("vllm:iteration_tokens_total", T, 60, 66, 66, 80) +
    Hist("vllm:inter_token_latency_seconds", T, 50, 62, 63, 5) +
    Hist("vllm:time_per_output_token_seconds", T, 50, 62, 63, 5) + One("gauge", "vigil_engine_busy_fraction", T, 0.4) +
    One("counter", "vigil_engine_steps_total", T, 70) +
    // Its own engine view, named as daemon/metrics.cc names it.
    One("gauge", "vigil_kv_blocks_capacity", T, 512) + One("gauge", "vigil_kv_blocks_used", T, 300) +
    One("gauge", "vigil_kv_blocks_orphaned", T, 7) + One("gauge", "vigil_memory_used_bytes", T, 2.5e9) +
    One("gauge", "vigil_requests_stuck", T, 2) + One("gauge", "vigil_engine_prefix_caching_enabled", T, 1) +
    One("counter", "vllm_kv_cache_evictions_total", T, 1234) + One("gauge", "vigil_avg_sequence_length", T, 96) +
    One("gauge", "vigil_engine_max_num_seqs", T, 24) + One("gauge", "vigil_engine_block_size", T, 16);

TEST(ScrapeAdapter, Vigild) {
  EXPECT_EQ(DetectEngine(Parse(kVigild)), EngineKind::kVigil);
  Strings missing;
  auto out = AdaptOk(EngineKind::kUnknown, kVigild, &missing);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].instance, "");  // vigil_up has no model_name, but no figure is read from it
  EXPECT_EQ(out[0].gauges, (Map{{"requests_running", 1},
                                {"kv_cache_usage", 0.2},
                                {"kv_blocks_total", 512},
                                {"avg_sequence_length", 96},
                                {"max_num_seqs", 24},
                                {"block_size", 16},
                                {"kv_blocks_used", 300},
                                {"kv_blocks_orphaned", 7},
                                {"busy_fraction", 0.4},
                                {"memory_used_bytes", 2.5e9},
                                {"prefix_caching_enabled", 1},
                                {"requests_stuck", 2}}));
  // Its step counter, not the iteration histogram.
  EXPECT_EQ(out[0].counters, (Map{{"prompt_tokens_total", 16},
                                  {"generation_tokens_total", 64},
                                  {"progress_total", 70},
                                  {"kv_evictions_total", 1234}}));
  EXPECT_EQ(Counts(out[0]), (Map{{"tbt", 63}}));
  // What this fixture leaves out, and nothing of vigild's own.
  EXPECT_EQ(missing, (Strings{"requests_waiting", "requests_deferred", "spec_accept_rate", "lora_adapters_running",
                              "lora_adapters_waiting", "lora_max", "preemptions_total", "prefix_cache_queries_total",
                              "prefix_cache_hits_total", "requests_finished_total", "requests_aborted_total",
                              "spec_draft_tokens_total", "spec_accepted_tokens_total", "ttft", "e2e", "queue_time",
                              "prefill_time"}));
  // Read as plain vLLM, the same scrape falls back to the iteration count
  // and reads none of vigild's own names.
  Strings vllm_missing;
  auto as_vllm = AdaptOk(EngineKind::kVllm, kVigild, &vllm_missing);
  ASSERT_EQ(as_vllm.size(), 1u);
  EXPECT_EQ(as_vllm[0].counters.at("progress_total"), 66);
  EXPECT_EQ(as_vllm[0].gauges, (Map{{"requests_running", 1}, {"kv_cache_usage", 0.2}}));
  EXPECT_EQ(as_vllm[0].counters.count("kv_evictions_total"), 0u);
  for (const char* k : {"kv_blocks_total", "kv_blocks_used", "kv_blocks_orphaned", "busy_fraction", "memory_used_bytes",
                        "avg_sequence_length", "max_num_seqs", "block_size", "prefix_caching_enabled", "requests_stuck",
                        "kv_evictions_total"})
    EXPECT_EQ(std::count(vllm_missing.begin(), vllm_missing.end(), k), 1) << k;
}

// vigild's settings and leak gauges are absent, not 0, when it does not serve them.
TEST(ScrapeAdapter, VigildWithoutItsEngineViewLeavesItAbsent) {
  Strings missing;
  const std::string body = One("gauge", "vigil_up", "", 1) + One("gauge", "vllm:num_requests_running", T, 1);
  auto out = AdaptOk(EngineKind::kVigil, body, &missing);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].gauges, (Map{{"requests_running", 1}}));
  EXPECT_TRUE(out[0].counters.empty());
  EXPECT_EQ(std::count(missing.begin(), missing.end(), "kv_evictions_total"), 1);
  EXPECT_EQ(std::count(missing.begin(), missing.end(), "kv_blocks_orphaned"), 1);
}

// vLLM's CacheConfig as an info gauge: one series per engine core with
// `engine` but no model_name, the setting as the label "True"/"False".
TEST(ScrapeAdapter, VllmPrefixCachingFromCacheConfigInfo) {
  const std::string e0 = "engine=\"0\"," + M, e1 = "engine=\"1\"," + M;
  const std::string info = "block_size=\"16\",cache_dtype=\"auto\",enable_prefix_caching=";
  const std::string body = One("gauge", "vllm:num_requests_running", e0, 3) +
                           Series("vllm:num_requests_running", e1, 5) +
                           One("gauge", "vllm:cache_config_info", info + "\"True\",engine=\"0\"", 1) +
                           Series("vllm:cache_config_info", info + "\"False\",engine=\"1\"", 1);
  Strings missing;
  auto out = AdaptOk(EngineKind::kUnknown, body, &missing);
  // The info series make no instance of their own ("" or "m/0").
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].instance, "0");
  EXPECT_EQ(out[1].instance, "1");
  EXPECT_EQ(out[0].gauges, (Map{{"requests_running", 3}, {"prefix_caching_enabled", 1}}));
  EXPECT_EQ(out[1].gauges, (Map{{"requests_running", 5}, {"prefix_caching_enabled", 0}}));
  EXPECT_EQ(std::count(missing.begin(), missing.end(), "prefix_caching_enabled"), 0);

  // v0's prometheus Info (OpenMetrics type `info`), without engine label: every instance.
  const std::string om = "# TYPE vllm:num_requests_running gauge\n" + Series("vllm:num_requests_running", M, 2) +
                         "# TYPE vllm:cache_config info\n" +
                         Series("vllm:cache_config_info", "enable_prefix_caching=\"False\"", 1) + "# EOF\n";
  out = AdaptOk(EngineKind::kVllm, om, nullptr, Format::kOpenMetrics);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].gauges, (Map{{"requests_running", 2}, {"prefix_caching_enabled", 0}}));

  // Not a bool (an unresolved default): no value. An info gauge without the
  // label does not expose the setting at all.
  out = AdaptOk(EngineKind::kVllm,
                One("gauge", "vllm:num_requests_running", M, 1) +
                    One("gauge", "vllm:cache_config_info", "enable_prefix_caching=\"None\"", 1),
                &missing);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].gauges, (Map{{"requests_running", 1}}));
  out = AdaptOk(
      EngineKind::kVllm,
      One("gauge", "vllm:num_requests_running", M, 1) + One("gauge", "vllm:cache_config_info", "block_size=\"16\"", 1),
      &missing);
  EXPECT_EQ(out[0].gauges, (Map{{"requests_running", 1}}));
  EXPECT_EQ(std::count(missing.begin(), missing.end(), "prefix_caching_enabled"), 1);
}

TEST(ScrapeAdapter, DetectionAndKindNames) {
  EXPECT_EQ(DetectEngine({}), EngineKind::kUnknown);
  EXPECT_EQ(DetectEngine(Parse(One("counter", "process_cpu_seconds_total", "", 1))), EngineKind::kUnknown);
  // A mixed body: the prefix with most families wins.
  EXPECT_EQ(DetectEngine(Parse("tgi_queue_size 1\nllamacpp:requests_processing 1\nllamacpp:requests_deferred 0\n")),
            EngineKind::kLlamaCpp);
  for (EngineKind k :
       {EngineKind::kVllm, EngineKind::kSglang, EngineKind::kTgi, EngineKind::kLlamaCpp, EngineKind::kVigil}) {
    EngineKind parsed = EngineKind::kUnknown;
    ASSERT_TRUE(ParseEngineKind(EngineKindName(k), &parsed).ok());
    EXPECT_EQ(parsed, k);
  }
  EngineKind k = EngineKind::kVllm;
  ASSERT_TRUE(ParseEngineKind("auto", &k).ok());
  EXPECT_EQ(k, EngineKind::kUnknown);
  Status st = ParseEngineKind("tensorrt", &k);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("llamacpp"), std::string::npos);
  EXPECT_STREQ(EngineKindName(EngineKind::kLlamaCpp), "llamacpp");
  EXPECT_STREQ(EngineKindName(EngineKind::kUnknown), "unknown");
}

TEST(ScrapeAdapter, NothingDetectedIsNotFound) {
  std::vector<InstanceReading> out(1);
  Strings missing{"stale"};
  EXPECT_EQ(Adapt(EngineKind::kUnknown, Parse("up 1\n"), &out, &missing).code(), Status::Code::kNotFound);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(missing.empty());
  // A forced kind over a body without its names: no instance, everything missing.
  ASSERT_TRUE(Adapt(EngineKind::kTgi, Parse("up 1\n"), &out, &missing).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(missing, CanonicalInputs());
}

TEST(ScrapeAdapter, MalformedHistogramsAreRejected) {
  const std::string name = "vllm:e2e_request_latency_seconds";
  const std::string no_inf = "# TYPE " + name + " histogram\n" + Series(name + "_bucket", "le=\"1\"", 1);
  const std::string bad_le = "# TYPE " + name + " histogram\n" + Series(name + "_bucket", "le=\"one\"", 1) +
                             Series(name + "_bucket", "le=\"+Inf\"", 1);
  for (const std::string& body : {no_inf, bad_le}) {
    std::vector<InstanceReading> out(1);
    Status st = Adapt(EngineKind::kVllm, Parse(body), &out);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << body;
    EXPECT_NE(st.message().find(name), std::string::npos) << st.ToString();
    EXPECT_TRUE(out.empty());
  }
}

TEST(ScrapeAdapter, NaNSamplesAreNoValue) {
  auto out = AdaptOk(EngineKind::kLlamaCpp, "llamacpp:requests_processing NaN\nllamacpp:requests_deferred 0\n");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].gauges, (Map{{"requests_waiting", 0}}));
}

TEST(ScrapeAdapter, OnlyTheFamiliesAnAdapterReadsAreKept) {
  for (const char* read :
       {"vllm:num_requests_running", "vllm:generation_tokens_total", "vllm:generation_tokens",
        "vllm:time_to_first_token_seconds", "vllm:cache_config_info", "vllm:cache_config", "sglang:num_queue_reqs",
        "tgi_queue_size", "llamacpp:n_decode_total", "vigil_engine_steps_total"})
    EXPECT_TRUE(AdaptersRead(read)) << read;
  for (const char* other : {"python_gc_objects_collected_total", "process_cpu_seconds_total", "vllm:request_params_n",
                            "http_requests_total", "vllm:num_requests"})
    EXPECT_FALSE(AdaptersRead(other)) << other;
  // Parsed with the filter, the same scrape adapts to the same reading.
  const std::string body = kVigild +
                           "# TYPE python_gc_objects_collected_total counter\n"
                           "python_gc_objects_collected_total{generation=\"0\"} 12\n";
  std::vector<ParsedFamily> all, kept;
  ASSERT_TRUE(ParseExposition(body, Format::kPrometheusText, {}, &all).ok());
  const FamilyFilter keep = [](std::string_view f) { return AdaptersRead(f); };
  ASSERT_TRUE(ParseExposition(body, Format::kPrometheusText, {}, &kept, nullptr, &keep).ok());
  ASSERT_EQ(all.size(), kept.size());
  size_t dropped = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].sample_count, kept[i].sample_count);
    dropped += kept[i].samples.empty() && !all[i].samples.empty();
  }
  EXPECT_GE(dropped, 2u);  // vigil_up and python_gc_* are not read
  std::vector<InstanceReading> a, b;
  Strings ma, mb;
  ASSERT_TRUE(Adapt(EngineKind::kUnknown, all, &a, &ma).ok());
  ASSERT_TRUE(Adapt(EngineKind::kUnknown, kept, &b, &mb).ok());
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(a[0].gauges, b[0].gauges);
  EXPECT_EQ(a[0].counters, b[0].counters);
  EXPECT_EQ(ma, mb);
}

}  // namespace
}  // namespace vigil::scrape
