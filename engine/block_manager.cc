#include "engine/block_manager.h"

#include <algorithm>
#include <stdexcept>

namespace vigil::engine {

namespace {
inline uint64_t Mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
const std::vector<int32_t> kEmpty;
}  // namespace

BlockManager::BlockManager(int64_t num_blocks, int block_size, bool enable_prefix_caching)
    : block_size_(block_size), prefix_caching_(enable_prefix_caching), blocks_(num_blocks) {
  if (num_blocks <= 0 || block_size <= 0) throw std::invalid_argument("BlockManager: sizes must be positive");
  for (int32_t i = 0; i < num_blocks; ++i) FreeQueuePushBack(i);
}

uint64_t BlockManager::HashBlock(uint64_t parent, const int32_t* tokens, int n) {
  uint64_t h = Mix(parent ^ 0x5bd1e995ULL);
  for (int i = 0; i < n; ++i) h = Mix(h ^ static_cast<uint32_t>(tokens[i]));
  return h == kNoHash ? 1 : h;  // 0 is reserved for "no hash"
}

void BlockManager::FreeQueueRemove(int32_t id) {
  Block& b = blocks_[id];
  if (b.prev >= 0) blocks_[b.prev].next = b.next;
  else head_ = b.next;
  if (b.next >= 0) blocks_[b.next].prev = b.prev;
  else tail_ = b.prev;
  b.prev = b.next = -1;
  b.in_free_queue = false;
  --free_len_;
  if (b.hash != kNoHash) --cached_free_;
}

void BlockManager::FreeQueuePushBack(int32_t id) {
  Block& b = blocks_[id];
  b.prev = tail_;
  b.next = -1;
  if (tail_ >= 0) blocks_[tail_].next = id;
  else head_ = id;
  tail_ = id;
  b.in_free_queue = true;
  ++free_len_;
  if (b.hash != kNoHash) ++cached_free_;
}

int32_t BlockManager::FreeQueuePopFront() {
  int32_t id = head_;
  FreeQueueRemove(id);
  return id;
}

std::vector<int32_t> BlockManager::FindCachedPrefix(const std::vector<int32_t>& tokens) const {
  std::vector<int32_t> hit;
  if (!prefix_caching_) return hit;
  // The last token is always computed: its logits pick the next token.
  const int64_t max_blocks = tokens.empty() ? 0 : (static_cast<int64_t>(tokens.size()) - 1) / block_size_;
  uint64_t h = 0;
  for (int64_t i = 0; i < max_blocks; ++i) {
    h = HashBlock(h, tokens.data() + i * block_size_, block_size_);
    auto it = cached_.find(h);
    if (it == cached_.end()) break;
    hit.push_back(it->second);
  }
  return hit;
}

bool BlockManager::AllocateSlots(const std::string& request_id, int64_t num_computed_tokens, int64_t num_new_tokens,
                                 const std::vector<int32_t>& cached_prefix) {
  auto it = req_blocks_.find(request_id);
  const int64_t held = it == req_blocks_.end() ? 0 : static_cast<int64_t>(it->second.blocks.size());
  const int64_t total_tokens =
      num_computed_tokens + static_cast<int64_t>(cached_prefix.size()) * block_size_ + num_new_tokens;
  const int64_t needed_blocks = (total_tokens + block_size_ - 1) / block_size_;
  const int64_t new_blocks = std::max<int64_t>(0, needed_blocks - held - static_cast<int64_t>(cached_prefix.size()));
  // Claiming a cached block that sits in the free queue takes it off that
  // queue, so it no longer counts as available for the new blocks.
  int64_t prefix_from_free = 0;
  for (int32_t b : cached_prefix) prefix_from_free += blocks_[b].ref_cnt == 0 ? 1 : 0;
  if (new_blocks > free_len_ - prefix_from_free) return false;

  ReqState& st = req_blocks_[request_id];
  for (int32_t b : cached_prefix) {
    Block& blk = blocks_[b];
    if (blk.ref_cnt == 0) FreeQueueRemove(b);
    ++blk.ref_cnt;
    st.blocks.push_back(b);
  }
  if (!cached_prefix.empty() && st.num_hashed == 0) {
    st.num_hashed = static_cast<int64_t>(cached_prefix.size());
    st.last_hash = blocks_[cached_prefix.back()].hash;
  }
  for (int64_t i = 0; i < new_blocks; ++i) {
    int32_t b = FreeQueuePopFront();
    Block& blk = blocks_[b];
    if (blk.hash != kNoHash) {  // reclaiming a cached block evicts its entry
      auto c = cached_.find(blk.hash);
      if (c != cached_.end() && c->second == b) cached_.erase(c);
      blk.hash = kNoHash;
      ++cache_evictions_;
    }
    blk.ref_cnt = 1;
    st.blocks.push_back(b);
  }
  return true;
}

void BlockManager::CacheFullBlocks(const std::string& request_id, const std::vector<int32_t>& tokens,
                                   int64_t num_computed_tokens) {
  if (!prefix_caching_) return;
  auto it = req_blocks_.find(request_id);
  if (it == req_blocks_.end()) return;
  ReqState& st = it->second;
  const int64_t full = std::min<int64_t>(num_computed_tokens / block_size_, static_cast<int64_t>(st.blocks.size()));
  for (int64_t i = st.num_hashed; i < full; ++i) {
    uint64_t h = HashBlock(st.last_hash, tokens.data() + i * block_size_, block_size_);
    st.last_hash = h;
    Block& blk = blocks_[st.blocks[i]];
    if (blk.hash == kNoHash && !cached_.count(h)) {
      blk.hash = h;
      cached_.emplace(h, st.blocks[i]);
    }
    // Else an identical block is cached already; this one stays unhashed and
    // returns to the plain free pool when released.
  }
  st.num_hashed = std::max(st.num_hashed, full);
}

void BlockManager::Release(const std::vector<int32_t>& blocks) {
  for (auto rit = blocks.rbegin(); rit != blocks.rend(); ++rit) {
    Block& blk = blocks_[*rit];
    if (--blk.ref_cnt == 0) FreeQueuePushBack(*rit);
  }
}

int64_t BlockManager::Free(const std::string& request_id) {
  auto it = req_blocks_.find(request_id);
  if (it == req_blocks_.end()) return 0;
  int64_t n = static_cast<int64_t>(it->second.blocks.size());
  Release(it->second.blocks);
  req_blocks_.erase(it);
  return n;
}

int64_t BlockManager::Leak(const std::string& request_id) {
  auto it = req_blocks_.find(request_id);
  if (it == req_blocks_.end()) return 0;
  int64_t n = static_cast<int64_t>(it->second.blocks.size());
  req_blocks_.erase(it);
  return n;
}

const std::vector<int32_t>& BlockManager::BlockTable(const std::string& request_id) const {
  auto it = req_blocks_.find(request_id);
  return it == req_blocks_.end() ? kEmpty : it->second.blocks;
}

BlockCounts BlockManager::Counts() const {
  BlockCounts c;
  c.total = num_blocks();
  c.used = c.total - free_len_;
  c.cached_free = cached_free_;
  c.free = free_len_ - cached_free_;
  return c;
}

int64_t BlockManager::CountOrphanedBlocks() const {
  std::vector<char> owned(blocks_.size(), 0);
  for (const auto& kv : req_blocks_)
    for (int32_t b : kv.second.blocks) owned[b] = 1;
  int64_t n = 0;
  for (size_t i = 0; i < blocks_.size(); ++i) n += (blocks_[i].ref_cnt > 0 && !owned[i]) ? 1 : 0;
  return n;
}

void BlockManager::ResetPrefixCache() {
  for (Block& b : blocks_)
    if (b.ref_cnt == 0) b.hash = kNoHash;
  for (auto it = cached_.begin(); it != cached_.end();) {
    if (blocks_[it->second].ref_cnt == 0) it = cached_.erase(it);
    else ++it;
  }
  cached_free_ = 0;
}

std::string BlockManager::CheckInvariants() const {
  // Recount from scratch rather than trusting the incremental counters.
  BlockCounts c;
  c.total = num_blocks();
  for (const Block& b : blocks_) {
    if (b.ref_cnt > 0) ++c.used;
    else if (b.hash != kNoHash) ++c.cached_free;
    else ++c.free;
  }
  if (c.free + c.used + c.cached_free != c.total) return "free + used + cached != total";
  BlockCounts fast = Counts();
  if (fast.used != c.used || fast.cached_free != c.cached_free || fast.free != c.free)
    return "incremental block counts disagree with a recount";
  int64_t n = 0;
  for (int32_t i = head_, prev = -1; i >= 0; prev = i, i = blocks_[i].next) {
    if (blocks_[i].prev != prev) return "free queue back-link broken at block " + std::to_string(i);
    if (blocks_[i].ref_cnt != 0) return "block " + std::to_string(i) + " in free queue with ref_cnt > 0";
    if (++n > c.total) return "free queue has a cycle";
  }
  if (n != free_len_) return "free queue length mismatch";
  if (n != c.free + c.cached_free) return "free queue does not hold exactly the unreferenced blocks";
  std::vector<int32_t> refs(blocks_.size(), 0);
  for (const auto& kv : req_blocks_)
    for (int32_t b : kv.second.blocks) ++refs[b];
  for (size_t i = 0; i < blocks_.size(); ++i)
    if (refs[i] > blocks_[i].ref_cnt) return "block " + std::to_string(i) + " held more often than its ref_cnt";
  for (const auto& kv : cached_)
    if (blocks_[kv.second].hash != kv.first) return "cache entry points at a block with another hash";
  return "";
}

}  // namespace vigil::engine
