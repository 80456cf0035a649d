// libtorch's profiler for a capture, on the engine thread (its callbacks are
// thread-local). Internal to engine/.
#pragma once

#include <functional>
#include <memory>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "engine/capture.h"

namespace vigil::engine {

class OpProfiler {
 public:
  OpProfiler();
  ~OpProfiler();
  // Enables the profiler (CPU operators; with `cuda`, GPU kernels too).
  Status Start(const CaptureOptions& options, bool cuda);
  // Disables it; the returned closure converts the result into
  // CaptureData::ops off the engine thread. `os_tid`: the engine thread's id
  // in Vigil's spans.
  std::function<void(CaptureData*)> Stop(int64_t os_tid);
  bool running() const { return running_; }
  const std::string& description() const { return description_; }

 private:
  bool running_ = false;
  uint64_t rf_tid_ = 0;
  std::string description_;
};

}  // namespace vigil::engine
