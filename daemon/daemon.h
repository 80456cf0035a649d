// vigild's core object: owns the engine, the tokenizer, the metrics and the
// HTTP server, and implements reload and graceful stop. main.cc adds the
// process concerns (flags, signals, systemd).
#pragma once

#include <atomic>
#include <memory>
#include <set>
#include <string>

#include "common/mutex.h"
#include "common/status.h"
#include "daemon/alerting.h"
#include "daemon/captures.h"
#include "daemon/config.h"
#include "daemon/gpu_report.h"
#include "daemon/metrics.h"
#include "daemon/openai.h"
#include "daemon/ui.h"
#include "detectors/detectors.h"
#include "monitor/gpu_probe.h"
#include "pipeline/pipeline.h"
#include "rules/rules.h"
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace vigil::daemon {

class Exchange;
class FrontServer;
class RouteTable;

extern const char* const kVersion;

class Daemon {
 public:
  // Loads the tokenizer and the model (may take a while) and starts the engine.
  static Status Create(const Config& config, std::unique_ptr<Daemon>* out);
  ~Daemon();

  // Binds server.host:server.port; then Serve() blocks until Stop().
  Status Bind();
  void Serve();
  int bound_port() const { return port_; }

  // Stops accepting (503), lets running requests finish within
  // shutdown_grace, aborts the rest and stops the HTTP server.
  void Stop();
  // The one reload (SIGHUP with the file read again, and POST
  // /api/v1/rules/reload): re-reads the rule files and the key files of
  // `next`, applies what can change live, logs what needs a restart. Any
  // error keeps the running configuration whole, is logged and sets
  // vigil_config_last_reload_success 0.
  Status Reload(const Config& next) EXCLUDES(reload_mu_, config_mu_);
  // Reload() of the running configuration (the endpoint: its rule files again).
  Status ReloadRunning() EXCLUDES(reload_mu_, config_mu_);
  // A reload that failed before Reload() (the config file did not load).
  void RecordReloadFailure();

  bool ready() const { return ready_.load(); }
  // "" when healthy, else why not (for /health and the watchdog).
  std::string HealthProblem() const;
  std::string StatusLine() const;  // one-line summary for systemd's STATUS=
  engine::Engine& engine() { return *engine_; }

 private:
  Daemon() = default;
  void Routes();
  bool CheckApiKey(const httplib::Request& req, httplib::Response& res) EXCLUDES(config_mu_);
  // Starts the generation and returns; the Exchange streams the rest.
  void HandleGenerate(const httplib::Request& req, std::shared_ptr<Exchange> ex, bool chat);
  void HandleTokenize(const httplib::Request& req, httplib::Response& res);
  void HandleDetokenize(const httplib::Request& req, httplib::Response& res);
  void HandleModels(const httplib::Request& req, httplib::Response& res);
  void HandleHealthReport(const httplib::Request& req, httplib::Response& res);
  void HandleSeries(const httplib::Request& req, httplib::Response& res);
  void HandleAnomalies(const httplib::Request& req, httplib::Response& res);
  void HandleTargets(const httplib::Request& req, httplib::Response& res);
  // report.cc: the instance ?instance= names (or the default); nullptr after
  // sending a 400/404.
  const pipeline::Instance* ResolveInstance(const httplib::Request& req, httplib::Response& res) const;
  nlohmann::json InstanceReport(const pipeline::Instance& inst, bool detail) const;
  Status StartMonitor(std::vector<rules::RuleGroup> groups, std::vector<rules::InhibitRule> inhibits);
  // After each monitor tick (pipeline thread), from the tick's one result:
  // captures, then the notifier, then the dashboard's history.
  void OnTick(const pipeline::TickResult& tick);
  bool CheckAdmin(const httplib::Request& req, httplib::Response& res) EXCLUDES(config_mu_);
  // The rule files' groups, and their inhibitions plus alerts.inhibit_rules.
  Status LoadRuleSet(const Config& config, std::vector<rules::RuleGroup>* groups,
                     std::vector<rules::InhibitRule>* inhibits) const;

  // As started: fixed after Create, read without a lock. What Reload changes
  // live (rules, inhibit_rules, server limits, logging, keys) is read from
  // live_config_, api_keys_ and admin_token_, under config_mu_.
  Config config_;
  Mutex reload_mu_;  // before config_mu_: one reload at a time
  Mutex config_mu_;
  Config live_config_ GUARDED_BY(config_mu_);  // config_ with each reload's live fields applied
  std::set<std::string> api_keys_ GUARDED_BY(config_mu_);
  std::string admin_token_ GUARDED_BY(config_mu_);  // empty: admin endpoints refused
  // The listener (front_server.h). Destroyed after the engine (declared
  // before it): the engine's pending output callbacks hold its connections.
  std::unique_ptr<FrontServer> front_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<monitor::GpuProbe> gpu_;         // NVML, when the engine runs on CUDA and NVML loads
  GpuIdentity gpu_id_;                             // set with gpu_, before the monitor starts
  mutable Mutex gpu_mu_;                           // a leaf
  engine::GpuStats gpu_last_ GUARDED_BY(gpu_mu_);  // the monitor thread's last read, for /metrics and the report
  // The monitor: every monitored instance's series, detectors and rules
  // (absent with monitor.enabled: false).
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  // Set by Create, before the monitor starts, and kept until the destructor:
  // HTTP handlers and the monitor's hook use them without a lock.
  std::unique_ptr<AlertingApi> alerting_;
  std::unique_ptr<CaptureApi> captures_;  // after engine_: destroyed before it
  std::unique_ptr<UiApi> ui_;
  std::unique_ptr<RouteTable> http_;  // every route but the generations, served by front_'s workers
  std::string served_model_;
  ChatTemplate chat_;
  int port_ = 0;
  double start_time_ = 0;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> next_id_{0};
  // Serializes the max_waiting_requests check with the submission it admits,
  // so that a burst on many workers cannot overshoot the bound.
  Mutex admit_mu_;
};

Status LoadApiKeys(const std::string& path, std::set<std::string>* keys);

}  // namespace vigil::daemon
