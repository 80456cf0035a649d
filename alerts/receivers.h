// Receivers: how one notification is rendered and sent. `webhook` posts the
// Alertmanager webhook body (signed when a secret is set), `alertmanager`
// posts to a real Alertmanager's /api/v2/alerts, `slack` posts an
// incoming-webhook message, `log` writes a structured log line.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "alerts/dispatcher.h"
#include "alerts/outbox.h"

namespace vigil::alerts {

enum class ReceiverType { kWebhook, kAlertmanager, kSlack, kLog };
const char* ReceiverTypeName(ReceiverType t);
bool ParseReceiverType(const std::string& s, ReceiverType* out);

struct ReceiverConfig {
  std::string name;
  ReceiverType type = ReceiverType::kLog;
  std::vector<std::string> urls;  // webhook/slack: one; alertmanager: every replica, each posted to
  std::string secret;             // read from secret_file: signs the body
  std::map<std::string, std::string> headers;
  double timeout_s = 10;
  std::string ca_file;  // https: trust these CAs instead of the system's
  bool insecure_skip_verify = false;
};

struct DeliveryOutcome {
  bool ok = false;
  bool permanent = false;  // a 4xx other than 408/429: retrying cannot help
  std::optional<double> retry_after_s;
  std::string error;
  int status = 0;
};

// Everything needed to render for a receiver.
struct RenderContext {
  std::string external_url;  // vigild's own URL, for links
  double now = 0;
  double alertmanager_ttl_s = 240;  // endsAt ahead of now for firing alerts
};

// The body stored in the outbox for this receiver.
std::string Render(const ReceiverConfig& r, const GroupNotification& n, const RenderContext& ctx);
// Alertmanager's postableAlerts: firing alerts get endsAt = now + ttl, as
// Prometheus does, so a vanished Vigil lets them time out.
std::string RenderAlertmanager(const std::vector<Alert>& alerts, const RenderContext& ctx);
nlohmann::json SlackMessage(const GroupNotification& n, const std::string& external_url);

// One attempt on the caller's thread. For alertmanager, endsAt of firing
// alerts is pushed to now + ttl at send time, so a notification retried
// late does not arrive already expired.
DeliveryOutcome Send(const ReceiverConfig& r, const Notification& n, double now, double alertmanager_ttl_s);

}  // namespace vigil::alerts
