// The durable outbox on a real SQLite file.
#include "alerts/outbox.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

namespace vigil::alerts {
namespace {

using vigil::testing::TempDir;

std::unique_ptr<Outbox> Open(const std::string& path, RetryPolicy p = {}) {
  std::unique_ptr<Outbox> o;
  Status st = Outbox::Open(path, p, &o);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return o;
}

TEST(OutboxTest, EnqueueDueDeliver) {
  TempDir dir;
  auto o = Open(dir.File("outbox.db"));
  ASSERT_TRUE(o->Enqueue("pager", "k1", "{\"a\":1}", 100).ok());
  ASSERT_TRUE(o->Enqueue("pager", "k1", "{\"a\":1}", 100).ok());  // same key: no duplicate
  ASSERT_TRUE(o->Enqueue("chat", "k2", "{\"b\":2}", 101).ok());
  std::vector<Notification> due;
  ASSERT_TRUE(o->Due(101, 10, &due).ok());
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].idempotency_key, "k1");
  EXPECT_EQ(due[0].payload, "{\"a\":1}");
  int64_t n = 0;
  ASSERT_TRUE(o->PendingCount("pager", &n).ok());
  EXPECT_EQ(n, 1);
  ASSERT_TRUE(o->MarkDelivered(due[0].id).ok());
  ASSERT_TRUE(o->PendingCount("pager", &n).ok());
  EXPECT_EQ(n, 0);
}

TEST(OutboxTest, FailuresBackOffWithJitterAndHonourRetryAfter) {
  TempDir dir;
  auto o = Open(dir.File("outbox.db"), {1, 300, 86400});
  ASSERT_TRUE(o->Enqueue("r", "k", "x", 0).ok());
  std::vector<Notification> due;
  double now = 0;
  for (int attempt = 0; attempt < 12; ++attempt) {
    ASSERT_TRUE(o->Due(now, 1, &due).ok());
    ASSERT_EQ(due.size(), 1u) << attempt;
    ASSERT_TRUE(o->MarkFailed(due[0].id, now, "503", false).ok());
    ASSERT_TRUE(o->Due(1e9, 1, &due).ok());
    const double delay = due[0].next_attempt_at - now;
    EXPECT_GE(delay, 0);
    EXPECT_LE(delay, std::min(300.0, std::pow(2.0, attempt)) + 1e-9) << attempt;
    now = due[0].next_attempt_at;
  }
  ASSERT_TRUE(o->MarkFailed(due[0].id, now, "429", false, 42.0).ok());
  ASSERT_TRUE(o->Due(1e9, 1, &due).ok());
  EXPECT_DOUBLE_EQ(due[0].next_attempt_at, now + 42);
  EXPECT_EQ(due[0].attempts, 13);
  EXPECT_EQ(due[0].last_error, "429");
}

TEST(OutboxTest, PermanentFailuresAndOldNotificationsAreDeadLettered) {
  TempDir dir;
  auto o = Open(dir.File("outbox.db"), {1, 300, 3600});
  ASSERT_TRUE(o->Enqueue("r", "bad-request", "x", 0).ok());
  ASSERT_TRUE(o->Enqueue("r", "too-old", "y", 0).ok());
  std::vector<Notification> due;
  ASSERT_TRUE(o->Due(0, 10, &due).ok());
  ASSERT_TRUE(o->MarkFailed(due[0].id, 0, "400 Bad Request", true).ok());
  ASSERT_TRUE(o->MarkFailed(due[1].id, 3700, "timeout", false).ok());
  ASSERT_TRUE(o->Due(1e9, 10, &due).ok());
  EXPECT_TRUE(due.empty());
  std::vector<Notification> dead;
  ASSERT_TRUE(o->Dead(10, &dead).ok());
  ASSERT_EQ(dead.size(), 2u);
  bool any = true;
  double when = 0;
  ASSERT_TRUE(o->NextDue(&when, &any).ok());
  EXPECT_FALSE(any);
}

TEST(OutboxTest, SurvivesAKilledProcess) {
  TempDir dir;
  const std::string path = dir.File("outbox.db");
  pid_t pid = fork();
  if (pid == 0) {
    std::unique_ptr<Outbox> o;
    if (!Outbox::Open(path, {}, &o).ok()) _exit(1);
    for (int i = 0; i < 100; ++i)
      if (!o->Enqueue("r", "k" + std::to_string(i), "payload", i).ok()) _exit(2);
    kill(getpid(), SIGKILL);  // no destructor, no checkpoint
    _exit(3);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFSIGNALED(st));
  auto o = Open(path);
  int64_t n = 0;
  ASSERT_TRUE(o->PendingCount("r", &n).ok());
  EXPECT_EQ(n, 100);
}

}  // namespace
}  // namespace vigil::alerts
