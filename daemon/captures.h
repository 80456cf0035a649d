// vigild's side of captures: the hosted engine's CaptureManager and the
// watched targets' RemoteCaptures under one CapturePolicy, the rule action
// (capture/due.h decides; this routes), /api/v1/captures* and vLLM's
// /start_profile and /stop_profile. What it needs from the daemon comes in
// explicitly.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "capture/due.h"
#include "capture/manager.h"
#include "capture/policy.h"
#include "capture/remote.h"
#include "common/clock.h"
#include "daemon/config.h"
#include "daemon/http_util.h"
#include "engine/engine.h"
#include "pipeline/pipeline.h"
#include "rules/rules.h"

namespace httplib {
class Server;
}

namespace vigil::daemon {

class CaptureApi {
 public:
  // `engine`: the hosted engine (not owned; outlives this), nullptr in a
  // sidecar. `throughput_before`: the hosted engine's output tokens/s over
  // the last minute, or <0 when unknown. `clock` (not owned): every
  // capture's cooldowns and times. Nothing here can fail.
  CaptureApi(const Config& config, engine::Engine* engine, const std::string& served_model,
             std::function<double()> throughput_before, Clock* clock = DefaultClock());

  // /api/v1/captures*, /start_profile and /stop_profile, all admin.
  void Routes(httplib::Server& h, AccessCheck check_admin);
  // Monitor thread only, after each tick: takes the captures of rules
  // turned firing, once neither held nor inhibited; `pipeline` finds a
  // target's address.
  void OnTick(const pipeline::TickResult& tick, const pipeline::Pipeline& pipeline);
  // The newest capture of `rule` on `target` ("" or "local": the hosted
  // engine) as a URL, or "".
  std::string CaptureLink(const std::string& rule, const std::string& target) const;
  // Up to n of the hosted engine's newest, then up to n of the targets'.
  nlohmann::json LatestCaptures(size_t n) const;
  const Collectable& metrics() const { return *captures_; }
  // Ends a running capture and interrupts the targets' windows without
  // destroying anything: HTTP handlers may still be reading the lists. The
  // destructor joins the threads.
  void Shutdown();

 private:
  const std::string external_url_;
  capture::CapturePolicy policy_;                      // before the captures: they claim through it until destroyed
  std::unique_ptr<capture::CaptureManager> captures_;  // always set; disabled in a sidecar
  std::unique_ptr<capture::RemoteCaptures> remote_captures_;  // with targets: through their /start_profile
  capture::DueCaptures due_;                                  // monitor thread only
};

}  // namespace vigil::daemon
