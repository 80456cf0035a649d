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
  EXPECT_EQ(PromQL("zscore(ttft_p95) > 3"), "(max(vigil_signal_zscore{signal=\"ttft_p95\"}) > 3)");
  EXPECT_EQ(PromQL("trend_r2(kv_blocks_used)"), "max(vigil_signal_trend_r2{signal=\"kv_blocks_used\"})");
  EXPECT_EQ(PromQL("trend_slope(memory_used_bytes)"), "max(vigil_signal_trend_slope{signal=\"memory_used_bytes\"})");
  EXPECT_EQ(PromQL("time_to_exhaustion(kv_blocks_used)"),
            "max(vigil_signal_time_to_exhaustion_seconds{signal=\"kv_blocks_used\"})");
  EXPECT_EQ(PromQL("corr(kv_cache_usage, ttft_p95)"),
            "max(vigil_signal_correlation{signal_a=\"kv_cache_usage\",signal_b=\"ttft_p95\"})");
  EXPECT_EQ(PromQL("requests_waiting"), "max(vllm:num_requests_waiting)");
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
