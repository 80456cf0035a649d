// The engine's GPU on /metrics and in /health/report, as the monitor last
// read it from NVML: DCGM-exporter-style vigil_gpu_* series labelled with
// NVML's device index and UUID, and the report's `gpu` object. A figure NVML
// did not give has no series and no key, never a 0.
#pragma once

#include <prometheus/metric_family.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/stats.h"

namespace vigil::daemon {

struct GpuIdentity {
  int nvml_index = -1;  // the `gpu` label; -1 (no label) when NVML did not say
  std::string uuid;     // the `UUID` label, when NVML gave one
  std::string device;   // how the probe found it ("nvml index 0" or a UUID)
};

std::vector<prometheus::MetricFamily> GpuFamilies(const engine::GpuStats& g, const GpuIdentity& id);
nlohmann::json GpuJson(const engine::GpuStats& g, const GpuIdentity& id);

}  // namespace vigil::daemon
