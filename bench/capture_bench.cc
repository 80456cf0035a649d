// What a capture costs, in one run on the threaded engine under a steady
// closed-loop load (greedy, fixed prompts):
//  - output tokens/s without a capture, with Vigil's spans only, and with
//    spans plus libtorch's profiler (the full capture), as ratios;
//  - trace bytes per step (gzip and raw) and the time from trigger to the
//    files on disk, through the CaptureManager as vigild uses it.
//   capture_bench [--device cpu|cuda] [--dtype D] [--concurrency 16]
//                 [--window 3] [--max-tokens 64] [--out DIR]
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "capture/manager.h"
#include "bench/args.h"
#include "common/logging.h"
#include "engine/engine.h"

using namespace vigil;
using Steady = std::chrono::steady_clock;

namespace {

// Keeps `n` requests in flight.
class ClosedLoop {
 public:
  ClosedLoop(engine::Engine* e, int n, int max_tokens) : e_(e), max_tokens_(max_tokens) {
    for (int i = 0; i < n; ++i) Submit();
  }
  void Stop() { stop_ = true; }

 private:
  void Submit() {
    if (stop_) return;
    engine::SamplingParams p;
    p.temperature = 0;
    p.max_tokens = max_tokens_;
    p.ignore_eos = true;
    const int id = next_++;
    std::vector<int32_t> prompt(32);
    for (int t = 0; t < 32; ++t) prompt[t] = (id * 131 + t * 7) % 50000 + 1;
    (void)e_->AddRequest("b" + std::to_string(id), prompt, p, [this](const engine::RequestOutput& o) {
      if (o.finished) Submit();
    });
  }
  engine::Engine* e_;
  int max_tokens_;
  std::atomic<int> next_{0};
  std::atomic<bool> stop_{false};
};

double TokensPerSecond(engine::Engine& e, double window_s) {
  const int64_t t0 = e.GetLoad().generation_tokens_total;
  const auto c0 = Steady::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(window_s));
  const int64_t t1 = e.GetLoad().generation_tokens_total;
  return static_cast<double>(t1 - t0) / std::chrono::duration<double>(Steady::now() - c0).count();
}

// Tokens/s over a capture of `window_s` taken directly on the engine.
double DuringCapture(engine::Engine& e, double window_s, bool ops) {
  engine::CaptureOptions o;
  o.max_steps = 1 << 30;
  o.max_duration_s = window_s;
  o.profile_ops = ops;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  engine::CaptureData got;
  (void)e.StartCapture(o, [&](engine::CaptureData d) {
    std::lock_guard<std::mutex> lock(mu);
    got = std::move(d);
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  return static_cast<double>(got.stats_end.generation_tokens_total - got.stats_start.generation_tokens_total) /
         (got.end_unix - got.start_unix);
}

}  // namespace

int main(int argc, char** argv) {
  InitLogging("warn");
  bench::Args a;
  if (Status st = a.Parse(argc - 1, argv + 1, {"device", "dtype", "concurrency", "window", "max-tokens", "out"}, {});
      !st.ok()) {
    std::fprintf(stderr, "capture_bench: %s\n", st.message().c_str());
    return 2;
  }
  int64_t conc = 0, max_tokens = 0;
  double window = 0;
  (void)a.GetInt("concurrency", 16, &conc);
  (void)a.GetInt("max-tokens", 64, &max_tokens);
  (void)a.GetDouble("window", 3, &window);
  engine::EngineConfig cfg;
  cfg.model = "builtin:tiny-llama";
  cfg.device = a.Get("device", "cpu");
  cfg.dtype = a.Get("dtype", "auto");
  cfg.enable_prefix_caching = false;
  std::unique_ptr<engine::Engine> e;
  if (Status st = engine::CreateEngine(cfg, &e); !st.ok() || !(st = e->Start()).ok()) {
    std::fprintf(stderr, "capture_bench: %s\n", st.ToString().c_str());
    return 2;
  }
  const auto& mi = e->model_info();
  std::printf("built-in model on %s/%s, %lld requests in flight, %lld output tokens each, %.1f s windows\n",
              mi.device.c_str(), mi.dtype.c_str(), static_cast<long long>(conc), static_cast<long long>(max_tokens),
              window);
  ClosedLoop load(e.get(), static_cast<int>(conc), static_cast<int>(max_tokens));
  (void)TokensPerSecond(*e, 1.0);  // warm-up
  // Interleaved so drift (thermal, other load) hits all three alike.
  double base = 0, spans = 0, full = 0;
  const int rounds = 3;
  for (int r = 0; r < rounds; ++r) {
    base += TokensPerSecond(*e, window) / rounds;
    spans += DuringCapture(*e, window, false) / rounds;
    full += DuringCapture(*e, window, true) / rounds;
  }
  std::printf("\n%-36s %12s %8s\n", "", "out tok/s", "ratio");
  std::printf("%-36s %12.0f %8.3f\n", "no capture", base, 1.0);
  std::printf("%-36s %12.0f %8.3f\n", "capture, Vigil's spans only", spans, spans / base);
  std::printf("%-36s %12.0f %8.3f\n", "capture, spans + libtorch profiler", full, full / base);

  // Through the manager, as vigild takes them: bytes per step, trigger to file.
  char tmpl[] = "/tmp/vigil-capture-bench-XXXXXX";
  const std::string dir = a.Get("out", mkdtemp(tmpl));
  capture::CaptureConfig cc;
  cc.dir = dir;
  cc.global_cooldown_s = 0;
  cc.max_steps = 200;
  cc.max_duration_s = 10;
  capture::CaptureManager m(cc, e.get(), nullptr, nlohmann::json::object());
  capture::TriggerRequest req;
  req.trigger = "manual";
  const auto t0 = Steady::now();
  const auto tr = m.Trigger(req);
  m.WaitIdle(120);
  const double to_file = std::chrono::duration<double>(Steady::now() - t0).count();
  nlohmann::json doc;
  if (tr.started && m.Get(tr.id, &doc).ok() && doc.contains("trace")) {
    const double steps = doc["steps"].get<double>();
    std::printf(
        "\ncapture of %.0f steps (%s): %.0f raw bytes/step, %.0f gzip bytes/step; trigger to file %.2f s "
        "(the window itself %.2f s)\n",
        steps, doc["profiler"].get<std::string>().c_str(), doc["trace"]["bytes"].get<double>() / steps,
        doc["trace"]["compressed_bytes"].get<double>() / steps, to_file, doc["summary"]["wall_time_s"].get<double>());
    if (doc["summary"]["gpu"].is_object())
      std::printf("GPU: %lld kernels in the trace, %.3f s of kernel time\n",
                  static_cast<long long>(doc["summary"]["gpu"]["kernels"].get<int64_t>()),
                  doc["summary"]["gpu"]["kernel_seconds"].get<double>());
    std::printf("trace: %s/%s\n", dir.c_str(), doc["trace"]["file"].get<std::string>().c_str());
  } else {
    std::printf("\ncapture failed: %s\n", tr.message.c_str());
  }
  load.Stop();
  e->Stop();
  return 0;
}
