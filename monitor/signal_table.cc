#include "monitor/signal_table.h"

#include <stdexcept>

#include "common/quantile_sketch.h"
#include "engine/stats.h"

namespace vigil::monitor {
namespace {

using engine::EngineStats;
using engine::FinishReason;
using engine::GpuStats;

// Hosted figures: a field of EngineStats, or of its NVML read (absent where
// NVML gave none).
template <auto kField>
std::optional<double> F(const EngineStats& s) {
  return static_cast<double>(s.*kField);
}
template <auto kField>
std::optional<double> Gpu(const EngineStats& s) {
  const auto& v = s.gpu.*kField;
  return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
}
template <FinishReason... kReasons>
std::optional<double> Finished(const EngineStats& s) {
  return static_cast<double>((s.requests_finished_by_reason[int(kReasons)] + ...));
}
std::optional<double> Evictions(const EngineStats& s) {
  return static_cast<double>(s.kv_evictions_preemption_total + s.kv_evictions_cache_total);
}
template <auto kSketch>
const QuantileSketch& Sketch(const EngineStats& s) {
  return s.*kSketch;
}

// A row under construction: name, kind, unit and help, then how and from what.
struct Row : SignalInfo {
  Row(const char* n, SignalKind k, const char* u, const char* h) : SignalInfo{n, k, u, h} {}
  // Read (kGauge) or made reset-safe (kCounter): `hosted` from the engine,
  // `key` from a scrape (nullptr: not scraped).
  Row& Read(Derivation d, HostedValue hosted_value, const char* key) {
    how = d;
    hosted = hosted_value;
    scrape = key;
    sources = (hosted ? kHosted : 0u) | (key ? kScraped : 0u);
    return *this;
  }
  Row& Gauge(HostedValue h, const char* key) { return Read(Derivation::kGauge, h, key); }
  Row& Counter(HostedValue h, const char* key) { return Read(Derivation::kCounter, h, key); }
  Row& Quantile(const char* distribution, double quantile, HostedSketch s, bool scraped) {
    how = Derivation::kQuantile;
    dist = distribution;
    q = quantile;
    sketch = s;
    scrape = scraped ? distribution : nullptr;
    sources = (s ? kHosted : 0u) | (scraped ? kScraped : 0u);
    return *this;
  }
  Row& Rate(const char* counter, unsigned src) {
    how = Derivation::kRate;
    of = counter;
    sources = src;
    return *this;
  }
  Row& Ratio(const char* num, const char* den, unsigned src, const char* fallback_gauge = nullptr) {
    how = Derivation::kRatio;
    of = num;
    per = den;
    scrape = fallback_gauge;
    sources = src;
    return *this;
  }
  Row& Own(Special sp, unsigned src, const char* input = nullptr) {
    how = Derivation::kSpecial;
    special = sp;
    sources = src;
    scrape = input;
    return *this;
  }
};

constexpr SignalKind kG = SignalKind::kGauge, kC = SignalKind::kCounter, kD = SignalKind::kDerived;
constexpr unsigned kBoth = kHosted | kScraped;
using ES = EngineStats;
using FR = FinishReason;

std::vector<SignalInfo> Build() {
  const Row rows[] = {
      Row("requests_running", kG, "requests", "Requests in the running batch")
          .Gauge(F<&ES::requests_running>, "requests_running"),
      Row("requests_waiting", kG, "requests", "Requests queued, not yet running")
          .Gauge(F<&ES::requests_waiting>, "requests_waiting"),
      Row("kv_cache_usage", kG, "ratio", "KV blocks in use over all blocks (0..1)")
          .Gauge(F<&ES::kv_cache_usage>, "kv_cache_usage"),
      Row("kv_blocks_total", kG, "blocks", "KV-cache blocks in the pool")
          .Gauge(F<&ES::kv_blocks_total>, "kv_blocks_total"),
      Row("kv_blocks_used", kG, "blocks", "KV blocks held (ref count > 0)")
          .Gauge(F<&ES::kv_blocks_used>, "kv_blocks_used"),
      Row("kv_blocks_orphaned", kG, "blocks", "KV blocks held by no live request (a leak)")
          .Gauge(F<&ES::kv_blocks_orphaned>, "kv_blocks_orphaned"),
      Row("busy_fraction", kG, "ratio", "Share of the last interval spent in model steps (wall time)")
          .Own(Special::kBusyFraction, kBoth, "busy_fraction"),
      Row("engine_cpu_utilization", kG, "ratio", "Engine thread CPU time over the interval (work done)")
          .Own(Special::kCpuUtilization, kHosted),
      Row("gpu_utilization", kG, "ratio", "NVML utilization of the engine's GPU (device-wide); absent without NVML")
          .Gauge(Gpu<&GpuStats::utilization>, nullptr),
      Row("utilization", kG, "ratio", "The device's: gpu_utilization on CUDA, engine_cpu_utilization on CPU")
          .Own(Special::kUtilization, kHosted),
      // The engine's GPU as NVML reports it: each absent where NVML has no value.
      Row("gpu_memory_used_bytes", kG, "bytes", "Device memory in use on the engine's GPU (any process; NVML)")
          .Gauge(Gpu<&GpuStats::memory_used_bytes>, nullptr),
      Row("gpu_memory_total_bytes", kG, "bytes", "Device memory of the engine's GPU (NVML)")
          .Gauge(Gpu<&GpuStats::memory_total_bytes>, nullptr),
      Row("gpu_power_watts", kG, "watts", "Power draw of the engine's GPU (NVML)")
          .Gauge(Gpu<&GpuStats::power_watts>, nullptr),
      Row("gpu_temperature_celsius", kG, "celsius", "Temperature of the engine's GPU die (NVML)")
          .Gauge(Gpu<&GpuStats::temperature_celsius>, nullptr),
      Row("gpu_sm_clock_hz", kG, "hertz", "SM clock of the engine's GPU (NVML)")
          .Gauge(Gpu<&GpuStats::sm_clock_hz>, nullptr),
      Row("gpu_throttled", kG, "bool",
          "1 while NVML reports a heat or power throttle reason, else 0 (idle is not throttled)")
          .Gauge(Gpu<&GpuStats::throttled>, nullptr),
      // Hosted: the step counter; scraped: the engine's own progress counter.
      Row("engine_stalled_seconds", kG, "seconds", "Time the engine has made no step with requests in flight")
          .Own(Special::kStalled, kBoth, "progress_total"),
      Row("engine_stall_timeout_seconds", kG, "seconds", "Setting: server.engine_stall_timeout")
          .Own(Special::kStallTimeout, kBoth, "progress_total"),
      Row("memory_used_bytes", kG, "bytes", "Process RSS, or CUDA allocator bytes")
          .Gauge(F<&ES::memory_used_bytes>, "memory_used_bytes"),
      Row("avg_sequence_length", kG, "tokens", "Mean prompt+output length of running requests")
          .Gauge(F<&ES::avg_sequence_length>, "avg_sequence_length"),
      Row("max_num_seqs", kG, "requests", "Setting: running requests per step")
          .Gauge(F<&ES::max_num_seqs>, "max_num_seqs"),
      Row("max_num_batched_tokens", kG, "tokens", "Setting: token budget per step")
          .Gauge(F<&ES::max_num_batched_tokens>, nullptr),
      Row("block_size", kG, "tokens", "Setting: tokens per KV block").Gauge(F<&ES::block_size>, "block_size"),
      Row("prefix_caching_enabled", kG, "bool", "Setting: prefix caching on (1) or off (0)")
          .Gauge(F<&ES::prefix_caching_enabled>, "prefix_caching_enabled"),
      Row("chunked_prefill_enabled", kG, "bool", "Setting: chunked prefill on (1) or off (0)")
          .Gauge(F<&ES::chunked_prefill_enabled>, nullptr),
      // Scraped SGLang serves no eviction counter: the deriver adds up its
      // kv_evictions_recent publications into both of the first two.
      Row("preemptions_total", kC, "preemptions", "Requests preempted for KV space")
          .Counter(F<&ES::preemptions_total>, "preemptions_total"),
      Row("kv_evictions_total", kC, "blocks", "KV blocks evicted (preemption + prefix-cache reclaim)")
          .Counter(Evictions, "kv_evictions_total"),
      Row("prefix_cache_queries_total", kC, "tokens", "Prompt tokens looked up in the prefix cache")
          .Counter(F<&ES::prefix_cache_queries_total>, "prefix_cache_queries_total"),
      Row("prefix_cache_hits_total", kC, "tokens", "Prompt tokens found in the prefix cache")
          .Counter(F<&ES::prefix_cache_hits_total>, "prefix_cache_hits_total"),
      Row("prompt_tokens_total", kC, "tokens", "Prompt tokens of started requests")
          .Counter(F<&ES::prompt_tokens_total>, "prompt_tokens_total"),
      Row("generation_tokens_total", kC, "tokens", "Output tokens generated")
          .Counter(F<&ES::generation_tokens_total>, "generation_tokens_total"),
      Row("requests_finished_total", kC, "requests", "Requests finished (stop or length)")
          .Counter(Finished<FR::kStop, FR::kLength>, "requests_finished_total"),
      Row("requests_aborted_total", kC, "requests", "Requests aborted (client gone, shutdown)")
          .Counter(Finished<FR::kAbort>, "requests_aborted_total"),
      Row("requests_failed_total", kC, "requests", "Requests failed in the engine")
          .Counter(Finished<FR::kError>, nullptr),
      Row("gpu_xid_errors_total", kC, "errors", "XID critical errors NVML reported for the engine's GPU while watched")
          .Counter(Gpu<&GpuStats::xid_errors_total>, nullptr),
      // ECC's volatile counter restarts when the driver reloads: reset-safe too.
      Row("gpu_ecc_errors_total", kC, "errors", "Uncorrected ECC errors of the engine's GPU (NVML's volatile counter)")
          .Counter(Gpu<&GpuStats::ecc_errors_total>, nullptr),
      // Hosted: mergeable sketches; scraped: classic buckets (histogram_quantile).
      Row("ttft_p50", kD, "seconds", "Time to first token, median over the window")
          .Quantile("ttft", 0.5, Sketch<&ES::ttft_sketch>, true),
      Row("ttft_p95", kD, "seconds", "Time to first token, P95 over the window")
          .Quantile("ttft", 0.95, Sketch<&ES::ttft_sketch>, true),
      Row("ttft_p99", kD, "seconds", "Time to first token, P99 over the window")
          .Quantile("ttft", 0.99, Sketch<&ES::ttft_sketch>, true),
      Row("tbt_p50", kD, "seconds", "Time between tokens, median over the window")
          .Quantile("tbt", 0.5, Sketch<&ES::inter_token_sketch>, true),
      Row("tbt_p95", kD, "seconds", "Time between tokens, P95 over the window")
          .Quantile("tbt", 0.95, Sketch<&ES::inter_token_sketch>, true),
      Row("e2e_p50", kD, "seconds", "End-to-end latency, median over the window")
          .Quantile("e2e", 0.5, Sketch<&ES::e2e_sketch>, true),
      Row("e2e_p95", kD, "seconds", "End-to-end latency, P95 over the window")
          .Quantile("e2e", 0.95, Sketch<&ES::e2e_sketch>, true),
      Row("queue_time_p95", kD, "seconds", "Time waiting before the first schedule, P95")
          .Quantile("queue_time", 0.95, Sketch<&ES::queue_sketch>, true),
      Row("prefill_time_p95", kD, "seconds", "First schedule to first token, P95")
          .Quantile("prefill_time", 0.95, Sketch<&ES::prefill_sketch>, true),
      Row("batch_size_p50", kD, "requests", "Requests per step, median over the window")
          .Quantile("batch_size", 0.5, Sketch<&ES::batch_size_sketch>, false),
      Row("batch_size_p95", kD, "requests", "Requests per step, P95 over the window")
          .Quantile("batch_size", 0.95, Sketch<&ES::batch_size_sketch>, false),
      Row("output_tokens_per_s", kD, "tokens/s", "Output tokens per second over the window")
          .Rate("generation_tokens_total", kBoth),
      Row("requests_per_s", kD, "requests/s", "Finished requests per second over the window")
          .Rate("requests_finished_total", kBoth),
      Row("prefix_cache_hit_rate", kD, "ratio", "Prefix-cache hits over queries in the window")
          .Ratio("prefix_cache_hits_total", "prefix_cache_queries_total", kBoth),
      Row("preemptions_per_s", kD, "1/s", "Preemptions per second over the window").Rate("preemptions_total", kBoth),
      Row("kv_evictions_per_s", kD, "blocks/s", "KV evictions per second over the window")
          .Rate("kv_evictions_total", kBoth),
      // The hosted engine counts them; vigild serves the figure.
      Row("requests_stuck", kD, "requests", "Running longer than monitor.request_timeout")
          .Gauge(F<&ES::requests_stuck>, "requests_stuck"),
      // Watched engines only, where they expose them (docs/watch.md).
      Row("requests_deferred", kG, "requests",
          "Requests the scheduler defers (LoRA slots, structured output), not queued for capacity")
          .Gauge(nullptr, "requests_deferred"),
      // The counters where served (vLLM, trtllm-serve), else SGLang's gauge.
      Row("spec_accept_rate", kD, "ratio", "Speculative decoding: accepted over drafted tokens in the window")
          .Ratio("spec_accepted_tokens_total", "spec_draft_tokens_total", kScraped, "spec_accept_rate"),
      Row("lora_adapters_running", kG, "adapters", "Distinct LoRA adapters in the running batch")
          .Gauge(nullptr, "lora_adapters_running"),
      Row("lora_adapters_waiting", kG, "adapters", "Distinct LoRA adapters only waiting requests need (not loaded)")
          .Gauge(nullptr, "lora_adapters_waiting"),
      Row("lora_max", kG, "adapters", "Setting: LoRA adapters that fit in one batch (max_loras)")
          .Gauge(nullptr, "lora_max"),
      // Watched targets only (absent for the hosted engine): the scrape itself.
      Row("target_up", kG, "bool", "1 when the last scrape of the target succeeded, 0 when it failed")
          .Own(Special::kTargetUp, kScraped),
      Row("target_health_up", kG, "bool", "1 when the target's health endpoint answered 200 (scraped with the metrics)")
          .Own(Special::kTargetHealthUp, kScraped),
  };
  return std::vector<SignalInfo>(std::begin(rows), std::end(rows));
}

}  // namespace

const std::vector<SignalInfo>& Catalogue() {
  static const std::vector<SignalInfo> k = Build();
  return k;
}

const SignalInfo* FindSignal(const std::string& name) {
  for (const SignalInfo& s : Catalogue())
    if (name == s.name) return &s;
  return nullptr;
}

std::vector<std::string> ScrapeInputs(const SignalInfo& s) {
  if (!FromScrape(s)) return {};
  if ((s.how == Derivation::kRate || s.how == Derivation::kRatio) && !s.scrape) {
    std::vector<std::string> in;
    // The denominator first: "needs queries, hits".
    for (const char* c : {s.per, s.of}) {
      if (!c) continue;
      const SignalInfo* counter = FindSignal(c);
      for (std::string& i : counter ? ScrapeInputs(*counter) : std::vector<std::string>{c}) in.push_back(std::move(i));
    }
    return in;
  }
  if (s.scrape) return {s.scrape};
  return {};
}

std::optional<double> HostedFigure(const EngineStats& s, const std::string& signal) {
  const SignalInfo* row = FindSignal(signal);
  if (!row || !row->hosted) throw std::logic_error("no hosted figure for signal \"" + signal + "\"");
  return row->hosted(s);
}

}  // namespace vigil::monitor
