// The contract around the CUDA backend, in every build: asking for CUDA where it cannot run (no
// GPU, or a CPU-only build) is a clear error, and `auto` falls back to the CPU.
#include <gtest/gtest.h>

#include "rnnattn/backend.hpp"
#include "rnnattn/error.hpp"

namespace rnnattn {
namespace {

TEST(Device, CudaIsRefusedWithAReasonWhenUnavailable) {
  if (cuda_backend_available()) GTEST_SKIP() << "a CUDA backend and a GPU are present";
  try {
    make_backend(Device::kCuda);
    FAIL() << "make_backend(kCuda) succeeded without a CUDA backend";
  } catch (const Unavailable& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("device cuda"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--device cpu"), std::string::npos) << msg;
  }
  EXPECT_EQ(make_backend(Device::kAuto)->name(), "cpu");
}

// A CPU-only build (RNNATTN_CUDA=OFF or no CUDA compiler): both CUDA devices say that the build
// has no CUDA (not that the machine has no GPU), and auto is the CPU.
TEST(Device, CpuOnlyBuildSaysItHasNoCuda) {
  if (built_with_cuda()) GTEST_SKIP() << "this build has the CUDA backend";
  EXPECT_EQ(cuda_device_count(), 0);
  EXPECT_FALSE(cuda_backend_available());
  for (Device d : {Device::kCuda, Device::kCudaUnfused}) {
    try {
      make_backend(d);
      ADD_FAILURE() << to_string(d) << " accepted in a build without CUDA";
    } catch (const Unavailable& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("this build of rnnattn has no CUDA"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::string("device ") + to_string(d)), std::string::npos) << msg;
    }
  }
  EXPECT_EQ(make_backend(Device::kAuto)->name(), "cpu");
}

TEST(Device, CountIsSafeWithoutADriver) {
  const int n = cuda_device_count();
  EXPECT_GE(n, 0);
  if (n == 0) GTEST_SKIP() << "no CUDA GPU on this machine: GPU tests skipped";
}

TEST(Device, ParsesNames) {
  EXPECT_EQ(parse_device("cpu"), Device::kCpu);
  EXPECT_EQ(parse_device("auto"), Device::kAuto);
  EXPECT_THROW(parse_device("tpu"), InvalidArgument);
}

}  // namespace
}  // namespace rnnattn
