#include "monitor/sampler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace vigil::monitor {
namespace {

using namespace std::chrono_literals;

TEST(SamplerTest, TicksOnAGridAndSkipsOverrunTicks) {
  SeriesStore store(1000);
  std::atomic<int> calls{0};
  Sampler s({/*interval_s=*/0.02, {}},
            [&] {
              // The third tick is slow: 3.5 intervals.
              if (++calls == 3) std::this_thread::sleep_for(70ms);
              return engine::EngineStats();
            },
            &store);
  std::vector<double> times;
  std::mutex mu;
  s.AddHook([&](double now, const auto&) {
    std::lock_guard<std::mutex> lock(mu);
    times.push_back(now);
  });
  s.Start();
  std::this_thread::sleep_for(300ms);
  s.Stop();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_GE(times.size(), 8u);
  EXPECT_GE(s.skipped_ticks(), 2u);  // the slow tick's overrun slots were dropped, not queued
  // After the slow tick, ticks are back on the 20 ms grid: no tick closer than 10 ms to another.
  for (size_t i = 4; i < times.size(); ++i) EXPECT_GT(times[i] - times[i - 1], 0.010);
  EXPECT_TRUE(store.Has("kv_cache_usage"));
}

TEST(SamplerTest, StopInterruptsALongInterval) {
  SeriesStore store(10);
  Sampler s({/*interval_s=*/3600, {}}, [] { return engine::EngineStats(); }, &store);
  s.Start();
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(20ms);
  s.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(s.ticks(), 1u);
}

}  // namespace
}  // namespace vigil::monitor
