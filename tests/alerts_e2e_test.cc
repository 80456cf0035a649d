// Alerting inside the real vigild: a rule that fires reaches a webhook
// (signed, in Alertmanager's format) and resolves; silences over the API and
// vigilctl; SIGKILL mid-delivery; an outbox on a full or unwritable disk; and
// a real Alertmanager (Debian's prometheus-alertmanager) receiving the alert.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <limits>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "alerts/dispatcher.h"
#include "alerts/outbox.h"
#include "daemon_harness.h"
#include "peers.h"
#include "test_receiver.h"

namespace vigil {
namespace {

using json = nlohmann::json;
using vigil::testing::AlertmanagerProcess;
using vigil::testing::DaemonProcess;
using vigil::testing::FreePort;
using vigil::testing::ReadFile;
using vigil::testing::TempDir;
using vigil::testing::TestReceiver;
using vigil::testing::WaitFor;
using vigil::testing::WriteFile;

const char* kToken = "0123456789abcdef0123";

std::string Rule(const std::string& name, const std::string& severity) {
  return "      - alert: " + name + "\n        expr: kv_blocks_total > 0\n        labels: {severity: " + severity +
         ", pathology: test}\n        annotations:\n          summary: " + name +
         " is firing\n          recommendation: nothing to do\n";
}
std::string Rules(const std::vector<std::string>& rules) {
  if (rules.empty()) return "groups:\n  - name: test\n    rules: []\n";
  std::string s = "groups:\n  - name: test\n    rules:\n";
  for (const auto& r : rules) s += r;
  return s;
}
std::string Engine(const std::string& rules_file, const std::string& alerts) {
  return "engine:\n  model: builtin:tiny-llama\n  num_blocks: 64\n  max_model_len: 512\nmonitor:\n  interval: 100ms\n"
         "rules:\n  files: [" +
         rules_file + "]\nalerts:\n" + alerts;
}

json Get(httplib::Client& c, const std::string& path, const std::string& token = "") {
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  auto r = c.Get(path.c_str(), h);
  return r ? json::parse(r->body, nullptr, false) : json();
}

json Reload(httplib::Client& c) {
  auto r = c.Post("/api/v1/rules/reload", {{"Authorization", std::string("Bearer ") + kToken}}, "", "application/json");
  return r ? json::parse(r->body, nullptr, false) : json();
}

std::vector<json> Bodies(TestReceiver& rx) {
  std::vector<json> out;
  for (const auto& r : rx.Requests()) out.push_back(json::parse(r.body));
  return out;
}

int Shell(const std::string& cmd, std::string* out) {
  const std::string file = "/tmp/vigil-alerts-e2e-" + std::to_string(getpid()) + ".out";
  const int rc = std::system((cmd + " > " + file + " 2>&1").c_str());
  *out = ReadFile(file);
  std::remove(file.c_str());
  return WEXITSTATUS(rc);
}

TEST(AlertsE2ETest, FiresToAWebhookResolvesAndHonoursSilences) {
  TestReceiver rx;
  TempDir dir;
  WriteFile(dir.File("token"), std::string(kToken) + "\n");
  WriteFile(dir.File("secret"), "hook-secret\n");
  WriteFile(dir.File("rules.yaml"), Rules({Rule("AlwaysCritical", "critical")}));
  DaemonProcess d(
      Engine(dir.File("rules.yaml"),
             "  group_wait: 0s\n  group_interval: 200ms\n  default_receiver: hook\n"
             "  receivers:\n    - {name: hook, type: webhook, url: \"" +
                 rx.Url() + "\", secret_file: " + dir.File("secret") + ", headers: {X-Team: sre}}\n"),
      "  admin_token_file: " + dir.File("token") + "\n  external_labels: {cluster: prod-us, severity: never}\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  ASSERT_TRUE(WaitFor([&] { return rx.AcceptedKeys().size() >= 1; })) << d.Log();
  auto req = rx.Requests()[0];
  const json first = json::parse(req.body);
  EXPECT_EQ(first["version"], "4");
  EXPECT_EQ(first["status"], "firing");
  EXPECT_EQ(first["receiver"], "hook");
  EXPECT_EQ(first["externalURL"], "http://127.0.0.1:" + std::to_string(d.port()));
  const json& a = first["alerts"][0];
  EXPECT_EQ(a["labels"]["alertname"], "AlwaysCritical");
  EXPECT_EQ(a["labels"]["severity"], "critical");  // the rule's own label wins over external_labels
  EXPECT_EQ(a["labels"]["cluster"], "prod-us");    // server.external_labels on every alert
  // ... and once on /metrics, as an info metric to join on.
  EXPECT_NE(c.Get("/metrics")->body.find("vigil_instance_info{cluster=\"prod-us\",severity=\"never\"} 1"),
            std::string::npos);
  EXPECT_EQ(a["annotations"]["summary"], "AlwaysCritical is firing");
  EXPECT_NE(a["annotations"]["evidence"].get<std::string>().find("kv_blocks_total"), std::string::npos);
  EXPECT_EQ(a["fingerprint"], alerts::Fingerprint(a["labels"].get<alerts::Labels>()));
  EXPECT_EQ(req.headers.find("X-Vigil-Signature")->second, "sha256=" + alerts::HmacSha256Hex("hook-secret", req.body));
  EXPECT_EQ(req.headers.find("X-Team")->second, "sre");
  EXPECT_FALSE(req.headers.find("Idempotency-Key")->second.empty());

  // Silences need the admin token; vigilctl drives the same API.
  EXPECT_EQ(c.Get("/api/v1/silences")->status, 401);
  auto ctl = [&](const std::string& args) {
    return std::string(VIGILCTL_PATH) + " silence " + args + " --url http://127.0.0.1:" + std::to_string(d.port()) +
           " --token-file " + dir.File("token");
  };
  std::string out;
  ASSERT_EQ(Shell(ctl("add alertname=AlwaysInfo --duration 1h --comment maintenance"), &out), 0) << out;
  const std::string silence_id = out.substr(0, out.find('\n'));
  EXPECT_EQ(silence_id.size(), 36u) << out;
  ASSERT_EQ(Shell(ctl("list"), &out), 0);
  EXPECT_NE(out.find(silence_id), std::string::npos);
  EXPECT_NE(out.find("alertname=AlwaysInfo"), std::string::npos) << out;
  EXPECT_NE(out.find("active"), std::string::npos) << out;
  auto bad = c.Post("/api/v1/silences", {{"Authorization", std::string("Bearer ") + kToken}},
                    R"({"matchers":[{"name":"a","value":"("," isRegex":true}]})", "application/json");
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("endsAt"), std::string::npos) << bad->body;

  // A new rule that the silence matches fires, is listed as silenced, sends nothing.
  WriteFile(dir.File("rules.yaml"), Rules({Rule("AlwaysCritical", "critical"), Rule("AlwaysInfo", "info")}));
  ASSERT_EQ(Reload(c)["status"], "success");
  json alerts;
  ASSERT_TRUE(WaitFor([&] {
    alerts = Get(c, "/api/v1/alerts");
    for (const auto& x : alerts["data"]["alerts"])
      if (x["labels"]["alertname"] == "AlwaysInfo" && x["state"] == "firing") return true;
    return false;
  })) << alerts.dump();
  for (const auto& x : alerts["data"]["alerts"]) {
    const bool info = x["labels"]["alertname"] == "AlwaysInfo";
    EXPECT_EQ(x["silenced"], info);
    if (info) { EXPECT_EQ(x["silencedBy"][0], silence_id); }
  }
  // The critical rule goes away: its resolve is sent; nothing about AlwaysInfo ever is.
  WriteFile(dir.File("rules.yaml"), Rules({Rule("AlwaysInfo", "info")}));
  ASSERT_EQ(Reload(c)["status"], "success");
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& b : Bodies(rx))
      if (b["status"] == "resolved") return true;
    return false;
  })) << d.Log();
  for (const auto& b : Bodies(rx)) {
    for (const auto& x : b["alerts"]) EXPECT_NE(x["labels"]["alertname"], "AlwaysInfo") << b.dump();
  }
  ASSERT_EQ(Shell(ctl("expire " + silence_id), &out), 0) << out;
  EXPECT_EQ(c.Delete("/api/v1/silences/no-such-silence", {{"Authorization", std::string("Bearer ") + kToken}})->status,
            404);
  EXPECT_EQ(c.Delete("/api/v1/silences/..%2F..%2Fetc", {{"Authorization", std::string("Bearer ") + kToken}})->status,
            404);
  EXPECT_EQ(c.Delete("/api/v1/silences/bad;id", {{"Authorization", std::string("Bearer ") + kToken}})->status, 400);
  // Once the silence is expired the still-firing AlwaysInfo goes out.
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& b : Bodies(rx))
      for (const auto& x : b["alerts"])
        if (x["labels"]["alertname"] == "AlwaysInfo") return true;
    return false;
  })) << d.Log();

  EXPECT_EQ(Get(c, "/api/v1/notifications?state=dead")["data"].size(), 0u);
  EXPECT_EQ(c.Get("/api/v1/notifications?state=bogus")->status, 400);
  // The receiver records a request before it answers, so the daemon may not
  // have seen the last 2xx yet: wait for the outbox to empty.
  std::string metrics;
  EXPECT_TRUE(WaitFor([&] {
    metrics = c.Get("/metrics")->body;
    return metrics.find("vigil_outbox_pending{receiver=\"hook\"} 0") != std::string::npos;
  })) << metrics;
  EXPECT_NE(metrics.find("vigil_notifications_total{receiver=\"hook\",result=\"success\"}"), std::string::npos);
  EXPECT_NE(metrics.find("vigil_notification_delivery_seconds_bucket{receiver=\"hook\""), std::string::npos);
  EXPECT_NE(metrics.find("vigil_notifications_dead_total{receiver=\"hook\"} 0"), std::string::npos);
  EXPECT_NE(metrics.find("vigil_outbox_writable 1"), std::string::npos);
}

// Inhibition: the root cause pages; what it explains is listed with
// inhibitedBy, named as a symptom in the report, and sends nothing and takes
// no capture until the inhibition goes.
TEST(AlertsE2ETest, InhibitedAlertsAreListedAndSendNothing) {
  TestReceiver rx;
  TempDir dir;
  WriteFile(dir.File("token"), std::string(kToken) + "\n");
  const std::string symptom =
      "      - alert: Symptom\n        expr: kv_blocks_total > 0\n        labels: {severity: critical, pathology: "
      "symptom}\n"
      "        annotations: {summary: Symptom is firing}\n        actions: [alert, capture]\n";
  const std::string inhibit =
      "inhibit_rules:\n  - source_matchers: ['alertname=\"Root\"']\n"
      "    target_matchers: ['alertname=\"Symptom\"']\n    equal: [target]\n";
  WriteFile(dir.File("rules.yaml"), Rules({Rule("Root", "warning"), symptom, Rule("Other", "info")}) + inhibit);
  DaemonProcess d(
      Engine(
          dir.File("rules.yaml"),
          "  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 200ms\n  default_receiver: hook\n"
          "  receivers:\n    - {name: hook, type: webhook, url: \"" +
              rx.Url() +
              "\"}\n"
              "  inhibit_rules:\n    - {source_match: {alertname: Root}, target_match_re: {alertname: \"Oth.*\"}}\n"),
      "  admin_token_file: " + dir.File("token") + "\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  auto sent = [&](const std::string& name) {
    for (const auto& b : Bodies(rx))
      for (const auto& x : b["alerts"])
        if (x["labels"]["alertname"] == name) return true;
    return false;
  };
  ASSERT_TRUE(WaitFor([&] { return sent("Root"); })) << d.Log();
  json alerts = Get(c, "/api/v1/alerts");
  std::map<std::string, json> by_name;
  for (const auto& x : alerts["data"]["alerts"]) by_name[x["labels"]["alertname"]] = x;
  ASSERT_EQ(by_name.size(), 3u) << alerts.dump();
  EXPECT_EQ(by_name["Root"]["inhibited"], false);
  EXPECT_EQ(by_name["Symptom"]["state"], "firing");
  EXPECT_EQ(by_name["Symptom"]["inhibited"], true);
  EXPECT_EQ(by_name["Symptom"]["inhibitedBy"], json::array({"Root"})) << "from the rule file";
  EXPECT_EQ(by_name["Other"]["inhibitedBy"], json::array({"Root"})) << "from alerts.inhibit_rules";
  // The report names the root cause, though a symptom is more severe.
  const json report = Get(c, "/health/report");
  EXPECT_EQ(report["primary"]["alert"], "Root") << report.dump();
  ASSERT_EQ(report["symptoms"].size(), 2u) << report.dump();
  EXPECT_EQ(report["symptoms"][0]["inhibitedBy"], json::array({"Root"}));
  EXPECT_FALSE(sent("Symptom"));
  EXPECT_FALSE(sent("Other"));
  // Its capture was dropped, not merely not yet written.
  EXPECT_TRUE(WaitFor([&] {
    return d.Log().find("capture for Symptom skipped: inhibited by Root") != std::string::npos;
  })) << d.Log();
  const json caps = Get(c, "/api/v1/captures", kToken);
  for (const auto& cap : caps["data"]) EXPECT_NE(cap["rule"], "Symptom") << caps.dump();

  // The file's inhibition goes: the symptom, still firing, is sent.
  WriteFile(dir.File("rules.yaml"), Rules({Rule("Root", "warning"), symptom, Rule("Other", "info")}));
  ASSERT_EQ(Reload(c)["status"], "success");
  ASSERT_TRUE(WaitFor([&] { return sent("Symptom"); })) << d.Log();
  alerts = Get(c, "/api/v1/alerts");
  for (const auto& x : alerts["data"]["alerts"])
    EXPECT_EQ(x["inhibited"], x["labels"]["alertname"] == "Other") << x.dump();
  EXPECT_EQ(Get(c, "/health/report")["primary"]["alert"], "Symptom") << "the most severe uninhibited root cause";
  EXPECT_FALSE(sent("Other"));
}

TEST(AlertsE2ETest, ADaemonKilledMidDeliveryDeliversAfterRestart) {
  TestReceiver rx;
  rx.Down();
  TempDir dir, state;
  WriteFile(dir.File("rules.yaml"), Rules({Rule("A1", "critical"), Rule("A2", "warning"), Rule("A3", "info")}));
  const std::string alerts =
      "  group_wait: 0s\n  retry_base: 50ms\n  retry_cap: 200ms\n  default_receiver: hook\n"
      "  receivers:\n    - {name: hook, type: webhook, url: \"" +
      rx.Url() + "\", timeout: 500ms}\n";
  std::set<std::string> keys;
  {
    DaemonProcess d(Engine(dir.File("rules.yaml"), alerts), "", {}, {"--state-dir", state.path()});
    ASSERT_TRUE(d.WaitReady()) << d.Log();
    auto c = d.Client();
    ASSERT_TRUE(WaitFor([&] { return Get(c, "/api/v1/notifications?state=pending")["data"].size() >= 3; })) << d.Log();
    // Named: a range-for over a temporary's member would read freed memory.
    const json pending = Get(c, "/api/v1/notifications?state=pending");
    for (const auto& n : pending["data"]) keys.insert(n["idempotencyKey"]);
    // The listing is the Deliverer's memory, which has a notification a
    // moment before its row is committed: kill only once every listed one is
    // in the outbox on disk (read through a second SQLite connection).
    ASSERT_TRUE(WaitFor([&] {
      std::unique_ptr<alerts::Outbox> o;
      std::vector<alerts::Notification> rows;
      if (!alerts::Outbox::Open(state.File("alerts.db"), {}, &o).ok() ||
          !o->Due(std::numeric_limits<double>::max(), 1000, &rows).ok())
        return false;
      std::set<std::string> on_disk;
      for (const auto& r : rows) on_disk.insert(r.idempotency_key);
      for (const auto& k : keys)
        if (!on_disk.count(k)) return false;
      return true;
    })) << d.Log();
    d.Signal(SIGKILL);
    d.WaitExit();
  }
  rx.Up();
  DaemonProcess d(Engine(dir.File("rules.yaml"), alerts), "", {}, {"--state-dir", state.path()});
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  ASSERT_TRUE(WaitFor([&] {
    auto got = rx.AcceptedKeys();
    for (const auto& k : keys)
      if (!got.count(k)) return false;
    return true;
  })) << d.Log();
  EXPECT_NE(d.Log().find("pending notification(s) from before the restart"), std::string::npos);
}

TEST(AlertsE2ETest, AFullOrUnwritableDiskLosesNothing) {
  TestReceiver rx;
  TempDir dir;
  WriteFile(dir.File("rules.yaml"), Rules({Rule("B1", "critical")}));
  const std::string alerts =
      "  group_wait: 0s\n  group_interval: 100ms\n  default_receiver: hook\n"
      "  receivers:\n    - {name: hook, type: webhook, url: \"" +
      rx.Url() + "\"}\n";
  {
    // The state directory cannot be created at all (as root too).
    DaemonProcess d(Engine(dir.File("rules.yaml"), alerts), "", {}, {"--state-dir", "/proc/vigil-no-such-dir"});
    ASSERT_TRUE(d.WaitReady()) << d.Log();
    auto c = d.Client();
    ASSERT_TRUE(rx.WaitAccepted(1, std::chrono::seconds(15))) << d.Log();
    const json rep = Get(c, "/health/report");
    EXPECT_NE(rep["alerting"]["fault"].get<std::string>(), "") << rep.dump();
    EXPECT_EQ(rep["status"], "critical");  // the critical rule fires; the fault is listed besides
    EXPECT_NE(c.Get("/metrics")->body.find("vigil_outbox_writable 0"), std::string::npos);
  }
  // A disk that fills up mid-run: writes beyond the current size fail.
  TestReceiver rx2;
  rx2.Down();
  WriteFile(dir.File("rules.yaml"), Rules({}));
  TempDir state;
  const std::string alerts2 =
      "  group_wait: 0s\n  retry_base: 50ms\n  retry_cap: 100ms\n  default_receiver: hook\n"
      "  receivers:\n    - {name: hook, type: webhook, url: \"" +
      rx2.Url() + "\", timeout: 300ms}\n";
  DaemonProcess d(Engine(dir.File("rules.yaml"), alerts2), "  admin_token_file: " + dir.File("token") + "\n", {},
                  {"--state-dir", state.path()});
  WriteFile(dir.File("token"), std::string(kToken) + "\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  auto c = d.Client();
  rlimit full{0, RLIM_INFINITY};
  ASSERT_EQ(prlimit(d.pid(), RLIMIT_FSIZE, &full, nullptr), 0);
  WriteFile(dir.File("rules.yaml"), Rules({Rule("C1", "critical"), Rule("C2", "warning")}));
  ASSERT_EQ(Reload(c)["status"], "success");
  ASSERT_TRUE(WaitFor([&] { return Get(c, "/health/report")["alerting"]["fault"] != ""; })) << d.Log();
  EXPECT_EQ(c.Get("/health")->status, 200);  // serving goes on
  rx2.Up();
  ASSERT_TRUE(rx2.WaitAccepted(2, std::chrono::seconds(15)));
  rlimit back{RLIM_INFINITY, RLIM_INFINITY};
  ASSERT_EQ(prlimit(d.pid(), RLIMIT_FSIZE, &back, nullptr), 0);
  ASSERT_TRUE(WaitFor([&] { return Get(c, "/health/report")["alerting"]["fault"] == ""; })) << d.Log();
  const json rep = Get(c, "/health/report");
  EXPECT_EQ(rep["alerting"]["receivers"]["hook"]["dead"], 0);
  EXPECT_EQ(rep["alerting"]["receivers"]["hook"]["pending"], 0);
}

TEST(AlertsE2ETest, ARealAlertmanagerReceivesAndResolves) {
  if (access("/usr/bin/prometheus-alertmanager", X_OK) != 0)
    GTEST_FAIL() << "prometheus-alertmanager is not installed (scripts/deps.sh --test installs it)";
  AlertmanagerProcess am;
  ASSERT_TRUE(am.WaitReady()) << am.Log();
  TempDir dir;
  WriteFile(dir.File("token"), std::string(kToken) + "\n");
  WriteFile(dir.File("rules.yaml"), Rules({Rule("KVCacheThrashingTest", "critical")}));
  DaemonProcess d(Engine(dir.File("rules.yaml"),
                         "  default_receiver: am\n  resend_delay: 1s\n"
                         "  receivers:\n    - {name: am, type: alertmanager, urls: [\"" +
                             am.Url() + "\"]}\n"),
                  "  admin_token_file: " + dir.File("token") + "\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  json alerts;
  ASSERT_TRUE(WaitFor([&] {
    alerts = am.Alerts();
    return alerts.is_array() && alerts.size() == 1;
  })) << alerts.dump()
      << "\n"
      << d.Log() << "\n"
      << am.Log();
  EXPECT_EQ(alerts[0]["labels"]["alertname"], "KVCacheThrashingTest");
  EXPECT_EQ(alerts[0]["labels"]["severity"], "critical");
  EXPECT_EQ(alerts[0]["labels"]["pathology"], "test");
  EXPECT_EQ(alerts[0]["annotations"]["summary"], "KVCacheThrashingTest is firing");
  EXPECT_EQ(alerts[0]["status"]["state"], "active");
  EXPECT_EQ(alerts[0]["generatorURL"], "http://127.0.0.1:" + std::to_string(d.port()) + "/api/v1/rules");
  // The rule goes away: Alertmanager sees the alert resolved.
  WriteFile(dir.File("rules.yaml"), Rules({}));
  auto c = d.Client();
  ASSERT_EQ(Reload(c)["status"], "success");
  ASSERT_TRUE(WaitFor([&] {
    alerts = am.Alerts();
    return alerts.is_array() && alerts.empty();
  })) << alerts.dump()
      << "\n"
      << d.Log();
}

}  // namespace
}  // namespace vigil
