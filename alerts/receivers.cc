#include "alerts/receivers.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "common/time_util.h"

namespace vigil::alerts {

namespace {

using json = nlohmann::json;

struct Url {
  std::string base;  // scheme://host[:port]
  std::string path;
};

Url SplitUrl(const std::string& url) {
  const size_t scheme_end = url.find("://");
  const size_t path_at = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  if (path_at == std::string::npos) return {url, "/"};
  return {url.substr(0, path_at), url.substr(path_at)};
}

DeliveryOutcome Post(const ReceiverConfig& r, const std::string& url, const httplib::Headers& headers,
                     const std::string& body) {
  DeliveryOutcome out;
  const Url u = SplitUrl(url);
  httplib::Client c(u.base);
  if (!c.is_valid()) {
    out.error = "invalid URL " + url;
    out.permanent = true;
    return out;
  }
  const auto secs = static_cast<time_t>(r.timeout_s);
  const auto usecs = static_cast<time_t>((r.timeout_s - static_cast<double>(secs)) * 1e6);
  c.set_connection_timeout(secs, usecs);
  c.set_read_timeout(secs, usecs);
  c.set_write_timeout(secs, usecs);
  if (!r.ca_file.empty()) c.set_ca_cert_path(r.ca_file.c_str());
  if (r.insecure_skip_verify) c.enable_server_certificate_verification(false);
  auto res = c.Post(u.path.c_str(), headers, body, "application/json");
  if (!res) {
    out.error = url + ": " + httplib::to_string(res.error());
    if (res.error() == httplib::Error::SSLServerVerification) out.error += " (certificate not trusted: set ca_file)";
    return out;
  }
  out.status = res->status;
  if (res->status >= 200 && res->status < 300) {
    out.ok = true;
    return out;
  }
  out.error = url + ": HTTP " + std::to_string(res->status);
  if (!res->body.empty()) out.error += ": " + res->body.substr(0, 200);
  if (res->status == 429 && res->has_header("Retry-After")) {
    try {
      out.retry_after_s = std::stod(res->get_header_value("Retry-After"));
    } catch (...) {
      double when;  // an HTTP date is also allowed; accept RFC 3339 as well
      if (ParseRfc3339(res->get_header_value("Retry-After"), &when)) out.retry_after_s = when - UnixNow();
    }
  }
  out.permanent = res->status >= 400 && res->status < 500 && res->status != 408 && res->status != 429;
  return out;
}

json AlertmanagerAlert(const Alert& a, const RenderContext& ctx) {
  json j = {{"labels", a.labels},
            {"annotations", a.annotations},
            {"startsAt", FormatRfc3339(a.starts_at)},
            {"generatorURL", a.generator_url}};
  j["endsAt"] = FormatRfc3339(a.resolved() ? a.ends_at : ctx.now + ctx.alertmanager_ttl_s);
  return j;
}

std::string Get(const std::map<std::string, std::string>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? "" : it->second;
}

}  // namespace

const char* ReceiverTypeName(ReceiverType t) {
  switch (t) {
    case ReceiverType::kWebhook: return "webhook";
    case ReceiverType::kAlertmanager: return "alertmanager";
    case ReceiverType::kSlack: return "slack";
    case ReceiverType::kLog: return "log";
  }
  return "?";
}

bool ParseReceiverType(const std::string& s, ReceiverType* out) {
  for (ReceiverType t :
       {ReceiverType::kWebhook, ReceiverType::kAlertmanager, ReceiverType::kSlack, ReceiverType::kLog}) {
    if (s == ReceiverTypeName(t)) {
      *out = t;
      return true;
    }
  }
  return false;
}

std::string RenderAlertmanager(const std::vector<Alert>& alerts, const RenderContext& ctx) {
  json arr = json::array();
  for (const Alert& a : alerts) arr.push_back(AlertmanagerAlert(a, ctx));
  return arr.dump(-1, ' ', false, json::error_handler_t::replace);
}

json SlackMessage(const GroupNotification& n, const std::string& external_url) {
  size_t firing = 0;
  for (const auto& a : n.alerts) firing += a.resolved() ? 0 : 1;
  std::string title = n.firing() ? "[FIRING:" + std::to_string(firing) + "]" : "[RESOLVED]";
  for (const auto& [k, v] : n.group_labels) title += " " + v;
  json blocks = json::array();
  blocks.push_back({{"type", "header"}, {"text", {{"type", "plain_text"}, {"text", title.substr(0, 150)}}}});
  for (const Alert& a : n.alerts) {
    std::string text =
        std::string(a.resolved() ? ":white_check_mark: *" : ":rotating_light: *") + Get(a.labels, "alertname") + "*";
    const std::string sev = Get(a.labels, "severity");
    if (!sev.empty()) text += "  severity: `" + sev + "`";
    const std::string pathology = Get(a.labels, "pathology");
    if (!pathology.empty()) text += "  pathology: `" + pathology + "`";
    for (const char* k : {"summary", "description"})
      if (!Get(a.annotations, k).empty()) text += "\n" + Get(a.annotations, k);
    if (!Get(a.annotations, "evidence").empty()) text += "\n*Evidence:* " + Get(a.annotations, "evidence");
    if (!Get(a.annotations, "recommendation").empty())
      text += "\n*Recommendation:* " + Get(a.annotations, "recommendation");
    if (!Get(a.annotations, "capture").empty()) text += "\n*Capture:* " + Get(a.annotations, "capture");
    text += "\nSince " + FormatRfc3339(a.starts_at) + (a.resolved() ? ", resolved " + FormatRfc3339(a.ends_at) : "");
    blocks.push_back({{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", text.substr(0, 3000)}}}});
  }
  blocks.push_back(
      {{"type", "context"},
       {"elements",
        json::array({{{"type", "mrkdwn"}, {"text", "<" + external_url + "/health/report|Vigil health report>"}}})}});
  return {{"text", title}, {"blocks", blocks}};
}

std::string Render(const ReceiverConfig& r, const GroupNotification& n, const RenderContext& ctx) {
  switch (r.type) {
    case ReceiverType::kAlertmanager: return RenderAlertmanager(n.alerts, ctx);
    case ReceiverType::kSlack:
      return SlackMessage(n, ctx.external_url).dump(-1, ' ', false, json::error_handler_t::replace);
    default: return WebhookPayload(n, ctx.external_url).dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

DeliveryOutcome Send(const ReceiverConfig& r, const Notification& n, double now, double alertmanager_ttl_s) {
  if (r.type == ReceiverType::kLog) {
    const json p = json::parse(n.payload, nullptr, false);
    std::string names;
    if (!p.is_discarded())
      for (const auto& a : p.value("alerts", json::array()))
        names += (names.empty() ? "" : ",") + a["labels"].value("alertname", "?") + "/" + a.value("status", "?");
    spdlog::warn("alert notification receiver={} status={} group={} alerts=[{}] key={}", r.name,
                 p.is_discarded() ? "?" : p.value("status", "?"), p.is_discarded() ? "?" : p.value("groupKey", "?"),
                 names, n.idempotency_key);
    DeliveryOutcome ok;
    ok.ok = true;
    return ok;
  }
  httplib::Headers h;
  for (const auto& [k, v] : r.headers) h.emplace(k, v);
  h.emplace("Idempotency-Key", n.idempotency_key);
  h.emplace("User-Agent", "vigil");
  std::string body = n.payload;
  if (r.type == ReceiverType::kAlertmanager) {
    // Firing alerts were rendered with endsAt after created_at; keep them
    // ahead of now however late this attempt is.
    json arr = json::parse(n.payload, nullptr, false);
    if (arr.is_array()) {
      for (json& a : arr) {
        double ends = 0;
        if (a.contains("endsAt") && ParseRfc3339(a["endsAt"].get<std::string>(), &ends) && ends > n.created_at)
          a["endsAt"] = FormatRfc3339(std::max(ends, now + alertmanager_ttl_s));
      }
      body = arr.dump(-1, ' ', false, json::error_handler_t::replace);
    }
  }
  if (!r.secret.empty()) h.emplace("X-Vigil-Signature", "sha256=" + HmacSha256Hex(r.secret, body));
  if (r.urls.empty()) {
    DeliveryOutcome none;
    none.permanent = true;
    none.error = "receiver " + r.name + " has no url";
    return none;
  }
  // Alertmanager replicas share silences and what they notified, never the
  // alerts themselves: like Prometheus, post to every one, so the cluster
  // deduplicates and a replica that goes down loses nothing. One that took
  // the alerts is enough to count as delivered (the others get the next
  // resend). Webhook URLs are fallbacks, tried in order until one takes it.
  const bool all = r.type == ReceiverType::kAlertmanager;
  DeliveryOutcome last, took;
  bool all_permanent = true;
  for (std::string url : r.urls) {
    if (all) {
      while (!url.empty() && url.back() == '/') url.pop_back();
      url += "/api/v2/alerts";
    }
    DeliveryOutcome o = Post(r, url, h, body);
    if (o.ok) {
      if (!all) return o;
      took = o;
      continue;
    }
    if (all) spdlog::warn("receiver {}: {} refused the alerts: {}", r.name, url, o.error);
    all_permanent &= o.permanent;
    if (!last.retry_after_s) last.retry_after_s = o.retry_after_s;
    last.error += (last.error.empty() ? "" : "; ") + o.error;
    last.status = o.status;
  }
  if (took.ok) return took;
  last.permanent = all_permanent;
  return last;
}

}  // namespace vigil::alerts
