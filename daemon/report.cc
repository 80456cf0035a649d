// vigild's monitor endpoints: /health/report (overall and per instance),
// /api/v1/series, /api/v1/anomalies and /api/v1/targets. Each reads one
// monitored instance, chosen with ?instance= (default: the hosted engine,
// or the only instance there is).
#include <httplib.h>

#include <algorithm>
#include <cmath>

#include "common/instance_id.h"
#include "common/units.h"
#include "daemon/daemon.h"
#include "daemon/diagnosis.h"
#include "daemon/http_util.h"
#include "monitor/signal_table.h"
#include "monitor/signals.h"
#include "pipeline/coverage.h"
#include "rules/promql.h"

namespace vigil::daemon {

using json = nlohmann::json;

namespace {

const char* kStatusOrder[] = {"healthy", "degraded", "critical"};
int StatusRank(const std::string& s) {
  for (int i = 0; i < 3; ++i)
    if (s == kStatusOrder[i]) return i;
  return 0;
}

// GET /api/v1/series with ?name= (one signal) or ?names= (1 to 64,
// comma-separated: the dashboard's call), ?window= (default: the retention)
// and, with names, ?step=. One validation for both forms.
struct SeriesQuery {
  std::vector<std::string> names;
  bool several = false;  // ?names=: the multi-signal answer
  double window = 0, step = 0;
};

// False after sending the 4xx.
bool ParseSeriesQuery(const httplib::Request& req, const MonitorConfig& monitor, SeriesQuery* q,
                      httplib::Response& res) {
  ApiError e;
  q->several = req.has_param("names");
  const char* param = q->several ? "names" : "name";
  const std::string list = req.get_param_value(param);
  for (size_t at = 0; at <= list.size();) {
    const size_t end = q->several ? std::min(list.find(',', at), list.size()) : list.size();
    const std::string n = list.substr(at, end - at);
    at = end + 1;
    if (n.empty() && q->several) continue;
    if (!monitor::FindSignal(n)) {
      e.status = 404;
      e.param = param;
      e.message = "unknown signal \"" + n + "\" (GET /api/v1/series lists them)";
      SendError(res, e);
      return false;
    }
    if (std::find(q->names.begin(), q->names.end(), n) == q->names.end()) q->names.push_back(n);
  }
  if (q->several && (q->names.empty() || q->names.size() > 64)) {
    e.param = "names";
    e.message = "'names' takes 1 to 64 signal names, comma-separated";
    SendError(res, e);
    return false;
  }
  q->window = monitor.retention_s;
  for (auto [key, out] : {std::pair<const char*, double*>{"window", &q->window}, {"step", &q->step}}) {
    if (!req.has_param(key) || (out == &q->step && !q->several)) continue;
    if (Status st = ParseDuration(req.get_param_value(key), out); !st.ok()) {
      e.param = key;
      e.message = st.message();
      SendError(res, e);
      return false;
    }
  }
  // A step under the interval would only repeat points: none is the raw data.
  if (q->step <= monitor.interval_s) q->step = 0;
  return true;
}

// A signal's points since `since` as [t, v] pairs; with a step, the mean of
// each step-aligned bucket stamped with its last point's time, so a chart
// of hours stays a few thousand points.
json Points(const monitor::SeriesStore& series, const std::string& name, double since, double step) {
  json pts = json::array();
  double bucket = -1, sum = 0, last_t = 0;
  size_t count = 0;
  auto flush = [&] {
    if (count) pts.push_back({last_t, sum / static_cast<double>(count)});
    sum = 0;
    count = 0;
  };
  for (const auto& p : series.Range(name, since)) {
    if (step == 0) {
      pts.push_back({p.t, p.v});
      continue;
    }
    const double b = std::floor(p.t / step);
    if (b != bucket) flush();
    bucket = b;
    sum += p.v;
    last_t = p.t;
    ++count;
  }
  flush();
  return pts;
}

}  // namespace

const pipeline::Instance* Daemon::ResolveInstance(const httplib::Request& req, httplib::Response& res) const {
  ApiError e;
  if (!pipeline_) {
    e.status = 404;
    e.message = "the monitor is disabled (monitor.enabled: false)";
    SendError(res, e);
    return nullptr;
  }
  const auto names = pipeline_->InstanceNames();
  std::string name;
  if (req.has_param("instance")) {
    name = req.get_param_value("instance");
  } else if (pipeline_->hosted()) {
    name = InstanceId::Local().Name();
  } else if (names.size() == 1) {
    name = names[0];
  } else {
    e.param = "instance";
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    e.message = names.empty() ? "no instance yet: no target has been scraped"
                              : "several instances are monitored: pass ?instance= one of " + list;
    SendError(res, e);
    return nullptr;
  }
  if (const pipeline::Instance* i = pipeline_->Find(name)) return i;
  e.status = 404;
  e.type = "NotFoundError";
  e.param = "instance";
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  e.message = "no instance \"" + name + "\" (monitored: " + (list.empty() ? "none yet" : list) + ")";
  SendError(res, e);
  return nullptr;
}

json Daemon::InstanceReport(const pipeline::Instance& inst, bool detail) const {
  const auto views = inst.Views();
  const json d = Diagnosis(views);
  json out = {{"name", inst.name()}, {"status", d["status"]}, {"primary", d["primary"]}};
  out["target"] = inst.id().target;
  if (!inst.id().engine.empty()) out["engine"] = inst.id().engine;
  monitor::Point up;
  if (inst.series().Latest("target_up", &up)) {
    out["up"] = up.v > 0;
    if (up.v <= 0 && out["status"] == "healthy") out["status"] = "unknown";
  }
  out["symptoms"] = d["symptoms"].size();
  out["firing"] = detail ? d["firing"] : json(d["firing"].size());
  // What cannot be diagnosed here: the pathology rules reading a signal the
  // engine never exposes (watched instances only).
  json cannot = json::array();
  if (!inst.id().local()) {
    const auto missing = inst.missing();
    for (const auto& v : views) {
      if (!v.rule.labels.count("pathology") || !v.rule.expr) continue;
      std::string why;
      for (const auto& sig : v.rule.expr->Signals()) {
        const std::string w = pipeline::WhyUnavailable(sig, missing);
        if (!w.empty()) why += (why.empty() ? "" : "; ") + w;
      }
      if (!why.empty()) cannot.push_back({{"rule", v.rule.name}, {"why", why}});
    }
  }
  out["cannot_diagnose"] = cannot;
  return out;
}

namespace {

// The engine block of /health/report: each figure that is a signal through
// the signal table's one EngineStats mapping (whole numbers print as integers); the
// pool's cached free blocks, the step count and the last second's busy share
// are engine detail with no row.
json EngineJson(const engine::EngineStats& s) {
  json out = {{"kv_blocks_cached_free", s.kv_blocks_cached_free},
              {"steps_total", s.steps_total},
              {"busy_fraction", s.busy_fraction}};
  for (const char* name :
       {"requests_running", "requests_waiting", "kv_cache_usage", "kv_blocks_total", "kv_blocks_used",
        "kv_blocks_orphaned", "preemptions_total", "prefix_cache_queries_total", "prefix_cache_hits_total",
        "prompt_tokens_total", "generation_tokens_total", "avg_sequence_length", "memory_used_bytes"}) {
    const std::optional<double> v = monitor::HostedFigure(s, name);
    if (!v) continue;
    const bool whole = std::abs(*v) < 9e15 && *v == std::floor(*v);
    out[name] = whole ? json(static_cast<int64_t>(*v)) : json(*v);
  }
  return out;
}

}  // namespace

void Daemon::HandleHealthReport(const httplib::Request& req, httplib::Response& res) {
  const std::string problem = HealthProblem();
  const pipeline::Instance* only = nullptr;
  if (req.has_param("instance") && !(only = ResolveInstance(req, res))) return;
  // The most severe firing rule grades the report; a stuck engine is critical.
  const auto views = only ? only->Views() : pipeline_ ? pipeline_->Views() : std::vector<rules::RuleEngine::View>{};
  const json diagnosis = Diagnosis(views);
  std::string status = problem.empty() ? diagnosis["status"].get<std::string>() : "critical";
  json report = {
      {"status", status}, {"reason", problem}, {"version", kVersion}, {"uptime_seconds", UnixNow() - start_time_}};
  if (engine_ && (!only || only->id().local())) {
    const auto s = engine_->GetStats();
    const auto& mi = engine_->model_info();
    report["model"] = served_model_;
    report["engine"] = EngineJson(s);
    if (gpu_) {
      engine::GpuStats g;
      {
        MutexLock lock(&gpu_mu_);
        g = gpu_last_;
      }
      report["gpu"] = GpuJson(g, gpu_id_);
    }
    const auto& e = engine_->config();
    report["config"] = {{"model", mi.name},
                        {"architecture", mi.architecture},
                        {"device", mi.device},
                        {"dtype", mi.dtype},
                        {"block_size", e.block_size},
                        {"num_blocks", mi.kv_blocks},
                        {"max_num_seqs", e.max_num_seqs},
                        {"max_num_batched_tokens", e.max_num_batched_tokens},
                        {"max_model_len", mi.max_model_len},
                        {"enable_chunked_prefill", e.enable_chunked_prefill},
                        {"enable_prefix_caching", e.enable_prefix_caching}};
  }
  report["primary"] = diagnosis["primary"];
  report["symptoms"] = diagnosis["symptoms"];
  report["firing"] = diagnosis["firing"];
  json instances = json::array();
  if (pipeline_) {
    for (const auto& name : pipeline_->InstanceNames()) {
      if (only && only->name() != name) continue;
      const pipeline::Instance* inst = pipeline_->Find(name);
      if (!inst) continue;
      json ir = InstanceReport(*inst, false);
      // A watched target that cannot be scraped is at least degraded.
      if (ir["status"] == "unknown" && StatusRank(status) < 1) status = "degraded";
      instances.push_back(std::move(ir));
    }
  }
  report["status"] = status;
  report["instances"] = instances;
  report["alerting"] = alerting_->Report();
  report["captures"] = captures_->LatestCaptures(5);
  // Alerts that cannot reach the disk are still delivered, but say so.
  if (const std::string fault = alerting_->fault(); !fault.empty() && status == "healthy") {
    report["status"] = "degraded";
    report["reason"] = "alert outbox: " + fault;
  }
  const pipeline::Instance* focus = only;
  if (!focus && pipeline_) focus = pipeline_->Find(pipeline_->hosted() ? "local" : "");
  if (!focus && pipeline_) {
    const auto names = pipeline_->InstanceNames();
    if (names.size() == 1) focus = pipeline_->Find(names[0]);
  }
  if (focus) {
    const double now = UnixNow();
    const auto& det = focus->detectors();
    json anomalies = json::array();
    for (const auto& e : det.Events(now - 600)) anomalies.push_back(AnomalyJson(e));
    if (anomalies.size() > 20) anomalies.erase(anomalies.begin(), anomalies.end() - 20);
    report["anomalies"] = anomalies;
    // What moves together: strongly correlated pairs over the monitor window.
    const auto& names = det.config().matrix_signals;
    auto m = det.CorrelationMatrix(names, now, config_.monitor.window_s);
    json together = json::array();
    for (size_t a = 0; a < names.size(); ++a)
      for (size_t b = a + 1; b < names.size(); ++b)
        if (std::fabs(m[a][b]) >= 0.8) together.push_back({{"a", names[a]}, {"b", names[b]}, {"r", m[a][b]}});
    report["moves_together"] = together;
  }
  res.set_content(report.dump(2, ' ', false, json::error_handler_t::replace), "application/json");
}

void Daemon::HandleSeries(const httplib::Request& req, httplib::Response& res) {
  const pipeline::Instance* inst = ResolveInstance(req, res);
  if (!inst) return;
  const monitor::SeriesStore& series = inst->series();
  if (!req.has_param("name") && !req.has_param("names")) {
    json list = json::array();
    for (const auto& s : monitor::Catalogue()) {
      monitor::Point p;
      json item = {{"name", s.name}, {"unit", s.unit}, {"help", s.help}, {"value", nullptr}, {"time", nullptr}};
      if (series.Latest(s.name, &p)) {
        item["value"] = p.v;
        item["time"] = FormatTime(p.t);
      }
      list.push_back(item);
    }
    res.set_content(json{{"instance", inst->name()},
                         {"signals", list},
                         {"interval_seconds", config_.monitor.interval_s},
                         {"retention_seconds", config_.monitor.retention_s},
                         {"memory_bytes", series.MemoryBytes()}}
                        .dump(),
                    "application/json");
    return;
  }
  SeriesQuery q;
  if (!ParseSeriesQuery(req, config_.monitor, &q, res)) return;
  const double since = UnixNow() - q.window;
  if (!q.several) {
    res.set_content(json{{"instance", inst->name()},
                         {"name", q.names[0]},
                         {"window_seconds", q.window},
                         {"points", Points(series, q.names[0], since, 0)}}
                        .dump(),
                    "application/json");
    return;
  }
  json list = json::array();
  for (const std::string& n : q.names)
    list.push_back({{"name", n}, {"unit", monitor::FindSignal(n)->unit}, {"points", Points(series, n, since, q.step)}});
  res.set_content(
      json{{"instance", inst->name()}, {"window_seconds", q.window}, {"step_seconds", q.step}, {"series", list}}.dump(
          -1, ' ', false, json::error_handler_t::replace),
      "application/json");
}

void Daemon::HandleAnomalies(const httplib::Request& req, httplib::Response& res) {
  const pipeline::Instance* inst = ResolveInstance(req, res);
  if (!inst) return;
  ApiError e;
  double since = 0;
  if (req.has_param("since") && !ParseRfc3339(req.get_param_value("since"), &since)) {
    e.param = "since";
    e.message = "'since' must be an RFC 3339 time such as 2026-11-23T02:00:00Z";
    return SendError(res, e);
  }
  json list = json::array();
  for (const auto& ev : inst->detectors().Events(since)) list.push_back(AnomalyJson(ev));
  res.set_content(json{{"instance", inst->name()}, {"anomalies", list}}.dump(), "application/json");
}

void Daemon::HandleTargets(const httplib::Request&, httplib::Response& res) {
  json data = json::array();
  if (pipeline_) {
    for (const auto& t : pipeline_->Targets()) {
      json errors = json::object();
      for (const auto& [reason, n] : t.errors) errors[reason] = n;
      // Families left out of the last scrape, whose rest was used.
      json dropped = json::array();
      for (const auto& d : t.dropped)
        dropped.push_back({{"family", d.family}, {"reason", d.reason}, {"error", d.detail}});
      data.push_back({{"name", t.name},
                      {"url", t.url},
                      {"kind", t.kind},
                      {"up", t.scraped ? json(t.up) : json()},
                      {"lastScrape", FormatTime(t.last_scrape)},
                      {"lastScrapeDuration", t.duration_s},
                      {"samples", t.samples},
                      {"error", t.error},
                      {"health", t.health < 0 ? json() : json(t.health == 1)},
                      {"healthError", t.health_error},
                      {"instances", t.instances},
                      {"scrapeErrors", errors},
                      {"droppedFamilies", dropped}});
    }
  }
  res.set_content(json{{"status", "success"}, {"data", data}}.dump(-1, ' ', false, json::error_handler_t::replace),
                  "application/json");
}

}  // namespace vigil::daemon
