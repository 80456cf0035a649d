// EngineCore: the engine without a thread. Each Step() schedules, runs the
// model once and delivers outputs. Single-threaded: the threaded Engine and
// offline tools (vigilctl generate) drive it; tests drive it step by step.
// Torch-free header (the model lives behind the pimpl).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/block_manager.h"
#include "engine/engine.h"

namespace vigil::engine {

class EngineCore {
 public:
  static Status Create(const EngineConfig& config, std::unique_ptr<EngineCore>* out);
  ~EngineCore();

  // Checks a request against the model and the cache without queuing it.
  // Reads only immutable state: safe from any thread.
  Status ValidateRequest(const std::vector<int32_t>& prompt, const SamplingParams& params) const;
  Status AddRequest(const std::string& id, std::vector<int32_t> prompt, const SamplingParams& params,
                    OutputCallback on_output, double arrival_time = -1);
  // Removes the request and delivers its final kAbort output. Honours
  // faults.leak_blocks_on_abort. Returns false for unknown ids.
  bool AbortRequest(const std::string& id);
  void AbortAll();

  bool HasWork() const;
  void Step();

  // The engine's view of its stats; refreshes the slow-moving parts (RSS,
  // orphan audit) at most every 250 ms unless `force`.
  const EngineStats& stats(bool force = false);
  const ModelInfo& model_info() const;
  const EngineConfig& config() const;
  BlockCounts block_counts() const;
  std::string CheckInvariants() const;  // empty when the block manager is sound

 private:
  EngineCore();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Steady-clock seconds, the engine's time base for request timings.
double NowSeconds();

}  // namespace vigil::engine
