// The GPU's own figures from NVML, loaded with dlopen("libnvidia-ml.so.1")
// so that Vigil builds and runs where NVIDIA's library is absent: there the
// probe does not open and GPU signals are absent, never 0.
#pragma once

#include <memory>
#include <string>

namespace vigil::monitor {

class GpuProbe {
 public:
  struct Reading {
    // 0..1: NVML's GPU utilization, the share of its last sample period in
    // which a kernel ran on the device (any process's: device-wide).
    double utilization = -1;
  };

  // Opens NVML ($VIGIL_NVML_LIBRARY, else libnvidia-ml.so.1) and the device
  // the engine's CUDA index names, through CUDA_VISIBLE_DEVICES (indices or
  // GPU-UUIDs). NVML numbers devices by PCI bus; CUDA does too with
  // CUDA_DEVICE_ORDER=PCI_BUS_ID, and on hosts of identical GPUs anyway.
  // Null, with *why set, when that cannot be done.
  static std::unique_ptr<GpuProbe> Open(int cuda_device, std::string* why);
  ~GpuProbe();
  GpuProbe(const GpuProbe&) = delete;
  GpuProbe& operator=(const GpuProbe&) = delete;

  // False (and nothing set) when NVML refuses the query.
  bool Read(Reading* out) const;
  const std::string& device() const { return device_; }

 private:
  GpuProbe() = default;
  struct Api;
  void* lib_ = nullptr;
  std::unique_ptr<Api> api_;
  void* handle_ = nullptr;  // nvmlDevice_t
  std::string device_;      // how it was found: "nvml index 2" or a UUID
};

}  // namespace vigil::monitor
