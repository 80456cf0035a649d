#include "engine/block_manager.h"

#include <gtest/gtest.h>

#include <random>

namespace vigil::engine {
namespace {

std::vector<int32_t> Tokens(int n, int32_t base = 0) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = base + i;
  return t;
}

TEST(BlockManagerTest, AllocatesWholeBlocksAndFreesThem) {
  BlockManager bm(10, 4, /*prefix caching*/ false);
  ASSERT_TRUE(bm.AllocateSlots("a", 0, 9));  // 3 blocks
  EXPECT_EQ(bm.BlockTable("a").size(), 3u);
  EXPECT_EQ(bm.Counts().used, 3);
  ASSERT_TRUE(bm.AllocateSlots("a", 9, 3));  // 12 tokens still fit in 3 blocks
  EXPECT_EQ(bm.BlockTable("a").size(), 3u);
  ASSERT_TRUE(bm.AllocateSlots("a", 12, 1));
  EXPECT_EQ(bm.BlockTable("a").size(), 4u);
  EXPECT_EQ(bm.Free("a"), 4);
  EXPECT_EQ(bm.Counts().free, 10);
  EXPECT_EQ(bm.CheckInvariants(), "");
}

TEST(BlockManagerTest, RefusesWhenFullWithoutSideEffects) {
  BlockManager bm(4, 4, false);
  ASSERT_TRUE(bm.AllocateSlots("a", 0, 12));
  EXPECT_FALSE(bm.AllocateSlots("b", 0, 8));
  EXPECT_FALSE(bm.HasRequest("b"));
  EXPECT_EQ(bm.NumFreeBlocks(), 1);
  EXPECT_EQ(bm.CheckInvariants(), "");
}

TEST(BlockManagerTest, PrefixCacheHitsFullBlocksOnly) {
  BlockManager bm(16, 4, true);
  auto t = Tokens(10);  // 2 full blocks + 2 tokens
  ASSERT_TRUE(bm.AllocateSlots("a", 0, 10));
  bm.CacheFullBlocks("a", t, 10);
  auto hit = bm.FindCachedPrefix(t);
  EXPECT_EQ(hit.size(), 2u);
  // Same prefix, different tail: still 2 blocks.
  auto t2 = t;
  t2[9] = 99;
  EXPECT_EQ(bm.FindCachedPrefix(t2).size(), 2u);
  // Different first token: the chain breaks at block 0.
  auto t3 = t;
  t3[0] = 77;
  EXPECT_EQ(bm.FindCachedPrefix(t3).size(), 0u);
}

TEST(BlockManagerTest, ExactBlockMultipleLeavesLastTokenToCompute) {
  BlockManager bm(16, 4, true);
  auto t = Tokens(8);
  ASSERT_TRUE(bm.AllocateSlots("a", 0, 8));
  bm.CacheFullBlocks("a", t, 8);
  // All 8 tokens are cached, but the last must be recomputed for its logits.
  EXPECT_EQ(bm.FindCachedPrefix(t).size(), 1u);
}

TEST(BlockManagerTest, SharedPrefixBlocksAreReferenceCounted) {
  BlockManager bm(16, 4, true);
  auto t = Tokens(9);
  ASSERT_TRUE(bm.AllocateSlots("a", 0, 9));
  bm.CacheFullBlocks("a", t, 9);
  auto hit = bm.FindCachedPrefix(t);
  ASSERT_EQ(hit.size(), 2u);
  ASSERT_TRUE(bm.AllocateSlots("b", 0, 1, hit));
  EXPECT_EQ(bm.BlockTable("b")[0], bm.BlockTable("a")[0]);
  EXPECT_EQ(bm.Counts().used, 4);  // a: 3, b: 2 shared + 1 own
  bm.Free("a");
  EXPECT_EQ(bm.Counts().used, 3);
  bm.Free("b");
  EXPECT_EQ(bm.Counts().used, 0);
  EXPECT_EQ(bm.Counts().cached_free, 2);
  EXPECT_EQ(bm.CheckInvariants(), "");
}

TEST(BlockManagerTest, FreedCachedBlocksAreReusedThenEvictedInLruOrder) {
  BlockManager bm(4, 4, true);
  auto t = Tokens(9);
  ASSERT_TRUE(bm.AllocateSlots("a", 0, 9));
  bm.CacheFullBlocks("a", t, 9);
  bm.Free("a");
  EXPECT_EQ(bm.Counts().cached_free, 2);
  // A request with the same prefix revives the cached blocks.
  auto hit = bm.FindCachedPrefix(t);
  ASSERT_EQ(hit.size(), 2u);
  ASSERT_TRUE(bm.AllocateSlots("b", 0, 1, hit));
  bm.Free("b");
  // A request needing every block evicts the cached ones.
  ASSERT_TRUE(bm.AllocateSlots("c", 0, 16));
  EXPECT_EQ(bm.cache_evictions(), 2);
  EXPECT_EQ(bm.FindCachedPrefix(t).size(), 0u);
  EXPECT_EQ(bm.CheckInvariants(), "");
}

TEST(BlockManagerTest, ClaimingCachedFreeBlocksCountsAgainstCapacity) {
  BlockManager bm(3, 4, true);
  auto t = Tokens(9);
  ASSERT_TRUE(bm.AllocateSlots("a", 0, 9));
  bm.CacheFullBlocks("a", t, 9);
  bm.Free("a");
  auto hit = bm.FindCachedPrefix(t);
  ASSERT_EQ(hit.size(), 2u);
  // 2 claimed from the free queue + 2 new = 4 > 3: must refuse, untouched.
  EXPECT_FALSE(bm.AllocateSlots("b", 0, 5, hit));
  EXPECT_EQ(bm.NumFreeBlocks(), 3);
  EXPECT_EQ(bm.CheckInvariants(), "");
}

TEST(BlockManagerTest, LeakedBlocksAreOrphans) {
  BlockManager bm(8, 4, false);
  ASSERT_TRUE(bm.AllocateSlots("a", 0, 8));
  ASSERT_TRUE(bm.AllocateSlots("b", 0, 4));
  EXPECT_EQ(bm.CountOrphanedBlocks(), 0);
  EXPECT_EQ(bm.Leak("a"), 2);
  EXPECT_EQ(bm.CountOrphanedBlocks(), 2);
  EXPECT_EQ(bm.Counts().used, 3);
  EXPECT_EQ(bm.CheckInvariants(), "");
}

// Random operations never break free + used + cached == total, and an idle
// manager has every block free.
TEST(BlockManagerTest, RandomOperationsKeepInvariants) {
  for (bool caching : {false, true}) {
    BlockManager bm(64, 4, caching);
    std::mt19937 rng(42);
    std::map<std::string, std::pair<std::vector<int32_t>, int64_t>> live;  // tokens, computed
    int next_id = 0;
    for (int op = 0; op < 20000; ++op) {
      int kind = rng() % 4;
      if (kind == 0 || live.empty()) {
        std::vector<int32_t> toks(1 + rng() % 40);
        for (auto& x : toks) x = rng() % 3;  // few distinct tokens -> many shared prefixes
        std::string id = std::to_string(next_id++);
        auto hit = bm.FindCachedPrefix(toks);
        int64_t cached = static_cast<int64_t>(hit.size()) * 4;
        if (bm.AllocateSlots(id, 0, static_cast<int64_t>(toks.size()) - cached, hit)) {
          bm.CacheFullBlocks(id, toks, static_cast<int64_t>(toks.size()));
          live[id] = {toks, static_cast<int64_t>(toks.size())};
        }
      } else if (kind == 1) {
        auto it = std::next(live.begin(), rng() % live.size());
        it->second.first.push_back(rng() % 3);
        if (bm.AllocateSlots(it->first, it->second.second, 1)) {
          ++it->second.second;
          bm.CacheFullBlocks(it->first, it->second.first, it->second.second);
        } else {
          it->second.first.pop_back();
        }
      } else {
        auto it = std::next(live.begin(), rng() % live.size());
        bm.Free(it->first);
        live.erase(it);
      }
      ASSERT_EQ(bm.CheckInvariants(), "") << "after op " << op;
      BlockCounts c = bm.Counts();
      ASSERT_EQ(c.free + c.used + c.cached_free, c.total);
    }
    for (auto& kv : live) bm.Free(kv.first);
    BlockCounts c = bm.Counts();
    EXPECT_EQ(c.used, 0);
    EXPECT_EQ(c.free + c.cached_free, 64);
    EXPECT_EQ(bm.CountOrphanedBlocks(), 0);
  }
}

}  // namespace
}  // namespace vigil::engine
