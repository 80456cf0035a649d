// The rule expression language against a synthetic context: no model.
#include "rules/expr.h"

#include <gtest/gtest.h>

#include <map>

namespace vigil::rules {
namespace {

class FakeContext : public EvalContext {
 public:
  double now = 1000;
  std::map<std::string, double> latest;
  std::map<std::string, std::vector<std::pair<double, double>>> series;
  std::map<std::string, double> detector;
  double Now() const override { return now; }
  Value Latest(const std::string& s) const override {
    auto it = latest.find(s);
    return it == latest.end() ? std::nullopt : Value(it->second);
  }
  std::vector<std::pair<double, double>> Range(const std::string& s, double r) const override {
    std::vector<std::pair<double, double>> out;
    auto it = series.find(s);
    if (it == series.end()) return out;
    for (const auto& p : it->second)
      if (p.first >= now - r) out.push_back(p);
    return out;
  }
  Value DetectorOutput(const std::string& f, const std::vector<std::string>& sigs) const override {
    std::string key = f;
    for (const auto& s : sigs) key += ":" + s;
    auto it = detector.find(key);
    return it == detector.end() ? std::nullopt : Value(it->second);
  }
};

Value Eval(const std::string& text, const FakeContext& ctx) {
  std::unique_ptr<Expr> e;
  Status st = Expr::Parse(text, &e);
  EXPECT_TRUE(st.ok()) << text << ": " << st.message();
  return e ? e->Eval(ctx) : std::nullopt;
}

TEST(ExprTest, ComparisonsFilterAndLogicCombines) {
  FakeContext c;
  c.latest = {{"kv_cache_usage", 0.97}, {"kv_evictions_per_s", 12}, {"ttft_p95", 3.5}, {"requests_waiting", 3}};
  EXPECT_EQ(Eval("kv_cache_usage > 0.95", c), 0.97);
  EXPECT_EQ(Eval("kv_cache_usage > 0.99", c), std::nullopt);
  EXPECT_EQ(Eval("kv_cache_usage > 0.95 and kv_evictions_per_s > 10 and ttft_p95 > 3", c), 0.97);
  EXPECT_EQ(Eval("kv_cache_usage > 0.95 and ttft_p95 > 5", c), std::nullopt);
  EXPECT_EQ(Eval("ttft_p95 > 5 or requests_waiting > 1", c), 3);
  EXPECT_EQ(Eval("kv_cache_usage > 0.9 unless requests_waiting > 1", c), std::nullopt);
  EXPECT_EQ(Eval("not ttft_p95 > 5", c), 1.0);
  EXPECT_EQ(Eval("not ttft_p95 > 1", c), std::nullopt);
  EXPECT_NEAR(*Eval("(ttft_p95 - 0.5) * 2 / 3", c), 2.0, 1e-12);
  EXPECT_EQ(Eval("-requests_waiting + 1", c), -2);
}

TEST(ExprTest, MissingDataAndDivisionByZeroNeverMatch) {
  FakeContext c;
  c.latest = {{"requests_waiting", 0}, {"kv_blocks_total", 100}};
  EXPECT_EQ(Eval("ttft_p95 > 0", c), std::nullopt);  // no data
  EXPECT_EQ(Eval("kv_blocks_total / requests_waiting > 1", c), std::nullopt);
  EXPECT_EQ(Eval("prefix_cache_hit_rate < 0.1", c), std::nullopt);
}

TEST(ExprTest, RangeFunctions) {
  FakeContext c;
  for (int i = 0; i <= 60; ++i) {
    c.series["generation_tokens_total"].push_back({940.0 + i, 100.0 * i});
    c.series["memory_used_bytes"].push_back({940.0 + i, 1000.0 + 10 * i});
    c.series["ttft_p95"].push_back({940.0 + i, i % 2 ? 1.0 : 3.0});
  }
  EXPECT_NEAR(*Eval("rate(generation_tokens_total[1m])", c), 100, 1e-9);
  EXPECT_NEAR(*Eval("increase(generation_tokens_total[30s])", c), 3000, 1e-9);
  EXPECT_NEAR(*Eval("deriv(memory_used_bytes[1m])", c), 10, 1e-9);
  EXPECT_NEAR(*Eval("predict_linear(memory_used_bytes[1m], 3600)", c), 1600 + 36000, 1e-6);
  EXPECT_NEAR(*Eval("avg_over_time(ttft_p95[1m])", c), 2.0, 0.05);
  EXPECT_EQ(Eval("max_over_time(ttft_p95[1m])", c), 3.0);
  EXPECT_EQ(Eval("min_over_time(ttft_p95[1m])", c), 1.0);
  EXPECT_NEAR(*Eval("stddev_over_time(ttft_p95[1m])", c), 1.0, 0.01);
  EXPECT_EQ(Eval("quantile_over_time(0.9, ttft_p95[1m])", c), 3.0);
  EXPECT_EQ(Eval("rate(requests_per_s[1m])", c), std::nullopt);  // no points
}

TEST(ExprTest, DetectorFunctions) {
  FakeContext c;
  c.detector = {
      {"corr:kv_cache_usage:ttft_p95", 0.9}, {"zscore:ttft_p95", 4.2}, {"time_to_exhaustion:kv_blocks_used", 1200}};
  EXPECT_EQ(Eval("corr(kv_cache_usage, ttft_p95) > 0.8", c), 0.9);
  EXPECT_EQ(Eval("zscore(ttft_p95) > 3", c), 4.2);
  EXPECT_EQ(Eval("time_to_exhaustion(kv_blocks_used) < 3600", c), 1200);
  EXPECT_EQ(Eval("trend_r2(memory_used_bytes) > 0.8", c), std::nullopt);
}

TEST(ExprTest, EvidenceRecordsEachSubExpression) {
  FakeContext c;
  c.latest = {{"kv_cache_usage", 0.97}, {"ttft_p95", 2.0}};
  std::unique_ptr<Expr> e;
  ASSERT_TRUE(Expr::Parse("kv_cache_usage > 0.95 and ttft_p95 > 3", &e).ok());
  std::vector<std::pair<std::string, Value>> ev;
  EXPECT_EQ(e->Eval(c, &ev), std::nullopt);
  std::map<std::string, Value> m(ev.begin(), ev.end());
  EXPECT_EQ(m["kv_cache_usage"], 0.97);
  EXPECT_EQ(m["kv_cache_usage > 0.95"], 0.97);
  EXPECT_EQ(m["ttft_p95"], 2.0);
  EXPECT_EQ(m["ttft_p95 > 3"], std::nullopt);
  EXPECT_EQ(e->Signals(), (std::vector<std::string>{"kv_cache_usage", "ttft_p95"}));
}

TEST(ExprTest, ErrorsNameTheColumnAndSuggest) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const Case& k : std::vector<Case>{
           {"ttft_p96 > 3", "col 1: unknown signal \"ttft_p96\"; did you mean \"ttft_p95\"?"},
           {"kv_cache_usage >", "col 17: expected a number, signal or function"},
           {"rate(ttft_p95)", "needs a range"},
           {"rate(ttft_p95[5q])", "bad duration"},
           {"ttft_p95[5m] > 1", "only valid inside a function"},
           {"corr(ttft_p95)", "takes 2 arguments"},
           {"zscore(ttft_p95, tbt_p95)", "takes 1 argument"},
           {"frobnicate(ttft_p95)", "unknown function \"frobnicate\""},
           {"(ttft_p95 > 1", "expected \")\""},
           {"ttft_p95 $ 2", "unexpected character \"$\""},
           {"1e999 > ttft_p95", "not a number"},
           {"", "expected a number"},
       }) {
    std::unique_ptr<Expr> e;
    Status st = Expr::Parse(k.text, &e);
    EXPECT_FALSE(st.ok()) << k.text;
    EXPECT_NE(st.message().find(k.expect), std::string::npos) << k.text << " -> " << st.message();
  }
}

// Found by tests/fuzz/expr_fuzz: 2,000 nested parentheses (4 KB) overflowed
// the stack of the recursive-descent parser.
TEST(ExprTest, DeepNestingIsAnErrorNotAStackOverflow) {
  FakeContext c;
  EXPECT_EQ(Eval(std::string(100, '(') + "1" + std::string(100, ')'), c), 1.0);
  EXPECT_EQ(Eval(std::string(100, '-') + "1", c), 1.0);
  for (const std::string& text : {std::string(2000, '(') + "1" + std::string(2000, ')'), std::string(2000, '-') + "1",
                                  [] {
                                    std::string s;
                                    for (int i = 0; i < 1000; ++i) s += "not ";  // under the 4096-byte cap
                                    return s + "1";
                                  }(),
                                  std::string(2000, '(')}) {
    std::unique_ptr<Expr> e;
    Status st = Expr::Parse(text, &e);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(st.message().find("nests deeper than 128 levels"), std::string::npos) << st.message();
  }
}

// Found with tests/fuzz/expr_fuzz on a crafted input: `1+1+...` of 400 KB
// ran out of memory, each of its 200,000 nodes keeping its own text.
TEST(ExprTest, OverlongExpressionIsAnError) {
  std::string text = "1";
  while (text.size() <= 4096) text += "+1";
  std::unique_ptr<Expr> e;
  Status st = Expr::Parse(text, &e);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("expression is 4097 bytes, more than 4096"), std::string::npos) << st.message();
  EXPECT_TRUE(Expr::Parse(text.substr(0, 4095), &e).ok());
}

}  // namespace
}  // namespace vigil::rules
