// Debian's Prometheus and Alertmanager as real peers of end-to-end tests, on
// free loopback ports with generated configs; killed when they go out of scope.
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/os_util.h"
#include "test_util.h"

namespace vigil::testing {

// A child process with its output in a log file.
class PeerProcess {
 public:
  PeerProcess() = default;
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;
  ~PeerProcess() { Stop(SIGKILL); }

  void Start(const std::string& binary, std::vector<std::string> args, const std::string& log) {
    log_ = log;
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
  }
  void Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  bool running() const { return pid_ > 0; }
  std::string Log() const { return ReadFile(log_); }

 private:
  pid_t pid_ = -1;
  std::string log_;
};

inline nlohmann::json GetJson(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2);
  c.set_read_timeout(5);
  auto r = c.Get(path);
  return r && r->status == 200 ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
}

// One sample of a Prometheus text exposition (first match), or -1.
inline double ScrapeValue(int port, const std::string& sample_prefix) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2);
  auto r = c.Get("/metrics");
  if (!r || r->status != 200) return -1;
  const std::string& b = r->body;
  for (size_t i = b.find(sample_prefix); i != std::string::npos; i = b.find(sample_prefix, i + 1)) {
    if (i > 0 && b[i - 1] != '\n') continue;
    const size_t sp = b.find(' ', i + sample_prefix.size());
    if (sp == std::string::npos) return -1;
    return std::strtod(b.c_str() + sp + 1, nullptr);
  }
  return -1;
}

// Debian's Alertmanager; with `peers`, one replica of a cluster on loopback.
class AlertmanagerProcess {
 public:
  struct Options {
    std::string config = "route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n";
    bool cluster = false;         // listen for peers on cluster_port()
    std::vector<int> peer_ports;  // other replicas' cluster ports
    std::string peer_timeout = "15s";
  };
  AlertmanagerProcess() : AlertmanagerProcess(Options{}) {}
  explicit AlertmanagerProcess(const Options& o, int cluster_port = 0) {
    port_ = FreeLoopbackPort();
    cluster_port_ = cluster_port > 0 ? cluster_port : FreeLoopbackPort();
    WriteFile(dir_.File("am.yml"), o.config);
    std::vector<std::string> args = {"--config.file=" + dir_.File("am.yml"), "--storage.path=" + dir_.path(),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_)};
    if (!o.cluster) {
      args.push_back("--cluster.listen-address=");
    } else {
      const std::string self = "127.0.0.1:" + std::to_string(cluster_port_);
      args.insert(args.end(), {"--cluster.listen-address=" + self, "--cluster.advertise-address=" + self,
                               "--cluster.peer-timeout=" + o.peer_timeout, "--cluster.gossip-interval=100ms",
                               "--cluster.pushpull-interval=1s", "--cluster.reconnect-interval=1s"});
      for (int p : o.peer_ports) args.push_back("--cluster.peer=127.0.0.1:" + std::to_string(p));
    }
    proc_.Start("/usr/bin/prometheus-alertmanager", args, dir_.File("am.log"));
  }
  bool WaitReady() {
    return WaitFor(
        [&] {
          httplib::Client c("127.0.0.1", port_);
          auto r = c.Get("/-/ready");
          return r && r->status == 200;
        },
        30000);
  }
  // Ready, and (in a cluster) seeing `members` members.
  bool WaitClustered(size_t members) {
    return WaitFor(
        [&] {
          const nlohmann::json s = GetJson(port_, "/api/v2/status");
          return s.is_object() && s["cluster"]["peers"].is_array() && s["cluster"]["peers"].size() == members &&
                 s["cluster"]["status"] == "ready";
        },
        60000);
  }
  nlohmann::json Alerts() { return GetJson(port_, "/api/v2/alerts"); }
  // Times this replica's notification pipeline asked the shared log whether a
  // notification went out already (it does before each send it would make).
  double NflogQueries() const { return ScrapeValue(port_, "alertmanager_nflog_queries_total"); }
  double NotificationsSent() const {
    return ScrapeValue(port_, "alertmanager_notifications_total{integration=\"webhook\"}");
  }
  void Stop() { proc_.Stop(SIGTERM); }
  int port() const { return port_; }
  int cluster_port() const { return cluster_port_; }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string Log() const { return proc_.Log(); }

 private:
  TempDir dir_;
  int port_ = 0, cluster_port_ = 0;
  PeerProcess proc_;
};

// Debian's Prometheus with the given config (its file paths relative to dir()).
class PrometheusProcess {
 public:
  explicit PrometheusProcess(const std::string& config_yaml, const std::vector<std::string>& extra_args = {}) {
    port_ = FreeLoopbackPort();
    WriteFile(dir_.File("prometheus.yml"), config_yaml);
    std::vector<std::string> args = {"--config.file=" + dir_.File("prometheus.yml"),
                                     "--storage.tsdb.path=" + dir_.File("data"),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_)};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    proc_.Start("/usr/bin/prometheus", args, dir_.File("prometheus.log"));
  }
  bool WaitReady() {
    return WaitFor(
        [&] {
          httplib::Client c("127.0.0.1", port_);
          auto r = c.Get("/-/ready");
          return r && r->status == 200;
        },
        60000);
  }
  // The result vector of an instant query (empty on error).
  nlohmann::json Query(const std::string& promql) {
    const nlohmann::json r = GetJson(port_, "/api/v1/query?query=" + httplib::detail::encode_query_param(promql));
    return r.is_object() && r["status"] == "success" ? r["data"]["result"] : nlohmann::json::array();
  }
  nlohmann::json Alerts() {
    const nlohmann::json r = GetJson(port_, "/api/v1/alerts");
    return r.is_object() ? r["data"]["alerts"] : nlohmann::json::array();
  }
  int port() const { return port_; }
  const TempDir& dir() const { return dir_; }
  std::string Log() const { return proc_.Log(); }

 private:
  TempDir dir_;
  int port_ = 0;
  PeerProcess proc_;
};

}  // namespace vigil::testing
