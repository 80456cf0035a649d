#include "daemon/gpu_report.h"

#include <optional>

namespace vigil::daemon {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// One figure: its /metrics family and report key.
struct Figure {
  const char* metric;
  const char* key;
  MetricType type;
  const char* help;
  std::optional<double> value;
};

std::vector<Figure> Figures(const engine::GpuStats& g) {
  auto d = [](const auto& o) { return o ? std::optional<double>(double(*o)) : std::nullopt; };
  return {
      {"vigil_gpu_utilization", "utilization", MetricType::Gauge,
       "Share of NVML's last sample period in which a kernel ran on the GPU, 0..1 (device-wide).", g.utilization},
      {"vigil_gpu_memory_used_bytes", "memory_used_bytes", MetricType::Gauge,
       "GPU memory in use, every process's (NVML).", g.memory_used_bytes},
      {"vigil_gpu_memory_total_bytes", "memory_total_bytes", MetricType::Gauge, "GPU memory in all (NVML).",
       g.memory_total_bytes},
      {"vigil_gpu_power_watts", "power_watts", MetricType::Gauge, "GPU power draw in watts (NVML).", g.power_watts},
      {"vigil_gpu_temperature_celsius", "temperature_celsius", MetricType::Gauge, "GPU die temperature (NVML).",
       g.temperature_celsius},
      {"vigil_gpu_sm_clock_hz", "sm_clock_hz", MetricType::Gauge, "GPU SM clock in hertz (NVML).", g.sm_clock_hz},
      {"vigil_gpu_throttled", "throttled", MetricType::Gauge,
       "1 while a heat or power reason holds the GPU's clocks down (not idle, not application clocks).",
       d(g.throttled)},
      {"vigil_gpu_throttle_reasons", "throttle_reasons", MetricType::Gauge,
       "NVML's clocks-throttle-reasons bitmask as read (nvmlClocksThrottleReason*).", d(g.throttle_reasons)},
      {"vigil_gpu_xid_errors_total", "xid_errors_total", MetricType::Counter,
       "XID critical errors NVML reported for the GPU since vigild opened it.", g.xid_errors_total},
      {"vigil_gpu_ecc_errors_total", "ecc_errors_total", MetricType::Counter,
       "Uncorrected ECC errors of the GPU since the driver loaded (NVML's volatile counter).", g.ecc_errors_total},
  };
}

}  // namespace

std::vector<MetricFamily> GpuFamilies(const engine::GpuStats& g, const GpuIdentity& id) {
  std::vector<MetricFamily> out;
  for (const Figure& f : Figures(g)) {
    if (!f.value) continue;
    ClientMetric m;
    // DCGM exporter's labels, so its dashboards' selectors carry over.
    if (id.nvml_index >= 0) m.label.push_back({"gpu", std::to_string(id.nvml_index)});
    if (!id.uuid.empty()) m.label.push_back({"UUID", id.uuid});
    if (f.type == MetricType::Counter) m.counter.value = *f.value;
    else m.gauge.value = *f.value;
    out.push_back(MetricFamily{f.metric, f.help, f.type, {std::move(m)}});
  }
  return out;
}

nlohmann::json GpuJson(const engine::GpuStats& g, const GpuIdentity& id) {
  nlohmann::json j = {{"device", id.device}};
  if (id.nvml_index >= 0) j["index"] = id.nvml_index;
  if (!id.uuid.empty()) j["uuid"] = id.uuid;
  for (const Figure& f : Figures(g)) {
    if (!f.value) continue;
    if (std::string(f.key) == "throttled") j[f.key] = *g.throttled;
    else if (std::string(f.key) == "throttle_reasons") j[f.key] = *g.throttle_reasons;
    else j[f.key] = *f.value;
  }
  return j;
}

}  // namespace vigil::daemon
