// The dashboard: vigild serves its page at / and its assets under /ui/, and
// keeps the alert history the page draws as shaded bands. The page is plain
// HTML, CSS and JavaScript over the JSON APIs; charts are Debian's
// libjs-dygraphs, served from where Debian installs it (no CDN, no build).
// A strict Content-Security-Policy: scripts, styles and requests from
// vigild's own origin only, no inline code, no framing.
#include "daemon/ui.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "common/os_util.h"
#include "common/time_util.h"
#include "common/units.h"
#include "daemon/diagnosis.h"
#include "daemon/http_util.h"
#include "daemon/install_dirs.h"

namespace vigil::daemon {
namespace {

using json = nlohmann::json;

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

bool IsDir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The page's folder: the configured one, else the installed one, else the
// source tree's (a build run from its checkout).
std::string UiDir(const std::string& configured) {
  if (!configured.empty()) return configured;
  for (const std::string& d : {vigil::daemon::ExeRelativeDataDir() + "/ui",
                               std::string(VIGIL_INSTALLED_DATA_DIR) + "/ui", std::string(VIGIL_SOURCE_UI_DIR)})
    if (IsDir(d)) return d;
  return std::string(VIGIL_INSTALLED_DATA_DIR) + "/ui";
}

}  // namespace

void UiApi::Routes(httplib::Server& h) {
  if (!server_.ui) return;
  // A fixed list, read once: nothing under /ui/ maps a request path onto the
  // file system, so no path can climb out of these folders.
  struct Asset {
    std::string url, file, type;
  };
  const std::string dir = UiDir(server_.ui_dir);
  const std::string vendor = VIGIL_DYGRAPHS_DIR;
  const std::vector<Asset> list = {
      {"/ui/index.html", dir + "/index.html", "text/html; charset=utf-8"},
      {"/ui/app.js", dir + "/app.js", "text/javascript; charset=utf-8"},
      {"/ui/charts.js", dir + "/charts.js", "text/javascript; charset=utf-8"},
      {"/ui/app.css", dir + "/app.css", "text/css; charset=utf-8"},
      {"/ui/favicon.svg", dir + "/favicon.svg", "image/svg+xml"},
      {"/ui/vendor/dygraph.min.js", vendor + "/dygraph.min.js", "text/javascript; charset=utf-8"},
      {"/ui/vendor/dygraph.min.css", vendor + "/dygraph.min.css", "text/css; charset=utf-8"},
  };
  auto assets = std::make_shared<std::map<std::string, std::pair<std::string, std::string>>>();
  std::string missing;
  for (const Asset& a : list) {
    std::string body;
    if (!ReadFileToString(a.file, &body)) {
      missing += (missing.empty() ? "" : ", ") + a.file;
      continue;
    }
    (*assets)[a.url] = {std::move(body), a.type};
  }
  if (!missing.empty())
    spdlog::warn("dashboard: cannot read {} (server.ui_dir; the charts need Debian's libjs-dygraphs); / answers 503",
                 missing);
  else spdlog::info("dashboard: http://{}:{}/ (page from {}, charts from {})", server_.host, server_.port, dir, vendor);
  auto serve = [assets, missing](const std::string& url, httplib::Response& r) {
    r.set_header("Content-Security-Policy", kCsp);
    r.set_header("X-Content-Type-Options", "nosniff");
    r.set_header("Referrer-Policy", "no-referrer");
    r.set_header("Cache-Control", "no-cache");
    auto it = assets->find(url);
    if (it != assets->end()) return r.set_content(it->second.first, it->second.second.c_str());
    ApiError e;
    e.status = missing.empty() ? 404 : 503;
    e.type = missing.empty() ? "NotFoundError" : "unavailable";
    e.message = missing.empty() ? "no dashboard asset " + url : "dashboard assets missing: " + missing;
    SendError(r, e);
  };
  h.Get("/", [serve](const httplib::Request&, httplib::Response& r) { serve("/ui/index.html", r); });
  h.Get("/ui/", [serve](const httplib::Request&, httplib::Response& r) { serve("/ui/index.html", r); });
  h.Get(R"(/ui/([a-z./]+))", [serve](const httplib::Request& q, httplib::Response& r) { serve(q.path, r); });
  h.Get("/api/v1/alerts/history",
        [this](const httplib::Request& q, httplib::Response& r) { HandleAlertHistory(q, r); });
}

void UiApi::RecordHistory(const pipeline::TickResult& tick) {
  std::vector<alerts::Episode> firing;
  for (const auto& inst : tick.instances)
    for (const auto& v : inst.views) {
      if (v.status.state != rules::RuleState::kFiring) continue;
      alerts::Episode e;
      e.instance = inst.id.Name();
      e.group = v.rule.group;
      e.alertname = v.rule.name;
      e.labels = v.rule.labels;
      e.labels["alertname"] = v.rule.name;
      auto s = v.status.annotations.find("summary");
      if (s != v.status.annotations.end()) e.summary = s->second;
      e.starts_at = v.status.fired_at > 0 ? v.status.fired_at : tick.now;
      e.inhibited = !v.status.inhibited_by.empty();
      firing.push_back(std::move(e));
    }
  history_.Observe(tick.now, firing);
}

void UiApi::HandleAlertHistory(const httplib::Request& req, httplib::Response& res) const {
  ApiError e;
  double since = UnixNow() - 3600;
  if (req.has_param("since") && !ParseRfc3339(req.get_param_value("since"), &since)) {
    e.param = "since";
    e.message = "'since' must be an RFC 3339 time such as 2026-11-23T02:00:00Z";
    return SendError(res, e);
  }
  const std::string instance = req.has_param("instance") ? req.get_param_value("instance") : "";
  json list = json::array();
  for (const auto& ep : history_.Since(since, instance)) {
    list.push_back({{"alertname", ep.alertname},
                    {"group", ep.group},
                    {"instance", ep.instance},
                    {"labels", ep.labels},
                    {"summary", ep.summary},
                    {"inhibited", ep.inhibited},
                    {"state", ep.ends_at > 0 ? "resolved" : "firing"},
                    {"startsAt", FormatTime(ep.starts_at)},
                    {"endsAt", ep.ends_at > 0 ? json(FormatTime(ep.ends_at)) : json()}});
  }
  res.set_content(json{{"episodes", list}}.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

}  // namespace vigil::daemon
