// Rules as Prometheus alerting rules over vigild's /metrics names, so a user
// who runs Prometheus gets the same pages from it. Signals become label-free
// PromQL (max() of gauges, sum() of counters, histogram_quantile over the
// buckets for quantiles, rate() for rates), range functions use subqueries,
// and rules with no PromQL equivalent (detector functions, settings) are
// skipped with a comment saying why.
#pragma once

#include <string>
#include <tuple>
#include <vector>

#include "common/status.h"
#include "rules/rules.h"

namespace vigil::rules {

// A detector output a rule reads: zscore(s), trend_slope(s), trend_r2(s),
// time_to_exhaustion(s) or corr(a, b). vigild exposes each one the loaded
// rules read as a vigil_signal_* gauge, so the exported rules can read the
// same numbers in Prometheus.
struct DetectorRef {
  std::string fn, a, b;  // b: corr's second signal only
  bool operator<(const DetectorRef& o) const { return std::tie(fn, a, b) < std::tie(o.fn, o.a, o.b); }
  bool operator==(const DetectorRef& o) const { return std::tie(fn, a, b) == std::tie(o.fn, o.a, o.b); }
};
// Every detector call in the rules' expressions and in their annotations'
// `query "..."` templates, once each, sorted.
std::vector<DetectorRef> DetectorRefs(const std::vector<RuleGroup>& groups);
std::vector<DetectorRef> DetectorRefs(const std::vector<const Rule*>& rules);
// The gauge a detector function is exposed as: vigil_signal_zscore,
// vigil_signal_trend_slope, vigil_signal_trend_r2,
// vigil_signal_time_to_exhaustion_seconds, vigil_signal_correlation.
const char* DetectorMetric(const std::string& fn);

// One expression; Unimplemented with the reason when it has no equivalent.
Status ExprToPromQL(const Expr& expr, std::string* out);
struct ExportOptions {
  double for_scale = 1;  // every `for` and `keep_firing_for` times this, as rules.for_scale
  // Whose /metrics names: "vigil" (vigild's), or an engine scraped directly:
  // vllm, sglang, tgi, llamacpp, trtllm (trtllm-serve), triton (Triton's
  // TensorRT-LLM backend). For an engine, EngineStalled becomes "requests
  // running while its progress counters stay flat for stall_window_s".
  std::string engine = "vigil";
  double stall_window_s = 60;
};
// Whether `engine` is one ExportOptions::engine accepts.
bool ExportEngineKnown(const std::string& engine);
// A whole rule file's YAML for Prometheus.
std::string ExportPrometheus(const std::vector<RuleGroup>& groups, const ExportOptions& options = {});

// The series a plain signal (a gauge or counter read as it is) comes from,
// e.g. kv_blocks_orphaned -> vigil_kv_blocks_orphaned; "" for derived ones
// (rates, quantiles) and unknown names.
std::string PlainSeries(const std::string& signal);
// Whether Prometheus evaluates the rule exactly as Vigil does: its
// expression and its annotations' queries read only plain signals, through
// no function, and every annotation translates.
bool ExactInPrometheus(const Rule& rule);

}  // namespace vigil::rules
