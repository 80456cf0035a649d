// Starts the real vigild on a free loopback port with a generated config,
// listening as systemd would on a NOTIFY_SOCKET, for end-to-end tests.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/os_util.h"
#include "test_util.h"

namespace vigil::testing {

inline int FreePort() { return FreeLoopbackPort(); }

class DaemonProcess {
 public:
  // `extra_yaml` is appended to a config that sets server.host/port and
  // state_dir; it may add engine: and other sections.
  // `args` are added to vigild's command line (e.g. --state-dir DIR).
  // `port` 0: a free one (a restart passes the port it had).
  explicit DaemonProcess(const std::string& engine_yaml, const std::string& server_extra = "",
                         std::vector<std::pair<std::string, std::string>> env = {}, std::vector<std::string> args = {},
                         int port = 0) {
    port_ = port > 0 ? port : FreePort();
    config_ = dir_.File("vigil.yaml");
    WriteConfig(engine_yaml, server_extra);
    notify_path_ = dir_.File("notify.sock");
    notify_fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::snprintf(un.sun_path, sizeof un.sun_path, "%s", notify_path_.c_str());
    bind(notify_fd_, reinterpret_cast<sockaddr*>(&un), sizeof un);
    log_ = dir_.File("vigild.log");
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      setenv("NOTIFY_SOCKET", notify_path_.c_str(), 1);
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      // A file-size limit (the full-disk test) must fail writes, not kill.
      signal(SIGXFSZ, SIG_IGN);
      std::vector<char*> argv = {const_cast<char*>(VIGILD_PATH), const_cast<char*>("--config"), config_.data()};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(VIGILD_PATH, argv.data());
      _exit(127);
    }
  }
  ~DaemonProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (notify_fd_ >= 0) close(notify_fd_);
  }

  // A 10 s shutdown grace unless `server_extra` sets one.
  void WriteConfig(const std::string& engine_yaml, const std::string& server_extra = "") {
    const std::string grace =
        server_extra.find("shutdown_grace:") == std::string::npos ? "  shutdown_grace: 10s\n" : "";
    WriteFile(config_, "server:\n  host: 127.0.0.1\n  port: " + std::to_string(port_) +
                           "\n  state_dir: " + dir_.path() + "\n" + grace + server_extra + engine_yaml);
  }

  // Waits until /ready answers 200; false (with the log) on timeout or exit.
  bool WaitReady(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      int st;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        exited_ = true;
        exit_status_ = st;
        return false;
      }
      httplib::Client c("127.0.0.1", port_);
      c.set_connection_timeout(1);
      auto r = c.Get("/ready");
      if (r && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  httplib::Client Client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& config_path() const { return config_; }
  std::string Log() const { return ReadFile(log_); }
  void Signal(int sig) const { kill(pid_, sig); }

  // Exit code, or -1 if it did not exit within the timeout.
  int WaitExit(std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      int st;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  // Every sd_notify datagram received so far.
  std::vector<std::string> NotifyMessages() {
    char buf[4096];
    ssize_t n;
    while ((n = recv(notify_fd_, buf, sizeof buf, 0)) > 0) notes_.emplace_back(buf, static_cast<size_t>(n));
    return notes_;
  }

 private:
  TempDir dir_;
  int port_ = 0;
  std::string config_, notify_path_, log_;
  int notify_fd_ = -1;
  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_status_ = 0;
  std::vector<std::string> notes_;
};

// Streaming completions held open until HangUp(), or destruction (failed
// assertions too): a client thread each, whose receiver hangs up once asked.
class HeldStreams {
 public:
  explicit HeldStreams(const DaemonProcess& d) : d_(d) {}
  ~HeldStreams() { HangUp(); }
  HeldStreams(const HeldStreams&) = delete;
  HeldStreams& operator=(const HeldStreams&) = delete;

  // `body` must ask for "stream":true (and enough tokens to outlast the test).
  void Open(const std::string& body) {
    threads_.emplace_back([this, body] {
      auto c = d_.Client();
      c.set_read_timeout(300, 0);
      httplib::Request req;
      req.method = "POST";
      req.path = "/v1/completions";
      req.set_header("Content-Type", "application/json");
      req.body = body;
      bool counted = false;
      req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        if (!counted && std::string(data, n).rfind("data:", 0) == 0) {  // an SSE event, not an error body
          counted = true;
          ++streaming_;
        }
        return !stop_.load();  // false: hang up
      };
      httplib::Response res;
      httplib::Error err;
      c.send(req, res, err);
      if (res.status >= 400) ++refused_;
    });
  }
  // Hangs every stream up and joins its thread.
  void HangUp() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  int streaming() const { return streaming_; }  // streams that got their first event
  int refused() const { return refused_; }      // answered 4xx/5xx

 private:
  const DaemonProcess& d_;
  std::atomic<bool> stop_{false};
  std::atomic<int> streaming_{0}, refused_{0};
  std::vector<std::thread> threads_;
};

}  // namespace vigil::testing
