// The signal table: its rows are consistent with both sources' inputs and with
// docs/signals.md, and the two derivers built from it (the hosted engine's and
// a scraped engine's) agree where both have a signal, through a counter reset
// and a tick that spans no time.
#include "monitor/signal_table.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "monitor/derive.h"
#include "monitor/signals.h"
#include "scrape/adapter.h"
#include "scrape/deriver.h"

namespace vigil::monitor {
namespace {

using Values = std::map<std::string, double>;

Values AsMap(const std::vector<std::pair<std::string, double>>& v) {
  Values m;
  for (const auto& [name, value] : v) EXPECT_TRUE(m.emplace(name, value).second) << "twice: " << name;
  return m;
}

bool IsCanonical(const std::string& key) {
  const auto& in = scrape::CanonicalInputs();
  return std::find(in.begin(), in.end(), key) != in.end();
}

TEST(SignalTable, RowsAreConsistentWithTheirSources) {
  std::set<std::string> names;
  for (const SignalInfo& s : Catalogue()) {
    SCOPED_TRACE(s.name);
    EXPECT_TRUE(names.insert(s.name).second);
    EXPECT_EQ(FindSignal(s.name), &s);
    EXPECT_NE(s.sources, 0u) << "no source derives it";
    switch (s.how) {
      case Derivation::kGauge:
      case Derivation::kCounter:
        EXPECT_EQ(FromHosted(s), s.hosted != nullptr);
        EXPECT_EQ(FromScrape(s), s.scrape != nullptr);
        EXPECT_TRUE(!s.scrape || IsCanonical(s.scrape)) << (s.scrape ? s.scrape : "");
        EXPECT_EQ(s.kind == SignalKind::kCounter, s.how == Derivation::kCounter);
        break;
      case Derivation::kQuantile: {
        ASSERT_NE(s.dist, nullptr);
        EXPECT_EQ(FromHosted(s), s.sketch != nullptr);
        if (FromScrape(s)) {
          EXPECT_STREQ(s.scrape, s.dist);
          EXPECT_TRUE(IsCanonical(s.dist));
        }
        // The name says which quantile of which distribution.
        EXPECT_EQ(std::string(s.name), std::string(s.dist) + "_p" + std::to_string(int(std::lround(s.q * 100))));
        break;
      }
      case Derivation::kRate:
      case Derivation::kRatio:
        for (const char* c : {s.of, s.per}) {
          if (!c) continue;
          // A counter signal with at least this row's sources, or (scrape
          // only) a canonical counter that is no signal of its own.
          const SignalInfo* counter = FindSignal(c);
          if (counter) {
            EXPECT_EQ(counter->how, Derivation::kCounter) << c;
            EXPECT_EQ(counter->sources & s.sources, s.sources) << c;
          } else {
            EXPECT_FALSE(FromHosted(s)) << c;
            EXPECT_TRUE(IsCanonical(c)) << c;
          }
        }
        EXPECT_NE(s.of, nullptr);
        EXPECT_EQ(s.per != nullptr, s.how == Derivation::kRatio);
        break;
      case Derivation::kSpecial: EXPECT_NE(s.special, Special::kNone); break;
    }
  }
  // Every canonical input the adapters produce feeds some signal.
  std::set<std::string> read;
  for (const SignalInfo& s : Catalogue()) {
    for (const std::string& in : ScrapeInputs(s)) read.insert(in);
    for (const char* c : {s.of, s.per})
      if (c && FromScrape(s)) read.insert(c);
  }
  for (const std::string& in : scrape::CanonicalInputs()) EXPECT_TRUE(read.count(in)) << in << " feeds no signal";
}

TEST(SignalTable, ScrapeInputsFollowTheRows) {
  using V = std::vector<std::string>;
  EXPECT_EQ(ScrapeInputs(*FindSignal("kv_cache_usage")), V{"kv_cache_usage"});
  EXPECT_EQ(ScrapeInputs(*FindSignal("ttft_p99")), V{"ttft"});
  EXPECT_EQ(ScrapeInputs(*FindSignal("kv_evictions_per_s")), V{"kv_evictions_total"});  // through its counter
  EXPECT_EQ(ScrapeInputs(*FindSignal("prefix_cache_hit_rate")),
            (V{"prefix_cache_queries_total", "prefix_cache_hits_total"}));
  EXPECT_EQ(ScrapeInputs(*FindSignal("spec_accept_rate")), V{"spec_accept_rate"});  // the fallback stands for both
  EXPECT_EQ(ScrapeInputs(*FindSignal("engine_stall_timeout_seconds")), V{"progress_total"});
  EXPECT_TRUE(ScrapeInputs(*FindSignal("target_up")).empty());
  EXPECT_TRUE(ScrapeInputs(*FindSignal("batch_size_p50")).empty()) << "hosted only";
}

// docs/signals.md lists the catalogue: every signal, in order, with its kind and unit.
TEST(SignalTable, DocsListTheCatalogue) {
  std::ifstream f(VIGIL_SOURCE_DIR "/docs/signals.md");
  ASSERT_TRUE(f) << "docs/signals.md";
  const std::regex row(R"(^\| `([a-z0-9_]+)` \| (gauge|counter|derived) \| ([^|]+?) \|)");
  std::vector<std::string> doc, want;
  for (std::string line; std::getline(f, line);) {
    std::smatch m;
    if (std::regex_search(line, m, row)) doc.push_back(m[1].str() + " " + m[2].str() + " " + m[3].str());
  }
  const char* kinds[] = {"gauge", "counter", "derived"};
  for (const SignalInfo& s : Catalogue()) want.push_back(std::string(s.name) + " " + kinds[int(s.kind)] + " " + s.unit);
  EXPECT_EQ(doc, want);
}

// /health/report and /metrics read the engine through these rows.
TEST(SignalTable, HostedFigureIsTheRowsReading) {
  engine::EngineStats s;
  s.requests_running = 7;
  s.kv_cache_usage = 0.25;
  s.kv_evictions_preemption_total = 3;
  s.kv_evictions_cache_total = 4;
  EXPECT_EQ(HostedFigure(s, "requests_running"), 7.0);
  EXPECT_EQ(HostedFigure(s, "kv_cache_usage"), 0.25);
  EXPECT_EQ(HostedFigure(s, "kv_evictions_total"), 7.0);        // the row's sum, not one field
  EXPECT_THROW(HostedFigure(s, "ttft_p50"), std::logic_error);  // a quantile: no single figure
  EXPECT_THROW(HostedFigure(s, "no_such_signal"), std::logic_error);
}

TEST(Derive, WindowIncreaseIsAbsentWithoutASpan) {
  WindowIncrease w;
  EXPECT_FALSE(w.PerSecond(10, 5, 60)) << "one point";
  EXPECT_FALSE(w.PerSecond(10, 7, 60)) << "two points, no time between them";
  EXPECT_DOUBLE_EQ(*w.PerSecond(12, 11, 60), 3);  // (11 - 5) / 2
  EXPECT_DOUBLE_EQ(*w.Increase(100, 20, 60), 9);  // keeps t=12, the last point at or before 40
  ResetSafeCounter c;
  EXPECT_EQ(c.Update(7), 7);
  EXPECT_EQ(c.Update(9), 9);
  EXPECT_EQ(c.Update(2), 11) << "a drop is a restart: the 2 since count";
}

// One truth, fed to both sources in their own shapes.
struct Step {
  double t;
  int running, waiting;
  int gen, finished, queries, hits, preempt, evicted, steps;
  int ttft_fast, ttft_slow;  // new observations: 0.05 s and 2 s
};

// The hosted SignalDeriver and a ScrapeDeriver, driven through the same
// stream (a zero-span second tick, a counter reset, a stall), give the same
// values for every signal both have: present on the same ticks, equal where
// the derivation is the same (quantiles come from sketches vs buckets: only
// their presence is compared).
TEST(SignalTable, BothDeriversAgreeThroughAResetAndAZeroSpanTick) {
  DeriverConfig cfg;
  cfg.window_s = 10;
  cfg.engine_stall_timeout_s = 7;
  SignalDeriver hosted(cfg);
  scrape::ScrapeDeriver scraped(cfg);
  const Step steps[] = {
      {100, 1, 0, 100, 10, 50, 20, 1, 4, 5, 3, 0},  // the first tick: counters start, no rate
      {100, 1, 0, 120, 12, 60, 25, 1, 4, 6, 2, 1},  // the same time again: no span, no rate
      {101, 2, 1, 150, 15, 80, 30, 2, 6, 7, 4, 0},  //
      {103, 2, 0, 30, 3, 10, 4, 0, 1, 1, 1, 1},     // every counter reset: the engine restarted
      {104, 1, 1, 60, 5, 20, 14, 1, 3, 1, 0, 0},    // no step with work in flight: stalled
      {104.5, 1, 1, 60, 5, 20, 14, 1, 3, 1, 0, 0},  // still stalled
      {120, 0, 0, 60, 5, 20, 14, 1, 3, 1, 0, 0},    // idle past the window: rates of 0, no hit rate, no quantile
  };
  engine::EngineStats s;
  scrape::InstanceReading r;
  std::vector<double> le = {0.1, 1, HUGE_VAL};
  scrape::Buckets ttft{le, {0, 0, 0}, 0, 0};
  for (const Step& st : steps) {
    SCOPED_TRACE("t=" + std::to_string(st.t));
    if (st.gen < s.generation_tokens_total) {  // the restart clears the distributions too
      s.ttft_sketch = QuantileSketch();
      ttft.cumulative = {0, 0, 0};
    }
    s.requests_running = st.running;
    s.requests_waiting = st.waiting;
    s.generation_tokens_total = st.gen;
    s.requests_finished_by_reason = {};
    s.requests_finished_by_reason[int(engine::FinishReason::kStop)] = st.finished;
    s.requests_finished_by_reason[int(engine::FinishReason::kAbort)] = st.finished / 5;
    s.prompt_tokens_total = st.gen / 2;
    s.prefix_cache_queries_total = st.queries;
    s.prefix_cache_hits_total = st.hits;
    s.preemptions_total = st.preempt;
    s.kv_evictions_preemption_total = st.evicted;
    s.steps_total = st.steps;
    s.ttft_sketch.Add(0.05, st.ttft_fast);
    s.ttft_sketch.Add(2, st.ttft_slow);
    r.gauges = {{"requests_running", st.running}, {"requests_waiting", st.waiting}};
    r.counters = {{"generation_tokens_total", st.gen},
                  {"requests_finished_total", st.finished},
                  {"prefix_cache_queries_total", st.queries},
                  {"prefix_cache_hits_total", st.hits},
                  {"preemptions_total", st.preempt},
                  {"kv_evictions_total", st.evicted},
                  {"progress_total", st.steps},
                  {"prompt_tokens_total", st.gen / 2},
                  {"requests_aborted_total", st.finished / 5}};
    ttft.cumulative = {ttft.cumulative[0] + st.ttft_fast, ttft.cumulative[1] + st.ttft_fast,
                       ttft.cumulative[2] + st.ttft_fast + st.ttft_slow};
    ttft.count = ttft.cumulative[2];
    r.histograms = {{"ttft", ttft}};

    const Values h = AsMap(hosted.Tick(st.t, s));
    const Values g = AsMap(scraped.Tick(st.t, r));
    int compared = 0;
    for (const SignalInfo& row : Catalogue()) {
      if (!FromHosted(row) || !FromScrape(row)) continue;
      const bool fed = row.how == Derivation::kQuantile ? std::string(row.dist) == "ttft" : true;
      if (!fed || row.special == Special::kBusyFraction) continue;  // busy: the hosted engine's own measure
      if (row.how != Derivation::kCounter && row.how != Derivation::kRate && row.how != Derivation::kRatio &&
          row.how != Derivation::kQuantile && row.special != Special::kStalled &&
          row.special != Special::kStallTimeout && std::string(row.name) != "requests_running" &&
          std::string(row.name) != "requests_waiting")
        continue;  // gauges this stream does not feed
      SCOPED_TRACE(row.name);
      ASSERT_EQ(h.count(row.name), g.count(row.name)) << "present in one source only";
      if (h.count(row.name) && row.how != Derivation::kQuantile) { EXPECT_DOUBLE_EQ(h.at(row.name), g.at(row.name)); }
      ++compared;
    }
    EXPECT_EQ(compared, 20);
    if (st.t == 100) {
      for (const char* rate : {"output_tokens_per_s", "requests_per_s", "prefix_cache_hit_rate", "preemptions_per_s",
                               "kv_evictions_per_s"})
        EXPECT_EQ(h.count(rate), 0u) << rate << ": no span, no value (never a fake 0)";
    }
  }
  // Spot checks of the last ticks, in one source (the other equals it).
  const Values h = AsMap(hosted.Tick(121, s));
  EXPECT_DOUBLE_EQ(h.at("generation_tokens_total"), 210);  // 150 before the reset, then 30 and 30 more
  EXPECT_DOUBLE_EQ(h.at("output_tokens_per_s"), 0);        // nothing in (111, 121]
  EXPECT_EQ(h.count("prefix_cache_hit_rate"), 0u) << "no query in the window";
  EXPECT_DOUBLE_EQ(h.at("engine_stalled_seconds"), 0) << "idle";
}

// The stall figure and its setting come from both sources alike.
TEST(SignalTable, StallSecondsAndTheSettingComeTogether) {
  DeriverConfig cfg;
  cfg.engine_stall_timeout_s = 7;
  scrape::ScrapeDeriver d(cfg);
  scrape::InstanceReading r;
  r.gauges = {{"requests_running", 1}};
  EXPECT_EQ(AsMap(d.Tick(0, r)).count("engine_stall_timeout_seconds"), 0u) << "no progress counter: neither";
  r.counters = {{"progress_total", 3}};
  const Values v = AsMap(d.Tick(1, r));
  EXPECT_DOUBLE_EQ(v.at("engine_stalled_seconds"), 0);
  EXPECT_DOUBLE_EQ(v.at("engine_stall_timeout_seconds"), 7);
  std::vector<std::pair<std::string, double>> outcome;
  scrape::AppendScrapeOutcome(false, -1, &outcome);
  EXPECT_EQ(AsMap(outcome), (Values{{"target_up", 0}}));
  outcome.clear();
  scrape::AppendScrapeOutcome(true, 0, &outcome);
  EXPECT_EQ(AsMap(outcome), (Values{{"target_up", 1}, {"target_health_up", 0}}));
}

}  // namespace
}  // namespace vigil::monitor
