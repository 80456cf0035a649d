// The signal deriver on synthetic stat streams: no model involved.
#include "monitor/signals.h"

#include <gtest/gtest.h>

#include <map>

namespace vigil::monitor {
namespace {

std::map<std::string, double> AsMap(const std::vector<std::pair<std::string, double>>& v) {
  return std::map<std::string, double>(v.begin(), v.end());
}

TEST(SignalsTest, CatalogueNamesAreUniqueAndFindable) {
  std::set<std::string> names;
  for (const auto& s : Catalogue()) EXPECT_TRUE(names.insert(s.name).second) << s.name;
  EXPECT_NE(FindSignal("ttft_p95"), nullptr);
  EXPECT_EQ(FindSignal("nope"), nullptr);
}

TEST(SignalsTest, CountersSurviveResetsAndRatesFollowTheWindow) {
  SignalDeriver d({/*window_s=*/10, 300});
  engine::EngineStats s;
  std::map<std::string, double> v;
  for (int t = 0; t <= 20; ++t) {
    s.generation_tokens_total = 100 * t;          // 100 tokens/s
    if (t == 15) s.generation_tokens_total = 50;  // the engine restarted
    if (t > 15) s.generation_tokens_total = 50 + 100 * (t - 15);
    v = AsMap(d.Tick(t, s));
  }
  // 1400 up to t=14, +50 at the reset, +500 after: monotonic 1950.
  EXPECT_DOUBLE_EQ(v["generation_tokens_total"], 1950);
  EXPECT_NEAR(v["output_tokens_per_s"], 95, 1e-9);  // 950 over the last 10 s (the reset tick added 50)
}

TEST(SignalsTest, QuantilesCoverOnlyTheWindowAndVanishWithoutData) {
  SignalDeriver d({/*window_s=*/5, 300});
  engine::EngineStats s;
  d.Tick(0, s);
  for (int t = 1; t <= 5; ++t) {
    for (int i = 0; i < 100; ++i) s.ttft_sketch.Add(t < 3 ? 10.0 : 0.1);
    auto v = AsMap(d.Tick(t, s));
    ASSERT_TRUE(v.count("ttft_p95"));
  }
  auto v = AsMap(d.Tick(6, s));  // window (1, 6]: ticks 2..5 -> 100 slow, 300 fast... then slow ones expire
  for (int t = 7; t <= 9; ++t) v = AsMap(d.Tick(t, s));
  // By t=9 the window (4, 9] holds only tick 5's fast requests.
  EXPECT_NEAR(v["ttft_p95"], 0.1, 0.001);
  for (int t = 10; t <= 16; ++t) v = AsMap(d.Tick(t, s));
  EXPECT_EQ(v.count("ttft_p95"), 0u) << "no requests in the window: no value, not 0";
}

TEST(SignalsTest, HitRateBusyFractionAndSettings) {
  SignalDeriver d({60, 300});
  engine::EngineStats s;
  s.max_num_seqs = 38;
  s.prefix_caching_enabled = true;
  auto v = AsMap(d.Tick(0, s));
  EXPECT_EQ(v.count("prefix_cache_hit_rate"), 0u);
  s.prefix_cache_queries_total = 1000;
  s.prefix_cache_hits_total = 250;
  s.busy_seconds_total = 0.5;
  v = AsMap(d.Tick(1, s));
  EXPECT_DOUBLE_EQ(v["prefix_cache_hit_rate"], 0.25);
  EXPECT_DOUBLE_EQ(v["busy_fraction"], 0.5);
  EXPECT_DOUBLE_EQ(v["max_num_seqs"], 38);
  EXPECT_DOUBLE_EQ(v["prefix_caching_enabled"], 1);
}

// Utilization is work done: the engine thread's CPU time on a CPU engine, the
// device's own figure on CUDA; never a made-up 0 where nothing measures it.
TEST(SignalsTest, UtilizationFitsTheDevice) {
  SignalDeriver cpu({60, 300});
  engine::EngineStats s;
  auto v = AsMap(cpu.Tick(0, s));
  EXPECT_EQ(v.count("utilization"), 0u) << "no interval yet";
  s.busy_seconds_total = 0.9;               // wall time in steps: looks busy
  s.engine_thread_cpu_seconds_total = 0.3;  // but the thread only ran 30% of the time
  v = AsMap(cpu.Tick(1, s));
  EXPECT_DOUBLE_EQ(v["busy_fraction"], 0.9);
  EXPECT_DOUBLE_EQ(v["engine_cpu_utilization"], 0.3);
  EXPECT_DOUBLE_EQ(v["utilization"], 0.3);
  EXPECT_EQ(v.count("gpu_utilization"), 0u) << "a CPU engine has no GPU figure";

  SignalDeriver gpu({60, 300});
  engine::EngineStats g;
  g.cuda_device = 0;
  gpu.Tick(0, g);
  g.busy_seconds_total = 0.8;
  v = AsMap(gpu.Tick(1, g));
  EXPECT_EQ(v.count("gpu_utilization"), 0u) << "no NVML: absent, never 0";
  EXPECT_DOUBLE_EQ(v["utilization"], 0.8) << "CUDA without NVML falls back to busy_fraction";
  g.busy_seconds_total = 1.8;
  g.gpu.utilization = 0.35;
  v = AsMap(gpu.Tick(2, g));
  EXPECT_DOUBLE_EQ(v["gpu_utilization"], 0.35);
  EXPECT_DOUBLE_EQ(v["utilization"], 0.35);
  g.gpu_probed = true;  // NVML is there but this read failed: a gap, not busy_fraction
  g.gpu.utilization.reset();
  v = AsMap(gpu.Tick(3, g));
  EXPECT_EQ(v.count("utilization"), 0u);
}

// The GPU's own figures pass through as read; every one is absent where NVML
// gave none (a CPU engine, no NVML, a board without a power sensor).
TEST(SignalsTest, GpuSignalsAreNvmlsOrAbsent) {
  const char* gpu_signals[] = {"gpu_memory_used_bytes",   "gpu_memory_total_bytes", "gpu_power_watts",
                               "gpu_temperature_celsius", "gpu_sm_clock_hz",        "gpu_throttled",
                               "gpu_xid_errors_total",    "gpu_ecc_errors_total"};
  for (const char* name : gpu_signals) EXPECT_NE(FindSignal(name), nullptr) << name;
  EXPECT_EQ(FindSignal("gpu_xid_errors_total")->kind, SignalKind::kCounter);
  EXPECT_EQ(FindSignal("gpu_ecc_errors_total")->kind, SignalKind::kCounter);

  SignalDeriver d({60, 300});
  engine::EngineStats s;
  s.cuda_device = 0;
  auto v = AsMap(d.Tick(0, s));
  for (const char* name : gpu_signals) EXPECT_EQ(v.count(name), 0u) << name << ": no NVML, never 0";

  s.gpu_probed = true;
  s.gpu.memory_used_bytes = 30e9;
  s.gpu.memory_total_bytes = 141e9;
  s.gpu.temperature_celsius = 61;
  s.gpu.sm_clock_hz = 1980e6;
  s.gpu.throttle_reasons = 0x1;  // idle
  s.gpu.throttled = false;
  s.gpu.xid_errors_total = 0;
  s.gpu.ecc_errors_total = 2;  // from before vigild started: counted, as any counter's first value
  v = AsMap(d.Tick(1, s));
  EXPECT_DOUBLE_EQ(v["gpu_memory_used_bytes"], 30e9);
  EXPECT_DOUBLE_EQ(v["gpu_memory_total_bytes"], 141e9);
  EXPECT_DOUBLE_EQ(v["gpu_temperature_celsius"], 61);
  EXPECT_DOUBLE_EQ(v["gpu_sm_clock_hz"], 1980e6);
  EXPECT_DOUBLE_EQ(v["gpu_throttled"], 0);
  EXPECT_DOUBLE_EQ(v["gpu_xid_errors_total"], 0);
  EXPECT_DOUBLE_EQ(v["gpu_ecc_errors_total"], 2);
  EXPECT_EQ(v.count("gpu_power_watts"), 0u) << "refused by this board: absent";

  s.gpu.throttled = true;
  s.gpu.xid_errors_total = 1;
  s.gpu.ecc_errors_total = 1;  // the driver reloaded: its volatile counter restarted
  v = AsMap(d.Tick(2, s));
  EXPECT_DOUBLE_EQ(v["gpu_throttled"], 1);
  EXPECT_DOUBLE_EQ(v["gpu_xid_errors_total"], 1);
  EXPECT_DOUBLE_EQ(v["gpu_ecc_errors_total"], 3) << "reset-safe: never goes backwards";

  s.gpu = engine::GpuStats{};  // a failed read: a gap in every GPU series
  v = AsMap(d.Tick(3, s));
  for (const char* name : gpu_signals) EXPECT_EQ(v.count(name), 0u) << name;
}

// The stall clock runs only while requests are in flight and no step happens.
TEST(SignalsTest, EngineStalledSecondsCountsTimeWithoutProgress) {
  DeriverConfig cfg;
  cfg.engine_stall_timeout_s = 7;
  SignalDeriver d(cfg);
  engine::EngineStats s;
  auto v = AsMap(d.Tick(0, s));
  EXPECT_DOUBLE_EQ(v["engine_stalled_seconds"], 0);
  EXPECT_DOUBLE_EQ(v["engine_stall_timeout_seconds"], 7);
  v = AsMap(d.Tick(5, s));
  EXPECT_DOUBLE_EQ(v["engine_stalled_seconds"], 0) << "idle is not stalled";
  s.requests_waiting = 3;
  v = AsMap(d.Tick(6, s));
  EXPECT_DOUBLE_EQ(v["engine_stalled_seconds"], 1) << "counted from the last tick that saw it idle";
  v = AsMap(d.Tick(16, s));
  EXPECT_DOUBLE_EQ(v["engine_stalled_seconds"], 11) << "work waiting, no step";
  s.steps_total = 1;
  v = AsMap(d.Tick(17, s));
  EXPECT_DOUBLE_EQ(v["engine_stalled_seconds"], 0) << "a step resets it";
  v = AsMap(d.Tick(20, s));
  EXPECT_DOUBLE_EQ(v["engine_stalled_seconds"], 3);
}

}  // namespace
}  // namespace vigil::monitor
