// The monitor inside the real vigild: signals sampled from live traffic,
// served at /api/v1/series and /api/v1/anomalies.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon_harness.h"

namespace vigil {
namespace {

using json = nlohmann::json;
using vigil::testing::DaemonProcess;
using vigil::testing::DataPath;

std::string Engine() {
  return "engine:\n  model: " + DataPath("models/llama") +
         "\n  tokenizer: " + DataPath("tokenizers/tiny512.tokenizer.json") +
         "\n  served_model_name: m\n  num_blocks: 64\n";
}

TEST(MonitorE2ETest, SeriesAndAnomaliesFromLiveTraffic) {
  DaemonProcess d(Engine() + "monitor:\n  interval: 100ms\n  window: 5s\n  retention: 1m\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(c.Post("/v1/completions", R"({"prompt":"hello there","max_tokens":5})", "application/json")->status, 200);
  json latest;
  vigil::testing::WaitFor(
      [&] {  // a few ticks
        latest = json::parse(c.Get("/api/v1/series?name=ttft_p95&window=5s")->body);
        return !latest["points"].empty();
      },
      30000);
  ASSERT_FALSE(latest["points"].empty()) << latest.dump();
  EXPECT_GT(latest["points"].back()[1].get<double>(), 0);
  // The catalogue's latest value reaches all 50 tokens at the first tick
  // after the last response (the points above may all predate it).
  json value;
  EXPECT_TRUE(vigil::testing::WaitFor(
      [&] {
        json cat = json::parse(c.Get("/api/v1/series")->body);
        for (const json& s : cat["signals"])
          if (s["name"] == "generation_tokens_total") value = s["value"];
        return value == 50;
      },
      30000))
      << value;
  EXPECT_EQ(c.Get("/api/v1/series?name=nope")->status, 404);
  EXPECT_EQ(c.Get("/api/v1/series?name=ttft_p95&window=forever")->status, 400);
  // ?names= (the dashboard's): one handler and one validation with ?name=,
  // each form keeping its answer and naming its own parameter.
  json set = json::parse(c.Get("/api/v1/series?names=ttft_p95,requests_running,ttft_p95&window=5s&step=1s")->body);
  ASSERT_EQ(set["series"].size(), 2u) << set.dump();  // a repeated name once
  EXPECT_EQ(set["series"][0]["name"], "ttft_p95");
  EXPECT_EQ(set["series"][1]["name"], "requests_running");
  EXPECT_EQ(set["window_seconds"], 5);
  EXPECT_EQ(set["step_seconds"], 1);
  EXPECT_FALSE(set["series"][0]["points"].empty());
  auto error_param = [&](const std::string& url, int status) {
    auto r = c.Get(url);
    EXPECT_EQ(r->status, status) << url;
    return json::parse(r->body)["error"]["param"];
  };
  EXPECT_EQ(error_param("/api/v1/series?name=nope", 404), "name");
  EXPECT_EQ(error_param("/api/v1/series?names=ttft_p95,nope", 404), "names");
  EXPECT_EQ(error_param("/api/v1/series?names=,", 400), "names");
  EXPECT_EQ(error_param("/api/v1/series?names=ttft_p95&window=forever", 400), "window");
  EXPECT_EQ(error_param("/api/v1/series?names=ttft_p95&step=often", 400), "step");
  EXPECT_EQ(c.Get("/api/v1/series?name=ttft_p95&step=often")->status, 200);  // ?step= belongs to ?names=
  auto a = c.Get("/api/v1/anomalies?since=2026-01-01T00:00:00Z");
  ASSERT_EQ(a->status, 200);
  EXPECT_TRUE(json::parse(a->body)["anomalies"].is_array());
  EXPECT_EQ(c.Get("/api/v1/anomalies?since=yesterday")->status, 400);
  json rep = json::parse(c.Get("/health/report")->body);
  EXPECT_TRUE(rep.contains("anomalies"));
  EXPECT_TRUE(rep.contains("moves_together"));
}

TEST(MonitorE2ETest, DisabledMonitorServesNoSeries) {
  DaemonProcess d(Engine() + "monitor:\n  enabled: false\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  EXPECT_EQ(c.Get("/api/v1/series")->status, 404);
  EXPECT_EQ(c.Get("/api/v1/anomalies")->status, 404);
}

}  // namespace
}  // namespace vigil
