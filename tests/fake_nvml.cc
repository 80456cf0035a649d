// A stand-in for libnvidia-ml.so.1 with the entry points GpuProbe uses, so
// the dlopen path is tested on machines without NVIDIA's driver. Device i
// reports (10 * (i + 1))% utilization; index 7 exists but refuses queries.
#include <cstring>

extern "C" {

struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};
struct FakeDevice {
  unsigned int index;
};
static FakeDevice devices[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};

int nvmlInit_v2() { return 0; }
int nvmlShutdown() { return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void** device) {
  if (index >= 8) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  *device = &devices[index];
  return 0;
}
int nvmlDeviceGetHandleByUUID(const char* uuid, void** device) {
  if (std::strcmp(uuid, "GPU-fake-5") != 0) return 6;  // NVML_ERROR_NOT_FOUND
  *device = &devices[5];
  return 0;
}
int nvmlDeviceGetUtilizationRates(void* device, nvmlUtilization_t* u) {
  const FakeDevice* d = static_cast<const FakeDevice*>(device);
  if (d->index == 7) return 999;  // NVML_ERROR_UNKNOWN
  u->gpu = 10 * (d->index + 1);
  u->memory = 0;
  return 0;
}

}  // extern "C"
