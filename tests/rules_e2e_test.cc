// Rules inside the real vigild: a leak induced with the fault setting makes
// a rule fire, /api/v1/alerts and /health/report show the diagnosis, and
// reloads swap rule sets atomically.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon_harness.h"

namespace vigil {
namespace {

using json = nlohmann::json;
using vigil::testing::DaemonProcess;
using vigil::testing::DataPath;
using vigil::testing::TempDir;
using vigil::testing::WriteFile;

const char* kRules = R"(groups:
  - name: test
    rules:
      - alert: OrphanedKVBlocks
        expr: kv_blocks_orphaned > 0
        for: 500ms
        labels: {severity: critical, pathology: memory_leak}
        annotations:
          summary: KV blocks are held by no live request
          recommendation: "{{ $value | printf \"%.0f\" }} orphaned blocks; restart to reclaim them"
)";

TEST(RulesE2ETest, ALeakFiresItsRuleAndTheReportSaysSo) {
  TempDir dir;
  WriteFile(dir.File("leak.yaml"), kRules);
  WriteFile(dir.File("token"), "0123456789abcdef0123\n");
  DaemonProcess d(
      "engine:\n  model: builtin:tiny-llama\n  max_model_len: 1024\n  num_blocks: 256\n"
      "  faults:\n    leak_blocks_on_abort: 1.0\nmonitor:\n  interval: 100ms\n"
      "rules:\n  files: [" +
          dir.File("leak.yaml") + "]\n",
      "  admin_token_file: " + dir.File("token") + "\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  // A streaming client that hangs up: its aborted request leaks its blocks.
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  req.body = R"({"prompt":"leak me please","max_tokens":500,"stream":true,"ignore_eos":true})";
  int chunks = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
  httplib::Response res;
  httplib::Error err;
  c.send(req, res, err);
  json alerts;
  const bool firing = vigil::testing::WaitFor(
      [&] {
        alerts = json::parse(c.Get("/api/v1/alerts")->body);
        for (const json& a : alerts["data"]["alerts"])
          if (a["state"] == "firing") return true;
        return false;
      },
      30000);
  ASSERT_TRUE(firing) << alerts.dump() << "\n" << d.Log();
  json rep = json::parse(c.Get("/health/report")->body);
  EXPECT_EQ(rep["status"], "critical");
  ASSERT_EQ(rep["firing"].size(), 1u);
  EXPECT_EQ(rep["firing"][0]["pathology"], "memory_leak");
  EXPECT_NE(rep["firing"][0]["recommendation"].get<std::string>().find("orphaned blocks"), std::string::npos);
  EXPECT_TRUE(rep["firing"][0]["evidence"].contains("kv_blocks_orphaned"));
  EXPECT_NE(c.Get("/metrics")->body.find("vigil_rule_state{alert=\"OrphanedKVBlocks\",group=\"test\"} 2"),
            std::string::npos);
  // vigilctl status renders the diagnosis and exits 1 while unhealthy.
  const std::string cmd = std::string(VIGILCTL_PATH) + " status --url http://127.0.0.1:" + std::to_string(d.port()) +
                          " > " + dir.File("status.txt");
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  const std::string screen = vigil::testing::ReadFile(dir.File("status.txt"));
  EXPECT_NE(screen.find("critical"), std::string::npos) << screen;
  EXPECT_NE(screen.find("OrphanedKVBlocks"), std::string::npos) << screen;
  EXPECT_NE(screen.find("restart to reclaim"), std::string::npos) << screen;

  // Reloads: the admin endpoint needs the token; a broken file keeps the old set.
  EXPECT_EQ(c.Post("/api/v1/rules/reload", "", "application/json")->status, 401);
  WriteFile(dir.File("leak.yaml"), "groups:\n  - name: test\n    rules:\n      - alert: X\n        expr: nope > 1\n");
  httplib::Headers admin = {{"Authorization", "Bearer 0123456789abcdef0123"}};
  auto r = c.Post("/api/v1/rules/reload", admin, "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("unknown signal"), std::string::npos) << r->body;
  // The endpoint and SIGHUP are one reload: the same metric and log.
  EXPECT_NE(c.Get("/metrics")->body.find("vigil_config_last_reload_success 0"), std::string::npos);
  EXPECT_TRUE(vigil::testing::WaitFor([&] {
    return d.Log().find("reload failed, keeping the running configuration: rules.files") != std::string::npos;
  })) << d.Log();
  json rules = json::parse(c.Get("/api/v1/rules")->body);
  EXPECT_EQ(rules["data"]["groups"][0]["rules"][0]["name"], "OrphanedKVBlocks");
  WriteFile(dir.File("leak.yaml"),
            "groups:\n  - name: other\n    rules:\n      - alert: Y\n        expr: requests_waiting > 1000\n");
  r = c.Post("/api/v1/rules/reload", admin, "", "application/json");
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_NE(c.Get("/metrics")->body.find("vigil_config_last_reload_success 1"), std::string::npos);
  EXPECT_TRUE(vigil::testing::WaitFor([&] { return d.Log().find("reload: 1 rules loaded") != std::string::npos; }))
      << d.Log();
  rules = json::parse(c.Get("/api/v1/rules")->body);
  EXPECT_EQ(rules["data"]["groups"][0]["rules"][0]["name"], "Y");
}

// The detector outputs the loaded rules read (and only those) are on
// /metrics as vigil_signal_*, so Prometheus can evaluate the exported rules.
TEST(RulesE2ETest, DetectorOutputsTheRulesReadAreOnMetrics) {
  TempDir dir;
  WriteFile(dir.File("trend.yaml"), R"yaml(groups:
  - name: test
    rules:
      - alert: Climbing
        expr: trend_slope(kv_blocks_used) > 1
        annotations:
          summary: 'full in {{ query "time_to_exhaustion(kv_blocks_used)" }}'
)yaml");
  DaemonProcess d(
      "engine:\n  model: builtin:tiny-llama\n  max_model_len: 512\nmonitor:\n  interval: 100ms\n"
      "rules:\n  files: [" +
      dir.File("trend.yaml") + "]\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  std::string metrics;
  ASSERT_TRUE(vigil::testing::WaitFor([&] {
    metrics = c.Get("/metrics")->body;
    return metrics.find("vigil_signal_trend_slope{signal=\"kv_blocks_used\"} ") != std::string::npos;
  })) << metrics.substr(0, 3000);
  EXPECT_NE(metrics.find("# TYPE vigil_signal_trend_slope gauge"), std::string::npos);
  EXPECT_EQ(metrics.find("vigil_signal_zscore"), std::string::npos);  // no loaded rule reads a z-score
  EXPECT_EQ(metrics.find("vigil_signal_correlation"), std::string::npos);
}

TEST(RulesE2ETest, AdminEndpointsAreRefusedWithoutAToken) {
  DaemonProcess d("engine:\n  model: " + DataPath("models/llama") +
                  "\n  tokenizer: " + DataPath("tokenizers/tiny512.tokenizer.json") + "\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  auto r = c.Post("/api/v1/rules/reload", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
}

}  // namespace
}  // namespace vigil
