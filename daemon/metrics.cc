#include "daemon/metrics.h"

#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>

#include "monitor/signal_table.h"

namespace vigil::daemon {

prometheus::MetricFamily ToPrometheus(const MetricFamily& f) {
  prometheus::MetricFamily out;
  out.name = f.name;
  out.help = f.help;
  out.type = f.type == MetricType::kCounter ? prometheus::MetricType::Counter
             : f.type == MetricType::kGauge ? prometheus::MetricType::Gauge
                                            : prometheus::MetricType::Histogram;
  for (const Metric& m : f.metrics) {
    prometheus::ClientMetric c;
    for (const auto& [k, v] : m.labels) c.label.push_back({k, v});
    if (f.type == MetricType::kCounter) c.counter.value = m.value;
    if (f.type == MetricType::kGauge) c.gauge.value = m.value;
    if (f.type == MetricType::kHistogram) {
      c.histogram.sample_count = m.count;
      c.histogram.sample_sum = m.sum;
      for (const auto& [bound, n] : m.buckets) c.histogram.bucket.push_back({n, bound});
    }
    out.metric.push_back(std::move(c));
  }
  return out;
}

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

class Builder {
 public:
  explicit Builder(std::string model) : model_(std::move(model)) {}

  void Gauge(const std::string& name, const std::string& help, double v) {
    Family(name, help, MetricType::Gauge).metric.push_back(Metric([&](ClientMetric& m) { m.gauge.value = v; }));
  }
  void Counter(const std::string& name, const std::string& help, double v,
               std::vector<ClientMetric::Label> extra = {}) {
    MetricFamily& f = Family(name, help, MetricType::Counter);
    f.metric.push_back(Metric([&](ClientMetric& m) { m.counter.value = v; }, std::move(extra)));
  }
  void Histogram(const std::string& name, const std::string& help, const engine::Histogram& h) {
    MetricFamily& f = Family(name, help, MetricType::Histogram);
    f.metric.push_back(Metric([&](ClientMetric& m) {
      m.histogram.sample_count = h.count();
      m.histogram.sample_sum = h.sum();
      uint64_t cum = 0;
      for (size_t i = 0; i < h.counts().size(); ++i) {
        cum += h.counts()[i];
        const double ub = i < h.bounds().size() ? h.bounds()[i] : std::numeric_limits<double>::infinity();
        m.histogram.bucket.push_back({cum, ub});
      }
    }));
  }
  std::vector<MetricFamily>& families() { return families_; }

 private:
  MetricFamily& Family(const std::string& name, const std::string& help, MetricType type) {
    for (auto& f : families_)
      if (f.name == name) return f;
    families_.push_back(MetricFamily{name, help, type, {}});
    return families_.back();
  }
  template <typename F>
  ClientMetric Metric(F fill, std::vector<ClientMetric::Label> extra = {}) {
    ClientMetric m;
    m.label.push_back({"model_name", model_});
    for (auto& l : extra) m.label.push_back(std::move(l));
    fill(m);
    return m;
  }
  std::string model_;
  std::vector<MetricFamily> families_;
};

}  // namespace

Metrics::Metrics(std::string model_name, std::string version, const std::map<std::string, std::string>& external_labels)
    : model_name_(std::move(model_name)), registry_(std::make_shared<prometheus::Registry>()) {
  if (!external_labels.empty())
    prometheus::BuildGauge()
        .Name("vigil_instance_info")
        .Help("server.external_labels as labels; always 1 (join on it: * on(instance) group_left(cluster, node))")
        .Register(*registry_)
        .Add(external_labels)
        .Set(1);
  prometheus::BuildGauge()
      .Name("vigil_build_info")
      .Help("Vigil's version; always 1")
      .Register(*registry_)
      .Add({{"version", version}})
      .Set(1);
  prometheus::BuildGauge().Name("vigil_up").Help("1 while vigild is serving").Register(*registry_).Add({}).Set(1);
  http_requests_ = &prometheus::BuildCounter()
                        .Name("vigil_http_requests_total")
                        .Help("HTTP requests by endpoint and status code")
                        .Register(*registry_);
  auto& reload = prometheus::BuildGauge()
                     .Name("vigil_config_last_reload_success")
                     .Help("Whether the last configuration reload succeeded (1) or kept the old config (0)")
                     .Register(*registry_);
  reload_success_ = &reload.Add({});
  reload_success_->Set(1);
  reload_time_ = &prometheus::BuildGauge()
                      .Name("vigil_config_last_reload_success_timestamp_seconds")
                      .Help("Unix time of the last successful configuration load")
                      .Register(*registry_)
                      .Add({});
}

void Metrics::CountRequest(const std::string& endpoint, int status) {
  http_requests_->Add({{"endpoint", endpoint}, {"code", std::to_string(status)}}).Increment();
}

void Metrics::CountRejected(const std::string& reason) {
  MutexLock lock(&rejected_mu_);
  ++rejected_[reason];
}

void Metrics::SetReloadResult(bool ok, double unix_time) {
  reload_success_->Set(ok ? 1 : 0);
  if (ok) reload_time_->Set(unix_time);
}

namespace {

// A figure that is a signal, through the signal table's one EngineStats
// mapping (monitor::HostedFigure); NaN where the engine gives none.
double Fig(const engine::EngineStats& s, const char* signal) {
  return monitor::HostedFigure(s, signal).value_or(std::numeric_limits<double>::quiet_NaN());
}

}  // namespace

// The hosted engine's families (none for a sidecar, which has no engine).
// Figures that are signals come through Fig; histograms, finish reasons,
// rejections and the engine's own counters have no signal row.
void AddEngine(Builder& b, const engine::EngineStats& s) {
  // vLLM's own names and meanings (vllm/v1/metrics/loggers.py).
  b.Gauge("vllm:num_requests_running", "Number of requests in model execution batches.", Fig(s, "requests_running"));
  b.Gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", Fig(s, "requests_waiting"));
  b.Gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", Fig(s, "kv_cache_usage"));
  b.Gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage (older name).",
          Fig(s, "kv_cache_usage"));
  b.Counter("vllm:num_preemptions_total", "Cumulative number of preemptions from the engine.",
            Fig(s, "preemptions_total"));
  b.Counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", Fig(s, "prompt_tokens_total"));
  b.Counter("vllm:generation_tokens_total", "Number of generation tokens processed.",
            Fig(s, "generation_tokens_total"));
  for (engine::FinishReason r : {engine::FinishReason::kStop, engine::FinishReason::kLength,
                                 engine::FinishReason::kAbort, engine::FinishReason::kError}) {
    b.Counter("vllm:request_success_total", "Count of finished requests by finish reason.",
              double(s.requests_finished_by_reason[static_cast<int>(r)]),
              {{"finished_reason", engine::FinishReasonName(r)}});
  }
  b.Counter("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.",
            Fig(s, "prefix_cache_queries_total"));
  b.Counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.",
            Fig(s, "prefix_cache_hits_total"));
  b.Histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", s.ttft_seconds);
  b.Histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
              s.inter_token_seconds);
  b.Histogram("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds (older name).",
              s.inter_token_seconds);
  b.Histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", s.e2e_seconds);
  b.Histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.",
              s.queue_seconds);
  b.Histogram("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.",
              s.prefill_seconds);
  b.Histogram("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.",
              s.decode_seconds);
  b.Histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", s.prompt_tokens);
  b.Histogram("vllm:request_generation_tokens", "Number of generation tokens processed.", s.generation_tokens);
  b.Histogram("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", s.iteration_tokens);

  // The monitoring guide's production set, with its buckets.
  b.Histogram("vllm_ttft_seconds", "Time to first token.", s.guide_ttft_seconds);
  b.Histogram("vllm_tbt_seconds", "Time between tokens.", s.guide_tbt_seconds);
  b.Histogram("vllm_e2e_seconds", "End-to-end request latency.", s.guide_e2e_seconds);
  b.Histogram("vllm_decode_batch_size", "Requests decoded together per step.", s.guide_decode_batch_size);
  b.Counter("vllm_output_tokens_total", "Output tokens generated.", Fig(s, "generation_tokens_total"));
  const auto& f = s.requests_finished_by_reason;
  const double ok =
      double(f[static_cast<int>(engine::FinishReason::kStop)] + f[static_cast<int>(engine::FinishReason::kLength)]);
  b.Counter("vllm_requests_completed_total", "Completed requests by status.", ok, {{"status", "success"}});
  b.Counter("vllm_requests_completed_total", "Completed requests by status.",
            double(f[static_cast<int>(engine::FinishReason::kAbort)]), {{"status", "aborted"}});
  b.Counter("vllm_requests_completed_total", "Completed requests by status.",
            double(f[static_cast<int>(engine::FinishReason::kError)]), {{"status", "error"}});
  b.Gauge("vllm_queue_depth", "Requests waiting to be scheduled.", Fig(s, "requests_waiting"));
  b.Gauge("vllm_kv_cache_utilization", "KV-cache utilization, 0..1.", Fig(s, "kv_cache_usage"));
  b.Counter("vllm_kv_cache_evictions_total", "KV blocks evicted (preemption and prefix-cache reclaim).",
            Fig(s, "kv_evictions_total"));
  b.Gauge(
      "vllm_prefix_cache_hit_rate", "Prefix-cache hits over queries, lifetime.",
      s.prefix_cache_queries_total > 0 ? double(s.prefix_cache_hits_total) / double(s.prefix_cache_queries_total) : 0);

  // Vigil's own engine view.
  b.Histogram("vigil_engine_step_seconds", "Wall time of one engine step.", s.step_seconds);
  b.Gauge("vigil_engine_busy_fraction", "Share of the last second the engine spent in model steps.", s.busy_fraction);
  b.Counter("vigil_engine_thread_cpu_seconds_total", "CPU time of the engine thread (its per-thread CPU clock).",
            s.engine_thread_cpu_seconds_total);
  b.Counter("vigil_engine_steps_total", "Engine iterations that ran a model step.", double(s.steps_total));
  b.Gauge("vigil_kv_blocks_capacity", "KV-cache blocks in the pool.", Fig(s, "kv_blocks_total"));
  b.Gauge("vigil_kv_blocks_used", "KV-cache blocks held by requests.", Fig(s, "kv_blocks_used"));
  b.Gauge("vigil_kv_blocks_orphaned", "KV-cache blocks held by no live request (a leak).",
          Fig(s, "kv_blocks_orphaned"));
  b.Gauge("vigil_memory_used_bytes", "Process RSS, or CUDA allocator bytes on GPU.", Fig(s, "memory_used_bytes"));
  b.Counter("vigil_requests_rejected_total", "Requests refused at submission, by reason.",
            double(s.requests_rejected_total), {{"reason", "invalid"}});
  b.Gauge("vigil_requests_stuck", "Requests running longer than monitor.request_timeout.", Fig(s, "requests_stuck"));
  b.Gauge("vigil_avg_sequence_length", "Mean prompt+output tokens of running requests.", Fig(s, "avg_sequence_length"));
  // Settings as gauges, so exported rules can compute recommendations.
  b.Gauge("vigil_engine_max_num_seqs", "Setting: running requests per step.", Fig(s, "max_num_seqs"));
  b.Gauge("vigil_engine_max_num_batched_tokens", "Setting: token budget per step.", double(s.max_num_batched_tokens));
  b.Gauge("vigil_engine_block_size", "Setting: tokens per KV block.", Fig(s, "block_size"));
  b.Gauge("vigil_engine_prefix_caching_enabled", "Setting: prefix caching on (1) or off (0).",
          Fig(s, "prefix_caching_enabled"));
  b.Gauge("vigil_engine_chunked_prefill_enabled", "Setting: chunked prefill on (1) or off (0).",
          s.chunked_prefill_enabled ? 1 : 0);
}

std::string Metrics::Render(const engine::EngineStats* stats,
                            const std::map<std::pair<std::string, std::string>, uint64_t>* anomalies,
                            std::vector<prometheus::MetricFamily> extra) const {
  Builder b(model_name_);
  if (stats) {
    AddEngine(b, *stats);
    std::map<std::string, uint64_t> rejected = {{"queue_full", 0}};
    {
      MutexLock lock(&rejected_mu_);
      for (const auto& [k, v] : rejected_) rejected[k] = v;
    }
    for (const auto& [reason, n] : rejected)
      b.Counter("vigil_requests_rejected_total", "Requests refused at submission, by reason.", double(n),
                {{"reason", reason}});
  }
  if (anomalies != nullptr) {
    MetricFamily f{"vigil_anomalies_total", "Anomaly events by detector and signal", MetricType::Counter, {}};
    for (const auto& [key, n] : *anomalies) {
      ClientMetric m;
      m.label = {{"detector", key.first}, {"signal", key.second}};
      m.counter.value = static_cast<double>(n);
      f.metric.push_back(m);
    }
    if (!f.metric.empty()) b.families().push_back(std::move(f));
  }

  std::vector<MetricFamily> all = registry_->Collect();
  for (auto& fam : b.families()) all.push_back(std::move(fam));
  for (auto& fam : extra) all.push_back(std::move(fam));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, all);
  return out.str();
}

}  // namespace vigil::daemon
