// Captures of watched targets through their own profiler endpoints (vLLM's
// POST /start_profile and /stop_profile; vigild serves them too): start,
// wait the bounded window, stop (which may take long while the engine writes
// its trace: its own timeout), then, when the target's profile.dir is
// readable from here, summarize the trace written in the window with the
// same code as Vigil's own captures. Each capture runs on a thread of its
// own, never on the pipeline thread; one at a time per target, with the
// capture section's per-rule and global cooldowns applied per target.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/mutex.h"
#include "pipeline/target.h"

namespace vigil::pipeline {

struct RemoteCaptureConfig {
  bool enabled = true;           // capture.enabled
  double rule_cooldown_s = 600;  // per (target, rule)
  double global_cooldown_s = 60; // per target
  double request_timeout_s = 10; // POST /start_profile
};

class RemoteCaptures {
 public:
  explicit RemoteCaptures(RemoteCaptureConfig cfg) : cfg_(cfg) {}
  ~RemoteCaptures();  // interrupts the windows, waits for the stops
  // Interrupts the running windows and refuses new captures, without
  // waiting: the object stays usable for listing until it is destroyed.
  void Shutdown();

  // Starts a capture of `t` for `rule` at `now`. Returns the id, or "" with
  // `why` (disabled, not enabled on the target, busy, cooldown).
  std::string Trigger(const TargetConfig& t, const std::string& token, const std::string& rule,
                      const std::string& reason, double now, std::string* why) EXCLUDES(mu_);

  // Newest first: {id, target, rule, reason, status, started, ended, trace, error, summary}.
  std::vector<nlohmann::json> List() const;
  bool Get(const std::string& id, nlohmann::json* out) const;
  // The newest capture of `rule` on `target` ("" if none).
  std::string LatestFor(const std::string& target, const std::string& rule) const;
  // Waits until no capture runs (tests); false on timeout.
  bool WaitIdle(double timeout_s) const EXCLUDES(mu_);

 private:
  void Run(std::string id, TargetConfig t, std::string token) EXCLUDES(mu_);
  void Finish(const std::string& id, const nlohmann::json& fields) EXCLUDES(mu_);
  bool AnyRunning() const REQUIRES(mu_);

  const RemoteCaptureConfig cfg_;
  mutable Mutex mu_;
  mutable CondVar cv_;  // stopping_, or a capture ended
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<nlohmann::json> captures_ GUARDED_BY(mu_);      // oldest first
  std::map<std::string, bool> running_ GUARDED_BY(mu_);       // target -> a capture runs
  std::map<std::string, double> last_start_ GUARDED_BY(mu_);  // target -> when
  std::map<std::pair<std::string, std::string>, double> rule_last_ GUARDED_BY(mu_);  // (target, rule) -> when
  std::map<std::string, std::thread> threads_ GUARDED_BY(mu_);  // target -> its last capture
  uint64_t seq_ GUARDED_BY(mu_) = 0;
};

// The newest trace file (*.pt.trace.json[.gz], as torch.profiler names them) in `dir` modified in [from, to]
// (unix seconds); "" if none.
std::string FindTrace(const std::string& dir, double from, double to);

}  // namespace vigil::pipeline
