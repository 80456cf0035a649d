#include "scrape/engine_rules.h"

namespace vigil::scrape::internal {
namespace {

InputMapping Make(const char* key, From from, std::vector<std::string> names) {
  InputMapping r;
  r.key = key;
  r.from = from;
  r.names = std::move(names);
  return r;
}
InputMapping Gauge(const char* key, std::vector<std::string> names) {
  return Make(key, From::kGauge, std::move(names));
}
InputMapping Ratio(const char* key, std::vector<std::string> names) {
  InputMapping r = Make(key, From::kGauge, std::move(names));
  r.agg = Agg::kMax;
  return r;
}
InputMapping Counter(const char* key, std::vector<std::string> names) {
  return Make(key, From::kCounter, std::move(names));
}
InputMapping CounterSum(const char* key, std::vector<std::string> names) {
  InputMapping r = Make(key, From::kCounter, std::move(names));
  r.sum_names = true;
  return r;
}
InputMapping CounterWhere(const char* key, std::string name, std::string label, std::vector<std::string> values) {
  InputMapping r = Make(key, From::kCounter, {std::move(name)});
  r.label = std::move(label);
  r.values = std::move(values);
  return r;
}
InputMapping Hist(const char* key, std::vector<std::string> names) {
  return Make(key, From::kHistogram, std::move(names));
}
InputMapping GaugeWhere(const char* key, std::string name, std::string label, std::vector<std::string> values) {
  InputMapping r = Make(key, From::kGauge, {std::move(name)});
  r.label = std::move(label);
  r.values = std::move(values);
  return r;
}
InputMapping Anchored(InputMapping r) {
  r.anchor = true;
  return r;
}
InputMapping InfoBool(const char* key, std::string name, std::string label) {
  InputMapping r = Make(key, From::kInfoBool, {std::move(name)});
  r.label = std::move(label);
  return r;
}

// vLLM, both name generations (vllm/v1/metrics/loggers.py; v0's
// vllm/engine/metrics.py). Newer names first: for a while vLLM served both
// (the older ones marked deprecated), and so does vigild, so they must not
// be added up. Counter names are without the `_total` prometheus_client adds.
std::vector<InputMapping> Vllm(bool vigil) {
  std::vector<InputMapping> r = {
      Gauge("requests_running", {"vllm:num_requests_running"}),
      Gauge("requests_waiting", {"vllm:num_requests_waiting"}),
      Ratio("kv_cache_usage", {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}),
      Counter("preemptions_total", {"vllm:num_preemptions"}),
      Counter("prefix_cache_queries_total", {"vllm:prefix_cache_queries", "vllm:gpu_prefix_cache_queries"}),
      Counter("prefix_cache_hits_total", {"vllm:prefix_cache_hits", "vllm:gpu_prefix_cache_hits"}),
      Counter("prompt_tokens_total", {"vllm:prompt_tokens"}),
      Counter("generation_tokens_total", {"vllm:generation_tokens"}),
      CounterWhere("requests_finished_total", "vllm:request_success", "finished_reason", {"stop", "length"}),
      CounterWhere("requests_aborted_total", "vllm:request_success", "finished_reason", {"abort"}),
  };
  if (vigil) {
    // vigild's own view of its engine: what vLLM does not expose.
    for (InputMapping g :
         {Gauge("kv_blocks_total", {"vigil_kv_blocks_capacity"}), Gauge("kv_blocks_used", {"vigil_kv_blocks_used"}),
          Gauge("kv_blocks_orphaned", {"vigil_kv_blocks_orphaned"}),
          Gauge("memory_used_bytes", {"vigil_memory_used_bytes"}),
          // Quoted by the pack's recommendations (how far to lower max_num_seqs).
          Gauge("avg_sequence_length", {"vigil_avg_sequence_length"}),
          Gauge("max_num_seqs", {"vigil_engine_max_num_seqs"}), Gauge("block_size", {"vigil_engine_block_size"}),
          Gauge("requests_stuck", {"vigil_requests_stuck"}), Ratio("busy_fraction", {"vigil_engine_busy_fraction"}),
          Gauge("prefix_caching_enabled", {"vigil_engine_prefix_caching_enabled"}),
          // Served with an underscore (vigild's guide names), not `vllm:`.
          Counter("kv_evictions_total", {"vllm_kv_cache_evictions"})})
      r.push_back(std::move(g));
  }
  // KV evictions where vigild's own block counter is not served: a vLLM
  // preemption frees every block of a running sequence for recompute
  // (vllm/v1/core/sched/scheduler.py, _preempt_request; v0's
  // RECOMPUTE mode), so each one is an eviction. Counted in sequences, not
  // blocks (docs/rules.md, KVCacheThrashing).
  r.push_back(Counter("kv_evictions_total", {"vllm:num_preemptions"}));
  // Newer signals where exposed: requests the scheduler defers (LoRA slots,
  // structured output) rather than queueing for capacity; speculative
  // decoding's drafted and accepted tokens; the LoRA adapters in play.
  r.push_back(GaugeWhere("requests_deferred", "vllm:num_requests_waiting_by_reason", "reason", {"deferred"}));
  r.push_back(Counter("spec_draft_tokens_total", {"vllm:spec_decode_num_draft_tokens"}));
  r.push_back(Counter("spec_accepted_tokens_total", {"vllm:spec_decode_num_accepted_tokens"}));
  r.push_back(Make("lora_adapters_running", From::kLoraInfo, {"vllm:lora_requests_info"}));
  // vLLM publishes CacheConfig as an info gauge, one label per field
  // (log_metrics_info("cache_config", ...); labels `engine`, no model_name).
  r.push_back(InfoBool("prefix_caching_enabled", "vllm:cache_config_info", "enable_prefix_caching"));
  // Progress: vigild's step counter; else one observation per engine step;
  // else tokens processed, which vLLM v1 counts every step too.
  if (vigil) r.push_back(Counter("progress_total", {"vigil_engine_steps"}));
  r.push_back(Make("progress_total", From::kHistCount, {"vllm:iteration_tokens_total"}));
  r.push_back(CounterSum("progress_total", {"vllm:prompt_tokens", "vllm:generation_tokens"}));
  for (InputMapping h :
       {Hist("ttft", {"vllm:time_to_first_token_seconds"}),
        Hist("tbt", {"vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"}),
        Hist("e2e", {"vllm:e2e_request_latency_seconds"}), Hist("queue_time", {"vllm:request_queue_time_seconds"}),
        Hist("prefill_time", {"vllm:request_prefill_time_seconds"})})
    r.push_back(std::move(h));
  return r;
}

// SGLang (python/sglang/srt/metrics/collector.py). Scheduler gauges carry
// tp_rank/pp_rank (and dp_rank with data parallel attention); tokenizer
// counters and histograms carry model_name only.
std::vector<InputMapping> Sglang() {
  return {
      // Newer names first; SGLang's first metrics (late 2024,
      // srt/metrics/metrics_collector.py, the model in a `name` label) had
      // num_requests_running/num_requests_waiting, and queue_req from the
      // prefill log line.
      Gauge("requests_running", {"sglang:num_running_reqs", "sglang:num_requests_running"}),
      Gauge("requests_waiting", {"sglang:num_queue_reqs", "sglang:num_requests_waiting", "sglang:queue_req"}),
      // Tokens held in the KV pool over its capacity (max_total_num_tokens).
      Ratio("kv_cache_usage", {"sglang:token_usage"}),
      // SGLang's name for preemption: decode requests retracted for KV space
      // (ScheduleBatch.retract_decode), their KV freed and recomputed later:
      // each retraction is an eviction too. The counter is recent; before it
      // (and still beside it) the gauge num_retracted_reqs holds the
      // retractions since the scheduler's previous decode log line, reset at
      // each (scheduler_metrics_mixin.py, log_decode_stats): the deriver
      // adds up its publications (kv_evictions_recent).
      Counter("preemptions_total", {"sglang:num_retracted_requests"}),
      Counter("kv_evictions_total", {"sglang:num_retracted_requests"}),
      Gauge("kv_evictions_recent", {"sglang:num_retracted_reqs"}),
      // Counted per finished request: every prompt token is looked up in the
      // radix cache, cached_tokens are the ones found. sglang:cache_hit_rate
      // is a per-batch gauge and cannot be windowed, so it is not used.
      Counter("prefix_cache_queries_total", {"sglang:prompt_tokens"}),
      Counter("prefix_cache_hits_total", {"sglang:cached_tokens"}),
      Counter("prompt_tokens_total", {"sglang:prompt_tokens"}),
      Counter("generation_tokens_total", {"sglang:generation_tokens"}),
      // The first metrics counted finished requests by finished_reason.
      Counter("requests_finished_total", {"sglang:num_requests", "sglang:request_success"}),
      Counter("requests_aborted_total", {"sglang:num_aborted_requests"}),
      // Tokens processed, added at every scheduler log interval. The token
      // counters above move only when a request finishes, which a long
      // generation would read as a stall, so they are no fallback.
      Counter("progress_total", {"sglang:realtime_tokens"}),
      Hist("ttft", {"sglang:time_to_first_token_seconds"}),
      Hist("tbt", {"sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds"}),
      Hist("e2e", {"sglang:e2e_request_latency_seconds"}),
      Hist("queue_time", {"sglang:queue_time_seconds"}),
      // Accepted over drafted tokens in the last batch (a gauge, not windowed).
      Ratio("spec_accept_rate", {"sglang:spec_accept_rate"}),
  };
}

// TGI's router (docs/source/reference/metrics.md; router/src/server.rs).
// The Rust exporter writes counters without a `_total` suffix.
std::vector<InputMapping> Tgi() {
  return {
      Gauge("requests_running", {"tgi_batch_current_size"}),
      Gauge("requests_waiting", {"tgi_queue_size"}),
      // Per-request histograms' sums: input length at admission, generated
      // tokens when the request ends.
      Make("prompt_tokens_total", From::kHistSum, {"tgi_request_input_length"}),
      Make("generation_tokens_total", From::kHistSum, {"tgi_request_generated_tokens"}),
      Counter("requests_finished_total", {"tgi_request_success"}),
      Counter("progress_total", {"tgi_batch_inference_count"}),
      // A per-request mean, not every gap between tokens.
      Hist("tbt", {"tgi_request_mean_time_per_token_duration"}),
      Hist("e2e", {"tgi_request_duration"}),
      Hist("queue_time", {"tgi_request_queue_duration"}),
  };
}

// llama.cpp's server (tools/server/server.cpp, --metrics). No histograms and
// no request counters; builds before the unified KV cache also served
// kv_cache_usage_ratio.
std::vector<InputMapping> LlamaCpp() {
  return {
      Gauge("requests_running", {"llamacpp:requests_processing"}),
      Gauge("requests_waiting", {"llamacpp:requests_deferred"}),
      Ratio("kv_cache_usage", {"llamacpp:kv_cache_usage_ratio"}),
      Counter("prompt_tokens_total", {"llamacpp:prompt_tokens"}),
      Counter("generation_tokens_total", {"llamacpp:tokens_predicted"}),
      Counter("progress_total", {"llamacpp:n_decode"}),
  };
}

// Triton Inference Server with the TensorRT-LLM backend
// (triton-inference-server/tensorrtllm_backend, README "Triton Metrics";
// inflight_batcher_llm/src/custom_metrics_reporter). The backend's figures
// are gauges split by a label naming the figure; Triton's own nv_inference_*
// count requests per model of an ensemble. Labels: model, version.
std::vector<InputMapping> Triton() {
  return {
      Anchored(GaugeWhere("requests_running", "nv_trt_llm_request_metrics", "request_type", {"active"})),
      Anchored(GaugeWhere("requests_waiting", "nv_trt_llm_request_metrics", "request_type", {"waiting"})),
      Anchored(GaugeWhere("kv_cache_usage", "nv_trt_llm_kv_cache_block_metrics", "kv_cache_block_type", {"fraction"})),
      Anchored(GaugeWhere("kv_blocks_used", "nv_trt_llm_kv_cache_block_metrics", "kv_cache_block_type", {"used"})),
      Anchored(GaugeWhere("kv_blocks_total", "nv_trt_llm_kv_cache_block_metrics", "kv_cache_block_type", {"max"})),
      Anchored(GaugeWhere("block_size", "nv_trt_llm_kv_cache_block_metrics", "kv_cache_block_type", {"tokens_per"})),
      // The batch manager's iteration count: one per engine step (a gauge
      // that only grows, read as a counter).
      Anchored(CounterWhere("progress_total", "nv_trt_llm_general_metrics", "general_type", {"iteration_counter"})),
      Counter("requests_finished_total", {"nv_inference_request_success"}),
      // Decoupled (streaming) models, with --metrics-config histogram_latencies=true; in ms.
      [] {
        InputMapping h = Hist("ttft", {"nv_inference_first_response_histogram_ms"});
        h.scale = 1e-3;
        return h;
      }(),
  };
}

// trtllm-serve (NVIDIA/TensorRT-LLM, tensorrt_llm/metrics/collector.py, on
// /prometheus/metrics; labels model_name, engine_type). 1.0 and 1.1 serve
// five request metrics with no prefix; later versions prefix trtllm_ and
// add the iteration figures (queues, KV cache, tokens).
std::vector<InputMapping> Trtllm() {
  return {
      Gauge("requests_running", {"trtllm_num_requests_running"}),
      Gauge("requests_waiting", {"trtllm_num_requests_waiting"}),
      Ratio("kv_cache_usage", {"trtllm_kv_cache_utilization"}),
      Gauge("kv_blocks_used", {"trtllm_kv_cache_used_blocks"}),
      Gauge("kv_blocks_total", {"trtllm_kv_cache_max_blocks"}),
      Gauge("block_size", {"trtllm_kv_cache_tokens_per_block"}),
      // KV blocks looked up for reuse (blocks): reused ones hit.
      CounterSum("prefix_cache_queries_total", {"trtllm_kv_cache_reused_blocks", "trtllm_kv_cache_missed_blocks"}),
      Counter("prefix_cache_hits_total", {"trtllm_kv_cache_reused_blocks"}),
      Counter("prompt_tokens_total", {"trtllm_prompt_tokens"}),
      Counter("generation_tokens_total", {"trtllm_generation_tokens"}),
      Counter("requests_finished_total", {"trtllm_request_success", "request_success"}),
      Hist("ttft", {"trtllm_time_to_first_token_seconds", "time_to_first_token_seconds"}),
      Hist("tbt", {"trtllm_time_per_output_token_seconds", "time_per_output_token_seconds"}),
      Hist("e2e", {"trtllm_e2e_request_latency_seconds", "e2e_request_latency_seconds"}),
      Hist("queue_time", {"trtllm_request_queue_time_seconds", "request_queue_time_seconds"}),
      Hist("prefill_time", {"trtllm_request_prefill_time_seconds"}),
      Counter("spec_draft_tokens_total", {"trtllm_spec_decode_num_draft_tokens"}),
      Counter("spec_accepted_tokens_total", {"trtllm_spec_decode_num_accepted_tokens"}),
  };
}

// NVIDIA Dynamo's HTTP frontend (ai-dynamo/dynamo,
// lib/llm/src/http/service/metrics.rs; docs/observability/metrics.md;
// label `model`). It sees requests and tokens as the client does, not the
// workers' engines: no KV cache, no preemption, no engine step.
std::vector<InputMapping> Dynamo() {
  return {
      // In flight at the frontend (queued included); active_requests is the newer name.
      Gauge("requests_running", {"dynamo_frontend_active_requests", "dynamo_frontend_inflight_requests"}),
      // Waiting for the first token (prefill included).
      Gauge("requests_waiting", {"dynamo_frontend_queued_requests"}),
      Make("prompt_tokens_total", From::kHistSum, {"dynamo_frontend_input_sequence_tokens"}),
      Counter("generation_tokens_total", {"dynamo_frontend_output_tokens"}),
      Counter("requests_finished_total", {"dynamo_frontend_requests"}),
      // Output tokens as they are streamed back: the frontend's own view of progress.
      Counter("progress_total", {"dynamo_frontend_output_tokens"}),
      Hist("ttft", {"dynamo_frontend_time_to_first_token_seconds"}),
      Hist("tbt", {"dynamo_frontend_inter_token_latency_seconds"}),
      Hist("e2e", {"dynamo_frontend_request_duration_seconds"}),
  };
}

}  // namespace

const std::vector<InputMapping>& MappingsFor(EngineKind kind) {
  static const std::vector<InputMapping> vllm = Vllm(false), vigil = Vllm(true), sglang = Sglang(), tgi = Tgi(),
                                         llamacpp = LlamaCpp(), triton = Triton(), trtllm = Trtllm(), dynamo = Dynamo(),
                                         none;
  switch (kind) {
    case EngineKind::kVllm: return vllm;
    case EngineKind::kVigil: return vigil;
    case EngineKind::kSglang: return sglang;
    case EngineKind::kTgi: return tgi;
    case EngineKind::kLlamaCpp: return llamacpp;
    case EngineKind::kTriton: return triton;
    case EngineKind::kTrtllm: return trtllm;
    case EngineKind::kDynamo: return dynamo;
    case EngineKind::kUnknown: break;
  }
  return none;
}

}  // namespace vigil::scrape::internal

namespace vigil::scrape {

// What the tables above cannot say by absence alone (adapter.h).
std::string MissingNote(EngineKind kind, std::string_view key) {
  struct Note {
    EngineKind kind;
    const char* key;
    const char* why;
  };
  static const Note kNotes[] = {
      {EngineKind::kLlamaCpp, "kv_cache_usage",
       "llama.cpp's server removed llamacpp:kv_cache_usage_ratio from /metrics in 2025 (the unified KV cache); older "
       "builds served it"},
      {EngineKind::kLlamaCpp, "kv_evictions_total", "llama.cpp's server counts no evictions or preemptions"},
      {EngineKind::kTgi, "kv_cache_usage", "TGI's router exposes no KV-cache usage"},
      {EngineKind::kTgi, "kv_evictions_total", "TGI counts no evictions or preemptions"},
      {EngineKind::kTriton, "kv_evictions_total",
       "the TensorRT-LLM backend's nv_trt_llm_* families count no evictions or preemptions"},
      {EngineKind::kTrtllm, "kv_evictions_total", "trtllm-serve counts no evictions or preemptions"},
      {EngineKind::kTrtllm, "kv_cache_usage", "trtllm-serve before its trtllm_ prefix serves request metrics only"},
      {EngineKind::kDynamo, "kv_cache_usage",
       "Dynamo's frontend does not see its workers' KV caches: watch each worker's own /metrics"},
      {EngineKind::kDynamo, "kv_evictions_total", "Dynamo's frontend does not see its workers' schedulers"},
  };
  for (const Note& n : kNotes)
    if (n.kind == kind && key == n.key) return n.why;
  return "";
}

}  // namespace vigil::scrape
