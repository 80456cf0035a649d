// The clock seam: a ManualClock moves only when told, steady and Unix time
// together, and wakes the threads that wait on its time when it moves.
#include "common/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/time_util.h"
#include "test_util.h"

namespace vigil {
namespace {

TEST(ClockTest, ManualClockMovesOnlyWhenTold) {
  ManualClock c(1767225600);
  EXPECT_EQ(c.UnixNow(), 1767225600);
  EXPECT_EQ(c.SteadyNow(), 1000);
  c.Advance(1.5);
  EXPECT_EQ(c.UnixNow(), 1767225601.5);
  EXPECT_EQ(c.SteadyNanos(), 1001500000000LL);
  c.Advance(-5);  // never backwards
  EXPECT_EQ(c.SteadyNow(), 1001.5);
  c.SetUnix(1767225700);
  EXPECT_EQ(c.UnixNow(), 1767225700);
  EXPECT_EQ(c.SteadyNow(), 1100);
  c.SetUnix(0);  // never backwards
  EXPECT_EQ(c.UnixNow(), 1767225700);
}

TEST(ClockTest, AdvanceWakesASubscribedWaiterAtOnce) {
  ManualClock c;
  Mutex mu;
  CondVar cv;
  ClockWakeup wake(&c, &mu, &cv);
  std::atomic<bool> started{false}, done{false};
  const double deadline = c.SteadyNow() + 3600;  // an hour of the clock's time
  std::thread t([&] {
    MutexLock lock(&mu);
    started = true;
    while (c.SteadyNow() < deadline) cv.WaitFor(&mu, std::chrono::seconds(600));
    done = true;
  });
  EXPECT_TRUE(testing::WaitFor([&] { return started.load(); }));
  { MutexLock l(&mu); }  // it released mu: it waits, for up to 600 s of real time
  c.Advance(1800);
  c.Advance(1800);
  EXPECT_TRUE(testing::WaitFor([&] { return done.load(); }, 10000));
  t.join();
}

TEST(ClockTest, TheRealClockIsTheProcesssClock) {
  Clock* c = DefaultClock();
  EXPECT_EQ(c, DefaultClock());
  const int64_t a = c->SteadyNanos();
  EXPECT_LE(a, c->SteadyNanos());
  EXPECT_NEAR(c->UnixNow(), UnixNow(), 1.0);
  EXPECT_NEAR(RealClock::Unix(), static_cast<double>(RealClock::UnixNs()) / 1e9, 1.0);
  EXPECT_EQ(c->Subscribe(nullptr, nullptr), 0u);  // real time never jumps
}

}  // namespace
}  // namespace vigil
