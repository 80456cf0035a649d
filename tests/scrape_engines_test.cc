// Per engine family: what "KV evictions" are (vLLM preemptions, SGLang
// retractions from its counter or its gauge), the older name generations
// (SGLang's first metrics), NVIDIA's servers (Triton with TensorRT-LLM,
// trtllm-serve, Dynamo's frontend), and malformed families dropped while
// the rest of the scrape is used.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "scrape/adapter.h"
#include "scrape/deriver.h"

namespace vigil::scrape {
namespace {

using Map = std::map<std::string, double>;
using Strings = std::vector<std::string>;

std::vector<ParsedFamily> Parse(std::string_view body) {
  std::vector<ParsedFamily> fams;
  Status st = ParseExposition(body, Format::kPrometheusText, ParseLimits{}, &fams);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return fams;
}

std::vector<InstanceReading> AdaptOk(EngineKind kind, std::string_view body, Strings* missing = nullptr) {
  std::vector<InstanceReading> out;
  Status st = Adapt(kind, Parse(body), &out, missing);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

bool Has(const Strings& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// A histogram whose every observation is in the (5, 10] bucket.
std::string SlowHist(const std::string& name, const std::string& labels, int n) {
  const std::string l = labels.empty() ? "" : labels + ",";
  char buf[1024];
  std::snprintf(
      buf, sizeof buf,
      "# TYPE %s histogram\n%s_bucket{%sle=\"1.0\"} 0\n%s_bucket{%sle=\"5.0\"} 0\n%s_bucket{%sle=\"10.0\"} %d\n"
      "%s_bucket{%sle=\"+Inf\"} %d\n%s_count{%s} %d\n%s_sum{%s} %d\n",
      name.c_str(), name.c_str(), l.c_str(), name.c_str(), l.c_str(), name.c_str(), l.c_str(), n, name.c_str(),
      l.c_str(), n, name.c_str(), labels.c_str(), n, name.c_str(), labels.c_str(), 6 * n);
  return buf;
}

TEST(ScrapeEngines, VllmPreemptionsAreItsKvEvictionsInBothGenerations) {
  // V1 names (kv_cache_usage_perc, inter_token_latency) and V0 names
  // (gpu_cache_usage_perc, time_per_output_token): one eviction counter.
  for (const std::string usage : {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}) {
    const std::string body =
        "# TYPE " + usage + " gauge\n" + usage + "{model_name=\"m\"} 0.98\n" +
        "# TYPE vllm:num_preemptions_total counter\nvllm:num_preemptions_total{model_name=\"m\"} 1200\n" +
        SlowHist("vllm:time_to_first_token_seconds", "model_name=\"m\"", 40);
    Strings missing;
    auto out = AdaptOk(EngineKind::kUnknown, body, &missing);
    ASSERT_EQ(out.size(), 1u) << usage;
    EXPECT_EQ(out[0].counters.at("kv_evictions_total"), 1200) << usage;
    EXPECT_EQ(out[0].counters.at("preemptions_total"), 1200) << usage;
    EXPECT_FALSE(Has(missing, "kv_evictions_total")) << usage;
  }
}

TEST(ScrapeEngines, VigildKeepsItsOwnBlockEvictionCounter) {
  const std::string body =
      "# TYPE vigil_engine_steps_total counter\nvigil_engine_steps_total 5\n"
      "# TYPE vllm_kv_cache_evictions_total counter\nvllm_kv_cache_evictions_total 900\n"
      "# TYPE vllm:num_preemptions_total counter\nvllm:num_preemptions_total 7\n";
  auto vigil = AdaptOk(EngineKind::kUnknown, body);
  ASSERT_EQ(vigil.size(), 1u);
  EXPECT_EQ(vigil[0].counters.at("kv_evictions_total"), 900);  // blocks, its own figure
  auto as_vllm = AdaptOk(EngineKind::kVllm, body);
  ASSERT_EQ(as_vllm.size(), 1u);
  EXPECT_EQ(as_vllm[0].counters.at("kv_evictions_total"), 7);  // read as plain vLLM: preemptions
}

TEST(ScrapeEngines, SglangRetractionCounterIsPreferredOverItsGauge) {
  const std::string body =
      "# TYPE sglang:num_retracted_reqs gauge\nsglang:num_retracted_reqs{model_name=\"m\",tp_rank=\"0\"} 3\n"
      "# TYPE sglang:num_retracted_requests_total counter\n"
      "sglang:num_retracted_requests_total{model_name=\"m\",tp_rank=\"0\"} 410\n";
  Strings missing;
  auto out = AdaptOk(EngineKind::kUnknown, body, &missing);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].counters.at("kv_evictions_total"), 410);
  EXPECT_EQ(out[0].gauges.at("kv_evictions_recent"), 3);
  ScrapeDeriver d(10);
  d.Tick(0, out[0]);
  out[0].counters["kv_evictions_total"] = 610;
  out[0].counters["preemptions_total"] = 610;
  out[0].gauges["kv_evictions_recent"] = 9;
  Map v;
  for (const auto& [k, x] : d.Tick(2, out[0])) v[k] = x;
  EXPECT_DOUBLE_EQ(v.at("kv_evictions_per_s"), 100);  // the counter's, not the gauge's
}

TEST(ScrapeEngines, SglangGaugeOnlyIsAddedUpPerPublication) {
  // Older SGLang: only num_retracted_reqs, the retractions since the last
  // decode log line (reset there). Not missing: the deriver adds it up.
  const std::string body =
      "# TYPE sglang:num_retracted_reqs gauge\nsglang:num_retracted_reqs{model_name=\"m\"} 0\n"
      "# TYPE sglang:token_usage gauge\nsglang:token_usage{model_name=\"m\"} 0.97\n";
  Strings missing;
  auto out = AdaptOk(EngineKind::kUnknown, body, &missing);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(Has(missing, "kv_evictions_total"));
  EXPECT_FALSE(Has(missing, "preemptions_total"));
  ScrapeDeriver d(10);
  InstanceReading r = out[0];
  Map v;
  auto at = [&](double t, double g) {
    r.gauges["kv_evictions_recent"] = g;
    v.clear();
    for (const auto& [k, x] : d.Tick(t, r)) v[k] = x;
  };
  at(0, 0);   // baseline
  at(1, 24);  // a publication: 24 retractions
  at(2, 24);  // the same publication, held: not again
  at(3, 0);   // a quiet interval
  at(4, 31);  // a burst published between two scrapes is still seen
  EXPECT_EQ(v.at("kv_evictions_total"), 55);
  EXPECT_EQ(v.at("preemptions_total"), 55);
  EXPECT_DOUBLE_EQ(v.at("kv_evictions_per_s"), 55.0 / 4);
  EXPECT_EQ(v.count("kv_evictions_recent"), 0u);  // an input, not a signal
}

TEST(ScrapeEngines, SglangFirstGenerationNamesAndNameLabel) {
  // sglang/srt/metrics/metrics_collector.py (late 2024): the model in `name`.
  const std::string body =
      "# TYPE sglang:num_requests_running gauge\nsglang:num_requests_running{name=\"a\"} 5\n"
      "sglang:num_requests_running{name=\"b\"} 2\n"
      "# TYPE sglang:num_requests_waiting gauge\nsglang:num_requests_waiting{name=\"a\"} 7\n"
      "sglang:num_requests_waiting{name=\"b\"} 1\n"
      "# TYPE sglang:token_usage gauge\nsglang:token_usage{name=\"a\"} 0.5\nsglang:token_usage{name=\"b\"} 0.25\n"
      "# TYPE sglang:request_success_total counter\n"
      "sglang:request_success_total{finished_reason=\"stop\",name=\"a\"} 10\n"
      "sglang:request_success_total{finished_reason=\"length\",name=\"a\"} 4\n";
  auto out = AdaptOk(EngineKind::kUnknown, body);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].instance, "a");
  EXPECT_EQ(out[0].gauges, (Map{{"requests_running", 5}, {"requests_waiting", 7}, {"kv_cache_usage", 0.5}}));
  EXPECT_EQ(out[0].counters, (Map{{"requests_finished_total", 14}}));
  EXPECT_EQ(out[1].instance, "b");
  EXPECT_EQ(out[1].gauges.at("requests_waiting"), 1);
  // queue_req alone (the prefill log line's figure) is the waiting queue too.
  auto q = AdaptOk(EngineKind::kSglang, "# TYPE sglang:queue_req gauge\nsglang:queue_req{name=\"a\"} 3\n");
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].gauges, (Map{{"requests_waiting", 3}}));
}

TEST(ScrapeEngines, TritonWithTensorRtLlmReadsTheEngineModelOnly) {
  // An ensemble: nv_inference_* for every model, nv_trt_llm_* for the engine.
  const std::string body =
      "# TYPE nv_trt_llm_request_metrics gauge\n"
      "nv_trt_llm_request_metrics{model=\"tensorrt_llm\",request_type=\"waiting\",version=\"1\"} 4\n"
      "nv_trt_llm_request_metrics{model=\"tensorrt_llm\",request_type=\"active\",version=\"1\"} 9\n"
      "nv_trt_llm_request_metrics{model=\"tensorrt_llm\",request_type=\"max\",version=\"1\"} 512\n"
      "# TYPE nv_trt_llm_kv_cache_block_metrics gauge\n"
      "nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=\"tokens_per\",model=\"tensorrt_llm\",version=\"1\"} 64\n"
      "nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=\"used\",model=\"tensorrt_llm\",version=\"1\"} 300\n"
      "nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=\"max\",model=\"tensorrt_llm\",version=\"1\"} 400\n"
      "# TYPE nv_trt_llm_general_metrics gauge\n"
      "nv_trt_llm_general_metrics{general_type=\"iteration_counter\",model=\"tensorrt_llm\",version=\"1\"} 777\n"
      "# TYPE nv_inference_request_success counter\n"
      "nv_inference_request_success{model=\"ensemble\",version=\"1\"} 50\n"
      "nv_inference_request_success{model=\"tensorrt_llm\",version=\"1\"} 50\n"
      "nv_inference_request_success{model=\"preprocessing\",version=\"1\"} 50\n"
      "# TYPE nv_inference_first_response_histogram_ms histogram\n"
      "nv_inference_first_response_histogram_ms_bucket{model=\"tensorrt_llm\",version=\"1\",le=\"100\"} 8\n"
      "nv_inference_first_response_histogram_ms_bucket{model=\"tensorrt_llm\",version=\"1\",le=\"+Inf\"} 10\n"
      "nv_inference_first_response_histogram_ms_sum{model=\"tensorrt_llm\",version=\"1\"} 900\n"
      "nv_inference_first_response_histogram_ms_count{model=\"tensorrt_llm\",version=\"1\"} 10\n";
  EXPECT_EQ(DetectEngine(Parse(body)), EngineKind::kTriton);
  Strings missing;
  auto out = AdaptOk(EngineKind::kUnknown, body, &missing);
  ASSERT_EQ(out.size(), 1u);  // not ensemble/preprocessing
  const InstanceReading& r = out[0];
  EXPECT_EQ(r.gauges, (Map{{"requests_running", 9},
                           {"requests_waiting", 4},
                           {"kv_blocks_used", 300},
                           {"kv_blocks_total", 400},
                           {"block_size", 64},
                           {"kv_cache_usage", 0.75}}));  // from the blocks: no `fraction` here
  EXPECT_EQ(r.counters, (Map{{"progress_total", 777}, {"requests_finished_total", 50}}));
  ASSERT_EQ(r.histograms.count("ttft"), 1u);
  EXPECT_EQ(r.histograms.at("ttft").le, (std::vector<double>{0.1, HUGE_VAL}));  // ms -> s
  EXPECT_DOUBLE_EQ(r.histograms.at("ttft").sum, 0.9);
  EXPECT_FALSE(Has(missing, "kv_cache_usage"));
  EXPECT_TRUE(Has(missing, "kv_evictions_total"));  // no eviction or preemption figure
}

TEST(ScrapeEngines, TrtllmServeBareNamesAndPrefixedNames) {
  const std::string bare =
      "# TYPE request_success_total counter\n"
      "request_success_total{engine_type=\"trtllm\",finish_reason=\"stop\",model_name=\"q\"} 6\n"
      "request_success_total{engine_type=\"trtllm\",finish_reason=\"length\",model_name=\"q\"} 2\n" +
      SlowHist("time_to_first_token_seconds", "engine_type=\"trtllm\",model_name=\"q\"", 8);
  EXPECT_EQ(DetectEngine(Parse(bare)), EngineKind::kTrtllm);
  auto out = AdaptOk(EngineKind::kUnknown, bare);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].counters, (Map{{"requests_finished_total", 8}}));
  EXPECT_EQ(out[0].histograms.count("ttft"), 1u);
  // The same bare names without engine_type are nobody's.
  EXPECT_EQ(DetectEngine(Parse("# TYPE request_success_total counter\nrequest_success_total 1\n")),
            EngineKind::kUnknown);
  const std::string prefixed =
      "# TYPE trtllm_num_requests_running gauge\ntrtllm_num_requests_running{engine_type=\"trtllm\",model_name=\"q\"} "
      "3\n"
      "# TYPE trtllm_kv_cache_utilization gauge\ntrtllm_kv_cache_utilization{engine_type=\"trtllm\",model_name=\"q\"} "
      "0.9\n"
      "# TYPE trtllm_kv_cache_reused_blocks_total counter\n"
      "trtllm_kv_cache_reused_blocks_total{engine_type=\"trtllm\",model_name=\"q\"} 30\n"
      "# TYPE trtllm_kv_cache_missed_blocks_total counter\n"
      "trtllm_kv_cache_missed_blocks_total{engine_type=\"trtllm\",model_name=\"q\"} 70\n";
  EXPECT_EQ(DetectEngine(Parse(prefixed)), EngineKind::kTrtllm);
  auto p = AdaptOk(EngineKind::kUnknown, prefixed);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].gauges, (Map{{"requests_running", 3}, {"kv_cache_usage", 0.9}}));
  EXPECT_EQ(p[0].counters, (Map{{"prefix_cache_queries_total", 100}, {"prefix_cache_hits_total", 30}}));
}

TEST(ScrapeEngines, DynamoFrontend) {
  const std::string body =
      "# TYPE dynamo_frontend_inflight_requests gauge\ndynamo_frontend_inflight_requests{model=\"k\"} 12\n"
      "# TYPE dynamo_frontend_queued_requests gauge\ndynamo_frontend_queued_requests{model=\"k\"} 2\n"
      "# TYPE dynamo_frontend_output_tokens_total counter\ndynamo_frontend_output_tokens_total{model=\"k\"} 500\n"
      "# TYPE dynamo_frontend_requests_total counter\ndynamo_frontend_requests_total{model=\"k\"} 10\n" +
      SlowHist("dynamo_frontend_time_to_first_token_seconds", "model=\"k\"", 3);
  EXPECT_EQ(DetectEngine(Parse(body)), EngineKind::kDynamo);
  Strings missing;
  auto out = AdaptOk(EngineKind::kUnknown, body, &missing);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].gauges, (Map{{"requests_running", 12}, {"requests_waiting", 2}}));
  EXPECT_EQ(out[0].counters,
            (Map{{"generation_tokens_total", 500}, {"progress_total", 500}, {"requests_finished_total", 10}}));
  EXPECT_TRUE(Has(missing, "kv_cache_usage"));  // the frontend cannot see the workers' caches
}

TEST(ScrapeEngines, KindNamesRoundTrip) {
  for (const char* n : {"triton", "trtllm", "dynamo"}) {
    EngineKind k = EngineKind::kUnknown;
    ASSERT_TRUE(ParseEngineKind(n, &k).ok()) << n;
    EXPECT_STREQ(EngineKindName(k), n);
  }
}

TEST(ScrapeEngines, AMalformedHistogramIsDroppedAndTheRestUsed) {
  const std::string ttft = "vllm:time_to_first_token_seconds", e2e = "vllm:e2e_request_latency_seconds";
  const std::string body =
      "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name=\"m\"} 3\n"
      "# TYPE " +
      ttft + " histogram\n" + ttft + "_bucket{le=\"1.0\",model_name=\"m\"} 1\n" + ttft +
      "_count{model_name=\"m\"} 1\n" +  // no +Inf
      "# TYPE " + e2e + " histogram\n" + e2e + "_bucket{le=\"5.0\",model_name=\"m\"} 1\n" + e2e +
      "_bucket{le=\"1.0\",model_name=\"m\"} 1\n" + e2e + "_bucket{le=\"+Inf\",model_name=\"m\"} 1\n" +  // out of order
      SlowHist("vllm:request_queue_time_seconds", "model_name=\"m\"", 2);
  std::vector<InstanceReading> out;
  std::vector<DroppedFamily> dropped;
  ASSERT_TRUE(Adapt(EngineKind::kVllm, Parse(body), &out, nullptr, &dropped).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].gauges.at("requests_running"), 3);
  EXPECT_EQ(out[0].histograms.count("queue_time"), 1u);
  EXPECT_EQ(out[0].histograms.count("ttft"), 0u);
  EXPECT_EQ(out[0].histograms.count("e2e"), 0u);
  ASSERT_EQ(dropped.size(), 2u);
  std::map<std::string, std::string> why;
  for (const auto& d : dropped) why[d.family] = d.reason;
  EXPECT_EQ(why[ttft], "no_inf_bucket");
  EXPECT_EQ(why[e2e], "bucket_order");
  // Replicas (tp_rank) each in order are not out of order.
  const std::string h = "sglang:e2e_request_latency_seconds";
  std::string ranks = "# TYPE " + h + " histogram\n";
  for (const char* rank : {"0", "1"})
    ranks += h + "_bucket{le=\"1.0\",tp_rank=\"" + rank + "\"} 1\n" + h + "_bucket{le=\"+Inf\",tp_rank=\"" + rank +
             "\"} 2\n";
  dropped.clear();
  ASSERT_TRUE(Adapt(EngineKind::kSglang, Parse(ranks), &out, nullptr, &dropped).ok());
  EXPECT_TRUE(dropped.empty());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].histograms.at("e2e").count, 2);
}

TEST(ScrapeEngines, ADuplicateSeriesDropsItsFamilyOnly) {
  const std::string body =
      "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 3\nvllm:num_requests_running 4\n"
      "# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting 5\n";
  std::vector<ParsedFamily> fams;
  ScrapeError why{};
  // Strict without a place to list it: the whole body fails, as before.
  EXPECT_FALSE(ParseExposition(body, Format::kPrometheusText, ParseLimits{}, &fams, &why).ok());
  EXPECT_EQ(why, ScrapeError::kDuplicateSeries);
  std::vector<DroppedFamily> dropped;
  ASSERT_TRUE(ParseExposition(body, Format::kPrometheusText, ParseLimits{}, &fams, &why, nullptr, &dropped).ok());
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].family, "vllm:num_requests_running");
  EXPECT_EQ(dropped[0].reason, "duplicate_series");
  EXPECT_NE(dropped[0].detail.find("line 3"), std::string::npos) << dropped[0].detail;
  ASSERT_EQ(fams.size(), 1u);
  EXPECT_EQ(fams[0].name, "vllm:num_requests_waiting");
  EXPECT_EQ(fams[0].samples.at(0).value, 5);
}

TEST(ScrapeEngines, NewerVllmSignalsLoraSpecDecodeAndDeferrals) {
  const std::string body =
      "# TYPE vllm:num_requests_waiting_by_reason gauge\n"
      "vllm:num_requests_waiting_by_reason{engine=\"0\",model_name=\"m\",reason=\"capacity\"} 4\n"
      "vllm:num_requests_waiting_by_reason{engine=\"0\",model_name=\"m\",reason=\"deferred\"} 9\n"
      "# TYPE vllm:lora_requests_info gauge\n"
      "vllm:lora_requests_info{max_lora=\"2\",running_lora_adapters=\"a,b\",waiting_lora_adapters=\"b,c,d\"} 1.7e9\n"
      "vllm:lora_requests_info{max_lora=\"2\",running_lora_adapters=\"a\",waiting_lora_adapters=\"\"} 1.6e9\n"
      "# TYPE vllm:spec_decode_num_draft_tokens_total counter\n"
      "vllm:spec_decode_num_draft_tokens_total{engine=\"0\",model_name=\"m\"} 1000\n"
      "# TYPE vllm:spec_decode_num_accepted_tokens_total counter\n"
      "vllm:spec_decode_num_accepted_tokens_total{engine=\"0\",model_name=\"m\"} 700\n";
  Strings missing;
  auto out = AdaptOk(EngineKind::kVllm, body, &missing);
  ASSERT_EQ(out.size(), 1u);  // the info gauge makes no instance of its own
  // The latest lora_requests_info: a and b run; c and d wait (b is loaded).
  EXPECT_EQ(
      out[0].gauges,
      (Map{{"requests_deferred", 9}, {"lora_adapters_running", 2}, {"lora_adapters_waiting", 2}, {"lora_max", 2}}));
  EXPECT_EQ(out[0].counters, (Map{{"spec_draft_tokens_total", 1000}, {"spec_accepted_tokens_total", 700}}));
  for (const char* k : {"requests_deferred", "lora_adapters_waiting", "lora_max", "spec_accept_rate"})
    EXPECT_FALSE(Has(missing, k)) << k;
  // Accepted over drafted in the window, from the counters.
  ScrapeDeriver d(10);
  InstanceReading r = out[0];
  d.Tick(0, r);
  r.counters["spec_draft_tokens_total"] = 3000;
  r.counters["spec_accepted_tokens_total"] = 1100;
  Map v;
  for (const auto& [k, x] : d.Tick(2, r)) v[k] = x;
  EXPECT_DOUBLE_EQ(v.at("spec_accept_rate"), 0.2);
  EXPECT_EQ(v.at("lora_adapters_waiting"), 2);
  // SGLang's acceptance is a gauge, passed through.
  auto s = AdaptOk(EngineKind::kSglang, "# TYPE sglang:spec_accept_rate gauge\nsglang:spec_accept_rate 0.35\n");
  ASSERT_EQ(s.size(), 1u);
  ScrapeDeriver ds(10);
  Map vs;
  for (const auto& [k, x] : ds.Tick(0, s[0])) vs[k] = x;
  EXPECT_DOUBLE_EQ(vs.at("spec_accept_rate"), 0.35);
}

}  // namespace
}  // namespace vigil::scrape
