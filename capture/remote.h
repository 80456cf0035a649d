// Captures of watched targets through their own profiler endpoints (vLLM's
// POST /start_profile and /stop_profile; vigild serves them too): start,
// wait the bounded window, stop (which may take long while the engine writes
// its trace: its own timeout), then, when the target's profile.dir is
// readable from here, summarize the trace written in the window with the
// same code as Vigil's own captures. Each capture runs on a thread of its
// own, never on the pipeline thread. One at a time per target and the
// cooldowns (per target, per (target, rule)) come from the CapturePolicy
// shared with the hosted engine's captures (capture/policy.h).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "capture/policy.h"
#include "common/mutex.h"
#include "pipeline/target.h"

namespace vigil::capture {

struct RemoteCaptureConfig {
  bool enabled = true;            // capture.enabled
  double request_timeout_s = 10;  // POST /start_profile
};

class RemoteCaptures {
 public:
  // `policy` (not owned) outlives this: claims, cooldowns and, through its
  // clock, the captures' start times.
  RemoteCaptures(RemoteCaptureConfig cfg, CapturePolicy* policy) : cfg_(cfg), policy_(policy) {}
  ~RemoteCaptures();  // interrupts the windows, waits for the stops
  // Interrupts the running windows and refuses new captures, without
  // waiting: the object stays usable for listing until it is destroyed.
  void Shutdown();

  // Starts a capture of `t` for `rule` now. Returns the id, or "" with
  // `why` (disabled, not enabled on the target, busy, cooldown).
  std::string Trigger(const pipeline::TargetConfig& t, const std::string& token, const std::string& rule,
                      const std::string& reason, std::string* why) EXCLUDES(mu_);

  // Newest first: {id, target, rule, reason, status, started, ended, trace, error, summary}.
  std::vector<nlohmann::json> List() const;
  bool Get(const std::string& id, nlohmann::json* out) const;
  // The newest capture of `rule` on `target` ("" if none).
  std::string LatestFor(const std::string& target, const std::string& rule) const;
  // Waits until no capture runs (tests); false on timeout.
  bool WaitIdle(double timeout_s) const EXCLUDES(mu_);

 private:
  void Run(std::string id, pipeline::TargetConfig t, std::string token) EXCLUDES(mu_);
  void Finish(const std::string& id, const nlohmann::json& fields) EXCLUDES(mu_);

  const RemoteCaptureConfig cfg_;
  CapturePolicy* const policy_;
  mutable Mutex mu_;
  mutable CondVar cv_;  // stopping_, or a capture ended
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<nlohmann::json> captures_ GUARDED_BY(mu_);        // oldest first
  size_t running_ GUARDED_BY(mu_) = 0;                          // captures claimed and not yet released
  std::map<std::string, std::thread> threads_ GUARDED_BY(mu_);  // target -> its last capture
  uint64_t seq_ GUARDED_BY(mu_) = 0;
};

// The newest trace file (*.pt.trace.json[.gz], as torch.profiler names them) in `dir` modified in [from, to]
// (unix seconds); "" if none.
std::string FindTrace(const std::string& dir, double from, double to);

}  // namespace vigil::capture
