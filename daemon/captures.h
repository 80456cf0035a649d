// vigild's side of captures: the hosted engine's CaptureManager and the
// watched targets' RemoteCaptures, the rule action, /api/v1/captures* and
// vLLM's /start_profile and /stop_profile. What it needs from the daemon
// comes in explicitly.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "capture/manager.h"
#include "daemon/config.h"
#include "daemon/http_util.h"
#include "engine/engine.h"
#include "pipeline/pipeline.h"
#include "pipeline/remote_capture.h"
#include "rules/rules.h"

namespace httplib {
class Server;
}

namespace vigil::daemon {

class CaptureApi {
 public:
  // `engine`: the hosted engine (not owned; outlives this), nullptr in a
  // sidecar. `throughput_before`: the hosted engine's output tokens/s over
  // the last minute, or <0 when unknown. Nothing here can fail.
  CaptureApi(const Config& config, engine::Engine* engine, const std::string& served_model,
             std::function<double()> throughput_before);

  // /api/v1/captures*, /start_profile and /stop_profile, all admin.
  void Routes(httplib::Server& h, AccessCheck check_admin);
  // Monitor thread only: takes the captures of rules turned firing, once
  // neither held nor inhibited; `pipeline` finds a target's address.
  void OnTransitions(const std::vector<std::pair<std::string, rules::Transition>>& transitions,
                     const std::vector<rules::RuleEngine::View>& views, const pipeline::Pipeline& pipeline);
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
  std::unique_ptr<capture::CaptureManager> captures_;  // always set; disabled in a sidecar
  std::unique_ptr<pipeline::RemoteCaptures> remote_captures_;  // with targets: through their /start_profile
  // Monitor thread only: (instance, group, rule) fired, capture not yet taken.
  std::set<std::tuple<std::string, std::string, std::string>> captures_due_;
};

}  // namespace vigil::daemon
