// GpuProbe loads NVML with dlopen: against a stand-in library here (the real
// one needs NVIDIA's driver), and absent libraries fail cleanly.
#include "monitor/gpu_probe.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <stdlib.h>

namespace vigil::monitor {
namespace {

class GpuProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("VIGIL_NVML_LIBRARY", FAKE_NVML_PATH, 1);
    unsetenv("CUDA_VISIBLE_DEVICES");
    // The same library the probe opens (dlopen shares one copy), to steer it.
    fake_ = dlopen(FAKE_NVML_PATH, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(fake_, nullptr) << dlerror();
    reinterpret_cast<void (*)()>(dlsym(fake_, "fake_nvml_reset"))();
  }
  void TearDown() override {
    unsetenv("VIGIL_NVML_LIBRARY");
    unsetenv("CUDA_VISIBLE_DEVICES");
    if (fake_) dlclose(fake_);
  }
  void SetThrottleReasons(unsigned int device, unsigned long long reasons) {
    reinterpret_cast<void (*)(unsigned int, unsigned long long)>(dlsym(fake_, "fake_nvml_set_throttle_reasons"))(
        device, reasons);
  }
  void InjectXid(unsigned int device, unsigned long long xid) {
    reinterpret_cast<void (*)(unsigned int, unsigned long long)>(dlsym(fake_, "fake_nvml_inject_xid"))(device, xid);
  }
  int LastWaitTimeout() { return reinterpret_cast<int (*)()>(dlsym(fake_, "fake_nvml_last_wait_timeout"))(); }
  void* fake_ = nullptr;
};

constexpr double kGiB = 1024.0 * 1024 * 1024;

TEST_F(GpuProbeTest, ReadsTheEnginesDeviceThroughCudaVisibleDevices) {
  std::string why;
  auto p = GpuProbe::Open(0, &why);
  ASSERT_NE(p, nullptr) << why;
  GpuProbe::Reading r;
  ASSERT_TRUE(p->Read(&r));
  EXPECT_DOUBLE_EQ(*r.utilization, 0.10);
  // CUDA's device 1 is NVML's device 3 here.
  setenv("CUDA_VISIBLE_DEVICES", "2,3", 1);
  p = GpuProbe::Open(1, &why);
  ASSERT_NE(p, nullptr) << why;
  ASSERT_TRUE(p->Read(&r));
  EXPECT_DOUBLE_EQ(*r.utilization, 0.40);
  EXPECT_EQ(p->device(), "nvml index 3");
  setenv("CUDA_VISIBLE_DEVICES", "GPU-fake-5", 1);
  p = GpuProbe::Open(0, &why);
  ASSERT_NE(p, nullptr) << why;
  ASSERT_TRUE(p->Read(&r));
  EXPECT_DOUBLE_EQ(*r.utilization, 0.60);
  EXPECT_EQ(p->nvml_index(), 5) << "asked NVML, having opened it by UUID";
  EXPECT_EQ(p->uuid(), "GPU-fake-5");
}

TEST_F(GpuProbeTest, FailsCleanlyWithAReason) {
  std::string why;
  setenv("CUDA_VISIBLE_DEVICES", "0", 1);
  EXPECT_EQ(GpuProbe::Open(1, &why), nullptr);
  EXPECT_NE(why.find("not in CUDA_VISIBLE_DEVICES"), std::string::npos) << why;
  setenv("CUDA_VISIBLE_DEVICES", "MIG-abc", 1);
  EXPECT_EQ(GpuProbe::Open(0, &why), nullptr);
  EXPECT_NE(why.find("MIG"), std::string::npos) << why;
  unsetenv("CUDA_VISIBLE_DEVICES");
  EXPECT_EQ(GpuProbe::Open(9, &why), nullptr);
  EXPECT_NE(why.find("no device"), std::string::npos) << why;
  setenv("VIGIL_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
  EXPECT_EQ(GpuProbe::Open(0, &why), nullptr);
  EXPECT_NE(why.find("NVML not available"), std::string::npos) << why;
}

TEST_F(GpuProbeTest, AQueryNvmlRefusesReadsNothing) {
  std::string why;
  auto p = GpuProbe::Open(7, &why);
  ASSERT_NE(p, nullptr) << why;
  GpuProbe::Reading r;
  EXPECT_FALSE(p->Read(&r));
  EXPECT_FALSE(r.utilization) << "absent, never 0";
  EXPECT_FALSE(r.memory_used_bytes);
  EXPECT_FALSE(r.xid_errors_total) << "XID events refused too";
}

TEST_F(GpuProbeTest, ReadsEveryFigureInSiUnits) {
  std::string why;
  auto p = GpuProbe::Open(3, &why);
  ASSERT_NE(p, nullptr) << why;
  EXPECT_EQ(p->nvml_index(), 3);
  EXPECT_EQ(p->uuid(), "GPU-fake-3");
  GpuProbe::Reading r;
  ASSERT_TRUE(p->Read(&r));
  EXPECT_DOUBLE_EQ(*r.utilization, 0.40);
  EXPECT_DOUBLE_EQ(*r.memory_used_bytes, 4 * kGiB);
  EXPECT_DOUBLE_EQ(*r.memory_total_bytes, 64 * kGiB);
  EXPECT_DOUBLE_EQ(*r.power_watts, 130) << "NVML's milliwatts";
  EXPECT_DOUBLE_EQ(*r.temperature_celsius, 43);
  EXPECT_DOUBLE_EQ(*r.sm_clock_hz, 1300e6) << "NVML's MHz";
  EXPECT_EQ(*r.throttle_reasons, 0u);
  EXPECT_FALSE(*r.throttled);
  EXPECT_DOUBLE_EQ(*r.ecc_errors_total, 3);
  EXPECT_DOUBLE_EQ(*r.xid_errors_total, 0) << "registered for XIDs, none seen: a real 0";
}

TEST_F(GpuProbeTest, AQueryTheBoardDoesNotSupportIsAbsentNotZero) {
  std::string why;
  auto p = GpuProbe::Open(2, &why);
  ASSERT_NE(p, nullptr) << why;
  GpuProbe::Reading r;
  ASSERT_TRUE(p->Read(&r));
  EXPECT_FALSE(r.power_watts);
  EXPECT_FALSE(r.ecc_errors_total);
  EXPECT_DOUBLE_EQ(*r.temperature_celsius, 42) << "the rest is still read";
  EXPECT_DOUBLE_EQ(*r.utilization, 0.30);
}

// Only heat and power count as throttled: an idle GPU drops its clocks too,
// and application clocks or sync boost are an operator's settings.
TEST_F(GpuProbeTest, ThrottledMeansHeatOrPowerNotIdle) {
  std::string why;
  auto p = GpuProbe::Open(0, &why);
  ASSERT_NE(p, nullptr) << why;
  GpuProbe::Reading r;
  for (unsigned long long benign : {0x1ull, 0x2ull, 0x10ull, 0x100ull, 0x1ull | 0x2ull | 0x10ull}) {
    SetThrottleReasons(0, benign);
    ASSERT_TRUE(p->Read(&r));
    EXPECT_EQ(*r.throttle_reasons, benign);
    EXPECT_FALSE(*r.throttled) << std::hex << benign;
  }
  for (unsigned long long harmful : {0x4ull, 0x8ull, 0x20ull, 0x40ull, 0x80ull, 0x1ull | 0x40ull}) {
    SetThrottleReasons(0, harmful);
    ASSERT_TRUE(p->Read(&r));
    EXPECT_EQ(*r.throttle_reasons, harmful);
    EXPECT_TRUE(*r.throttled) << std::hex << harmful;
  }
}

TEST_F(GpuProbeTest, XidEventsAccumulateWithoutWaiting) {
  std::string why;
  auto p = GpuProbe::Open(1, &why);
  ASSERT_NE(p, nullptr) << why;
  GpuProbe::Reading r;
  ASSERT_TRUE(p->Read(&r));
  EXPECT_DOUBLE_EQ(*r.xid_errors_total, 0);
  EXPECT_EQ(LastWaitTimeout(), 0) << "the monitor thread must never block on NVML's events";
  InjectXid(1, 79);
  InjectXid(1, 48);
  InjectXid(4, 13);  // another GPU's: not ours
  ASSERT_TRUE(p->Read(&r));
  EXPECT_DOUBLE_EQ(*r.xid_errors_total, 2);
  ASSERT_TRUE(p->Read(&r));
  EXPECT_DOUBLE_EQ(*r.xid_errors_total, 2) << "a running total";
  InjectXid(1, 94);
  ASSERT_TRUE(p->Read(&r));
  EXPECT_DOUBLE_EQ(*r.xid_errors_total, 3);
}

// An older or partial NVML: the entry points it lacks leave their fields
// absent; the probe still opens and reads what there is.
TEST_F(GpuProbeTest, MissingEntryPointsLeaveTheirFieldsAbsent) {
  setenv("VIGIL_NVML_LIBRARY", FAKE_NVML_MINIMAL_PATH, 1);
  std::string why;
  auto p = GpuProbe::Open(0, &why);
  ASSERT_NE(p, nullptr) << why;
  EXPECT_EQ(p->uuid(), "");
  GpuProbe::Reading r;
  ASSERT_TRUE(p->Read(&r));
  EXPECT_DOUBLE_EQ(*r.utilization, 0.10);
  EXPECT_FALSE(r.memory_used_bytes);
  EXPECT_FALSE(r.power_watts);
  EXPECT_FALSE(r.temperature_celsius);
  EXPECT_FALSE(r.sm_clock_hz);
  EXPECT_FALSE(r.throttle_reasons);
  EXPECT_FALSE(r.throttled);
  EXPECT_FALSE(r.ecc_errors_total);
  EXPECT_FALSE(r.xid_errors_total);
}

}  // namespace
}  // namespace vigil::monitor
