// A fleet with the real systems: three vigilds on loopback (built-in engine),
// two Debian Alertmanagers in a cluster with the shipped config
// (etc/prometheus/alertmanager.yml), a test webhook behind them. A leak
// fault on one node pages once, labelled with the node, on each path:
//  - Prometheus scrapes the vigilds (file-based service discovery) and
//    evaluates the exported rules, sending to both replicas;
//  - each vigild sends its own alerts to both replicas.
// With one Alertmanager stopped, the next alert still arrives once.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <nlohmann/json.hpp>

#include "daemon_harness.h"
#include "peers.h"
#include "test_receiver.h"

namespace vigil {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using vigil::testing::AlertmanagerProcess;
using vigil::testing::DaemonProcess;
using vigil::testing::PrometheusProcess;
using vigil::testing::TempDir;
using vigil::testing::TestReceiver;
using vigil::testing::WaitFor;
using vigil::testing::WriteFile;

const std::string kEtc = VIGIL_SOURCE_ETC_DIR;

bool Installed() {
  return access("/usr/bin/prometheus", X_OK) == 0 && access("/usr/bin/prometheus-alertmanager", X_OK) == 0;
}

// The shipped Alertmanager config with the test's receivers and shorter
// waits. Groups are per alert and node here (the shipped config groups a
// cluster's nodes by pathology), so "one notification per alert" is exact.
std::string AlertmanagerConfig(const TestReceiver& hook) {
  YAML::Node c = YAML::LoadFile(kEtc + "/prometheus/alertmanager.yml");
  c["route"]["group_by"] = std::vector<std::string>{"alertname", "node"};
  c["route"]["group_wait"] = "1s";
  c["route"]["group_interval"] = "1s";
  c["route"]["repeat_interval"] = "1h";
  for (YAML::Node r : c["receivers"]) r["webhook_configs"][0]["url"] = hook.Url("/" + r["name"].as<std::string>());
  YAML::Emitter out;
  out << c;
  return out.c_str();
}

// Two replicas that know each other, settled into one cluster.
struct AlertmanagerCluster {
  explicit AlertmanagerCluster(const TestReceiver& hook) {
    const int pa = FreeLoopbackPort(), pb = FreeLoopbackPort();
    AlertmanagerProcess::Options o;
    o.config = AlertmanagerConfig(hook);
    o.cluster = true;
    o.peer_timeout = "3s";
    o.peer_ports = {pb};
    a = std::make_unique<AlertmanagerProcess>(o, pa);
    o.peer_ports = {pa};
    b = std::make_unique<AlertmanagerProcess>(o, pb);
  }
  bool WaitClustered() { return a->WaitClustered(2) && b->WaitClustered(2); }
  std::string Logs() const { return "--- am a:\n" + a->Log() + "\n--- am b:\n" + b->Log(); }
  std::unique_ptr<AlertmanagerProcess> a, b;
};

// The webhook's notifications (Alertmanager's webhook JSON) that carry a
// firing `alertname` for `node`.
int Notified(TestReceiver& hook, const std::string& alertname, const std::string& node) {
  int n = 0;
  for (const auto& r : hook.Requests()) {
    const json j = json::parse(r.body, nullptr, false);
    if (!j.is_object()) continue;
    bool hit = false;
    for (const json& a : j.value("alerts", json::array()))
      hit |= a["status"] == "firing" && a["labels"].value("alertname", "") == alertname &&
             a["labels"].value("node", "") == node;
    n += hit;
  }
  return n;
}

// Each running replica has consulted the shared notification log `times`
// more times since `before`: its pipeline ran for the groups since, so a
// duplicate it would send has been sent.
bool ReplicasCaughtUp(const std::vector<AlertmanagerProcess*>& ams, const std::vector<double>& before, int times) {
  return WaitFor(
      [&] {
        for (size_t i = 0; i < ams.size(); ++i)
          if (ams[i]->NflogQueries() < before[i] + times) return false;
        return true;
      },
      60000);
}

std::vector<double> NflogQueries(const std::vector<AlertmanagerProcess*>& ams) {
  std::vector<double> out;
  for (auto* a : ams) out.push_back(a->NflogQueries());
  return out;
}

// A streaming client that hangs up: with leak_blocks_on_abort its aborted
// request keeps its KV blocks (kv_blocks_orphaned > 0).
void InduceLeak(const DaemonProcess& d) {
  auto c = d.Client();
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
}

std::string Node(int i) { return "gpu-" + std::to_string(i + 1); }

// Three vigilds with the leak fault armed (nothing leaks until a client
// hangs up), each labelled as its node.
std::vector<std::unique_ptr<DaemonProcess>> Fleet(const std::string& rules, const std::string& alerting) {
  std::vector<std::unique_ptr<DaemonProcess>> fleet;
  for (int i = 0; i < 3; ++i)
    fleet.push_back(std::make_unique<DaemonProcess>(
        "engine:\n  model: builtin:tiny-llama\n  max_model_len: 1024\n  num_blocks: 256\n"
        "  faults:\n    leak_blocks_on_abort: 1.0\nmonitor:\n  interval: 200ms\nrules:\n  files: [" +
            rules + "]\n" + alerting,
        "  external_labels: {cluster: test, node: " + Node(i) + "}\n"));
  return fleet;
}

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

TEST(FleetE2ETest, PrometheusEvaluatesTheExportedRulesAndTheClusterPagesOnce) {
  if (!Installed()) GTEST_FAIL() << "prometheus and prometheus-alertmanager are needed (scripts/deps.sh --test)";
  TestReceiver hook;
  AlertmanagerCluster am(hook);
  auto fleet = Fleet(kEtc + "/rules/pathologies.yaml, " + kEtc + "/rules/classic.yaml", "");
  for (auto& d : fleet) ASSERT_TRUE(d->WaitReady()) << d->Log();

  // The default pack, exported with every `for` at a tenth (as the scenarios run).
  TempDir dir;
  const std::string cmd = std::string(VIGILCTL_PATH) + " rules export --format prometheus --for-scale 0.1 -o " +
                          dir.File("vigil.rules.yml") + " " + kEtc + "/rules/pathologies.yaml " + kEtc +
                          "/rules/classic.yaml";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::string targets = "[";
  for (int i = 0; i < 3; ++i)
    targets += std::string(i ? "," : "") + "{\"targets\": [\"127.0.0.1:" + std::to_string(fleet[i]->port()) +
               "\"], \"labels\": {\"cluster\": \"test\", \"node\": \"" + Node(i) + "\"}}";
  WriteFile(dir.File("targets.json"), targets + "]");
  PrometheusProcess prom("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['" +
                         dir.File("vigil.rules.yml") +
                         "']\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:" +
                         std::to_string(am.a->port()) + "', '127.0.0.1:" + std::to_string(am.b->port()) +
                         "']\nscrape_configs:\n  - job_name: vigil\n    file_sd_configs:\n      - files: ['" +
                         dir.File("targets.json") + "']\n");
  ASSERT_TRUE(prom.WaitReady()) << prom.Log();
  ASSERT_TRUE(am.WaitClustered()) << am.Logs();
  ASSERT_TRUE(WaitFor([&] { return prom.Query("up{job=\"vigil\",cluster=\"test\"} == 1").size() == 3; }, 60000))
      << prom.Log();

  // The fault on gpu-2: Prometheus' rule fires for that node only.
  const auto t0 = Clock::now();
  InduceLeak(*fleet[1]);
  ASSERT_TRUE(WaitFor([&] { return Notified(hook, "OrphanedKVBlocks", "gpu-2") >= 1; }, 90000))
      << prom.Alerts().dump() << "\n"
      << am.Logs();
  const double latency = Seconds(t0, Clock::now());
  json firing = json::array();
  for (const json& a : prom.Alerts())
    if (a["labels"]["alertname"] == "OrphanedKVBlocks") firing.push_back(a);
  ASSERT_EQ(firing.size(), 1u) << firing.dump();
  EXPECT_EQ(firing[0]["labels"]["node"], "gpu-2");
  EXPECT_EQ(firing[0]["labels"]["cluster"], "test");
  EXPECT_EQ(firing[0]["labels"]["instance"], "127.0.0.1:" + std::to_string(fleet[1]->port()));
  EXPECT_EQ(firing[0]["labels"]["severity"], "critical");
  // Both replicas got the alert from Prometheus; one notification went out.
  EXPECT_TRUE(WaitFor([&] { return am.a->Alerts().size() >= 1 && am.b->Alerts().size() >= 1; }));
  std::vector<AlertmanagerProcess*> both = {am.a.get(), am.b.get()};
  ASSERT_TRUE(ReplicasCaughtUp(both, NflogQueries(both), 2)) << am.Logs();
  EXPECT_EQ(Notified(hook, "OrphanedKVBlocks", "gpu-2"), 1) << am.Logs();
  EXPECT_EQ(Notified(hook, "OrphanedKVBlocks", "gpu-1") + Notified(hook, "OrphanedKVBlocks", "gpu-3"), 0);
  std::printf("FIGURE fault->webhook through Prometheus (exported rules, for x0.1): %.1f s\n", latency);

  // One replica down: the next alert (gpu-3) still arrives, once.
  am.a->Stop();
  const auto t1 = Clock::now();
  InduceLeak(*fleet[2]);
  ASSERT_TRUE(WaitFor([&] { return Notified(hook, "OrphanedKVBlocks", "gpu-3") >= 1; }, 90000)) << am.b->Log();
  std::printf("FIGURE fault->webhook through Prometheus, one Alertmanager down: %.1f s\n", Seconds(t1, Clock::now()));
  std::vector<AlertmanagerProcess*> left = {am.b.get()};
  ASSERT_TRUE(ReplicasCaughtUp(left, NflogQueries(left), 2)) << am.b->Log();
  EXPECT_EQ(Notified(hook, "OrphanedKVBlocks", "gpu-3"), 1);
  EXPECT_EQ(Notified(hook, "OrphanedKVBlocks", "gpu-2"), 1);
  EXPECT_EQ(Notified(hook, "OrphanedKVBlocks", "gpu-1"), 0);
}

TEST(FleetE2ETest, EachVigildPagesThroughBothReplicasAndTheClusterPagesOnce) {
  if (!Installed()) GTEST_FAIL() << "prometheus and prometheus-alertmanager are needed (scripts/deps.sh --test)";
  TestReceiver hook;
  AlertmanagerCluster am(hook);
  // The pack's OrphanedKVBlocks with its `for` at a tenth, as the first test.
  TempDir dir;
  WriteFile(dir.File("leak.yaml"), R"yaml(groups:
  - name: memory
    rules:
      - alert: OrphanedKVBlocks
        expr: kv_blocks_orphaned > 0
        for: 6s
        labels: {severity: critical, pathology: memory_leak}
        annotations:
          summary: KV blocks are held by no live request
)yaml");
  auto fleet = Fleet(dir.File("leak.yaml"),
                     "alerts:\n  default_receiver: am\n  receivers:\n    - {name: am, type: alertmanager, urls: [\"" +
                         am.a->Url() + "\", \"" + am.b->Url() + "\"]}\n");
  for (auto& d : fleet) ASSERT_TRUE(d->WaitReady()) << d->Log();
  ASSERT_TRUE(am.WaitClustered()) << am.Logs();

  const auto t0 = Clock::now();
  InduceLeak(*fleet[1]);
  ASSERT_TRUE(WaitFor([&] { return Notified(hook, "OrphanedKVBlocks", "gpu-2") >= 1; }, 90000))
      << fleet[1]->Log() << "\n"
      << am.Logs();
  const double latency = Seconds(t0, Clock::now());
  // vigild posted to both replicas; the cluster sent one notification.
  EXPECT_TRUE(WaitFor([&] { return am.a->Alerts().size() == 1 && am.b->Alerts().size() == 1; })) << am.Logs();
  std::vector<AlertmanagerProcess*> both = {am.a.get(), am.b.get()};
  ASSERT_TRUE(ReplicasCaughtUp(both, NflogQueries(both), 2)) << am.Logs();
  EXPECT_EQ(Notified(hook, "OrphanedKVBlocks", "gpu-2"), 1) << am.Logs();
  const json alert = am.b->Alerts()[0];
  EXPECT_EQ(alert["labels"]["node"], "gpu-2");
  EXPECT_EQ(alert["labels"]["cluster"], "test");
  std::printf("FIGURE fault->webhook from vigild itself (for 6s): %.1f s\n", latency);

  // One replica down: gpu-3's alert arrives once, and no vigild has
  // anything undelivered or dead.
  am.a->Stop();
  const auto t1 = Clock::now();
  InduceLeak(*fleet[2]);
  ASSERT_TRUE(WaitFor([&] { return Notified(hook, "OrphanedKVBlocks", "gpu-3") >= 1; }, 90000))
      << fleet[2]->Log() << "\n"
      << am.b->Log();
  std::printf("FIGURE fault->webhook from vigild, one Alertmanager down: %.1f s\n", Seconds(t1, Clock::now()));
  std::vector<AlertmanagerProcess*> left = {am.b.get()};
  ASSERT_TRUE(ReplicasCaughtUp(left, NflogQueries(left), 2)) << am.b->Log();
  EXPECT_EQ(Notified(hook, "OrphanedKVBlocks", "gpu-3"), 1);
  EXPECT_EQ(Notified(hook, "OrphanedKVBlocks", "gpu-2"), 1);
  for (auto& d : fleet) {
    auto c = d->Client();
    ASSERT_TRUE(WaitFor([&] {
      auto r = c.Get("/health/report");
      if (!r) return false;
      const json rx = json::parse(r->body)["alerting"]["receivers"]["am"];
      return rx["pending"] == 0 && rx["dead"] == 0;
    })) << d->Log();
  }
}

// The hung engine behind a live HTTP server, paged from Prometheus: one
// vigild whose first engine step hangs 40 s. Prometheus evaluates
// EngineStalled twice: as exported for vigild (its stall clock,
// vigil_engine_stalled_seconds) and as exported for a vLLM fleet
// (`--engine vllm`: vllm:num_requests_running > 0 while
// vllm:generation_tokens_total and the iteration count stay flat), which
// vigild's vLLM names let run against the same hung engine.
TEST(FleetE2ETest, AHungEngineFiresTheExportedEngineStalled) {
  if (!Installed()) GTEST_FAIL() << "prometheus and prometheus-alertmanager are needed (scripts/deps.sh --test)";
  TempDir dir;
  DaemonProcess node(
      "engine:\n  model: builtin:tiny-llama\n  max_model_len: 512\n  num_blocks: 64\n"
      "  faults:\n    stall_step: 40s\nmonitor:\n  interval: 200ms\n",
      "  engine_stall_timeout: 2s\n");
  ASSERT_TRUE(node.WaitReady()) << node.Log();
  const std::string vigil_cmd = std::string(VIGILCTL_PATH) + " rules export --format prometheus -o " +
                                dir.File("vigil.rules.yml") + " " + kEtc + "/rules/pathologies.yaml";
  const std::string vllm_cmd = std::string(VIGILCTL_PATH) +
                               " rules export --format prometheus --engine vllm --stall-window 4s -o " +
                               dir.File("vllm.rules.yml") + " " + kEtc + "/rules/pathologies.yaml";
  ASSERT_EQ(std::system(vigil_cmd.c_str()), 0) << vigil_cmd;
  ASSERT_EQ(std::system(vllm_cmd.c_str()), 0) << vllm_cmd;
  // The vLLM export's rules renamed, so the two EngineStalled are told apart.
  std::string vllm_rules = vigil::testing::ReadFile(dir.File("vllm.rules.yml"));
  for (size_t at = 0; (at = vllm_rules.find("alert: \"", at)) != std::string::npos; at += 13)
    vllm_rules.replace(at, 8, "alert: \"vllm_");
  WriteFile(dir.File("vllm.rules.yml"), vllm_rules);
  PrometheusProcess prom(
      "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['" + dir.File("vigil.rules.yml") +
      "', '" + dir.File("vllm.rules.yml") +
      "']\nscrape_configs:\n  - job_name: vigil\n    static_configs:\n      - targets: ['127.0.0.1:" +
      std::to_string(node.port()) + "']\n");
  ASSERT_TRUE(prom.WaitReady()) << prom.Log();
  ASSERT_TRUE(WaitFor([&] { return prom.Query("up{job=\"vigil\"} == 1").size() == 1; }, 60000)) << prom.Log();
  // Idle: no request in flight, so no stall, whatever the step counter does.
  ASSERT_TRUE(WaitFor([&] { return prom.Query("vigil_engine_stalled_seconds").size() == 1; }, 30000)) << prom.Log();
  auto firing = [&](const std::string& name) {
    for (const json& a : prom.Alerts())
      if (a["labels"].value("alertname", "") == name && a.value("state", "") == "firing") return true;
    return false;
  };
  EXPECT_FALSE(firing("EngineStalled"));
  EXPECT_FALSE(firing("vllm_EngineStalled"));

  std::thread req([port = node.port()] {
    httplib::Client t("127.0.0.1", port);
    t.set_read_timeout(45);
    t.Post("/v1/completions", R"({"prompt": "hello", "max_tokens": 2})", "application/json");
  });
  const auto t0 = Clock::now();
  const bool vigil = WaitFor([&] { return firing("EngineStalled"); }, 30000, 100);
  const double latency = Seconds(t0, Clock::now());
  const bool vllm = WaitFor([&] { return firing("vllm_EngineStalled"); }, 30000, 100);
  const double vllm_latency = Seconds(t0, Clock::now());
  EXPECT_TRUE(vigil && vllm) << prom.Alerts().dump() << "\n" << prom.Query("vigil_engine_stalled_seconds").dump();
  for (const json& a : prom.Alerts()) {
    if (a["labels"].value("alertname", "").find("EngineStalled") != std::string::npos) {
      EXPECT_EQ(a["labels"]["instance"], "127.0.0.1:" + std::to_string(node.port())) << a.dump();
    }
  }
  std::printf(
      "FIGURE hung engine -> EngineStalled firing in Prometheus: vigild's export (timeout 2s) %.1f s, "
      "--engine vllm (window 4s) %.1f s\n",
      latency, vllm_latency);
  node.Signal(SIGKILL);  // ends the hung request
  req.join();
}

}  // namespace
}  // namespace vigil
