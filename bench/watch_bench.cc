// Watch mode at scale: one Pipeline watching N vLLM targets on a 1 s grid
// with the default rule pack. A forked child serves a realistic vLLM
// /metrics (prometheus_client text) whose counters and histograms advance on
// every scrape, so this process's CPU is Vigil's alone: the scrape workers'
// fetch+parse+adapt and the pipeline thread's deriver, series, detectors and
// rules. The issue's goal: 200 targets under 10% of one core, cost linear.
//   watch_bench [--targets 50,200,1000] [--seconds 20] [--warmup 5]
// Targets on their own core: WATCH_BENCH_SERVER_CPU=1 taskset -c 0 watch_bench
#include <httplib.h>
#include <malloc.h>
#include <sched.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench/args.h"
#include "common/logging.h"
#include "common/time_util.h"
#include "pipeline/pipeline.h"
#include "rules/rules.h"
#include "scrape/adapter.h"

using namespace vigil;
using Steady = std::chrono::steady_clock;
using Pairs = std::vector<std::pair<std::string, double>>;

namespace {

// prometheus_client's floatToGoString: Python's repr, then Go's exponent
// past 6 integer digits (its "e+0{dot-1}", e+010 included).
std::string Num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char b[64];
  int p = 1;  // repr: the shortest digits that round-trip
  for (; p < 17; ++p)
    if (std::snprintf(b, sizeof b, "%.*g", p, v), std::strtod(b, nullptr) == v) break;
  const double a = std::fabs(v);
  if (a == 0 || (a >= 1e-4 && a < 1e16))  // repr's positional range
    std::snprintf(b, sizeof b, "%.*f", std::max(0, p - 1 - static_cast<int>(std::floor(std::log10(a + (a == 0))))), v);
  std::string s = b;
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  const size_t dot = s.find('.');
  if (v <= 0 || dot == std::string::npos || dot <= 6 || s.find('e') != std::string::npos) return s;
  std::string m = s.substr(0, 1) + "." + s.substr(1, dot - 1) + s.substr(dot + 1);
  while (m.back() == '0' || m.back() == '.') m.pop_back();
  return m + "e+0" + std::to_string(dot - 1);
}

// ---- vLLM v1's /metrics (vllm/v1/metrics/loggers.py) as prometheus_client
// writes it: HELP/TYPE, _created gauges, the python/process collectors, and
// the API server's prometheus-fastapi-instrumentator families.

const std::string kL = "model_name=\"meta-llama/Llama-3.1-8B-Instruct\",engine=\"0\"";

struct Series {
  std::string labels;
  double v = 0, rate = 0, phase = 0;     // gauges: rate is the mean
  std::vector<double> n;                 // histograms: observations per bucket (+Inf last)
  double count = 0, sum = 0, carry = 0;  // carry: the fraction of an observation not yet made
};
struct SimFamily {
  std::string type, name, help;  // counters without _total
  std::vector<double> le;        // histograms (+Inf added)
  double median = 0, amp = 0.4;  // distribution; swing of rates and gauges
  bool integral = true;
  std::vector<Series> series;
};

class Model {
 public:
  Model() {
    const std::vector<double> lat = {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
                                     30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
    const std::vector<double> tok = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                     0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
    std::vector<double> len;  // build_1_2_5_buckets(max_model_len = 131072)
    for (double m = 1; m <= 1e5; m *= 10) len.insert(len.end(), {m, 2 * m, 5 * m});
    const auto one = [](double x) { return Pairs{{kL, x}}; };
    const auto gen = [](double a, double b, double c) {
      return Pairs{{"generation=\"0\"", a}, {"generation=\"1\"", b}, {"generation=\"2\"", c}};
    };
    Add("counter", "python_gc_objects_collected", "Objects collected during gc", gen(900, 80, 3));
    Add("counter", "python_gc_objects_uncollectable", "Uncollectable objects found during GC", gen(0, 0, 0));
    Add("counter", "python_gc_collections", "Number of times this generation was collected", gen(9, 0.8, 0.05));
    Add("gauge", "python_info", "Python platform information",
        {{"implementation=\"CPython\",major=\"3\",minor=\"12\",patchlevel=\"11\",version=\"3.12.11\"", 1}})
        .amp = 0;
    Add("gauge", "process_virtual_memory_bytes", "Virtual memory size in bytes.", {{"", 7.3e10}}).amp = 1e-4;
    Add("gauge", "process_resident_memory_bytes", "Resident memory size in bytes.", {{"", 3.1e9}}).amp = 1e-3;
    Add("gauge", "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
        {{"", 1754550001.52}})
        .amp = 0;
    Add("counter", "process_cpu_seconds", "Total user and system CPU time spent in seconds.", {{"", 0.9}}).integral =
        false;
    Add("gauge", "process_open_fds", "Number of open file descriptors.", {{"", 112}}).amp = 0.05;
    Add("gauge", "process_max_fds", "Maximum number of open file descriptors.", {{"", 1048576}}).amp = 0;
    Add("gauge", "vllm:num_requests_running", "Number of requests in model execution batches.", one(24));
    Add("gauge", "vllm:num_requests_waiting", "Number of requests waiting to be processed.", one(1)).amp = 2;
    Add("gauge", "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", one(0.45)).integral = false;
    Add("counter", "vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.",
        one(4100));
    Add("counter", "vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", one(1650));
    Add("counter", "vllm:num_preemptions", "Cumulative number of preemption from the engine.", one(0.02));
    Add("counter", "vllm:prompt_tokens", "Number of prefill tokens processed.", one(4100));
    Add("counter", "vllm:generation_tokens", "Number of generation tokens processed.", one(1400));
    Add("counter", "vllm:request_success", "Count of successfully processed requests.",
        {{kL + ",finished_reason=\"stop\"", 4.6},
         {kL + ",finished_reason=\"length\"", 0.9},
         {kL + ",finished_reason=\"abort\"", 0.05}});
    Add("histogram", "vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", one(140),
        {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384}, 40);
    Add("histogram", "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", one(5.5),
        {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
         1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0},
        0.12);
    Add("histogram", "vllm:time_per_output_token_seconds",
        "Histogram of time per output token in seconds.DEPRECATED: Use vllm:inter_token_latency_seconds instead.",
        one(1400), tok, 0.022);
    Add("histogram", "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", one(1400), tok,
        0.022);
    Add("histogram", "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", one(5.5), lat,
        6);
    for (auto [name, phase, median] : {std::tuple<std::string, std::string, double>{"queue", "WAITING", 0.02},
                                       {"inference", "RUNNING", 6},
                                       {"prefill", "PREFILL", 0.09},
                                       {"decode", "DECODE", 5.8}})
      Add("histogram", "vllm:request_" + name + "_time_seconds",
          "Histogram of time spent in " + phase + " phase for request.", one(5.5), lat, median);
    Add("histogram", "vllm:request_prompt_tokens", "Number of prefill tokens processed.", one(5.5), len, 700);
    Add("histogram", "vllm:request_generation_tokens", "Number of generation tokens processed.", one(5.5), len, 250);
    Add("histogram", "vllm:request_max_num_generation_tokens",
        "Histogram of maximum number of requested generation tokens.", one(5.5), len, 1024);
    Add("histogram", "vllm:request_params_n", "Histogram of the n request parameter.", one(5.5), {1, 2, 5, 10, 20}, 1);
    Add("histogram", "vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", one(5.5), len,
        1024);
    Add("gauge", "vllm:cache_config_info", "Information of the LLMEngine CacheConfig",
        {{"block_size=\"16\",cache_dtype=\"auto\",calculate_kv_scales=\"False\",cpu_offload_gb=\"0\","
          "enable_prefix_caching=\"True\",engine=\"0\",gpu_memory_utilization=\"0.9\",is_attention_free=\"False\","
          "num_cpu_blocks=\"None\",num_gpu_blocks=\"27794\",num_gpu_blocks_override=\"None\","
          "prefix_caching_hash_algo=\"builtin\",sliding_window=\"None\",swap_space=\"4\",swap_space_bytes="
          "\"4294967296\"",
          1}})
        .amp = 0;
    Pairs req, size, dur;
    for (std::string h : {"/v1/chat/completions", "/v1/completions", "/metrics", "/health", "/v1/models"}) {
      const std::string hm = "handler=\"" + h + "\",method=\"" + (h[4] == 'c' ? "POST" : "GET") + "\"";
      req.push_back({hm + ",status=\"2xx\"", h == "/v1/chat/completions" ? 5.5 : 0.2});
      size.push_back({"handler=\"" + h + "\"", 1});
      dur.push_back({hm, 1});
    }
    Add("counter", "http_requests", "Total number of requests by method, status and handler.", req);
    Add("summary", "http_request_size_bytes", "Content length of incoming requests by handler.", size, {}, 2800);
    Add("summary", "http_response_size_bytes", "Content length of outgoing responses by handler.", size, {}, 1900);
    Add("histogram", "http_request_duration_highr_seconds", "Latency with many buckets but no API specific labels.",
        {{"", 6}}, {0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7.5, 10, 30, 60},
        4);
    Add("histogram", "http_request_duration_seconds", "Latency with only few buckets by handler.", dur, {0.1, 0.5, 1},
        4);
  }

  // One scrape interval of traffic (k: its number): counters and histograms
  // advance at a rate that swings, gauges swing around their mean.
  void Step(int k) {
    for (SimFamily& f : fams_)
      for (Series& s : f.series) {
        const double w = 1 + f.amp * std::sin(0.37 * k + s.phase);
        if (f.type == "gauge") s.v = std::max(0.0, s.rate * w);
        else if (f.type == "counter") s.v += s.rate * w;
        else Observe(f, s, s.rate * w, f.median * (1 + 0.3 * std::sin(0.11 * k)));
      }
  }

  std::string Render() const {
    std::string o;
    const auto line = [&o](const std::string& name, const std::string& l, double v) {
      o += name + (l.empty() ? "" : "{" + l + "}") + " " + Num(v) + "\n";
    };
    const auto head = [&o](const std::string& name, const std::string& type, const std::string& help) {
      o += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    for (const SimFamily& f : fams_) {
      const bool scalar = f.type == "gauge" || f.type == "counter";
      const std::string name = f.type == "counter" ? f.name + "_total" : f.name;
      head(name, f.type, f.help);
      for (const Series& s : f.series) {
        if (scalar) line(name, s.labels, f.integral ? std::floor(s.v) : s.v);
        double cum = 0;
        for (size_t i = 0; i < f.le.size(); ++i) {
          cum += s.n[i];
          line(f.name + "_bucket", (s.labels.empty() ? "" : s.labels + ",") + "le=\"" + Num(f.le[i]) + "\"", cum);
        }
        if (!scalar) line(f.name + "_count", s.labels, s.count), line(f.name + "_sum", s.labels, s.sum);
      }
      // prometheus_client's own collectors (python_*, process_*) write no _created.
      if (f.type == "gauge" || f.name.rfind("python_", 0) == 0 || f.name.rfind("process_", 0) == 0) continue;
      head(f.name + "_created", "gauge", f.help);
      for (const Series& s : f.series) line(f.name + "_created", s.labels, 1754550012.3456789);
    }
    return o;
  }

 private:
  // `series`: (labels, rate per scrape or a gauge's mean).
  SimFamily& Add(std::string type, std::string name, std::string help, Pairs series, std::vector<double> le = {},
                 double median = 0) {
    SimFamily f{type, std::move(name), std::move(help), std::move(le), median, 0.4, true, {}};
    if (type == "histogram") f.le.push_back(INFINITY);
    for (auto& [labels, rate] : series) {
      Series s{labels, type == "counter" ? rate * 86400 : rate, rate, 0.1 * (fams_.size() + f.series.size()), {}, 0, 0,
               0};
      s.n.assign(f.le.size(), 0);
      if (!f.le.empty() || type == "summary") Prefill(f, s, rate * 86400);
      f.series.push_back(std::move(s));
    }
    fams_.push_back(std::move(f));
    return fams_.back();
  }
  static double Cdf(double x, double median) { return std::isinf(x) ? 1 : 1 / (1 + std::pow(median / x, 2.5)); }
  // A day-old server: each bucket's expected share of `d` observations.
  static void Prefill(const SimFamily& f, Series& s, double d) {
    for (size_t i = 0; i < f.le.size(); ++i)
      s.count += s.n[i] = std::round(d * (Cdf(f.le[i], f.median) - (i ? Cdf(f.le[i - 1], f.median) : 0)));
    if (f.le.empty()) s.count = std::round(d);
    s.sum = s.count * f.median * 1.3;
  }
  // `d` more observations (log-logistic around `median`), one at a time, so
  // that every delta is whole observations in one bucket each, as in vLLM.
  void Observe(const SimFamily& f, Series& s, double d, double median) {
    for (s.carry += d; s.carry >= 1; s.carry -= 1) {
      const double u = std::uniform_real_distribution<double>(0, 1)(rng_);
      const double x = median * std::pow(u / (1 - u), 1 / 2.5);
      s.sum += x;
      s.count += 1;
      if (!f.le.empty()) s.n[std::lower_bound(f.le.begin(), f.le.end(), x) - f.le.begin()] += 1;  // le: x <= bound
    }
  }
  std::mt19937 rng_{42};
  std::vector<SimFamily> fams_;
};

// ---- The server: a child process, so its CPU is not counted as Vigil's.

pid_t Serve(const std::vector<std::string>& bodies, std::atomic<uint32_t>* scrapes, size_t n, int* port) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // WATCH_BENCH_SERVER_CPU=N: the targets on a core of their own (with
    // vigild pinned by `taskset -c` to the others), as targets on other
    // hosts would be: their threads then do not share vigild's cores.
    if (const char* c = std::getenv("WATCH_BENCH_SERVER_CPU")) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(std::atoi(c), &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    httplib::Server svr;
    // A thread per target: vigild keeps one connection alive to each target
    // (as to a separate server each), and httplib's server holds a thread
    // per open connection.
    svr.new_task_queue = [n] { return new httplib::ThreadPool(n + 16); };
    // uvicorn (vLLM, SGLang) keeps a connection for any number of requests
    // while it is used within 5 s; httplib closes it after 5 by default,
    // which would make every fifth scrape a new connection here only.
    svr.set_keep_alive_max_count(1000000);
    svr.Get(R"(/t/(\d+)/metrics)", [&](const httplib::Request& q, httplib::Response& r) {
      const size_t i = std::stoul(q.matches[1]);
      if (i >= n) return void(r.status = 404);
      const uint32_t k = scrapes[i].fetch_add(1);  // each target's own scrape count picks its body
      r.set_content(bodies[k % bodies.size()], "text/plain; version=0.0.4; charset=utf-8");
    });
    svr.Get(R"(/t/(\d+)/health)", [](const httplib::Request&, httplib::Response& r) { r.status = 200; });
    const int p = svr.bind_to_any_port("127.0.0.1");
    // The distro's httplib listens with a backlog of 5: 16 concurrent
    // scrapers overflow it, and each dropped SYN costs a 1 s retransmit that
    // a real vLLM (uvicorn: 2048) never shows. Raise it on the bound socket.
    for (int fd = 3; fd < 1024; ++fd) {
      int on = 0;
      sockaddr_in a{};
      socklen_t len = sizeof on, alen = sizeof a;
      if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on &&
          getsockname(fd, reinterpret_cast<sockaddr*>(&a), &alen) == 0 && ntohs(a.sin_port) == p)
        listen(fd, 1024);
    }
    if (write(fds[1], &p, sizeof p) != sizeof p) _exit(1);
    svr.listen_after_bind();
    _exit(0);
  }
  close(fds[1]);
  if (read(fds[0], port, sizeof *port) != sizeof *port) std::abort();
  close(fds[0]);
  return pid;
}

// ---- Measurement.

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
double ProcessCpu() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}
double ThreadCpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
double ServerCpu(pid_t pid) {  // utime + stime: fields 14 and 15 of /proc/PID/stat
  const std::string s = Slurp("/proc/" + std::to_string(pid) + "/stat");
  unsigned long user = 0, sys = 0;
  std::sscanf(s.c_str() + s.rfind(')') + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &user, &sys);
  return static_cast<double>(user + sys) / sysconf(_SC_CLK_TCK);
}
double RssKB() {
  const std::string s = Slurp("/proc/self/status");
  return std::atof(s.c_str() + s.find("VmRSS:") + 6);
}
std::string LoadAvg() {  // its first three fields
  const std::string s = Slurp("/proc/loadavg");
  size_t e = 0;
  for (int i = 0; i < 3; ++i) e = s.find(' ', e + 1);
  return s.substr(0, e);
}
using bench::Pct;

struct Bench {
  int port = 0, warmup = 5, seconds = 20;
  pid_t server = 0;
  std::atomic<uint32_t>* scrapes = nullptr;  // per target, shared with the server
  std::vector<rules::RuleGroup> groups;
  std::vector<rules::InhibitRule> inhibits;
};
struct Result {
  size_t n = 0, overruns = 0, up = 0, stale = 0, signals = 0, transitions = 0;
  double cpu = 0, tick_cpu = 0, server_cpu = 0, done = 0, rss = 0, scrape_ms = 0, store_now = 0, store_full = 0;
  uint64_t errors = 0, eval_failures = 0;
  std::vector<double> tick_ms, tick_cpu_ms;
  std::string load;
};

Result RunOne(const Bench& b, size_t n) {
  Result r;
  r.n = n;
  r.load = LoadAvg();
  for (size_t i = 0; i < n; ++i) b.scrapes[i] = 0;
  malloc_trim(0);  // so the last run's freed heap does not hide this one's growth
  const double rss0 = RssKB();
  pipeline::PipelineConfig cfg;  // interval 1 s, retention 3600 s, min(16, N) scrape workers
  if (const char* w = std::getenv("WATCH_BENCH_WORKERS")) cfg.scrape_workers = std::atoi(w);  // to compare pool sizes
  for (size_t i = 0; i < n; ++i) {
    pipeline::TargetConfig t;
    t.name = "vllm-" + std::to_string(i);
    t.url = "http://127.0.0.1:" + std::to_string(b.port) + "/t/" + std::to_string(i) + "/metrics";
    t.health_path = "/t/" + std::to_string(i) + "/health";
    cfg.targets.push_back(std::move(t));
  }
  std::unique_ptr<pipeline::Pipeline> p;
  if (Status st = pipeline::Pipeline::Create(cfg, nullptr, &p); !st.ok())
    std::fprintf(stderr, "watch_bench: %s\n", st.ToString().c_str()), std::exit(1);
  p->SetRules(b.groups, b.inhibits);
  p->SetHook([&r](const pipeline::TickResult& tick) {
    for (const auto& it : tick.instances) r.transitions += it.transitions.size();
  });
  // Our own grid, as Loop() keeps it (overrun slots skipped), so that each
  // TickOnce can be timed: wall time, and CPU on this (the pipeline) thread.
  const auto start = Steady::now();
  const auto served = [&] {
    uint64_t s = 0;
    for (size_t i = 0; i < n; ++i) s += b.scrapes[i];
    return s;
  };
  double cpu0 = 0, tick0 = 0, server0 = 0, served0 = 0;
  for (int slot = 0; slot < b.warmup + b.seconds;) {
    std::this_thread::sleep_until(start + std::chrono::seconds(slot));
    const bool measuring = slot >= b.warmup;
    if (measuring && r.tick_ms.empty())
      cpu0 = ProcessCpu(), tick0 = ThreadCpu(), server0 = ServerCpu(b.server), served0 = served();
    const auto t0 = Steady::now();
    const double c0 = ThreadCpu();
    p->TickOnce(UnixNow(), cfg.interval_s * cfg.scrape_wait_fraction);
    if (measuring) {
      r.tick_ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - t0).count());
      r.tick_cpu_ms.push_back((ThreadCpu() - c0) * 1e3);
    }
    const int next = std::max(slot + 1, static_cast<int>((Steady::now() - start) / std::chrono::seconds(1)) + 1);
    if (measuring) r.overruns += next - slot - 1;
    slot = next;
  }
  std::this_thread::sleep_until(start + std::chrono::seconds(b.warmup + b.seconds));  // the window ends on the grid
  r.cpu = (ProcessCpu() - cpu0) / b.seconds;
  r.tick_cpu = (ThreadCpu() - tick0) / b.seconds;
  r.server_cpu = (ServerCpu(b.server) - server0) / b.seconds;
  r.done = (served() - served0) / (1.0 * b.seconds * n);  // GET /metrics served / due
  r.rss = RssKB() - rss0;
  r.load += " -> " + LoadAvg();
  const double now = UnixNow();
  for (const auto& t : p->Targets()) {
    r.up += t.up;
    r.stale += t.last_scrape < now - 2.5;
    r.scrape_ms += t.duration_s * 1e3 / n;
    for (const auto& e : t.errors) r.errors += e.second;
  }
  const size_t points = static_cast<size_t>(cfg.retention_s / cfg.interval_s) + 1;
  for (const auto& name : p->InstanceNames()) {
    const auto& s = p->Find(name)->series();
    const size_t k = s.Names().size();
    r.signals = std::max(r.signals, k);
    r.store_now += s.MemoryBytes();
    r.store_full += k * (points * sizeof(monitor::Point) + 96);  // as MemoryBytes counts them, rings full
  }
  r.eval_failures = p->evaluation_failures();
  return r;
}

// A worker's scrape piece by piece, on one thread with nothing else running:
// the two GETs (on one kept-alive connection, as ScrapeSession makes them),
// parse (with FetchTarget's filter) and adapt.
std::string Breakdown(const std::string& body, int port) {
  const auto us = [](auto&& f) {
    const double t0 = ThreadCpu();
    for (int i = 0; i < 300; ++i) f();
    return (ThreadCpu() - t0) / 300 * 1e6;
  };
  httplib::Client c("127.0.0.1", port);
  c.set_keep_alive(true);
  const auto get = [&c](const char* path) { return c.Get(path); };
  std::vector<scrape::ParsedFamily> fams;
  std::vector<scrape::InstanceReading> out;
  const double metrics = us([&] { (void)get("/t/0/metrics"); }), health = us([&] { (void)get("/t/0/health"); });
  const scrape::FamilyFilter keep = [](std::string_view f) { return scrape::AdaptersRead(f); };
  // Into the same vector each time, as a scrape worker's FetchTarget parses.
  const double parse =
      us([&] { (void)scrape::ParseExposition(body, scrape::Format::kPrometheusText, {}, &fams, nullptr, &keep); });
  const double adapt = us([&] { (void)scrape::Adapt(scrape::DetectEngine(fams), fams, &(out = {})); });
  char b[256];
  std::snprintf(b, sizeof b,
                "GET /metrics %.0f us + GET /health %.0f us + parse %.0f us + detect+adapt %.0f us = %.0f us", metrics,
                health, parse, adapt, metrics + health + parse + adapt);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  InitLogging("warn");
  Bench b;
  std::vector<size_t> sizes = {50, 200, 1000};
  bool bad = argc % 2 == 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i], v = argv[i + 1];
    if (f == "--seconds") b.seconds = std::atoi(v.c_str());
    else if (f == "--warmup") b.warmup = std::atoi(v.c_str());
    else if (f == "--targets") sizes.clear();
    else bad = true;
    for (size_t at = 0; f == "--targets" && at < v.size(); at = std::min(v.find(',', at), v.size()) + 1)
      sizes.push_back(std::strtoul(v.c_str() + at, nullptr, 10));
  }
  if (bad || sizes.empty() || std::count(sizes.begin(), sizes.end(), 0u) || b.seconds < 1 || b.warmup < 0)
    return std::fprintf(stderr, "usage: watch_bench [--targets 50,200,1000] [--seconds 20] [--warmup 5]\n"), 2;
  if (Status st = rules::LoadRules({VIGIL_SOURCE_ETC_DIR "/rules/*.yaml"}, &b.groups, &b.inhibits); !st.ok())
    return std::fprintf(stderr, "watch_bench: %s\n", st.ToString().c_str()), 1;
  // One body per scrape of a run, so that no counter goes back (a reset) within one.
  std::vector<std::string> bodies;
  Model m;
  for (int k = 0; k < b.warmup + b.seconds + 10; ++k, m.Step(k)) bodies.push_back(m.Render());
  const size_t max_n = *std::max_element(sizes.begin(), sizes.end());
  b.scrapes = static_cast<std::atomic<uint32_t>*>(
      mmap(nullptr, max_n * sizeof(uint32_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  b.server = Serve(bodies, b.scrapes, max_n, &b.port);  // before any thread of ours starts
  const std::string body = bodies[0];
  bodies = {};
  if (const char* dump = std::getenv("WATCH_BENCH_DUMP"))
    std::ofstream(dump) << body;  // for profiling the parser alone
  size_t rules = 0;
  for (const auto& g : b.groups) rules += g.rules.size();
  std::printf(
      "exposition: %zu bytes, %zu lines, %zu variants served in turn\n"
      "%zu rules; interval 1 s, retention 3600 s; %d s warm-up, %d s measured; %u CPUs\n",
      body.size(), static_cast<size_t>(std::count(body.begin(), body.end(), '\n')), b.warmup + b.seconds + 10ul, rules,
      b.warmup, b.seconds, std::thread::hardware_concurrency());
  const std::string alone = Breakdown(body, b.port);  // before the runs, on a quiet process
  std::vector<Result> res;
  for (size_t n : sizes) {
    res.push_back(RunOne(b, n));
    std::printf("  %zu targets done, load average %s\n", n, res.back().load.c_str());
    std::fflush(stdout);
  }
  kill(b.server, SIGKILL);
  waitpid(b.server, nullptr, 0);

  std::printf(
      "\n| targets | Vigil CPU %% of one core (pipeline thread + scrape workers) | server CPU %% | ticks (overruns) "
      "| tick p50 / p99 / max ms | tick CPU p50 / max ms | scrapes done / due | scrape ms | RSS growth MB "
      "(KB / target) | up / stale | errors |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Result& r : res)
    std::printf(
        "| %zu | %.1f%% (%.1f + %.1f) | %.0f%% | %zu (%zu) | %.0f / %.0f / %.0f | %.1f / %.1f | %.3f | %.1f "
        "| %.1f (%.0f) | %zu / %zu | %llu |\n",
        r.n, r.cpu * 100, r.tick_cpu * 100, (r.cpu - r.tick_cpu) * 100, r.server_cpu * 100, r.tick_ms.size(),
        r.overruns, Pct(r.tick_ms, 0.5), Pct(r.tick_ms, 0.99), Pct(r.tick_ms, 1), Pct(r.tick_cpu_ms, 0.5),
        Pct(r.tick_cpu_ms, 1), r.done, r.scrape_ms, r.rss / 1024, r.rss / r.n, r.up, r.stale,
        static_cast<unsigned long long>(r.errors));
  std::printf("\nper-target cost, CPU per scrape done (x1.00 = linear in targets):\n");
  const auto per = [](const Result& r, double cpu) { return cpu / std::max(1e-9, r.done * r.n) * 1e6; };
  for (const Result& r : res)
    std::printf("  %4zu targets: %.0f us (pipeline thread %.0f us), x%.2f of %zu targets'\n", r.n, per(r, r.cpu),
                per(r, r.tick_cpu), per(r, r.cpu) / per(res[0], res[0].cpu), res[0].n);
  std::printf("  one scrape alone, CPU on one thread: %s\n", alone.c_str());
  std::printf("\nseries stores, %zu signals per instance (measured now; extrapolated to full rings of 3601 points):\n",
              res[0].signals);
  for (const Result& r : res)
    std::printf(
        "  %4zu targets: %.1f MB now, %.0f MB at full retention (%.0f KB per target); %zu rule transitions,"
        " %llu evaluation failures\n",
        r.n, r.store_now / 1048576, r.store_full / 1048576, r.store_full / 1024 / r.n, r.transitions,
        static_cast<unsigned long long>(r.eval_failures));
  return 0;
}
