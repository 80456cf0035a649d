#include "capture/manager.h"

#include <dirent.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "common/os_util.h"
#include "common/time_util.h"
#include "common/units.h"

namespace vigil::capture {

using json = nlohmann::json;

namespace {

constexpr const char* kTrace = ".pt.trace.json.gz";
constexpr const char* kSummary = ".summary.json";

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

bool CaptureManager::ValidId(const std::string& id) {
  if (id.empty() || id.size() > 64 || !std::isalnum(static_cast<unsigned char>(id[0]))) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

CaptureManager::CaptureManager(CaptureConfig cfg, engine::Engine* engine, std::function<double()> throughput_before,
                               json config_snapshot, Clock* clock, CapturePolicy* policy)
    : cfg_(std::move(cfg)),
      engine_(engine),
      throughput_before_(std::move(throughput_before)),
      config_snapshot_(std::move(config_snapshot)),
      clock_(clock),
      own_policy_(policy ? nullptr
                         : std::make_unique<CapturePolicy>(cfg_.rule_cooldown_s, cfg_.global_cooldown_s, clock)),
      policy_(policy ? policy : own_policy_.get()) {
  writer_ = std::thread([this] { WriterLoop(); });
}

CaptureManager::~CaptureManager() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  writer_.join();
}

std::string CaptureManager::NewId(double unix_now, const std::string& trigger) {
  const time_t secs = static_cast<time_t>(unix_now);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  // The sequence, not the clock, tells apart two captures of one second; one
  // taken by an earlier run in the same second is skipped over. Files are
  // looked at outside mu_; the sequence alone is taken under it.
  while (true) {
    uint64_t seq;
    {
      MutexLock lock(&mu_);
      seq = ++seq_;
    }
    char id[96];
    std::snprintf(id, sizeof id, "%04d%02d%02dT%02d%02d%02dZ-%06llu-%s", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<unsigned long long>(seq % 1000000), trigger.c_str());
    if (::access(Path(id, kSummary).c_str(), F_OK) != 0 && ::access(Path(id, kTrace).c_str(), F_OK) != 0) return id;
  }
}

std::string CaptureManager::Path(const std::string& id, const char* suffix) const {
  return cfg_.dir + "/" + id + suffix;
}

void CaptureManager::Count(const std::string& trigger, const std::string& result) { ++counts_[{trigger, result}]; }

const char* CaptureOutcomeName(CaptureOutcome o) {
  switch (o) {
    case CaptureOutcome::kStarted: return "started";
    case CaptureOutcome::kBusy: return "busy";
    case CaptureOutcome::kCooldown: return "cooldown";
    case CaptureOutcome::kDisabled: return "disabled";
    case CaptureOutcome::kError: break;
  }
  return "error";
}

TriggerResult CaptureManager::Trigger(const TriggerRequest& req) {
  TriggerResult r;
  const double before = throughput_before_ ? throughput_before_() : -1;
  auto refuse = [&](CaptureOutcome result, std::string msg) {  // mu_ not held
    r.result = result;
    r.message = std::move(msg);
    {
      MutexLock lock(&mu_);
      Count(req.trigger, CaptureOutcomeName(result));
    }
    spdlog::info("capture ({}{}): refused: {}", req.trigger, req.rule.empty() ? "" : " " + req.rule, r.message);
    return r;
  };
  const double unix_now = clock_->UnixNow();
  const InstanceId hosted = InstanceId::Local();
  // Only a rule's capture waits for its rule's cooldown.
  const std::string rule = req.trigger == "rule" ? req.rule : "";
  CapturePolicy::Claim claim;
  CaptureOutcome refused = CaptureOutcome::kStarted;
  std::string why;
  {
    // The checks and the claim under mu_; the files and the engine outside.
    MutexLock lock(&mu_);
    if (!cfg_.enabled) {
      refused = CaptureOutcome::kDisabled;
      why = "captures are disabled (capture.enabled: false)";
    } else {
      claim = policy_->TryClaim(hosted, rule);
      switch (claim.verdict) {
        case CapturePolicy::Verdict::kBusy:
          refused = CaptureOutcome::kBusy;
          why = "capture " + (!running_ || running_->id.empty() ? std::string("(starting)") : running_->id) +
                " is running; one at a time";
          break;
        case CapturePolicy::Verdict::kGlobalCooldown:
          refused = CaptureOutcome::kCooldown;
          why = "global cooldown: the next capture is possible in " + FormatDuration(std::ceil(claim.wait_s));
          break;
        case CapturePolicy::Verdict::kRuleCooldown:
          refused = CaptureOutcome::kCooldown;
          why = "cooldown for rule " + req.rule + ": the next capture is possible in " +
                FormatDuration(std::ceil(claim.wait_s));
          break;
        case CapturePolicy::Verdict::kClaimed:
          // The claim: later triggers see it busy; its id comes once the files allow.
          running_ = std::make_unique<Job>();
          running_->req = req;
          running_->triggered_at = unix_now;
          running_->triggered_steady = claim.at;
          running_->throughput_before = before;
          break;
      }
    }
  }
  if (refused != CaptureOutcome::kStarted) return refuse(refused, why);
  auto release = [&](const std::string& msg) {
    {
      MutexLock lock(&mu_);
      running_.reset();
      policy_->Release(hosted);  // no cooldown: nothing started
    }
    cv_.SignalAll();
    return refuse(CaptureOutcome::kError, msg);
  };
  // A directory that cannot be written fails now, before anything is profiled.
  MakeDirs(cfg_.dir);
  const std::string probe = cfg_.dir + "/.probe";
  FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f || std::fputs("x", f) < 0 || std::fclose(f) != 0) {
    if (f) std::remove(probe.c_str());
    return release("captures directory " + cfg_.dir + " is not writable");
  }
  std::remove(probe.c_str());

  const std::string id = NewId(unix_now, req.trigger);
  {
    MutexLock lock(&mu_);
    running_->id = id;
  }
  engine::CaptureOptions o;
  o.max_steps = cfg_.max_steps;
  o.max_duration_s = req.duration_s > 0 ? std::min(req.duration_s, cfg_.max_duration_s) : cfg_.max_duration_s;
  o.record_shapes = cfg_.record_shapes;
  o.with_stack = cfg_.with_stack;
  Status st = engine_->StartCapture(o, [this, id](engine::CaptureData d) {
    // Engine thread: hand off only.
    MutexLock lock(&mu_);
    if (running_ && running_->id == id) {
      running_->data = std::move(d);
      running_->done = true;
    }
    cv_.SignalAll();
  });
  if (!st.ok()) return release(st.message());
  {
    MutexLock lock(&mu_);
    policy_->Started(hosted, rule, claim.at);
    if (req.trigger == "rule") rule_latest_[req.rule] = id;
  }
  r.started = true;
  r.id = id;
  r.result = CaptureOutcome::kStarted;
  spdlog::info("capture {} started ({}{}{}): up to {} steps or {}", id, req.trigger,
               req.rule.empty() ? "" : " " + req.rule, req.reason.empty() ? "" : ": " + req.reason, o.max_steps,
               FormatDuration(o.max_duration_s));
  return r;
}

Status CaptureManager::Stop(std::string* id) {
  MutexLock lock(&mu_);
  if (!running_ || running_->done || running_->id.empty()) return Status::NotFound("no capture is running");
  *id = running_->id;
  engine_->StopCapture();
  return Status::OK();
}

bool CaptureManager::WaitIdle(double timeout_s) {
  MutexLock lock(&mu_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (running_)
    if (!cv_.WaitUntil(&mu_, deadline)) return !running_;
  return true;
}

void CaptureManager::WriterLoop() {
  while (true) {
    Job job;
    {
      MutexLock lock(&mu_);
      while (!stop_ && !(running_ && running_->done && !running_->writing)) cv_.Wait(&mu_);
      if (stop_) {
        if (running_ && !running_->done) engine_->StopCapture();
        return;
      }
      job.id = running_->id;
      job.req = running_->req;
      job.triggered_at = running_->triggered_at;
      job.triggered_steady = running_->triggered_steady;
      job.throughput_before = running_->throughput_before;
      job.data = std::move(running_->data);
      running_->writing = true;  // still listed (and busy) until its files exist
    }
    Finish(std::move(job));
    // A capture is vigild's one burst of large, short-lived allocations (the
    // profiler's events, the trace's JSON). glibc keeps what they freed in
    // its arenas, so without this each capture left RSS a step higher (the
    // 1-hour soak: +15 to +80 MiB after most captures).
    malloc_trim(0);
    {
      MutexLock lock(&mu_);
      running_.reset();
      policy_->Release(InstanceId::Local());
    }
    cv_.SignalAll();
  }
}

std::vector<json> CaptureManager::List() const {
  std::vector<json> out;
  std::map<std::string, json> failed;
  {
    // A copy under mu_; the directory is read outside it.
    MutexLock lock(&mu_);
    if (running_ && !running_->id.empty())
      out.push_back({{"id", running_->id},
                     {"status", running_->writing ? "writing" : "running"},
                     {"trigger", running_->req.trigger},
                     {"reason", running_->req.reason},
                     {"rule", running_->req.rule},
                     {"triggered_at", FormatRfc3339(running_->triggered_at)}});
    failed = failed_;
  }
  std::vector<std::string> ids;
  if (DIR* dir = opendir(cfg_.dir.c_str())) {
    while (dirent* e = readdir(dir)) {
      const std::string name = e->d_name;
      if (EndsWith(name, kSummary)) ids.push_back(name.substr(0, name.size() - std::string(kSummary).size()));
    }
    closedir(dir);
  }
  for (const auto& [id, doc] : failed) ids.push_back(id);
  std::sort(ids.rbegin(), ids.rend());
  for (const auto& id : ids) {
    json doc;
    auto f = failed.find(id);
    if (f != failed.end()) doc = f->second;
    else {
      std::ifstream in(Path(id, kSummary));
      doc = json::parse(in, nullptr, false);
      if (doc.is_discarded()) continue;
    }
    json brief = {{"id", id}};
    for (const char* k :
         {"status", "trigger", "reason", "rule", "triggered_at", "started", "ended", "steps", "stop_reason", "error"})
      if (doc.contains(k)) brief[k] = doc[k];
    if (doc.contains("trace")) {
      brief["bytes"] = doc["trace"].value("compressed_bytes", 0);
      brief["truncated"] = doc["trace"].value("truncated", false);
    }
    if (doc.contains("summary")) {
      const json& s = doc["summary"];
      brief["summary"] = {{"wall_time_s", s.value("wall_time_s", 0.0)},
                          {"step_time_ms", s.value("step_time_ms", json())},
                          {"categories", s.value("categories", json())}};
    }
    out.push_back(brief);
  }
  return out;
}

Status CaptureManager::Get(const std::string& id, json* out) const {
  if (!ValidId(id)) return Status::InvalidArgument("capture id: expected letters, digits, '-' and '_'");
  {
    MutexLock lock(&mu_);
    if (running_ && running_->id == id) {
      *out = {{"id", id},
              {"status", running_->writing ? "writing" : "running"},
              {"trigger", running_->req.trigger},
              {"reason", running_->req.reason},
              {"rule", running_->req.rule}};
      return Status::OK();
    }
    auto f = failed_.find(id);
    if (f != failed_.end()) {
      *out = f->second;
      return Status::OK();
    }
  }
  std::ifstream in(Path(id, kSummary));
  if (!in) return Status::NotFound("no capture " + id);
  *out = json::parse(in, nullptr, false);
  if (out->is_discarded()) return Status::Corruption("capture " + id + ": unreadable summary");
  return Status::OK();
}

Status CaptureManager::TracePath(const std::string& id, std::string* path) const {
  if (!ValidId(id)) return Status::InvalidArgument("capture id: expected letters, digits, '-' and '_'");
  *path = Path(id, kTrace);
  if (::access(path->c_str(), R_OK) != 0) return Status::NotFound("no trace for capture " + id);
  return Status::OK();
}

Status CaptureManager::Delete(const std::string& id) {
  if (!ValidId(id)) return Status::InvalidArgument("capture id: expected letters, digits, '-' and '_'");
  bool failed;
  {
    MutexLock lock(&mu_);
    if (running_ && running_->id == id) return Status::FailedPrecondition("capture " + id + " is still running");
    failed = failed_.erase(id) > 0;
  }
  const bool a = std::remove(Path(id, kTrace).c_str()) == 0;
  const bool b = std::remove(Path(id, kSummary).c_str()) == 0;
  if (!a && !b && !failed) return Status::NotFound("no capture " + id);
  return Status::OK();
}

std::string CaptureManager::LatestForRule(const std::string& rule) const {
  MutexLock lock(&mu_);
  auto it = rule_latest_.find(rule);
  return it == rule_latest_.end() ? "" : it->second;
}

std::map<std::pair<std::string, std::string>, uint64_t> CaptureManager::Counts() const {
  MutexLock lock(&mu_);
  return counts_;
}

std::vector<MetricFamily> CaptureManager::Collect() const {
  MetricFamily f{"vigil_captures_total",
                 "Capture triggers by trigger (rule, api, manual, profile) and result (ok, busy, cooldown, "
                 "disabled, error)",
                 MetricType::kCounter,
                 {}};
  for (const auto& [k, v] : Counts())
    f.metrics.push_back(Sample({{"trigger", k.first}, {"result", k.second}}, static_cast<double>(v)));
  return {std::move(f)};
}

}  // namespace vigil::capture
