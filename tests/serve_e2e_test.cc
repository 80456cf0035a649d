// vigild under a crowd: a thousand concurrent streams all complete (the
// excess waits in the engine's queue, no worker held), the monitor's own
// endpoints answer meanwhile, server.max_waiting_requests answers 429 with
// Retry-After, and idle connections hold no worker.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/sse_fleet.h"
#include "daemon_harness.h"

namespace vigil {
namespace {

using json = nlohmann::json;
using vigil::testing::DaemonProcess;
using vigil::testing::WaitFor;

// The value of the first sample of `name` whose labels contain `has`; -1 if none.
double Sample(const std::string& exposition, const std::string& name, const std::string& has = "") {
  size_t at = 0;
  while ((at = exposition.find("\n" + name, at)) != std::string::npos) {
    const size_t eol = exposition.find('\n', at + 1);
    const std::string line = exposition.substr(at + 1, eol - at - 1);
    at = eol;
    const char next = line.size() > name.size() ? line[name.size()] : ' ';
    if (next != '{' && next != ' ') continue;
    if (!has.empty() && line.find(has) == std::string::npos) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

// This process opens a connection per client.
bool RaiseFdLimit(rlim_t want) {
  rlimit l{};
  if (getrlimit(RLIMIT_NOFILE, &l) != 0) return false;
  if (l.rlim_cur >= want) return true;
  if (l.rlim_max < want) return false;
  l.rlim_cur = want;
  return setrlimit(RLIMIT_NOFILE, &l) == 0;
}

bool EngineIdle(DaemonProcess& d) {
  auto r = d.Client().Get("/health/report");
  if (!r || r->status != 200) return false;
  const json e = json::parse(r->body)["engine"];
  return e["requests_running"] == 0 && e["requests_waiting"] == 0 && e["kv_blocks_used"] == 0;
}

TEST(ServeE2E, AThousandConcurrentStreamsAllCompleteWhileTheMonitorAnswers) {
  if (!RaiseFdLimit(4096)) GTEST_SKIP() << "needs 4096 open files (RLIMIT_NOFILE hard limit too low)";
  // The default server settings: 64 workers, max_waiting_requests 4096; the
  // engine runs 128 sequences at once, so most of the thousand wait.
  DaemonProcess d(
      "engine:\n  model: builtin:tiny-llama\n  max_num_seqs: 128\n  num_blocks: 1024\n  max_model_len: 256\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  cli::FleetOptions o;
  o.port = d.port();
  o.body = R"({"prompt":"hello there","max_tokens":4,"ignore_eos":true,"stream":true})";
  o.concurrency = 1000;
  o.requests = 1000;
  o.timeout_s = 600;
  // Once most of the thousand are in flight: /metrics (and /health) must
  // answer, from a connection of their own.
  int metrics_status = 0, health_status = 0;
  double waiting = -1, running = -1;
  const auto t0 = std::chrono::steady_clock::now();
  auto probe = [&](int in_flight) {
    if (metrics_status != 0 || in_flight < 500 ||
        std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(200))
      return;
    auto c = d.Client();
    c.set_read_timeout(30, 0);
    auto m = c.Get("/metrics");
    metrics_status = m ? m->status : -1;
    if (m) {
      waiting = Sample(m->body, "vllm:num_requests_waiting");
      running = Sample(m->body, "vllm:num_requests_running");
    }
    auto h = c.Get("/health");
    health_status = h ? h->status : -1;
  };
  const cli::FleetResult r = cli::RunFleet(o, probe);
  EXPECT_EQ(r.ok, 1000) << "errors: " << json(r.errors).dump() << " statuses: " << json(r.status).dump()
                        << (r.error_bodies.empty() ? "" : "\nfirst: " + r.error_bodies[0]) << "\n"
                        << d.Log().substr(d.Log().size() > 4000 ? d.Log().size() - 4000 : 0);
  EXPECT_TRUE(r.errors.empty()) << json(r.errors).dump();
  EXPECT_GE(r.events, 1000 * 4) << "every stream carries its 4 tokens (and a finish chunk)";
  EXPECT_GE(r.max_open, 900) << "the clients were not concurrent";
  ASSERT_NE(metrics_status, 0) << "the thousand finished before the probe: " << r.wall_s << " s";
  EXPECT_EQ(metrics_status, 200);
  EXPECT_EQ(health_status, 200);
  std::printf("1000 streams in %.2f s; during: %.0f running, %.0f waiting\n", r.wall_s, running, waiting);
  EXPECT_LE(running, 128);
  EXPECT_TRUE(WaitFor([&] { return EngineIdle(d); }, 30000)) << "requests or KV blocks left behind";
}

TEST(ServeE2E, PastMaxWaitingRequestsA429WithRetryAfterInTheOpenAIShape) {
  DaemonProcess d("engine:\n  model: builtin:tiny-llama\n  max_num_seqs: 1\n  num_blocks: 512\n  max_model_len: 4096\n",
                  "  max_waiting_requests: 2\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  // One long stream runs, two wait: the queue is full.
  vigil::testing::HeldStreams streams(d);
  const std::string kLong = R"({"prompt":"go","max_tokens":4000,"ignore_eos":true,"stream":true})";
  auto sample = [&](const char* name) {
    auto r = d.Client().Get("/metrics");
    return r ? Sample(r->body, name) : -1;
  };
  // The first must be running before the next two arrive: three at once can
  // all be waiting before the scheduler's first step, and the third is then
  // (rightly) refused.
  streams.Open(kLong);
  ASSERT_TRUE(WaitFor([&] { return sample("vllm:num_requests_running") == 1; }, 60000)) << d.Log();
  streams.Open(kLong);
  streams.Open(kLong);
  std::string m;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = d.Client().Get("/metrics");
        if (!r) return false;
        m = r->body;
        return Sample(m, "vllm:num_requests_running") == 1 && Sample(m, "vllm:num_requests_waiting") == 2;
      },
      60000))
      << m;
  EXPECT_EQ(Sample(m, "vigil_requests_rejected_total", "reason=\"queue_full\""), 0);

  cli::FleetOptions o;
  o.port = d.port();
  o.body = R"({"prompt":"one more","max_tokens":4})";
  o.concurrency = 5;
  o.requests = 5;
  o.timeout_s = 60;
  const cli::FleetResult r = cli::RunFleet(o);
  EXPECT_EQ(r.status.count(429) ? r.status.at(429) : 0, 5) << json(r.status).dump() << json(r.errors).dump();
  EXPECT_EQ(r.retry_after, 5);
  ASSERT_EQ(r.error_bodies.size(), 5u);
  for (const std::string& b : r.error_bodies) {
    const json j = json::parse(b.substr(b.find(' ') + 1));
    EXPECT_EQ(j["error"]["type"], "rate_limit_error") << b;
    EXPECT_EQ(j["error"]["code"], "too_many_waiting_requests") << b;
    EXPECT_NE(j["error"]["message"].get<std::string>().find("max_waiting_requests"), std::string::npos) << b;
  }
  auto after = d.Client().Get("/metrics");
  ASSERT_TRUE(after);
  EXPECT_EQ(Sample(after->body, "vigil_requests_rejected_total", "reason=\"queue_full\""), 5);

  // The three hang up: their requests are aborted, running or waiting.
  streams.HangUp();
  EXPECT_TRUE(WaitFor([&] { return EngineIdle(d); }, 60000)) << "a hung-up request was not aborted";
}

TEST(ServeE2E, IdleConnectionsHoldNoWorker) {
  if (!RaiseFdLimit(4096)) GTEST_SKIP() << "needs 4096 open files (RLIMIT_NOFILE hard limit too low)";
  // Two workers; four hundred idle connections: half never send a request,
  // half sent one and keep the connection. /metrics still answers at once
  // (a thread-per-connection server would make it wait for them to time out).
  DaemonProcess d("engine:\n  model: builtin:tiny-llama\n", "  threads: 2\n");
  ASSERT_TRUE(d.WaitReady()) << d.Log();
  std::vector<int> fds;
  struct Closer {
    std::vector<int>* fds;
    ~Closer() {
      for (int fd : *fds) close(fd);
    }
  } closer{&fds};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(d.port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 400; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    if (i % 2 == 0) continue;
    ASSERT_EQ(send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
    std::string got;
    char buf[4096];
    while (got.find("\r\n\r\n") == std::string::npos || got.find("}") == std::string::npos) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      ASSERT_GT(n, 0) << "connection " << i << " closed: " << got;
      got.append(buf, static_cast<size_t>(n));
    }
    ASSERT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
  }
  auto c = d.Client();
  c.set_read_timeout(20, 0);
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m) << "no answer with 400 idle connections open and 2 workers";
  EXPECT_EQ(m->status, 200);
  auto g = c.Post("/v1/completions", R"({"prompt":"still","max_tokens":2})", "application/json");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 200) << g->body;
}

}  // namespace
}  // namespace vigil
