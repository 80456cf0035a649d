// Captures as a product: triggered by a rule, by an operator (API, vigilctl)
// or by vLLM's /start_profile, strictly bounded (one at a time, per-rule and
// global cooldowns, max steps/duration/bytes, retention), written and
// summarized off the engine thread, listed and served by id.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "capture/policy.h"
#include "common/clock.h"
#include "common/metric_family.h"
#include "common/mutex.h"
#include "common/status.h"
#include "engine/engine.h"

namespace vigil::capture {

struct CaptureConfig {
  bool enabled = true;
  std::string dir;  // empty: <state_dir>/captures
  double max_duration_s = 10;
  int64_t max_steps = 200;
  int64_t max_bytes = 256LL << 20;  // per trace, uncompressed JSON
  double rule_cooldown_s = 600;     // per rule
  double global_cooldown_s = 60;    // between any two captures
  int64_t max_count = 20;           // retention: oldest deleted first
  int64_t max_total_bytes = 2LL << 30;
  bool record_shapes = false;
  bool with_stack = false;
};

struct TriggerRequest {
  std::string trigger = "api";  // rule, api, manual, profile
  std::string reason;
  std::string rule;            // for trigger "rule": the alert name (per-rule cooldown)
  nlohmann::json evidence;     // the rule's evidence, stored in the trace
  double duration_s = 0;       // 0: max_duration; never more than it
  bool until_stopped = false;  // /start_profile: runs until Stop() or a bound
};

enum class CaptureOutcome { kStarted, kBusy, kCooldown, kDisabled, kError };
// "started", "busy", "cooldown", "disabled", "error": the metrics' `result`
// label and the API's error type.
const char* CaptureOutcomeName(CaptureOutcome o);

struct TriggerResult {
  bool started = false;
  std::string id;
  CaptureOutcome result = CaptureOutcome::kError;
  std::string message;
};

class CaptureManager : public Collectable {
 public:
  // `throughput_before`: output tokens/s over the minute before now (or <0
  // when unknown), to measure how much the capture slowed the engine.
  // `clock` (not owned; outlives the manager): ids and trigger times from
  // its Unix time. `policy` (not owned; outlives the manager): one at a time
  // and the cooldowns, shared with the targets' captures (vigild); nullptr:
  // the manager's own, from cfg's cooldowns on `clock`.
  CaptureManager(CaptureConfig cfg, engine::Engine* engine, std::function<double()> throughput_before,
                 nlohmann::json config_snapshot, Clock* clock = DefaultClock(), CapturePolicy* policy = nullptr);
  ~CaptureManager();

  TriggerResult Trigger(const TriggerRequest& req) EXCLUDES(mu_);
  // Ends the running capture early (vLLM's /stop_profile). NotFound if none.
  Status Stop(std::string* id) EXCLUDES(mu_);
  // Waits for the running capture's file (tests, /stop_profile); false on timeout.
  bool WaitIdle(double timeout_s) EXCLUDES(mu_);

  // Newest first: {id, status, trigger, reason, rule, started, ..., summary}.
  std::vector<nlohmann::json> List() const;
  // NotFound / InvalidArgument (malformed id).
  Status Get(const std::string& id, nlohmann::json* out) const;
  Status TracePath(const std::string& id, std::string* path) const;
  Status Delete(const std::string& id);
  // The latest capture a rule started, or "".
  std::string LatestForRule(const std::string& rule) const;
  // (trigger, result) -> count, for vigil_captures_total.
  std::map<std::pair<std::string, std::string>, uint64_t> Counts() const;
  // vigil_captures_total{trigger,result}.
  std::vector<MetricFamily> Collect() const override;
  const CaptureConfig& config() const { return cfg_; }
  static bool ValidId(const std::string& id);

 private:
  struct Job {
    std::string id;
    TriggerRequest req;
    double triggered_at = 0;      // unix
    double triggered_steady = 0;  // the clock's steady time, for trigger_to_file_s
    double throughput_before = -1;
    engine::CaptureData data;
    bool done = false;     // the engine handed the data over
    bool writing = false;  // the writer has it
  };
  // "<UTC second>Z-<sequence>-<trigger>": distinct for any two captures of
  // this manager, and sorted by time then sequence (retention, List). Takes
  // mu_ for the sequence only (it looks at files).
  std::string NewId(double unix_now, const std::string& trigger) EXCLUDES(mu_);
  void WriterLoop() EXCLUDES(mu_);
  void Finish(Job job) EXCLUDES(mu_);
  void Retain() EXCLUDES(mu_);  // directory work
  void Count(const std::string& trigger, const std::string& result) REQUIRES(mu_);
  std::string Path(const std::string& id, const char* suffix) const;

  CaptureConfig cfg_;
  engine::Engine* engine_;
  std::function<double()> throughput_before_;
  nlohmann::json config_snapshot_;
  Clock* clock_;
  std::unique_ptr<CapturePolicy> own_policy_;  // when none is shared
  CapturePolicy* policy_;                      // claimed and released under mu_, with running_
  mutable Mutex mu_;                           // taken before the engine's (Stop asks it to stop under mu_)
  CondVar cv_;                                 // running_ handed over, written or released; stop_
  std::unique_ptr<Job> running_ GUARDED_BY(mu_) PT_GUARDED_BY(mu_);  // triggered, not yet written
  std::map<std::string, nlohmann::json> failed_ GUARDED_BY(mu_);     // id -> metadata of captures that failed
  uint64_t seq_ GUARDED_BY(mu_) = 0;                                 // ids made so far
  std::map<std::string, std::string> rule_latest_ GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, uint64_t> counts_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread writer_;  // started by the constructor, joined by the destructor
};

}  // namespace vigil::capture
