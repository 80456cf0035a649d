// vigilctl scenario run NAME: starts vigild with the scenario's engine
// overlay and the default rule pack, drives its load pattern, watches
// /api/v1/alerts, and reports which pathology rules fired and when. With
// --watch the verdict is a second, watch-only vigild's, watching the first
// over HTTP as it would a vLLM. Exit 0
// when the scenario's expectation holds, 1 when it does not, 2 on errors.
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/loadgen.h"
#include "cli/scenario_file.h"
#include "common/os_util.h"
#include "common/units.h"

namespace vigil::cli {

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

int Fail(const std::string& msg) {
  std::fprintf(stderr, "vigilctl scenario: %s\n", msg.c_str());
  return 2;
}

bool Exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

std::string SelfDir() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

// The first of: the flag, the source tree's etc/, the installed /etc/vigil.
std::string EtcDir(const std::string& flag, const char* sub) {
  if (!flag.empty()) return flag;
  for (const std::string& base : {std::string(VIGIL_SOURCE_ETC_DIR), std::string("/etc/vigil")})
    if (Exists(base + "/" + sub)) return base + "/" + sub;
  return std::string("/etc/vigil/") + sub;
}

std::string VigildPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  const std::string dir = SelfDir();
  for (const std::string& p : {dir + "/../daemon/vigild", dir + "/vigild"})
    if (Exists(p)) return p;
  return "vigild";
}

std::string Yaml(const YAML::Node& n, const std::string& indent) {
  if (!n || n.IsNull()) return "";
  YAML::Emitter e;
  e << n;
  std::string s = e.c_str(), out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string::npos) end = s.size();
    out += indent + s.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

struct Firing {
  double at = -1;            // seconds since the load started
  bool uninhibited = false;  // seen firing with nothing inhibiting it
  std::set<std::string> inhibited_by;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

namespace {

// vigild --config `config`, its output in `log`; SIGTERM if vigilctl dies.
pid_t Spawn(const std::string& vigild, const std::string& config, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // no stray vigild if vigilctl dies
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(vigild.c_str(), vigild.c_str(), "--config", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

void StopProcess(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

// Until /ready answers 200 (60 s), or the process exits.
bool WaitReady(httplib::Client& c, pid_t pid) {
  for (int i = 0; i < 1200; ++i) {
    auto r = c.Get("/ready");
    if (r && r->status == 200) return true;
    if (waitpid(pid, nullptr, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

struct ScenarioFlags {
  std::string which, scenarios, rules, vigild;
  bool json = false, verbose = false, keep = false, watch = false;
};

int Run(const ScenarioFlags& flags) {
  const std::string& which = flags.which;
  const std::string file = Exists(which) ? which : EtcDir(flags.scenarios, "scenarios") + "/" + which + ".yaml";
  Scenario sc;
  sc.name = which.substr(which.rfind('/') + 1);
  if (sc.name.size() > 5 && sc.name.compare(sc.name.size() - 5, 5, ".yaml") == 0) sc.name.resize(sc.name.size() - 5);
  if (Status ls = LoadScenario(file, &sc); !ls.ok()) return Fail(ls.message());

  char tmpl[] = "/tmp/vigil-scenario-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  ::mkdir((dir + "/rules").c_str(), 0700);
  std::map<std::string, std::string> pathology;  // rule -> its pathology label
  if (Status ws = WriteRules(EtcDir(flags.rules, "rules"), sc, dir + "/rules", &pathology); !ws.ok())
    return Fail(ws.message());
  const int port = FreeLoopbackPort();
  const std::string token = "scenario-admin-token-0123456789";
  std::ofstream(dir + "/token") << token << "\n";
  // HTTP workers for every request an overloaded scenario can have in
  // flight (each streaming request holds one), so the runner's own polls
  // never queue behind them and go blind.
  std::string cfg = "server:\n  host: 127.0.0.1\n  port: " + std::to_string(port) +
                    "\n  threads: 512\n  state_dir: " + dir + "/state\n  admin_token_file: " + dir +
                    "/token\n  shutdown_grace: 2s\n"
                    "engine:\n  model: builtin:tiny-llama\n" +
                    Yaml(sc.engine, "  ") + "monitor:\n" +
                    (sc.monitor && !sc.monitor.IsNull() ? Yaml(sc.monitor, "  ") : "  enabled: true\n") +
                    "rules:\n  files: [" + dir +
                    "/rules/*.yaml]\n"
                    "capture:\n  max_duration: 2s\n  max_steps: 50\n  cooldown: {rule: 10m, global: 0s}\n";
  const bool watch = flags.watch;
  if (watch) {
    // The target is a plain engine, as a vLLM would be: no rules of its own,
    // so the watcher's /start_profile never meets a capture of the target's.
    ::mkdir((dir + "/no-rules").c_str(), 0700);
    std::ofstream(dir + "/no-rules/empty.yaml") << "groups: []\n";
    const size_t at = cfg.find("rules:\n  files: [");
    cfg.replace(at, cfg.find('\n', cfg.find("files:", at)) - at, "rules:\n  files: [" + dir + "/no-rules/*.yaml]");
  }
  std::ofstream(dir + "/vigil.yaml") << cfg;
  const std::string vigild = VigildPath(flags.vigild);
  const std::string log = dir + "/vigild.log";
  pid_t pid = Spawn(vigild, dir + "/vigil.yaml", log);
  // --watch: a second, watch-only vigild with the same monitor and rules
  // watches the first over HTTP; the verdict is the watcher's.
  const int watch_port = watch ? FreeLoopbackPort() : port;
  const std::string watch_log = dir + "/watcher.log";
  pid_t watcher = -1;
  if (watch) {
    std::string wcfg = "server:\n  host: 127.0.0.1\n  port: " + std::to_string(watch_port) + "\n  state_dir: " + dir +
                       "/watch-state\n  admin_token_file: " + dir +
                       "/token\n  shutdown_grace: 2s\n"
                       "engine:\n  model: none\n"
                       "monitor:\n" +
                       (sc.monitor && !sc.monitor.IsNull() ? Yaml(sc.monitor, "  ") : "  enabled: true\n") +
                       "rules:\n  files: [" + dir +
                       "/rules/*.yaml]\n"
                       "capture:\n  cooldown: {rule: 10m, global: 0s}\n"
                       "targets:\n  - name: scenario\n    url: http://127.0.0.1:" +
                       std::to_string(port) + "\n    bearer_token_file: " + dir +
                       "/token\n    profile: {enabled: true, dir: " + dir +
                       "/state/captures, duration: 2s, stop_timeout: 30s}\n";
    std::ofstream(dir + "/watcher.yaml") << wcfg;
    watcher = Spawn(vigild, dir + "/watcher.yaml", watch_log);
  }
  auto cleanup = [&] {
    StopProcess(pid);
    StopProcess(watcher);
  };
  httplib::Client target_client("127.0.0.1", port);
  target_client.set_connection_timeout(1);
  httplib::Client c("127.0.0.1", watch_port);
  c.set_connection_timeout(1);
  c.set_read_timeout(10);
  std::string not_ready;
  if (!WaitReady(target_client, pid)) not_ready = "vigild did not become ready; its log:\n" + ReadAll(log);
  else if (watch && !WaitReady(c, watcher))
    not_ready = "the watching vigild did not become ready; its log:\n" + ReadAll(watch_log);
  if (!not_ready.empty()) {
    cleanup();
    return Fail(not_ready);
  }

  sc.load.url = "http://127.0.0.1:" + std::to_string(port);
  LoadGenerator gen(sc.load);
  LoadResult load_result;
  Status load_status;
  std::atomic<bool> load_done{false};
  const auto t0 = Clock::now();
  std::thread load([&] {
    load_status = gen.Run(&load_result);
    load_done = true;
  });
  // The burst: a second open loop on top of the base rate.
  LoadOptions bo = sc.load;
  bo.rate = sc.load.rate * (sc.burst_factor - 1);
  bo.duration_s = sc.burst_for_s;
  bo.requests = 0;
  bo.seed = sc.load.seed + 1;
  LoadGenerator burst(bo);
  LoadResult burst_result;
  Status burst_status;
  std::atomic<bool> burst_done{false};
  std::thread burst_thread;
  std::map<std::string, Firing> fired;
  std::map<std::string, double> primaries;                                    // primary diagnosis -> first seen
  std::map<std::string, std::map<std::string, std::pair<int, int>>> clauses;  // rule -> comparison -> (held, polls)
  bool met_at = false;
  double met_time = 0;
  std::string abort_reason;
  uint64_t polls = 0;
  const httplib::Headers admin = {{"Authorization", "Bearer " + token}};
  auto since = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  while (since() < sc.timeout_s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    if (sc.burst_factor > 1 && !burst_thread.joinable() && since() >= sc.burst_at_s)
      burst_thread = std::thread([&] {
        burst_status = burst.Run(&burst_result);
        burst_done = true;
      });
    if ((load_done && !load_status.ok()) || (burst_done && !burst_status.ok())) {
      abort_reason = "the load could not run: " + (load_status.ok() ? burst_status : load_status).message();
      break;
    }
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      pid = -1;
      abort_reason = "vigild exited during the run; its log:\n" + ReadAll(log);
      break;
    }
    if (watch && waitpid(watcher, nullptr, WNOHANG) == watcher) {
      watcher = -1;
      abort_reason = "the watching vigild exited during the run; its log:\n" + ReadAll(watch_log);
      break;
    }
    // The report (firing rules with inhibitedBy, the primary diagnosis)
    // twice a second, as often as the scenarios' monitor ticks; the rules
    // (why an expected one has not fired) once a second. Light on purpose:
    // the poller shares the machine with the daemon it judges.
    ++polls;
    if (polls % 4 == 1) {
      // How often each comparison of an expected rule held.
      if (auto rr = c.Get("/api/v1/rules"); rr && rr->status == 200) {
        json rj = json::parse(rr->body, nullptr, false);
        if (!rj.is_discarded())
          for (const auto& g : rj["data"]["groups"])
            for (const auto& rule : g["rules"]) {
              const std::string name = rule.value("name", "");
              if (!sc.fires.count(name) || !rule.contains("evidence")) continue;
              for (const auto& [text, v] : rule["evidence"].items()) {
                // Leaf comparisons only: "a > 1", not "a > 1 and b < 2".
                if (text.find_first_of("<>=") == std::string::npos || text.find(" and ") != std::string::npos ||
                    text.find(" or ") != std::string::npos || text.find(" unless ") != std::string::npos)
                  continue;
                auto& st = clauses[name][text];
                st.first += !v.is_null();
                ++st.second;
              }
            }
      }
    }
    if (polls % 2 == 1) {
      auto r = c.Get("/health/report");
      json j = r ? json::parse(r->body, nullptr, false) : json();
      if (j.is_object()) {
        for (const auto& f : j.value("firing", json::array())) {
          const std::string name = f.value("alert", "");
          if (!pathology.count(name)) continue;
          Firing& x = fired[name];
          if (x.at < 0) {
            x.at = since();
            if (flags.verbose) std::fprintf(stderr, "%6.1fs  %s fired\n", since(), name.c_str());
          }
          const auto by = f.value("inhibitedBy", json::array());
          if (by.empty()) x.uninhibited = true;
          for (const auto& b : by) x.inhibited_by.insert(b.get<std::string>());
        }
        if (j.contains("primary") && j["primary"].is_object()) {
          const std::string p = j["primary"].value("alert", "");
          if (!primaries.count(p)) {
            primaries[p] = since();
            if (flags.verbose) std::fprintf(stderr, "%6.1fs  primary diagnosis: %s\n", since(), p.c_str());
          }
        }
      }
    }
    bool all = !sc.fires.empty();
    for (const auto& f : sc.fires) all &= fired.count(f) > 0;
    if (all && !met_at) {
      met_at = true;
      met_time = since();
    }
    // Expected rules fired: watch a little longer for unexpected ones.
    if (met_at && since() - met_time >= sc.settle_s) break;
    // Expecting silence: the whole load must pass.
    if (sc.fires.empty() && sc.load.duration_s > 0 && since() >= sc.load.duration_s) break;
  }
  gen.Stop();
  burst.Stop();
  load.join();
  if (burst_thread.joinable()) burst_thread.join();
  json captures = json::array();
  if (watch && watcher > 0) {  // the watcher's own captures finish their stop first
    for (int i = 0; i < 120; ++i) {
      auto r = c.Get("/api/v1/captures", admin);
      json j = r && r->status == 200 ? json::parse(r->body, nullptr, false) : json();
      bool running = false;
      if (j.is_object())
        for (const auto& cap : j["data"]) running |= cap.value("status", "") == "running";
      if (!running) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  if ((watch ? watcher : pid) > 0) {
    if (auto r = c.Get("/api/v1/captures", admin); r && r->status == 200) {
      json j = json::parse(r->body, nullptr, false);
      if (!j.is_discarded())
        for (const auto& cap : j["data"])
          if (cap.value("trigger", "") == "rule") captures.push_back({{"id", cap["id"]}, {"rule", cap["rule"]}});
    }
  }
  cleanup();
  if (!abort_reason.empty()) {
    if (!flags.keep) (void)std::system(("rm -rf '" + dir + "'").c_str());
    return Fail(sc.name + ": " + abort_reason);
  }

  // The verdict.
  std::vector<std::string> problems;
  for (const auto& f : sc.fires) {
    auto it = fired.find(f);
    if (it == fired.end()) {
      std::string why;
      for (const auto& [text, st] : clauses[f]) {
        char buf[256];
        std::snprintf(buf, sizeof buf, "%s%s held in %d/%d polls", why.empty() ? "" : "; ", text.c_str(), st.first,
                      st.second);
        why += buf;
      }
      problems.push_back(f + " did not fire" + (why.empty() ? "" : " (" + why + ")"));
    } else if (it->second.at > sc.within_s)
      problems.push_back(f + " fired after " + std::to_string(static_cast<int>(it->second.at)) + "s (bound " +
                         std::to_string(static_cast<int>(sc.within_s)) + "s)");
  }
  // Rules of the expected rules' own pathology (OrphanedKVBlocks and
  // KVBlocksLeaking are one leak) are not false alarms.
  std::set<std::string> expected_pathologies;
  for (const auto& f : sc.fires)
    if (pathology.count(f)) expected_pathologies.insert(pathology[f]);
  auto expected = [&](const std::string& name) {
    return sc.fires.count(name) || expected_pathologies.count(pathology[name]);
  };
  auto allowed = [&](const std::string& name) { return expected(name) || sc.allow.count(name); };
  // A rule that fired only ever inhibited is a symptom the report names as
  // such, not a second diagnosis.
  for (const auto& [name, f] : fired)
    if (!allowed(name) && f.uninhibited) problems.push_back(name + " fired but should not");
  for (const auto& [name, at] : primaries)
    if (pathology.count(name) && !expected(name) && !sc.primary.count(name))
      problems.push_back(name + " was the primary diagnosis (at " + std::to_string(static_cast<int>(at)) + "s)");
  bool expected_capture = false;
  for (const auto& cap : captures) {
    const std::string rule = cap["rule"].get<std::string>();
    if (expected(rule)) expected_capture = true;
    else problems.push_back("a capture was taken for " + rule);
  }
  if (sc.expect_capture && !expected_capture) problems.push_back("no capture was taken for the diagnosis");
  const bool pass = problems.empty();
  json report = {{"scenario", sc.name},
                 {"watch", watch},
                 {"description", sc.description},
                 {"pass", pass},
                 {"expected", std::vector<std::string>(sc.fires.begin(), sc.fires.end())},
                 {"fired", json::object()},
                 {"captures", captures},
                 {"problems", problems},
                 {"load", load_result.ToJson()},
                 {"burst_load", sc.burst_factor > 1 ? burst_result.ToJson() : json()},
                 {"duration_s", since()}};
  for (const auto& [name, f] : fired)
    report["fired"][name] = {{"seconds_to_detect", f.at},
                             {"pathology", pathology[name]},
                             {"expected", allowed(name)},
                             {"inhibited_by", std::vector<std::string>(f.inhibited_by.begin(), f.inhibited_by.end())},
                             {"only_inhibited", !f.uninhibited}};
  report["primary"] = json::object();
  for (const auto& [name, at] : primaries) report["primary"][name] = at;
  if (flags.json) {
    std::printf("%s\n", report.dump(2).c_str());
  } else {
    std::printf("scenario %s%s: %s\n  %s\n", sc.name.c_str(), watch ? " (watched over HTTP)" : "",
                pass ? "PASS" : "FAIL", sc.description.c_str());
    for (const auto& [name, f] : fired) {
      std::string by;
      for (const auto& b : f.inhibited_by) by += (by.empty() ? "" : ", ") + b;
      std::printf("  fired %-26s after %5.1f s%s%s\n", name.c_str(), f.at,
                  sc.fires.count(name) ? ""
                  : allowed(name)      ? "  (same pathology or allowed)"
                  : !f.uninhibited     ? ""
                                       : "  (unexpected)",
                  by.empty() ? "" : ("  inhibited by " + by).c_str());
    }
    std::vector<std::pair<double, std::string>> by_time;
    for (const auto& [name, at] : primaries) by_time.emplace_back(at, name);
    std::sort(by_time.begin(), by_time.end());
    for (const auto& [at, name] : by_time) std::printf("  primary diagnosis %s from %5.1f s\n", name.c_str(), at);
    if (fired.empty()) std::printf("  no pathology rule fired\n");
    for (const auto& cap : captures)
      std::printf("  capture %s (rule %s)\n", cap["id"].get<std::string>().c_str(),
                  cap["rule"].get<std::string>().c_str());
    for (const auto& p : problems) std::printf("  problem: %s\n", p.c_str());
    std::printf("  load: %lld requests ok, %.1f output tokens/s, TTFT p95 %.0f ms\n",
                static_cast<long long>(load_result.ok), load_result.output_tokens_per_s, load_result.ttft.p95 * 1e3);
  }
  if (!flags.keep) (void)std::system(("rm -rf '" + dir + "'").c_str());
  else std::fprintf(stderr, "kept %s\n", dir.c_str());
  return pass ? 0 : 1;
}

}  // namespace

void AddScenario(CLI::App* app, int* rc) {
  CLI::App* scenario = app->add_subcommand("scenario", "Pathology scenarios: prove each rule fires when it should.");
  scenario->require_subcommand(1);
  auto f = std::make_shared<ScenarioFlags>();
  CLI::App* run = AddCommand(scenario, "run",
                             "Start vigild with a pathology scenario, drive its load, and check which rules fire and "
                             "when; exit 0 when the expectation holds, 1 when not, 2 on errors.",
                             rc, [f] { return Run(*f); });
  run->add_option("NAME|FILE", f->which, "a scenario of --scenarios (e.g. kv_thrashing), or a scenario file")
      ->required();
  run->add_flag("--watch", f->watch, "judge from a second, watch-only vigild watching the first over HTTP");
  run->add_flag("--json", f->json, "print the report as JSON");
  run->add_flag("--verbose", f->verbose, "print each rule as it fires");
  run->add_flag("--keep", f->keep, "keep the run's folder (configs, logs) in /tmp");
  run->add_option("--scenarios", f->scenarios,
                  "the scenarios' folder (default: etc/scenarios, else /etc/vigil/scenarios)");
  run->add_option("--rules", f->rules, "the rule pack's folder (default: etc/rules, else /etc/vigil/rules)");
  run->add_option("--vigild", f->vigild, "the vigild to start (default: next to vigilctl, else $PATH)");
}

}  // namespace vigil::cli
