#include "daemon/daemon.h"
#include "common/os_util.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "common/clock.h"
#include "common/units.h"
#include "daemon/diagnosis.h"
#include "daemon/front_server.h"
#include "daemon/http_util.h"
#include "daemon/install_dirs.h"
#include "engine/engine_core.h"
#include "monitor/signals.h"

#include <cmath>
#include <ctime>
#include <optional>

namespace vigil::daemon {

const char* const kVersion = "0.1.0";

namespace {

using json = nlohmann::json;

bool Exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

std::string ResolveTokenizer(const Config& c) {
  if (!c.serving.tokenizer.empty()) return c.serving.tokenizer;
  if (c.engine.model.rfind("builtin:", 0) == 0) {
    // The built-in model pairs with GPT-2's tokenizer, shipped with Vigil.
    for (const std::string& dir : {vigil::daemon::ExeRelativeDataDir(), std::string(VIGIL_INSTALLED_DATA_DIR),
                                   std::string(VIGIL_SOURCE_DATA_DIR)}) {
      if (Exists(dir + "/gpt2.tokenizer.json")) return dir + "/gpt2.tokenizer.json";
    }
    return std::string(VIGIL_INSTALLED_DATA_DIR) + "/gpt2.tokenizer.json";
  }
  return c.engine.model + "/tokenizer.json";
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
  VIGIL_RETURN_IF_ERROR(ReadSecretFile(path, "admin token file", token));
  if (token->size() < 16) return Status::InvalidArgument(path + ": the admin token must be at least 16 characters");
  return Status::OK();
}
}  // namespace

// The engine's thread, and libtorch's worker threads it creates (a thread
// inherits its creator's nice value), run kEngineNice below the rest of
// vigild: on a CPU host the engine keeps every core busy under load, and at
// equal priority /metrics, /health, the report and the token delivery wait
// for the scheduler's time slices (p99 over 50 ms on 2 cores). The engine
// still gets all the CPU the rest leaves. Started from a short-lived thread
// at that nice, as an unprivileged process cannot lower its own nice back.
static Status StartEngineBelowServing(engine::Engine* eng) {
  constexpr int kEngineNice = 5;
  Status st;
  std::thread starter([&] {
    const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
    errno = 0;
    const int now = ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    if (errno == 0 && ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), std::min(19, now + kEngineNice)) != 0)
      spdlog::warn("engine: cannot lower the engine thread's priority: {}", std::strerror(errno));
    st = eng->Start();
  });
  starter.join();
  return st;
}

Status Daemon::LoadRuleSet(const Config& config, std::vector<rules::RuleGroup>* groups,
                           std::vector<rules::InhibitRule>* inhibits) const {
  const auto patterns = RulePatterns(config.path, config.rules.files);
  Status st = rules::LoadRules(patterns, groups, inhibits);
  inhibits->insert(inhibits->end(), config.alerts.inhibit_rules.begin(), config.alerts.inhibit_rules.end());
  if (!st.ok() && !config.rules.files_set && st.code() == Status::Code::kNotFound) {
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
  std::set<std::string> keys;
  std::string token;
  if (!config.server.api_keys_file.empty())
    VIGIL_RETURN_IF_ERROR(LoadApiKeys(config.server.api_keys_file, &keys).WithContext("server.api_keys_file"));
  if (!config.server.admin_token_file.empty())
    VIGIL_RETURN_IF_ERROR(LoadToken(config.server.admin_token_file, &token).WithContext("server.admin_token_file"));
  {
    MutexLock lock(&d->config_mu_);
    d->live_config_ = config;
    d->api_keys_ = std::move(keys);
    d->admin_token_ = std::move(token);
  }
  if (!config.targets.empty() && !config.monitor.enabled)
    return Status::InvalidArgument("targets: watching targets needs the monitor (monitor.enabled: true)");
  if (!config.engine_enabled && config.targets.empty())
    return Status::InvalidArgument(
        "engine.model: none needs targets: to watch (a vigild with neither has nothing to do)");
  std::vector<rules::RuleGroup> groups;
  std::vector<rules::InhibitRule> inhibits;
  VIGIL_RETURN_IF_ERROR(d->LoadRuleSet(config, &groups, &inhibits).WithContext("rules.files"));
  std::string tok_path;
  if (config.engine_enabled) {
    tok_path = ResolveTokenizer(config);
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
    d->served_model_ =
        config.serving.served_model_name.empty() ? config.engine.model : config.serving.served_model_name;
  }
  d->chat_.message_template = config.serving.chat_message_template;
  d->chat_.generation_prompt = config.serving.chat_generation_prompt;
  d->metrics_ = std::make_unique<Metrics>(d->served_model_, kVersion, config.server.external_labels);
  d->metrics_->SetReloadResult(true, UnixNow());
  Daemon* self = d.get();
  // Read on the monitor thread only; captures_ is set before it starts.
  auto capture_link = [self](const std::string& rule, const std::string& target) {
    return self->captures_->CaptureLink(rule, target);
  };
  VIGIL_RETURN_IF_ERROR(AlertingApi::Create(config, capture_link, &d->alerting_));
  if (d->engine_) VIGIL_RETURN_IF_ERROR(StartEngineBelowServing(d->engine_.get()));
  // Read at trigger time: the series store is created after this.
  auto throughput_before = [self]() -> double {
    const pipeline::Instance* local = self->pipeline_ ? self->pipeline_->Find("local") : nullptr;
    if (!local) return -1;
    const auto pts = local->series().Range("output_tokens_per_s", UnixNow() - 60);
    if (pts.empty()) return -1;
    double sum = 0;
    for (const auto& p : pts) sum += p.v;
    return sum / static_cast<double>(pts.size());
  };
  // Before the monitor: its rules trigger captures.
  d->captures_ = std::make_unique<CaptureApi>(config, d->engine_.get(), d->served_model_, throughput_before);
  d->ui_ = std::make_unique<UiApi>(config.server);
  if (config.monitor.enabled) VIGIL_RETURN_IF_ERROR(d->StartMonitor(std::move(groups), std::move(inhibits)));
  else spdlog::info("monitor: disabled (monitor.enabled: false); rules are not evaluated");
  d->http_ = std::make_unique<RouteTable>();
  d->Routes();
  FrontServerOptions fo;
  fo.worker_threads = config.server.threads;
  fo.max_request_bytes = config.server.max_request_bytes;
  fo.error_body = [](int status, const std::string& message) {
    ApiError e;
    e.status = status;
    e.message = message;
    if (status >= 500) e.type = "service_unavailable";
    return e.ToJson().dump(-1, ' ', false, json::error_handler_t::replace);
  };
  fo.logger = [self](const std::string& path, int status) { self->metrics_->CountRequest(path, status); };
  d->front_ = std::make_unique<FrontServer>(d->http_.get(), std::move(fo));
  if (d->engine_) {  // a sidecar serves no /v1/*: it has no model
    for (bool chat : {false, true})
      d->front_->Stream("POST", chat ? "/v1/chat/completions" : "/v1/completions",
                        [self, chat](const httplib::Request& q, std::shared_ptr<Exchange> ex) {
                          self->HandleGenerate(q, std::move(ex), chat);
                        });
  }
  if (d->engine_)
    spdlog::info("tokenizer {} ({} tokens); serving model \"{}\"", tok_path, d->tok_->vocab_size(), d->served_model_);
  else spdlog::info("no engine of its own (a sidecar): watching {} target(s)", config.targets.size());
  *out = std::move(d);
  return Status::OK();
}

Status Daemon::StartMonitor(std::vector<rules::RuleGroup> groups, std::vector<rules::InhibitRule> inhibits) {
  const MonitorConfig& m = config_.monitor;
  pipeline::PipelineConfig pc;
  pc.interval_s = m.interval_s;
  pc.retention_s = m.retention_s;
  pc.deriver.window_s = m.window_s;
  pc.deriver.request_timeout_s = m.request_timeout_s;
  pc.deriver.engine_stall_timeout_s = config_.server.engine_stall_timeout_s;
  pc.detectors = m.detectors;
  pc.targets = config_.targets;
  pipeline::Pipeline::StatsSource hosted;
  if (engine::Engine* eng = engine_.get()) {
    const int cuda = eng->GetStats().cuda_device;
    if (cuda >= 0) {
      std::string why;
      gpu_ = monitor::GpuProbe::Open(cuda, &why);
      if (gpu_) {
        gpu_id_ = {gpu_->nvml_index(), gpu_->uuid(), gpu_->device()};
        spdlog::info("monitor: GPU figures from NVML ({}{})", gpu_->device(),
                     gpu_->uuid().empty() ? "" : ", " + gpu_->uuid());
      } else {
        spdlog::warn("monitor: {}; the gpu_* signals are absent and utilization falls back to busy_fraction", why);
      }
    }
    monitor::GpuProbe* gpu = gpu_.get();  // read on the monitor thread only
    hosted = [this, eng, gpu] {
      engine::EngineStats s = eng->GetStats();
      s.gpu_probed = gpu != nullptr;
      if (gpu) {
        gpu->Read(&s.gpu);
        // /metrics and the report show this read, rather than reading NVML
        // again: one reader for the XID events, the same figures as the series.
        MutexLock lock(&gpu_mu_);
        gpu_last_ = s.gpu;
      }
      return s;
    };
  }
  VIGIL_RETURN_IF_ERROR(pipeline::Pipeline::Create(pc, std::move(hosted), &pipeline_));
  pipeline_->SetRules(std::move(groups), std::move(inhibits));
  pipeline_->SetHook([this](const pipeline::TickResult& tick) { OnTick(tick); });
  pipeline_->Start();
  const size_t points = static_cast<size_t>(m.retention_s / m.interval_s) + 1;
  spdlog::info("monitor: every {}s, window {}s, retention {}s ({} points per signal); {} rules; {} target(s)",
               m.interval_s, m.window_s, m.retention_s, points, pipeline_->rule_count(), config_.targets.size());
  for (const auto& t : config_.targets)
    spdlog::info("monitor: watching {} at {} (engine {})", t.name, t.url,
                 t.engine == scrape::EngineKind::kUnknown ? "auto" : scrape::EngineKindName(t.engine));
  return Status::OK();
}

void Daemon::OnTick(const pipeline::TickResult& tick) {
  captures_->OnTick(tick, *pipeline_);  // captures first, so the alert can link to its capture
  alerting_->ObserveFiring(tick);
  ui_->RecordHistory(tick);
}

// The HTTP server's workers are joined by now (Serve returned, or never ran).
Daemon::~Daemon() {
  if (pipeline_) pipeline_->Stop();
  if (alerting_) alerting_->Stop();
  if (captures_) captures_->Shutdown();  // interrupts target captures' windows, stops a running one
  if (engine_) engine_->Stop();
  captures_.reset();  // after the engine: no capture callback can reach it any more; joins the writer
}

Status Daemon::Bind() {
  const ServerConfig& s = config_.server;
  http_->set_payload_max_length(static_cast<size_t>(s.max_request_bytes));
  http_->set_keep_alive_timeout(60);  // what its Keep-Alive header says; the front server closes idle ones
  http_->set_keep_alive_max_count(100000);
  // Every connection is a descriptor, and a thousand streams plus scrapers
  // and idle keep-alive clients pass the usual soft limit of 1024.
  struct rlimit nofile {};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &nofile) != 0) spdlog::warn("server: cannot raise the open-files limit");
  }
  VIGIL_RETURN_IF_ERROR(front_->Bind(s.host, s.port));
  port_ = s.port;
  ready_ = true;
  spdlog::info("listening on http://{}:{}", s.host, s.port);
  return Status::OK();
}

void Daemon::Serve() { front_->Serve(); }

void Daemon::Stop() {
  if (stopping_.exchange(true)) return;
  ready_ = false;
  double grace;
  {
    MutexLock lock(&config_mu_);
    grace = live_config_.server.shutdown_grace_s;
  }
  spdlog::info("stopping: draining running requests for up to {}s", grace);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace);
  while (engine_ && std::chrono::steady_clock::now() < deadline) {
    auto s = engine_->GetLoad();
    if (s.requests_running == 0 && s.requests_waiting == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (engine_) {
    auto s = engine_->GetLoad();
    if (s.requests_running + s.requests_waiting > 0)
      spdlog::warn("grace period over: aborting {} request(s)", s.requests_running + s.requests_waiting);
  }
  if (pipeline_) pipeline_->Stop();
  alerting_->Stop();  // what is queued stays in the outbox for the next start
  // Stopped, not destroyed: HTTP handlers may still be reading them. The
  // destructor frees them, after Serve has joined the HTTP workers.
  captures_->Shutdown();
  if (engine_) engine_->Stop();                                 // aborts the rest; their streams end
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let streams flush their final chunks
  front_->Stop();
  spdlog::info("stopped");
}

Status Daemon::Reload(const Config& next) {
  MutexLock one(&reload_mu_);  // SIGHUP and POST /api/v1/rules/reload: one at a time
  auto fail = [this](const Status& st) {
    spdlog::error("reload failed, keeping the running configuration: {}", st.message());
    RecordReloadFailure();
    return st;
  };
  for (const std::string& k : RestartRequiredChanges(config_, next))
    spdlog::warn("reload: {} changed; it takes effect only after a restart", k);
  std::vector<rules::RuleGroup> groups;
  std::vector<rules::InhibitRule> inhibits;
  if (Status rs = LoadRuleSet(next, &groups, &inhibits); !rs.ok()) return fail(rs.WithContext("rules.files"));
  std::string token;
  if (!next.server.admin_token_file.empty()) {
    if (Status ts = LoadToken(next.server.admin_token_file, &token); !ts.ok())
      return fail(ts.WithContext("server.admin_token_file"));
  }
  std::set<std::string> keys;
  if (!next.server.api_keys_file.empty()) {
    if (Status ks = LoadApiKeys(next.server.api_keys_file, &keys); !ks.ok())
      return fail(ks.WithContext("server.api_keys_file"));
  }
  {
    MutexLock lock(&config_mu_);
    api_keys_ = std::move(keys);
    admin_token_ = token;
    live_config_.rules = next.rules;
    live_config_.alerts.inhibit_rules = next.alerts.inhibit_rules;  // applied live, unlike the rest of alerts:
    live_config_.server.api_keys_file = next.server.api_keys_file;
    live_config_.server.admin_token_file = next.server.admin_token_file;
    live_config_.server.max_waiting_requests = next.server.max_waiting_requests;
    live_config_.server.shutdown_grace_s = next.server.shutdown_grace_s;
    live_config_.logging = next.logging;
  }
  if (pipeline_) pipeline_->SetRules(std::move(groups), std::move(inhibits));
  spdlog::set_level(spdlog::level::from_str(next.logging.level));
  metrics_->SetReloadResult(true, UnixNow());
  spdlog::info("reload: {} rules loaded", pipeline_ ? pipeline_->rule_count() : 0);
  spdlog::info("reload: configuration applied");
  return Status::OK();
}

Status Daemon::ReloadRunning() {
  Config running;
  {
    MutexLock lock(&config_mu_);
    running = live_config_;
  }
  return Reload(running);
}

void Daemon::RecordReloadFailure() { metrics_->SetReloadResult(false, 0); }

std::string Daemon::HealthProblem() const {
  if (stopping_) return "shutting down";
  if (!ready_) return "starting";
  if (!engine_) return "";  // a sidecar: its targets' health is in the report, not in vigild's own
  const auto s = engine_->GetLoad();
  const int64_t now = RealClock::SteadyNs();  // the engine's heartbeat clock
  const double age = static_cast<double>(now - s.heartbeat_ns) / 1e9;
  if (age > config_.server.engine_stall_timeout_s)
    return "engine loop stuck: no heartbeat for " + std::to_string(static_cast<int>(age)) + "s";
  return "";
}

std::string Daemon::StatusLine() const {
  if (!engine_) {
    size_t up = 0, n = 0;
    if (pipeline_)
      for (const auto& t : pipeline_->Targets()) {
        ++n;
        up += t.up ? 1 : 0;
      }
    return std::string(stopping_ ? "stopping" : "watching") + "; " + std::to_string(up) + " of " + std::to_string(n) +
           " targets up";
  }
  const auto s = engine_->GetLoad();
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s; %ld running, %ld waiting, KV %.0f%%, %ld tokens out",
                stopping_ ? "stopping" : "serving", static_cast<long>(s.requests_running),
                static_cast<long>(s.requests_waiting), s.kv_cache_usage * 100,
                static_cast<long>(s.generation_tokens_total));
  return buf;
}

bool Daemon::CheckApiKey(const httplib::Request& req, httplib::Response& res) {
  MutexLock lock(&config_mu_);
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
  MutexLock lock(&config_mu_);
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
  if (engine_) {  // a sidecar serves no /v1/*: it has no model
    // POST /v1/completions and /v1/chat/completions are streams of the
    // front server (Create), not routes here.
    h.Get("/v1/models", [this](const httplib::Request& q, httplib::Response& r) {
      if (CheckApiKey(q, r)) HandleModels(q, r);
    });
    h.Post("/tokenize", [this](const httplib::Request& q, httplib::Response& r) { HandleTokenize(q, r); });
    h.Post("/detokenize", [this](const httplib::Request& q, httplib::Response& r) { HandleDetokenize(q, r); });
  }
  h.Get("/metrics", [this](const httplib::Request&, httplib::Response& r) {
    std::map<std::pair<std::string, std::string>, uint64_t> counts;
    const pipeline::Instance* local = pipeline_ ? pipeline_->Find("local") : nullptr;
    if (local) counts = local->detectors().Counts();
    // Each component collects its own families; the daemon adds the GPU's.
    std::vector<prometheus::MetricFamily> extra;
    std::vector<const Collectable*> parts = {pipeline_.get(), &alerting_->metrics(), &captures_->metrics()};
    for (const Collectable* c : parts)
      if (c)
        for (const auto& f : c->Collect()) extra.push_back(ToPrometheus(f));
    if (gpu_) {
      engine::GpuStats g;
      {
        MutexLock lock(&gpu_mu_);
        g = gpu_last_;
      }
      for (auto& f : GpuFamilies(g, gpu_id_)) extra.push_back(std::move(f));
    }
    std::optional<engine::EngineStats> stats;
    if (engine_) stats = engine_->GetStats();
    r.set_content(metrics_->Render(stats ? &*stats : nullptr, local ? &counts : nullptr, std::move(extra)),
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
  h.Get("/api/v1/targets", [this](const httplib::Request& q, httplib::Response& r) { HandleTargets(q, r); });
  auto views = [this] { return pipeline_ ? pipeline_->Views() : std::vector<rules::RuleEngine::View>{}; };
  h.Get("/api/v1/rules", [views](const httplib::Request&, httplib::Response& r) {
    r.set_content(RulesJson(views()).dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  });
  h.Get("/api/v1/alerts", [this, views](const httplib::Request&, httplib::Response& r) {
    auto silenced = [this](const std::map<std::string, std::string>& l) { return alerting_->SilencedBy(l); };
    r.set_content(AlertsJson(views(), silenced).dump(-1, ' ', false, json::error_handler_t::replace),
                  "application/json");
  });
  h.Post("/api/v1/rules/reload", [this](const httplib::Request& q, httplib::Response& r) {
    if (!CheckAdmin(q, r)) return;
    if (Status st = ReloadRunning(); !st.ok()) {
      ApiError e;
      e.message = st.message();
      e.type = "rule_error";
      return SendError(r, e);
    }
    r.set_content(json{{"status", "success"}, {"rules", pipeline_ ? pipeline_->rule_count() : 0}}.dump(),
                  "application/json");
  });
  auto check_admin = [this](const httplib::Request& q, httplib::Response& r) { return CheckAdmin(q, r); };
  alerting_->Routes(h, check_admin);
  captures_->Routes(h, check_admin);
  ui_->Routes(h);
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
    } catch (const std::exception& e) { what = e.what(); } catch (...) {
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

}  // namespace vigil::daemon
