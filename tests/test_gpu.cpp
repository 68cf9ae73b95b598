// GPU-side tests. This build has no CUDA backend yet (the fused kernels are the next issue), so
// what is tested here is the contract around it: asking for CUDA where it cannot run is a clear
// error, and `auto` falls back to the CPU.
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
