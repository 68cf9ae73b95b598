// The GPU simulator's own tests (simulator build only): each planted bug (a removed
// __syncthreads, a swapped index, a read one past the end, an early return before a barrier,
// divergent barriers, shuffles naming lanes that do not take part, reads of never-written memory,
// forgotten stream ordering, allocation inside a graph capture) is caught with a message naming
// kernel, block, thread and address, and its correct twin runs clean; the counters match access
// patterns worked out by hand; the counters file gets one line per launch.
#include <cublas_v2.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "backend_cuda.hpp"
#include "cuda_utils.hpp"
#include "kernels.hpp"
#include "plan.hpp"
#include "rnnattn/cuda.hpp"
#include "rnnattn/rnnattn.hpp"
#include "rnnattn_sim/sim.hpp"
#include "sim_kernels.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

namespace st = simtest;

// One forward_training and backward through the device API; returns y and the gradient, and the
// kernels that ran.
struct PassResult {
  std::vector<float> y, grad;
  std::vector<std::string> kernels;
  std::vector<std::size_t> persistent_smem;  // dynamic shared memory of persistent launches
};

class Simulator : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::clear_sticky_error();
    RNNATTN_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking));
  }
  void TearDown() override {
    // Whatever a failed test left set: no observer of a finished test's locals, the
    // environment's schedule, one device, cooperative launches allowed.
    sim::set_launch_observer(nullptr);
    sim::set_counting(false);
    sim::set_schedule("");
    sim::set_refuse_cooperative(false);
    sim::set_device_layout("");
    (void)cudaSetDevice(0);
    sim::set_device_count(1);
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

  PassResult run_pass(cuda::Handle& h, const ModelConfig& cfg, int batch) {
    const auto p = upload(init_parameters(cfg, 7));
    const auto x = upload(test::random_vector<float>(
        static_cast<std::size_t>(batch) * cfg.steps * cfg.input_size, 8));
    const auto dy = upload(test::random_vector<float>(batch * cfg.output_size, 9));
    DeviceBuffer<float> y(batch * cfg.output_size), g(p.size());
    DeviceBuffer<unsigned char> work(h.workspace_size(batch)), reserve(h.reserve_size(batch));
    PassResult r;
    // Uninstalled on every way out (a failing pass throws): the observer refers to `r`.
    struct ObserverGuard {
      ~ObserverGuard() {
        sim::set_counting(false);
        sim::set_launch_observer(nullptr);
      }
    } guard;
    sim::set_launch_observer([&](const sim::LaunchStats& st) {
      r.kernels.push_back(st.kernel);
      if (st.kernel.rfind("persistent_", 0) == 0)
        r.persistent_smem.push_back(st.dynamic_smem_bytes);
    });
    sim::set_counting(true);
    h.forward_training(p.get(), x.get(), batch, y.get(), nullptr, nullptr, reserve.get(),
                       reserve.size(), work.get(), work.size());
    h.backward(p.get(), x.get(), batch, y.get(), dy.get(), reserve.get(), reserve.size(), g.get(),
               nullptr, cuda::GradMode::kOverwrite, work.get(), work.size());
    RNNATTN_CUDA_CHECK(cudaStreamSynchronize(h.stream()));
    r.y = download(y);
    r.grad = download(g);
    return r;
  }
  static long count(const PassResult& r, const char* kernel) {
    return std::count(r.kernels.begin(), r.kernels.end(), kernel);
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

// ---- races through global memory, warp-level synchronisation, schedules ------------------------

// Runs `body` under each block order, then returns to the environment's (RNNATTN_SIM_ORDER).
void under_each_order(const std::function<void(const std::string&)>& body) {
  for (const char* order : {"index", "reverse", "shuffle:7"}) {
    ASSERT_TRUE(sim::set_schedule(order));
    SCOPED_TRACE(std::string("block order ") + order);
    body(order);
  }
  sim::set_schedule("");
}

TEST_F(Simulator, MissingGridBarrierIsACrossBlockRace) {
  under_each_order([&](const std::string&) {
    DeviceBuffer<float> data(2 * 4 * 64);
    // Initialised first, so that the stale read is a race, not a read of unwritten memory.
    RNNATTN_CUDA_CHECK(cudaMemsetAsync(data.get(), 0, data.size() * sizeof(float), s_));
    expect_caught([&] { st::grid_exchange(data.get(), 4, 64, false, s_); },
                  {"kernel grid_exchange_kernel", "global-memory race at 0x", "-byte allocation)",
                   "another thread's", "block (", "with no barrier between them"});
    RNNATTN_CUDA_CHECK(cudaMemsetAsync(data.get(), 0, data.size() * sizeof(float), s_));
    st::grid_exchange(data.get(), 4, 64, true, s_);
    const auto got = download(data);
    for (int i = 0; i < 256; ++i) ASSERT_EQ(got[256 + i], static_cast<float>((i + 64) % 256));
  });
}

TEST_F(Simulator, SingleBufferAcrossGridBarriersIsARace) {
  under_each_order([&](const std::string&) {
    const int blocks = 3, threads = 64, n = blocks * threads, steps = 4;
    const auto init = test::random_vector<float>(2 * n, 11);
    auto buf = upload(init);
    expect_caught([&] { st::grid_steps(buf.get(), blocks, threads, steps, false, s_); },
                  // A write after another block's read, or (when the writer ran first) a read
                  // of another block's write: which one depends on the order, the report not.
                  {"kernel grid_steps_kernel", "global-memory race", "another thread's",
                   "with no barrier between them"});
    buf = upload(init);
    st::grid_steps(buf.get(), blocks, threads, steps, true, s_);
    // The double-buffered recurrence against the same recurrence on the host.
    std::vector<float> cur(init.begin(), init.begin() + n), next(n);
    for (int t = 0; t < steps; ++t) {
      for (int i = 0; i < n; ++i) next[i] = cur[(i + threads) % n] * 0.5f + 1.f;
      cur.swap(next);
    }
    const auto got = download(buf);
    for (int i = 0; i < n; ++i) ASSERT_EQ(got[(steps % 2) * n + i], cur[i]) << i;
  });
}

// Thread-block clusters: distributed shared memory with its race checks (happens-before through
// cluster.sync(), under every order), an exit while another block reads the exiting block's
// memory (caught under every order: in the interval of the access), the launch's checks.
TEST_F(Simulator, ClustersExchangeThroughDistributedSharedMemory) {
  ASSERT_TRUE(sim::set_device_layout("h100-sxm"));  // the H100 SXM's choices and clusters
  const int clusters = 3, cluster = 4, threads = 64, n = clusters * cluster * threads;
  const auto want = [&](int i, int step) {  // the value of the same thread `step` blocks on
    const int block = i / threads, t = i % threads, first = block / cluster * cluster;
    return static_cast<float>((first + (block - first + step + cluster) % cluster) * threads + t);
  };
  under_each_order([&](const std::string&) {
    DeviceBuffer<float> out(n);
    st::cluster_exchange(out.get(), clusters, cluster, threads, 0, s_);
    auto got = download(out);
    for (int i = 0; i < n; ++i) ASSERT_EQ(got[i], want(i, -1)) << i;  // from the previous rank
    st::cluster_exchange(out.get(), clusters, cluster, threads, 4, s_);
    got = download(out);
    for (int i = 0; i < n; ++i) ASSERT_EQ(got[i], want(i, 1)) << i;  // from the next rank
    expect_caught([&] { st::cluster_exchange(out.get(), clusters, cluster, threads, 1, s_); },
                  {"kernel cluster_exchange_kernel", "shared-memory race at offset",
                   "another thread's", "cluster.sync() across the cluster's blocks"});
    expect_caught([&] { st::cluster_exchange(out.get(), clusters, cluster, threads, 2, s_); },
                  {"kernel cluster_exchange_kernel", "shared-memory race at offset",
                   "write after another thread's write"});
    expect_caught([&] { st::cluster_exchange(out.get(), clusters, cluster, threads, 3, s_); },
                  {"kernel cluster_exchange_kernel", "exited", "cluster.sync()"});
  });
  DeviceBuffer<float> out(32 * 9);
  expect_caught([&] { st::cluster_sync_unclustered(out.get(), s_); },
                {"cluster sync", "without cluster dimensions"});
  try {  // more than 8 blocks a cluster: refused at launch, as the driver does
    st::cluster_exchange(out.get(), 1, 9, 32, 0, s_);
    FAIL() << "a cluster of 9 blocks was accepted";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find("at most 8"), std::string::npos) << e.what();
  }
}

TEST_F(Simulator, NonAtomicAccumulationIsARaceAndAtomicsAreNot) {
  under_each_order([&](const std::string&) {
    const auto in = test::random_vector<float>(4 * 32, 12);
    const auto din = upload(in);
    DeviceBuffer<float> sum(1);
    RNNATTN_CUDA_CHECK(cudaMemsetAsync(sum.get(), 0, sizeof(float), s_));
    expect_caught([&] { st::accumulate(din.get(), sum.get(), 4, 32, false, s_); },
                  {"kernel accumulate_kernel", "global-memory race", "of another thread's write",
                   "thread ("});
    RNNATTN_CUDA_CHECK(cudaMemsetAsync(sum.get(), 0, sizeof(float), s_));
    st::accumulate(din.get(), sum.get(), 4, 32, true, s_);
    double want = 0;
    for (float v : in) want += v;
    EXPECT_NEAR(download(sum)[0], want, 1e-4);
    // A plain store to a word others update atomically is a race too.
    expect_caught([&] { st::atomic_and_plain(din.get(), sum.get(), 4, 32, s_); },
                  {"kernel atomic_and_plain_kernel", "global-memory race", "atomic"});
  });
}

TEST_F(Simulator, RacesWithinABlockThroughDeviceMemoryAreCaught) {
  under_each_order([&](const std::string&) {
    DeviceBuffer<float> word(1), g(96), out(96);
    expect_caught([&] { st::store_one_word(word.get(), 256, s_); },
                  {"kernel store_one_word_kernel", "global-memory race",
                   "write after another thread's write", "block (0,0,0) thread ("});
    RNNATTN_CUDA_CHECK(cudaMemsetAsync(g.get(), 0, 96 * sizeof(float), s_));
    expect_caught([&] { st::global_neighbour(g.get(), out.get(), 96, false, s_); },
                  {"kernel global_neighbour_kernel", "global-memory race", "another thread's"});
    st::global_neighbour(g.get(), out.get(), 96, true, s_);
    const auto got = download(out);
    for (int t = 0; t < 96; ++t) ASSERT_EQ(got[t], static_cast<float>((t + 1) % 96) * 3.f);
  });
}

TEST_F(Simulator, SyncwarpOrdersTheLanesItNames) {
  std::vector<float> in(32);
  for (int i = 0; i < 32; ++i) in[i] = static_cast<float>(100 + i);
  const auto din = upload(in);
  DeviceBuffer<float> out(32);
  expect_caught([&] { st::warp_exchange(din.get(), out.get(), 0, s_); },
                {"kernel warp_exchange_kernel", "shared-memory race", "another thread's",
                 "block (0,0,0) thread ("});
  st::warp_exchange(din.get(), out.get(), 1, s_);  // __syncwarp(): a correct exchange
  auto got = download(out);
  for (int l = 0; l < 32; ++l) EXPECT_EQ(got[l], in[(l + 1) % 32]) << l;
  st::warp_exchange(din.get(), out.get(), 2, s_);  // each half on its own mask
  got = download(out);
  for (int l = 0; l < 32; ++l) EXPECT_EQ(got[l], in[(l & 16) | ((l + 1) & 15)]) << l;
  // A half-warp mask orders its own lanes only: lane 15 reading lane 16 is still a race.
  expect_caught(
      [&] { st::warp_exchange(din.get(), out.get(), 3, s_); },
      {"kernel warp_exchange_kernel", "shared-memory race", "thread (15,0,0)", "thread (16,0,0)"});
  // A lane's own read of its word after a __syncwarp does not make its neighbour's earlier read
  // (ordered by that __syncwarp) look unordered: each reader keeps the stamp of its own read.
  st::warp_exchange(din.get(), out.get(), 4, s_);
  got = download(out);
  for (int l = 0; l < 32; ++l) EXPECT_EQ(got[l], in[(l + 1) % 32] + in[l] + 1.f) << l;
  expect_caught([&] { st::warp_exchange(din.get(), out.get(), 5, s_); },
                {"kernel warp_exchange_kernel", "shared-memory race", "another thread's read"});
}

TEST_F(Simulator, DisjointMaskShufflesInDivergentBranchesRendezvousPerMask) {
  const auto in = test::random_vector<float>(32, 13);
  const auto din = upload(in);
  DeviceBuffer<float> out(32);
  st::half_warp_sums(din.get(), out.get(), s_);
  const auto got = download(out);
  for (int l = 0; l < 32; ++l) {
    // The butterfly's own order of additions, so the comparison can be exact.
    std::vector<float> v(in.begin() + (l & 16), in.begin() + (l & 16) + 16);
    for (int off = 8; off > 0; off /= 2) {
      std::vector<float> w(16);
      for (int k = 0; k < 16; ++k) w[k] = v[k] + v[k ^ off];
      v.swap(w);
    }
    EXPECT_EQ(got[l], v[l & 15]) << l;
  }
}

TEST_F(Simulator, BlockOrdersAreTheOnesAsked) {
  const int blocks = 9;
  for (bool coop : {false, true}) {
    std::map<std::string, std::vector<int>> seen;
    for (const char* order : {"index", "reverse", "shuffle:1", "shuffle:2", "shuffle:2"}) {
      ASSERT_TRUE(sim::set_schedule(order));
      DeviceBuffer<int> counter(1), got(blocks);
      RNNATTN_CUDA_CHECK(cudaMemsetAsync(counter.get(), 0, sizeof(int), s_));
      st::block_order(counter.get(), got.get(), blocks, coop, s_);
      std::vector<int> h(blocks);
      RNNATTN_CUDA_CHECK(
          cudaMemcpyAsync(h.data(), got.get(), blocks * sizeof(int), cudaMemcpyDeviceToHost, s_));
      EXPECT_EQ(sim::schedule(), order);
      std::vector<int> sorted = h;
      std::sort(sorted.begin(), sorted.end());
      for (int i = 0; i < blocks; ++i) ASSERT_EQ(sorted[i], i) << "not a permutation";
      if (seen.count(order)) {
        // Same seed, another launch: another order (each launch draws its own).
        EXPECT_NE(seen[order], h) << order;
      }
      seen[order] = h;
    }
    sim::set_schedule("");
    std::vector<int> index(blocks), reverse(blocks);
    for (int i = 0; i < blocks; ++i) index[i] = i, reverse[i] = blocks - 1 - i;
    EXPECT_EQ(seen["index"], index);
    EXPECT_EQ(seen["reverse"], reverse);
    EXPECT_NE(seen["shuffle:1"], index);
    EXPECT_NE(seen["shuffle:1"], seen["shuffle:2"]);
  }
  EXPECT_FALSE(sim::set_schedule("sideways"));
  EXPECT_FALSE(sim::set_schedule("shuffle:x"));
}

// Two streams with no event between them: a kernel on one reads what a kernel on the other
// writes. The lazy streams run the reader first; the race check reports the writer, naming the
// other operation. An event makes the same work correct.
TEST_F(Simulator, UnorderedStreamsRace) {
  cudaStream_t other = nullptr;
  RNNATTN_CUDA_CHECK(cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking));
  const auto din = upload(std::vector<float>(64, 1.f));
  DeviceBuffer<float> mid(64), out(64);
  RNNATTN_CUDA_CHECK(cudaMemsetAsync(mid.get(), 0, 64 * sizeof(float), s_));
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s_));
  st::add_one(din.get(), mid.get(), 64, s_);     // writer, stream s_
  st::add_one(mid.get(), out.get(), 64, other);  // reader, stream other, no wait
  try {
    (void)cudaStreamSynchronize(other);
    expect_caught(
        [&] {}, {"kernel add_one_kernel", "global-memory race", "write after another thread's read",
                 "add_one_kernel, an operation not ordered before this one"});
  } catch (...) {
    cudaStreamDestroy(other);
    throw;
  }
  // Ordered with an event: no report, and the reader sees the writer's values.
  cudaEvent_t done = nullptr;
  RNNATTN_CUDA_CHECK(cudaEventCreate(&done));
  st::add_one(din.get(), mid.get(), 64, s_);
  RNNATTN_CUDA_CHECK(cudaEventRecord(done, s_));
  RNNATTN_CUDA_CHECK(cudaStreamWaitEvent(other, done, 0));
  st::add_one(mid.get(), out.get(), 64, other);
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(other));
  EXPECT_EQ(sim::last_violation(), "");
  std::vector<float> h(64);
  RNNATTN_CUDA_CHECK(cudaMemcpy(h.data(), out.get(), 64 * sizeof(float), cudaMemcpyDeviceToHost));
  EXPECT_EQ(h[7], 3.f);
  // A library copy takes part as its own thread: a copy on `other` of what s_ writes.
  st::add_one(din.get(), mid.get(), 64, s_);
  RNNATTN_CUDA_CHECK(
      cudaMemcpyAsync(out.get(), mid.get(), 64 * sizeof(float), cudaMemcpyDeviceToDevice, other));
  (void)cudaStreamSynchronize(other);
  expect_caught([&] {}, {"global-memory race", "cudaMemcpy (device to device)"});
  cudaEventDestroy(done);
  cudaStreamDestroy(other);
}

// ---- hazards only hardware would trip, modelled here ---------------------------------------

// The hazard tests: the same fixture, named apart.
class SimulatorPass : public Simulator {};

// cublasSetStream resets cuBLAS's workspace to its default pool (cuBLAS documents it; the
// simulator's cuBLAS models it and counts GEMMs on that pool, which may allocate). The device
// API's own handle and a caller's handle prepared on the handle's stream keep their workspaces.
TEST_F(SimulatorPass, CublasKeepsTheWorkspaceItWasGiven) {
  ModelConfig cfg;
  cfg.hidden_size = 8;
  cfg.steps = 3;
  {
    cuda::Handle owned(cfg, s_);
    const auto before = sim::cublas_default_workspace_calls();
    run_pass(owned, cfg, 3);
    run_pass(owned, cfg, 3);
    EXPECT_EQ(sim::cublas_default_workspace_calls(), before)
        << "the owned handle's GEMMs ran on cuBLAS's default pool";
  }
  cublasHandle_t mine = nullptr;
  ASSERT_EQ(cublasCreate(&mine), CUBLAS_STATUS_SUCCESS);
  DeviceBuffer<unsigned char> ws(1 << 20);
  ASSERT_EQ(cublasSetStream(mine, s_), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasSetWorkspace(mine, ws.get(), ws.size()), CUBLAS_STATUS_SUCCESS);
  {
    cuda::Handle theirs(cfg, s_, mine);
    const auto before = sim::cublas_default_workspace_calls();
    run_pass(theirs, cfg, 3);
    EXPECT_EQ(sim::cublas_default_workspace_calls(), before)
        << "a caller's handle already on the stream was rebound (its workspace reset)";
  }
  // A caller's handle on another stream is rebound: its workspace is reset, as documented.
  ASSERT_EQ(cublasSetStream(mine, nullptr), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasSetWorkspace(mine, ws.get(), ws.size()), CUBLAS_STATUS_SUCCESS);
  {
    cuda::Handle theirs(cfg, s_, mine);
    const auto before = sim::cublas_default_workspace_calls();
    run_pass(theirs, cfg, 3);
    EXPECT_GT(sim::cublas_default_workspace_calls(), before);
  }
  cublasDestroy(mine);
}

// A GPU can refuse a cooperative launch that its occupancy query allowed (MPS, green contexts):
// the persistent kernels then fall back to the segment kernels, say so once, and do not try the
// refused grid again; under graph capture the refusal is an error that says what to do.
TEST_F(SimulatorPass, RefusedCooperativeLaunchFallsBackToTheSegmentKernels) {
  ModelConfig cfg;
  cfg.hidden_size = 40;
  cfg.steps = 4;
  cuda::Handle segment(cfg, s_);
  segment.set_recurrence(cuda::Recurrence::kSegment);
  const PassResult want = run_pass(segment, cfg, 5);
  cuda::Handle h(cfg, s_);
  h.set_recurrence(cuda::Recurrence::kPersistent);
  const PassResult persistent = run_pass(h, cfg, 5);
  EXPECT_EQ(count(persistent, "persistent_forward_kernel"), 1);

  sim::set_refuse_cooperative(true);
  ::testing::internal::CaptureStderr();
  const PassResult first = run_pass(h, cfg, 5);
  const PassResult second = run_pass(h, cfg, 5);
  const std::string said = ::testing::internal::GetCapturedStderr();
  std::cout << said;
  EXPECT_EQ(count(first, "persistent_forward_kernel") + count(first, "persistent_backward_kernel"),
            0);
  EXPECT_EQ(first.y, want.y);  // the segment kernels ran: their bits
  EXPECT_EQ(first.grad, want.grad);
  EXPECT_EQ(second.grad, want.grad);
  for (const char* k : {"persistent_forward_kernel", "persistent_backward_kernel"}) {
    const std::string m = std::string("refused the cooperative launch of ") + k;
    const auto at = said.find(m);
    EXPECT_NE(at, std::string::npos) << said;
    EXPECT_EQ(said.find(m, at + 1), std::string::npos) << "said more than once: " << said;
  }
  EXPECT_NE(said.find("running the segment kernels for this shape from now on"), std::string::npos);

  // Another grid (B = 40), first met while capturing: an error naming the remedy.
  const auto p = upload(init_parameters(cfg, 7));
  const auto x = upload(test::random_vector<float>(40 * cfg.steps, 8));
  DeviceBuffer<float> y(40);
  DeviceBuffer<unsigned char> work(h.workspace_size(40)), reserve(h.reserve_size(40));
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s_));
  RNNATTN_CUDA_CHECK(cudaStreamBeginCapture(s_, cudaStreamCaptureModeRelaxed));
  try {
    h.forward_training(p.get(), x.get(), 40, y.get(), nullptr, nullptr, reserve.get(),
                       reserve.size(), work.get(), work.size());
    ADD_FAILURE() << "a refused cooperative launch during capture went unreported";
  } catch (const CudaError& e) {
    EXPECT_NE(std::string(e.what()).find("while a CUDA graph was being captured"),
              std::string::npos)
        << e.what();
  }
  cudaGraph_t g = nullptr;
  (void)cudaStreamEndCapture(s_, &g);
  if (g) cudaGraphDestroy(g);
  (void)cudaGetLastError();
  sim::set_refuse_cooperative(false);
}

// The opt-in to more than 48 KB of dynamic shared memory belongs to a kernel on one device: a
// program using two GPUs must raise it on each (the simulator presents two).
TEST_F(SimulatorPass, LargeSharedMemoryLaunchesWorkOnEveryDevice) {
  sim::set_device_count(2);
  ModelConfig cfg;
  cfg.hidden_size = 128;  // Wh in shared memory: 64 KB
  cfg.steps = 2;
  std::vector<PassResult> got;
  for (int device : {0, 1}) {
    RNNATTN_CUDA_CHECK(cudaSetDevice(device));
    cuda::Handle h(cfg, s_);
    h.set_recurrence(cuda::Recurrence::kSegment);
    got.push_back(run_pass(h, cfg, 2));
    EXPECT_EQ(count(got.back(), "fused_forward_kernel<Wh in smem>"), 1) << "device " << device;
  }
  EXPECT_EQ(got[0].grad, got[1].grad);
  RNNATTN_CUDA_CHECK(cudaSetDevice(0));
  sim::set_device_count(1);
}

// A persistent grid of at most one block an SM asks for more than half an SM's shared memory:
// two of its blocks can never share an SM (which would slow every grid barrier).
TEST_F(SimulatorPass, PersistentBlocksHaveAnSmEach) {
  for (int hidden : {8, 40, 300}) {
    ModelConfig cfg;
    cfg.hidden_size = hidden;
    cfg.steps = 2;
    cuda::Handle h(cfg, s_);
    h.set_recurrence(cuda::Recurrence::kPersistent);
    const PassResult r = run_pass(h, cfg, 7);
    ASSERT_EQ(r.persistent_smem.size(), 2u) << "H = " << hidden;
    for (std::size_t smem : r.persistent_smem) {
      EXPECT_GT(2 * (smem + 1024), 228u * 1024) << "H = " << hidden << ": " << smem << " bytes";
      EXPECT_LE(smem, 227u * 1024);
    }
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
  // The least: one a request (at most 32 different words each, wherever their banks).
  EXPECT_EQ(seen[2].shared_ideal_wavefronts, 33u);
  EXPECT_EQ(seen[3].shared_ideal_wavefronts, 32u + 1u);
  EXPECT_EQ(seen[4].shared_ideal_wavefronts, 32u + 1u);
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
          "\"shared_requests\":", "\"shared_wavefronts\":", "\"shared_ideal_wavefronts\":"}) {
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

// The memory-access targets (docs/performance.md) at their shape (B32 T4 D16 H256, a training
// step) and where Wh sits in shared memory (H64): every kernel that reads Wh or the hidden states
// loads with an efficiency of at least 0.8 and needs at most 1.25 shared wavefronts per request,
// for the segment kernels, the persistent ones and the cluster ones, and for the gated cells'
// segment kernels (rnn_gated.cu; a one-layer model's, with the attention and head inside) and
// persistent ones (rnn_persistent_gated.cu, with the attention-and-head kernels). The targets are
// the tilings' on the default H100 SXM (another SM count gives other tilings: on an H100 PCIe the
// gated persistent kernels' at H = 64 take 1.27 wavefronts per ideal one).
TEST_F(Simulator, RecurrentKernelsMeetTheAccessTargets) {
  ASSERT_TRUE(sim::set_device_layout("h100-sxm"));
  for (Cell cell : {Cell::kElman, Cell::kLstm, Cell::kGru}) {
    for (cuda::Recurrence rec :
         {cuda::Recurrence::kSegment, cuda::Recurrence::kPersistent, cuda::Recurrence::kCluster}) {
      for (int hidden : {256, 64}) {
        const bool persistent = rec == cuda::Recurrence::kPersistent;
        const bool clustered = rec == cuda::Recurrence::kCluster;
        // The gated persistent kernels at H = 64 only (H = 256 takes minutes in the simulator);
        // the cluster kernels are the Elman cell's.
        if (cell != Cell::kElman && persistent && hidden == 256) continue;
        if (cell != Cell::kElman && clustered) continue;
        SCOPED_TRACE(std::string(to_string(cell)) + " H = " + std::to_string(hidden) +
                     (persistent  ? " persistent"
                      : clustered ? " cluster"
                                  : " segment"));
        ModelConfig cfg;
        cfg.cell = cell;
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
          if (st.kernel.find("attention_head") != 0) {
            EXPECT_EQ(st.kernel.find("persistent") != std::string::npos, persistent) << st.kernel;
            EXPECT_EQ(st.kernel.find("cluster_") == 0, clustered) << st.kernel;
          }
          const double eff =
              static_cast<double>(st.global_load_bytes) / (32.0 * st.global_load_sectors);
          // Bank conflicts: wavefronts over the least the requests could take (16-byte reads of
          // the persistent and cluster products take 2 to 4 a request without any).
          const double waves =
              st.shared_ideal_wavefronts
                  ? static_cast<double>(st.shared_wavefronts) / st.shared_ideal_wavefronts
                  : 1.0;
          EXPECT_GE(eff, 0.8) << st.kernel;
          EXPECT_LE(waves, 1.25) << st.kernel;
          std::cout << st.kernel << ": global load efficiency " << eff
                    << ", shared wavefronts/ideal " << waves << '\n';
        }
        // The forward and the backward, each one kernel with the attention and head inside (the
        // gated segment kernels too: a one-layer, one-direction model); the gated persistent
        // kernels with the attention-and-head kernels after and before them.
        EXPECT_EQ(checked, cell != Cell::kElman && persistent ? 4 : 2);
      }
    }
  }
}

// A bidirectional gated layer's persistent kernels run both directions in one cooperative grid
// of two planes where the GPU holds it co-resident, else a direction at a time
// (LSTM H = 512: a block's slices take more than half an SM, 2 x 128 blocks do not fit); either
// way the results are the segment kernels' (y rtol 1e-5, gradients 1e-4).
TEST_F(Simulator, GatedPersistentRunsBothDirectionsInOneGrid) {
  struct Case {
    int batch, hidden;
    Cell cell;
    long launches;  // of each kernel: 1 (one grid) or 2 (a direction at a time)
  };
  for (const Case& k :
       {Case{5, 8, Cell::kLstm, 1}, Case{3, 33, Cell::kGru, 1}, Case{4, 512, Cell::kLstm, 2}}) {
    SCOPED_TRACE(std::string(to_string(k.cell)) + " B = " + std::to_string(k.batch) +
                 " H = " + std::to_string(k.hidden));
    ModelConfig cfg;
    cfg.cell = k.cell;
    cfg.hidden_size = k.hidden;
    cfg.bidirectional = true;
    cfg.steps = 3;
    cuda::Handle h(cfg, s_);
    h.set_recurrence(cuda::Recurrence::kPersistent);
    ASSERT_EQ(h.recurrence_for(k.batch), cuda::Recurrence::kPersistent);
    const PassResult persistent = run_pass(h, cfg, k.batch);
    char fwd[64], bwd[64];
    std::snprintf(fwd, sizeof fwd, "gated_persistent_forward_kernel<%s>", to_string(k.cell));
    std::snprintf(bwd, sizeof bwd, "gated_persistent_backward_kernel<%s>", to_string(k.cell));
    EXPECT_EQ(count(persistent, fwd), k.launches);
    EXPECT_EQ(count(persistent, bwd), k.launches);
    h.set_recurrence(cuda::Recurrence::kSegment);
    const PassResult segment = run_pass(h, cfg, k.batch);
    EXPECT_EQ(count(segment, fwd), 0);
    EXPECT_TRUE(test::all_close("y", persistent.y, segment.y, 1e-6, 1e-5));
    EXPECT_TRUE(test::all_close("gradient", persistent.grad, segment.grad, 1e-5, 1e-4));
  }
}

// The gated persistent backward with its own products (PersistentTiling::for_backward: split 8 x
// 2 units a thread, with and without the reduce-scatter, as the notebook's shape takes) and with
// its rows of dL/drec staged in pieces (plan_gated's choice where a bidirectional layer's two
// directions then share one grid: 2, and 3 with a shorter last one) writes what the tiling's
// own choice writes (d_in, drec_next and drec_first within 1e-5); lengths with padding, both
// cells, outputs poisoned before each run.
TEST_F(Simulator, GatedPersistentBackwardInPiecesMatchesWholeRows) {
  for (Cell cell : {Cell::kLstm, Cell::kGru}) {
    SCOPED_TRACE(to_string(cell));
    const int B = 5, T = 4, H = 40, G = cell == Cell::kLstm ? 4 : 3, A = G + 1, GH = G * H;
    kernels::PersistentTiling whole;
    ASSERT_TRUE(kernels::persistent_tiling(B, H, kernels::current_gpu_limits(), &whole, G));
    const std::size_t bt = static_cast<std::size_t>(B) * T;
    const auto states = upload(test::random_vector<float>(bt * H, 1));
    const auto aux = upload(test::random_vector<float>(bt * A * H, 2, 0.05, 0.95));
    const auto dout = upload(test::random_vector<float>(bt * H, 3));
    const auto wh_t = upload(test::random_vector<float>(static_cast<std::size_t>(GH) * H, 4));
    const std::vector<int> len_h = {T, 1, 3, T, 2};
    DeviceBuffer<int> lengths(B, "lengths");
    RNNATTN_CUDA_CHECK(
        cudaMemcpyAsync(lengths.get(), len_h.data(), B * sizeof(int), cudaMemcpyHostToDevice, s_));
    DeviceBuffer<float> d_in(bt * GH, "d_in"), next(bt * GH, "drec_next"),
        first(static_cast<std::size_t>(B) * GH, "drec_first");
    kernels::GatedBackwardArgs a{};
    a.cell = cell;
    a.batch = B;
    a.steps = T;
    a.hidden = H;
    a.stride = H;
    a.direction = 0;
    a.states = states.get();
    a.aux = aux.get();
    a.dout = dout.get();
    a.wh_t = wh_t.get();
    a.lengths = lengths.get();
    a.d_in = d_in.get();
    a.drec_next = next.get();
    a.drec_first = first.get();
    ASSERT_EQ(whole.for_backward().units, 1);  // B5 H40: groups of one sequence
    std::vector<std::vector<float>> want;
    struct Variant {
      int pieces, units;
      bool scatter;
    };
    for (const Variant& v : {Variant{1, 1, false}, Variant{2, 1, false}, Variant{3, 1, false},
                             Variant{1, 2, false}, Variant{2, 2, true}}) {
      SCOPED_TRACE("pieces " + std::to_string(v.pieces) + ", units " + std::to_string(v.units) +
                   (v.scatter ? ", reduce-scatter" : ""));
      kernels::PersistentTiling t = whole;
      t.pieces = v.pieces;
      if (v.units > 1) {
        t.backward_split = 8;
        t.backward_units = v.units;
        t.backward_row_lanes = kernels::kPersistentThreads * v.units / (16 * 8);
        t.backward_rows = (t.group + t.backward_row_lanes - 1) / t.backward_row_lanes;
        t.backward_scatter = v.scatter;
      }
      if (v.pieces > 1) {
        EXPECT_LT(t.for_backward().piece(GH), t.for_backward().padded(GH));
      }
      for (DeviceBuffer<float>* d : {&d_in, &next, &first}) {
        const std::vector<float> poison(d->size(), std::nanf(""));
        RNNATTN_CUDA_CHECK(cudaMemcpyAsync(d->get(), poison.data(), poison.size() * sizeof(float),
                                           cudaMemcpyHostToDevice, s_));
        RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s_));
      }
      ASSERT_TRUE(kernels::gated_persistent_backward(&a, 1, t, s_));
      RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s_));
      const std::vector<std::vector<float>> got = {download(d_in), download(next), download(first)};
      if (want.empty()) {
        want = got;
        continue;
      }
      EXPECT_TRUE(test::all_close("d_in", got[0], want[0], 1e-5, 1e-5));
      EXPECT_TRUE(test::all_close("drec_next", got[1], want[1], 1e-5, 1e-5));
      EXPECT_TRUE(test::all_close("drec_first", got[2], want[2], 1e-5, 1e-5));
    }
  }
}

// What runs is what recurrence_for() says: the model's choice (kAuto) at the seed's size, at
// H = 1024 (persistent: too wide for a cluster) and at B3 H300 (cluster: Wh through L2 for the
// segment kernels), one layer and bidirectional, and each forced setting, forward and backward.
TEST_F(Simulator, RecurrenceChoiceIsWhatRuns) {
  ASSERT_TRUE(sim::set_device_layout("h100-sxm"));  // the H100 SXM's choices and clusters
  struct Want {
    int batch, hidden;
    cuda::Recurrence set;
    Cell cell = Cell::kElman;
    bool bidirectional = false;
  };
  for (const Want& w :
       {Want{1, 2, cuda::Recurrence::kAuto}, Want{2, 1024, cuda::Recurrence::kAuto},
        Want{3, 8, cuda::Recurrence::kPersistent}, Want{2, 1024, cuda::Recurrence::kSegment},
        Want{3, 300, cuda::Recurrence::kAuto}, Want{3, 8, cuda::Recurrence::kCluster},
        // A bidirectional Elman layer: the cluster layer kernels where the model picks them (B3
        // H300) or forced, the segment layer kernels at the seed's size.
        Want{3, 300, cuda::Recurrence::kAuto, Cell::kElman, true},
        Want{3, 8, cuda::Recurrence::kCluster, Cell::kElman, true},
        Want{1, 2, cuda::Recurrence::kAuto, Cell::kElman, true},
        // The gated cells: the model's choice at the seed's size (segment) and where the
        // segment kernels read Wh through L2 (persistent), and forced.
        Want{1, 2, cuda::Recurrence::kAuto, Cell::kLstm},
        Want{3, 129, cuda::Recurrence::kAuto, Cell::kLstm},
        Want{3, 129, cuda::Recurrence::kSegment, Cell::kGru},
        Want{2, 8, cuda::Recurrence::kPersistent, Cell::kGru}}) {
    ModelConfig cfg;
    cfg.cell = w.cell;
    cfg.hidden_size = w.hidden;
    cfg.bidirectional = w.bidirectional;
    cfg.steps = 3;
    cuda::Handle h(cfg, s_);
    h.set_recurrence(w.set);
    const cuda::Recurrence runs = h.recurrence_for(w.batch);
    if (w.set != cuda::Recurrence::kAuto) {
      EXPECT_EQ(runs, w.set);
    }
    SCOPED_TRACE("B = " + std::to_string(w.batch) + " H = " + std::to_string(w.hidden));
    const PassResult r = run_pass(h, cfg, w.batch);
    const bool persistent = runs == cuda::Recurrence::kPersistent;
    const bool clustered = runs == cuda::Recurrence::kCluster;
    const bool layer = w.bidirectional;  // the layer kernels, both directions in one launch
    EXPECT_EQ(count(r, "cluster_forward_kernel"), clustered && !layer ? 1 : 0);
    EXPECT_EQ(count(r, "cluster_backward_kernel"), clustered && !layer ? 1 : 0);
    EXPECT_EQ(count(r, "cluster_layer_forward_kernel"), clustered && layer ? 1 : 0);
    EXPECT_EQ(count(r, "cluster_layer_backward_kernel"), clustered && layer ? 1 : 0);
    if (layer) {
      EXPECT_EQ(
          count(r, "layer_forward_kernel<Wh in smem>") + count(r, "layer_forward_kernel<Wh in L2>"),
          clustered ? 0 : 1);
    }
    if (w.hidden == 300) {
      EXPECT_TRUE(clustered) << "B = 3 at H = 300 runs the cluster kernels";
    }
    // The kernels' names (exact): the Elman cell's, or the gated cell's template.
    char fwd[64] = "persistent_forward_kernel", bwd[64] = "persistent_backward_kernel";
    if (w.cell != Cell::kElman) {
      std::snprintf(fwd, sizeof fwd, "gated_persistent_forward_kernel<%s>", to_string(w.cell));
      std::snprintf(bwd, sizeof bwd, "gated_persistent_backward_kernel<%s>", to_string(w.cell));
    }
    EXPECT_EQ(count(r, fwd), persistent ? 1 : 0);
    EXPECT_EQ(count(r, bwd), persistent ? 1 : 0);
    if (w.hidden == 2) {
      EXPECT_FALSE(persistent) << "the seed's size runs the segment kernels";
    }
    if (w.hidden == 1024 && w.set == cuda::Recurrence::kAuto) {
      EXPECT_TRUE(persistent) << "H = 1024 at B = 2 runs the persistent kernels";
    }
    if (w.hidden == 129 && w.set == cuda::Recurrence::kAuto) {
      EXPECT_TRUE(persistent) << "an LSTM at H = 129 (Wh through L2) runs the persistent kernels";
    }
  }
}

}  // namespace
}  // namespace rnnattn
