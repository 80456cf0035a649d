// The KV-thrashing picture watched over HTTP on every engine family that can
// show it: a watch-only vigild with the shipped rule pack (every `for:` at a
// tenth, as the scenarios run it) scrapes replays of vLLM V1, vLLM's V0
// names, SGLang with its retraction counter, and SGLang with only its
// retraction gauge (etc/scenarios/replays/). KVCacheThrashing fires on each
// and is the diagnosis; KVCacheNearFull, the only rule that used to fire, is
// its inhibited symptom; no report lists KVCacheThrashing as undiagnosable.
// The V0 replay holds a histogram without +Inf: dropped, counted, shown.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <regex>

#include "daemon_harness.h"
#include "replay_server.h"

namespace vigil::testing {
namespace {

using json = nlohmann::json;

const std::string kEtc = VIGIL_SOURCE_ETC_DIR;
const std::vector<std::string> kReplays = {"kv_thrashing_vllm_v1", "kv_thrashing_vllm_v0", "kv_thrashing_sglang",
                                           "kv_thrashing_sglang_gauge"};

json GetJson(httplib::Client& c, const std::string& path) {
  auto r = c.Get(path);
  if (!r) return json();
  json j = json::parse(r->body, nullptr, false);
  return j.is_discarded() ? json() : j;
}

// Every `for:`/`keep_firing_for:` of a rule file at a tenth (30s -> 3s, 1m -> 6s).
std::string ScaledRules(const std::string& path) {
  std::string text = ReadFile(path), out;
  const std::regex dur(R"((for|keep_firing_for): (\d+)(s|m)\b)");
  auto it = std::sregex_iterator(text.begin(), text.end(), dur);
  size_t last = 0;
  for (; it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    const double s = std::stod(m[2]) * (m[3] == "m" ? 60 : 1);
    out += text.substr(last, m.position(0) - last) + m[1].str() + ": " + std::to_string(s / 10) + "s";
    last = m.position(0) + m.length(0);
  }
  return out + text.substr(last);
}

// The alerts named `name` per target, with their state and inhibition.
std::map<std::string, json> AlertsByTarget(httplib::Client& c, const std::string& name) {
  std::map<std::string, json> out;
  const json j = GetJson(c, "/api/v1/alerts");
  if (!j.is_object()) return out;
  for (const auto& a : j["data"]["alerts"])
    if (a["labels"].value("alertname", "") == name) out[a["labels"].value("target", "")] = a;
  return out;
}

// A watch-only vigild with the shipped pack (every `for` at a tenth)
// watching `names`, each served from its replay file.
struct Watch {
  explicit Watch(const std::vector<std::string>& names) {
    for (const std::string& r : names) replays[r] = LoadReplay(kEtc + "/scenarios/replays/" + r + ".yaml");
    server = std::make_unique<ReplayServer>(replays);
    for (const char* f : {"pathologies", "classic", "inhibit", "watch"})
      WriteFile(dir.File(std::string(f) + ".yaml"), ScaledRules(kEtc + "/rules/" + f + ".yaml"));
    std::string targets = "targets:\n";
    for (const std::string& r : names)
      targets += "  - name: " + r + "\n    url: http://127.0.0.1:" + std::to_string(server->port()) + "/" + r + "\n";
    watcher = std::make_unique<DaemonProcess>(
        "engine:\n  model: none\nmonitor:\n  interval: 250ms\n  window: 3s\n"
        "rules:\n  files: [" +
        dir.File("*.yaml") + "]\n" + targets);
  }
  TempDir dir;
  std::map<std::string, Replay> replays;
  std::unique_ptr<ReplayServer> server;
  std::unique_ptr<DaemonProcess> watcher;
};

// Each replay's expected rule fires on its target, is that instance's
// primary diagnosis, and is not listed as undiagnosable there.
void ExpectEachFires(httplib::Client& c, const std::vector<std::string>& names, int timeout_ms,
                     const DaemonProcess& w) {
  std::map<std::string, std::string> want;
  for (const std::string& r : names)
    want[r] = YAML::LoadFile(kEtc + "/scenarios/replays/" + r + ".yaml")["expect"]["fires"][0].as<std::string>();
  std::map<std::string, std::string> got;
  const bool fired = WaitFor(
      [&] {
        for (const auto& [target, alert] : want) {
          const auto a = AlertsByTarget(c, alert);
          got[target] = a.count(target) ? a.at(target).value("state", "") : "";
          if (got[target] != "firing") return false;
        }
        return true;
      },
      timeout_ms, 100);
  ASSERT_TRUE(fired) << json(got).dump() << GetJson(c, "/api/v1/targets").dump() << w.Log();
  const json report = GetJson(c, "/health/report");
  ASSERT_TRUE(report["instances"].is_array()) << report.dump();
  for (const auto& inst : report["instances"]) {
    const std::string alert = want.at(inst.value("target", ""));
    for (const auto& cd : inst["cannot_diagnose"]) EXPECT_NE(cd["rule"], alert) << inst.dump();
    ASSERT_TRUE(inst["primary"].is_object()) << inst.dump();
    EXPECT_EQ(inst["primary"].value("alert", ""), alert) << inst.dump();
  }
}

TEST(ScrapeReplayE2E, KvThrashingFiresOnEveryEngineFamilyThatCanShowIt) {
  Watch w(kReplays);
  DaemonProcess& watcher = *w.watcher;
  auto& replays = w.replays;
  ASSERT_TRUE(watcher.WaitReady()) << watcher.Log();
  auto c = watcher.Client();

  std::map<std::string, json> thrashing;
  const bool fired = WaitFor(
      [&] {
        thrashing = AlertsByTarget(c, "KVCacheThrashing");
        for (const std::string& r : kReplays)
          if (!thrashing.count(r) || thrashing[r].value("state", "") != "firing") return false;
        return true;
      },
      60000, 100);
  ASSERT_TRUE(fired) << json(thrashing).dump() << GetJson(c, "/api/v1/targets").dump() << watcher.Log();

  const json targets_json = GetJson(c, "/api/v1/targets");
  for (const auto& t : targets_json["data"]) {
    const std::string name = t["name"];
    EXPECT_EQ(t["up"], true) << name;
    EXPECT_EQ(t["kind"], replays[name].engine) << name;
    const YAML::Node expect = YAML::LoadFile(kEtc + "/scenarios/replays/" + name + ".yaml")["expect"]["dropped"];
    std::map<std::string, std::string> dropped;
    for (const auto& d : t["droppedFamilies"]) dropped[d["family"]] = d["reason"];
    std::map<std::string, std::string> want;
    if (expect)
      for (const auto& kv : expect) want[kv.first.as<std::string>()] = kv.second.as<std::string>();
    EXPECT_EQ(dropped, want) << name;
    for (const auto& [family, reason] : want) EXPECT_GT(t["scrapeErrors"].value(reason, 0), 0) << name;
  }
  const std::string metrics = c.Get("/metrics")->body;
  EXPECT_NE(metrics.find("vigil_target_scrape_errors_total{target=\"kv_thrashing_vllm_v0\",reason=\"no_inf_bucket\"}"),
            std::string::npos)
      << metrics;

  // The KV-full alert is a symptom now, inhibited by the thrashing on its own target.
  for (const auto& [target, a] : AlertsByTarget(c, "KVCacheNearFull")) {
    if (a.value("state", "") != "firing") continue;
    EXPECT_EQ(a.value("inhibited", false), true) << target << " " << a.dump();
  }
  const json report = GetJson(c, "/health/report");
  ASSERT_TRUE(report["instances"].is_array()) << report.dump();
  for (const auto& inst : report["instances"]) {
    for (const auto& cd : inst["cannot_diagnose"]) EXPECT_NE(cd["rule"], "KVCacheThrashing") << inst.dump();
    ASSERT_TRUE(inst["primary"].is_object()) << inst.dump();
    EXPECT_EQ(inst["primary"].value("alert", ""), "KVCacheThrashing") << inst.dump();
  }
}

// The three pathologies newer engines' signals show (docs/rules.md): a
// speculative decoder whose acceptance collapses, LoRA adapters that do
// not fit the batch, and a TTFT that the engine's own queue and prefill do
// not explain. Each replay's rule fires on its target and leads its report.
TEST(ScrapeReplayE2E, NewerSignalsDiagnoseTheirPathologies) {
  const std::vector<std::string> names = {"spec_decode_collapse_vllm", "lora_thrash_vllm", "frontend_bottleneck_vllm"};
  Watch w(names);
  ASSERT_TRUE(w.watcher->WaitReady()) << w.watcher->Log();
  auto c = w.watcher->Client();
  ExpectEachFires(c, names, 90000, *w.watcher);
  // The symptom the frontend explains is muted by it.
  for (const auto& [target, a] : AlertsByTarget(c, "HighTTFT")) {
    if (a.value("state", "") == "firing") { EXPECT_EQ(a.value("inhibited", false), true) << target << a.dump(); }
  }
}

}  // namespace
}  // namespace vigil::testing
