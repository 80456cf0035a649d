// Captures inside the real vigild: a rule with `actions: [capture]` takes one
// and its alert links to it; the admin API (start, list, get, trace,
// delete), vLLM's /start_profile and /stop_profile, refusals, bad ids,
// vigilctl capture, and an unwritable state directory.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "daemon_harness.h"
#include "test_receiver.h"

namespace vigil {
namespace {

using json = nlohmann::json;
using vigil::testing::DaemonProcess;
using vigil::testing::ReadFile;
using vigil::testing::TempDir;
using vigil::testing::TestReceiver;
using vigil::testing::WaitFor;
using vigil::testing::WriteFile;

const std::string kToken = "0123456789abcdef0123";

httplib::Headers Admin() { return {{"Authorization", "Bearer " + kToken}}; }

json GetJson(httplib::Client& c, const std::string& path) {
  auto r = c.Get(path.c_str(), Admin());
  return r ? json::parse(r->body, nullptr, false) : json();
}

// Clients keeping the engine busy; joined by the caller.
void Traffic(int port, int n, std::vector<std::thread>* threads) {
  for (int i = 0; i < n; ++i) {
    threads->emplace_back([port] {
      httplib::Client cc("127.0.0.1", port);
      cc.set_read_timeout(60, 0);
      cc.Post("/v1/completions", R"({"prompt":"a capture needs work","max_tokens":40,"ignore_eos":true})",
              "application/json");
    });
  }
}

TEST(CapturesE2ETest, ARuleTakesACaptureAndItsAlertLinksToIt) {
  TestReceiver rx;
  TempDir dir;
  WriteFile(dir.File("token"), kToken + "\n");
  WriteFile(dir.File("rules.yaml"), R"(groups:
  - name: test
    rules:
      - alert: CaptureMe
        expr: kv_blocks_total > 0
        labels: {severity: warning}
        annotations: {summary: capture on purpose}
        actions: [alert, capture]
)");
  DaemonProcess d(
      "engine:\n  model: builtin:tiny-llama\n  num_blocks: 64\n  max_model_len: 512\nmonitor:\n  interval: 100ms\n"
      "rules:\n  files: [" +
          dir.File("rules.yaml") +
          "]\n"
          "alerts:\n  group_wait: 1s\n  default_receiver: hook\n  receivers:\n"
          "    - {name: hook, type: webhook, url: \"" +
          rx.Url() +
          "\"}\n"
          "capture:\n  max_duration: 500ms\n  max_steps: 20\n",
      "  admin_token_file: " + dir.File("token") + "\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  json list;
  ASSERT_TRUE(WaitFor([&] {
    list = GetJson(c, "/api/v1/captures");
    return list["data"].size() == 1 && list["data"][0]["status"] == "complete";
  })) << list.dump()
      << d.Log();
  const json& cap = list["data"][0];
  EXPECT_EQ(cap["trigger"], "rule");
  EXPECT_EQ(cap["rule"], "CaptureMe");
  EXPECT_EQ(cap["reason"], "capture on purpose");
  const std::string id = cap["id"];
  const json doc = GetJson(c, "/api/v1/captures/" + id);
  EXPECT_TRUE(doc["evidence"].contains("kv_blocks_total"));
  EXPECT_NEAR(doc["summary"]["categories_sum"].get<double>(), 1.0, 0.05);
  ASSERT_TRUE(rx.WaitAccepted(1, std::chrono::seconds(15)));
  const json hook = json::parse(rx.Requests()[0].body);
  EXPECT_EQ(hook["alerts"][0]["annotations"]["capture"],
            "http://127.0.0.1:" + std::to_string(d.port()) + "/api/v1/captures/" + id);
  const json report = json::parse(c.Get("/health/report")->body);
  ASSERT_FALSE(report["captures"].empty());
  EXPECT_EQ(report["captures"][0]["id"], id);
  EXPECT_NE(c.Get("/metrics")->body.find("vigil_captures_total{trigger=\"rule\",result=\"ok\"} 1"), std::string::npos);
}

TEST(CapturesE2ETest, TheAdminApiVllmProfilerEndpointsAndVigilctl) {
  TempDir dir;
  WriteFile(dir.File("token"), kToken + "\n");
  DaemonProcess d(
      "engine:\n  model: builtin:tiny-llama\n  num_blocks: 128\n  max_model_len: 512\n"
      "capture:\n  max_duration: 2s\n  max_steps: 100000\n  cooldown: {rule: 10m, global: 0s}\n",
      "  admin_token_file: " + dir.File("token") + "\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  EXPECT_EQ(c.Post("/api/v1/captures", "{}", "application/json")->status, 401);
  EXPECT_EQ(c.Post("/api/v1/captures", Admin(), R"({"duration":"soon"})", "application/json")->status, 400);
  EXPECT_EQ(c.Post("/api/v1/captures", Admin(), "[1,2]", "application/json")->status, 400);
  std::vector<std::thread> clients;
  Traffic(d.port(), 8, &clients);
  auto r = c.Post("/api/v1/captures", Admin(), R"({"duration":"1s","reason":"slow p99"})", "application/json");
  ASSERT_EQ(r->status, 202) << r->body;
  const std::string id = json::parse(r->body)["id"];
  auto busy = c.Post("/api/v1/captures", Admin(), "{}", "application/json");
  EXPECT_EQ(busy->status, 409);
  EXPECT_NE(busy->body.find("one at a time"), std::string::npos) << busy->body;
  json doc;
  ASSERT_TRUE(WaitFor([&] {
    doc = GetJson(c, "/api/v1/captures/" + id);
    return doc["status"] == "complete";
  })) << doc.dump();
  EXPECT_EQ(doc["reason"], "slow p99");
  EXPECT_GT(doc["steps"].get<int>(), 0);
  EXPECT_EQ(doc["stop_reason"], "max_duration");  // the 1 s asked for, whatever the load
  auto trace = c.Get(("/api/v1/captures/" + id + "/trace").c_str(), Admin());
  ASSERT_EQ(trace->status, 200);
  ASSERT_GT(trace->body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(trace->body[0]), 0x1f);  // gzip
  EXPECT_EQ(static_cast<unsigned char>(trace->body[1]), 0x8b);
  WriteFile(dir.File("t.pt.trace.json.gz"), trace->body);
  const std::string out = dir.File("summary.txt");
  ASSERT_EQ(
      std::system(
          (std::string(VIGILCTL_PATH) + " capture summary " + dir.File("t.pt.trace.json.gz") + " > " + out).c_str()),
      0);
  const std::string text = ReadFile(out);
  for (const char* want : {"matmul/linear", "attention", "idle between steps", "top operators", id.c_str()})
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;

  // Bad and unknown ids.
  EXPECT_EQ(c.Get("/api/v1/captures/..%2F..%2Fetc%2Fpasswd", Admin())->status, 404);
  EXPECT_EQ(c.Get("/api/v1/captures/bad;id", Admin())->status, 400);
  EXPECT_EQ(c.Get("/api/v1/captures/.hidden/trace", Admin())->status, 400);
  EXPECT_EQ(c.Get("/api/v1/captures/20260101T000000Z-api-0000", Admin())->status, 404);

  // vLLM's profiler endpoints.
  EXPECT_EQ(c.Post("/stop_profile", Admin(), "", "application/json")->status, 404);
  Traffic(d.port(), 8, &clients);
  ASSERT_EQ(c.Post("/start_profile", Admin(), "", "application/json")->status, 202);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto stop = c.Post("/stop_profile", Admin(), "", "application/json");
  ASSERT_EQ(stop->status, 200) << stop->body;
  const std::string pid = json::parse(stop->body)["id"];
  doc = GetJson(c, "/api/v1/captures/" + pid);
  EXPECT_EQ(doc["trigger"], "profile");
  EXPECT_EQ(doc["stop_reason"], "stopped");

  EXPECT_EQ(GetJson(c, "/api/v1/captures")["data"].size(), 2u);
  EXPECT_EQ(c.Delete(("/api/v1/captures/" + id).c_str(), Admin())->status, 200);
  EXPECT_EQ(c.Delete(("/api/v1/captures/" + id).c_str(), Admin())->status, 404);
  EXPECT_EQ(GetJson(c, "/api/v1/captures")["data"].size(), 1u);
  const std::string metrics = c.Get("/metrics")->body;
  EXPECT_NE(metrics.find("vigil_captures_total{trigger=\"api\",result=\"ok\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("vigil_captures_total{trigger=\"api\",result=\"busy\"} 1"), std::string::npos);
  for (auto& t : clients) t.join();
}

TEST(CapturesE2ETest, AnUnwritableStateDirectoryFailsTheCaptureNotTheDaemon) {
  TempDir dir;
  WriteFile(dir.File("token"), kToken + "\n");
  DaemonProcess d("engine:\n  model: builtin:tiny-llama\n  num_blocks: 64\n  max_model_len: 512\n",
                  "  admin_token_file: " + dir.File("token") + "\n", {}, {"--state-dir", "/proc/vigil-nowhere"});
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  auto r = c.Post("/api/v1/captures", Admin(), "{}", "application/json");
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find("not writable"), std::string::npos) << r->body;
  EXPECT_EQ(c.Get("/health")->status, 200);
  auto gen = c.Post("/v1/completions", R"({"prompt":"still serving","max_tokens":4})", "application/json");
  EXPECT_EQ(gen->status, 200);
}

}  // namespace
}  // namespace vigil
