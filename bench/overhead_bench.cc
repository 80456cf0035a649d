// The cost of watching: the same load against vigild with the monitor on
// (default rule pack, 1 s interval, all detectors) and off
// (monitor.enabled: false), interleaved over several rounds in one run;
// throughput and TTFT P95 as ratios. The goal: under 1% of throughput.
//   overhead_bench [--vigild PATH] [--rounds 3] [--duration 20s]
//                  [--concurrency 16] [--prompt-tokens 128] [--max-tokens 64]
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "bench/args.h"
#include "cli/loadgen.h"
#include "common/logging.h"
#include "common/os_util.h"
#include "common/units.h"

using namespace vigil;

namespace {

struct Run {
  double tokens_per_s = 0, ttft_p95 = 0;
};

Run Once(const std::string& vigild, const std::string& dir, bool monitor, const cli::LoadOptions& base) {
  const int port = FreeLoopbackPort();
  const std::string cfg = dir + (monitor ? "/on.yaml" : "/off.yaml");
  std::ofstream(cfg) << "server: {host: 127.0.0.1, port: " << port << ", state_dir: " << dir << "/state}\n"
                     << "engine: {model: builtin:tiny-llama, num_blocks: 1024, max_num_seqs: 32}\n"
                     << "monitor: {enabled: " << (monitor ? "true" : "false") << ", interval: 1s}\n"
                     << "rules: {files: [" << VIGIL_SOURCE_ETC_DIR << "/rules/*.yaml]}\n"
                     << "logging: {level: warn}\n";
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open((dir + "/vigild.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(vigild.c_str(), vigild.c_str(), "--config", cfg.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  httplib::Client c("127.0.0.1", port);
  for (int i = 0; i < 1200; ++i) {
    auto r = c.Get("/ready");
    if (r && r->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  cli::LoadOptions o = base;
  o.url = "http://127.0.0.1:" + std::to_string(port);
  // A short warm-up, then the measured window.
  cli::LoadOptions warm = o;
  warm.duration_s = 3;
  cli::LoadResult r;
  (void)cli::LoadGenerator(warm).Run(&r);
  (void)cli::LoadGenerator(o).Run(&r);
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  return {r.output_tokens_per_s, r.ttft.p95};
}

}  // namespace

int main(int argc, char** argv) {
  InitLogging("warn");
  bench::Args a;
  if (Status st = a.Parse(argc - 1, argv + 1,
                          {"vigild", "rounds", "duration", "concurrency", "prompt-tokens", "max-tokens"}, {});
      !st.ok()) {
    std::fprintf(stderr, "overhead_bench: %s\n", st.message().c_str());
    return 2;
  }
  int64_t rounds = 3, conc = 16, pt = 128, mt = 64;
  (void)a.GetInt("rounds", 3, &rounds);
  (void)a.GetInt("concurrency", 16, &conc);
  (void)a.GetInt("prompt-tokens", 128, &pt);
  (void)a.GetInt("max-tokens", 64, &mt);
  cli::LoadOptions o;
  o.concurrency = static_cast<int>(conc);
  o.prompt_tokens = static_cast<int>(pt);
  o.max_tokens = static_cast<int>(mt);
  o.duration_s = 20;
  if (a.Has("duration")) (void)ParseDuration(a.Get("duration"), &o.duration_s);
  const std::string vigild = a.Get("vigild", VIGILD_PATH);
  char tmpl[] = "/tmp/vigil-overhead-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::printf(
      "vigild on the built-in model, %lld clients, prompt %lld, %lld output tokens, %.0f s windows, %lld rounds\n",
      static_cast<long long>(conc), static_cast<long long>(pt), static_cast<long long>(mt), o.duration_s,
      static_cast<long long>(rounds));
  double on_tps = 0, off_tps = 0, on_ttft = 0, off_ttft = 0;
  for (int64_t i = 0; i < rounds; ++i) {
    // Alternate the order so drift favours neither.
    const bool on_first = i % 2 == 0;
    Run first = Once(vigild, dir, on_first, o);
    Run second = Once(vigild, dir, !on_first, o);
    const Run& on = on_first ? first : second;
    const Run& off = on_first ? second : first;
    std::printf("  round %lld: monitor on %.1f tok/s (TTFT p95 %.0f ms), off %.1f tok/s (TTFT p95 %.0f ms)\n",
                static_cast<long long>(i + 1), on.tokens_per_s, on.ttft_p95 * 1e3, off.tokens_per_s,
                off.ttft_p95 * 1e3);
    on_tps += on.tokens_per_s;
    off_tps += off.tokens_per_s;
    on_ttft += on.ttft_p95;
    off_ttft += off.ttft_p95;
  }
  std::printf("\nthroughput on/off   %.4f  (cost %.2f%%)\n", on_tps / off_tps, (1 - on_tps / off_tps) * 100);
  std::printf("TTFT P95 on/off     %.4f\n", on_ttft / off_ttft);
  (void)std::system(("rm -rf '" + dir + "'").c_str());
  return 0;
}
