#include "capture/manager.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "capture/summary.h"
#include "capture/trace.h"
#include "common/os_util.h"
#include "common/time_util.h"
#include "common/units.h"

namespace vigil::capture {

using json = nlohmann::json;

namespace {

constexpr const char* kTrace = ".pt.trace.json.gz";
constexpr const char* kSummary = ".summary.json";

json StatsJson(const engine::EngineStats& s) {
  return {{"requests_running", s.requests_running},
          {"requests_waiting", s.requests_waiting},
          {"kv_cache_usage", s.kv_cache_usage},
          {"kv_blocks_used", s.kv_blocks_used},
          {"kv_blocks_total", s.kv_blocks_total},
          {"preemptions_total", s.preemptions_total},
          {"prefix_cache_queries_total", s.prefix_cache_queries_total},
          {"prefix_cache_hits_total", s.prefix_cache_hits_total},
          {"prompt_tokens_total", s.prompt_tokens_total},
          {"generation_tokens_total", s.generation_tokens_total},
          {"steps_total", s.steps_total},
          {"busy_fraction", s.busy_fraction},
          {"memory_used_bytes", s.memory_used_bytes}};
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int64_t FileSize(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

Status WriteAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return Status::IOError(path + ": write failed (disk full or read-only?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Status::IOError(path + ": rename failed");
  }
  return Status::OK();
}

}  // namespace

bool CaptureManager::ValidId(const std::string& id) {
  if (id.empty() || id.size() > 64 || !std::isalnum(static_cast<unsigned char>(id[0]))) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

CaptureManager::CaptureManager(CaptureConfig cfg, engine::Engine* engine, std::function<double()> throughput_before,
                               json config_snapshot)
    : cfg_(std::move(cfg)), engine_(engine), throughput_before_(std::move(throughput_before)),
      config_snapshot_(std::move(config_snapshot)) {
  writer_ = std::thread([this] { WriterLoop(); });
}

CaptureManager::~CaptureManager() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

std::string CaptureManager::Path(const std::string& id, const char* suffix) const { return cfg_.dir + "/" + id + suffix; }

void CaptureManager::Count(const std::string& trigger, const std::string& result) { ++counts_[{trigger, result}]; }

TriggerResult CaptureManager::Trigger(const TriggerRequest& req) {
  TriggerResult r;
  const double before = throughput_before_ ? throughput_before_() : -1;
  std::lock_guard<std::mutex> lock(mu_);
  const double now = UnixNow();
  auto refuse = [&](const char* result, std::string msg) {
    r.result = result;
    r.message = std::move(msg);
    Count(req.trigger, result);
    spdlog::info("capture ({}{}): refused: {}", req.trigger, req.rule.empty() ? "" : " " + req.rule, r.message);
    return r;
  };
  if (!cfg_.enabled) return refuse("disabled", "captures are disabled (capture.enabled: false)");
  if (running_) return refuse("busy", "capture " + running_->id + " is running; one at a time");
  if (now - last_start_ < cfg_.global_cooldown_s)
    return refuse("cooldown", "global cooldown: the next capture is possible in " +
                                  FormatDuration(std::ceil(cfg_.global_cooldown_s - (now - last_start_))));
  if (req.trigger == "rule") {
    auto it = rule_last_.find(req.rule);
    if (it != rule_last_.end() && now - it->second < cfg_.rule_cooldown_s)
      return refuse("cooldown", "cooldown for rule " + req.rule + ": the next capture is possible in " +
                                    FormatDuration(std::ceil(cfg_.rule_cooldown_s - (now - it->second))));
  }
  // A directory that cannot be written fails now, before anything is profiled.
  MakeDirs(cfg_.dir);
  const std::string probe = cfg_.dir + "/.probe";
  FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f || std::fputs("x", f) < 0 || std::fclose(f) != 0) {
    if (f) std::remove(probe.c_str());
    return refuse("error", "captures directory " + cfg_.dir + " is not writable");
  }
  std::remove(probe.c_str());

  char id[96];
  const time_t secs = static_cast<time_t>(now);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::mt19937 rng(std::random_device{}());
  std::snprintf(id, sizeof id, "%04d%02d%02dT%02d%02d%02dZ-%s-%04x", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, req.trigger.c_str(), static_cast<unsigned>(rng() & 0xffff));
  engine::CaptureOptions o;
  o.max_steps = cfg_.max_steps;
  o.max_duration_s = req.duration_s > 0 ? std::min(req.duration_s, cfg_.max_duration_s) : cfg_.max_duration_s;
  o.record_shapes = cfg_.record_shapes;
  o.with_stack = cfg_.with_stack;
  auto job = std::make_unique<Job>();
  job->id = id;
  job->req = req;
  job->triggered_at = now;
  job->throughput_before = before;
  Status st = engine_->StartCapture(o, [this](engine::CaptureData d) {
    // Engine thread: hand off only.
    std::lock_guard<std::mutex> lock(mu_);
    if (running_) {
      running_->data = std::move(d);
      running_->done = true;
    }
    cv_.notify_all();
  });
  if (!st.ok()) return refuse("error", st.message());
  running_ = std::move(job);
  last_start_ = now;
  if (req.trigger == "rule") {
    rule_last_[req.rule] = now;
    rule_latest_[req.rule] = id;
  }
  r.started = true;
  r.id = id;
  r.result = "started";
  spdlog::info("capture {} started ({}{}{}): up to {} steps or {}", id, req.trigger,
               req.rule.empty() ? "" : " " + req.rule, req.reason.empty() ? "" : ": " + req.reason, o.max_steps,
               FormatDuration(o.max_duration_s));
  return r;
}

Status CaptureManager::Stop(std::string* id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!running_ || running_->done) return Status::NotFound("no capture is running");
  *id = running_->id;
  engine_->StopCapture();
  return Status::OK();
}

bool CaptureManager::WaitIdle(double timeout_s) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s), [this] { return !running_; });
}

void CaptureManager::WriterLoop() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || (running_ && running_->done && !running_->writing); });
      if (stop_) {
        if (running_ && !running_->done) engine_->StopCapture();
        return;
      }
      job.id = running_->id;
      job.req = running_->req;
      job.triggered_at = running_->triggered_at;
      job.throughput_before = running_->throughput_before;
      job.data = std::move(running_->data);
      running_->writing = true;  // still listed (and busy) until its files exist
    }
    Finish(std::move(job));
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_.reset();
    }
    cv_.notify_all();
  }
}

void CaptureManager::Finish(Job job) {
  engine::CaptureData& d = job.data;
  const auto t0 = std::chrono::steady_clock::now();
  auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  d.Materialize();
  const double materialize_s = since(t0);
  const auto tc = std::chrono::steady_clock::now();
  std::vector<Event> events;
  events.reserve(d.spans.size() + d.ops.size());
  for (const auto& s : d.spans) events.push_back(FromRecord(s));
  for (const auto& s : d.ops) events.push_back(FromRecord(s));
  d.ops.clear();
  d.ops.shrink_to_fit();
  const double convert_s = since(tc);
  const double wall = std::max(d.end_unix - d.start_unix, 1e-9);
  const auto t1 = std::chrono::steady_clock::now();
  json summary = Summarize(events, d.start_unix * 1e6, d.end_unix * 1e6);
  const double summarize_s = since(t1);
  const double tokens = static_cast<double>(d.stats_end.generation_tokens_total - d.stats_start.generation_tokens_total);
  const double during = tokens / wall;
  summary["throughput"] = {{"output_tokens_per_s_during", during},
                           {"output_tokens_per_s_before", job.throughput_before >= 0 ? json(job.throughput_before) : json()},
                           {"ratio_during_to_before",
                            job.throughput_before > 0 ? json(during / job.throughput_before) : json()}};
  json meta = {{"id", job.id},
               {"trigger", job.req.trigger},
               {"reason", job.req.reason},
               {"rule", job.req.rule},
               {"evidence", job.req.evidence},
               {"triggered_at", FormatRfc3339(job.triggered_at)},
               {"started", FormatRfc3339(d.start_unix)},
               {"ended", FormatRfc3339(d.end_unix)},
               {"steps", d.steps},
               {"stop_reason", d.stop_reason},
               {"profiler", d.profiler},
               {"config", {{"capture", {{"max_duration_s", cfg_.max_duration_s}, {"max_steps", cfg_.max_steps},
                                        {"max_bytes", cfg_.max_bytes}, {"record_shapes", cfg_.record_shapes},
                                        {"with_stack", cfg_.with_stack}}},
                           {"vigild", config_snapshot_}}},
               {"stats_start", StatsJson(d.stats_start)},
               {"stats_end", StatsJson(d.stats_end)}};
  const std::string trace_path = Path(job.id, kTrace);
  WriteResult wr;
  const auto t2 = std::chrono::steady_clock::now();
  Status st = WriteTrace(trace_path, std::move(events), meta, cfg_.max_bytes, &wr);
  const double write_s = since(t2);
  json doc = meta;
  doc["status"] = "complete";
  doc["summary"] = summary;
  doc["trace"] = {{"file", job.id + kTrace},
                  {"bytes", wr.bytes},
                  {"compressed_bytes", wr.compressed_bytes},
                  {"events", wr.events_written},
                  {"events_dropped", wr.events_dropped},
                  {"truncated", wr.truncated},
                  {"bytes_per_step", d.steps > 0 ? json(static_cast<double>(wr.compressed_bytes) / d.steps) : json()}};
  if (st.ok()) {
    doc["timing"] = {{"trigger_to_file_s", UnixNow() - job.triggered_at},
                     {"window_end_to_file_s", UnixNow() - d.end_unix},
                     {"profiler_stop_s", d.profiler_stop_s},
                     {"materialize_s", materialize_s},
                     {"convert_s", convert_s},
                     {"summarize_s", summarize_s},
                     {"write_s", write_s}};
    st = WriteAtomically(Path(job.id, kSummary), doc.dump(2, ' ', false, json::error_handler_t::replace));
    if (!st.ok()) std::remove(trace_path.c_str());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!st.ok()) {
    spdlog::error("capture {} failed: {}", job.id, st.message());
    doc["status"] = "failed";
    doc["error"] = st.message();
    failed_[job.id] = doc;
    Count(job.req.trigger, "error");
    return;
  }
  Count(job.req.trigger, "ok");
  spdlog::info("capture {} written: {} steps, {} ({} compressed){}, summary {}", job.id, d.steps,
               FormatSize(wr.bytes), FormatSize(wr.compressed_bytes), wr.truncated ? ", truncated" : "",
               Path(job.id, kSummary));
  Retain();
}

void CaptureManager::Retain() {
  struct Item {
    std::string id;
    int64_t bytes;
  };
  std::vector<Item> items;
  DIR* dir = opendir(cfg_.dir.c_str());
  if (!dir) return;
  while (dirent* e = readdir(dir)) {
    const std::string name = e->d_name;
    if (!EndsWith(name, kSummary)) continue;
    const std::string id = name.substr(0, name.size() - std::string(kSummary).size());
    items.push_back({id, FileSize(Path(id, kSummary)) + FileSize(Path(id, kTrace))});
  }
  closedir(dir);
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.id < b.id; });  // ids start with the time
  int64_t total = 0;
  for (const auto& i : items) total += i.bytes;
  size_t drop = 0;
  while (drop < items.size() &&
         (static_cast<int64_t>(items.size() - drop) > cfg_.max_count || total > cfg_.max_total_bytes)) {
    total -= items[drop].bytes;
    std::remove(Path(items[drop].id, kTrace).c_str());
    std::remove(Path(items[drop].id, kSummary).c_str());
    spdlog::info("capture {} deleted by retention", items[drop].id);
    ++drop;
  }
}

std::vector<json> CaptureManager::List() const {
  std::vector<json> out;
  std::lock_guard<std::mutex> lock(mu_);
  if (running_)
    out.push_back({{"id", running_->id}, {"status", running_->writing ? "writing" : "running"}, {"trigger", running_->req.trigger},
                   {"reason", running_->req.reason}, {"rule", running_->req.rule},
                   {"triggered_at", FormatRfc3339(running_->triggered_at)}});
  std::vector<std::string> ids;
  if (DIR* dir = opendir(cfg_.dir.c_str())) {
    while (dirent* e = readdir(dir)) {
      const std::string name = e->d_name;
      if (EndsWith(name, kSummary)) ids.push_back(name.substr(0, name.size() - std::string(kSummary).size()));
    }
    closedir(dir);
  }
  for (const auto& [id, doc] : failed_) ids.push_back(id);
  std::sort(ids.rbegin(), ids.rend());
  for (const auto& id : ids) {
    json doc;
    auto f = failed_.find(id);
    if (f != failed_.end()) doc = f->second;
    else {
      std::ifstream in(Path(id, kSummary));
      doc = json::parse(in, nullptr, false);
      if (doc.is_discarded()) continue;
    }
    json brief = {{"id", id}};
    for (const char* k : {"status", "trigger", "reason", "rule", "triggered_at", "started", "ended", "steps",
                          "stop_reason", "error"})
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
    std::lock_guard<std::mutex> lock(mu_);
    if (running_ && running_->id == id) {
      *out = {{"id", id}, {"status", running_->writing ? "writing" : "running"}, {"trigger", running_->req.trigger}, {"reason", running_->req.reason},
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
  std::lock_guard<std::mutex> lock(mu_);
  if (running_ && running_->id == id) return Status::Unavailable("capture " + id + " is still running");
  const bool failed = failed_.erase(id) > 0;
  const bool a = std::remove(Path(id, kTrace).c_str()) == 0;
  const bool b = std::remove(Path(id, kSummary).c_str()) == 0;
  if (!a && !b && !failed) return Status::NotFound("no capture " + id);
  return Status::OK();
}

std::string CaptureManager::LatestForRule(const std::string& rule) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rule_latest_.find(rule);
  return it == rule_latest_.end() ? "" : it->second;
}

std::map<std::pair<std::string, std::string>, uint64_t> CaptureManager::Counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

}  // namespace vigil::capture
