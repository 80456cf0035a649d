// GpuProbe loads NVML with dlopen: against a stand-in library here (the real
// one needs NVIDIA's driver), and absent libraries fail cleanly.
#include "monitor/gpu_probe.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace vigil::monitor {
namespace {

class GpuProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("VIGIL_NVML_LIBRARY", FAKE_NVML_PATH, 1);
    unsetenv("CUDA_VISIBLE_DEVICES");
  }
  void TearDown() override {
    unsetenv("VIGIL_NVML_LIBRARY");
    unsetenv("CUDA_VISIBLE_DEVICES");
  }
};

TEST_F(GpuProbeTest, ReadsTheEnginesDeviceThroughCudaVisibleDevices) {
  std::string why;
  auto p = GpuProbe::Open(0, &why);
  ASSERT_NE(p, nullptr) << why;
  GpuProbe::Reading r;
  ASSERT_TRUE(p->Read(&r));
  EXPECT_DOUBLE_EQ(r.utilization, 0.10);
  // CUDA's device 1 is NVML's device 3 here.
  setenv("CUDA_VISIBLE_DEVICES", "2,3", 1);
  p = GpuProbe::Open(1, &why);
  ASSERT_NE(p, nullptr) << why;
  ASSERT_TRUE(p->Read(&r));
  EXPECT_DOUBLE_EQ(r.utilization, 0.40);
  EXPECT_EQ(p->device(), "nvml index 3");
  setenv("CUDA_VISIBLE_DEVICES", "GPU-fake-5", 1);
  p = GpuProbe::Open(0, &why);
  ASSERT_NE(p, nullptr) << why;
  ASSERT_TRUE(p->Read(&r));
  EXPECT_DOUBLE_EQ(r.utilization, 0.60);
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
  EXPECT_LT(r.utilization, 0) << "absent, never 0";
}

}  // namespace
}  // namespace vigil::monitor
