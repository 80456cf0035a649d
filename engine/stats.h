// EngineStats: the engine's state as the monitor and /metrics read it.
// Torch-free, copyable; Engine::GetStats() returns a consistent snapshot
// without stopping the engine thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/quantile_sketch.h"

namespace vigil::engine {

// A cumulative histogram with fixed upper bounds, Prometheus-style: counts[i]
// counts observations <= bounds[i] (not cumulative across buckets; the
// exporter accumulates), counts.back() is the +Inf bucket.
class Histogram {
 public:
  Histogram() = default;
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  const std::vector<uint64_t>& counts() const { return counts_; }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // bounds_.size() + 1
  uint64_t count_ = 0;
  double sum_ = 0;
};

// vLLM's bucket boundaries, so existing dashboards' histogram_quantile()s work.
std::vector<double> TtftBuckets();
std::vector<double> InterTokenBuckets();
std::vector<double> RequestLatencyBuckets();  // e2e, queue, prefill, decode
std::vector<double> IterationTokenBuckets();
std::vector<double> OneTwoFiveBuckets(int64_t max_value);  // 1,2,5,10,20,50,...

enum class FinishReason { kNone = 0, kStop, kLength, kAbort, kError };
constexpr int kNumFinishReasons = 5;
const char* FinishReasonName(FinishReason r);

// The engine's GPU as NVML reports it. Each field is absent where NVML has
// no value (not supported on this board, no permission, a failed read):
// never a made-up 0.
struct GpuStats {
  std::optional<double> utilization;        // 0..1, share of the last sample period with a kernel running
  std::optional<double> memory_used_bytes;  // device memory in use (any process)
  std::optional<double> memory_total_bytes;
  std::optional<double> power_watts;
  std::optional<double> temperature_celsius;  // the GPU die
  std::optional<double> sm_clock_hz;
  std::optional<uint64_t> throttle_reasons;  // NVML's clocks-throttle-reasons bitmask, as read
  std::optional<bool> throttled;             // a harmful reason is set (heat, power; not idle)
  std::optional<double> xid_errors_total;    // XID critical-error events seen since the probe opened
  std::optional<double> ecc_errors_total;    // uncorrected ECC errors, volatile counter (since driver load)
};

struct EngineStats {
  // Scheduler state.
  int64_t requests_running = 0;
  int64_t requests_waiting = 0;
  int64_t requests_preempted_waiting = 0;  // waiting because they were preempted

  // KV cache (blocks). used + cached_free + free == total.
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_used = 0;         // ref count > 0
  int64_t kv_blocks_cached_free = 0;  // free but still holding a prefix-cache entry
  int64_t kv_blocks_free = 0;
  int64_t kv_blocks_orphaned = 0;  // used by no live request (a leak)
  double kv_cache_usage = 0;       // used / total, 0..1

  // Counters (monotonic over the engine's life).
  int64_t preemptions_total = 0;
  int64_t prefix_cache_queries_total = 0;     // tokens looked up
  int64_t prefix_cache_hits_total = 0;        // tokens found
  int64_t kv_evictions_preemption_total = 0;  // blocks released by preemption
  int64_t kv_evictions_cache_total = 0;       // cached blocks reclaimed for reuse
  int64_t prompt_tokens_total = 0;            // prompt tokens computed (excluding cache hits)
  int64_t generation_tokens_total = 0;
  std::array<int64_t, kNumFinishReasons> requests_finished_by_reason{};  // indexed by FinishReason
  int64_t requests_rejected_total = 0;                                   // refused at submission
  int64_t steps_total = 0;
  double busy_seconds_total = 0;  // wall time inside model steps
  // CPU time of the engine thread (its per-thread CPU clock): work done, not
  // wall time, so a step descheduled by a busy host does not count as busy.
  double engine_thread_cpu_seconds_total = 0;

  // Recent activity.
  double busy_fraction = 0;        // share of the last ~1 s spent in steps
  double avg_sequence_length = 0;  // mean tokens (prompt+output) of running requests
  int64_t last_step_batch_size = 0;
  int64_t last_step_tokens = 0;
  double last_step_seconds = 0;
  int64_t requests_stuck = 0;  // running longer than the stuck threshold

  // Memory in use: CPU RSS, or the CUDA allocator's bytes on GPU.
  int64_t memory_used_bytes = 0;

  // Per-request and per-step distributions, vLLM's buckets.
  Histogram ttft_seconds{TtftBuckets()};
  Histogram inter_token_seconds{InterTokenBuckets()};
  Histogram e2e_seconds{RequestLatencyBuckets()};
  Histogram queue_seconds{RequestLatencyBuckets()};
  Histogram prefill_seconds{RequestLatencyBuckets()};
  Histogram decode_seconds{RequestLatencyBuckets()};
  Histogram prompt_tokens{OneTwoFiveBuckets(1 << 20)};
  Histogram generation_tokens{OneTwoFiveBuckets(1 << 20)};
  Histogram iteration_tokens{IterationTokenBuckets()};
  Histogram batch_size{IterationTokenBuckets()};
  Histogram step_seconds{InterTokenBuckets()};
  // The widely copied vLLM production-monitoring guide's own buckets, so its
  // dashboards and alert rules work unchanged.
  Histogram guide_ttft_seconds{{0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30}};
  Histogram guide_tbt_seconds{{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1}};
  Histogram guide_e2e_seconds{{0.5, 1, 2, 5, 10, 30, 60, 120}};
  Histogram guide_decode_batch_size{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}};

  // Cumulative quantile sketches (0.5% relative accuracy): the monitor
  // subtracts consecutive snapshots to get each interval's distribution.
  QuantileSketch ttft_sketch, inter_token_sketch, e2e_sketch, queue_sketch, prefill_sketch, batch_size_sketch;

  // Engine settings, so rules and recommendations can use them.
  int64_t max_num_seqs = 0;
  int64_t max_num_batched_tokens = 0;
  int64_t block_size = 0;
  int64_t max_model_len = 0;
  bool prefix_caching_enabled = false;
  bool chunked_prefill_enabled = false;
  int cuda_device = -1;  // the CUDA device index the model runs on; -1 on CPU

  // The device's own figures (NVML), filled by the monitor's GPU probe, not
  // the engine. gpu_probed: the probe is open, so an absent field is a
  // failed or refused read, not a missing NVML.
  GpuStats gpu;
  bool gpu_probed = false;

  // Liveness: steady-clock nanoseconds of the engine loop's last iteration.
  int64_t heartbeat_ns = 0;
};

}  // namespace vigil::engine
