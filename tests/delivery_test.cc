// Delivery to a real HTTP receiver in the test: payload format, signature,
// idempotency keys stable across retries, 5xx retried, 4xx dead-lettered.
#include "alerts/delivery.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "test_util.h"

namespace vigil::alerts {
namespace {

double Now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

struct Receiver {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mu;
  std::vector<std::pair<httplib::Headers, std::string>> got;
  std::atomic<int> fail_first{0};
  std::atomic<int> status_when_failing{500};

  Receiver() {
    server.Post("/hook", [this](const httplib::Request& q, httplib::Response& r) {
      {
        std::lock_guard<std::mutex> lock(mu);
        got.emplace_back(q.headers, q.body);
      }
      if (fail_first.fetch_sub(1) > 0) {
        r.status = status_when_failing;
        return;
      }
      r.status = 200;
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~Receiver() {
    server.stop();
    thread.join();
  }
  size_t Count() {
    std::lock_guard<std::mutex> lock(mu);
    return got.size();
  }
};

GroupNotification Group() {
  Alert a;
  a.labels = {{"alertname", "KVCacheThrashing"}, {"severity", "critical"}};
  a.annotations = {{"summary", "KV cache is thrashing"}};
  a.starts_at = 1700000000;
  return {"pager", "pager{alertname=\"KVCacheThrashing\",}", {{"alertname", "KVCacheThrashing"}}, {a}};
}

TEST(DeliveryTest, RetriesUntilDeliveredWithASignedStableRequest) {
  Receiver rx;
  rx.fail_first = 2;
  vigil::testing::TempDir dir;
  std::unique_ptr<Outbox> outbox;
  ASSERT_TRUE(Outbox::Open(dir.File("o.db"), {0.05, 0.2, 3600}, &outbox).ok());
  ReceiverConfig rc;
  rc.name = "pager";
  rc.type = "webhook";
  rc.url = "http://127.0.0.1:" + std::to_string(rx.port) + "/hook";
  rc.secret = "s3cret";
  rc.headers = {{"X-Team", "sre"}};
  Deliverer d({rc}, outbox.get(), "http://vigil:8000", Now);
  d.Start();
  ASSERT_TRUE(d.Submit(Group()).ok());
  for (int i = 0; i < 200 && d.delivered() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  d.Stop();
  EXPECT_EQ(d.delivered(), 1u);
  ASSERT_EQ(rx.Count(), 3u);  // two 500s, then 200
  std::lock_guard<std::mutex> lock(rx.mu);
  const auto& [headers, body] = rx.got.back();
  auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["version"], "4");
  EXPECT_EQ(j["receiver"], "pager");
  EXPECT_EQ(j["alerts"][0]["labels"]["alertname"], "KVCacheThrashing");
  EXPECT_EQ(headers.find("X-Vigil-Signature")->second, "sha256=" + HmacSha256Hex("s3cret", body));
  EXPECT_EQ(headers.find("X-Team")->second, "sre");
  const std::string key = headers.find("Idempotency-Key")->second;
  for (const auto& g : rx.got) EXPECT_EQ(g.first.find("Idempotency-Key")->second, key);  // same across retries
  int64_t pending = -1;
  ASSERT_TRUE(outbox->PendingCount("pager", &pending).ok());
  EXPECT_EQ(pending, 0);
}

TEST(DeliveryTest, APermanentErrorIsDeadLetteredAndADownReceiverRetried) {
  Receiver rx;
  rx.fail_first = 1000;
  rx.status_when_failing = 400;
  vigil::testing::TempDir dir;
  std::unique_ptr<Outbox> outbox;
  ASSERT_TRUE(Outbox::Open(dir.File("o.db"), {0.05, 0.2, 3600}, &outbox).ok());
  ReceiverConfig ok{"pager", "webhook", "http://127.0.0.1:" + std::to_string(rx.port) + "/hook", "", {}, 2};
  Deliverer d({ok}, outbox.get(), "", Now);
  Notification n;
  ASSERT_TRUE(d.Submit(Group()).ok());
  std::vector<Notification> due;
  ASSERT_TRUE(outbox->Due(Now(), 1, &due).ok());
  DeliveryOutcome o = d.Send(ok, due[0]);
  EXPECT_FALSE(o.ok);
  EXPECT_TRUE(o.permanent);
  EXPECT_EQ(o.status, 400);
  // Nobody listening: a retryable failure, not a permanent one.
  ReceiverConfig down{"pager", "webhook", "http://127.0.0.1:1/hook", "", {}, 1};
  o = d.Send(down, due[0]);
  EXPECT_FALSE(o.ok);
  EXPECT_FALSE(o.permanent);
  EXPECT_NE(o.error.find("request failed"), std::string::npos);
}

}  // namespace
}  // namespace vigil::alerts
