#include "scrape/deriver.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>

namespace vigil::scrape {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
using Values = std::map<std::string, double>;

Values Tick(ScrapeDeriver& d, double now, const InstanceReading& r) {
  Values v;
  for (const auto& [name, value] : d.Tick(now, r)) {
    EXPECT_TRUE(v.emplace(name, value).second) << "twice: " << name;
    EXPECT_FALSE(std::isnan(value)) << name;
  }
  return v;
}

Buckets Hist(std::vector<double> cumulative, std::vector<double> le = {0.1, 0.5, 1, kInf}) {
  Buckets b;
  b.le = std::move(le);
  b.cumulative = std::move(cumulative);
  b.count = b.cumulative.back();
  return b;
}

// Hand-computed against promql/quantile.go's bucketQuantile.
TEST(HistogramQuantile, InterpolatesLinearlyInsideTheBucket) {
  const std::vector<double> le = {0.1, 0.5, 1, kInf}, c = {10, 30, 40, 40};
  // rank 20 -> bucket (0.1, 0.5] holding 20, 10 into it: 0.1 + 0.4 * 10/20.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, le, c), 0.3);
  // rank 38 -> bucket (0.5, 1] holding 10, 8 into it: 0.5 + 0.5 * 8/10.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.95, le, c), 0.9);
  // rank 4 in the first bucket, whose lower bound is 0: 0.1 * 4/10.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.1, le, c), 0.04);
  // rank exactly on a bucket's count: its upper bound.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.75, le, c), 0.5);
  EXPECT_DOUBLE_EQ(HistogramQuantile(1, le, c), 1);
}

TEST(HistogramQuantile, InTheInfBucketIsTheLastFiniteBound) {
  // rank 5 > 4 observations at or below 0.5: the +Inf bucket.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, {0.1, 0.5, kInf}, {2, 4, 10}), 0.5);
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.99, {0.1, 0.5, kInf}, {2, 4, 10}), 0.5);
}

TEST(HistogramQuantile, SpecialCases) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, {0.1, kInf}, {0, 0})));  // no observations
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, {kInf}, {3})));          // fewer than two buckets
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, {0.1, 1}, {1, 3})));     // no +Inf bucket
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, {0.1, kInf}, {1})));     // sizes differ
  EXPECT_TRUE(std::isnan(HistogramQuantile(nan, {0.1, kInf}, {1, 1})));
  EXPECT_EQ(HistogramQuantile(-0.1, {0.1, kInf}, {1, 1}), -kInf);
  EXPECT_EQ(HistogramQuantile(1.1, {0.1, kInf}, {1, 1}), kInf);
  // A first bound at or below 0 is returned as is, not interpolated from 0.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.3, {-1, 1, kInf}, {5, 8, 10}), -1);
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.6, {-1, 1, kInf}, {5, 8, 10}), -1 + 2 * (1.0 / 3));
  // Unsorted input is sorted; a decrease is raised to the running maximum
  // ({10, 5, 20} -> {10, 10, 20}: rank 15 is in +Inf).
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, {0.5, kInf, 0.1}, {30, 40, 10}), 0.3);
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.75, {0.1, 0.5, kInf}, {10, 5, 20}), 0.5);
}

TEST(ScrapeDeriver, GaugesCountersAndAbsence) {
  ScrapeDeriver d(60);
  EXPECT_TRUE(d.Tick(0, InstanceReading{}).empty());
  InstanceReading r;
  r.gauges = {{"requests_running", 3}, {"requests_waiting", 1}};
  r.counters = {{"prompt_tokens_total", 50}, {"generation_tokens_total", 100}};
  Values v = Tick(d, 1, r);
  EXPECT_EQ(v.at("requests_running"), 3);
  EXPECT_EQ(v.at("requests_waiting"), 1);
  EXPECT_EQ(v.at("prompt_tokens_total"), 50);
  EXPECT_EQ(v.at("generation_tokens_total"), 100);
  for (const char* absent :
       {"kv_cache_usage", "engine_stalled_seconds", "preemptions_total", "output_tokens_per_s", "ttft_p50",
        "prefix_cache_hit_rate", "requests_per_s", "kv_blocks_used", "kv_blocks_orphaned", "busy_fraction",
        "memory_used_bytes", "prefix_caching_enabled", "requests_stuck", "kv_evictions_total", "kv_evictions_per_s"})
    EXPECT_EQ(v.count(absent), 0u) << absent;
  EXPECT_EQ(v.size(), 4u);
}

TEST(ScrapeDeriver, CountersSurviveASourceRestart) {
  ScrapeDeriver d(60);
  InstanceReading r;
  r.counters["generation_tokens_total"] = 100;
  EXPECT_EQ(Tick(d, 0, r).at("generation_tokens_total"), 100);
  r.counters["generation_tokens_total"] = 150;
  Values v = Tick(d, 10, r);
  EXPECT_EQ(v.at("generation_tokens_total"), 150);
  EXPECT_DOUBLE_EQ(v.at("output_tokens_per_s"), 5);
  r.counters["generation_tokens_total"] = 30;  // restarted: 30 new tokens since
  v = Tick(d, 20, r);
  EXPECT_EQ(v.at("generation_tokens_total"), 180);
  EXPECT_DOUBLE_EQ(v.at("output_tokens_per_s"), 80.0 / 20);
}

TEST(ScrapeDeriver, RatesOverASlidingWindow) {
  ScrapeDeriver d(30);
  InstanceReading r;
  auto at = [&](double t, double finished) {
    r.counters["requests_finished_total"] = finished;
    r.counters["preemptions_total"] = finished / 10;
    return Tick(d, t, r);
  };
  EXPECT_EQ(at(0, 0).count("requests_per_s"), 0u);  // one point: no rate yet
  EXPECT_DOUBLE_EQ(at(10, 100).at("requests_per_s"), 10);
  EXPECT_DOUBLE_EQ(at(20, 200).at("requests_per_s"), 10);
  // The window keeps the last point at or before now - 30 (t=10): 100 over 30 s.
  Values v = at(40, 200);
  EXPECT_DOUBLE_EQ(v.at("requests_per_s"), 100.0 / 30);
  EXPECT_DOUBLE_EQ(v.at("preemptions_per_s"), 10.0 / 30);
  // Everything before t=40 has left the window: nothing finished since.
  v = at(70, 200);
  EXPECT_DOUBLE_EQ(v.at("requests_per_s"), 0);
  EXPECT_DOUBLE_EQ(v.at("preemptions_per_s"), 0);
  // Two scrapes at the same time give no rate rather than a division by 0.
  ScrapeDeriver same(30);
  r.counters = {{"requests_finished_total", 1}};
  Tick(same, 5, r);
  EXPECT_EQ(Tick(same, 5, r).count("requests_per_s"), 0u);
}

TEST(ScrapeDeriver, EngineViewGaugesPassThrough) {
  ScrapeDeriver d(60);
  InstanceReading r;
  r.gauges = {{"kv_blocks_used", 300},    {"kv_blocks_orphaned", 0},     {"busy_fraction", 0.4},
              {"memory_used_bytes", 2e9}, {"prefix_caching_enabled", 0}, {"requests_stuck", 2}};
  const Values v = Tick(d, 0, r);
  // As read, 0s included: a 0 that was scraped is a value.
  EXPECT_EQ(v, (Values{{"kv_blocks_used", 300},
                       {"kv_blocks_orphaned", 0},
                       {"busy_fraction", 0.4},
                       {"memory_used_bytes", 2e9},
                       {"prefix_caching_enabled", 0},
                       {"requests_stuck", 2}}));
  // A gauge that stops being served is gone, not held at its last value.
  r.gauges.erase("kv_blocks_orphaned");
  r.gauges.erase("requests_stuck");
  const Values w = Tick(d, 10, r);
  EXPECT_EQ(w.count("kv_blocks_orphaned"), 0u);
  EXPECT_EQ(w.count("requests_stuck"), 0u);
  EXPECT_EQ(w.size(), 4u);
}

TEST(ScrapeDeriver, KvEvictionRateIsResetSafe) {
  ScrapeDeriver d(60);
  InstanceReading r;
  auto at = [&](double t, double evictions) {
    r.counters["kv_evictions_total"] = evictions;
    return Tick(d, t, r);
  };
  Values v = at(0, 100);
  EXPECT_EQ(v.at("kv_evictions_total"), 100);
  EXPECT_EQ(v.count("kv_evictions_per_s"), 0u);  // one point: no rate yet
  v = at(10, 300);
  EXPECT_DOUBLE_EQ(v.at("kv_evictions_per_s"), 20);
  // vigild restarted: its 50 evictions are new, the total never goes back.
  v = at(20, 50);
  EXPECT_EQ(v.at("kv_evictions_total"), 350);
  EXPECT_DOUBLE_EQ(v.at("kv_evictions_per_s"), 250.0 / 20);
  // The window keeps the last point at or before now - 60 (t=20): nothing since.
  v = at(90, 50);
  EXPECT_DOUBLE_EQ(v.at("kv_evictions_per_s"), 0);
  // Without the counter: no eviction signal at all, not a rate of 0.
  r.counters.clear();
  v = Tick(d, 100, r);
  EXPECT_EQ(v.count("kv_evictions_per_s"), 0u);
  EXPECT_EQ(v.count("kv_evictions_total"), 0u);
}

TEST(ScrapeDeriver, PrefixCacheHitRate) {
  ScrapeDeriver d(60);
  InstanceReading r;
  auto at = [&](double t, double queries, double hits) {
    r.counters["prefix_cache_queries_total"] = queries;
    r.counters["prefix_cache_hits_total"] = hits;
    return Tick(d, t, r);
  };
  EXPECT_EQ(at(0, 1000, 900).count("prefix_cache_hit_rate"), 0u);
  // Only the increase counts: 100 hits of 400 queries, not the lifetime 90%.
  EXPECT_DOUBLE_EQ(at(10, 1400, 1000).at("prefix_cache_hit_rate"), 0.25);
  // No queries in the window: no hit rate (not 0).
  EXPECT_EQ(at(100, 1400, 1000).count("prefix_cache_hit_rate"), 0u);
  // Without the hit counter there is no hit rate at all.
  ScrapeDeriver d2(60);
  InstanceReading q;
  q.counters["prefix_cache_queries_total"] = 5;
  Tick(d2, 0, q);
  q.counters["prefix_cache_queries_total"] = 50;
  EXPECT_EQ(Tick(d2, 10, q).count("prefix_cache_hit_rate"), 0u);
}

TEST(ScrapeDeriver, QuantilesFromBucketIncreasesInTheWindow) {
  ScrapeDeriver d(60);
  InstanceReading r;
  // Lifetime observations before the first scrape belong to no window.
  r.histograms["ttft"] = Hist({100, 100, 100, 100});
  EXPECT_EQ(Tick(d, 0, r).count("ttft_p50"), 0u);
  r.histograms["ttft"] = Hist({110, 130, 140, 140});  // +{10, 30, 40, 40}
  Values v = Tick(d, 10, r);
  EXPECT_DOUBLE_EQ(v.at("ttft_p50"), 0.3);
  EXPECT_DOUBLE_EQ(v.at("ttft_p95"), 0.9);
  EXPECT_DOUBLE_EQ(v.at("ttft_p99"), 0.5 + 0.5 * 9.6 / 10);
  EXPECT_EQ(v.count("tbt_p50"), 0u);  // no tbt histogram: absent
  // Nothing new, but t=10 is still in the window.
  EXPECT_DOUBLE_EQ(Tick(d, 20, r).at("ttft_p50"), 0.3);
  // t=10 left the window (10 <= 75 - 60): no observations, no quantile.
  v = Tick(d, 75, r);
  EXPECT_EQ(v.count("ttft_p50"), 0u);
  EXPECT_EQ(v.count("ttft_p99"), 0u);
}

TEST(ScrapeDeriver, QuantileInTheInfBucket) {
  ScrapeDeriver d(60);
  InstanceReading r;
  r.histograms["e2e"] = Hist({0, 0, 0, 0});
  Tick(d, 0, r);
  r.histograms["e2e"] = Hist({1, 2, 3, 20});  // most requests took over 1 s
  Values v = Tick(d, 5, r);
  EXPECT_DOUBLE_EQ(v.at("e2e_p95"), 1);
  EXPECT_DOUBLE_EQ(v.at("e2e_p50"), 1);
}

TEST(ScrapeDeriver, HistogramResetTakesTheNewCumulativeAsTheIncrease) {
  ScrapeDeriver d(60);
  InstanceReading r;
  r.histograms["queue_time"] = Hist({0, 0, 0, 0});
  Tick(d, 0, r);
  r.histograms["queue_time"] = Hist({10, 30, 40, 40});
  EXPECT_DOUBLE_EQ(Tick(d, 10, r).at("queue_time_p95"), 0.9);
  // The engine restarted (count 40 -> 4): the 4 observations are new; the
  // earlier 40 have left the window by t=100.
  r.histograms["queue_time"] = Hist({2, 2, 4, 4});
  Values v = Tick(d, 100, r);
  // rank 3.8: 2 past the 2 at or below 0.5, in (0.5, 1] holding 2 -> 0.5 + 0.5 * 1.8/2.
  EXPECT_DOUBLE_EQ(v.at("queue_time_p95"), 0.95);
  // While t=10 is still in the window, a reset adds to it instead.
  ScrapeDeriver d2(60);
  r.histograms["queue_time"] = Hist({0, 0, 0, 0});
  Tick(d2, 0, r);
  r.histograms["queue_time"] = Hist({10, 30, 40, 40});
  Tick(d2, 10, r);
  r.histograms["queue_time"] = Hist({0, 0, 0, 40});
  // A bucket went down: a reset too. Window {10, 30, 40, 80}: rank 0.95 * 80 = 76 is in +Inf.
  EXPECT_DOUBLE_EQ(Tick(d2, 20, r).at("queue_time_p95"), 1);
}

TEST(ScrapeDeriver, ANewBucketLayoutStartsTheWindowOver) {
  ScrapeDeriver d(60);
  InstanceReading r;
  r.histograms["tbt"] = Hist({0, 0, 0, 0});
  Tick(d, 0, r);
  r.histograms["tbt"] = Hist({10, 10, 10, 10});
  EXPECT_EQ(Tick(d, 5, r).count("tbt_p50"), 1u);
  r.histograms["tbt"] = Hist({3, 6}, {0.2, kInf});
  EXPECT_EQ(Tick(d, 10, r).count("tbt_p50"), 0u);
  r.histograms["tbt"] = Hist({4, 8}, {0.2, kInf});
  Values v = Tick(d, 15, r);
  EXPECT_DOUBLE_EQ(v.at("tbt_p50"), 0.2);  // rank 1 of {1, 2}: 0.2 * 1/1
  EXPECT_DOUBLE_EQ(v.at("tbt_p95"), 0.2);  // in +Inf
}

TEST(ScrapeDeriver, EngineStalledSeconds) {
  ScrapeDeriver d(60);
  InstanceReading r;
  auto at = [&](double t, double running, double waiting, double progress) {
    r.gauges = {{"requests_running", running}, {"requests_waiting", waiting}};
    r.counters = {{"progress_total", progress}};
    return Tick(d, t, r).at("engine_stalled_seconds");
  };
  EXPECT_EQ(at(0, 1, 0, 5), 0);
  EXPECT_EQ(at(4, 1, 0, 5), 4);   // no progress with a request running
  EXPECT_EQ(at(7, 0, 2, 5), 7);   // waiting requests count too
  EXPECT_EQ(at(9, 1, 0, 6), 0);   // moved
  EXPECT_EQ(at(12, 0, 0, 6), 0);  // idle: not stalled
  EXPECT_EQ(at(15, 1, 0, 6), 3);  // counts from the last idle scrape
  EXPECT_EQ(at(16, 1, 0, 0), 0);  // the counter reset: the engine restarted and moved
  // Without a progress counter there is no stall signal.
  ScrapeDeriver d2(60);
  InstanceReading g;
  g.gauges = {{"requests_running", 1}};
  EXPECT_EQ(Tick(d2, 0, g).count("engine_stalled_seconds"), 0u);
}

TEST(ScrapeDeriver, OutputIsInCatalogueOrder) {
  ScrapeDeriver d(60);
  InstanceReading r;
  r.gauges = {{"requests_running", 1},    {"requests_waiting", 0},       {"kv_cache_usage", 0.5},
              {"kv_blocks_used", 8},      {"kv_blocks_orphaned", 0},     {"busy_fraction", 0.3},
              {"memory_used_bytes", 1e9}, {"prefix_caching_enabled", 1}, {"requests_stuck", 0}};
  r.counters = {{"preemptions_total", 0},       {"prefix_cache_queries_total", 0},
                {"prefix_cache_hits_total", 0}, {"prompt_tokens_total", 0},
                {"generation_tokens_total", 0}, {"requests_finished_total", 0},
                {"requests_aborted_total", 0},  {"progress_total", 0},
                {"kv_evictions_total", 0}};
  for (const char* h : {"ttft", "tbt", "e2e", "queue_time", "prefill_time"}) r.histograms[h] = Hist({0, 0, 0, 0});
  Tick(d, 0, r);
  r.counters = {{"preemptions_total", 1},        {"prefix_cache_queries_total", 10},
                {"prefix_cache_hits_total", 5},  {"prompt_tokens_total", 10},
                {"generation_tokens_total", 20}, {"requests_finished_total", 2},
                {"requests_aborted_total", 0},   {"progress_total", 3},
                {"kv_evictions_total", 4}};
  for (const char* h : {"ttft", "tbt", "e2e", "queue_time", "prefill_time"}) r.histograms[h] = Hist({1, 1, 2, 2});
  std::vector<std::string> names;
  for (const auto& [name, value] : d.Tick(1, r)) names.push_back(name);
  // monitor::Catalogue()'s order, restricted to what a scrape can give.
  const std::vector<std::string> want = {"requests_running",
                                         "requests_waiting",
                                         "kv_cache_usage",
                                         "kv_blocks_used",
                                         "kv_blocks_orphaned",
                                         "busy_fraction",
                                         "engine_stalled_seconds",
                                         "engine_stall_timeout_seconds",
                                         "memory_used_bytes",
                                         "prefix_caching_enabled",
                                         "preemptions_total",
                                         "kv_evictions_total",
                                         "prefix_cache_queries_total",
                                         "prefix_cache_hits_total",
                                         "prompt_tokens_total",
                                         "generation_tokens_total",
                                         "requests_finished_total",
                                         "requests_aborted_total",
                                         "ttft_p50",
                                         "ttft_p95",
                                         "ttft_p99",
                                         "tbt_p50",
                                         "tbt_p95",
                                         "e2e_p50",
                                         "e2e_p95",
                                         "queue_time_p95",
                                         "prefill_time_p95",
                                         "output_tokens_per_s",
                                         "requests_per_s",
                                         "prefix_cache_hit_rate",
                                         "preemptions_per_s",
                                         "kv_evictions_per_s",
                                         "requests_stuck"};
  EXPECT_EQ(names, want);
}

}  // namespace
}  // namespace vigil::scrape
