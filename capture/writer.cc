// The capture writer's half of the manager: a finished capture becomes a
// gzip trace and a summary on disk, then retention runs. Writer thread only.
#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "capture/manager.h"
#include "capture/summary.h"
#include "capture/trace.h"
#include "common/clock.h"
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

void CaptureManager::Finish(Job job) {
  engine::CaptureData& d = job.data;
  // What the writer's own work cost, in real time (not the manager's clock,
  // which a test may hold still).
  const double t0 = RealClock::Steady();
  auto since = [](double t) { return RealClock::Steady() - t; };
  d.Materialize();
  const double materialize_s = since(t0);
  const double tc = RealClock::Steady();
  std::vector<Event> events;
  events.reserve(d.spans.size() + d.ops.size());
  for (const auto& s : d.spans) events.push_back(FromRecord(s));
  for (const auto& s : d.ops) events.push_back(FromRecord(s));
  d.ops.clear();
  d.ops.shrink_to_fit();
  const double convert_s = since(tc);
  const double wall = std::max(d.end_unix - d.start_unix, 1e-9);
  const double t1 = RealClock::Steady();
  json summary = Summarize(events, d.start_unix * 1e6, d.end_unix * 1e6);
  const double summarize_s = since(t1);
  const double tokens =
      static_cast<double>(d.stats_end.generation_tokens_total - d.stats_start.generation_tokens_total);
  const double during = tokens / wall;
  summary["throughput"] = {
      {"output_tokens_per_s_during", during},
      {"output_tokens_per_s_before", job.throughput_before >= 0 ? json(job.throughput_before) : json()},
      {"ratio_during_to_before", job.throughput_before > 0 ? json(during / job.throughput_before) : json()}};
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
               {"config",
                {{"capture",
                  {{"max_duration_s", cfg_.max_duration_s},
                   {"max_steps", cfg_.max_steps},
                   {"max_bytes", cfg_.max_bytes},
                   {"record_shapes", cfg_.record_shapes},
                   {"with_stack", cfg_.with_stack}}},
                 {"vigild", config_snapshot_}}},
               {"stats_start", StatsJson(d.stats_start)},
               {"stats_end", StatsJson(d.stats_end)}};
  const std::string trace_path = Path(job.id, kTrace);
  WriteResult wr;
  const double t2 = RealClock::Steady();
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
    // The window's end is the engine's real Unix time (the engine reads the
    // real clock, as libtorch's profiler does), so it is compared with real
    // time; the trigger was stamped by this manager's clock.
    doc["timing"] = {{"trigger_to_file_s", clock_->SteadyNow() - job.triggered_steady},
                     {"window_end_to_file_s", RealClock::Unix() - d.end_unix},
                     {"profiler_stop_s", d.profiler_stop_s},
                     {"materialize_s", materialize_s},
                     {"convert_s", convert_s},
                     {"summarize_s", summarize_s},
                     {"write_s", write_s}};
    st = WriteAtomically(Path(job.id, kSummary), doc.dump(2, ' ', false, json::error_handler_t::replace));
    if (!st.ok()) std::remove(trace_path.c_str());
  }
  if (!st.ok()) {
    spdlog::error("capture {} failed: {}", job.id, st.message());
    doc["status"] = "failed";
    doc["error"] = st.message();
    MutexLock lock(&mu_);
    failed_[job.id] = doc;
    Count(job.req.trigger, "error");
    return;
  }
  {
    MutexLock lock(&mu_);
    Count(job.req.trigger, "ok");
  }
  spdlog::info("capture {} written: {} steps, {} ({} compressed){}, summary {}", job.id, d.steps, FormatSize(wr.bytes),
               FormatSize(wr.compressed_bytes), wr.truncated ? ", truncated" : "", Path(job.id, kSummary));
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
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.id < b.id; });  // ids start with the time
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

}  // namespace vigil::capture
