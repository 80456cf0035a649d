// pipeline/coverage: why a scraped engine cannot give a signal, from the
// signal table's inputs and the adapter's `missing` list.
#include "pipeline/coverage.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "monitor/signal_table.h"

namespace vigil::pipeline {
namespace {

TEST(Coverage, NamesTheMissingInputsAndTheAdaptersNote) {
  EXPECT_EQ(WhyUnavailable("kv_cache_usage", {"kv_cache_usage"}),
            "kv_cache_usage needs kv_cache_usage, which this engine does not expose");
  EXPECT_EQ(WhyUnavailable("kv_cache_usage", {"kv_cache_usage (removed upstream)"}),
            "kv_cache_usage needs kv_cache_usage, which this engine does not expose: removed upstream");
  EXPECT_EQ(WhyUnavailable("kv_cache_usage", {"kv_cache_usage_ratio"}), "") << "another key, not a prefix match";
  // A rate needs its counter's input; a ratio both of its counters'.
  EXPECT_EQ(WhyUnavailable("kv_evictions_per_s", {"kv_evictions_total"}),
            "kv_evictions_per_s needs kv_evictions_total, which this engine does not expose");
  EXPECT_EQ(WhyUnavailable("prefix_cache_hit_rate", {"prefix_cache_hits_total", "prefix_cache_queries_total"}),
            "prefix_cache_hit_rate needs prefix_cache_queries_total, prefix_cache_hits_total, which this engine does "
            "not expose");
  EXPECT_EQ(WhyUnavailable("ttft_p95", {"tbt"}), "");
  EXPECT_EQ(WhyUnavailable("ttft_p95", {"ttft"}), "ttft_p95 needs ttft, which this engine does not expose");
}

TEST(Coverage, HostedOnlyScrapeItselfAndUnknown) {
  EXPECT_EQ(WhyUnavailable("batch_size_p50", {}), "batch_size_p50 is measured only for the hosted engine");
  EXPECT_EQ(WhyUnavailable("gpu_utilization", {}), "gpu_utilization is measured only for the hosted engine");
  EXPECT_EQ(WhyUnavailable("no_such_signal", {}), "no_such_signal is measured only for the hosted engine");
  EXPECT_EQ(WhyUnavailable("target_up", {"progress_total", "ttft"}), "") << "the scrape itself: always there";
}

// Every signal a scrape can give is available from a complete scrape and
// unavailable, naming an input, when all of its inputs are missing.
TEST(Coverage, EveryScrapedSignalFollowsItsInputs) {
  for (const monitor::SignalInfo& s : monitor::Catalogue()) {
    if (!monitor::FromScrape(s)) continue;
    SCOPED_TRACE(s.name);
    EXPECT_EQ(WhyUnavailable(s.name, {}), "");
    const std::vector<std::string> inputs = monitor::ScrapeInputs(s);
    if (inputs.empty()) continue;
    EXPECT_NE(WhyUnavailable(s.name, inputs).find(inputs.front()), std::string::npos);
  }
}

}  // namespace
}  // namespace vigil::pipeline
