// Alert delivery cost, in one run:
//  1. notifications/s through the SQLite outbox to a local HTTP receiver,
//     against the same with the outbox off (memory only): the durability cost;
//  2. the time the rules' hook spends handing over the firing set
//     (Notifier::Observe) while the receiver answers, and while it hangs
//     past its timeout: the hang must add nothing.
//   alerts_bench [--notifications N] [--observations N]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "alerts/notifier.h"
#include "bench/args.h"
#include "common/logging.h"
#include "common/time_util.h"

using namespace vigil;
using Steady = std::chrono::steady_clock;

namespace {

struct Receiver {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::atomic<int> hang_ms{0};
  std::atomic<uint64_t> got{0};
  Receiver() {
    server.Post(".*", [this](const httplib::Request&, httplib::Response& r) {
      if (hang_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(hang_ms.load()));
      ++got;
      r.set_content("{}", "application/json");
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Receiver() {
    server.stop();
    thread.join();
  }
};

alerts::ReceiverConfig Hook(const Receiver& rx, double timeout_s) {
  alerts::ReceiverConfig r;
  r.name = "hook";
  r.type = alerts::ReceiverType::kWebhook;
  r.urls = {"http://127.0.0.1:" + std::to_string(rx.port) + "/hook"};
  r.timeout_s = timeout_s;
  return r;
}

double Throughput(const std::string& outbox, int n) {
  Receiver rx;
  alerts::DeliveryConfig c;
  c.receivers = {Hook(rx, 5)};
  c.outbox_path = outbox;
  alerts::Deliverer d(c, DefaultClock());
  d.Start();
  const std::string body(1200, 'x');  // about a one-alert webhook body
  const auto t0 = Steady::now();
  for (int i = 0; i < n; ++i) (void)d.Submit("hook", body);
  d.Drain(600);
  const double s = std::chrono::duration<double>(Steady::now() - t0).count();
  d.Stop();
  return n / s;
}

std::vector<alerts::Alert> Firing(int n) {
  std::vector<alerts::Alert> out;
  for (int i = 0; i < n; ++i) {
    alerts::Alert a;
    a.labels = {
        {"alertname", "Rule" + std::to_string(i % 12)}, {"severity", "critical"}, {"pathology", "kv_thrashing"}};
    a.annotations = {{"summary", "something is wrong"}, {"evidence", "kv_cache_usage=0.98"}};
    out.push_back(a);
  }
  return out;
}

// p50, p99, max of Observe() in microseconds over `n` ticks, alerts flapping
// so every tick produces notifications.
std::vector<double> ObserveLatency(bool hang, int n, const std::string& outbox, uint64_t* delivered) {
  Receiver rx;
  if (hang) rx.hang_ms = 3000;  // past the 1 s timeout: every attempt times out
  alerts::NotifierConfig c;
  c.dispatch.group_wait_s = 0;
  c.dispatch.group_interval_s = 0.001;
  c.dispatch.default_receiver = "hook";
  c.delivery.receivers = {Hook(rx, 1)};
  c.delivery.outbox_path = outbox;
  c.delivery.retry = {0.01, 0.05, 3600};
  c.tick_s = 0.001;
  std::unique_ptr<alerts::Notifier> notifier;
  if (!alerts::Notifier::Create(c, DefaultClock(), &notifier).ok()) return {};
  notifier->Start();
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    auto firing = Firing(i % 2 ? 12 : 6);
    const auto t0 = Steady::now();
    notifier->Observe(std::move(firing));
    us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - t0).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  *delivered = notifier->deliverer().Stats()["hook"].delivered;
  notifier->Stop();
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100], us.back()};
}

}  // namespace

int main(int argc, char** argv) {
  InitLogging("error");
  bench::Args a;
  if (Status st = a.Parse(argc - 1, argv + 1, {"notifications", "observations"}, {}); !st.ok()) {
    std::fprintf(stderr, "alerts_bench: %s\n", st.message().c_str());
    return 2;
  }
  int64_t n = 0, obs = 0;
  (void)a.GetInt("notifications", 2000, &n);
  (void)a.GetInt("observations", 1000, &obs);
  char tmpl[] = "/tmp/vigil-alerts-bench-XXXXXX";
  const std::string dir = mkdtemp(tmpl);

  const double durable = Throughput(dir + "/outbox.db", static_cast<int>(n));
  const double memory = Throughput("", static_cast<int>(n));
  std::printf("delivery, %lld notifications to a local webhook (one receiver thread):\n", static_cast<long long>(n));
  std::printf("  outbox (SQLite WAL)  %8.0f notifications/s\n", durable);
  std::printf("  memory only          %8.0f notifications/s\n", memory);
  std::printf("  ratio outbox/memory  %8.2f\n\n", durable / memory);

  uint64_t ok_delivered = 0, hung_delivered = 0;
  auto ok = ObserveLatency(false, static_cast<int>(obs), dir + "/a.db", &ok_delivered);
  auto hung = ObserveLatency(true, static_cast<int>(obs), dir + "/b.db", &hung_delivered);
  std::printf("rules' hand-over (Notifier::Observe), %lld ticks:\n", static_cast<long long>(obs));
  std::printf("  receiver answering   p50 %6.2f us  p99 %6.2f us  max %7.2f us  (%llu delivered)\n", ok[0], ok[1],
              ok[2], static_cast<unsigned long long>(ok_delivered));
  std::printf("  receiver hanging     p50 %6.2f us  p99 %6.2f us  max %7.2f us  (%llu delivered)\n", hung[0], hung[1],
              hung[2], static_cast<unsigned long long>(hung_delivered));
  std::printf("  ratio hanging/answering p50 %.2f  p99 %.2f\n", hung[0] / ok[0], hung[1] / ok[1]);
  (void)std::system(("rm -rf '" + dir + "'").c_str());
  return 0;
}
