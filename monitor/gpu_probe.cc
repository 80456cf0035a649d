#include "monitor/gpu_probe.h"

#include <dlfcn.h>

#include <cstdlib>
#include <sstream>
#include <vector>

namespace vigil::monitor {

namespace {

// The few NVML entry points used, with NVML's C signatures (nvml.h):
// every call returns nvmlReturn_t, 0 being NVML_SUCCESS.
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
using InitFn = int (*)();
using ShutdownFn = int (*)();
using ByIndexFn = int (*)(unsigned int, void**);
using ByUuidFn = int (*)(const char*, void**);
using UtilFn = int (*)(void*, NvmlUtilization*);

}  // namespace

struct GpuProbe::Api {
  InitFn init = nullptr;
  ShutdownFn shutdown = nullptr;
  ByIndexFn by_index = nullptr;
  ByUuidFn by_uuid = nullptr;
  UtilFn utilization = nullptr;
};

std::unique_ptr<GpuProbe> GpuProbe::Open(int cuda_device, std::string* why) {
  const char* env = std::getenv("VIGIL_NVML_LIBRARY");
  const std::string path = env && *env ? env : "libnvidia-ml.so.1";
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    *why = "NVML not available (" + path + ": " + (e ? e : "cannot load") + ")";
    return nullptr;
  }
  std::unique_ptr<GpuProbe> p(new GpuProbe());
  p->lib_ = lib;
  p->api_ = std::make_unique<Api>();
  Api& a = *p->api_;
  a.init = reinterpret_cast<InitFn>(dlsym(lib, "nvmlInit_v2"));
  a.shutdown = reinterpret_cast<ShutdownFn>(dlsym(lib, "nvmlShutdown"));
  a.by_index = reinterpret_cast<ByIndexFn>(dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"));
  a.by_uuid = reinterpret_cast<ByUuidFn>(dlsym(lib, "nvmlDeviceGetHandleByUUID"));
  a.utilization = reinterpret_cast<UtilFn>(dlsym(lib, "nvmlDeviceGetUtilizationRates"));
  if (!a.init || !a.shutdown || !a.by_index || !a.by_uuid || !a.utilization) {
    *why = path + ": not an NVML library (missing entry points)";
    dlclose(lib);
    p->lib_ = nullptr;
    return nullptr;
  }
  if (int rc = a.init(); rc != 0) {
    *why = "nvmlInit failed (NVML error " + std::to_string(rc) + ")";
    dlclose(lib);
    p->lib_ = nullptr;
    return nullptr;
  }
  // CUDA numbers the visible devices; NVML numbers them all.
  std::string target = std::to_string(cuda_device);
  if (const char* vis = std::getenv("CUDA_VISIBLE_DEVICES"); vis && *vis) {
    std::vector<std::string> items;
    std::stringstream ss(vis);
    for (std::string it; std::getline(ss, it, ',');) items.push_back(it);
    if (cuda_device < 0 || cuda_device >= static_cast<int>(items.size())) {
      *why = "CUDA device " + std::to_string(cuda_device) + " is not in CUDA_VISIBLE_DEVICES=" + vis;
      return nullptr;  // the destructor shuts NVML down
    }
    target = items[cuda_device];
  }
  int rc;
  if (target.rfind("GPU-", 0) == 0) {
    rc = a.by_uuid(target.c_str(), &p->handle_);
    p->device_ = target;
  } else {
    char* end = nullptr;
    const long idx = std::strtol(target.c_str(), &end, 10);
    if (end == target.c_str() || *end != '\0' || idx < 0) {
      *why = "cannot map CUDA device \"" + target + "\" to an NVML device (MIG instances are not read)";
      return nullptr;
    }
    rc = a.by_index(static_cast<unsigned int>(idx), &p->handle_);
    p->device_ = "nvml index " + std::to_string(idx);
  }
  if (rc != 0) {
    *why = "NVML has no device for " + p->device_ + " (NVML error " + std::to_string(rc) + ")";
    return nullptr;
  }
  return p;
}

GpuProbe::~GpuProbe() {
  if (!lib_) return;
  api_->shutdown();
  dlclose(lib_);
}

bool GpuProbe::Read(Reading* out) const {
  NvmlUtilization u{};
  if (api_->utilization(handle_, &u) != 0) return false;
  out->utilization = u.gpu / 100.0;
  return true;
}

}  // namespace vigil::monitor
