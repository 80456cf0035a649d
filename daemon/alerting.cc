// AlertingApi (daemon/alerting.h).
#include "daemon/alerting.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>

#include "common/os_util.h"
#include "daemon/diagnosis.h"
#include "daemon/http_util.h"

namespace vigil::daemon {

namespace {

using json = nlohmann::json;

std::string EvidenceText(const rules::RuleStatus& s) {
  std::string out;
  for (const auto& [text, v] : s.evidence) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g", v ? *v : 0.0);
    out += (out.empty() ? "" : ", ") + text + "=" + (v ? buf : "none");
  }
  return out;
}

json NotificationJson(const alerts::Notification& n) {
  json payload = json::parse(n.payload, nullptr, false);
  return {{"receiver", n.receiver},
          {"idempotencyKey", n.idempotency_key},
          {"createdAt", FormatTime(n.created_at)},
          {"attempts", n.attempts},
          {"nextAttemptAt", n.dead ? json() : json(FormatTime(n.next_attempt_at))},
          {"lastError", n.last_error},
          {"state", n.dead ? "dead" : "pending"},
          {"payload", payload.is_discarded() ? json(n.payload) : payload}};
}

}  // namespace

std::string ExternalUrl(const Config& config) {
  if (!config.alerts.external_url.empty()) return config.alerts.external_url;
  return "http://" + config.server.host + ":" + std::to_string(config.server.port);
}

Status AlertingApi::Create(const Config& config, CaptureLinkFn capture_link, std::unique_ptr<AlertingApi>* out) {
  std::unique_ptr<AlertingApi> api(new AlertingApi());
  api->external_url_ = ExternalUrl(config);
  api->external_labels_ = config.server.external_labels;
  api->capture_link_ = std::move(capture_link);
  const AlertsConfig& a = config.alerts;
  alerts::NotifierConfig nc;
  nc.dispatch = a.dispatch;
  nc.delivery.receivers = a.receivers;
  // The log receiver is always available, also to configs built in code.
  if (std::none_of(a.receivers.begin(), a.receivers.end(), [](const auto& r) { return r.name == "log"; })) {
    alerts::ReceiverConfig log;
    log.name = "log";
    nc.delivery.receivers.push_back(log);
  }
  for (size_t i = 0; i < nc.delivery.receivers.size(); ++i) {
    auto& r = nc.delivery.receivers[i];
    auto it = a.secret_files.find(r.name);
    if (it != a.secret_files.end())
      VIGIL_RETURN_IF_ERROR(ReadSecretFile(it->second, "secret file", &r.secret)
                                .WithContext("alerts.receivers[" + std::to_string(i) + "].secret_file"));
  }
  nc.delivery.retry = a.retry;
  nc.delivery.alertmanager_ttl_s = 4 * a.resend_delay_s;
  const std::string& dir = config.server.state_dir;
  MakeDirs(dir);
  nc.delivery.outbox_path = dir + "/alerts.db";
  nc.silences_path = dir + "/alerts.db";
  nc.external_url = api->external_url_;
  nc.resend_delay_s = a.resend_delay_s;
  VIGIL_RETURN_IF_ERROR(alerts::Notifier::Create(nc, DefaultClock(), &api->notifier_).WithContext("alerts"));
  api->notifier_->Start();
  std::string names;
  for (const auto& r : nc.delivery.receivers)
    names += (names.empty() ? "" : ", ") + r.name + " (" + alerts::ReceiverTypeName(r.type) + ")";
  spdlog::info("alerts: receivers {}; outbox {}", names, nc.delivery.outbox_path);
  *out = std::move(api);
  return Status::OK();
}

void AlertingApi::ObserveFiring(const pipeline::TickResult& tick) {
  std::vector<alerts::Alert> firing;
  const std::string& url = external_url_;
  for (const auto& inst : tick.instances)
    for (const auto& v : inst.views) {
      if (v.status.state != rules::RuleState::kFiring) continue;
      if (!v.rule.Has(rules::RuleAction::kAlert)) continue;
      alerts::Alert a;
      a.labels = v.rule.labels;
      for (const auto& [k, val] : external_labels_) a.labels.emplace(k, val);  // the rule's own wins
      a.annotations = v.status.annotations;
      const std::string evidence = EvidenceText(v.status);
      if (!evidence.empty()) a.annotations["evidence"] = evidence;
      a.annotations["report"] = url + "/health/report";
      if (const std::string link = capture_link_(v.rule.name, inst.id.target); !link.empty())
        a.annotations["capture"] = link;
      a.starts_at = v.status.fired_at > 0 ? v.status.fired_at : v.status.active_since;
      a.generator_url = url + "/api/v1/rules";
      a.inhibited_by = v.status.inhibited_by;
      firing.push_back(std::move(a));
    }
  notifier_->Observe(std::move(firing));
}

std::vector<std::string> AlertingApi::SilencedBy(const std::map<std::string, std::string>& labels) const {
  return notifier_->SilencedBy(labels, UnixNow());
}

json AlertingApi::Report() const {
  json receivers = json::object();
  for (const auto& [name, rs] : notifier_->deliverer().Stats())
    receivers[name] = {
        {"pending", rs.pending}, {"delivered", rs.delivered}, {"failed_attempts", rs.failed}, {"dead", rs.dead}};
  return {{"fault", notifier_->fault()}, {"receivers", receivers}};
}

void AlertingApi::Routes(httplib::Server& h, AccessCheck check_admin) {
  h.Post("/api/v1/silences", [this, check_admin](const httplib::Request& q, httplib::Response& r) {
    if (!check_admin(q, r)) return;
    ApiError e;
    json body = json::parse(q.body, nullptr, false);
    if (body.is_discarded()) {
      e.message = "body: not valid JSON";
      return SendError(r, e);
    }
    const double now = UnixNow();
    alerts::Silence s;
    Status st = alerts::SilenceFromJson(body, now, &s);
    std::string id, warning;
    if (st.ok()) st = notifier_->silences().Add(s, now, &id, &warning);
    if (!st.ok()) {
      e.message = st.message();
      return SendError(r, e);
    }
    spdlog::info("silence {} added by {}: {}", id, s.created_by.empty() ? "?" : s.created_by, s.comment);
    json out = {{"status", "success"}, {"silenceID", id}};
    if (!warning.empty()) out["warning"] = warning;
    r.set_content(out.dump(), "application/json");
  });
  h.Get("/api/v1/silences", [this, check_admin](const httplib::Request& q, httplib::Response& r) {
    if (!check_admin(q, r)) return;
    const double now = UnixNow();
    json data = json::array();
    for (const auto& s : notifier_->silences().List()) data.push_back(alerts::SilenceToJson(s, now));
    r.set_content(json{{"status", "success"}, {"data", data}}.dump(-1, ' ', false, json::error_handler_t::replace),
                  "application/json");
  });
  h.Delete(R"(/api/v1/silences/([^/]+))", [this, check_admin](const httplib::Request& q, httplib::Response& r) {
    if (!check_admin(q, r)) return;
    Status st = notifier_->silences().Expire(q.matches[1], UnixNow());
    if (!st.ok()) return SendStatus(r, st);
    spdlog::info("silence {} expired", q.matches[1].str());
    r.set_content(json{{"status", "success"}}.dump(), "application/json");
  });
  h.Get("/api/v1/notifications", [this](const httplib::Request& q, httplib::Response& r) {
    const std::string state = q.has_param("state") ? q.get_param_value("state") : "pending";
    if (state != "dead" && state != "pending") {
      ApiError e;
      e.param = "state";
      e.message = "state: expected dead or pending, got \"" + state + "\"";
      return SendError(r, e);
    }
    json data = json::array();
    const auto list = state == "dead" ? notifier_->deliverer().Dead(1000) : notifier_->deliverer().Pending("");
    for (const auto& n : list) data.push_back(NotificationJson(n));
    r.set_content(json{{"status", "success"}, {"data", data}}.dump(-1, ' ', false, json::error_handler_t::replace),
                  "application/json");
  });
}

}  // namespace vigil::daemon
