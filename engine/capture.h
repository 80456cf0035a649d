// Profiling captures of the running engine, torch-free: a window of engine
// steps recorded as Vigil's own spans (step, schedule, prepare_inputs,
// forward, per-layer attention and mlp, sample, update) plus libtorch's
// profiler events (operators; with CUDA, GPU kernels and memcpys). The engine
// thread only records; turning the profiler's events into plain records
// (Materialize) and everything after run on the caller's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/stats.h"

namespace vigil::engine {

struct CaptureOptions {
  int64_t max_steps = 200;
  double max_duration_s = 10;
  bool record_shapes = false;
  bool with_stack = false;
  bool profile_ops = true;  // libtorch's profiler; off: Vigil's spans only
};

// One complete event on a timeline, times in unix microseconds.
struct TraceRecord {
  std::string name;
  std::string cat;  // "vigil" spans; "cpu_op", "kernel", "gpu_memcpy", ... from the profiler
  double ts_us = 0;
  double dur_us = 0;
  int64_t pid = 0;  // 0: the host process; device index + 1 for GPU streams
  int64_t tid = 0;  // engine thread, or a GPU stream
  std::map<std::string, double> num_args;
  std::map<std::string, std::string> str_args;
};

struct CaptureData {
  double start_unix = 0, end_unix = 0;
  int64_t steps = 0;
  std::string stop_reason;         // max_steps, max_duration, stopped, engine_stopped, error
  std::string profiler;            // "torch-kineto (cpu+cuda)", "torch (cpu)", "off", or why it failed
  std::vector<TraceRecord> spans;  // Vigil's, on the engine thread
  std::vector<TraceRecord> ops;    // the profiler's, filled by Materialize()
  EngineStats stats_start, stats_end;
  double profiler_stop_s = 0;  // how long the engine thread spent stopping the profiler
  // Converts the profiler's result into `ops` (and drops it); call once, on
  // any thread but the engine's. A no-op when there is nothing to convert.
  std::function<void(CaptureData*)> materialize;
  void Materialize() {
    if (materialize) {
      auto m = std::move(materialize);
      materialize = nullptr;
      m(this);
    }
  }
};

using CaptureCallback = std::function<void(CaptureData)>;

}  // namespace vigil::engine
