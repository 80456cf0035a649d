// Paged KV-cache block manager in the style of vLLM v1's KVCacheManager:
// fixed-size blocks, per-request block tables, reference counts, an LRU free
// queue, and prefix caching by chained block hashes. Torch-free: it manages
// block ids; the model runner owns the tensors they index.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace vigil::engine {

struct BlockCounts {
  int64_t total = 0;
  int64_t used = 0;         // ref_cnt > 0
  int64_t cached_free = 0;  // ref_cnt == 0, still a prefix-cache entry
  int64_t free = 0;         // ref_cnt == 0, no cache entry
};

class BlockManager {
 public:
  BlockManager(int64_t num_blocks, int block_size, bool enable_prefix_caching);

  int block_size() const { return block_size_; }
  int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }

  // Longest cached prefix of `tokens`, in whole blocks, leaving at least the
  // last token to compute (its logits are needed). Blocks are not claimed.
  std::vector<int32_t> FindCachedPrefix(const std::vector<int32_t>& tokens) const;
  // Counts one prefix-cache query of `query_tokens` with `hit_tokens` found.
  void RecordPrefixQuery(int64_t query_tokens, int64_t hit_tokens) {
    prefix_queries_ += query_tokens;
    prefix_hits_ += hit_tokens;
  }

  // Makes room for `num_new_tokens` more tokens of `request_id`, which has
  // `num_computed_tokens` computed so far (not counting `cached_prefix`,
  // blocks from FindCachedPrefix to claim first). Returns false, changing
  // nothing, when there are not enough free blocks.
  bool AllocateSlots(const std::string& request_id, int64_t num_computed_tokens, int64_t num_new_tokens,
                     const std::vector<int32_t>& cached_prefix = {});

  // Registers the request's full blocks in the prefix cache; `tokens` are its
  // token ids and the first `num_computed_tokens` have KV in the cache.
  void CacheFullBlocks(const std::string& request_id, const std::vector<int32_t>& tokens, int64_t num_computed_tokens);

  // Releases the request's blocks (tail first, so the end of a chain is
  // evicted before its prefix). Returns how many blocks it held.
  int64_t Free(const std::string& request_id);
  // Forgets the request without releasing its blocks: the leak fault.
  int64_t Leak(const std::string& request_id);

  const std::vector<int32_t>& BlockTable(const std::string& request_id) const;
  bool HasRequest(const std::string& request_id) const { return req_blocks_.count(request_id) > 0; }

  int64_t NumFreeBlocks() const { return free_len_; }  // includes cached-free
  BlockCounts Counts() const;
  // Blocks with ref_cnt > 0 that no live request holds.
  int64_t CountOrphanedBlocks() const;
  // Drops every cache entry of free blocks (e.g. after a reset).
  void ResetPrefixCache();

  int64_t prefix_queries() const { return prefix_queries_; }
  int64_t prefix_hits() const { return prefix_hits_; }
  int64_t cache_evictions() const { return cache_evictions_; }

  // Checks free + used + cached == total and the free list's consistency;
  // returns an empty string when sound, else what is wrong.
  std::string CheckInvariants() const;

 private:
  static constexpr uint64_t kNoHash = 0;
  struct Block {
    int32_t ref_cnt = 0;
    uint64_t hash = kNoHash;
    int32_t prev = -1, next = -1;  // free-queue links
    bool in_free_queue = false;
  };
  struct ReqState {
    std::vector<int32_t> blocks;
    int64_t num_hashed = 0;  // leading blocks already hashed
    uint64_t last_hash = 0;  // chain hash of block num_hashed-1
  };

  static uint64_t HashBlock(uint64_t parent, const int32_t* tokens, int n);
  void FreeQueueRemove(int32_t id);
  void FreeQueuePushBack(int32_t id);
  int32_t FreeQueuePopFront();
  void Release(const std::vector<int32_t>& blocks);

  int block_size_;
  bool prefix_caching_;

 public:
  bool prefix_caching() const { return prefix_caching_; }

 private:
  std::vector<Block> blocks_;
  int32_t head_ = -1, tail_ = -1;
  int64_t free_len_ = 0;
  int64_t cached_free_ = 0;                       // blocks in the free queue that hold a cache entry
  std::unordered_map<uint64_t, int32_t> cached_;  // chain hash -> block
  std::unordered_map<std::string, ReqState> req_blocks_;
  int64_t prefix_queries_ = 0, prefix_hits_ = 0, cache_evictions_ = 0;
};

}  // namespace vigil::engine
