// PromQL export: signals, and the detector functions through vigild's
// vigil_signal_* gauges; which detector outputs the rules read (expressions
// and annotation templates), so /metrics exposes exactly those.
#include "rules/promql.h"

#include <gtest/gtest.h>

namespace vigil::rules {
namespace {

std::string PromQL(const std::string& text) {
  std::unique_ptr<Expr> e;
  EXPECT_TRUE(Expr::Parse(text, &e).ok()) << text;
  std::string out;
  Status st = ExprToPromQL(*e, &out);
  return st.ok() ? out : "error: " + st.message();
}

TEST(PromQLTest, DetectorFunctionsReadTheSignalGauges) {
  EXPECT_EQ(PromQL("zscore(ttft_p95) > 3"), "(max without (signal) (vigil_signal_zscore{signal=\"ttft_p95\"}) > 3)");
  EXPECT_EQ(PromQL("trend_r2(kv_blocks_used)"),
            "max without (signal) (vigil_signal_trend_r2{signal=\"kv_blocks_used\"})");
  EXPECT_EQ(PromQL("time_to_exhaustion(kv_blocks_used)"),
            "max without (signal) (vigil_signal_time_to_exhaustion_seconds{signal=\"kv_blocks_used\"})");
  EXPECT_EQ(
      PromQL("corr(kv_cache_usage, ttft_p95)"),
      "max without (signal_a, signal_b) (vigil_signal_correlation{signal_a=\"kv_cache_usage\",signal_b=\"ttft_p95\"})");
}

// Aggregations drop only vigild's own labels, so the target's (instance,
// cluster, node) survive and a fleet's rule fires per node.
TEST(PromQLTest, FiguresKeepTheTargetsLabels) {
  EXPECT_EQ(PromQL("requests_waiting"), "max without (model_name) (vllm:num_requests_waiting)");
  EXPECT_EQ(PromQL("preemptions_total"), "sum without (model_name) (vllm:num_preemptions_total)");
  EXPECT_EQ(PromQL("preemptions_per_s"), "sum without (model_name) (rate(vllm:num_preemptions_total[1m]))");
  EXPECT_EQ(PromQL("requests_per_s"),
            "sum without (model_name, finished_reason) "
            "(rate(vllm:request_success_total{finished_reason=~\"stop|length\"}[1m]))");
  EXPECT_EQ(PromQL("ttft_p95"),
            "histogram_quantile(0.95, sum without (model_name) (rate(vllm:time_to_first_token_seconds_bucket[1m])))");
}

TEST(PromQLTest, ExactOnlyForPlainSignalsWithoutFunctions) {
  auto rule = [](const std::string& expr, const std::string& annotation = "") {
    Rule r;
    r.name = "R";
    std::unique_ptr<Expr> e;
    EXPECT_TRUE(Expr::Parse(expr, &e).ok()) << expr;
    r.expr = std::move(e);
    if (!annotation.empty()) r.annotations["summary"] = annotation;
    return r;
  };
  EXPECT_EQ(PlainSeries("kv_blocks_orphaned"), "vigil_kv_blocks_orphaned");
  EXPECT_EQ(PlainSeries("preemptions_total"), "vllm:num_preemptions_total");
  EXPECT_EQ(PlainSeries("ttft_p95"), "");
  EXPECT_EQ(PlainSeries("preemptions_per_s"), "");
  EXPECT_TRUE(ExactInPrometheus(rule("kv_blocks_orphaned > 0 and requests_waiting > 2 * max_num_seqs")));
  EXPECT_TRUE(
      ExactInPrometheus(rule("kv_blocks_orphaned > 0", "{{ query \"kv_blocks_orphaned / kv_blocks_total\" }}")));
  EXPECT_FALSE(ExactInPrometheus(rule("ttft_p95 > 2")));
  EXPECT_FALSE(ExactInPrometheus(rule("max_over_time(kv_cache_usage[5m]) > 0.9")));
  EXPECT_FALSE(ExactInPrometheus(rule("zscore(requests_waiting) > 3")));
  EXPECT_FALSE(ExactInPrometheus(rule("kv_blocks_orphaned > 0", "{{ query \"preemptions_per_s\" }}")));
}

TEST(PromQLTest, ForScaleShortensEveryFor) {
  RuleGroup g;
  g.name = "g";
  Rule r;
  r.name = "Leak";
  std::unique_ptr<Expr> e;
  ASSERT_TRUE(Expr::Parse("kv_blocks_orphaned > 0", &e).ok());
  r.expr = std::move(e);
  r.for_s = 60;
  r.keep_firing_for_s = 120;
  g.rules.push_back(r);
  ExportOptions opt;
  opt.for_scale = 0.1;
  const std::string y = ExportPrometheus({g}, opt);
  EXPECT_NE(y.find("for: 6s\n"), std::string::npos) << y;
  EXPECT_NE(y.find("keep_firing_for: 12s\n"), std::string::npos) << y;
  EXPECT_NE(ExportPrometheus({g}).find("for: 60s\n"), std::string::npos);
}

// The GPU's signals read vigild's vigil_gpu_* series; `utilization` is
// NVML's where vigild exports it, the CPU engine's thread time elsewhere.
TEST(PromQLTest, GpuSignalsReadTheNvmlSeries) {
  EXPECT_EQ(PromQL("max_over_time(gpu_throttled[1m]) == 1"),
            "(max_over_time((max without (gpu, UUID) (vigil_gpu_throttled))[60s:]) == 1)");
  EXPECT_EQ(PromQL("increase(gpu_xid_errors_total[5m]) > 0"),
            "(increase((sum without (gpu, UUID) (vigil_gpu_xid_errors_total))[300s:]) > 0)");
  EXPECT_EQ(PromQL("utilization"),
            "(max without (gpu, UUID) (vigil_gpu_utilization) or "
            "sum without (model_name) (rate(vigil_engine_thread_cpu_seconds_total[1m])))");
}

// PromQL's set operators take no scalars: a number beside one is a vector.
TEST(PromQLTest, ANumberBesideASetOperatorIsAVector) {
  EXPECT_EQ(PromQL("gpu_ecc_errors_total or 0"), "(sum without (gpu, UUID) (vigil_gpu_ecc_errors_total) or vector(0))");
  EXPECT_EQ(PromQL("1 and requests_waiting"), "(vector(1) and max without (model_name) (vllm:num_requests_waiting))");
  EXPECT_EQ(PromQL("requests_waiting + 1"), "(max without (model_name) (vllm:num_requests_waiting) + 1)")
      << "arithmetic keeps scalars";
}

TEST(PromQLTest, DetectorRefsComeFromExpressionsAndTemplates) {
  RuleGroup g;
  Rule r;
  r.name = "Leak";
  std::unique_ptr<Expr> e;
  ASSERT_TRUE(Expr::Parse("trend_r2(kv_blocks_used) > 0.8 and corr(kv_cache_usage, ttft_p95) > 0.5", &e).ok());
  r.expr = std::move(e);
  r.annotations["description"] = "exhausted in {{ query \"time_to_exhaustion(kv_blocks_used)\" | humanizeDuration }}";
  g.rules.push_back(r);
  Rule again = r;  // the same calls in a second rule: listed once
  g.rules.push_back(again);
  const auto refs = DetectorRefs({g});
  ASSERT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs[0].fn, "corr");
  EXPECT_EQ(refs[0].a, "kv_cache_usage");
  EXPECT_EQ(refs[0].b, "ttft_p95");
  EXPECT_EQ(refs[1].fn, "time_to_exhaustion");
  EXPECT_EQ(refs[2].fn, "trend_r2");
  EXPECT_EQ(refs[2].a, "kv_blocks_used");
  EXPECT_STREQ(DetectorMetric("corr"), "vigil_signal_correlation");
  EXPECT_STREQ(DetectorMetric("rate"), "");
}

}  // namespace
}  // namespace vigil::rules
