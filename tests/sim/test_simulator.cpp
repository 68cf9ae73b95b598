// The GPU simulator's own tests (simulator build only): each planted bug (a removed
// __syncthreads, a swapped index, a read one past the end, an early return before a barrier,
// divergent barriers, shuffles naming lanes that do not take part, reads of never-written memory,
// forgotten stream ordering, allocation inside a graph capture) is caught with a message naming
// kernel, block, thread and address, and its correct twin runs clean; the counters match access
// patterns worked out by hand; the counters file gets one line per launch. The library's kernels
// under the simulator are tests/cuda/test_kernels_simulated.cpp's.
#include "sim/sim_fixture.hpp"
#include "sim/sim_kernels.hpp"

namespace rnnattn {
namespace {

namespace st = simtest;
using sim_test::Simulator;

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
    saw_forward |= line.find("segment_forward_kernel") != std::string::npos;
    saw_backward |= line.find("segment_backward_kernel") != std::string::npos;
  }
  EXPECT_GE(launches, 2);
  EXPECT_EQ(lines, launches);
  EXPECT_TRUE(saw_forward);
  EXPECT_TRUE(saw_backward);
}

}  // namespace
}  // namespace rnnattn
