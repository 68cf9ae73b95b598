// The simulator's launch rules and device layouts (simulator build only). Each rule the CUDA
// Runtime reference states for a launch refuses a launch that breaks it with CUDA's error code:
// the dynamic shared-memory attribute plus the kernel's static shared memory within the opt-in
// maximum, registers per block, occupancy with registers and the 1 KB reserved per block, the
// cooperative grid's co-residency, cluster sizes, grids and GPCs; a library kernel missing from
// the resource table cannot be launched. Under every device layout the planner's choice runs in
// one wave and matches the CPU reference.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cuda/cuda_test_util.hpp"
#include "kernels/cuda_utils.hpp"
#include "rnnattn/cuda.hpp"
#include "rnnattn/rnnattn.hpp"
#include "rnnattn_sim/sim.hpp"
#include "sim/sim_kernels.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

namespace st = simtest;

bool mentions(const std::string& message, const char* what) {
  return message.find(what) != std::string::npos;
}

class SimLaunchRules : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::clear_sticky_error();
    RNNATTN_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking));
  }
  void TearDown() override {
    sim::set_device_layout("");
    sim::clear_sticky_error();
    (void)cudaGetLastError();
    cudaStreamDestroy(s_);
  }
  int attribute(cudaDeviceAttr a) {
    int v = 0;
    RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&v, a, 0));
    return v;
  }
  cudaStream_t s_ = nullptr;
};

// The planted bug of the first GPU run: the attribute raised to the whole opt-in for a kernel
// with static shared memory is refused, and the library's way (the opt-in less the static bytes)
// is what a launch may then use, all of it.
TEST_F(SimLaunchRules, OptInCountsTheStaticSharedMemory) {
  const void* k = st::static_array_kernel_address();
  sim::declare_kernel_resources(k, 16, 256);
  const int optin = attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin);
  EXPECT_EQ(rnnattn_sim_func_set_attribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, optin),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(
      rnnattn_sim_func_set_attribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, optin - 256),
      cudaSuccess);
  cudaFuncAttributes attr{};
  ASSERT_EQ(rnnattn_sim_func_get_attributes(&attr, k), cudaSuccess);
  EXPECT_EQ(attr.sharedSizeBytes, 256u);
  EXPECT_EQ(attr.numRegs, 16);

  const int allowed = st::allow_static_array_dynamic_shared();
  EXPECT_EQ(allowed, optin - 256);
  DeviceBuffer<float> out(64, "out");
  st::static_array(out.get(), 1, 64, static_cast<std::size_t>(allowed), s_);
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s_));
  std::vector<float> h(64);
  RNNATTN_CUDA_CHECK(cudaMemcpy(h.data(), out.get(), 64 * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < 64; ++i) EXPECT_EQ(h[i], static_cast<float>(i % 64) + 1.f) << i;
  try {
    st::static_array(out.get(), 1, 64, static_cast<std::size_t>(allowed) + 4, s_);
    ADD_FAILURE() << "a launch past the kernel's limit ran";
  } catch (const CudaError& e) {
    EXPECT_TRUE(mentions(e.what(), "cudaErrorInvalidValue")) << e.what();
  }
}

TEST_F(SimLaunchRules, RegistersLimitTheBlockAndTheSm) {
  const void* k = st::registers_kernel_address();
  DeviceBuffer<float> out(1024, "out");
  sim::declare_kernel_resources(k, 128, 0);
  // 1024 threads x 128 registers = 131,072 > a block's 65,536; 512 threads fit exactly.
  const std::string refused = st::registers_launch(out.get(), 1, 1024, false, 0, s_);
  EXPECT_TRUE(mentions(refused, "cudaErrorLaunchOutOfResources")) << refused;
  EXPECT_EQ(st::registers_launch(out.get(), 1, 512, false, 0, s_), "");
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s_));
  int blocks = 0;
  ASSERT_EQ(rnnattn_sim_occupancy(&blocks, k, 256, 0), cudaSuccess);
  EXPECT_EQ(blocks, 2);  // 16 warps of 4,096 registers an SM
  sim::declare_kernel_resources(k, 64, 0);
  ASSERT_EQ(rnnattn_sim_occupancy(&blocks, k, 256, 0), cudaSuccess);
  EXPECT_EQ(blocks, 4);
  sim::declare_kernel_resources(k, 255, 0);  // rounded up to 8,192 a warp
  ASSERT_EQ(rnnattn_sim_occupancy(&blocks, k, 256, 0), cudaSuccess);
  EXPECT_EQ(blocks, 1);
  sim::declare_kernel_resources(k, 32, 0);
  ASSERT_EQ(rnnattn_sim_occupancy(&blocks, k, 256, 0), cudaSuccess);
  EXPECT_EQ(blocks, 8);  // the threads' limit: 2,048 an SM
}

TEST_F(SimLaunchRules, OccupancyCountsTheReservedSharedMemory) {
  const void* k = st::registers_kernel_address();
  sim::declare_kernel_resources(k, 32, 0);
  const int per_sm = attribute(cudaDevAttrMaxSharedMemoryPerMultiprocessor);
  const int reserved = attribute(cudaDevAttrReservedSharedMemoryPerBlock);
  EXPECT_EQ(reserved, 1024);
  const std::size_t half = static_cast<std::size_t>(per_sm / 2 - reserved);
  int blocks = 0;
  ASSERT_EQ(rnnattn_sim_occupancy(&blocks, k, 256, half), cudaSuccess);
  EXPECT_EQ(blocks, 2);
  ASSERT_EQ(rnnattn_sim_occupancy(&blocks, k, 256, half + 16), cudaSuccess);
  EXPECT_EQ(blocks, 1) << "the reserve counts for each block";
}

TEST_F(SimLaunchRules, CooperativeGridsMustBeResidentWithTheirRegisters) {
  const void* k = st::registers_kernel_address();
  for (const char* layout : {"h100-sxm", "h100-pcie"}) {
    SCOPED_TRACE(layout);
    ASSERT_TRUE(sim::set_device_layout(layout));
    const int sms = attribute(cudaDevAttrMultiProcessorCount);
    EXPECT_EQ(sms, std::string(layout) == "h100-pcie" ? 114 : 132);
    DeviceBuffer<float> out(static_cast<std::size_t>(sms + 1) * 256, "out");
    sim::declare_kernel_resources(k, 255, 0);  // one block of 256 threads an SM
    EXPECT_EQ(st::registers_launch(out.get(), sms, 256, true, 0, s_), "");
    const std::string refused = st::registers_launch(out.get(), sms + 1, 256, true, 0, s_);
    EXPECT_TRUE(mentions(refused, "cudaErrorCooperativeLaunchTooLarge")) << refused;
    sim::declare_kernel_resources(k, 32, 0);  // eight an SM: the same grid is co-resident
    EXPECT_EQ(st::registers_launch(out.get(), sms + 1, 256, true, 0, s_), "");
    RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s_));
  }
}

TEST_F(SimLaunchRules, ClustersFollowTheRulesAndTheGpcs) {
  ASSERT_TRUE(sim::set_device_layout("h100-sxm"));
  const void* k = st::registers_kernel_address();
  sim::declare_kernel_resources(k, 32, 0);
  DeviceBuffer<float> out(64 * 32, "out");
  EXPECT_EQ(st::registers_launch(out.get(), 16, 32, false, 8, s_), "");
  std::string e = st::registers_launch(out.get(), 18, 32, false, 9, s_);
  EXPECT_TRUE(mentions(e, "cudaErrorInvalidClusterSize")) << e;  // above the portable 8
  e = st::registers_launch(out.get(), 12, 32, false, 8, s_);
  EXPECT_TRUE(mentions(e, "cudaErrorInvalidClusterSize")) << e;  // the grid is no multiple
  ASSERT_EQ(rnnattn_sim_func_set_attribute(k, cudaFuncAttributeNonPortableClusterSizeAllowed, 1),
            cudaSuccess);
  EXPECT_EQ(st::registers_launch(out.get(), 32, 32, false, 16, s_), "");
  e = st::registers_launch(out.get(), 34, 32, false, 17, s_);
  EXPECT_TRUE(mentions(e, "cudaErrorInvalidClusterSize")) << e;
  ASSERT_EQ(rnnattn_sim_func_set_attribute(k, cudaFuncAttributeNonPortableClusterSizeAllowed, 0),
            cudaSuccess);
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s_));

  // Eight-block clusters of one block an SM (more than half an SM's shared memory each) that each
  // layout's GPCs hold, and four-block ones.
  const std::size_t one_block = 120 * 1024;
  struct Want {
    const char* layout;
    int eight, four;
  };
  for (const Want& w : {Want{"h100-sxm", 15, 31}, Want{"h100-sxm-14", 14, 30}, Want{"h200", 16, 32},
                        Want{"h100-pcie", 12, 27}, Want{"no-clusters", 0, 0}}) {
    SCOPED_TRACE(w.layout);
    ASSERT_TRUE(sim::set_device_layout(w.layout));
    EXPECT_EQ(sim::max_active_clusters(k, 8, 256, one_block), w.eight);
    EXPECT_EQ(sim::max_active_clusters(k, 4, 256, one_block), w.four);
    EXPECT_EQ(attribute(cudaDevAttrClusterLaunch), w.eight > 0 ? 1 : 0);
  }
  e = st::registers_launch(out.get(), 16, 32, false, 8, s_);
  EXPECT_TRUE(mentions(e, "cudaErrorNotSupported")) << e;  // no-clusters: no cluster launch
}

TEST_F(SimLaunchRules, LibraryKernelsMissingFromTheTableAreRefused) {
  static const auto stand_in = +[] {};
  sim::register_kernel(reinterpret_cast<const void*>(stand_in),
                       "rnnattn::kernels::(anonymous namespace)::not_in_the_table(int)");
  const cudaError_t e = sim::launch({"not_in_the_table", reinterpret_cast<const void*>(stand_in),
                                     dim3(1), dim3(32), 0, s_, false, 0},
                                    [] {});
  EXPECT_EQ(e, cudaErrorInvalidDeviceFunction);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDeviceFunction);
}

// ---- device layouts
// ------------------------------------------------------------------------------

// The planner's choice under each layout, for shapes where it picks the cluster design (H 129 to
// 512) with more batch groups than some layouts hold clusters at once, the persistent design, and
// a bidirectional layer: every cluster and persistent launch is one wave, and the outputs match
// the CPU reference (tolerances as test_gpu_recurrence.cpp's).
class SimDeviceLayouts : public ::testing::TestWithParam<std::string> {
 protected:
  void TearDown() override {
    sim::set_launch_observer(nullptr);
    sim::set_counting(false);
    sim::set_device_layout("");
  }
};

struct LayoutCase {
  int batch, steps, hidden;
  bool bidirectional;
};

TEST_P(SimDeviceLayouts, PlannedDesignRunsInOneWaveAndMatchesTheCpu) {
  ASSERT_TRUE(sim::set_device_layout(GetParam()));
  for (const LayoutCase& c : {LayoutCase{128, 2, 256, false}, LayoutCase{40, 2, 300, true},
                              LayoutCase{2, 2, 1024, false}}) {
    SCOPED_TRACE("B = " + std::to_string(c.batch) + " H = " + std::to_string(c.hidden) +
                 (c.bidirectional ? " bidirectional" : ""));
    ModelConfig cfg;
    cfg.input_size = 2;
    cfg.hidden_size = c.hidden;
    cfg.steps = c.steps;
    cfg.bidirectional = c.bidirectional;
    cfg.head = Activation::kSigmoid;
    const auto p = init_parameters(cfg, 3);
    const auto x =
        test::random_vector<float>(static_cast<std::size_t>(c.batch) * c.steps * cfg.input_size, 4);
    const auto dy = test::random_vector<float>(static_cast<std::size_t>(c.batch), 5);
    std::vector<float> want_y(c.batch), want_g(p.size()), want_dx(x.size());
    reference_forward<float>(cfg, p.data(), x.data(), c.batch, want_y.data(), nullptr, nullptr);
    reference_backward<float>(cfg, p.data(), x.data(), c.batch, dy.data(), want_g.data(),
                              want_dx.data());

    CudaStream stream;
    const cudaStream_t s = stream.get();
    cuda::Handle h(cfg, s);
    std::vector<sim::LaunchStats> launches;
    sim::set_launch_observer([&](const sim::LaunchStats& l) { launches.push_back(l); });
    sim::set_counting(true);
    const auto dp = test::to_device(p, s), dx = test::to_device(x, s), ddy = test::to_device(dy, s);
    auto y = test::poisoned(c.batch, s), g = test::poisoned(p.size(), s);
    DeviceBuffer<unsigned char> ws(h.workspace_size(c.batch)), rs(h.reserve_size(c.batch));
    h.forward_training(dp.get(), dx.get(), c.batch, y.get(), nullptr, nullptr, rs.get(), rs.size(),
                       ws.get(), ws.size());
    h.backward(dp.get(), dx.get(), c.batch, y.get(), ddy.get(), rs.get(), rs.size(), g.get(),
               nullptr, cuda::GradMode::kOverwrite, ws.get(), ws.size());
    const auto got_y = test::to_host(y, s), got_g = test::to_host(g, s);
    sim::set_counting(false);
    sim::set_launch_observer(nullptr);

    int designed = 0;
    for (const sim::LaunchStats& l : launches) {
      if (l.kernel.rfind("cluster_", 0) != 0 && l.kernel.find("persistent_") == std::string::npos)
        continue;
      ++designed;
      EXPECT_EQ(l.waves, 1u) << l.kernel << ": grid " << l.grid.x << " x " << l.grid.y;
    }
    const cuda::Recurrence runs = h.recurrence_for(c.batch);
    if (runs != cuda::Recurrence::kSegment) {
      EXPECT_EQ(designed, 2) << "the forward's and the backward's launches";
    }
    if (GetParam() != "no-clusters" && c.hidden != 1024) {
      EXPECT_EQ(runs, cuda::Recurrence::kCluster);
    }
    float m = 0;
    for (float v : want_g) m = std::max(m, std::fabs(v));
    EXPECT_TRUE(test::all_close("y", got_y, want_y, 1e-5, 1e-5));
    EXPECT_TRUE(test::all_close("dparams", got_g, want_g, 1e-4 * (1 + m), 0.0));
  }
}

INSTANTIATE_TEST_SUITE_P(Sim, SimDeviceLayouts, ::testing::ValuesIn(sim::device_layouts()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace rnnattn
