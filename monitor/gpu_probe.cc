#include "monitor/gpu_probe.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <vector>

namespace vigil::monitor {

namespace {

// The NVML entry points used, with NVML's C signatures (nvml.h): every call
// returns nvmlReturn_t, 0 being NVML_SUCCESS; enums are passed as int.
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
struct NvmlMemory {  // nvmlMemory_t
  unsigned long long total, free, used;
};
struct NvmlEventData {  // nvmlEventData_t (the _v2 wait's; the v1 wait fills a prefix)
  void* device;
  unsigned long long eventType;
  unsigned long long eventData;  // the XID for nvmlEventTypeXidCriticalError
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
constexpr int kTemperatureGpu = 0;                     // NVML_TEMPERATURE_GPU
constexpr int kClockSm = 1;                            // NVML_CLOCK_SM
constexpr int kMemoryErrorUncorrected = 1;             // NVML_MEMORY_ERROR_TYPE_UNCORRECTED
constexpr int kVolatileEcc = 0;                        // NVML_VOLATILE_ECC: since the driver loaded
constexpr unsigned long long kEventXidCritical = 0x8;  // nvmlEventTypeXidCriticalError
constexpr int kMaxEventsPerRead = 256;                 // bounds a Read during an event storm

using InitFn = int (*)();
using ShutdownFn = int (*)();
using ByIndexFn = int (*)(unsigned int, void**);
using ByUuidFn = int (*)(const char*, void**);
using UtilFn = int (*)(void*, NvmlUtilization*);
using MemoryFn = int (*)(void*, NvmlMemory*);
using UintFn = int (*)(void*, unsigned int*);         // power (mW), index
using SensorFn = int (*)(void*, int, unsigned int*);  // temperature, clock
using ReasonsFn = int (*)(void*, unsigned long long*);
using EccFn = int (*)(void*, int, int, unsigned long long*);
using UuidFn = int (*)(void*, char*, unsigned int);
using EventSetCreateFn = int (*)(void**);
using EventSetFreeFn = int (*)(void*);
using RegisterEventsFn = int (*)(void*, unsigned long long, void*);
using EventSetWaitFn = int (*)(void*, NvmlEventData*, unsigned int);

template <typename F>
F Sym(void* lib, const char* name) {
  return reinterpret_cast<F>(dlsym(lib, name));
}

}  // namespace

struct GpuProbe::Api {
  InitFn init = nullptr;
  ShutdownFn shutdown = nullptr;
  ByIndexFn by_index = nullptr;
  ByUuidFn by_uuid = nullptr;
  // Optional: a missing one leaves its field absent.
  UtilFn utilization = nullptr;
  MemoryFn memory = nullptr;
  UintFn power = nullptr;
  SensorFn temperature = nullptr;
  SensorFn clock = nullptr;
  ReasonsFn throttle = nullptr;
  EccFn ecc = nullptr;
  UintFn index = nullptr;
  UuidFn uuid = nullptr;
  EventSetCreateFn event_create = nullptr;
  EventSetFreeFn event_free = nullptr;
  RegisterEventsFn register_events = nullptr;
  EventSetWaitFn event_wait = nullptr;
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
  a.init = Sym<InitFn>(lib, "nvmlInit_v2");
  a.shutdown = Sym<ShutdownFn>(lib, "nvmlShutdown");
  a.by_index = Sym<ByIndexFn>(lib, "nvmlDeviceGetHandleByIndex_v2");
  a.by_uuid = Sym<ByUuidFn>(lib, "nvmlDeviceGetHandleByUUID");
  a.utilization = Sym<UtilFn>(lib, "nvmlDeviceGetUtilizationRates");
  a.memory = Sym<MemoryFn>(lib, "nvmlDeviceGetMemoryInfo");
  a.power = Sym<UintFn>(lib, "nvmlDeviceGetPowerUsage");
  a.temperature = Sym<SensorFn>(lib, "nvmlDeviceGetTemperature");
  a.clock = Sym<SensorFn>(lib, "nvmlDeviceGetClockInfo");
  // Renamed "ClocksEventReasons" in newer drivers, which keep the old name too.
  a.throttle = Sym<ReasonsFn>(lib, "nvmlDeviceGetCurrentClocksThrottleReasons");
  if (!a.throttle) a.throttle = Sym<ReasonsFn>(lib, "nvmlDeviceGetCurrentClocksEventReasons");
  a.ecc = Sym<EccFn>(lib, "nvmlDeviceGetTotalEccErrors");
  a.index = Sym<UintFn>(lib, "nvmlDeviceGetIndex");
  a.uuid = Sym<UuidFn>(lib, "nvmlDeviceGetUUID");
  a.event_create = Sym<EventSetCreateFn>(lib, "nvmlEventSetCreate");
  a.event_free = Sym<EventSetFreeFn>(lib, "nvmlEventSetFree");
  a.register_events = Sym<RegisterEventsFn>(lib, "nvmlDeviceRegisterEvents");
  a.event_wait = Sym<EventSetWaitFn>(lib, "nvmlEventSetWait_v2");
  if (!a.event_wait) a.event_wait = Sym<EventSetWaitFn>(lib, "nvmlEventSetWait");
  if (!a.init || !a.shutdown || !a.by_index || !a.by_uuid) {
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
    p->nvml_index_ = static_cast<int>(idx);
  }
  if (rc != 0) {
    *why = "NVML has no device for " + p->device_ + " (NVML error " + std::to_string(rc) + ")";
    return nullptr;
  }
  if (unsigned int i = 0; p->nvml_index_ < 0 && a.index && a.index(p->handle_, &i) == 0) p->nvml_index_ = int(i);
  char uuid[96] = {};  // NVML_DEVICE_UUID_V2_BUFFER_SIZE
  if (a.uuid && a.uuid(p->handle_, uuid, sizeof uuid) == 0) p->uuid_.assign(uuid, strnlen(uuid, sizeof uuid));
  p->OpenEvents();
  return p;
}

// XID errors arrive as events, not as a counter: register for them once and
// count what each Read drains. Refused (old driver, no permission): absent.
void GpuProbe::OpenEvents() {
  const Api& a = *api_;
  if (!a.event_create || !a.event_free || !a.register_events || !a.event_wait) return;
  void* set = nullptr;
  if (a.event_create(&set) != 0) return;
  if (int rc = a.register_events(handle_, kEventXidCritical, set); rc != 0) {
    spdlog::info("monitor: NVML refuses XID events on {} (NVML error {}); gpu_xid_errors_total is absent", device_, rc);
    a.event_free(set);
    return;
  }
  events_ = set;
}

GpuProbe::~GpuProbe() {
  if (!lib_) return;
  if (events_) api_->event_free(events_);
  api_->shutdown();
  dlclose(lib_);
}

bool GpuProbe::Read(Reading* out) {
  const Api& a = *api_;
  Reading r;
  if (NvmlUtilization u{}; a.utilization && a.utilization(handle_, &u) == 0) r.utilization = u.gpu / 100.0;
  if (NvmlMemory m{}; a.memory && a.memory(handle_, &m) == 0) {
    r.memory_used_bytes = double(m.used);
    r.memory_total_bytes = double(m.total);
  }
  if (unsigned int mw = 0; a.power && a.power(handle_, &mw) == 0) r.power_watts = mw / 1000.0;
  if (unsigned int c = 0; a.temperature && a.temperature(handle_, kTemperatureGpu, &c) == 0) r.temperature_celsius = c;
  if (unsigned int mhz = 0; a.clock && a.clock(handle_, kClockSm, &mhz) == 0) r.sm_clock_hz = mhz * 1e6;
  if (unsigned long long bits = 0; a.throttle && a.throttle(handle_, &bits) == 0) {
    r.throttle_reasons = bits;
    r.throttled = (bits & kHarmfulThrottleReasons) != 0;
  }
  if (unsigned long long n = 0; a.ecc && a.ecc(handle_, kMemoryErrorUncorrected, kVolatileEcc, &n) == 0)
    r.ecc_errors_total = double(n);
  if (events_) {
    // Timeout 0: take what is pending, never wait (NVML_ERROR_TIMEOUT ends it).
    for (int i = 0; i < kMaxEventsPerRead; ++i) {
      NvmlEventData e{};
      if (a.event_wait(events_, &e, 0) != 0) break;
      if (!(e.eventType & kEventXidCritical)) continue;
      xid_total_ += 1;
      spdlog::warn("monitor: GPU {} reported XID {}", device_, e.eventData);
    }
    r.xid_errors_total = xid_total_;
  }
  const bool any = r.utilization || r.memory_used_bytes || r.power_watts || r.temperature_celsius || r.sm_clock_hz ||
                   r.throttle_reasons || r.ecc_errors_total || r.xid_errors_total;
  if (any) *out = r;
  return any;
}

}  // namespace vigil::monitor
