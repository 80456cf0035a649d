// A stand-in for libnvidia-ml.so.1 with the entry points GpuProbe uses, so
// the dlopen path is tested on machines without NVIDIA's driver. Device i
// (0..7) reports (10 * (i + 1))% utilization, (i + 1) GiB used of
// (i + 1) * 16 GiB, (100 + 10 i) W, (40 + i) C, (1000 + 100 i) MHz SM clock,
// i uncorrected ECC errors and no throttle reason. Device 2 refuses power
// and ECC (NOT_SUPPORTED, as boards without a power sensor or ECC do);
// device 7 exists but refuses every query and XID events.
// Tests steer it through the fake_nvml_* functions (dlsym them).
// Built a second time with FAKE_NVML_MINIMAL: only the original entry points
// (handles and utilization), as an old or partial library.
#include <cstdio>
#include <cstring>
#include <deque>
#include <utility>

namespace {

constexpr int kSuccess = 0;
constexpr int kInvalidArgument = 2;  // NVML_ERROR_INVALID_ARGUMENT
constexpr int kNotSupported = 3;     // NVML_ERROR_NOT_SUPPORTED
constexpr int kNotFound = 6;         // NVML_ERROR_NOT_FOUND
constexpr int kTimeout = 10;         // NVML_ERROR_TIMEOUT
constexpr int kUnknown = 999;        // NVML_ERROR_UNKNOWN
constexpr int kDevices = 8;
constexpr unsigned long long kGiB = 1ull << 30;

struct FakeDevice {
  unsigned int index;
};
FakeDevice devices[kDevices] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};
#ifndef FAKE_NVML_MINIMAL
unsigned long long throttle_reasons[kDevices] = {};
std::deque<std::pair<unsigned int, unsigned long long>> pending_xids;  // (device, xid)
int last_wait_timeout = -1;
#endif

unsigned int IndexOf(void* device) { return static_cast<const FakeDevice*>(device)->index; }

}  // namespace

extern "C" {

struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
struct nvmlMemory_t {
  unsigned long long total, free, used;
};
struct nvmlEventData_t {
  void* device;
  unsigned long long eventType;
  unsigned long long eventData;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
struct FakeEventSet {
  bool registered[kDevices];
};

int nvmlInit_v2() { return kSuccess; }
int nvmlShutdown() { return kSuccess; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void** device) {
  if (index >= kDevices) return kInvalidArgument;
  *device = &devices[index];
  return kSuccess;
}
int nvmlDeviceGetHandleByUUID(const char* uuid, void** device) {
  if (std::strcmp(uuid, "GPU-fake-5") != 0) return kNotFound;
  *device = &devices[5];
  return kSuccess;
}
int nvmlDeviceGetUtilizationRates(void* device, nvmlUtilization_t* u) {
  const unsigned int i = IndexOf(device);
  if (i == 7) return kUnknown;
  u->gpu = 10 * (i + 1);
  u->memory = 0;
  return kSuccess;
}

#ifndef FAKE_NVML_MINIMAL
int nvmlDeviceGetIndex(void* device, unsigned int* index) {
  *index = IndexOf(device);
  return kSuccess;
}
int nvmlDeviceGetUUID(void* device, char* uuid, unsigned int length) {
  std::snprintf(uuid, length, "GPU-fake-%u", IndexOf(device));
  return kSuccess;
}
int nvmlDeviceGetMemoryInfo(void* device, nvmlMemory_t* m) {
  const unsigned int i = IndexOf(device);
  if (i == 7) return kUnknown;
  m->total = (i + 1) * 16 * kGiB;
  m->used = (i + 1) * kGiB;
  m->free = m->total - m->used;
  return kSuccess;
}
int nvmlDeviceGetPowerUsage(void* device, unsigned int* milliwatts) {
  const unsigned int i = IndexOf(device);
  if (i == 7) return kUnknown;
  if (i == 2) return kNotSupported;
  *milliwatts = (100 + 10 * i) * 1000;
  return kSuccess;
}
int nvmlDeviceGetTemperature(void* device, int sensor, unsigned int* celsius) {
  const unsigned int i = IndexOf(device);
  if (i == 7) return kUnknown;
  if (sensor != 0) return kInvalidArgument;  // NVML_TEMPERATURE_GPU only
  *celsius = 40 + i;
  return kSuccess;
}
int nvmlDeviceGetClockInfo(void* device, int type, unsigned int* mhz) {
  const unsigned int i = IndexOf(device);
  if (i == 7) return kUnknown;
  if (type != 1) return kInvalidArgument;  // NVML_CLOCK_SM only
  *mhz = 1000 + 100 * i;
  return kSuccess;
}
int nvmlDeviceGetCurrentClocksThrottleReasons(void* device, unsigned long long* reasons) {
  const unsigned int i = IndexOf(device);
  if (i == 7) return kUnknown;
  *reasons = throttle_reasons[i];
  return kSuccess;
}
int nvmlDeviceGetTotalEccErrors(void* device, int error_type, int counter_type, unsigned long long* count) {
  const unsigned int i = IndexOf(device);
  if (i == 7) return kUnknown;
  if (i == 2) return kNotSupported;
  if (error_type != 1 || counter_type != 0) return kInvalidArgument;  // uncorrected, volatile only
  *count = i;
  return kSuccess;
}
int nvmlEventSetCreate(void** set) {
  *set = new FakeEventSet{};
  return kSuccess;
}
int nvmlEventSetFree(void* set) {
  delete static_cast<FakeEventSet*>(set);
  return kSuccess;
}
int nvmlDeviceRegisterEvents(void* device, unsigned long long types, void* set) {
  const unsigned int i = IndexOf(device);
  if (i == 7) return kNotSupported;
  if (types != 0x8) return kNotSupported;  // nvmlEventTypeXidCriticalError only
  static_cast<FakeEventSet*>(set)->registered[i] = true;
  return kSuccess;
}
int nvmlEventSetWait_v2(void* set, nvmlEventData_t* data, unsigned int timeout_ms) {
  last_wait_timeout = static_cast<int>(timeout_ms);
  const auto* s = static_cast<const FakeEventSet*>(set);
  for (auto it = pending_xids.begin(); it != pending_xids.end(); ++it) {
    if (!s->registered[it->first]) continue;
    *data = nvmlEventData_t{&devices[it->first], 0x8, it->second, 0xFFFFFFFFu, 0xFFFFFFFFu};
    pending_xids.erase(it);
    return kSuccess;
  }
  return kTimeout;
}

// The test's controls.
void fake_nvml_reset() {
  for (auto& r : throttle_reasons) r = 0;
  pending_xids.clear();
  last_wait_timeout = -1;
}
void fake_nvml_set_throttle_reasons(unsigned int device, unsigned long long reasons) {
  throttle_reasons[device] = reasons;
}
void fake_nvml_inject_xid(unsigned int device, unsigned long long xid) { pending_xids.emplace_back(device, xid); }
int fake_nvml_last_wait_timeout() { return last_wait_timeout; }
#endif  // FAKE_NVML_MINIMAL

}  // extern "C"
