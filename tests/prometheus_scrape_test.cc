// A real Prometheus (Debian's package) scrapes vigild and answers a query
// for a vLLM-named metric, with its ':' intact.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon_harness.h"

namespace vigil {
namespace {

using json = nlohmann::json;
using vigil::testing::DaemonProcess;
using vigil::testing::DataPath;

TEST(PrometheusScrapeTest, PrometheusScrapesVllmMetrics) {
  if (access("/usr/bin/prometheus", X_OK) != 0) GTEST_FAIL() << "prometheus is not installed (scripts/deps.sh --test)";
  DaemonProcess d("engine:\n  model: " + DataPath("models/llama") + "\n  tokenizer: " +
                  DataPath("tokenizers/tiny512.tokenizer.json") + "\n  served_model_name: llama-fixture\n  num_blocks: 64\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  vigil::testing::TempDir dir;
  const int prom_port = vigil::testing::FreePort();
  vigil::testing::WriteFile(dir.File("prometheus.yml"),
                            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: vigil\n    static_configs:\n"
                            "      - targets: ['127.0.0.1:" + std::to_string(d.port()) + "']\n");
  const std::string log = dir.File("prometheus.log");
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    const std::string cfg = "--config.file=" + dir.File("prometheus.yml");
    const std::string data = "--storage.tsdb.path=" + dir.File("data");
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(prom_port);
    execl("/usr/bin/prometheus", "prometheus", cfg.c_str(), data.c_str(), listen.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  json result;
  bool found = false;
  httplib::Client prom("127.0.0.1", prom_port);
  for (int i = 0; i < 300 && !found; ++i) {  // up to 30 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto r = prom.Get("/api/v1/query?query=vllm%3Anum_requests_running");
    if (!r || r->status != 200) continue;
    result = json::parse(r->body);
    found = result["status"] == "success" && !result["data"]["result"].empty();
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  ASSERT_TRUE(found) << result.dump() << "\n" << vigil::testing::ReadFile(log).substr(0, 2000);
  const json& series = result["data"]["result"][0];
  EXPECT_EQ(series["metric"]["__name__"], "vllm:num_requests_running");
  EXPECT_EQ(series["metric"]["model_name"], "llama-fixture");
  EXPECT_EQ(series["value"][1], "0");
}

}  // namespace
}  // namespace vigil
