// Continuous-batching scheduler after vLLM v1: one token budget per step,
// running requests first (decodes and unfinished chunked prefills), then
// waiting ones; preempts the most recently admitted request when the KV cache
// runs out. Torch-free: the model runner executes what it decides.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/block_manager.h"
#include "engine/request.h"

namespace vigil::engine {

struct SchedulerConfig {
  int max_num_seqs = 64;
  int max_num_batched_tokens = 2048;
  int64_t max_model_len = 2048;
  bool enable_chunked_prefill = true;
};

struct ScheduledRequest {
  Request* request;
  int64_t start_pos;       // first position computed this step (== num_computed before)
  int64_t num_new_tokens;  // tokens computed this step
  // True when this step computes the request's last known token, so its
  // logits yield the next token (false for a non-final prefill chunk).
  bool samples;
};

struct SchedulerOutput {
  std::vector<ScheduledRequest> scheduled;
  int64_t total_tokens = 0;
  int64_t num_preempted = 0;
  int64_t blocks_freed_by_preemption = 0;
  bool empty() const { return scheduled.empty(); }
};

// One request's progress after a step: what to tell its callback.
struct RequestUpdate {
  Request* request;
  std::vector<int32_t> new_tokens;
  bool finished;
};

class Scheduler {
 public:
  Scheduler(const SchedulerConfig& config, BlockManager* blocks, std::vector<int32_t> eos_token_ids);

  void Add(std::unique_ptr<Request> request);
  Request* Find(const std::string& id);
  // Removes a queued or running request. With `leak`, its blocks are
  // forgotten instead of freed (the leak fault). Returns it, or null.
  std::unique_ptr<Request> Remove(const std::string& id, bool leak = false);

  SchedulerOutput Schedule();
  // Applies a step's results: `sampled[i]` is the token for scheduled[i] when
  // it samples (ignored otherwise). Finished requests are freed here and
  // handed back through Take().
  std::vector<RequestUpdate> Update(const SchedulerOutput& out, const std::vector<int32_t>& sampled);
  std::unique_ptr<Request> Take(const std::string& id) { return Remove(id); }

  std::vector<std::string> RequestIds() const;
  int64_t num_running() const { return static_cast<int64_t>(running_.size()); }
  int64_t num_waiting() const { return static_cast<int64_t>(waiting_.size()); }
  int64_t num_preempted_waiting() const;
  bool has_work() const { return !running_.empty() || !waiting_.empty(); }
  const std::vector<Request*>& running() const { return running_; }
  int64_t preemptions_total() const { return preemptions_total_; }

 private:
  int64_t Preempt(Request* r);  // returns blocks released
  FinishReason CheckStop(const Request& r, int32_t token) const;

  SchedulerConfig cfg_;
  BlockManager* blocks_;
  std::vector<int32_t> eos_;
  std::unordered_map<std::string, std::unique_ptr<Request>> requests_;
  std::deque<Request*> waiting_;
  std::vector<Request*> running_;  // in admission order
  int64_t preemptions_total_ = 0;
};

}  // namespace vigil::engine
