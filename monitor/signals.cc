#include "monitor/signals.h"

#include <algorithm>
#include <optional>

namespace vigil::monitor {

const std::vector<SignalInfo>& Catalogue() {
  static const std::vector<SignalInfo> k = {
      {"requests_running", SignalKind::kGauge, "requests", "Requests in the running batch"},
      {"requests_waiting", SignalKind::kGauge, "requests", "Requests queued, not yet running"},
      {"kv_cache_usage", SignalKind::kGauge, "ratio", "KV blocks in use over all blocks (0..1)"},
      {"kv_blocks_total", SignalKind::kGauge, "blocks", "KV-cache blocks in the pool"},
      {"kv_blocks_used", SignalKind::kGauge, "blocks", "KV blocks held (ref count > 0)"},
      {"kv_blocks_orphaned", SignalKind::kGauge, "blocks", "KV blocks held by no live request (a leak)"},
      {"busy_fraction", SignalKind::kGauge, "ratio", "Share of the last interval spent in model steps (wall time)"},
      {"engine_cpu_utilization", SignalKind::kGauge, "ratio", "Engine thread CPU time over the interval (work done)"},
      {"gpu_utilization", SignalKind::kGauge, "ratio",
       "NVML utilization of the engine's GPU (device-wide); absent without NVML"},
      {"utilization", SignalKind::kGauge, "ratio",
       "The device's: gpu_utilization on CUDA, engine_cpu_utilization on CPU"},
      // The engine's GPU as NVML reports it: each absent where NVML has no value.
      {"gpu_memory_used_bytes", SignalKind::kGauge, "bytes",
       "Device memory in use on the engine's GPU (any process; NVML)"},
      {"gpu_memory_total_bytes", SignalKind::kGauge, "bytes", "Device memory of the engine's GPU (NVML)"},
      {"gpu_power_watts", SignalKind::kGauge, "watts", "Power draw of the engine's GPU (NVML)"},
      {"gpu_temperature_celsius", SignalKind::kGauge, "celsius", "Temperature of the engine's GPU die (NVML)"},
      {"gpu_sm_clock_hz", SignalKind::kGauge, "hertz", "SM clock of the engine's GPU (NVML)"},
      {"gpu_throttled", SignalKind::kGauge, "bool",
       "1 while NVML reports a heat or power throttle reason, else 0 (idle is not throttled)"},
      {"engine_stalled_seconds", SignalKind::kGauge, "seconds",
       "Time the engine has made no step with requests in flight"},
      {"engine_stall_timeout_seconds", SignalKind::kGauge, "seconds", "Setting: server.engine_stall_timeout"},
      {"memory_used_bytes", SignalKind::kGauge, "bytes", "Process RSS, or CUDA allocator bytes"},
      {"avg_sequence_length", SignalKind::kGauge, "tokens", "Mean prompt+output length of running requests"},
      {"max_num_seqs", SignalKind::kGauge, "requests", "Setting: running requests per step"},
      {"max_num_batched_tokens", SignalKind::kGauge, "tokens", "Setting: token budget per step"},
      {"block_size", SignalKind::kGauge, "tokens", "Setting: tokens per KV block"},
      {"prefix_caching_enabled", SignalKind::kGauge, "bool", "Setting: prefix caching on (1) or off (0)"},
      {"chunked_prefill_enabled", SignalKind::kGauge, "bool", "Setting: chunked prefill on (1) or off (0)"},
      {"preemptions_total", SignalKind::kCounter, "preemptions", "Requests preempted for KV space"},
      {"kv_evictions_total", SignalKind::kCounter, "blocks", "KV blocks evicted (preemption + prefix-cache reclaim)"},
      {"prefix_cache_queries_total", SignalKind::kCounter, "tokens", "Prompt tokens looked up in the prefix cache"},
      {"prefix_cache_hits_total", SignalKind::kCounter, "tokens", "Prompt tokens found in the prefix cache"},
      {"prompt_tokens_total", SignalKind::kCounter, "tokens", "Prompt tokens of started requests"},
      {"generation_tokens_total", SignalKind::kCounter, "tokens", "Output tokens generated"},
      {"requests_finished_total", SignalKind::kCounter, "requests", "Requests finished (stop or length)"},
      {"requests_aborted_total", SignalKind::kCounter, "requests", "Requests aborted (client gone, shutdown)"},
      {"requests_failed_total", SignalKind::kCounter, "requests", "Requests failed in the engine"},
      {"gpu_xid_errors_total", SignalKind::kCounter, "errors",
       "XID critical errors NVML reported for the engine's GPU while watched"},
      {"gpu_ecc_errors_total", SignalKind::kCounter, "errors",
       "Uncorrected ECC errors of the engine's GPU (NVML's volatile counter)"},
      {"ttft_p50", SignalKind::kDerived, "seconds", "Time to first token, median over the window"},
      {"ttft_p95", SignalKind::kDerived, "seconds", "Time to first token, P95 over the window"},
      {"ttft_p99", SignalKind::kDerived, "seconds", "Time to first token, P99 over the window"},
      {"tbt_p50", SignalKind::kDerived, "seconds", "Time between tokens, median over the window"},
      {"tbt_p95", SignalKind::kDerived, "seconds", "Time between tokens, P95 over the window"},
      {"e2e_p50", SignalKind::kDerived, "seconds", "End-to-end latency, median over the window"},
      {"e2e_p95", SignalKind::kDerived, "seconds", "End-to-end latency, P95 over the window"},
      {"queue_time_p95", SignalKind::kDerived, "seconds", "Time waiting before the first schedule, P95"},
      {"prefill_time_p95", SignalKind::kDerived, "seconds", "First schedule to first token, P95"},
      {"batch_size_p50", SignalKind::kDerived, "requests", "Requests per step, median over the window"},
      {"batch_size_p95", SignalKind::kDerived, "requests", "Requests per step, P95 over the window"},
      {"output_tokens_per_s", SignalKind::kDerived, "tokens/s", "Output tokens per second over the window"},
      {"requests_per_s", SignalKind::kDerived, "requests/s", "Finished requests per second over the window"},
      {"prefix_cache_hit_rate", SignalKind::kDerived, "ratio", "Prefix-cache hits over queries in the window"},
      {"preemptions_per_s", SignalKind::kDerived, "1/s", "Preemptions per second over the window"},
      {"kv_evictions_per_s", SignalKind::kDerived, "blocks/s", "KV evictions per second over the window"},
      {"requests_stuck", SignalKind::kDerived, "requests", "Running longer than monitor.request_timeout"},
      // Watched engines only, where they expose them (docs/watch.md).
      {"requests_deferred", SignalKind::kGauge, "requests",
       "Requests the scheduler defers (LoRA slots, structured output), not queued for capacity"},
      {"spec_accept_rate", SignalKind::kDerived, "ratio",
       "Speculative decoding: accepted over drafted tokens in the window"},
      {"lora_adapters_running", SignalKind::kGauge, "adapters", "Distinct LoRA adapters in the running batch"},
      {"lora_adapters_waiting", SignalKind::kGauge, "adapters",
       "Distinct LoRA adapters only waiting requests need (not loaded)"},
      {"lora_max", SignalKind::kGauge, "adapters", "Setting: LoRA adapters that fit in one batch (max_loras)"},
      // Watched targets only (absent for the hosted engine): the scrape itself.
      {"target_up", SignalKind::kGauge, "bool", "1 when the last scrape of the target succeeded, 0 when it failed"},
      {"target_health_up", SignalKind::kGauge, "bool",
       "1 when the target's health endpoint answered 200 (scraped with the metrics)"},
  };
  return k;
}

const SignalInfo* FindSignal(const std::string& name) {
  for (const SignalInfo& s : Catalogue())
    if (name == s.name) return &s;
  return nullptr;
}

double SignalDeriver::Counter::Update(double raw) {
  if (!init) {
    init = true;
    last_raw = raw;
    total = raw;
    return total;
  }
  // A drop means the source restarted from zero: everything since counts.
  total += raw >= last_raw ? raw - last_raw : raw;
  last_raw = raw;
  return total;
}

void SignalDeriver::Window::Update(double now, double window_s, const QuantileSketch& cumulative) {
  if (!init) {
    init = true;
    last_cumulative = cumulative;
    // What happened before the first tick belongs to no window we can date.
    return;
  }
  QuantileSketch delta = cumulative.count() >= last_cumulative.count() ? cumulative.Since(last_cumulative) : cumulative;
  last_cumulative = cumulative;
  sum.Merge(delta);
  ticks.emplace_back(now, std::move(delta));
  while (!ticks.empty() && ticks.front().first <= now - window_s) {
    sum = sum.Since(ticks.front().second);
    ticks.pop_front();
  }
}

double SignalDeriver::Rate::Increase(double now, double value, double window_s, double* span) {
  points.emplace_back(now, value);
  while (points.size() > 1 && points[1].first <= now - window_s) points.pop_front();
  *span = now - points.front().first;
  return value - points.front().second;
}

double SignalDeriver::Rate::PerSecond(double now, double value, double window_s) {
  double span = 0;
  const double inc = Increase(now, value, window_s, &span);
  return span > 0 ? inc / span : 0;
}

std::vector<std::pair<std::string, double>> SignalDeriver::Tick(double now, const engine::EngineStats& s) {
  std::vector<std::pair<std::string, double>> out;
  out.reserve(Catalogue().size());
  auto put = [&out](const char* name, double v) { out.emplace_back(name, v); };
  put("requests_running", double(s.requests_running));
  put("requests_waiting", double(s.requests_waiting));
  put("kv_cache_usage", s.kv_cache_usage);
  put("kv_blocks_total", double(s.kv_blocks_total));
  put("kv_blocks_used", double(s.kv_blocks_used));
  put("kv_blocks_orphaned", double(s.kv_blocks_orphaned));
  const double busy_total = busy_.Update(s.busy_seconds_total);
  double busy = s.busy_fraction;
  if (have_prev_ && now > prev_t_) busy = std::clamp((busy_total - prev_busy_) / (now - prev_t_), 0.0, 1.0);
  put("busy_fraction", busy);
  const double cpu_total = cpu_.Update(s.engine_thread_cpu_seconds_total);
  std::optional<double> cpu_util;
  if (have_prev_ && now > prev_t_) cpu_util = std::clamp((cpu_total - prev_cpu_) / (now - prev_t_), 0.0, 1.0);
  if (cpu_util) put("engine_cpu_utilization", *cpu_util);
  if (s.gpu.utilization) put("gpu_utilization", *s.gpu.utilization);
  // On CUDA without NVML, wall time in steps is the best figure there is;
  // with NVML, a failed read leaves a gap rather than mixing two measures.
  if (s.cuda_device >= 0) {
    if (s.gpu.utilization) put("utilization", *s.gpu.utilization);
    else if (!s.gpu_probed) put("utilization", busy);
  } else if (cpu_util) {
    put("utilization", *cpu_util);
  }
  const engine::GpuStats& g = s.gpu;
  if (g.memory_used_bytes) put("gpu_memory_used_bytes", *g.memory_used_bytes);
  if (g.memory_total_bytes) put("gpu_memory_total_bytes", *g.memory_total_bytes);
  if (g.power_watts) put("gpu_power_watts", *g.power_watts);
  if (g.temperature_celsius) put("gpu_temperature_celsius", *g.temperature_celsius);
  if (g.sm_clock_hz) put("gpu_sm_clock_hz", *g.sm_clock_hz);
  if (g.throttled) put("gpu_throttled", *g.throttled ? 1 : 0);
  const int64_t in_flight = s.requests_running + s.requests_waiting;
  if (!have_progress_ || s.steps_total != last_steps_ || in_flight == 0) {
    have_progress_ = true;
    last_steps_ = s.steps_total;
    last_progress_t_ = now;
  }
  put("engine_stalled_seconds", now - last_progress_t_);
  put("engine_stall_timeout_seconds", cfg_.engine_stall_timeout_s);
  put("memory_used_bytes", double(s.memory_used_bytes));
  put("avg_sequence_length", s.avg_sequence_length);
  put("max_num_seqs", double(s.max_num_seqs));
  put("max_num_batched_tokens", double(s.max_num_batched_tokens));
  put("block_size", double(s.block_size));
  put("prefix_caching_enabled", s.prefix_caching_enabled ? 1 : 0);
  put("chunked_prefill_enabled", s.chunked_prefill_enabled ? 1 : 0);

  using engine::FinishReason;
  const auto& f = s.requests_finished_by_reason;
  const double preempt = preemptions_.Update(double(s.preemptions_total));
  const double evict = evictions_.Update(double(s.kv_evictions_preemption_total + s.kv_evictions_cache_total));
  const double queries = queries_.Update(double(s.prefix_cache_queries_total));
  const double hits = hits_.Update(double(s.prefix_cache_hits_total));
  const double gen = gen_.Update(double(s.generation_tokens_total));
  const double finished = finished_.Update(double(f[int(FinishReason::kStop)] + f[int(FinishReason::kLength)]));
  put("preemptions_total", preempt);
  put("kv_evictions_total", evict);
  put("prefix_cache_queries_total", queries);
  put("prefix_cache_hits_total", hits);
  put("prompt_tokens_total", prompt_.Update(double(s.prompt_tokens_total)));
  put("generation_tokens_total", gen);
  put("requests_finished_total", finished);
  put("requests_aborted_total", aborted_.Update(double(f[int(FinishReason::kAbort)])));
  put("requests_failed_total", failed_.Update(double(f[int(FinishReason::kError)])));
  // ECC's volatile counter restarts when the driver reloads: reset-safe too.
  if (g.xid_errors_total) put("gpu_xid_errors_total", xid_.Update(*g.xid_errors_total));
  if (g.ecc_errors_total) put("gpu_ecc_errors_total", ecc_.Update(*g.ecc_errors_total));

  const double w = cfg_.window_s;
  struct Q {
    Window* win;
    const QuantileSketch* src;
    std::vector<std::pair<const char*, double>> qs;
  };
  for (Q q : {Q{&ttft_, &s.ttft_sketch, {{"ttft_p50", 0.5}, {"ttft_p95", 0.95}, {"ttft_p99", 0.99}}},
              Q{&tbt_, &s.inter_token_sketch, {{"tbt_p50", 0.5}, {"tbt_p95", 0.95}}},
              Q{&e2e_, &s.e2e_sketch, {{"e2e_p50", 0.5}, {"e2e_p95", 0.95}}},
              Q{&queue_, &s.queue_sketch, {{"queue_time_p95", 0.95}}},
              Q{&prefill_, &s.prefill_sketch, {{"prefill_time_p95", 0.95}}},
              Q{&batch_, &s.batch_size_sketch, {{"batch_size_p50", 0.5}, {"batch_size_p95", 0.95}}}}) {
    q.win->Update(now, w, *q.src);
    if (q.win->sum.count() == 0) continue;
    for (const auto& [name, p] : q.qs) put(name, q.win->sum.Quantile(p));
  }
  if (have_prev_) {
    put("output_tokens_per_s", out_rate_.PerSecond(now, gen, w));
    put("requests_per_s", req_rate_.PerSecond(now, finished, w));
    put("preemptions_per_s", preempt_rate_.PerSecond(now, preempt, w));
    put("kv_evictions_per_s", evict_rate_.PerSecond(now, evict, w));
    double span_q = 0, span_h = 0;
    const double dq = query_rate_.Increase(now, queries, w, &span_q);
    const double dh = hit_rate_.Increase(now, hits, w, &span_h);
    if (dq > 0) put("prefix_cache_hit_rate", dh / dq);
  } else {
    out_rate_.PerSecond(now, gen, w);
    req_rate_.PerSecond(now, finished, w);
    preempt_rate_.PerSecond(now, preempt, w);
    evict_rate_.PerSecond(now, evict, w);
    double span = 0;
    query_rate_.Increase(now, queries, w, &span);
    hit_rate_.Increase(now, hits, w, &span);
  }
  put("requests_stuck", double(s.requests_stuck));
  have_prev_ = true;
  prev_t_ = now;
  prev_busy_ = busy_total;
  prev_cpu_ = cpu_total;
  return out;
}

}  // namespace vigil::monitor
