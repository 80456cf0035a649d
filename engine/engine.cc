// The threaded engine: one engine thread drives EngineCore; other threads
// hand it requests and aborts through a small inbox and read a published
// stats snapshot, so none of them ever waits for a step.
#include "engine/engine.h"

#include <spdlog/spdlog.h>
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <unordered_set>

#include "common/clock.h"
#include "common/mutex.h"
#include "engine/engine_core.h"
#include "engine/profiler.h"
#include "engine/tracer.h"

namespace vigil::engine {

namespace {

// The engine reads the real clock (common/clock.h) and takes no injected one:
// its heartbeat is compared with real time by the watchdog, and a capture's
// window must share its clock with libtorch's profiler.
double UnixSeconds() { return RealClock::Unix(); }
int64_t SteadyNanos() { return RealClock::SteadyNs(); }

class ThreadedEngine final : public Engine {
 public:
  explicit ThreadedEngine(std::unique_ptr<EngineCore> core) : core_(std::move(core)) {
    published_ = core_->stats(true);
    published_.heartbeat_ns = SteadyNanos();
  }
  ~ThreadedEngine() override { Stop(); }

  Status AddRequest(const std::string& id, std::vector<int32_t> prompt, const SamplingParams& params,
                    OutputCallback on_output) override {
    Status st = core_->ValidateRequest(prompt, params);
    MutexLock lock(&mu_);
    if (!st.ok()) {
      ++rejected_;
      return st;
    }
    if (stopping_) return Status::Unavailable("the engine is shutting down");
    if (!live_.insert(id).second) return Status::InvalidArgument("duplicate request id \"" + id + "\"");
    inbox_.push_back({id, std::move(prompt), params, std::move(on_output), NowSeconds()});
    cv_.Signal();
    return Status::OK();
  }

  void Abort(const std::string& id) override {
    MutexLock lock(&mu_);
    if (!live_.count(id)) return;
    aborts_.push_back(id);
    cv_.Signal();
  }

  EngineStats GetStats() const override {
    EngineStats s;
    {
      MutexLock stats(&stats_mu_);
      s = published_;
      MutexLock lock(&mu_);
      s.requests_waiting += Unpublished();
      s.requests_rejected_total += rejected_;
    }
    s.heartbeat_ns = heartbeat_ns_.load(std::memory_order_relaxed);
    s.engine_thread_cpu_seconds_total = static_cast<double>(EngineThreadCpuNanos()) / 1e9;
    return s;
  }

  Load GetLoad() const override {
    Load l;
    {
      MutexLock stats(&stats_mu_);
      l.requests_running = published_.requests_running;
      l.requests_waiting = published_.requests_waiting;
      l.kv_cache_usage = published_.kv_cache_usage;
      l.generation_tokens_total = published_.generation_tokens_total;
      MutexLock lock(&mu_);
      l.requests_waiting += Unpublished();
    }
    l.heartbeat_ns = heartbeat_ns_.load(std::memory_order_relaxed);
    return l;
  }

  const ModelInfo& model_info() const override { return core_->model_info(); }
  const EngineConfig& config() const override { return core_->config(); }

  Status Start() override {
    MutexLock lock(&mu_);
    if (thread_.joinable()) return Status::OK();
    if (stopping_) return Status::Unavailable("the engine was stopped");
    thread_ = std::thread([this] { Loop(); });
    return Status::OK();
  }

  void Stop() override {
    std::thread thread;
    {
      MutexLock lock(&mu_);
      stopping_ = true;
      thread.swap(thread_);
      cv_.Signal();
    }
    if (thread.joinable()) thread.join();
    // Whatever is left (never started, or Stop() before Start()) ends as aborted.
    Drain();
    core_->AbortAll();
    Publish(true);
  }

  Status StartCapture(const CaptureOptions& options, CaptureCallback done) override {
    MutexLock lock(&mu_);
    if (stopping_) return Status::Unavailable("the engine is shutting down");
    if (capture_requested_ || capture_running_) return Status::Unavailable("a capture is already running");
    capture_opts_ = options;
    capture_done_ = std::move(done);
    capture_requested_ = true;
    capture_stop_ = false;
    cv_.Signal();
    return Status::OK();
  }

  void StopCapture() override {
    MutexLock lock(&mu_);
    capture_stop_ = true;
    cv_.Signal();
  }

  bool capture_running() const override {
    MutexLock lock(&mu_);
    return capture_requested_ || capture_running_;
  }

 private:
  struct Pending {
    std::string id;
    std::vector<int32_t> prompt;
    SamplingParams params;
    OutputCallback cb;
    double arrival;
  };

  // Moves the inbox into the core. Engine thread only (or after it joined).
  void Drain() EXCLUDES(mu_) {
    std::vector<Pending> adds;
    std::vector<std::string> aborts;
    {
      MutexLock lock(&mu_);
      adds.swap(inbox_);
      aborts.swap(aborts_);
      in_hand_ += static_cast<int64_t>(adds.size());
    }
    for (Pending& p : adds) {
      // Wrap the callback to retire the id once the request is over.
      OutputCallback cb = [this, user = std::move(p.cb)](const RequestOutput& o) {
        if (user) user(o);
        if (o.finished) {
          MutexLock lock(&mu_);
          live_.erase(o.request_id);
        }
      };
      Status st = core_->AddRequest(p.id, std::move(p.prompt), p.params, cb, p.arrival);
      if (!st.ok()) {  // validated on submission; only a race can get here
        RequestOutput o;
        o.request_id = p.id;
        o.finished = true;
        o.finish_reason = FinishReason::kError;
        o.error = st.message();
        cb(o);
      }
    }
    for (const std::string& id : aborts) core_->AbortRequest(id);
  }

  // Copies the stats for readers. While busy, at most every 5 ms: the copy
  // (histograms and sketches) should not cost the engine a measurable share
  // of a millisecond-scale step, and readers sample far less often.
  void Publish(bool force) EXCLUDES(stats_mu_, mu_) {
    const int64_t now = SteadyNanos();
    if (!force && now - last_publish_ < 5000000) return;  // 5 ms
    last_publish_ = now;
    const EngineStats& s = core_->stats();
    MutexLock lock(&stats_mu_);
    published_ = s;
    MutexLock inbox(&mu_);
    in_hand_ = 0;
  }

  // Requests the published snapshot does not count yet: accepted but not
  // drained, or drained since the last publish (a step, or several within
  // 5 ms). Without the second, server.max_waiting_requests admitted one more
  // for each request the engine held while stepping.
  int64_t Unpublished() const REQUIRES(stats_mu_, mu_) { return in_hand_ + static_cast<int64_t>(inbox_.size()); }

  // The engine thread's CPU clock, read live from any thread, so a long step
  // counts while it runs rather than after it. Before the thread starts and
  // after it ends: the last value read.
  int64_t EngineThreadCpuNanos() const EXCLUDES(cpu_mu_) {
    MutexLock lock(&cpu_mu_);
    timespec ts{};
    if (cpu_clock_valid_ && clock_gettime(cpu_clock_, &ts) == 0)
      cpu_ns_ = static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
    return cpu_ns_;
  }

  // Whether the idle engine thread has something to do.
  bool HasNews() const REQUIRES(mu_) {
    return stopping_ || !inbox_.empty() || !aborts_.empty() || (capture_requested_ && !capture_running_) ||
           capture_stop_;
  }

  void Loop() EXCLUDES(mu_) {
    {
      MutexLock lock(&cpu_mu_);
      cpu_clock_valid_ = pthread_getcpuclockid(pthread_self(), &cpu_clock_) == 0;
    }
    spdlog::info("engine: thread started");
    const int64_t stall_ms = core_->config().faults.stall_step_ms;
    while (true) {
      heartbeat_ns_.store(SteadyNanos(), std::memory_order_relaxed);
      if (stall_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(stall_ms));
      Drain();
      {
        MutexLock lock(&mu_);
        if (stopping_) break;
      }
      CaptureTick();
      if (!core_->HasWork()) {
        Publish(true);
        MutexLock lock(&mu_);
        // Wake for new work, or every 50 ms to keep the heartbeat fresh
        // (and a capture's duration bound honest).
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(capture_running_ ? 5 : 50);
        while (!HasNews() && cv_.WaitUntil(&mu_, deadline)) {}
        continue;
      }
      core_->Step();
      Publish(!core_->HasWork());
      CaptureTick();
    }
    bool capturing;
    {
      MutexLock lock(&mu_);
      capturing = capture_running_;
    }
    if (capturing) FinishCapture("engine_stopped");
    (void)EngineThreadCpuNanos();  // keep the final figure; the clock dies with the thread
    {
      MutexLock lock(&cpu_mu_);
      cpu_clock_valid_ = false;
    }
    spdlog::info("engine: thread stopped");
  }

  // Starts a requested capture, or ends the running one at its bounds.
  // Engine thread only.
  void CaptureTick() EXCLUDES(mu_) {
    bool start = false, stop = false, running = false;
    {
      MutexLock lock(&mu_);
      start = capture_requested_ && !capture_running_;
      stop = capture_stop_;
      running = capture_running_;
      if (start) opts_ = capture_opts_;
    }
    if (start) {
      capture_ = CaptureData();
      capture_.stats_start = core_->stats(true);
      capture_.start_unix = UnixSeconds();
      capture_steps_base_ = capture_.stats_start.steps_total;
      capture_t0_ = SteadyNanos();
      tracer_.Begin();
      capture_.profiler = "off";
      if (opts_.profile_ops) {
        Status st = profiler_.Start(opts_, core_->model_info().device.rfind("cuda", 0) == 0);
        capture_.profiler = profiler_.description();
        if (!st.ok()) spdlog::warn("capture: {}", st.message());
      }
      MutexLock lock(&mu_);
      capture_running_ = true;
      capture_requested_ = false;
      spdlog::info("capture: started (up to {} steps, {}s)", opts_.max_steps, opts_.max_duration_s);
      return;
    }
    if (!running) return;
    const int64_t steps = core_->stats().steps_total - capture_steps_base_;
    const double secs = static_cast<double>(SteadyNanos() - capture_t0_) / 1e9;
    if (stop) FinishCapture("stopped");
    else if (steps >= opts_.max_steps) FinishCapture("max_steps");
    else if (secs >= opts_.max_duration_s) FinishCapture("max_duration");
  }

  void FinishCapture(const char* reason) EXCLUDES(mu_) {
    // The window ends here; stopping the profiler is not part of it.
    capture_.end_unix = UnixSeconds();
    capture_.stats_end = core_->stats(true);
    tracer_.End();
    capture_.spans = tracer_.TakeSpans();
    const int64_t stop0 = SteadyNanos();
    capture_.materialize = profiler_.Stop(tracer_.tid());
    capture_.profiler_stop_s = static_cast<double>(SteadyNanos() - stop0) / 1e9;
    capture_.steps = capture_.stats_end.steps_total - capture_steps_base_;
    capture_.stop_reason = reason;
    CaptureCallback done;
    {
      MutexLock lock(&mu_);
      capture_running_ = false;
      capture_stop_ = false;
      done = std::move(capture_done_);
    }
    spdlog::info("capture: {} steps in {:.2f}s ({})", capture_.steps, capture_.end_unix - capture_.start_unix, reason);
    if (done) done(std::move(capture_));
  }

  std::unique_ptr<EngineCore> core_;
  mutable Mutex mu_;  // the inbox, and requests to the engine thread
  CondVar cv_;        // wakes the idle engine thread (with mu_)
  std::thread thread_ GUARDED_BY(mu_);
  std::vector<Pending> inbox_ GUARDED_BY(mu_);
  int64_t in_hand_ GUARDED_BY(mu_) = 0;  // drained since the last publish
  std::vector<std::string> aborts_ GUARDED_BY(mu_);
  std::unordered_set<std::string> live_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  int64_t rejected_ GUARDED_BY(mu_) = 0;
  // Captures: requested under mu_, run on the engine thread. capture_running_
  // is written by the engine thread only; others read it under mu_.
  CaptureOptions capture_opts_ GUARDED_BY(mu_);
  CaptureCallback capture_done_ GUARDED_BY(mu_);
  bool capture_requested_ GUARDED_BY(mu_) = false;
  bool capture_running_ GUARDED_BY(mu_) = false;
  bool capture_stop_ GUARDED_BY(mu_) = false;
  // The running capture: engine thread only.
  CaptureOptions opts_;  // capture_opts_ as it started
  CaptureData capture_;
  Tracer tracer_;
  OpProfiler profiler_;
  int64_t capture_steps_base_ = 0;
  int64_t capture_t0_ = 0;                // steady ns
  int64_t last_publish_ = INT64_MIN / 2;  // steady ns
  // Readers and the publish take stats_mu_ then mu_, so a request is counted
  // exactly once: in the inbox, in hand or in the snapshot.
  mutable Mutex stats_mu_ ACQUIRED_BEFORE(mu_);
  EngineStats published_ GUARDED_BY(stats_mu_);
  std::atomic<int64_t> heartbeat_ns_{0};
  mutable Mutex cpu_mu_;  // a clock id is valid only while its thread lives
  clockid_t cpu_clock_ GUARDED_BY(cpu_mu_) = {};
  bool cpu_clock_valid_ GUARDED_BY(cpu_mu_) = false;
  mutable int64_t cpu_ns_ GUARDED_BY(cpu_mu_) = 0;
};

}  // namespace

Status CreateEngine(const EngineConfig& config, std::unique_ptr<Engine>* engine) {
  std::unique_ptr<EngineCore> core;
  VIGIL_RETURN_IF_ERROR(EngineCore::Create(config, &core));
  *engine = std::make_unique<ThreadedEngine>(std::move(core));
  return Status::OK();
}

}  // namespace vigil::engine
