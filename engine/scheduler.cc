#include "engine/scheduler.h"

#include <algorithm>

namespace vigil::engine {

Scheduler::Scheduler(const SchedulerConfig& config, BlockManager* blocks, std::vector<int32_t> eos_token_ids)
    : cfg_(config), blocks_(blocks), eos_(std::move(eos_token_ids)) {}

void Scheduler::Add(std::unique_ptr<Request> request) {
  Request* r = request.get();
  r->state = RequestState::kWaiting;
  requests_[r->id] = std::move(request);
  waiting_.push_back(r);
}

Request* Scheduler::Find(const std::string& id) {
  auto it = requests_.find(id);
  return it == requests_.end() ? nullptr : it->second.get();
}

std::unique_ptr<Request> Scheduler::Remove(const std::string& id, bool leak) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return nullptr;
  std::unique_ptr<Request> r = std::move(it->second);
  requests_.erase(it);
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), r.get()), waiting_.end());
  running_.erase(std::remove(running_.begin(), running_.end(), r.get()), running_.end());
  if (leak) blocks_->Leak(id);
  else blocks_->Free(id);
  return r;
}

std::vector<std::string> Scheduler::RequestIds() const {
  std::vector<std::string> ids;
  ids.reserve(requests_.size());
  for (const auto& kv : requests_) ids.push_back(kv.first);
  return ids;
}

int64_t Scheduler::num_preempted_waiting() const {
  int64_t n = 0;
  for (const Request* r : waiting_) n += r->num_preemptions > 0 ? 1 : 0;
  return n;
}

int64_t Scheduler::Preempt(Request* r) {
  int64_t freed = blocks_->Free(r->id);
  r->num_computed_tokens = 0;  // recompute from scratch (prefix cache may help)
  r->state = RequestState::kWaiting;
  ++r->num_preemptions;
  ++preemptions_total_;
  waiting_.push_front(r);
  return freed;
}

SchedulerOutput Scheduler::Schedule() {
  SchedulerOutput out;
  int64_t budget = cfg_.max_num_batched_tokens;

  // Running requests first: decodes and the next chunk of chunked prefills.
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Request* r = running_[i];
    const int64_t n = std::min<int64_t>(r->num_tokens() - r->num_computed_tokens, budget);
    bool allocated = false;
    while (!running_.empty()) {
      if (blocks_->AllocateSlots(r->id, r->num_computed_tokens, n)) {
        allocated = true;
        break;
      }
      // Out of KV blocks: preempt the most recently admitted request.
      Request* victim = running_.back();
      running_.pop_back();
      out.blocks_freed_by_preemption += Preempt(victim);
      ++out.num_preempted;
      if (victim == r) break;
    }
    if (!allocated) break;
    out.scheduled.push_back({r, r->num_computed_tokens, n, r->num_computed_tokens + n == r->num_tokens()});
    out.total_tokens += n;
    budget -= n;
    ++i;
  }

  // Then waiting requests, in order, while there is budget and room. After a
  // preemption the cache is full: admitting more would only thrash.
  while (out.num_preempted == 0 && !waiting_.empty() && budget > 0 &&
         static_cast<int64_t>(running_.size()) < cfg_.max_num_seqs) {
    Request* r = waiting_.front();
    std::vector<int32_t> hit = blocks_->FindCachedPrefix(r->tokens);
    const int64_t cached = static_cast<int64_t>(hit.size()) * blocks_->block_size();
    int64_t n = r->num_tokens() - cached;
    if (!cfg_.enable_chunked_prefill && n > budget) break;  // waits for a step with room
    n = std::min(n, budget);
    if (!blocks_->AllocateSlots(r->id, 0, n, hit)) break;
    if (blocks_->prefix_caching()) blocks_->RecordPrefixQuery(r->num_tokens(), cached);
    waiting_.pop_front();
    running_.push_back(r);
    r->state = RequestState::kRunning;
    r->num_computed_tokens = cached;
    if (r->num_cached_tokens < 0) r->num_cached_tokens = cached;
    out.scheduled.push_back({r, cached, n, cached + n == r->num_tokens()});
    out.total_tokens += n;
    budget -= n;
  }
  return out;
}

FinishReason Scheduler::CheckStop(const Request& r, int32_t token) const {
  if (!r.params.ignore_eos && std::find(eos_.begin(), eos_.end(), token) != eos_.end()) return FinishReason::kStop;
  const auto& stops = r.params.stop_token_ids;
  if (std::find(stops.begin(), stops.end(), token) != stops.end()) return FinishReason::kStop;
  if (r.num_tokens() >= r.max_total_tokens) return FinishReason::kLength;
  return FinishReason::kNone;
}

std::vector<RequestUpdate> Scheduler::Update(const SchedulerOutput& out, const std::vector<int32_t>& sampled) {
  std::vector<RequestUpdate> updates;
  updates.reserve(out.scheduled.size());
  for (size_t i = 0; i < out.scheduled.size(); ++i) {
    const ScheduledRequest& s = out.scheduled[i];
    Request* r = s.request;
    r->num_computed_tokens += s.num_new_tokens;
    RequestUpdate u{r, {}, false};
    if (s.samples) {
      const int32_t tok = sampled[i];
      r->tokens.push_back(tok);
      u.new_tokens.push_back(tok);
      r->finish_reason = CheckStop(*r, tok);
    }
    blocks_->CacheFullBlocks(r->id, r->tokens, r->num_computed_tokens);
    if (r->finish_reason != FinishReason::kNone) {
      u.finished = true;
      r->state = RequestState::kFinished;
      running_.erase(std::remove(running_.begin(), running_.end(), r), running_.end());
      blocks_->Free(r->id);
    }
    updates.push_back(std::move(u));
  }
  return updates;
}

}  // namespace vigil::engine
