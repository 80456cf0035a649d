// The GPU's figures on /metrics and in /health/report: DCGM-exporter-style
// names and labels, one series per figure NVML gave and none for the rest.
#include "daemon/gpu_report.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <cstdio>
#include <sstream>

#include "test_util.h"

namespace vigil::daemon {
namespace {

std::string Text(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

engine::GpuStats Full() {
  engine::GpuStats g;
  g.utilization = 0.87;
  g.memory_used_bytes = 30e9;
  g.memory_total_bytes = 150e9;
  g.power_watts = 412.5;
  g.temperature_celsius = 63;
  g.sm_clock_hz = 1980e6;
  g.throttle_reasons = 0x44;  // HW thermal + SW power cap
  g.throttled = true;
  g.xid_errors_total = 1;
  g.ecc_errors_total = 0;
  return g;
}

TEST(GpuReportTest, EveryFigureIsASeriesLabelledWithTheDevice) {
  const std::string t = Text(GpuFamilies(Full(), {3, "GPU-abc", "nvml index 3"}));
  for (const char* line :
       {"vigil_gpu_utilization{gpu=\"3\",UUID=\"GPU-abc\"} 0.87",
        "vigil_gpu_memory_used_bytes{gpu=\"3\",UUID=\"GPU-abc\"} 30000000000",
        "vigil_gpu_memory_total_bytes{gpu=\"3\",UUID=\"GPU-abc\"} 150000000000",
        "vigil_gpu_power_watts{gpu=\"3\",UUID=\"GPU-abc\"} 412.5",
        "vigil_gpu_temperature_celsius{gpu=\"3\",UUID=\"GPU-abc\"} 63",
        "vigil_gpu_sm_clock_hz{gpu=\"3\",UUID=\"GPU-abc\"} 1980000000",
        "vigil_gpu_throttled{gpu=\"3\",UUID=\"GPU-abc\"} 1",
        "vigil_gpu_throttle_reasons{gpu=\"3\",UUID=\"GPU-abc\"} 68", "# TYPE vigil_gpu_xid_errors_total counter",
        "vigil_gpu_xid_errors_total{gpu=\"3\",UUID=\"GPU-abc\"} 1",
        "vigil_gpu_ecc_errors_total{gpu=\"3\",UUID=\"GPU-abc\"} 0"})
    EXPECT_NE(t.find(line), std::string::npos) << line << "\n" << t;

  // Names, types and help pass Prometheus' own lint.
  vigil::testing::TempDir dir;
  vigil::testing::WriteFile(dir.File("m.txt"), t);
  FILE* p = popen(("promtool check metrics < " + dir.File("m.txt") + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string lint;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) lint += buf;
  EXPECT_EQ(pclose(p), 0) << lint;
  EXPECT_EQ(lint, "");
}

TEST(GpuReportTest, WhatNvmlDidNotGiveHasNoSeriesAndNoKey) {
  engine::GpuStats g = Full();
  g.power_watts.reset();
  g.ecc_errors_total.reset();
  const std::string t = Text(GpuFamilies(g, {-1, "", "GPU-abc"}));
  EXPECT_EQ(t.find("vigil_gpu_power_watts"), std::string::npos) << t;
  EXPECT_EQ(t.find("vigil_gpu_ecc_errors_total"), std::string::npos) << t;
  EXPECT_NE(t.find("vigil_gpu_temperature_celsius 63"), std::string::npos) << "no index, no UUID: no labels\n" << t;
  EXPECT_TRUE(GpuFamilies(engine::GpuStats{}, {0, "", ""}).empty()) << "a failed read: no series at all";

  const nlohmann::json j = GpuJson(g, {2, "GPU-abc", "nvml index 2"});
  EXPECT_EQ(j["device"], "nvml index 2");
  EXPECT_EQ(j["index"], 2);
  EXPECT_EQ(j["uuid"], "GPU-abc");
  EXPECT_EQ(j["throttled"], true);
  EXPECT_EQ(j["throttle_reasons"], 0x44);
  EXPECT_DOUBLE_EQ(j["temperature_celsius"].get<double>(), 63);
  EXPECT_DOUBLE_EQ(j["xid_errors_total"].get<double>(), 1);
  EXPECT_FALSE(j.contains("power_watts"));
  EXPECT_FALSE(j.contains("ecc_errors_total"));
}

}  // namespace
}  // namespace vigil::daemon
