#include "engine/profiler.h"

#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/version.h>

#include <chrono>
#include <cmath>

#include "common/clock.h"

namespace vigil::engine {

namespace prof = torch::autograd::profiler;
namespace impl = torch::profiler::impl;

namespace {

// libkineto's ActivityType values, as KinetoEvent::activityType() reports them.
const char* ActivityCategory(uint8_t t) {
  switch (t) {
    case 0: return "cpu_op";
    case 1: return "user_annotation";
    case 2: return "gpu_user_annotation";
    case 3: return "gpu_memcpy";
    case 4: return "gpu_memset";
    case 5: return "kernel";
    case 6: return "external_correlation";
    case 7: return "cuda_runtime";
    default: return "other";
  }
}

uint64_t StartNs(const prof::KinetoEvent& e) {
#if TORCH_VERSION_MAJOR >= 2
  return e.startNs();
#else
  return e.startUs() * 1000;
#endif
}
uint64_t DurationNs(const prof::KinetoEvent& e) {
#if TORCH_VERSION_MAJOR >= 2
  return e.durationNs();
#else
  return e.durationUs() * 1000;
#endif
}

std::string Shapes(const prof::KinetoEvent& e) {
  std::string s;
  for (const auto& shape : e.shapes()) {
    s += s.empty() ? "[" : ", [";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
    s += "]";
  }
  return s;
}

}  // namespace

OpProfiler::OpProfiler() = default;
OpProfiler::~OpProfiler() {
  if (running_) (void)Stop(0);
}

Status OpProfiler::Start(const CaptureOptions& o, bool cuda) {
  std::set<impl::ActivityType> acts = {impl::ActivityType::CPU};
  if (cuda) acts.insert(impl::ActivityType::CUDA);
  impl::ProfilerConfig cfg(impl::ProfilerState::KINETO, o.record_shapes, /*profile_memory=*/false, o.with_stack);
  try {
    prof::prepareProfiler(cfg, acts);
    prof::enableProfiler(cfg, acts);
  } catch (const std::exception& e) {
    description_ = std::string("off: the libtorch profiler could not start: ") + e.what();
    return Status::Unavailable(description_);
  }
  running_ = true;
  rf_tid_ = at::RecordFunction::currentThreadId();
  description_ = std::string("torch ") + TORCH_VERSION + (cuda ? " profiler (cpu+cuda)" : " profiler (cpu)");
  return Status::OK();
}

std::function<void(CaptureData*)> OpProfiler::Stop(int64_t os_tid) {
  if (!running_) return nullptr;
  running_ = false;
  std::shared_ptr<prof::ProfilerResult> result;
  try {
    result = prof::disableProfiler();
  } catch (const std::exception&) { return nullptr; }
  // Clock anchors taken now, to place the profiler's times on unix time:
  // depending on the version they are steady-clock or unix nanoseconds.
  const double steady_ns = static_cast<double>(RealClock::SteadyNs());
  const double unix_ns = static_cast<double>(RealClock::UnixNs());
  const uint64_t rf_tid = rf_tid_;
  return [result, steady_ns, unix_ns, rf_tid, os_tid](CaptureData* d) {
    const auto& events = result->events();
    d->ops.reserve(events.size());
    double offset_ns = 0;
    for (const auto& e : events) {
      const double s = static_cast<double>(StartNs(e));
      offset_ns = std::fabs(s - steady_ns) < std::fabs(s - unix_ns) ? unix_ns - steady_ns : 0;
      break;
    }
    for (const auto& e : events) {
      TraceRecord r;
      r.name = e.name();
      r.ts_us = (static_cast<double>(StartNs(e)) + offset_ns) / 1e3;
      r.dur_us = static_cast<double>(DurationNs(e)) / 1e3;
      const bool device = e.deviceType() != c10::DeviceType::CPU && e.activityType() != 0 && e.activityType() != 7;
      r.cat = ActivityCategory(e.activityType());
      if (device) {
        r.pid = 1 + e.deviceIndex();
        r.tid = e.deviceResourceId();  // the stream
      } else {
        // The profiler numbers threads itself; the engine thread gets its OS id,
        // the one Vigil's spans carry.
        r.tid = e.startThreadId() == rf_tid ? os_tid : static_cast<int64_t>(e.startThreadId());
      }
      if (e.hasShapes() && !e.shapes().empty()) r.str_args["Input Dims"] = Shapes(e);
      if (e.hasStack() && !e.stack().empty()) {
        std::string st;
        for (const auto& f : e.stack()) st += f + "\n";
        r.str_args["Call stack"] = st;
      }
      if (e.correlationId()) r.num_args["correlation"] = static_cast<double>(e.correlationId());
      d->ops.push_back(std::move(r));
    }
  };
}

}  // namespace vigil::engine
