// Watch mode end to end: a watch-only vigild (engine.model: none) watching a
// second vigild that hosts the built-in engine, both real processes on
// loopback ports. TargetDown when the target dies and resolves when it comes
// back; EngineStalled when the target's engine hangs behind a live HTTP
// server; a capture through the target's /start_profile and /stop_profile.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

#include "daemon_harness.h"

namespace vigil::testing {
namespace {

using json = nlohmann::json;

const std::string kToken = "watch-e2e-admin-token-0123456789";

json GetJson(httplib::Client& c, const std::string& path) {
  auto r = c.Get(path, {{"Authorization", "Bearer " + kToken}});
  if (!r) return json();
  json j = json::parse(r->body, nullptr, false);
  return j.is_discarded() ? json() : j;
}

// The firing alerts named `name` on target `target`, from /api/v1/alerts.
int Firing(httplib::Client& c, const std::string& name, const std::string& target) {
  const json j = GetJson(c, "/api/v1/alerts");
  int n = 0;
  if (!j.is_object()) return 0;
  for (const auto& a : j["data"]["alerts"])
    if (a["labels"].value("alertname", "") == name && a["labels"].value("target", "") == target &&
        a.value("state", "") == "firing")
      ++n;
  return n;
}

const char* kTargetEngine = "engine:\n  model: builtin:tiny-llama\n  num_blocks: 64\n  max_model_len: 512\n";

std::string WatcherYaml(const TempDir& dir, int target_port, const std::string& target_extra = "") {
  return "engine:\n  model: none\nmonitor:\n  interval: 100ms\n  window: 2s\n"
         "rules:\n  files: [" +
         dir.File("rules.yaml") +
         "]\n"
         "targets:\n  - name: backend\n    url: http://127.0.0.1:" +
         std::to_string(target_port) + "\n    scrape_timeout: 500ms\n" + target_extra;
}

const char* kWatchRules = R"(groups:
  - name: watch
    rules:
      - alert: TargetDown
        expr: target_up < 1
        for: 1s
        labels: {severity: critical}
      - alert: EngineStalled
        expr: engine_stalled_seconds > engine_stall_timeout_seconds
)";

TEST(WatchE2ETest, ASidecarSeesItsTargetGoDownAndComeBack) {
  TempDir dir;
  WriteFile(dir.File("rules.yaml"), kWatchRules);
  auto target = std::make_unique<DaemonProcess>(kTargetEngine);
  ASSERT_TRUE(target->WaitReady()) << target->Log();
  const int target_port = target->port();
  DaemonProcess watcher(WatcherYaml(dir, target_port), "  admin_token_file: " + dir.File("token") + "\n");
  WriteFile(dir.File("token"), kToken + "\n");
  ASSERT_TRUE(watcher.WaitReady()) << watcher.Log();
  auto c = watcher.Client();
  json targets;
  ASSERT_TRUE(WaitFor([&] {
    targets = GetJson(c, "/api/v1/targets");
    return targets.is_object() && !targets["data"].empty() && targets["data"][0]["up"] == true;
  })) << targets.dump()
      << watcher.Log();
  EXPECT_EQ(targets["data"][0]["kind"], "vigil");
  EXPECT_EQ(targets["data"][0]["instances"], json::array({"backend"}));
  EXPECT_GT(targets["data"][0]["samples"].get<int>(), 50);
  // A sidecar has no model and serves no /v1/*.
  EXPECT_EQ(c.Get("/v1/models")->status, 404);
  const json report = GetJson(c, "/health/report");
  ASSERT_EQ(report["instances"].size(), 1u) << report.dump();
  EXPECT_EQ(report["instances"][0]["name"], "backend");
  EXPECT_FALSE(report.contains("engine"));
  // The target's series, through ?instance= (the only instance is the default).
  json series;
  ASSERT_TRUE(WaitFor([&] {
    series = GetJson(c, "/api/v1/series?name=requests_running&instance=backend");
    return series.is_object() && !series["points"].empty();
  })) << series.dump();
  EXPECT_EQ(GetJson(c, "/api/v1/series?instance=nope")["error"]["type"], "NotFoundError");

  target.reset();  // SIGKILL: the server is gone
  ASSERT_TRUE(WaitFor([&] { return Firing(c, "TargetDown", "backend") == 1; })) << watcher.Log();
  const std::string metrics = c.Get("/metrics")->body;
  EXPECT_NE(metrics.find("vigil_target_up{target=\"backend\"} 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("vigil_target_scrape_errors_total{target=\"backend\",reason=\"connect\"}"), std::string::npos);
  EXPECT_EQ(GetJson(c, "/health/report")["status"], "critical");

  // Back on the same port: the alert resolves.
  DaemonProcess again(kTargetEngine, "", {}, {}, target_port);
  ASSERT_TRUE(again.WaitReady()) << again.Log();
  ASSERT_TRUE(WaitFor([&] { return Firing(c, "TargetDown", "backend") == 0; })) << watcher.Log();
  EXPECT_EQ(GetJson(c, "/api/v1/targets")["data"][0]["up"], true);
}

TEST(WatchE2ETest, AHungEngineBehindALiveServerFiresEngineStalled) {
  TempDir dir;
  WriteFile(dir.File("rules.yaml"), kWatchRules);
  WriteFile(dir.File("token"), kToken + "\n");
  // Every engine iteration sleeps 60 s: the request below hangs for the whole
  // test, wherever in the cycle it lands (the end kills the target).
  DaemonProcess target(std::string(kTargetEngine) + "  faults:\n    stall_step: 60s\n");
  ASSERT_TRUE(target.WaitReady()) << target.Log();
  DaemonProcess watcher(WatcherYaml(dir, target.port()),
                        "  admin_token_file: " + dir.File("token") + "\n  engine_stall_timeout: 1s\n");
  ASSERT_TRUE(watcher.WaitReady()) << watcher.Log();
  auto c = watcher.Client();
  ASSERT_TRUE(WaitFor([&] { return GetJson(c, "/api/v1/targets")["data"][0]["up"] == true; }));
  // One request: it hangs; /metrics keeps answering.
  std::thread req([port = target.port()] {
    httplib::Client t("127.0.0.1", port);
    t.set_read_timeout(90);
    t.Post("/v1/completions", R"({"model": "builtin:tiny-llama", "prompt": "hello", "max_tokens": 2})",
           "application/json");
  });
  const bool fired = WaitFor([&] { return Firing(c, "EngineStalled", "backend") == 1; }, 45000);
  EXPECT_TRUE(fired) << GetJson(c, "/api/v1/rules").dump() << watcher.Log();
  EXPECT_EQ(GetJson(c, "/api/v1/targets")["data"][0]["up"], true);  // the server itself answers
  target.Signal(SIGKILL);                                           // ends the hung request
  req.join();
}

TEST(WatchE2ETest, ACaptureThroughTheTargetsProfilerEndpointsIsSummarized) {
  TempDir dir;
  WriteFile(dir.File("token"), kToken + "\n");
  WriteFile(dir.File("rules.yaml"), R"(groups:
  - name: watch
    rules:
      - alert: ProfileMe
        expr: target_up > 0
        annotations: {summary: profile on purpose}
        actions: [capture]
)");
  DaemonProcess target(std::string(kTargetEngine) + "capture:\n  dir: " + dir.File("target-captures") +
                           "\n  max_duration: 5s\n  cooldown: {rule: 0s, global: 0s}\n",
                       "  admin_token_file: " + dir.File("token") + "\n");
  ASSERT_TRUE(target.WaitReady()) << target.Log();
  DaemonProcess watcher(WatcherYaml(dir, target.port(),
                                    "    bearer_token_file: " + dir.File("token") +
                                        "\n    profile: {enabled: true, dir: " + dir.File("target-captures") +
                                        ", duration: 500ms, stop_timeout: 30s}\n"),
                        "  admin_token_file: " + dir.File("token") + "\n");
  ASSERT_TRUE(watcher.WaitReady()) << watcher.Log();
  auto c = watcher.Client();
  json list;
  ASSERT_TRUE(WaitFor([&] {
    list = GetJson(c, "/api/v1/captures");
    return list.is_object() && !list["data"].empty() && list["data"][0]["status"] != "running";
  })) << list.dump()
      << watcher.Log();
  const json& cap = list["data"][0];
  EXPECT_EQ(cap["status"], "done") << cap.dump();
  EXPECT_EQ(cap["target"], "backend");
  EXPECT_EQ(cap["rule"], "ProfileMe");
  EXPECT_EQ(cap["reason"], "profile on purpose");
  EXPECT_EQ(cap["error"], "") << cap.dump();
  ASSERT_TRUE(cap.contains("summary")) << cap.dump();
  EXPECT_NEAR(cap["summary"]["categories_sum"].get<double>(), 1.0, 0.05);
  // The target recorded it as a profiler capture of its own.
  auto t = target.Client();
  const json theirs = GetJson(t, "/api/v1/captures");
  ASSERT_FALSE(theirs["data"].empty());
  EXPECT_EQ(theirs["data"][0]["trigger"], "profile");
  // Served by id on the watcher.
  EXPECT_EQ(GetJson(c, "/api/v1/captures/" + cap["id"].get<std::string>())["target"], "backend");
}

}  // namespace
}  // namespace vigil::testing
