#include "daemon/daemon.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "common/units.h"
#include "daemon/diagnosis.h"
#include "engine/engine_core.h"
#include "monitor/signals.h"

#include <cmath>
#include <ctime>

namespace vigil::daemon {

const char* const kVersion = "0.1.0";

namespace {

using json = nlohmann::json;

bool Exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

std::string FormatRfc3339(double t) {
  const time_t secs = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  const int ms = static_cast<int>((t - static_cast<double>(secs)) * 1000);
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

// RFC 3339 ("2026-11-23T02:00:00Z", optional fraction and offset) to unix seconds.
bool ParseRfc3339(const std::string& s, double* out) {
  int y, mo, d, h, mi;
  double sec;
  char rest[16] = {0};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%15s", &y, &mo, &d, &h, &mi, &sec, rest) < 6) return false;
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  double t = static_cast<double>(timegm(&tm)) + sec;
  std::string r = rest;
  if (r.empty() || r == "Z" || r == "z") {
  } else if ((r[0] == '+' || r[0] == '-') && r.size() == 6 && r[3] == ':') {
    const int oh = std::atoi(r.substr(1, 2).c_str()), om = std::atoi(r.substr(4, 2).c_str());
    t -= (r[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  } else {
    return false;
  }
  *out = t;
  return true;
}

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string ResolveTokenizer(const Config& c) {
  if (!c.serving.tokenizer.empty()) return c.serving.tokenizer;
  if (c.engine.model.rfind("builtin:", 0) == 0) {
    // The built-in model pairs with GPT-2's tokenizer, shipped with Vigil.
    for (const std::string dir : {std::string(VIGIL_INSTALLED_DATA_DIR), std::string(VIGIL_SOURCE_DATA_DIR)}) {
      if (Exists(dir + "/gpt2.tokenizer.json")) return dir + "/gpt2.tokenizer.json";
    }
    return std::string(VIGIL_INSTALLED_DATA_DIR) + "/gpt2.tokenizer.json";
  }
  return c.engine.model + "/tokenizer.json";
}

json AnomalyJson(const detectors::AnomalyEvent& e) {
  json j = {{"time", FormatRfc3339(e.time)}, {"detector", e.detector}, {"signals", e.signals}, {"value", e.value},
            {"score", e.score}, {"direction", e.direction}, {"message", e.message}};
  if (e.detector == "zscore") {
    j["mean"] = e.mean;
    j["stddev"] = e.stddev;
  }
  if (e.detector == "trend") {
    j["slope_per_s"] = e.slope;
    j["r2"] = e.r2;
    if (e.time_to_exhaustion_s >= 0) j["time_to_exhaustion_s"] = e.time_to_exhaustion_s;
  }
  return j;
}

void SendError(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(e.ToJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

}  // namespace

Status LoadApiKeys(const std::string& path, std::set<std::string>* keys) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path + ": cannot open API keys file");
  std::string line;
  keys->clear();
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') continue;
    keys->insert(line.substr(b));
  }
  if (keys->empty()) return Status::InvalidArgument(path + ": no API keys (one per line)");
  return Status::OK();
}

namespace {
Status LoadToken(const std::string& path, std::string* token) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path + ": cannot open admin token file");
  std::getline(in, *token);
  while (!token->empty() && (token->back() == '\r' || token->back() == ' ')) token->pop_back();
  if (token->size() < 16) return Status::InvalidArgument(path + ": the admin token must be at least 16 characters");
  return Status::OK();
}
}  // namespace

Status Daemon::LoadRuleSet(const Config& config, std::vector<rules::RuleGroup>* groups) const {
  const auto patterns = RulePatterns(config.path, config.rules.files);
  Status st = rules::LoadRules(patterns, groups);
  if (!st.ok() && !config.rules.files_set && st.message().find("no rule files match") != std::string::npos &&
      st.message().find('\n') == std::string::npos) {
    spdlog::warn("rules: no rule files at {} (rules.files unset); running without rules", patterns[0]);
    groups->clear();
    return Status::OK();
  }
  return st;
}

Status Daemon::Create(const Config& config, std::unique_ptr<Daemon>* out) {
  std::unique_ptr<Daemon> d(new Daemon());
  d->config_ = config;
  d->start_time_ = UnixNow();
  if (!config.server.api_keys_file.empty())
    VIGIL_RETURN_IF_ERROR(LoadApiKeys(config.server.api_keys_file, &d->api_keys_).WithContext("server.api_keys_file"));
  if (!config.server.admin_token_file.empty())
    VIGIL_RETURN_IF_ERROR(LoadToken(config.server.admin_token_file, &d->admin_token_).WithContext("server.admin_token_file"));
  std::vector<rules::RuleGroup> groups;
  VIGIL_RETURN_IF_ERROR(d->LoadRuleSet(config, &groups).WithContext("rules.files"));
  d->rules_.Swap(std::move(groups));
  const std::string tok_path = ResolveTokenizer(config);
  VIGIL_RETURN_IF_ERROR(tokenizer::Tokenizer::Load(tok_path, &d->tok_).WithContext("engine.tokenizer"));
  engine::EngineConfig ec = config.engine;
  ec.request_timeout_s = config.monitor.request_timeout_s;
  VIGIL_RETURN_IF_ERROR(engine::CreateEngine(ec, &d->engine_));
  const auto& mi = d->engine_->model_info();
  if (d->tok_->vocab_size() > mi.vocab_size) {
    return Status::InvalidArgument("engine.tokenizer: " + tok_path + " has " + std::to_string(d->tok_->vocab_size()) +
                                   " tokens but the model's vocabulary is " + std::to_string(mi.vocab_size) +
                                   "; they do not belong together");
  }
  d->served_model_ = config.serving.served_model_name.empty() ? config.engine.model : config.serving.served_model_name;
  d->chat_.message_template = config.serving.chat_message_template;
  d->chat_.generation_prompt = config.serving.chat_generation_prompt;
  d->metrics_ = std::make_unique<Metrics>(d->served_model_, kVersion);
  d->metrics_->SetReloadResult(true, UnixNow());
  VIGIL_RETURN_IF_ERROR(d->engine_->Start());
  if (config.monitor.enabled) {
    const MonitorConfig& m = config.monitor;
    const size_t points = static_cast<size_t>(m.retention_s / m.interval_s) + 1;
    d->series_ = std::make_unique<monitor::SeriesStore>(points);
    d->detectors_ = std::make_unique<detectors::DetectorSet>(m.detectors, d->series_.get());
    monitor::SamplerConfig sc;
    sc.interval_s = m.interval_s;
    sc.deriver.window_s = m.window_s;
    sc.deriver.request_timeout_s = m.request_timeout_s;
    engine::Engine* eng = d->engine_.get();
    d->sampler_ = std::make_unique<monitor::Sampler>(sc, [eng] { return eng->GetStats(); }, d->series_.get());
    detectors::DetectorSet* det = d->detectors_.get();
    monitor::SeriesStore* store = d->series_.get();
    rules::RuleEngine* rules = &d->rules_;
    // Detectors first, then rules, which may read the detectors' outputs.
    d->sampler_->AddHook([det, store, rules](double now, const std::vector<std::pair<std::string, double>>& values) {
      for (const auto& e : det->Observe(now, values)) spdlog::info("anomaly: {}: {}", e.detector, e.message);
      MonitorEvalContext ctx(store, det, now);
      for (const auto& t : rules->Evaluate(now, ctx)) {
        spdlog::log(t.to == rules::RuleState::kFiring ? spdlog::level::warn : spdlog::level::info, "rule {}/{}: {} -> {}",
                    t.group, t.name, rules::RuleStateName(t.from),
                    t.to == rules::RuleState::kInactive && t.from == rules::RuleState::kFiring ? "resolved"
                                                                                               : rules::RuleStateName(t.to));
      }
    });
    d->sampler_->Start();
    spdlog::info("monitor: every {}s, window {}s, retention {}s ({} points per signal); {} rules", m.interval_s,
                 m.window_s, m.retention_s, points, d->rules_.size());
  } else {
    spdlog::info("monitor: disabled (monitor.enabled: false); rules are not evaluated");
  }
  d->http_ = std::make_unique<httplib::Server>();
  d->Routes();
  spdlog::info("tokenizer {} ({} tokens); serving model \"{}\"", tok_path, d->tok_->vocab_size(), d->served_model_);
  *out = std::move(d);
  return Status::OK();
}

Daemon::~Daemon() {
  if (sampler_) sampler_->Stop();
  if (engine_) engine_->Stop();
}

Status Daemon::Bind() {
  const ServerConfig& s = config_.server;
  http_->new_task_queue = [n = s.threads] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
  http_->set_payload_max_length(static_cast<size_t>(s.max_request_bytes));
  http_->set_read_timeout(30, 0);
  http_->set_write_timeout(30, 0);
  if (!http_->bind_to_port(s.host.c_str(), s.port)) {
    return Status::IOError("server: cannot listen on " + s.host + ":" + std::to_string(s.port) +
                           " (address in use, or not permitted)");
  }
  port_ = s.port;
  ready_ = true;
  spdlog::info("listening on http://{}:{}", s.host, s.port);
  return Status::OK();
}

void Daemon::Serve() { http_->listen_after_bind(); }

void Daemon::Stop() {
  if (stopping_.exchange(true)) return;
  ready_ = false;
  const double grace = config_.server.shutdown_grace_s;
  spdlog::info("stopping: draining running requests for up to {}s", grace);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace);
  while (std::chrono::steady_clock::now() < deadline) {
    auto s = engine_->GetStats();
    if (s.requests_running == 0 && s.requests_waiting == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto s = engine_->GetStats();
  if (s.requests_running + s.requests_waiting > 0)
    spdlog::warn("grace period over: aborting {} request(s)", s.requests_running + s.requests_waiting);
  if (sampler_) sampler_->Stop();
  engine_->Stop();  // aborts the rest; their streams end
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let handlers flush final chunks
  http_->stop();
  spdlog::info("stopped");
}

Status Daemon::Reload(const Config& next) {
  for (const std::string& k : RestartRequiredChanges(config_, next))
    spdlog::warn("reload: {} changed; it takes effect only after a restart", k);
  std::vector<rules::RuleGroup> groups;
  if (Status rs = LoadRuleSet(next, &groups); !rs.ok()) {
    RecordReloadFailure();
    return rs.WithContext("rules.files");
  }
  std::string token;
  if (!next.server.admin_token_file.empty()) {
    if (Status ts = LoadToken(next.server.admin_token_file, &token); !ts.ok()) {
      RecordReloadFailure();
      return ts.WithContext("server.admin_token_file");
    }
  }
  std::set<std::string> keys;
  if (!next.server.api_keys_file.empty()) {
    Status st = LoadApiKeys(next.server.api_keys_file, &keys);
    if (!st.ok()) {
      RecordReloadFailure();
      return st.WithContext("server.api_keys_file");
    }
  }
  {
    std::lock_guard<std::mutex> lock(config_mu_);
    api_keys_ = std::move(keys);
    admin_token_ = token;
    config_.rules = next.rules;
    config_.server.api_keys_file = next.server.api_keys_file;
    config_.server.admin_token_file = next.server.admin_token_file;
    config_.server.max_waiting_requests = next.server.max_waiting_requests;
    config_.server.shutdown_grace_s = next.server.shutdown_grace_s;
    config_.logging = next.logging;
  }
  rules_.Swap(std::move(groups));
  spdlog::set_level(spdlog::level::from_str(next.logging.level));
  metrics_->SetReloadResult(true, UnixNow());
  spdlog::info("reload: {} rules loaded", rules_.size());
  spdlog::info("reload: configuration applied");
  return Status::OK();
}

void Daemon::RecordReloadFailure() { metrics_->SetReloadResult(false, 0); }

std::string Daemon::HealthProblem() const {
  if (stopping_) return "shutting down";
  if (!ready_) return "starting";
  const auto s = engine_->GetStats();
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
  const double age = static_cast<double>(now - s.heartbeat_ns) / 1e9;
  if (age > config_.server.engine_stall_timeout_s) return "engine loop stuck: no heartbeat for " + std::to_string(static_cast<int>(age)) + "s";
  return "";
}

std::string Daemon::StatusLine() const {
  const auto s = engine_->GetStats();
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s; %ld running, %ld waiting, KV %.0f%%, %ld tokens out",
                stopping_ ? "stopping" : "serving", static_cast<long>(s.requests_running),
                static_cast<long>(s.requests_waiting), s.kv_cache_usage * 100, static_cast<long>(s.generation_tokens_total));
  return buf;
}

bool Daemon::CheckApiKey(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard<std::mutex> lock(config_mu_);
  if (api_keys_.empty()) return true;
  const std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (auth.compare(0, prefix.size(), prefix) == 0 && api_keys_.count(auth.substr(prefix.size()))) return true;
  ApiError e;
  e.status = 401;
  e.type = "authentication_error";
  e.code = "invalid_api_key";
  e.message = auth.empty() ? "missing Authorization: Bearer <key>" : "invalid API key";
  SendError(res, e);
  return false;
}

bool Daemon::CheckAdmin(const httplib::Request& req, httplib::Response& res) {
  std::lock_guard<std::mutex> lock(config_mu_);
  ApiError e;
  if (admin_token_.empty()) {
    e.status = 403;
    e.type = "permission_error";
    e.message = "admin endpoints are disabled: set server.admin_token_file";
    SendError(res, e);
    return false;
  }
  if (req.get_header_value("Authorization") == "Bearer " + admin_token_) return true;
  e.status = 401;
  e.type = "authentication_error";
  e.message = "admin endpoints need Authorization: Bearer <admin token>";
  SendError(res, e);
  return false;
}

void Daemon::Routes() {
  httplib::Server& h = *http_;
  h.Post("/v1/completions", [this](const httplib::Request& q, httplib::Response& r) {
    if (CheckApiKey(q, r)) HandleGenerate(q, r, false);
  });
  h.Post("/v1/chat/completions", [this](const httplib::Request& q, httplib::Response& r) {
    if (CheckApiKey(q, r)) HandleGenerate(q, r, true);
  });
  h.Get("/v1/models", [this](const httplib::Request& q, httplib::Response& r) {
    if (CheckApiKey(q, r)) HandleModels(q, r);
  });
  h.Post("/tokenize", [this](const httplib::Request& q, httplib::Response& r) { HandleTokenize(q, r); });
  h.Post("/detokenize", [this](const httplib::Request& q, httplib::Response& r) { HandleDetokenize(q, r); });
  h.Get("/metrics", [this](const httplib::Request&, httplib::Response& r) {
    std::map<std::pair<std::string, std::string>, uint64_t> counts;
    if (detectors_) counts = detectors_->Counts();
    std::vector<prometheus::MetricFamily> extra;
    const auto views = rules_.Snapshot();
    prometheus::MetricFamily loaded{"vigil_rules_loaded", "Alerting rules loaded", prometheus::MetricType::Gauge, {}};
    loaded.metric.emplace_back();
    loaded.metric.back().gauge.value = static_cast<double>(views.size());
    prometheus::MetricFamily state{"vigil_rule_state", "Rule state: 0 inactive, 1 pending, 2 firing",
                                   prometheus::MetricType::Gauge, {}};
    prometheus::MetricFamily secs{"vigil_rule_evaluation_seconds", "Duration of the rule's last evaluation",
                                  prometheus::MetricType::Gauge, {}};
    for (const auto& v : views) {
      prometheus::ClientMetric m;
      m.label = {{"alert", v.rule.name}, {"group", v.rule.group}};
      m.gauge.value = static_cast<double>(static_cast<int>(v.status.state));
      state.metric.push_back(m);
      m.gauge.value = v.status.eval_seconds;
      secs.metric.push_back(m);
    }
    prometheus::MetricFamily fails{"vigil_rule_evaluation_failures_total", "Rule evaluations with an error",
                                   prometheus::MetricType::Counter, {}};
    fails.metric.emplace_back();
    fails.metric.back().counter.value = static_cast<double>(rules_.evaluation_failures());
    extra.push_back(std::move(loaded));
    if (!state.metric.empty()) extra.push_back(std::move(state));
    if (!secs.metric.empty()) extra.push_back(std::move(secs));
    extra.push_back(std::move(fails));
    r.set_content(metrics_->Render(engine_->GetStats(), detectors_ ? &counts : nullptr, std::move(extra)),
                  "text/plain; version=0.0.4; charset=utf-8");
  });
  h.Get("/health", [this](const httplib::Request&, httplib::Response& r) {
    const std::string problem = HealthProblem();
    r.status = problem.empty() ? 200 : 503;
    r.set_content(json{{"status", problem.empty() ? "ok" : "unavailable"}, {"reason", problem}}.dump(),
                  "application/json");
  });
  h.Get("/ready", [this](const httplib::Request&, httplib::Response& r) {
    const bool ok = ready_ && !stopping_;
    r.status = ok ? 200 : 503;
    r.set_content(json{{"ready", ok}}.dump(), "application/json");
  });
  h.Get("/health/report", [this](const httplib::Request& q, httplib::Response& r) { HandleHealthReport(q, r); });
  h.Get("/api/v1/series", [this](const httplib::Request& q, httplib::Response& r) { HandleSeries(q, r); });
  h.Get("/api/v1/anomalies", [this](const httplib::Request& q, httplib::Response& r) { HandleAnomalies(q, r); });
  h.Get("/api/v1/rules", [this](const httplib::Request&, httplib::Response& r) {
    r.set_content(RulesJson(rules_.Snapshot()).dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  });
  h.Get("/api/v1/alerts", [this](const httplib::Request&, httplib::Response& r) {
    r.set_content(AlertsJson(rules_.Snapshot()).dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  });
  h.Post("/api/v1/rules/reload", [this](const httplib::Request& q, httplib::Response& r) {
    if (!CheckAdmin(q, r)) return;
    Config cfg;
    {
      std::lock_guard<std::mutex> lock(config_mu_);
      cfg = config_;
    }
    std::vector<rules::RuleGroup> groups;
    Status st = LoadRuleSet(cfg, &groups);
    if (!st.ok()) {
      RecordReloadFailure();
      ApiError e;
      e.message = st.message();
      e.type = "rule_error";
      return SendError(r, e);
    }
    rules_.Swap(std::move(groups));
    metrics_->SetReloadResult(true, UnixNow());
    r.set_content(json{{"status", "success"}, {"rules", rules_.size()}}.dump(), "application/json");
  });
  h.Get("/version", [](const httplib::Request&, httplib::Response& r) {
    r.set_content(json{{"version", kVersion}}.dump(), "application/json");
  });
  h.set_error_handler([](const httplib::Request& q, httplib::Response& r) {
    if (!r.body.empty()) return;  // a handler already wrote an error body
    ApiError e;
    e.status = r.status;
    if (r.status == 404) {
      e.type = "NotFoundError";
      e.message = "no route " + q.method + " " + q.path;
    } else if (r.status == 413) {
      e.message = "request body too large";
    } else if (r.status == 405) {
      e.message = "method not allowed";
    } else {
      e.message = "HTTP error " + std::to_string(r.status);
    }
    SendError(r, e);
  });
  h.set_exception_handler([](const httplib::Request&, httplib::Response& r, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("HTTP handler failed: {}", what);
    ApiError e;
    e.status = 500;
    e.type = "internal_error";
    e.message = what;
    SendError(r, e);
  });
  h.set_logger([this](const httplib::Request& q, const httplib::Response& r) {
    std::string endpoint = q.path;
    if (r.status == 404) endpoint = "other";  // keep label cardinality bounded
    metrics_->CountRequest(endpoint, r.status);
  });
}

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
  json report = {{"status", status}, {"reason", problem}, {"version", kVersion},
                 {"uptime_seconds", UnixNow() - start_time_}, {"model", served_model_},
                 {"engine", stats}, {"config", cfg}, {"firing", diagnosis["firing"]}};
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
        item["time"] = FormatRfc3339(p.t);
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
