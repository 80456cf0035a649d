// A real Prometheus (Debian's package) scrapes vigild and answers a query
// for a vLLM-named metric, with its ':' intact.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon_harness.h"
#include "peers.h"

namespace vigil {
namespace {

using json = nlohmann::json;
using vigil::testing::DaemonProcess;
using vigil::testing::DataPath;

TEST(PrometheusScrapeTest, PrometheusScrapesVllmMetrics) {
  if (access("/usr/bin/prometheus", X_OK) != 0) GTEST_FAIL() << "prometheus is not installed (scripts/deps.sh --test)";
  DaemonProcess d("engine:\n  model: " + DataPath("models/llama") +
                  "\n  tokenizer: " + DataPath("tokenizers/tiny512.tokenizer.json") +
                  "\n  served_model_name: llama-fixture\n  num_blocks: 64\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  vigil::testing::PrometheusProcess prom(
      "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: vigil\n"
      "    static_configs:\n      - targets: ['127.0.0.1:" +
      std::to_string(d.port()) + "']\n");
  json result;
  ASSERT_TRUE(vigil::testing::WaitFor(
      [&] {
        result = prom.Query("vllm:num_requests_running");
        return !result.empty();
      },
      60000))
      << prom.Log().substr(0, 2000);
  const json& series = result[0];
  EXPECT_EQ(series["metric"]["__name__"], "vllm:num_requests_running");
  EXPECT_EQ(series["metric"]["model_name"], "llama-fixture");
  EXPECT_EQ(series["value"][1], "0");
}

}  // namespace
}  // namespace vigil
