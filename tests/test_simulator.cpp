// The GPU simulator's own tests (simulator build only): each planted bug (a removed
// __syncthreads, a swapped index, a read one past the end, an early return before a barrier,
// divergent barriers, shuffles naming lanes that do not take part, reads of never-written memory,
// forgotten stream ordering, allocation inside a graph capture) is caught with a message naming
// kernel, block, thread and address, and its correct twin runs clean; the counters match access
// patterns worked out by hand; the counters file gets one line per launch.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "backend_cuda.hpp"
#include "cuda_utils.hpp"
#include "rnnattn/cuda.hpp"
#include "rnnattn/rnnattn.hpp"
#include "rnnattn_sim/sim.hpp"
#include "sim_kernels.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

namespace st = simtest;

class Simulator : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::clear_sticky_error();
    RNNATTN_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking));
  }
  void TearDown() override {
    sim::clear_sticky_error();
    cudaStreamDestroy(s_);
  }
  DeviceBuffer<float> upload(const std::vector<float>& h) {
    DeviceBuffer<float> d(h.size(), "test input");
    RNNATTN_CUDA_CHECK(
        cudaMemcpyAsync(d.get(), h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice, s_));
    return d;
  }
  std::vector<float> download(const DeviceBuffer<float>& d) {
    std::vector<float> h(d.size());
    RNNATTN_CUDA_CHECK(
        cudaMemcpyAsync(h.data(), d.get(), d.size() * sizeof(float), cudaMemcpyDeviceToHost, s_));
    return h;
  }
  // Runs `work`, expects the stream to fail with a violation whose message holds every fragment,
  // and clears the (sticky) error. Prints the message: it is the evidence.
  void expect_caught(const std::function<void()>& work, const std::vector<std::string>& fragments) {
    try {
      work();
      const cudaError_t e = cudaStreamSynchronize(s_);
      EXPECT_NE(e, cudaSuccess) << "the planted bug was not caught";
    } catch (const CudaError&) {
    }
    const std::string msg = sim::last_violation();
    std::cout << "caught: " << msg << '\n';
    for (const std::string& f : fragments) {
      EXPECT_NE(msg.find(f), std::string::npos) << "message lacks '" << f << "': " << msg;
    }
    sim::clear_sticky_error();
  }
  cudaStream_t s_ = nullptr;
};

TEST_F(Simulator, RemovedSyncthreadsIsARace) {
  const auto in = test::random_vector<float>(2 * 64, 1);
  const auto din = upload(in);
  DeviceBuffer<float> out(2 * 64);
  expect_caught([&] { st::exchange(din.get(), out.get(), 2, 64, false, s_); },
                {"kernel exchange_kernel", "block (0,0,0) thread (", "shared-memory race",
                 "with no __syncthreads"});
  st::exchange(din.get(), out.get(), 2, 64, true, s_);
  const auto got = download(out);
  for (int b = 0; b < 2; ++b) {
    for (int t = 0; t < 64; ++t) EXPECT_EQ(got[b * 64 + t], in[b * 64 + (t + 1) % 64]);
  }
}

TEST_F(Simulator, SwappedIndexIsCaughtOutOfBounds) {
  const auto in = test::random_vector<float>(3 * 64, 2);
  const auto din = upload(in);
  DeviceBuffer<float> out(3 * 64);
  expect_caught([&] { st::scale(din.get(), out.get(), 3, 64, true, s_); },
                {"kernel scale_kernel", "out-of-bounds store of 4 bytes at 0x",
                 "after the end of a 768-byte allocation"});
  st::scale(din.get(), out.get(), 3, 64, false, s_);
  const auto got = download(out);
  for (int i = 0; i < 3 * 64; ++i) EXPECT_EQ(got[i], 2 * in[i]);
}

TEST_F(Simulator, ReadOnePastTheEndIsCaught) {
  const auto din = upload(std::vector<float>(37, 1.f));
  DeviceBuffer<float> out(1);
  expect_caught([&] { st::sum(din.get(), 37, out.get(), true, s_); },
                {"kernel sum_kernel, block (0,0,0) thread (0,0,0)", "out-of-bounds load",
                 "starting 0 bytes after the end of a 148-byte allocation (float index 37 of 37)"});
  st::sum(din.get(), 37, out.get(), false, s_);
  EXPECT_EQ(download(out)[0], 37.f);
}

TEST_F(Simulator, BarrierDisciplineIsChecked) {
  DeviceBuffer<float> out(64);
  expect_caught([&] { st::early_return(out.get(), s_); },
                {"kernel early_return_kernel", "thread (5,0,0)",
                 "exited while other threads of its block wait at __syncthreads"});
  expect_caught([&] { st::divergent_barrier(out.get(), s_); },
                {"kernel divergent_barrier_kernel", "divergent barriers", "sim_kernels.cu:"});
}

TEST_F(Simulator, ShufflesNamingAbsentLanesAreCaught) {
  DeviceBuffer<float> out(48);
  expect_caught(
      [&] { st::shuffle_outside_mask(out.get(), s_); },
      {"kernel shuffle_outside_mask_kernel", "reads lane 16", "mask 0x0000ffff does not name"});
  expect_caught([&] { st::shuffle_partial_warp(out.get(), s_); },
                {"kernel shuffle_partial_warp_kernel", "block (0,0,0) thread (32,0,0)",
                 "names lane 16, which does not exist"});
}

TEST_F(Simulator, WidthLimitedShufflesSumTheirGroup) {
  std::vector<float> in(64);
  for (int i = 0; i < 64; ++i) in[i] = static_cast<float>(i);
  const auto din = upload(in);
  DeviceBuffer<float> out(64);
  for (int width : {2, 8, 32}) {
    st::segment_sum(din.get(), out.get(), 64, width, s_);
    const auto got = download(out);
    for (int i = 0; i < 64; ++i) {
      const int g = i / width * width;
      EXPECT_EQ(got[i], width * g + width * (width - 1) / 2.f)
          << "width " << width << " lane " << i;
    }
  }
}

TEST_F(Simulator, ReadsOfNeverWrittenMemoryAreCaught) {
  DeviceBuffer<float> never(16), out(1);
  expect_caught(
      [&] { st::sum(never.get(), 16, out.get(), false, s_); },
      {"kernel sum_kernel", "load of device memory never written", "offset 0 of a 64-byte"});
}

// Work on the legacy default stream is not ordered with a non-blocking stream: a buffer filled
// with cudaMemset (legacy) and read by a kernel on the non-blocking stream without a wait is a
// bug that the lazy streams expose.
TEST_F(Simulator, ForgottenStreamOrderingIsExposed) {
  DeviceBuffer<float> buf(16), out(1);
  RNNATTN_CUDA_CHECK(cudaMemset(buf.get(), 0, 16 * sizeof(float)));
  expect_caught([&] { st::sum(buf.get(), 16, out.get(), false, s_); },
                {"load of device memory never written"});
  RNNATTN_CUDA_CHECK(cudaMemset(buf.get(), 0, 16 * sizeof(float)));
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(nullptr));  // the ordering the host code owes
  st::sum(buf.get(), 16, out.get(), false, s_);
  EXPECT_EQ(download(out)[0], 0.f);
}

TEST_F(Simulator, GraphsReplayCapturedWorkAndRefuseAllocation) {
  const auto din = upload(std::vector<float>(128, 1.5f));
  DeviceBuffer<float> out(128);
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s_));
  RNNATTN_CUDA_CHECK(cudaStreamBeginCapture(s_, cudaStreamCaptureModeThreadLocal));
  st::scale(din.get(), out.get(), 1, 128, false, s_);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 64), cudaErrorStreamCaptureUnsupported);
  (void)cudaGetLastError();
  cudaGraph_t g = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(s_, &g), cudaErrorStreamCaptureInvalidated);
  (void)cudaGetLastError();

  RNNATTN_CUDA_CHECK(cudaStreamBeginCapture(s_, cudaStreamCaptureModeThreadLocal));
  st::scale(din.get(), out.get(), 1, 128, false, s_);
  CudaGraphExec exec;
  exec.end_capture(s_);
  RNNATTN_CUDA_CHECK(cudaMemsetAsync(out.get(), 0, 128 * sizeof(float), s_));
  EXPECT_EQ(download(out)[5], 0.f);  // capturing did not run the kernel
  exec.launch(s_);
  EXPECT_EQ(download(out)[5], 3.f);
}

TEST_F(Simulator, CooperativeLaunchesSyncTheGrid) {
  DeviceBuffer<float> data(2 * 4 * 64);
  st::cooperative(data.get(), 4, 64, true, s_);
  const auto got = download(data);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(got[256 + i], static_cast<float>((i + 64) % 256));
  expect_caught([&] { st::cooperative(data.get(), 4, 64, false, s_); },
                {"grid sync", "not cooperative"});
  // More blocks than can be resident: refused at launch, as the driver does.
  DeviceBuffer<float> big(2 * 1024 * 1000);
  try {
    st::cooperative(big.get(), 1000, 1024, true, s_);
    FAIL() << "a cooperative grid of 1000 blocks of 1024 threads was accepted";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot all be resident"), std::string::npos) << e.what();
  }
}

// Counters against hand-worked access patterns (one warp-wide instruction = one request).
TEST_F(Simulator, CountersFollowNsightDefinitions) {
  std::vector<sim::LaunchStats> seen;
  sim::set_launch_observer([&](const sim::LaunchStats& s) { seen.push_back(s); });
  sim::set_counting(true);
  const auto din = upload(std::vector<float>(2 * 256, 1.f));
  DeviceBuffer<float> out(256);
  st::copy_strided(din.get(), out.get(), 256, 1, s_);
  st::copy_strided(din.get(), out.get(), 256, 2, s_);
  st::bank(out.get(), 1, s_);
  st::bank(out.get(), 32, s_);
  st::bank(out.get(), 2, s_);
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s_));
  sim::set_counting(false);
  sim::set_launch_observer(nullptr);
  ASSERT_EQ(seen.size(), 5u);
  // Stride 1: 8 warps, each one load of 128 contiguous bytes = 4 sectors: efficiency 1.
  EXPECT_EQ(seen[0].kernel, "copy_strided_kernel");
  EXPECT_EQ(seen[0].global_load_requests, 8u);
  EXPECT_EQ(seen[0].global_load_sectors, 32u);
  EXPECT_EQ(seen[0].global_load_bytes, 1024u);
  EXPECT_EQ(seen[0].global_store_requests, 8u);
  EXPECT_EQ(seen[0].global_store_sectors, 32u);
  // Stride 2: the same bytes asked for over twice the sectors: efficiency 0.5.
  EXPECT_EQ(seen[1].global_load_sectors, 64u);
  EXPECT_EQ(seen[1].global_load_bytes, 1024u);
  // Shared: 32 stores of a conflict-free fill, one barrier, then one read.
  EXPECT_EQ(seen[2].barriers, 1u);
  EXPECT_EQ(seen[2].shared_requests, 33u);
  EXPECT_EQ(seen[2].shared_wavefronts, 33u);        // stride 1: one wavefront each
  EXPECT_EQ(seen[3].shared_wavefronts, 32u + 32u);  // stride 32: all lanes in bank 0
  EXPECT_EQ(seen[4].shared_wavefronts, 32u + 2u);   // stride 2: two words per bank
  EXPECT_EQ(seen[2].dynamic_smem_bytes, 4096u);
}

// RNNATTN_SIM_STATS: one JSON object per launch, with every counter, for a whole backward.
TEST_F(Simulator, CountersFileHasALinePerLaunch) {
  test::ScratchDir dir("rnnattn_sim_stats");
  const std::string path = dir.file("stats.jsonl");
  ::setenv("RNNATTN_SIM_STATS", path.c_str(), 1);
  int launches = 0;
  sim::set_launch_observer([&](const sim::LaunchStats&) { ++launches; });
  ModelConfig cfg;
  cfg.hidden_size = 8;
  auto be = make_backend(Device::kCuda);
  const auto p = init_parameters(cfg, 5);
  const auto x = test::random_vector<float>(3 * 20, 6);
  std::vector<float> dy(3, 0.5f), g(p.size());
  be->backward(cfg, p.data(), x.data(), 3, dy.data(), g.data(), nullptr);
  ::unsetenv("RNNATTN_SIM_STATS");
  sim::set_launch_observer(nullptr);
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  bool saw_forward = false, saw_backward = false;
  while (std::getline(in, line)) {
    ++lines;
    for (const char* key :
         {"\"kernel\":", "\"grid\":[", "\"block\":[", "\"dynamic_smem_bytes\":", "\"barriers\":",
          "\"global_load_requests\":", "\"global_load_sectors\":", "\"global_load_bytes\":",
          "\"global_store_requests\":", "\"global_store_sectors\":", "\"global_store_bytes\":",
          "\"shared_requests\":", "\"shared_wavefronts\":"}) {
      EXPECT_NE(line.find(key), std::string::npos) << key << " missing in " << line;
    }
    saw_forward |= line.find("fused_forward_kernel") != std::string::npos;
    saw_backward |= line.find("fused_backward_kernel") != std::string::npos;
  }
  EXPECT_GE(launches, 2);
  EXPECT_EQ(lines, launches);
  EXPECT_TRUE(saw_forward);
  EXPECT_TRUE(saw_backward);
}

// The memory-access targets of the "fast at scale" issue at its shape (B32 T4 D16 H256, a training
// step) and where Wh sits in shared memory (H64): every kernel that reads Wh or the hidden states
// loads with an efficiency of at least 0.8 and needs at most 1.25 shared wavefronts per request,
// for the segment kernels and for the persistent ones.
TEST_F(Simulator, RecurrentKernelsMeetTheAccessTargets) {
  for (cuda::Recurrence rec : {cuda::Recurrence::kSegment, cuda::Recurrence::kPersistent}) {
    for (int hidden : {256, 64}) {
      const bool persistent = rec == cuda::Recurrence::kPersistent;
      SCOPED_TRACE("H = " + std::to_string(hidden) + (persistent ? " persistent" : " segment"));
      ModelConfig cfg;
      cfg.input_size = 16;
      cfg.hidden_size = hidden;
      cfg.steps = 4;
      const int B = 32;
      cuda::Handle h(cfg, s_);
      h.set_recurrence(rec);
      const auto p = upload(init_parameters(cfg, 1));
      const auto x = upload(test::random_vector<float>(B * 4 * 16, 2));
      const auto dy = upload(test::random_vector<float>(B, 3));
      DeviceBuffer<float> y(B), g(p.size());
      DeviceBuffer<unsigned char> work(h.workspace_size(B)), reserve(h.reserve_size(B));
      std::vector<sim::LaunchStats> seen;
      sim::set_launch_observer([&](const sim::LaunchStats& st) { seen.push_back(st); });
      sim::set_counting(true);
      h.forward_training(p.get(), x.get(), B, y.get(), nullptr, nullptr, reserve.get(),
                         reserve.size(), work.get(), work.size());
      h.backward(p.get(), x.get(), B, y.get(), dy.get(), reserve.get(), reserve.size(), g.get(),
                 nullptr, cuda::GradMode::kOverwrite, work.get(), work.size());
      RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s_));
      sim::set_counting(false);
      sim::set_launch_observer(nullptr);
      int checked = 0;
      for (const sim::LaunchStats& st : seen) {
        if (st.kernel.find("forward") == std::string::npos &&
            st.kernel.find("backward") == std::string::npos)
          continue;
        ++checked;
        EXPECT_EQ(st.kernel.find("persistent") == 0, persistent) << st.kernel;
        const double eff =
            static_cast<double>(st.global_load_bytes) / (32.0 * st.global_load_sectors);
        const double waves = st.shared_requests
                                 ? static_cast<double>(st.shared_wavefronts) / st.shared_requests
                                 : 1.0;
        EXPECT_GE(eff, 0.8) << st.kernel;
        EXPECT_LE(waves, 1.25) << st.kernel;
        std::cout << st.kernel << ": global load efficiency " << eff
                  << ", shared wavefronts/request " << waves << '\n';
      }
      EXPECT_EQ(checked, 2);  // the forward and the backward
    }
  }
}

// What runs is what recurrence_for() says: the model's choice (kAuto) at the seed's size and at
// H = 1024, and each forced setting, forward and backward.
TEST_F(Simulator, RecurrenceChoiceIsWhatRuns) {
  struct Want {
    int batch, hidden;
    cuda::Recurrence set;
  };
  for (const Want& w :
       {Want{1, 2, cuda::Recurrence::kAuto}, Want{2, 1024, cuda::Recurrence::kAuto},
        Want{3, 8, cuda::Recurrence::kPersistent}, Want{2, 1024, cuda::Recurrence::kSegment}}) {
    ModelConfig cfg;
    cfg.hidden_size = w.hidden;
    cfg.steps = 3;
    cuda::Handle h(cfg, s_);
    h.set_recurrence(w.set);
    const cuda::Recurrence runs = h.recurrence_for(w.batch);
    if (w.set != cuda::Recurrence::kAuto) {
      EXPECT_EQ(runs, w.set);
    }
    SCOPED_TRACE("B = " + std::to_string(w.batch) + " H = " + std::to_string(w.hidden));
    const auto p = upload(init_parameters(cfg, 7));
    const auto x = upload(test::random_vector<float>(static_cast<std::size_t>(w.batch) * 3, 8));
    const auto dy = upload(test::random_vector<float>(w.batch, 9));
    DeviceBuffer<float> y(w.batch), g(p.size());
    DeviceBuffer<unsigned char> work(h.workspace_size(w.batch)), reserve(h.reserve_size(w.batch));
    std::vector<std::string> kernels;
    sim::set_launch_observer([&](const sim::LaunchStats& st) { kernels.push_back(st.kernel); });
    sim::set_counting(true);
    h.forward_training(p.get(), x.get(), w.batch, y.get(), nullptr, nullptr, reserve.get(),
                       reserve.size(), work.get(), work.size());
    h.backward(p.get(), x.get(), w.batch, y.get(), dy.get(), reserve.get(), reserve.size(), g.get(),
               nullptr, cuda::GradMode::kOverwrite, work.get(), work.size());
    RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s_));
    sim::set_counting(false);
    sim::set_launch_observer(nullptr);
    const bool persistent = runs == cuda::Recurrence::kPersistent;
    const auto n = [&](const char* k) { return std::count(kernels.begin(), kernels.end(), k); };
    EXPECT_EQ(n("persistent_forward_kernel"), persistent ? 1 : 0);
    EXPECT_EQ(n("persistent_backward_kernel"), persistent ? 1 : 0);
    if (w.hidden == 2) {
      EXPECT_FALSE(persistent) << "the seed's size runs the segment kernels";
    }
    if (w.hidden == 1024 && w.set == cuda::Recurrence::kAuto) {
      EXPECT_TRUE(persistent) << "H = 1024 at B = 2 runs the persistent kernels";
    }
  }
}

}  // namespace
}  // namespace rnnattn
