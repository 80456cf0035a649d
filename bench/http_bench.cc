// The cost of vigild's HTTP path: the same closed-loop load (C concurrent
// clients, streaming, fixed prompt and output) once straight into the engine
// and once through HTTP + SSE (the front server, one client thread of
// non-blocking sockets: cli/sse_fleet.h), in one run; requests/s, p99 time to
// first token (engine) and to first byte (HTTP), and output tokens/s, as
// ratios. "wall +%" is engine tokens/s over HTTP tokens/s, less one (on a
// shared machine, mostly what other processes took); "cpu +%" is the serving
// side's CPU time per token through HTTP (engine, I/O threads, workers; the
// client's and the prober's threads subtracted) over the engine's alone: the
// HTTP path's own cost per token.
// Meanwhile a prober asks the monitor's own endpoints (/metrics, /health,
// /health/report, /api/v1/alerts and the admin API's rules reload) every
// 50 ms and reports their latency, and the monitor's tick grid is checked
// (the gaps between the points of a signal's series over the HTTP runs).
//   http_bench [--requests N] [--max-tokens T] [--concurrency 1,64,256,1000] [--max-num-seqs S] [--repeat R]
//   (--requests 0: 2 x concurrency, at least 64; --repeat: runs each side R times, interleaved, and
//   keeps the best, as other work on the machine only ever slows a run)
#include <httplib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/args.h"
#include "cli/sse_fleet.h"
#include "common/logging.h"
#include "common/os_util.h"
#include "common/time_util.h"
#include "daemon/daemon.h"
#include "engine/engine_core.h"

using namespace vigil;

namespace {

struct Result {
  double rps = 0, tokens_per_s = 0, ttft_p50 = 0, ttft_p99 = 0;
  double cpu_us_per_token = 0;  // the serving side's CPU time (engine, and HTTP when through it) per output token
};

double CpuSeconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

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
  const double cpu0 = CpuSeconds(RUSAGE_SELF);
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
  Result r = Summarize(ttft, engine::NowSeconds() - t0, tokens);
  r.cpu_us_per_token = (CpuSeconds(RUSAGE_SELF) - cpu0) / static_cast<double>(std::max<int64_t>(1, tokens)) * 1e6;
  return r;
}

Result Best(const Result& a, const Result& b) {
  if (a.rps == 0) return b;
  Result r;
  r.rps = std::max(a.rps, b.rps);
  r.tokens_per_s = std::max(a.tokens_per_s, b.tokens_per_s);
  r.ttft_p50 = std::min(a.ttft_p50, b.ttft_p50);
  r.ttft_p99 = std::min(a.ttft_p99, b.ttft_p99);
  r.cpu_us_per_token = std::min(a.cpu_us_per_token, b.cpu_us_per_token);
  return r;
}

// Asks the monitor's endpoints every 50 ms until stopped; latencies by path.
class Prober {
 public:
  Prober(int port, std::string token) : port_(port), token_(std::move(token)) {
    th_ = std::thread([this] { Loop(); });
  }
  std::map<std::string, std::vector<double>> Stop() {
    stop_ = true;
    th_.join();
    return std::move(ms_);
  }
  double cpu_s() const { return cpu_s_; }  // the prober thread's own CPU time (after Stop)

 private:
  void Loop() {
    const std::vector<std::pair<std::string, std::string>> eps = {{"GET", "/metrics"},
                                                                  {"GET", "/health"},
                                                                  {"GET", "/health/report"},
                                                                  {"GET", "/api/v1/alerts"},
                                                                  {"POST", "/api/v1/rules/reload"}};
    std::map<std::string, std::unique_ptr<httplib::Client>> clients;  // one kept-alive connection each
    for (const auto& [m, p] : eps) {
      auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
      c->set_read_timeout(30, 0);
      c->set_bearer_token_auth(token_.c_str());
      clients[p] = std::move(c);
    }
    while (!stop_) {
      for (const auto& [m, p] : eps) {
        const double t0 = engine::NowSeconds();
        auto r = m == "GET" ? clients[p]->Get(p.c_str()) : clients[p]->Post(p.c_str(), "", "application/json");
        if (r && r->status == 200) ms_[p].push_back((engine::NowSeconds() - t0) * 1e3);
        else ms_[p + " (failed)"].push_back(0);  // counted, not timed
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    cpu_s_ = CpuSeconds(RUSAGE_THREAD);
  }
  double cpu_s_ = 0;
  int port_;
  std::string token_;
  std::atomic<bool> stop_{false};
  std::map<std::string, std::vector<double>> ms_;
  std::thread th_;
};

using bench::Pct;

}  // namespace

int main(int argc, char** argv) {
  InitLogging("error");
  bench::Args a;
  Status st = a.Parse(argc - 1, argv + 1, {"requests", "max-tokens", "concurrency", "max-num-seqs", "repeat"}, {});
  int64_t total_flag = 0, max_tokens = 0, max_seqs = 0, repeat = 0;
  std::vector<int32_t> concs;
  if (!st.ok() || !(st = a.GetInt("requests", 0, &total_flag)).ok() ||
      !(st = a.GetInt("max-tokens", 16, &max_tokens)).ok() || !(st = a.GetInt("max-num-seqs", 256, &max_seqs)).ok() ||
      !(st = a.GetInt("repeat", 1, &repeat)).ok() ||
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
  const std::string token = "http-bench-admin-token";
  cfg.server.admin_token_file = std::string(state) + "/admin_token";
  std::ofstream(cfg.server.admin_token_file) << token << "\n";
  chmod(cfg.server.admin_token_file.c_str(), 0600);
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
  std::printf("%5s %6s | %9s %9s %6s | %10s %10s %6s | %9s %9s %8s | %11s %11s %8s\n", "conc", "reqs", "eng rps",
              "http rps", "ratio", "eng TTFT99", "http TTFB99", "ratio", "eng tok/s", "http tok/s", "wall +%",
              "eng cpu/tok", "http cpu/tok", "cpu +%");
  RunEngine(d->engine(), 16, 64, prompt, static_cast<int>(max_tokens));  // warm-up: libtorch's first steps are slow
  std::map<int, std::map<std::string, std::vector<double>>> probes;      // by concurrency
  const double http_start = UnixNow();
  for (int conc : concs) {
    const int total = static_cast<int>(total_flag > 0 ? total_flag : std::max<int64_t>(64, 2 * conc));
    Result eng, http;
    for (int rep = 0; rep < repeat; ++rep) {
      eng = Best(eng, RunEngine(d->engine(), conc, total, prompt, static_cast<int>(max_tokens)));
      cli::FleetOptions o;
      o.port = cfg.server.port;
      o.body =
          nlohmann::json{{"prompt", prompt_text}, {"max_tokens", max_tokens}, {"stream", true}, {"ignore_eos", true}}
              .dump();
      o.concurrency = conc;
      o.requests = total;
      o.timeout_s = 900;
      // The serving side's CPU: the process's less the client's (this
      // thread runs the fleet) and the prober's.
      const double cpu0 = CpuSeconds(RUSAGE_SELF), client0 = CpuSeconds(RUSAGE_THREAD);
      Prober prober(cfg.server.port, token);
      const cli::FleetResult f = cli::RunFleet(o);
      for (auto& [path, v] : prober.Stop()) probes[conc][path].insert(probes[conc][path].end(), v.begin(), v.end());
      const double server_cpu = CpuSeconds(RUSAGE_SELF) - cpu0 - (CpuSeconds(RUSAGE_THREAD) - client0) - prober.cpu_s();
      if (f.ok != total) {
        std::fprintf(stderr, "http_bench: %ld of %d requests failed: %s\n", static_cast<long>(total - f.ok), total,
                     nlohmann::json(f.errors).dump().c_str());
      }
      Result h = Summarize(f.ttfb_s, f.wall_s, f.ok * max_tokens);  // ignore_eos: max_tokens each
      h.cpu_us_per_token = server_cpu / static_cast<double>(std::max<int64_t>(1, f.ok * max_tokens)) * 1e6;
      http = Best(http, h);
    }
    std::printf(
        "%5d %6d | %9.1f %9.1f %5.2fx | %7.1f ms %7.1f ms %5.2fx | %9.0f %9.0f %7.1f%% | %8.0f us %8.0f us %7.1f%%\n",
        conc, total, eng.rps, http.rps, http.rps / eng.rps, eng.ttft_p99 * 1e3, http.ttft_p99 * 1e3,
        http.ttft_p99 / eng.ttft_p99, eng.tokens_per_s, http.tokens_per_s,
        (eng.tokens_per_s / http.tokens_per_s - 1) * 100, eng.cpu_us_per_token, http.cpu_us_per_token,
        (http.cpu_us_per_token / eng.cpu_us_per_token - 1) * 100);
    std::fflush(stdout);
  }
  std::printf("\nthe monitor's endpoints during the HTTP runs (every 50 ms, kept-alive connections), ms\n");
  std::printf("%5s %-22s %6s %8s %8s %8s\n", "conc", "endpoint", "n", "p50", "p99", "max");
  for (const auto& [conc, by] : probes)
    for (const auto& [path, v] : by)
      std::printf("%5d %-22s %6zu %8.2f %8.2f %8.2f\n", conc, path.c_str(), v.size(), Pct(v, 0.5), Pct(v, 0.99),
                  v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()));
  // The monitor's tick: one point per interval, on its grid, load or not.
  httplib::Client c("127.0.0.1", cfg.server.port);
  const double window = UnixNow() - http_start;
  auto r = c.Get(
      ("/api/v1/series?names=requests_waiting&window=" + std::to_string(static_cast<int>(window) + 1) + "s").c_str());
  if (r && r->status == 200) {
    const auto pts = nlohmann::json::parse(r->body)["series"][0]["points"];
    double max_gap = 0, max_off = 0;
    for (size_t i = 1; i < pts.size(); ++i)
      max_gap = std::max(max_gap, pts[i][0].get<double>() - pts[i - 1][0].get<double>());
    for (const auto& p : pts) {
      const double t = p[0].get<double>();
      max_off = std::max(max_off, std::abs(t - std::round(t)));
    }
    std::printf(
        "\nmonitor ticks over %.0f s of runs: %zu points (interval 1 s), largest gap %.3f s, "
        "largest offset from the 1 s grid %.3f s\n",
        window, pts.size(), max_gap, max_off);
  }
  d->Stop();
  server.join();
  return 0;
}
