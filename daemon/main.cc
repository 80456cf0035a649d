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
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/logging.h"
#include "daemon/config.h"
#include "daemon/daemon.h"

using namespace vigil;

namespace {

void Usage(FILE* to) {
  std::fprintf(to,
               "usage: vigild [--config PATH] [--check-config] [--log-level LEVEL] [--state-dir DIR] [--version]\n"
               "  --config PATH     configuration file (default /etc/vigil/vigil.yaml)\n"
               "  --check-config    validate the configuration and exit (0 valid, 2 invalid)\n"
               "  --log-level L     trace, debug, info, warn, error (overrides logging.level)\n"
               "  --state-dir DIR   outbox, silences and captures (overrides server.state_dir)\n"
               "  --version         print the version and exit\n");
}

std::string g_config_path = "/etc/vigil/vigil.yaml";
std::string g_state_dir;  // --state-dir: survives reloads
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
  Status st = daemon::LoadConfig(g_config_path, &config);
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 2;
  }
  if (!log_level.empty()) config.logging.level = log_level;
  if (!g_state_dir.empty()) config.server.state_dir = g_state_dir;
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
  sd_notify(0, "STATUS=loading the model");
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

  std::atomic<bool> done{false};
  std::mutex mu;
  std::condition_variable cv;
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
        Status rs = daemon::LoadConfig(g_config_path, &next);
        if (!g_state_dir.empty()) next.server.state_dir = g_state_dir;
        if (!rs.ok()) {
          spdlog::error("reload failed, keeping the running configuration:\n{}", rs.message());
          d->RecordReloadFailure();
        } else if (!(rs = d->Reload(next)).ok()) {
          spdlog::error("reload failed, keeping the running configuration: {}", rs.message());
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
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::min<std::chrono::microseconds>(period, std::chrono::microseconds(1000000)),
                  [&] { return done.load(); });
    }
  });

  sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%lu", d->StatusLine().c_str(), static_cast<unsigned long>(getpid()));
  d->Serve();  // returns after Stop()
  done = true;
  cv.notify_all();
  const unsigned char quit = 0;
  if (write(g_signal_pipe[1], &quit, 1) != 1) spdlog::warn("could not wake the signal thread");
  signal_thread.join();
  status_thread.join();
  spdlog::info("vigild exiting");
  return 0;
}
