// vigild's side of alerting: the Notifier built from the `alerts` section, fed
// the firing rules after every evaluation, and the silence and notification
// endpoints. What it needs from the daemon comes in explicitly.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "alerts/notifier.h"
#include "common/metric_family.h"
#include "common/status.h"
#include "daemon/config.h"
#include "daemon/http_util.h"
#include "pipeline/tick_result.h"
#include "rules/rules.h"

namespace httplib {
class Server;
}

namespace vigil::daemon {

// alerts.external_url, else http://server.host:server.port: the base of the
// links in alerts and captures.
std::string ExternalUrl(const Config& config);

class AlertingApi {
 public:
  // The newest capture's URL for (rule, target), or "".
  using CaptureLinkFn = std::function<std::string(const std::string& rule, const std::string& target)>;
  // Reads the receivers' secrets and starts the Notifier (outbox and
  // silences in server.state_dir).
  static Status Create(const Config& config, CaptureLinkFn capture_link, std::unique_ptr<AlertingApi>* out);

  // /api/v1/silences* (admin) and /api/v1/notifications.
  void Routes(httplib::Server& h, AccessCheck check_admin);
  // Monitor thread, after each tick: the rules firing with action `alert`.
  void ObserveFiring(const pipeline::TickResult& tick);
  std::vector<std::string> SilencedBy(const std::map<std::string, std::string>& labels) const;
  // The report's `alerting` object; the outbox fault ("" when healthy).
  nlohmann::json Report() const;
  std::string fault() const { return notifier_->fault(); }
  const Collectable& metrics() const { return *notifier_; }
  // Joins the notifier's threads; what is queued stays in the outbox for the
  // next start. The endpoints keep working on the stores.
  void Stop() { notifier_->Stop(); }

 private:
  AlertingApi() = default;

  std::string external_url_;
  std::map<std::string, std::string> external_labels_;  // server.external_labels: added to every alert's labels
  CaptureLinkFn capture_link_;
  std::unique_ptr<alerts::Notifier> notifier_;
};

}  // namespace vigil::daemon
