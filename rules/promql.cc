#include "rules/promql.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace vigil::rules {

namespace {

// Every figure keeps the labels that tell nodes apart: the aggregations drop
// only the labels vigild's own series carry (`without`), so what Prometheus
// attaches to the target (instance, job, file-SD labels such as cluster and
// node) survives, and a rule fires per node, labelled with it.
const char* kOwn = "model_name";

std::string Gauge(const std::string& metric) { return std::string("max without (") + kOwn + ") (" + metric + ")"; }
std::string Counter(const std::string& metric) { return std::string("sum without (") + kOwn + ") (" + metric + ")"; }
std::string Reasons(const std::string& matcher) {
  return std::string("sum without (") + kOwn + ", finished_reason) (vllm:request_success_total{finished_reason" +
         matcher + "})";
}
std::string Rate(const std::string& metric, const std::string& sel = "") {
  return std::string("sum without (") + kOwn + (sel.empty() ? "" : ", finished_reason") + ") (rate(" + metric + sel +
         "[1m]))";
}
std::string Gpu(const std::string& metric) { return "max without (gpu, UUID) (" + metric + ")"; }
std::string Quantile(const char* q, const std::string& metric) {
  return std::string("histogram_quantile(") + q + ", sum without (" + kOwn + ") (rate(" + metric + "_bucket[1m])))";
}

// A signal's PromQL, and for the plain ones (a gauge or counter read as it
// is) the series that carries it, so a rule test's input translates exactly.
struct Source {
  std::string promql;
  std::string series;  // "" where the signal is derived (rates, quantiles)
};

const std::map<std::string, Source>& SignalMap() {
  auto g = [](const char* m) { return Source{Gauge(m), m}; };
  auto c = [](const char* m) { return Source{Counter(m), m}; };
  auto d = [](std::string q) { return Source{std::move(q), ""}; };
  // The GPU's series carry its NVML index and UUID instead of model_name.
  auto gpu = [](const char* m) { return Source{Gpu(m), ""}; };
  static const std::map<std::string, Source> m = {
      {"requests_running", g("vllm:num_requests_running")},
      {"requests_waiting", g("vllm:num_requests_waiting")},
      {"kv_cache_usage", g("vllm:kv_cache_usage_perc")},
      {"kv_blocks_total", g("vigil_kv_blocks_capacity")},
      {"kv_blocks_used", g("vigil_kv_blocks_used")},
      {"kv_blocks_orphaned", g("vigil_kv_blocks_orphaned")},
      {"busy_fraction", g("vigil_engine_busy_fraction")},
      {"engine_cpu_utilization", d(Rate("vigil_engine_thread_cpu_seconds_total"))},
      // NVML's figure where vigild exports one (a CUDA engine), else the CPU
      // engine's thread time, as vigild's own `utilization` chooses.
      {"gpu_utilization", gpu("vigil_gpu_utilization")},
      {"utilization",
       d("(" + Gpu("vigil_gpu_utilization") + " or " + Rate("vigil_engine_thread_cpu_seconds_total") + ")")},
      {"gpu_memory_used_bytes", gpu("vigil_gpu_memory_used_bytes")},
      {"gpu_memory_total_bytes", gpu("vigil_gpu_memory_total_bytes")},
      {"gpu_power_watts", gpu("vigil_gpu_power_watts")},
      {"gpu_temperature_celsius", gpu("vigil_gpu_temperature_celsius")},
      {"gpu_sm_clock_hz", gpu("vigil_gpu_sm_clock_hz")},
      {"gpu_throttled", gpu("vigil_gpu_throttled")},
      {"gpu_xid_errors_total", d("sum without (gpu, UUID) (vigil_gpu_xid_errors_total)")},
      {"gpu_ecc_errors_total", d("sum without (gpu, UUID) (vigil_gpu_ecc_errors_total)")},
      {"memory_used_bytes", g("vigil_memory_used_bytes")},
      {"avg_sequence_length", g("vigil_avg_sequence_length")},
      {"requests_stuck", g("vigil_requests_stuck")},
      {"max_num_seqs", g("vigil_engine_max_num_seqs")},
      {"max_num_batched_tokens", g("vigil_engine_max_num_batched_tokens")},
      {"block_size", g("vigil_engine_block_size")},
      {"prefix_caching_enabled", g("vigil_engine_prefix_caching_enabled")},
      {"chunked_prefill_enabled", g("vigil_engine_chunked_prefill_enabled")},
      {"preemptions_total", c("vllm:num_preemptions_total")},
      {"kv_evictions_total", c("vllm_kv_cache_evictions_total")},
      {"prefix_cache_queries_total", c("vllm:prefix_cache_queries_total")},
      {"prefix_cache_hits_total", c("vllm:prefix_cache_hits_total")},
      {"prompt_tokens_total", c("vllm:prompt_tokens_total")},
      {"generation_tokens_total", c("vllm:generation_tokens_total")},
      {"requests_finished_total", d(Reasons("=~\"stop|length\""))},
      {"requests_aborted_total", d(Reasons("=\"abort\""))},
      {"requests_failed_total", d(Reasons("=\"error\""))},
      {"ttft_p50", d(Quantile("0.5", "vllm:time_to_first_token_seconds"))},
      {"ttft_p95", d(Quantile("0.95", "vllm:time_to_first_token_seconds"))},
      {"ttft_p99", d(Quantile("0.99", "vllm:time_to_first_token_seconds"))},
      {"tbt_p50", d(Quantile("0.5", "vllm:inter_token_latency_seconds"))},
      {"tbt_p95", d(Quantile("0.95", "vllm:inter_token_latency_seconds"))},
      {"e2e_p50", d(Quantile("0.5", "vllm:e2e_request_latency_seconds"))},
      {"e2e_p95", d(Quantile("0.95", "vllm:e2e_request_latency_seconds"))},
      {"queue_time_p95", d(Quantile("0.95", "vllm:request_queue_time_seconds"))},
      {"prefill_time_p95", d(Quantile("0.95", "vllm:request_prefill_time_seconds"))},
      {"batch_size_p50", d(Quantile("0.5", "vllm_decode_batch_size"))},
      {"batch_size_p95", d(Quantile("0.95", "vllm_decode_batch_size"))},
      {"output_tokens_per_s", d(Rate("vllm:generation_tokens_total"))},
      {"requests_per_s", d(Rate("vllm:request_success_total", "{finished_reason=~\"stop|length\"}"))},
      {"prefix_cache_hit_rate",
       d("(" + Rate("vllm:prefix_cache_hits_total") + " / " + Rate("vllm:prefix_cache_queries_total") + ")")},
      {"preemptions_per_s", d(Rate("vllm:num_preemptions_total"))},
      {"kv_evictions_per_s", d(Rate("vllm_kv_cache_evictions_total"))},
      // The monitor's stall clock for the hosted engine (pipeline/metrics.cc).
      {"engine_stalled_seconds", g("vigil_engine_stalled_seconds")},
      {"engine_stall_timeout_seconds", g("vigil_engine_stall_timeout_seconds")},
  };
  return m;
}

using SignalTable = std::map<std::string, Source>;

// An engine's own names (docs/watch.md has the sources), for fleets that
// scrape the engines themselves (`rules export --engine`). `own`: the labels
// that split one engine's figure (model, ranks), dropped by aggregation as
// model_name is for vigild; `engine` (vLLM data parallel) is kept, so each
// engine core is judged on its own.
SignalTable EngineTable(const std::string& engine) {
  std::string own;
  SignalTable t;
  auto agg = [&own](const char* op, const std::string& inner) {
    return std::string(op) + " without (" + own + ") (" + inner + ")";
  };
  auto g = [&](const std::string& m) { return Source{agg("max", m), ""}; };
  auto c = [&](const std::string& m) { return Source{agg("sum", m), ""}; };
  auto r = [&](const std::string& m) { return Source{agg("sum", "rate(" + m + "[1m])"), ""}; };
  auto q = [&](const char* quantile, const std::string& m) {
    return Source{std::string("histogram_quantile(") + quantile + ", " + agg("sum", "rate(" + m + "_bucket[1m])") + ")",
                  ""};
  };
  auto hist = [&](const char* signal, const std::string& m,
                  std::initializer_list<std::pair<const char*, const char*>> qs) {
    for (const auto& [name, quantile] : qs) t[std::string(signal) + name] = q(quantile, m);
  };
  auto p50_95_99 = {std::make_pair("_p50", "0.5"), std::make_pair("_p95", "0.95"), std::make_pair("_p99", "0.99")};
  auto p50_95 = {std::make_pair("_p50", "0.5"), std::make_pair("_p95", "0.95")};
  auto p95 = {std::make_pair("_p95", "0.95")};
  if (engine == "vllm") {
    own = "model_name";
    t["requests_running"] = g("vllm:num_requests_running");
    t["requests_waiting"] = g("vllm:num_requests_waiting");
    // V1's name, else V0's: never both for one engine.
    t["kv_cache_usage"] = g("vllm:kv_cache_usage_perc or vllm:gpu_cache_usage_perc");
    t["preemptions_total"] = t["kv_evictions_total"] = c("vllm:num_preemptions_total");
    t["preemptions_per_s"] = t["kv_evictions_per_s"] = r("vllm:num_preemptions_total");
    t["prompt_tokens_total"] = c("vllm:prompt_tokens_total");
    t["generation_tokens_total"] = c("vllm:generation_tokens_total");
    t["output_tokens_per_s"] = r("vllm:generation_tokens_total");
    t["requests_per_s"] = Source{
        "sum without (model_name, finished_reason) "
        "(rate(vllm:request_success_total{finished_reason=~\"stop|length\"}[1m]))",
        ""};
    t["prefix_cache_hit_rate"] = Source{
        "(" + r("vllm:prefix_cache_hits_total").promql + " / " + r("vllm:prefix_cache_queries_total").promql + ")", ""};
    t["prefix_cache_queries_total"] = c("vllm:prefix_cache_queries_total");
    t["requests_deferred"] =
        Source{"max without (model_name, reason) (vllm:num_requests_waiting_by_reason{reason=\"deferred\"})", ""};
    t["spec_accept_rate"] = Source{"(" + r("vllm:spec_decode_num_accepted_tokens_total").promql + " / " +
                                       r("vllm:spec_decode_num_draft_tokens_total").promql + ")",
                                   ""};
    t["prefix_cache_hits_total"] = c("vllm:prefix_cache_hits_total");
    hist("ttft", "vllm:time_to_first_token_seconds", p50_95_99);
    hist("tbt", "vllm:inter_token_latency_seconds", p50_95);
    hist("e2e", "vllm:e2e_request_latency_seconds", p50_95);
    hist("queue_time", "vllm:request_queue_time_seconds", p95);
    hist("prefill_time", "vllm:request_prefill_time_seconds", p95);
  } else if (engine == "sglang") {
    own = "model_name, tp_rank, pp_rank, moe_ep_rank, dp_rank, engine_type, pid";
    t["requests_running"] = g("sglang:num_running_reqs");
    t["requests_waiting"] = g("sglang:num_queue_reqs");
    t["kv_cache_usage"] = g("sglang:token_usage");
    t["preemptions_total"] = t["kv_evictions_total"] = c("sglang:num_retracted_requests_total");
    t["preemptions_per_s"] = t["kv_evictions_per_s"] = r("sglang:num_retracted_requests_total");
    t["prompt_tokens_total"] = c("sglang:prompt_tokens_total");
    t["generation_tokens_total"] = c("sglang:generation_tokens_total");
    t["output_tokens_per_s"] = r("sglang:generation_tokens_total");
    t["requests_per_s"] = r("sglang:num_requests_total");
    t["spec_accept_rate"] = g("sglang:spec_accept_rate");
    hist("ttft", "sglang:time_to_first_token_seconds", p50_95_99);
    hist("tbt", "sglang:inter_token_latency_seconds", p50_95);
    hist("e2e", "sglang:e2e_request_latency_seconds", p50_95);
    hist("queue_time", "sglang:queue_time_seconds", p95);
  } else if (engine == "tgi") {  // no labels of its own: `without ()` drops nothing
    t["requests_running"] = g("tgi_batch_current_size");
    t["requests_waiting"] = g("tgi_queue_size");
    t["output_tokens_per_s"] = r("tgi_request_generated_tokens_sum");
    t["requests_per_s"] = r("tgi_request_success");
    hist("tbt", "tgi_request_mean_time_per_token_duration", p50_95);
    hist("e2e", "tgi_request_duration", p50_95);
    hist("queue_time", "tgi_request_queue_duration", p95);
  } else if (engine == "llamacpp") {
    t["requests_running"] = g("llamacpp:requests_processing");
    t["requests_waiting"] = g("llamacpp:requests_deferred");
    t["kv_cache_usage"] = g("llamacpp:kv_cache_usage_ratio");  // builds before 2025 only
    t["prompt_tokens_total"] = c("llamacpp:prompt_tokens_total");
    t["generation_tokens_total"] = c("llamacpp:tokens_predicted_total");
    t["output_tokens_per_s"] = r("llamacpp:tokens_predicted_total");
  } else if (engine == "trtllm") {
    own = "model_name, engine_type";
    t["requests_running"] = g("trtllm_num_requests_running");
    t["requests_waiting"] = g("trtllm_num_requests_waiting");
    t["kv_cache_usage"] = g("trtllm_kv_cache_utilization");
    t["prompt_tokens_total"] = c("trtllm_prompt_tokens_total");
    t["generation_tokens_total"] = c("trtllm_generation_tokens_total");
    t["output_tokens_per_s"] = r("trtllm_generation_tokens_total");
    t["requests_per_s"] = r("trtllm_request_success_total");
    hist("ttft", "trtllm_time_to_first_token_seconds", p50_95_99);
    hist("tbt", "trtllm_time_per_output_token_seconds", p50_95);
    hist("e2e", "trtllm_e2e_request_latency_seconds", p50_95);
    hist("queue_time", "trtllm_request_queue_time_seconds", p95);
    hist("prefill_time", "trtllm_request_prefill_time_seconds", p95);
  } else if (engine == "triton") {
    own = "model, version, request_type, kv_cache_block_type";
    t["requests_running"] = g("nv_trt_llm_request_metrics{request_type=\"active\"}");
    t["requests_waiting"] = g("nv_trt_llm_request_metrics{request_type=\"waiting\"}");
    t["kv_cache_usage"] = g("nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=\"fraction\"}");
  }
  return t;
}

// EngineStalled from an engine's own figures: requests in flight while its
// progress counters have not moved for the window. Its value is the window
// (a lower bound on the stall), so the description's $value reads right.
bool StallPromQL(const std::string& engine, double window_s, std::string* out) {
  const std::string w = std::to_string(static_cast<long long>(std::llround(window_s)));
  auto flat = [&](const std::string& own, const std::string& counter) {
    return "(sum without (" + own + ") (increase(" + counter + "[" + w + "s])) == 0)";
  };
  // In flight: running plus waiting. A hung engine may hold its requests in
  // either (vigild's stay "waiting" while the step that would admit them hangs).
  auto running = [&](const std::string& own, const std::string& run, const std::string& wait) {
    return "((max without (" + own + ") (" + run + ") + max without (" + own + ") (" + wait + ")) > 0)";
  };
  std::string progress, also_flat, busy;
  if (engine == "vllm") {
    // Tokens and engine steps (V1's iteration histogram; V0 may lack it).
    progress = flat("model_name", "vllm:generation_tokens_total");
    also_flat = "(sum without (model_name) (increase(vllm:iteration_tokens_total_count[" + w + "s])) > 0)";
    busy = running("model_name", "vllm:num_requests_running", "vllm:num_requests_waiting");
  } else if (engine == "sglang") {
    const std::string own = "model_name, tp_rank, pp_rank, moe_ep_rank, dp_rank, engine_type, pid, mode";
    progress = flat(own, "sglang:realtime_tokens_total");  // added each log interval; recent versions
    busy = running("model_name, tp_rank, pp_rank, moe_ep_rank, dp_rank, engine_type, pid", "sglang:num_running_reqs",
                   "sglang:num_queue_reqs");
  } else if (engine == "tgi") {
    // No labels of their own: `without ()` keeps the target's (instance, job).
    progress = flat("", "tgi_batch_inference_count");  // no _total: TGI's exporter adds none
    busy = running("", "tgi_batch_current_size", "tgi_queue_size");
  } else if (engine == "llamacpp") {
    progress = flat("", "llamacpp:n_decode_total");
    busy = running("", "llamacpp:requests_processing", "llamacpp:requests_deferred");
  } else if (engine == "trtllm") {
    // No per-step counter: blocks allocated as decodes grow, and completions.
    progress = flat("model_name, engine_type", "trtllm_kv_cache_gen_alloc_blocks_total");
    also_flat =
        "(sum without (model_name, engine_type) (increase(trtllm_num_requests_completed_total[" + w + "s])) > 0)";
    busy = running("model_name, engine_type", "trtllm_num_requests_running", "trtllm_num_requests_waiting");
  } else if (engine == "triton") {
    // The batch manager's iteration count, a gauge that only grows.
    progress =
        "(max without (model, version, general_type) "
        "(changes(nv_trt_llm_general_metrics{general_type=\"iteration_counter\"}[" +
        w + "s])) == 0)";
    busy =
        "(sum without (model, version, request_type) (nv_trt_llm_request_metrics{request_type=~\"active|waiting\"}) > "
        "0)";
  } else {
    return false;
  }
  *out = "((" + progress + " + " + w + ")" + (also_flat.empty() ? "" : " unless " + also_flat) + " and " + busy + ")";
  return true;
}

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Status Translate(const Node& n, std::string* out, const SignalTable& table, const std::string& engine) {
  switch (n.kind) {
    case Node::Kind::kNumber: *out = Number(n.number); return Status::OK();
    case Node::Kind::kSignal: {
      auto it = table.find(n.name);
      if (it == table.end())
        return Status::Unimplemented("signal " + n.name + " has no /metrics equivalent" +
                                     (engine == "vigil" ? "" : " on " + engine));
      *out = it->second.promql;
      return Status::OK();
    }
    case Node::Kind::kUnary: {
      std::string a;
      VIGIL_RETURN_IF_ERROR(Translate(*n.args[0], &a, table, engine));
      *out = n.name == "-" ? "-(" + a + ")" : "absent(" + a + ")";
      return Status::OK();
    }
    case Node::Kind::kBinary: {
      std::string a, b;
      VIGIL_RETURN_IF_ERROR(Translate(*n.args[0], &a, table, engine));
      VIGIL_RETURN_IF_ERROR(Translate(*n.args[1], &b, table, engine));
      // PromQL's set operators take vectors only: `x or 0` is `x or vector(0)`.
      if (n.name == "and" || n.name == "or" || n.name == "unless") {
        if (n.args[0]->kind == Node::Kind::kNumber) a = "vector(" + a + ")";
        if (n.args[1]->kind == Node::Kind::kNumber) b = "vector(" + b + ")";
      }
      *out = "(" + a + " " + n.name + " " + b + ")";
      return Status::OK();
    }
    case Node::Kind::kCall: {
      static const std::map<std::string, std::string> detectors = {{"zscore", "the z-score detector"},
                                                                   {"corr", "the correlation detector"},
                                                                   {"trend_slope", "the trend detector"},
                                                                   {"trend_r2", "the trend detector"},
                                                                   {"time_to_exhaustion", "the trend detector"}};
      if (detectors.count(n.name)) {
        if (engine != "vigil")
          return Status::Unimplemented(n.name + "() reads " + detectors.at(n.name) + " inside vigild");
        // vigild exposes the detector's output (vigil_signal_*), per signal.
        if (n.args.empty() || n.args[0]->kind != Node::Kind::kSignal ||
            (n.name == "corr" && (n.args.size() < 2 || n.args[1]->kind != Node::Kind::kSignal)))
          return Status::Unimplemented(n.name + "() of an expression reads " + detectors.at(n.name) + " inside vigild");
        const bool pair = n.name == "corr";
        *out = std::string("max without (") + (pair ? "signal_a, signal_b" : "signal") + ") (" +
               DetectorMetric(n.name) + "{" +
               (pair ? "signal_a=\"" + n.args[0]->name + "\",signal_b=\"" + n.args[1]->name + "\""
                     : "signal=\"" + n.args[0]->name + "\"") +
               "})";
        return Status::OK();
      }
      std::string range, scalar;
      for (const auto& a : n.args) {
        if (a->range_s > 0) {
          std::string sig;
          VIGIL_RETURN_IF_ERROR(Translate(*a, &sig, table, engine));
          range = "(" + sig + ")[" + std::to_string(static_cast<long long>(std::llround(a->range_s))) + "s:]";
        } else {
          VIGIL_RETURN_IF_ERROR(Translate(*a, &scalar, table, engine));
        }
      }
      if (n.name == "quantile_over_time") *out = n.name + "(" + scalar + ", " + range + ")";
      else if (n.name == "predict_linear") *out = n.name + "(" + range + ", " + scalar + ")";
      else *out = n.name + "(" + range + ")";
      return Status::OK();
    }
  }
  return Status::Internal("unknown node");
}

void CollectRefs(const Node& n, std::vector<DetectorRef>* out) {
  if (n.kind == Node::Kind::kCall && DetectorMetric(n.name)[0] && !n.args.empty() &&
      n.args[0]->kind == Node::Kind::kSignal) {
    DetectorRef r{n.name, n.args[0]->name, ""};
    if (n.name == "corr" && n.args.size() > 1 && n.args[1]->kind == Node::Kind::kSignal) r.b = n.args[1]->name;
    if (n.name != "corr" || !r.b.empty()) out->push_back(r);
  }
  for (const auto& a : n.args) CollectRefs(*a, out);
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// Our `query "expr"` becomes Prometheus' `query "promql" | first | value`.
bool TranslateTemplate(const std::string& t, std::string* out, std::string* why, const SignalTable& table,
                       const std::string& engine) {
  *out = "";
  size_t i = 0;
  while (i < t.size()) {
    size_t q = t.find("query \"", i);
    if (q == std::string::npos) {
      *out += t.substr(i);
      break;
    }
    size_t end = t.find('"', q + 7);
    if (end == std::string::npos) return false;
    const std::string expr = t.substr(q + 7, end - q - 7);
    std::unique_ptr<Expr> e;
    std::string promql;
    if (!Expr::Parse(expr, &e).ok()) return false;
    Status st = Translate(e->root(), &promql, table, engine);
    if (!st.ok()) {
      *why = st.message();
      return false;
    }
    std::string esc;
    for (char c : promql) {
      if (c == '"' || c == '\\') esc += '\\';
      esc += c;
    }
    *out += t.substr(i, q - i) + "query \"" + esc + "\" | first | value";
    i = end + 1;
  }
  return true;
}

}  // namespace

const char* DetectorMetric(const std::string& fn) {
  if (fn == "zscore") return "vigil_signal_zscore";
  if (fn == "trend_slope") return "vigil_signal_trend_slope";
  if (fn == "trend_r2") return "vigil_signal_trend_r2";
  if (fn == "time_to_exhaustion") return "vigil_signal_time_to_exhaustion_seconds";
  if (fn == "corr") return "vigil_signal_correlation";
  return "";
}

std::vector<DetectorRef> DetectorRefs(const std::vector<RuleGroup>& groups) {
  std::vector<const Rule*> rules;
  for (const auto& g : groups)
    for (const auto& r : g.rules) rules.push_back(&r);
  return DetectorRefs(rules);
}

std::vector<DetectorRef> DetectorRefs(const std::vector<const Rule*>& rules) {
  std::vector<DetectorRef> out;
  for (const Rule* r : rules) {
    if (r->expr) CollectRefs(r->expr->root(), &out);
    // Templates read detectors too: {{ query "time_to_exhaustion(x)" }}.
    for (const auto& [k, t] : r->annotations) {
      for (size_t i = t.find("query \""); i != std::string::npos; i = t.find("query \"", i + 1)) {
        std::string text;
        size_t j = i + 7;
        for (; j < t.size() && t[j] != '"'; ++j) text += t[j] == '\\' && j + 1 < t.size() ? t[++j] : t[j];
        std::unique_ptr<Expr> e;
        if (Expr::Parse(text, &e).ok()) CollectRefs(e->root(), &out);
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Status ExprToPromQL(const Expr& expr, std::string* out) { return Translate(expr.root(), out, SignalMap(), "vigil"); }

bool ExportEngineKnown(const std::string& engine) {
  for (const char* e : {"vigil", "vllm", "sglang", "tgi", "llamacpp", "trtllm", "triton"})
    if (engine == e) return true;
  return false;
}

std::string PlainSeries(const std::string& signal) {
  auto it = SignalMap().find(signal);
  return it == SignalMap().end() ? "" : it->second.series;
}

namespace {
bool ExactNode(const Node& n) {
  if (n.kind == Node::Kind::kCall) return false;
  if (n.kind == Node::Kind::kSignal && PlainSeries(n.name).empty()) return false;
  for (const auto& a : n.args)
    if (!ExactNode(*a)) return false;
  return true;
}
}  // namespace

bool ExactInPrometheus(const Rule& rule) {
  if (!rule.expr || !ExactNode(rule.expr->root())) return false;
  for (const auto& [k, t] : rule.annotations) {
    std::string out, why;
    if (!TranslateTemplate(t, &out, &why, SignalMap(), "vigil")) return false;
    for (size_t i = t.find("query \""); i != std::string::npos; i = t.find("query \"", i + 1)) {
      const size_t end = t.find('"', i + 7);
      std::unique_ptr<Expr> e;
      if (end == std::string::npos || !Expr::Parse(t.substr(i + 7, end - i - 7), &e).ok() || !ExactNode(e->root()))
        return false;
    }
  }
  return true;
}

std::string ExportPrometheus(const std::vector<RuleGroup>& groups, const ExportOptions& options) {
  auto secs = [&](double s) { return std::to_string(static_cast<long long>(std::llround(s * options.for_scale))); };
  const std::string& engine = options.engine;
  const bool vigil = engine == "vigil";
  static const std::map<std::string, SignalTable>* tables = [] {
    auto* m = new std::map<std::string, SignalTable>;
    for (const char* e : {"vllm", "sglang", "tgi", "llamacpp", "trtllm", "triton"}) (*m)[e] = EngineTable(e);
    return m;
  }();
  const SignalTable& table = vigil ? SignalMap() : tables->at(engine);
  std::ostringstream y;
  y << "# Generated by vigilctl rules export --format prometheus from Vigil's rules.\n";
  if (vigil)
    y << "# Signals map onto vigild's /metrics names; rules that need Vigil's own\n"
         "# detectors or settings are skipped with the reason.\n";
  else
    y << "# --engine " << engine
      << ": signals map onto that engine's own /metrics names\n"
         "# (docs/watch.md); rules that need what it does not expose are skipped\n"
         "# with the reason. EngineStalled: requests running while its progress\n"
         "# counters stay flat for "
      << std::llround(options.stall_window_s) << "s.\n";
  y << "groups:\n";
  for (const auto& g : groups) {
    y << "  - name: " << Quote(g.name) << "\n    rules:\n";
    size_t kept = 0;
    for (const auto& r : g.rules) {
      std::string promql;
      Status st = Translate(r.expr->root(), &promql, table, engine);
      // A hung engine from the engine's own figures: its progress counter
      // and running gauge (vigild serves its stall clock instead).
      const Node& root = r.expr->root();
      if (!vigil && root.kind == Node::Kind::kBinary && root.name == ">" && root.args[0]->kind == Node::Kind::kSignal &&
          root.args[0]->name == "engine_stalled_seconds" && root.args[1]->kind == Node::Kind::kSignal &&
          root.args[1]->name == "engine_stall_timeout_seconds") {
        st = StallPromQL(engine, options.stall_window_s, &promql)
                 ? Status::OK()
                 : Status::Unimplemented("no progress counter on " + engine);
      }
      if (!st.ok()) {
        y << "      # " << r.name << " skipped: " << st.message() << "\n";
        continue;
      }
      ++kept;
      y << "      - alert: " << Quote(r.name) << "\n        expr: " << Quote(promql) << "\n";
      if (r.for_s > 0) y << "        for: " << secs(r.for_s) << "s\n";
      if (r.keep_firing_for_s > 0) y << "        keep_firing_for: " << secs(r.keep_firing_for_s) << "s\n";
      y << "        labels:\n";
      for (const auto& [k, v] : r.labels)
        if (k != "alertname") y << "          " << k << ": " << Quote(v) << "\n";
      y << "          source: \"vigil\"\n";
      if (!r.annotations.empty()) {
        y << "        annotations:\n";
        for (const auto& [k, v] : r.annotations) {
          std::string t, why;
          if (TranslateTemplate(v, &t, &why, table, engine)) y << "          " << k << ": " << Quote(t) << "\n";
          else y << "          # " << k << " omitted: " << (why.empty() ? "untranslatable template" : why) << "\n";
        }
      }
    }
    if (kept == 0) y << "      []\n";
  }
  return y.str();
}

}  // namespace vigil::rules
