// EngineCore's internals, shared by engine_core.cc (setup, requests, stats)
// and engine_step.cc (the iteration). Includes libtorch: engine/ only.
#pragma once

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <random>

#ifdef VIGIL_WITH_CUDA  // set by CMake when libtorch was built with CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#define VIGIL_HAVE_CUDA_ALLOCATOR 1
#endif

#include "engine/engine_core.h"
#include "engine/model.h"
#include "engine/model_config.h"
#include "engine/scheduler.h"

namespace vigil::engine {

namespace detail {

inline int64_t ProcessRssBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long pages = 0, resident = 0;
  int n = std::fscanf(f, "%ld %ld", &pages, &resident);
  std::fclose(f);
  return n == 2 ? static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE) : 0;
}

}  // namespace detail

struct EngineCore::Impl {
  EngineConfig cfg;
  ModelInfo info;
  ModelConfig mcfg;
  std::unique_ptr<Model> model;
  KVCache cache;
  std::unique_ptr<BlockManager> blocks;
  std::unique_ptr<Scheduler> scheduler;
  torch::Device device = torch::kCPU;
  EngineStats stats;
  std::mt19937_64 engine_rng;
  std::mt19937_64 fault_rng{0x1eaf};
  uint64_t request_counter = 0;
  std::deque<std::pair<double, double>> recent_steps;  // (end time, duration) over the last second
  double last_slow_refresh = -1;
  double request_timeout_s = 300;

  void Emit(Request* r, std::vector<int32_t> tokens, bool finished, std::vector<float> prompt_logits = {},
            const std::string& error = "") {
    if (!r->on_output) return;
    RequestOutput o;
    o.request_id = r->id;
    o.new_token_ids = std::move(tokens);
    o.finished = finished;
    o.finish_reason = r->finish_reason;
    o.error = error;
    o.num_prompt_tokens = r->num_prompt_tokens;
    o.num_output_tokens = r->num_output_tokens();
    o.num_cached_tokens = std::max<int64_t>(0, r->num_cached_tokens);
    o.prompt_logits = std::move(prompt_logits);
    r->on_output(o);
  }

  void ObserveFinished(const Request& r, double now) {
    stats.requests_finished_by_reason[static_cast<int>(r.finish_reason)]++;
    if (r.finish_reason == FinishReason::kAbort || r.finish_reason == FinishReason::kError) return;
    stats.e2e_seconds.Observe(now - r.arrival_time);
    stats.guide_e2e_seconds.Observe(now - r.arrival_time);
    stats.e2e_sketch.Add(now - r.arrival_time);
    if (r.first_token_time >= 0) stats.decode_seconds.Observe(now - r.first_token_time);
    stats.prompt_tokens.Observe(static_cast<double>(r.num_prompt_tokens));
    stats.generation_tokens.Observe(static_cast<double>(r.num_output_tokens()));
  }

  void FailScheduled(const SchedulerOutput& so, const std::string& why) {
    for (const ScheduledRequest& s : so.scheduled) {
      std::unique_ptr<Request> r = scheduler->Remove(s.request->id);
      if (!r) continue;
      r->finish_reason = FinishReason::kError;
      ObserveFinished(*r, NowSeconds());
      Emit(r.get(), {}, true, {}, why);
    }
  }

  void RefreshCheap(double now) {
    BlockCounts c = blocks->Counts();
    stats.requests_running = scheduler->num_running();
    stats.requests_waiting = scheduler->num_waiting();
    stats.requests_preempted_waiting = scheduler->num_preempted_waiting();
    stats.kv_blocks_total = c.total;
    stats.kv_blocks_used = c.used;
    stats.kv_blocks_cached_free = c.cached_free;
    stats.kv_blocks_free = c.free;
    stats.kv_cache_usage = c.total > 0 ? static_cast<double>(c.used) / static_cast<double>(c.total) : 0;
    stats.prefix_cache_queries_total = blocks->prefix_queries();
    stats.prefix_cache_hits_total = blocks->prefix_hits();
    stats.kv_evictions_cache_total = blocks->cache_evictions();
    stats.preemptions_total = scheduler->preemptions_total();
    while (!recent_steps.empty() && recent_steps.front().first < now - 1.0) recent_steps.pop_front();
    double busy = 0;
    for (const auto& s : recent_steps) busy += s.second;
    stats.busy_fraction = std::min(1.0, busy);
    int64_t total_len = 0, stuck = 0;
    for (const Request* r : scheduler->running()) {
      total_len += r->num_tokens();
      if (now - r->arrival_time > request_timeout_s) ++stuck;
    }
    stats.avg_sequence_length =
        scheduler->num_running() > 0 ? static_cast<double>(total_len) / scheduler->num_running() : 0;
    stats.requests_stuck = stuck;
  }

  void RefreshSlow(double now, bool force) {
    if (!force && now - last_slow_refresh < 0.25) return;
    last_slow_refresh = now;
    stats.kv_blocks_orphaned = blocks->CountOrphanedBlocks();
    int64_t mem = 0;
#ifdef VIGIL_HAVE_CUDA_ALLOCATOR
    if (device.is_cuda()) {
      auto ds = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
      mem = ds.allocated_bytes[0].current;
    }
#endif
    if (mem == 0) mem = detail::ProcessRssBytes();
    stats.memory_used_bytes = mem;
  }

  void Step();
};

}  // namespace vigil::engine
