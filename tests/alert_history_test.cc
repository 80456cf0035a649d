// AlertHistory: episodes open and close with the firing set, rules that
// vanish close, the per-instance filter, and the bounds.
#include "alerts/history.h"

#include <gtest/gtest.h>

namespace vigil::alerts {
namespace {

Episode E(const std::string& instance, const std::string& name, double starts_at = 0) {
  Episode e;
  e.instance = instance;
  e.group = "g";
  e.alertname = name;
  e.labels = {{"alertname", name}, {"severity", "critical"}};
  e.starts_at = starts_at;
  return e;
}

TEST(AlertHistoryTest, EpisodesOpenAndCloseWithTheFiringSet) {
  AlertHistory h;
  h.Observe(100, {E("local", "A", 95)});
  h.Observe(101, {E("local", "A", 95), E("local", "B")});
  auto all = h.Since(0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].alertname, "A");
  EXPECT_EQ(all[0].starts_at, 95);    // the rule's own fired_at wins
  EXPECT_EQ(all[0].ends_at, 0);       // still firing
  EXPECT_EQ(all[1].starts_at, 101);   // none given: when first seen
  h.Observe(110, {E("local", "B")});  // A resolved (or its rule was removed)
  all = h.Since(0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].alertname, "A");
  EXPECT_EQ(all[0].ends_at, 110);
  EXPECT_EQ(all[1].ends_at, 0);
  h.Observe(120, {E("local", "A", 119), E("local", "B")});  // A fires again: a second episode
  all = h.Since(0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].alertname, "A");
  EXPECT_EQ(all[2].starts_at, 119);
}

TEST(AlertHistoryTest, SinceKeepsOverlappingEpisodesOfOneInstance) {
  AlertHistory h;
  h.Observe(10, {E("local", "A", 10), E("vllm-1", "A", 10)});
  h.Observe(20, {E("vllm-1", "A", 10)});  // local's A: 10..20
  EXPECT_EQ(h.Since(15).size(), 2u);
  EXPECT_EQ(h.Since(21).size(), 1u);  // local's ended before 21; vllm-1's still fires
  ASSERT_EQ(h.Since(0, "local").size(), 1u);
  EXPECT_EQ(h.Since(0, "local")[0].ends_at, 20);
  EXPECT_EQ(h.Since(0, "nowhere").size(), 0u);
}

TEST(AlertHistoryTest, ClosedEpisodesAreBoundedByCountAndAge) {
  AlertHistory h(/*max_episodes=*/3, /*max_age_s=*/100);
  for (int i = 0; i < 5; ++i) {
    h.Observe(i * 2, {E("local", "A")});
    h.Observe(i * 2 + 1, {});
  }
  auto all = h.Since(0);
  ASSERT_EQ(all.size(), 3u);  // the oldest two dropped
  EXPECT_EQ(all[0].starts_at, 4);
  h.Observe(200, {E("local", "B")});  // the closed ones are over 100 s old now
  all = h.Since(0);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].alertname, "B");
}

}  // namespace
}  // namespace vigil::alerts
