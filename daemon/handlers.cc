// vigild's read-only HTTP handlers: models, tokenizer, health report,
// series and anomalies. Generation lives in generate.cc, routing in daemon.cc.
#include <httplib.h>

#include <cmath>

#include "common/units.h"
#include "daemon/daemon.h"
#include "daemon/diagnosis.h"
#include "daemon/http_util.h"
#include "monitor/signals.h"

namespace vigil::daemon {

using json = nlohmann::json;

void Daemon::HandleModels(const httplib::Request&, httplib::Response& res) {
  const auto& mi = engine_->model_info();
  json m = {{"id", served_model_}, {"object", "model"}, {"created", static_cast<int64_t>(start_time_)},
            {"owned_by", "vigil"}, {"root", mi.name}, {"max_model_len", mi.max_model_len}};
  res.set_content(json{{"object", "list"}, {"data", json::array({m})}}.dump(), "application/json");
}

void Daemon::HandleTokenize(const httplib::Request& req, httplib::Response& res) {
  json j;
  if (auto e = ParseJsonObject(req.body, &j)) return SendError(res, *e);
  std::string text;
  if (j.contains("prompt") && j["prompt"].is_string()) {
    text = j["prompt"].get<std::string>();
  } else if (j.contains("messages") && j["messages"].is_array()) {
    GenerationRequest g;
    if (auto e = ParseGenerationRequest(req.body, true, served_model_, *tok_, chat_, &g)) return SendError(res, *e);
    res.set_content(json{{"count", g.prompt_ids.size()}, {"max_model_len", engine_->model_info().max_model_len},
                         {"tokens", g.prompt_ids}}.dump(), "application/json");
    return;
  } else {
    ApiError e;
    e.param = "prompt";
    e.message = "'prompt' must be a string (or send 'messages')";
    return SendError(res, e);
  }
  std::vector<int32_t> ids;
  Status st = tok_->Encode(text, &ids);
  if (!st.ok()) {
    ApiError e;
    e.param = "prompt";
    e.message = st.message();
    return SendError(res, e);
  }
  res.set_content(json{{"count", ids.size()}, {"max_model_len", engine_->model_info().max_model_len}, {"tokens", ids}}.dump(),
                  "application/json");
}

void Daemon::HandleDetokenize(const httplib::Request& req, httplib::Response& res) {
  json j;
  if (auto e = ParseJsonObject(req.body, &j)) return SendError(res, *e);
  ApiError bad;
  bad.param = "tokens";
  bad.message = "'tokens' must be an array of token ids in the vocabulary";
  if (!j.contains("tokens") || !j["tokens"].is_array()) return SendError(res, bad);
  std::vector<int32_t> ids;
  for (const json& t : j["tokens"]) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= tok_->vocab_size()) return SendError(res, bad);
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  res.set_content(json{{"prompt", tok_->Decode(ids)}}.dump(), "application/json");
}

void Daemon::HandleHealthReport(const httplib::Request&, httplib::Response& res) {
  const auto s = engine_->GetStats();
  const auto& mi = engine_->model_info();
  const std::string problem = HealthProblem();
  // The most severe firing rule grades the report; a stuck engine is critical.
  const json diagnosis = Diagnosis(rules_.Snapshot());
  const std::string status = problem.empty() ? diagnosis["status"].get<std::string>() : "critical";
  json stats = {{"requests_running", s.requests_running},
                {"requests_waiting", s.requests_waiting},
                {"kv_cache_usage", s.kv_cache_usage},
                {"kv_blocks_total", s.kv_blocks_total},
                {"kv_blocks_used", s.kv_blocks_used},
                {"kv_blocks_cached_free", s.kv_blocks_cached_free},
                {"kv_blocks_orphaned", s.kv_blocks_orphaned},
                {"preemptions_total", s.preemptions_total},
                {"prefix_cache_queries_total", s.prefix_cache_queries_total},
                {"prefix_cache_hits_total", s.prefix_cache_hits_total},
                {"prompt_tokens_total", s.prompt_tokens_total},
                {"generation_tokens_total", s.generation_tokens_total},
                {"busy_fraction", s.busy_fraction},
                {"avg_sequence_length", s.avg_sequence_length},
                {"memory_used_bytes", s.memory_used_bytes},
                {"steps_total", s.steps_total}};
  const auto& e = engine_->config();
  json cfg = {{"model", mi.name}, {"architecture", mi.architecture}, {"device", mi.device}, {"dtype", mi.dtype},
              {"block_size", e.block_size}, {"num_blocks", mi.kv_blocks}, {"max_num_seqs", e.max_num_seqs},
              {"max_num_batched_tokens", e.max_num_batched_tokens}, {"max_model_len", mi.max_model_len},
              {"enable_chunked_prefill", e.enable_chunked_prefill}, {"enable_prefix_caching", e.enable_prefix_caching}};
  json alerting = json::object();
  if (notifier_) {
    json receivers = json::object();
    for (const auto& [name, rs] : notifier_->deliverer().Stats())
      receivers[name] = {{"pending", rs.pending}, {"delivered", rs.delivered}, {"failed_attempts", rs.failed},
                         {"dead", rs.dead}};
    alerting = {{"fault", notifier_->fault()}, {"receivers", receivers}};
  }
  json report = {{"status", status}, {"reason", problem}, {"version", kVersion},
                 {"uptime_seconds", UnixNow() - start_time_}, {"model", served_model_},
                 {"engine", stats}, {"config", cfg}, {"primary", diagnosis["primary"]},
                 {"symptoms", diagnosis["symptoms"]}, {"firing", diagnosis["firing"]}, {"alerting", alerting},
                 {"captures", LatestCaptures(5)}};
  // Alerts that cannot reach the disk are still delivered, but say so.
  if (notifier_ && !notifier_->fault().empty() && status == "healthy") {
    report["status"] = "degraded";
    report["reason"] = "alert outbox: " + notifier_->fault();
  }
  if (detectors_) {
    const double now = UnixNow();
    json anomalies = json::array();
    for (const auto& e : detectors_->Events(now - 600)) anomalies.push_back(AnomalyJson(e));
    if (anomalies.size() > 20) anomalies.erase(anomalies.begin(), anomalies.end() - 20);
    report["anomalies"] = anomalies;
    // What moves together: strongly correlated pairs over the monitor window.
    const auto& names = detectors_->config().matrix_signals;
    auto m = detectors_->CorrelationMatrix(names, now, config_.monitor.window_s);
    json together = json::array();
    for (size_t a = 0; a < names.size(); ++a)
      for (size_t b = a + 1; b < names.size(); ++b)
        if (std::fabs(m[a][b]) >= 0.8) together.push_back({{"a", names[a]}, {"b", names[b]}, {"r", m[a][b]}});
    report["moves_together"] = together;
  }
  res.set_content(report.dump(2), "application/json");
}

void Daemon::HandleSeries(const httplib::Request& req, httplib::Response& res) {
  ApiError e;
  if (!series_) {
    e.status = 404;
    e.message = "the monitor is disabled (monitor.enabled: false)";
    return SendError(res, e);
  }
  const double now = UnixNow();
  if (!req.has_param("name")) {
    json list = json::array();
    for (const auto& s : monitor::Catalogue()) {
      monitor::Point p;
      json item = {{"name", s.name}, {"unit", s.unit}, {"help", s.help}, {"value", nullptr}, {"time", nullptr}};
      if (series_->Latest(s.name, &p)) {
        item["value"] = p.v;
        item["time"] = FormatTime(p.t);
      }
      list.push_back(item);
    }
    res.set_content(json{{"signals", list}, {"interval_seconds", config_.monitor.interval_s},
                         {"retention_seconds", config_.monitor.retention_s},
                         {"memory_bytes", series_->MemoryBytes()}}.dump(), "application/json");
    return;
  }
  const std::string name = req.get_param_value("name");
  if (!monitor::FindSignal(name)) {
    e.status = 404;
    e.param = "name";
    e.message = "unknown signal \"" + name + "\" (GET /api/v1/series lists them)";
    return SendError(res, e);
  }
  double window = config_.monitor.retention_s;
  if (req.has_param("window")) {
    Status st = ParseDuration(req.get_param_value("window"), &window);
    if (!st.ok()) {
      e.param = "window";
      e.message = st.message();
      return SendError(res, e);
    }
  }
  json pts = json::array();
  for (const auto& p : series_->Range(name, now - window)) pts.push_back({p.t, p.v});
  res.set_content(json{{"name", name}, {"window_seconds", window}, {"points", pts}}.dump(), "application/json");
}

void Daemon::HandleAnomalies(const httplib::Request& req, httplib::Response& res) {
  ApiError e;
  if (!detectors_) {
    e.status = 404;
    e.message = "the monitor is disabled (monitor.enabled: false)";
    return SendError(res, e);
  }
  double since = 0;
  if (req.has_param("since") && !ParseRfc3339(req.get_param_value("since"), &since)) {
    e.param = "since";
    e.message = "'since' must be an RFC 3339 time such as 2026-11-23T02:00:00Z";
    return SendError(res, e);
  }
  json list = json::array();
  for (const auto& ev : detectors_->Events(since)) list.push_back(AnomalyJson(ev));
  res.set_content(json{{"anomalies", list}}.dump(), "application/json");
}

}  // namespace vigil::daemon
