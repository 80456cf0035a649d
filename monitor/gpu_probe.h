// The GPU's own figures from NVML, loaded with dlopen("libnvidia-ml.so.1")
// so that Vigil builds and runs where NVIDIA's library is absent: there the
// probe does not open and GPU signals are absent, never 0.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/stats.h"

namespace vigil::monitor {

// NVML's clocks-throttle reasons that mean the GPU is held below the clocks
// it asked for by heat or power (nvml.h, nvmlClocksThrottleReasons):
// SwPowerCap 0x4, HwSlowdown 0x8, SwThermalSlowdown 0x20,
// HwThermalSlowdown 0x40, HwPowerBrakeSlowdown 0x80. Not GpuIdle 0x1 (no
// work), ApplicationsClocksSetting 0x2 (an operator's choice), SyncBoost
// 0x10 (held to its group's clocks) nor DisplayClockSetting 0x100.
constexpr uint64_t kHarmfulThrottleReasons = 0x4 | 0x8 | 0x20 | 0x40 | 0x80;

class GpuProbe {
 public:
  // Every field optional: what NVML refuses on this board stays absent.
  using Reading = engine::GpuStats;

  // Opens NVML ($VIGIL_NVML_LIBRARY, else libnvidia-ml.so.1) and the device
  // the engine's CUDA index names, through CUDA_VISIBLE_DEVICES (indices or
  // GPU-UUIDs). NVML numbers devices by PCI bus; CUDA does too with
  // CUDA_DEVICE_ORDER=PCI_BUS_ID, and on hosts of identical GPUs anyway.
  // Null, with *why set, when that cannot be done.
  static std::unique_ptr<GpuProbe> Open(int cuda_device, std::string* why);
  ~GpuProbe();
  GpuProbe(const GpuProbe&) = delete;
  GpuProbe& operator=(const GpuProbe&) = delete;

  // Reads every figure NVML gives for the device and drains the XID events
  // pending since the last call into the running total. False (and nothing
  // set) when NVML refuses every query. One thread at a time (the monitor's).
  bool Read(Reading* out);
  const std::string& device() const { return device_; }
  // NVML's index of the device and its UUID ("GPU-..."), for labels; -1 / ""
  // when NVML does not say.
  int nvml_index() const { return nvml_index_; }
  const std::string& uuid() const { return uuid_; }

 private:
  GpuProbe() = default;
  void OpenEvents();
  struct Api;
  void* lib_ = nullptr;
  std::unique_ptr<Api> api_;
  void* handle_ = nullptr;  // nvmlDevice_t
  void* events_ = nullptr;  // nvmlEventSet_t with XID critical errors registered; null: XIDs absent
  double xid_total_ = 0;
  std::string device_;  // how it was found: "nvml index 2" or a UUID
  int nvml_index_ = -1;
  std::string uuid_;
};

}  // namespace vigil::monitor
