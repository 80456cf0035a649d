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
    double sm_utilization = -1;  // 0..1: share of the last sample period with a kernel running
  };

  // Opens NVML ($VIGIL_NVML_LIBRARY, else libnvidia-ml.so.1) and the device
  // the engine's CUDA index names, through CUDA_VISIBLE_DEVICES (indices or
  // GPU-UUIDs). Null, with *why set, when that cannot be done.
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
