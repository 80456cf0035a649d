// vigild: flags, signals (SIGHUP reload, SIGTERM/SIGINT graceful stop) and
// systemd integration (READY, STATUS, WATCHDOG, RELOADING, STOPPING).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/logging.h"
#include "common/mutex.h"
#include "daemon/config.h"
#include "daemon/daemon.h"
#include "pipeline/target.h"

using namespace vigil;

namespace {

void Usage(FILE* to) {
  std::fprintf(to,
               "usage: vigild [--config PATH] [--watch URL ...] [--port N] [--check-config] [--log-level LEVEL]\n"
               "              [--state-dir DIR] [--version]\n"
               "  --config PATH     configuration file (default /etc/vigil/vigil.yaml)\n"
               "  --watch URL       watch the engine serving URL (vLLM, SGLang, TGI, llama.cpp, vigild), kind\n"
               "                    detected from its metric names; repeatable. Without --config: a pure\n"
               "                    sidecar on port 9400 with the default rule pack\n"
               "  --port N          listen on port N (overrides server.port)\n"
               "  --check-config    validate the configuration and exit (0 valid, 2 invalid)\n"
               "  --log-level L     trace, debug, info, warn, error (overrides logging.level)\n"
               "  --state-dir DIR   outbox, silences and captures (overrides server.state_dir)\n"
               "  --version         print the version and exit\n");
}

std::string g_config_path = "/etc/vigil/vigil.yaml";
std::string g_state_dir;           // --state-dir: survives reloads
std::vector<std::string> g_watch;  // --watch URLs: survive reloads
int g_port = 0;                    // --port

// The flags that override the file, applied at start and on every reload.
Status ApplyFlags(daemon::Config* c) {
  if (!g_state_dir.empty()) c->server.state_dir = g_state_dir;
  if (g_port > 0) c->server.port = g_port;
  for (const std::string& url : g_watch) {
    pipeline::TargetConfig t;
    t.url = url;
    t.name = daemon::DefaultTargetName(url);
    std::string base, path;
    if (Status st = pipeline::SplitTargetUrl(url, &base, &path); !st.ok()) return st.WithContext("--watch");
    if (t.name == "local") return Status::InvalidArgument("--watch " + url + ": \"local\" is the hosted engine's name");
    for (const auto& other : c->targets)
      if (other.name == t.name)
        return Status::InvalidArgument("--watch " + url + ": target " + t.name + " is already watched");
    c->targets.push_back(t);
  }
  daemon::FinalizeEngine(c);
  return Status::OK();
}

// No --config with --watch: a sidecar with the defaults and the rule pack.
daemon::Config WatchOnlyConfig() {
  daemon::Config c;
  c.path = g_config_path;
  c.server.port = 9400;
  c.engine_section = false;
  // The installed rule pack, else the one in the source tree (a dev build).
  if (access("/etc/vigil/rules", R_OK) != 0 && access(VIGIL_SOURCE_ETC_DIR "/rules", R_OK) == 0)
    c.path = VIGIL_SOURCE_ETC_DIR "/vigil.yaml";
  if (geteuid() != 0 && getenv("HOME")) c.server.state_dir = std::string(getenv("HOME")) + "/.local/state/vigil";
  return c;
}
int g_signal_pipe[2] = {-1, -1};

// Any thread may take the signal (libraries start threads of their own), so
// the handler only forwards it through a pipe to the signal thread.
void OnSignal(int sig) {
  const unsigned char b = static_cast<unsigned char>(sig);
  ssize_t r = write(g_signal_pipe[1], &b, 1);
  (void)r;
}

}  // namespace

int main(int argc, char** argv) {
  bool check_only = false;
  bool config_given = false;
  std::string log_level;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (a.rfind(std::string(flag) + "=", 0) == 0) return a.substr(std::strlen(flag) + 1);
      if (i + 1 >= argc) {
        std::fprintf(stderr, "vigild: %s needs a value\n", flag);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--version") {
      std::printf("vigild %s\n", daemon::kVersion);
      return 0;
    } else if (a == "--help" || a == "-h") {
      Usage(stdout);
      return 0;
    } else if (a == "--check-config") {
      check_only = true;
    } else if (a.rfind("--config", 0) == 0) {
      g_config_path = value("--config");
      config_given = true;
    } else if (a.rfind("--watch", 0) == 0) {
      g_watch.push_back(value("--watch"));
    } else if (a.rfind("--port", 0) == 0) {
      const std::string v = value("--port");
      char* end = nullptr;
      const long p = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || p < 0 || p > 65535) {
        std::fprintf(stderr, "vigild: --port: expected a port number, got \"%s\"\n", v.c_str());
        return 2;
      }
      g_port = static_cast<int>(p);
    } else if (a.rfind("--log-level", 0) == 0) {
      log_level = value("--log-level");
    } else if (a.rfind("--state-dir", 0) == 0) {
      g_state_dir = value("--state-dir");
    } else {
      std::fprintf(stderr, "vigild: unknown option %s\n", a.c_str());
      Usage(stderr);
      return 2;
    }
  }
  InitLogging("info");
  daemon::Config config;
  const bool watch_only = !g_watch.empty() && !config_given;
  Status st = watch_only ? Status::OK() : daemon::LoadConfig(g_config_path, &config);
  if (watch_only) config = WatchOnlyConfig();
  if (st.ok()) st = ApplyFlags(&config);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 2;
  }
  if (!log_level.empty()) config.logging.level = log_level;
  if (Status ls = SetLogLevel(config.logging.level); !ls.ok()) {
    std::fprintf(stderr, "vigild: --log-level: %s\n", ls.message().c_str());
    return 2;
  }
  if (check_only) {
    std::printf("%s: OK\n", g_config_path.c_str());
    return 0;
  }

  if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) {
    std::perror("vigild: pipe");
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  spdlog::info("vigild {} starting with {}", daemon::kVersion, g_config_path);
  sd_notify(0, config.engine_enabled ? "STATUS=loading the model" : "STATUS=starting");
  std::unique_ptr<daemon::Daemon> d;
  st = daemon::Daemon::Create(config, &d);
  if (!st.ok()) {
    spdlog::critical("{}", st.message());
    sd_notifyf(0, "STATUS=failed: %s", st.message().c_str());
    return st.code() == Status::Code::kInvalidArgument || st.code() == Status::Code::kNotFound ? 2 : 1;
  }
  if (!(st = d->Bind()).ok()) {
    spdlog::critical("{}", st.message());
    return 1;
  }

  std::atomic<bool> done{false};  // set under mu, so the status thread cannot miss it between check and wait
  Mutex mu;
  CondVar cv;
  std::thread signal_thread([&] {
    while (true) {
      unsigned char b = 0;
      if (read(g_signal_pipe[0], &b, 1) != 1) {
        if (errno == EINTR) continue;
        return;
      }
      const int sig = b;
      if (sig == 0) return;  // main is done
      if (sig == SIGHUP) {
        spdlog::info("SIGHUP: reloading {}", g_config_path);
        sd_notify(0, "RELOADING=1");
        daemon::Config next;
        Status rs = watch_only ? Status::OK() : daemon::LoadConfig(g_config_path, &next);
        if (watch_only) next = WatchOnlyConfig();
        if (rs.ok()) rs = ApplyFlags(&next);
        if (!rs.ok()) {
          spdlog::error("reload failed, keeping the running configuration:\n{}", rs.message());
          d->RecordReloadFailure();
        } else {
          d->Reload(next);  // logs and counts its own outcome
        }
        sd_notify(0, "READY=1");
      } else {
        spdlog::info("{}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        sd_notify(0, "STOPPING=1");
        d->Stop();
        return;
      }
    }
  });

  // Watchdog pings only while the engine heartbeat is fresh, so systemd
  // restarts a hung engine; STATUS= carries a one-line summary.
  uint64_t wd_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &wd_usec) > 0;
  std::thread status_thread([&] {
    auto last_status = std::chrono::steady_clock::time_point{};
    const auto period = watchdog ? std::chrono::microseconds(wd_usec / 3) : std::chrono::microseconds(2000000);
    while (!done) {
      const auto now = std::chrono::steady_clock::now();
      const std::string problem = d->HealthProblem();
      if (watchdog && problem.empty()) sd_notify(0, "WATCHDOG=1");
      if (now - last_status >= std::chrono::seconds(5)) {
        sd_notifyf(0, "STATUS=%s", problem.empty() ? d->StatusLine().c_str() : problem.c_str());
        last_status = now;
      }
      MutexLock lock(&mu);
      const auto deadline = std::chrono::steady_clock::now() +
                            std::min<std::chrono::microseconds>(period, std::chrono::microseconds(1000000));
      while (!done && cv.WaitUntil(&mu, deadline)) {}
    }
  });

  sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%lu", d->StatusLine().c_str(), static_cast<unsigned long>(getpid()));
  d->Serve();  // returns after Stop()
  {
    MutexLock lock(&mu);
    done = true;
  }
  cv.SignalAll();
  const unsigned char quit = 0;
  if (write(g_signal_pipe[1], &quit, 1) != 1) spdlog::warn("could not wake the signal thread");
  signal_thread.join();
  status_thread.join();
  spdlog::info("vigild exiting");
  return 0;
}
