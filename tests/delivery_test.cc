// Delivery through the outbox to a real HTTP receiver: retries with a
// stable signed request, dead letters, and the chaos cases (receiver down,
// 500s, answers after the timeout, closed connections, restart, an outbox
// that cannot be written): every notification arrives at least once. Tests
// that move between phases hold a ManualClock, so a retry happens when the
// test advances the clock, and each phase waits for what it expects to see.
#include "alerts/delivery.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <set>

#include "common/clock.h"
#include "common/time_util.h"
#include "test_receiver.h"
#include "test_util.h"

namespace vigil::alerts {
namespace {

using vigil::testing::TempDir;
using vigil::testing::TestReceiver;
using vigil::testing::WaitFor;

// Healthy deliveries get a timeout far beyond a loaded or sanitized
// machine's slowest loopback POST: under a ManualClock a spurious timeout is
// never retried, so it would hang the phase that waits for it.
constexpr double kTimeoutS = 2;
// A receiver that must answer after the timeout waits this long, so that
// the distinction between "in time" and "late" stays as sharp.
constexpr int kLateMs = 5000;

ReceiverConfig Webhook(const TestReceiver& rx, double timeout_s = kTimeoutS) {
  ReceiverConfig rc;
  rc.name = "pager";
  rc.type = ReceiverType::kWebhook;
  rc.urls = {rx.Url()};
  rc.timeout_s = timeout_s;
  return rc;
}

DeliveryConfig Config(std::vector<ReceiverConfig> r, const std::string& path) {
  DeliveryConfig c;
  c.receivers = std::move(r);
  c.outbox_path = path;
  c.retry = {0.02, 0.1, 3600};
  c.reopen_interval_s = 0.05;
  return c;
}

std::string Body(int i) { return "{\"n\":" + std::to_string(i) + "}"; }

TEST(DeliveryTest, RetriesUntilDeliveredWithASignedStableRequest) {
  TestReceiver rx;
  rx.FailNext(2, 500);
  TempDir dir;
  ReceiverConfig rc = Webhook(rx);
  rc.secret = "s3cret";
  rc.headers = {{"X-Team", "sre"}};
  Deliverer d(Config({rc}, dir.File("o.db")));
  d.Start();
  ASSERT_TRUE(d.Submit("pager", Body(1)).ok());
  ASSERT_TRUE(d.Drain(10));
  d.Stop();
  const auto got = rx.Requests();
  ASSERT_EQ(got.size(), 3u);  // two 500s, then 200
  const auto& last = got.back();
  EXPECT_EQ(last.body, Body(1));
  EXPECT_EQ(last.headers.find("X-Vigil-Signature")->second, "sha256=" + HmacSha256Hex("s3cret", last.body));
  EXPECT_EQ(last.headers.find("X-Team")->second, "sre");
  const std::string key = last.headers.find("Idempotency-Key")->second;
  for (const auto& g : got) EXPECT_EQ(g.headers.find("Idempotency-Key")->second, key);  // same across retries
  const auto stats = d.Stats().at("pager");
  EXPECT_EQ(stats.accepted, 1u);
  EXPECT_EQ(stats.delivered, 1u);
  EXPECT_EQ(stats.failed, 2u);
  EXPECT_EQ(stats.pending, 0);
  EXPECT_EQ(stats.latency_count, 3u);
  std::unique_ptr<Outbox> o;
  ASSERT_TRUE(Outbox::Open(dir.File("o.db"), {}, &o).ok());
  int64_t pending = -1;
  ASSERT_TRUE(o->PendingCount("pager", &pending).ok());
  EXPECT_EQ(pending, 0);  // removed after the 2xx
}

TEST(DeliveryTest, A4xxIsDeadLetteredDurablyAnd429IsRetried) {
  TestReceiver rx;
  TempDir dir;
  {
    Deliverer d(Config({Webhook(rx)}, dir.File("o.db")));
    d.Start();
    rx.FailNext(1, 429);  // Retry-After: 0
    ASSERT_TRUE(d.Submit("pager", Body(1)).ok());
    ASSERT_TRUE(d.Drain(10));
    EXPECT_EQ(d.Stats().at("pager").delivered, 1u);
    rx.FailNext(1, 400);
    ASSERT_TRUE(d.Submit("pager", Body(2)).ok());
    ASSERT_TRUE(d.Drain(10));
    auto dead = d.Dead(10);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].payload, Body(2));
    EXPECT_NE(dead[0].last_error.find("HTTP 400"), std::string::npos) << dead[0].last_error;
    EXPECT_EQ(d.Stats().at("pager").dead, 1u);
    EXPECT_EQ(rx.Count(), 3u);  // 429, 200, 400: the 400 was not retried
  }
  // Dead letters survive a restart and are not retried.
  Deliverer again(Config({Webhook(rx)}, dir.File("o.db")));
  ASSERT_EQ(again.Dead(10).size(), 1u);
  EXPECT_EQ(again.Stats().at("pager").pending, 0);
}

TEST(DeliveryTest, ChaosLosesNothing) {
  TestReceiver rx;
  TempDir dir;
  ManualClock clock;  // retries wait for the test to advance it
  Deliverer d(Config({Webhook(rx)}, dir.File("o.db")), &clock);
  d.Start();
  int n = 0;
  auto submit = [&](int k) {
    for (int i = 0; i < k; ++i) ASSERT_TRUE(d.Submit("pager", Body(n++)).ok());
  };
  auto current = [&] { return d.Stats().at("pager"); };
  // Each phase waits until every notification due in it was attempted.
  auto reached = [&](uint64_t delivered, uint64_t failed) {
    return WaitFor([&] {
      const auto s = current();
      return s.delivered == delivered && s.failed == failed;
    });
  };
  submit(5);
  ASSERT_TRUE(reached(5, 0)) << current().delivered;
  rx.Down();  // connection refused
  submit(10);
  ASSERT_TRUE(reached(5, 10)) << current().failed;
  rx.Up();
  rx.FailNext(12, 500);
  submit(10);
  ASSERT_TRUE(reached(5, 20)) << current().failed;  // the new ten got 500s; the old ten wait for their retry
  clock.Advance(1);                                 // past every backoff: 20 retries, 2 more 500s
  ASSERT_TRUE(reached(23, 22)) << current().delivered << " " << current().failed;
  // One answer after the client's timeout (one only: each costs the whole
  // timeout in real time, and Closing waits for the late handler).
  rx.FailNext(1, 200, kLateMs);
  submit(5);
  ASSERT_TRUE(reached(27, 23)) << current().delivered << " " << current().failed;
  rx.Closing();  // accepts and hangs up
  submit(10);
  ASSERT_TRUE(reached(27, 33)) << current().failed;
  rx.UpFromClosing();
  ASSERT_TRUE(WaitFor([&] {
    clock.Advance(1);
    return current().pending == 0;
  }));
  d.Stop();
  const auto keys = rx.AcceptedKeys();
  const auto stats = d.Stats().at("pager");
  EXPECT_EQ(stats.accepted, static_cast<uint64_t>(n));
  EXPECT_EQ(stats.delivered, static_cast<uint64_t>(n));
  EXPECT_EQ(stats.failed, 33u);
  EXPECT_EQ(stats.dead, 0u);
  // Every notification arrived at least once (a late answer may repeat
  // one; its idempotency key lets the receiver drop it).
  EXPECT_EQ(keys.size(), static_cast<size_t>(n));
  std::set<std::string> bodies;
  for (const auto& r : rx.Requests()) bodies.insert(r.body);
  for (int i = 0; i < n; ++i) EXPECT_TRUE(bodies.count(Body(i))) << i;
}

TEST(DeliveryTest, PendingNotificationsSurviveARestart) {
  TestReceiver rx;
  rx.Down();
  TempDir dir;
  {
    ManualClock clock;  // no retry before the restart
    Deliverer d(Config({Webhook(rx, 0.2)}, dir.File("o.db")), &clock);
    d.Start();
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(d.Submit("pager", Body(i)).ok());
    ASSERT_TRUE(WaitFor([&] { return d.Stats().at("pager").failed == 10; }));  // each refused once
    EXPECT_EQ(d.Stats().at("pager").pending, 10);
  }
  rx.Up();
  Deliverer d(Config({Webhook(rx)}, dir.File("o.db")));
  EXPECT_EQ(d.Stats().at("pager").pending, 10);
  d.Start();
  ASSERT_TRUE(d.Drain(10));
  EXPECT_TRUE(rx.WaitAccepted(10, std::chrono::seconds(5)));
  EXPECT_EQ(rx.AcceptedKeys().size(), 10u);
}

TEST(DeliveryTest, AnUnwritableOutboxKeepsDeliveringAndCatchesUp) {
  TestReceiver rx;
  rx.Down();
  TempDir dir;
  const std::string state = dir.File("state");  // does not exist yet: the open fails
  ManualClock clock;
  Deliverer d(Config({Webhook(rx, 0.2)}, state + "/o.db"), &clock);
  EXPECT_NE(d.fault(), "");
  d.Start();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(d.Submit("pager", Body(i)).ok());
  ASSERT_TRUE(WaitFor([&] { return d.Stats().at("pager").failed == 5; }));  // delivery goes on without the disk
  EXPECT_NE(d.fault(), "");
  EXPECT_EQ(d.Stats().at("pager").pending, 5);
  // The disk comes back: the outbox is reopened at its next interval
  // (reopen_interval_s on the clock), and what was queued in memory is written.
  ASSERT_EQ(::mkdir(state.c_str(), 0700), 0);
  EXPECT_NE(d.fault(), "");  // not before the interval
  clock.Advance(0.1);
  ASSERT_TRUE(WaitFor([&] { return d.fault().empty(); }, 10000)) << d.fault();
  d.Stop();
  std::unique_ptr<Outbox> o;
  ASSERT_TRUE(Outbox::Open(state + "/o.db", {}, &o).ok());
  int64_t pending = 0;
  ASSERT_TRUE(o->PendingCount("pager", &pending).ok());
  EXPECT_EQ(pending, 5);
  // And with the receiver up, memory-only delivery works too.
  rx.Up();
  Deliverer mem(Config({Webhook(rx)}, ""));
  mem.Start();
  ASSERT_TRUE(mem.Submit("pager", Body(99)).ok());
  ASSERT_TRUE(mem.Drain(10));
}

TEST(DeliveryTest, ASlowDiskDelaysNoDelivery) {
  // Another connection holds the outbox's write lock and the busy timeout is
  // a minute, so the Deliverer's next write hangs as on a stuck disk. Deliveries to both receivers must go on meanwhile
  // (the writer thread alone waits), and the disk catches up afterwards.
  TestReceiver a, b;
  a.Down();
  b.Down();
  TempDir dir;
  ManualClock clock;
  ReceiverConfig ra = Webhook(a), rb = Webhook(b);
  ra.name = "a";
  rb.name = "b";
  DeliveryConfig cfg = Config({ra, rb}, dir.File("o.db"));
  cfg.busy_timeout_s = 60;
  Deliverer d(cfg, &clock);
  d.Start();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(d.Submit("a", Body(i)).ok());
    ASSERT_TRUE(d.Submit("b", Body(10 + i)).ok());
  }
  ASSERT_TRUE(WaitFor([&] { return d.Stats().at("a").failed == 3 && d.Stats().at("b").failed == 3; }));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.File("o.db").c_str(), &db), SQLITE_OK);
  // The writer may still be recording the failed attempts: wait for it.
  sqlite3_busy_timeout(db, 30000);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  a.Up();
  b.Up();
  clock.Advance(1);  // every retry is due
  // 20 s is a safety bound, far beyond the milliseconds this takes; with
  // the disk written under the receivers' lock, the first delete would hold
  // both receivers for the whole minute. The Deliverer's own count is
  // waited for: the receiver counts a request before it answers.
  EXPECT_TRUE(WaitFor([&] { return d.Stats().at("a").delivered == 3; }, 20000)) << d.Stats().at("a").delivered;
  EXPECT_TRUE(WaitFor([&] { return d.Stats().at("b").delivered == 3; }, 20000)) << d.Stats().at("b").delivered;
  EXPECT_EQ(a.AcceptedKeys().size(), 3u);
  EXPECT_EQ(b.AcceptedKeys().size(), 3u);
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  // The writer's hung write goes through as soon as the lock is gone.
  ASSERT_TRUE(d.Drain(30));
  EXPECT_EQ(d.fault(), "");
  d.Stop();
  std::unique_ptr<Outbox> o;
  ASSERT_TRUE(Outbox::Open(dir.File("o.db"), {}, &o).ok());
  int64_t pending = -1;
  ASSERT_TRUE(o->PendingCount("a", &pending).ok());
  EXPECT_EQ(pending, 0);
  ASSERT_TRUE(o->PendingCount("b", &pending).ok());
  EXPECT_EQ(pending, 0);
}

TEST(DeliveryTest, AnUnknownReceiverIsRefused) {
  Deliverer d(Config({}, ""));
  EXPECT_FALSE(d.Submit("nobody", "{}").ok());
}

}  // namespace
}  // namespace vigil::alerts
