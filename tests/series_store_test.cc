#include "monitor/series_store.h"

#include <gtest/gtest.h>

#include <thread>

namespace vigil::monitor {
namespace {

TEST(SeriesStoreTest, RingKeepsTheNewestPoints) {
  SeriesStore s(5);
  for (int i = 0; i < 12; ++i) s.Append("x", i, i * 10);
  auto pts = s.Range("x", 0);
  ASSERT_EQ(pts.size(), 5u);
  EXPECT_EQ(pts.front().t, 7);
  EXPECT_EQ(pts.back().v, 110);
  Point p;
  ASSERT_TRUE(s.Latest("x", &p));
  EXPECT_EQ(p.t, 11);
  EXPECT_EQ(s.Range("x", 9.5).size(), 2u);
  ASSERT_TRUE(s.At("x", 8.5, &p));
  EXPECT_EQ(p.t, 8);
  EXPECT_FALSE(s.At("x", 3, &p));  // older than what is kept
  EXPECT_FALSE(s.Latest("missing", &p));
  EXPECT_TRUE(s.Range("missing", 0).empty());
}

TEST(SeriesStoreTest, MemoryIsBoundedByCapacity) {
  SeriesStore s(3600);
  for (int i = 0; i < 20000; ++i) s.AppendTick(i, {{"a", 1.0}, {"b", 2.0}});
  EXPECT_LT(s.MemoryBytes(), 2 * 3600 * sizeof(Point) + 1024);
}

TEST(SeriesStoreTest, ConcurrentReadersAndWriter) {
  SeriesStore s(100);
  std::thread w([&] {
    for (int i = 0; i < 20000; ++i) s.AppendTick(i, {{"a", double(i)}, {"b", double(-i)}});
  });
  size_t reads = 0;
  for (int i = 0; i < 2000; ++i) {
    auto pts = s.Range("a", 0);
    for (size_t k = 1; k < pts.size(); ++k) ASSERT_LT(pts[k - 1].t, pts[k].t);
    reads += pts.size();
  }
  w.join();
  EXPECT_EQ(s.Range("a", 0).size(), 100u);
}

}  // namespace
}  // namespace vigil::monitor
