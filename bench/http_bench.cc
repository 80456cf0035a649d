// The cost of vigild's HTTP path: the same closed-loop load (C concurrent
// clients, streaming, fixed prompt and output) once straight into the engine
// and once through HTTP + SSE (the front server, one client thread of
// non-blocking sockets: cli/sse_fleet.h), in one run; requests/s, p99 time to
// first token (engine) and to first byte (HTTP), and output tokens/s, as
// ratios. "overhead/token" is engine tokens/s over HTTP tokens/s, less one.
//   http_bench [--requests N] [--max-tokens T] [--concurrency 1,64,256,1000] [--max-num-seqs S]
//   (--requests 0: 4 x concurrency, at least 64)
#include <httplib.h>
#include <sys/resource.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/args.h"
#include "cli/sse_fleet.h"
#include "common/logging.h"
#include "common/os_util.h"
#include "daemon/daemon.h"
#include "engine/engine_core.h"

using namespace vigil;

namespace {

struct Result {
  double rps = 0, tokens_per_s = 0, ttft_p50 = 0, ttft_p99 = 0;
};

Result Summarize(std::vector<double> ttft, double wall, int64_t tokens) {
  Result r;
  if (ttft.empty() || wall <= 0) return r;
  std::sort(ttft.begin(), ttft.end());
  r.rps = static_cast<double>(ttft.size()) / wall;
  r.tokens_per_s = static_cast<double>(tokens) / wall;
  r.ttft_p50 = ttft[ttft.size() / 2];
  r.ttft_p99 = ttft[std::min(ttft.size() - 1, ttft.size() * 99 / 100)];
  return r;
}

// The engine alone, closed loop: `conc` requests in flight, the next
// submitted as one finishes, until `total` are done.
Result RunEngine(engine::Engine& eng, int conc, int total, const std::vector<int32_t>& prompt, int max_tokens) {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0, done = 0;
  int64_t tokens = 0;
  std::vector<double> ttft;
  const double t0 = engine::NowSeconds();
  for (int i = 0; i < total; ++i) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight < conc; });
      ++in_flight;
    }
    auto first = std::make_shared<double>(-1);
    const double start = engine::NowSeconds();
    engine::SamplingParams p;
    p.max_tokens = max_tokens;
    p.ignore_eos = true;
    Status st = eng.AddRequest("e" + std::to_string(conc) + "-" + std::to_string(i), prompt, p,
                               [&, first, start](const engine::RequestOutput& o) {
                                 std::lock_guard<std::mutex> lock(mu);
                                 if (*first < 0 && !o.new_token_ids.empty()) *first = engine::NowSeconds() - start;
                                 if (o.finished) {
                                   ttft.push_back(*first);
                                   tokens += o.num_output_tokens;
                                   --in_flight;
                                   ++done;
                                   cv.notify_all();
                                 }
                               });
    if (!st.ok()) {
      std::fprintf(stderr, "http_bench: %s\n", st.ToString().c_str());
      std::exit(1);
    }
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done == total; });
  return Summarize(ttft, engine::NowSeconds() - t0, tokens);
}

}  // namespace

int main(int argc, char** argv) {
  InitLogging("warn");
  bench::Args a;
  Status st = a.Parse(argc - 1, argv + 1, {"requests", "max-tokens", "concurrency", "max-num-seqs"}, {});
  int64_t total_flag = 0, max_tokens = 0, max_seqs = 0;
  std::vector<int32_t> concs;
  if (!st.ok() || !(st = a.GetInt("requests", 0, &total_flag)).ok() ||
      !(st = a.GetInt("max-tokens", 16, &max_tokens)).ok() || !(st = a.GetInt("max-num-seqs", 256, &max_seqs)).ok() ||
      !(st = ParseIdList(a.Get("concurrency", "1,64,256,1000"), &concs)).ok()) {
    std::fprintf(stderr, "http_bench: %s\n", st.message().c_str());
    return 2;
  }
  rlimit nofile{};  // a connection per client
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  daemon::Config cfg;
  cfg.engine.model = "builtin:tiny-llama";
  cfg.engine.max_model_len = 1024;
  cfg.engine.num_blocks = 4096;
  cfg.engine.max_num_seqs = static_cast<int>(max_seqs);
  cfg.engine.enable_prefix_caching = false;  // identical prompts must not hit the cache
  cfg.monitor.enabled = true;                // as deployed: the monitor ticks beside the load
  cfg.server.port = FreeLoopbackPort();
  char state[] = "/tmp/http_bench.XXXXXX";
  if (!mkdtemp(state)) return 2;
  cfg.server.state_dir = state;
  std::unique_ptr<daemon::Daemon> d;
  if (!(st = daemon::Daemon::Create(cfg, &d)).ok() || !(st = d->Bind()).ok()) {
    std::fprintf(stderr, "http_bench: %s\n", st.ToString().c_str());
    return 2;
  }
  std::thread server([&] { d->Serve(); });
  const std::vector<int32_t> prompt = {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13};
  const std::string prompt_text = "The quick brown fox jumps over the lazy dog.";
  std::printf("builtin:tiny-llama, max_num_seqs %ld, %ld output tokens per request, streaming; %u cores\n",
              static_cast<long>(max_seqs), static_cast<long>(max_tokens), std::thread::hardware_concurrency());
  std::printf("%5s %6s | %9s %9s %6s | %10s %10s %6s | %9s %9s %13s\n", "conc", "reqs", "eng rps", "http rps", "ratio",
              "eng TTFT99", "http TTFB99", "ratio", "eng tok/s", "http tok/s", "overhead/tok");
  for (int conc : concs) {
    const int total = static_cast<int>(total_flag > 0 ? total_flag : std::max<int64_t>(64, 4 * conc));
    Result eng = RunEngine(d->engine(), conc, total, prompt, static_cast<int>(max_tokens));
    cli::FleetOptions o;
    o.port = cfg.server.port;
    o.body = nlohmann::json{{"prompt", prompt_text}, {"max_tokens", max_tokens}, {"stream", true},
                            {"ignore_eos", true}}.dump();
    o.concurrency = conc;
    o.requests = total;
    o.timeout_s = 900;
    const cli::FleetResult f = cli::RunFleet(o);
    if (f.ok != total) {
      std::fprintf(stderr, "http_bench: %ld of %d requests failed: %s\n", static_cast<long>(total - f.ok), total,
                   nlohmann::json(f.errors).dump().c_str());
    }
    Result http = Summarize(f.ttfb_s, f.wall_s, f.ok * max_tokens);  // ignore_eos: max_tokens each
    std::printf("%5d %6d | %9.1f %9.1f %5.2fx | %7.1f ms %7.1f ms %5.2fx | %9.0f %9.0f %12.1f%%\n", conc, total, eng.rps,
                http.rps, http.rps / eng.rps, eng.ttft_p99 * 1e3, http.ttft_p99 * 1e3, http.ttft_p99 / eng.ttft_p99,
                eng.tokens_per_s, http.tokens_per_s, (eng.tokens_per_s / http.tokens_per_s - 1) * 100);
    std::fflush(stdout);
  }
  d->Stop();
  server.join();
  return 0;
}
