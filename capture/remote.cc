#include "capture/remote.h"

#include <dirent.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>

#include "capture/summary.h"
#include "capture/trace.h"
#include "common/time_util.h"
#include "common/units.h"

namespace vigil::capture {

using json = nlohmann::json;

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string Rfc3339(double t) { return t < 0 ? "" : FormatRfc3339(t); }

constexpr int64_t kMaxTraceBytes = 256LL << 20;  // on disk (gzip or not)

}  // namespace

std::string FindTrace(const std::string& dir, double from, double to) {
  DIR* d = opendir(dir.c_str());
  if (!d) return "";
  std::string best;
  double best_t = -1;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    // torch.profiler's tensorboard_trace_handler names (vLLM's), gzipped or not.
    if (!EndsWith(name, ".pt.trace.json") && !EndsWith(name, ".pt.trace.json.gz")) continue;
    struct stat st {};
    const std::string path = dir + "/" + name;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const double mtime = static_cast<double>(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1e9;
    if (mtime < from || mtime > to || mtime <= best_t) continue;
    best = path;
    best_t = mtime;
  }
  closedir(d);
  return best;
}

void RemoteCaptures::Shutdown() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
}

RemoteCaptures::~RemoteCaptures() {
  std::map<std::string, std::thread> threads;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  cv_.SignalAll();
  for (auto& [target, t] : threads) t.join();
}

std::string RemoteCaptures::Trigger(const pipeline::TargetConfig& t, const std::string& token, const std::string& rule,
                                    const std::string& reason, std::string* why) {
  MutexLock lock(&mu_);
  auto refuse = [&](std::string w) {
    *why = std::move(w);
    spdlog::info("capture of {} ({}): refused: {}", t.name, rule, *why);
    return std::string();
  };
  if (!cfg_.enabled) return refuse("captures are disabled (capture.enabled: false)");
  if (!t.profile.enabled) return refuse("profiling is not enabled for this target (targets[].profile.enabled)");
  if (stopping_) return refuse("vigild is stopping");
  const InstanceId key = CapturePolicy::KeyOf(InstanceId::Watched(t.name));
  const CapturePolicy::Claim claim = policy_->TryClaim(key, rule);
  switch (claim.verdict) {
    case CapturePolicy::Verdict::kBusy:
      return refuse("a capture of " + t.name + " is running; one at a time per target");
    case CapturePolicy::Verdict::kGlobalCooldown:
      return refuse("cooldown: the next capture of " + t.name + " is possible in " +
                    FormatDuration(std::ceil(claim.wait_s)));
    case CapturePolicy::Verdict::kRuleCooldown:
      return refuse("cooldown for " + rule + " on " + t.name + ": the next capture is possible in " +
                    FormatDuration(std::ceil(claim.wait_s)));
    case CapturePolicy::Verdict::kClaimed: break;
  }
  policy_->Started(key, rule, claim.at);
  const double now = policy_->clock()->UnixNow();
  const std::string id = t.name + "-" + rule + "-" + std::to_string(++seq_);
  ++running_;
  captures_.push_back({{"id", id},
                       {"target", t.name},
                       {"rule", rule},
                       {"reason", reason},
                       {"trigger", "rule"},
                       {"status", "running"},
                       {"started", Rfc3339(now)},
                       {"started_unix", now}});
  // The target's previous capture has finished (its claim was released at
  // its last use of mu_): reap its thread.
  if (std::thread& old = threads_[t.name]; old.joinable()) old.join();
  threads_[t.name] = std::thread([this, id, t, token] { Run(id, t, token); });
  spdlog::info("capture {} of {} started: {}", id, t.name, reason);
  return id;
}

void RemoteCaptures::Run(std::string id, pipeline::TargetConfig t, std::string token) {
  std::string base, path;
  pipeline::SplitTargetUrl(t.url, &base, &path);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  // The trace's file times are real: the window is found on the real clock.
  const double started = UnixNow();
  int status = 0;
  auto post = [&](const char* what, double timeout_s) -> std::string {
    httplib::Client c(base);
    const auto sec = static_cast<time_t>(timeout_s);
    c.set_connection_timeout(std::min<time_t>(sec, 5), 0);
    c.set_read_timeout(sec, static_cast<time_t>((timeout_s - static_cast<double>(sec)) * 1e6));
    // The answer is read up to 64 KiB within the timeout: a target must not
    // be able to hold this thread or its memory with an endless reply.
    const auto deadline =
        std::chrono::steady_clock::now() +
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(timeout_s));
    httplib::Request req;
    req.method = "POST";
    req.path = what;
    req.headers = headers;
    req.set_header("Content-Type", "application/json");
    std::string body;
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (body.size() + n > (64u << 10) || std::chrono::steady_clock::now() > deadline) return false;
      body.append(data, n);
      return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    if (!c.send(req, res, err)) return std::string("POST ") + what + ": " + httplib::to_string(err);
    status = res.status;
    if (res.status != 200 && res.status != 202)
      return std::string("POST ") + what + " answered HTTP " + std::to_string(res.status) + ": " + body.substr(0, 200);
    return "";
  };
  std::string error = post("/start_profile", cfg_.request_timeout_s);
  if (error.empty()) {
    MutexLock lock(&mu_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(t.profile.duration_s);
    while (!stopping_ && cv_.WaitUntil(&mu_, deadline)) {}
  }
  if (error.empty()) {
    error = post("/stop_profile", t.profile.stop_timeout_s);
    // The target's own bounds (vigild's max_steps/max_duration) ended it
    // first: nothing to stop, its trace is written all the same.
    if (status == 404) error.clear();
  }
  const double ended = UnixNow();
  json fields = {{"ended", Rfc3339(ended)}, {"status", error.empty() ? "done" : "error"}, {"error", error}};
  if (error.empty() && !t.profile.dir.empty()) {
    const std::string trace = FindTrace(t.profile.dir, started - 1, ended + 1);
    struct stat st {};
    if (trace.empty()) {
      fields["error"] = "no trace written in " + t.profile.dir + " during the capture";
    } else if (::stat(trace.c_str(), &st) == 0 && st.st_size > kMaxTraceBytes) {
      fields["trace"] = trace;  // listed, not summarized: reading it would hold it all in memory
      fields["error"] = "the trace is " + FormatSize(static_cast<int64_t>(st.st_size)) + ", over the " +
                        FormatSize(kMaxTraceBytes) + " vigild summarizes";
    } else {
      std::vector<capture::Event> events;
      Status st = capture::ReadTrace(trace, &events, nullptr);
      fields["trace"] = trace;
      if (st.ok()) fields["summary"] = capture::Summarize(events);
      else fields["error"] = st.message();
    }
  }
  if (!fields["error"].get<std::string>().empty())
    spdlog::warn("capture {}: {}", id, fields["error"].get<std::string>());
  else
    spdlog::info("capture {} of {} done{}", id, t.name,
                 fields.contains("trace") ? ": " + fields["trace"].get<std::string>() : "");
  Finish(id, fields);
  MutexLock lock(&mu_);
  policy_->Release(CapturePolicy::KeyOf(InstanceId::Watched(t.name)));
  --running_;
  cv_.SignalAll();
}

void RemoteCaptures::Finish(const std::string& id, const json& fields) {
  MutexLock lock(&mu_);
  for (auto& c : captures_)
    if (c["id"] == id)
      for (const auto& [k, v] : fields.items()) c[k] = v;
}

std::vector<json> RemoteCaptures::List() const {
  MutexLock lock(&mu_);
  return std::vector<json>(captures_.rbegin(), captures_.rend());
}

bool RemoteCaptures::Get(const std::string& id, json* out) const {
  MutexLock lock(&mu_);
  for (const auto& c : captures_)
    if (c["id"] == id) {
      *out = c;
      return true;
    }
  return false;
}

std::string RemoteCaptures::LatestFor(const std::string& target, const std::string& rule) const {
  MutexLock lock(&mu_);
  for (auto it = captures_.rbegin(); it != captures_.rend(); ++it)
    if ((*it)["target"] == target && (*it)["rule"] == rule) return (*it)["id"];
  return "";
}

bool RemoteCaptures::WaitIdle(double timeout_s) const {
  MutexLock lock(&mu_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (running_ > 0)
    if (!cv_.WaitUntil(&mu_, deadline)) return running_ == 0;
  return true;
}

}  // namespace vigil::capture
