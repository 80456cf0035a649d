// The cost of vigild's HTTP path: the same closed-loop load (C concurrent
// clients, streaming, fixed prompt and output) once straight into the engine
// and once through HTTP + SSE, in one run; requests/s and TTFT as ratios.
//   http_bench [--requests N] [--max-tokens T] [--concurrency 1,32]
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/os_util.h"
#include "bench/args.h"
#include "common/logging.h"
#include "daemon/daemon.h"
#include "engine/engine_core.h"

using namespace vigil;

namespace {

struct Result {
  double rps = 0, ttft_p50 = 0, ttft_p95 = 0;
};

Result Summarize(std::vector<double> ttft, double wall) {
  std::sort(ttft.begin(), ttft.end());
  Result r;
  r.rps = static_cast<double>(ttft.size()) / wall;
  r.ttft_p50 = ttft[ttft.size() / 2];
  r.ttft_p95 = ttft[std::min(ttft.size() - 1, ttft.size() * 95 / 100)];
  return r;
}

// Closed loop: `conc` workers each send requests until `total` are done.
template <typename OneRequest>
Result Run(int conc, int total, OneRequest one) {
  std::atomic<int> next{0};
  std::mutex mu;
  std::vector<double> ttft;
  const double t0 = engine::NowSeconds();
  std::vector<std::thread> ws;
  for (int w = 0; w < conc; ++w) {
    ws.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < total;) {
        double t = one(i);
        std::lock_guard<std::mutex> lock(mu);
        ttft.push_back(t);
      }
    });
  }
  for (auto& t : ws) t.join();
  return Summarize(ttft, engine::NowSeconds() - t0);
}

}  // namespace

int main(int argc, char** argv) {
  InitLogging("warn");
  bench::Args a;
  Status st = a.Parse(argc - 1, argv + 1, {"requests", "max-tokens", "concurrency"}, {});
  int64_t total = 0, max_tokens = 0;
  std::vector<int32_t> concs;
  if (!st.ok() || !(st = a.GetInt("requests", 64, &total)).ok() || !(st = a.GetInt("max-tokens", 16, &max_tokens)).ok() ||
      !(st = ParseIdList(a.Get("concurrency", "1,32"), &concs)).ok()) {
    std::fprintf(stderr, "http_bench: %s\n", st.message().c_str());
    return 2;
  }
  daemon::Config cfg;
  cfg.server.port = 0;
  cfg.engine.model = "builtin:tiny-llama";
  cfg.engine.max_model_len = 1024;
  cfg.engine.num_blocks = 2048;
  cfg.engine.enable_prefix_caching = false;  // identical prompts must not hit the cache
  cfg.server.port = FreeLoopbackPort();
  std::unique_ptr<daemon::Daemon> d;
  if (!(st = daemon::Daemon::Create(cfg, &d)).ok() || !(st = d->Bind()).ok()) {
    std::fprintf(stderr, "http_bench: %s\n", st.ToString().c_str());
    return 2;
  }
  std::thread server([&] { d->Serve(); });
  const std::vector<int32_t> prompt = {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13};
  const std::string prompt_text = "The quick brown fox jumps over the lazy dog.";
  std::printf("builtin:tiny-llama, %ld requests per run, %ld output tokens each, streaming\n", static_cast<long>(total),
              static_cast<long>(max_tokens));
  std::printf("%5s %12s %12s %14s %14s %14s %14s\n", "conc", "engine rps", "http rps", "rps ratio", "engine TTFT50",
              "http TTFT50", "TTFT +ms");
  for (int conc : concs) {
    // Engine alone: AddRequest and wait on the callback.
    Result eng = Run(conc, static_cast<int>(total), [&](int i) {
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      double first = -1;
      const double t0 = engine::NowSeconds();
      engine::SamplingParams p;
      p.max_tokens = static_cast<int>(max_tokens);
      p.ignore_eos = true;
      (void)d->engine().AddRequest("e" + std::to_string(conc) + "-" + std::to_string(i), prompt, p,
                                   [&](const engine::RequestOutput& o) {
                                     std::lock_guard<std::mutex> lock(mu);
                                     if (first < 0 && !o.new_token_ids.empty()) first = engine::NowSeconds() - t0;
                                     if (o.finished) {
                                       done = true;
                                       cv.notify_one();
                                     }
                                   });
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return done; });
      return first;
    });
    // Through HTTP: a streamed completion; TTFT at the first text chunk.
    Result http = Run(conc, static_cast<int>(total), [&](int) {
      httplib::Client c("127.0.0.1", cfg.server.port);
      const std::string body = nlohmann::json{{"prompt", prompt_text}, {"max_tokens", max_tokens}, {"stream", true},
                                              {"ignore_eos", true}}.dump();
      double first = -1;
      const double t0 = engine::NowSeconds();
      httplib::Request req;
      req.method = "POST";
      req.path = "/v1/completions";
      req.set_header("Content-Type", "application/json");
      req.body = body;
      req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        if (first < 0 && std::string(data, n).find("\"text\"") != std::string::npos) first = engine::NowSeconds() - t0;
        return true;
      };
      httplib::Response res;
      httplib::Error err;
      c.send(req, res, err);
      return first;
    });
    std::printf("%5d %12.1f %12.1f %13.3fx %11.2f ms %11.2f ms %11.2f ms\n", conc, eng.rps, http.rps, http.rps / eng.rps,
                eng.ttft_p50 * 1e3, http.ttft_p50 * 1e3, (http.ttft_p50 - eng.ttft_p50) * 1e3);
  }
  d->Stop();
  server.join();
  return 0;
}
