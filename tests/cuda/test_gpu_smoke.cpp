// The smoke pass of a first GPU run (tools/gpu-check.sh runs it before anything else): one small
// case per design, path and cell, each launching its kernels once through the device API or a
// training session, each its own test so that one failure is recorded and the others still run.
// Each case prints the kernels it launched; a failure names the kernel (the launch error does).
// In the simulator build, GpuSmoke.CoversEveryKernel runs every case and checks that together they
// launch every kernel of the resource table (sim/kernel_resources.tsv): a kernel added to the
// library without a smoke case fails there, so the first GPU run reaches it.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "cuda/backend_cuda.hpp"
#include "cuda/cuda_test_util.hpp"
#include "cuda/plan.hpp"
#include "cuda/profiler.hpp"
#include "kernels/kernels.hpp"
#include "rnnattn/cuda.hpp"
#include "rnnattn/rnnattn.hpp"
#include "test_util.hpp"
#ifdef RNNATTN_GPU_SIMULATOR
#include "rnnattn_sim/sim.hpp"
#endif

namespace rnnattn {
namespace {

struct SmokeCase {
  std::string name;
  ModelConfig cfg;
  int batch = 3;
  cuda::Path path = cuda::Path::kFused;
  cuda::Recurrence rec = cuda::Recurrence::kAuto;
  bool train = false;  // a training session's epoch instead of the device API's passes
};

ModelConfig model(Cell cell, int hidden, bool bidirectional, int steps = 3) {
  ModelConfig cfg;
  cfg.cell = cell;
  cfg.input_size = 2;
  cfg.hidden_size = hidden;
  cfg.steps = steps;
  cfg.bidirectional = bidirectional;
  cfg.head = Activation::kSigmoid;
  return cfg;
}

void PrintTo(const SmokeCase& c, std::ostream* os) { *os << c.name; }

std::vector<SmokeCase> smoke_cases() {
  using R = cuda::Recurrence;
  const cuda::Path fused = cuda::Path::kFused, unfused = cuda::Path::kUnfused;
  std::vector<SmokeCase> c;
  // The Elman cell: segment kernels with Wh in shared memory and through L2, the persistent
  // kernels' two variants each way (a grid of at most one block an SM, and 171 blocks), the
  // cluster kernels, the kernels of a bidirectional layer's blocks (segment, cluster, and the
  // persistent kernels' two variants), the unfused path.
  c.push_back({"elman_segment_wh_in_smem", model(Cell::kElman, 8, false), 3, fused, R::kSegment});
  c.push_back(
      {"elman_segment_wh_in_l2", model(Cell::kElman, 300, false, 2), 2, fused, R::kSegment});
  c.push_back({"elman_persistent", model(Cell::kElman, 16, false, 2), 3, fused, R::kPersistent});
  c.push_back({"elman_persistent_171_blocks", model(Cell::kElman, 129, false, 2), 600, fused,
               R::kPersistent});
  c.push_back({"elman_cluster", model(Cell::kElman, 33, false), 5, fused, R::kCluster});
  c.push_back({"elman_bidir_cluster", model(Cell::kElman, 33, true), 5, fused, R::kCluster});
  c.push_back(
      {"elman_bidir_persistent", model(Cell::kElman, 16, true, 2), 3, fused, R::kPersistent});
  c.push_back({"elman_bidir_persistent_171_blocks", model(Cell::kElman, 129, true, 2), 600, fused,
               R::kPersistent});
  c.push_back(
      {"elman_bidir_segment_wh_in_smem", model(Cell::kElman, 8, true), 3, fused, R::kSegment});
  c.push_back(
      {"elman_bidir_segment_wh_in_l2", model(Cell::kElman, 300, true, 2), 2, fused, R::kSegment});
  c.push_back({"elman_unfused", model(Cell::kElman, 8, false), 3, unfused});
  // The gated cells: the one-layer kernels with the attention and head inside, the layer kernels
  // (bidirectional), each with Wh in shared memory and through L2; the persistent kernels; the
  // unfused path.
  for (Cell cell : {Cell::kLstm, Cell::kGru}) {
    const std::string n = to_string(cell);
    c.push_back({n + "_segment_head_wh_in_smem", model(cell, 8, false), 3, fused, R::kSegment});
    c.push_back({n + "_segment_head_wh_in_l2", model(cell, 150, false, 2), 2, fused, R::kSegment});
    c.push_back({n + "_bidir_segment_wh_in_smem", model(cell, 8, true), 3, fused, R::kSegment});
    c.push_back({n + "_bidir_segment_wh_in_l2", model(cell, 150, true, 2), 2, fused, R::kSegment});
    c.push_back({n + "_bidir_persistent", model(cell, 8, true), 3, fused, R::kPersistent});
    c.push_back({n + "_unfused", model(cell, 8, false), 3, unfused});
  }
  // Keras' dot-product attention after the recurrence (with use_scale: its gradient's GEMM too),
  // the notebook's bidirectional LSTM, and a training session's epoch of it with Dropout.
  ModelConfig dot = model(Cell::kLstm, 8, true);
  dot.score = AttentionScore::kDotScaled;
  c.push_back({"lstm_bidir_dot_attention", dot, 3, fused});
  SmokeCase td{"train_lstm_bidir_dot_attention_dropout", dot, 4};
  td.cfg.dropout = 0.5f;
  td.train = true;
  c.push_back(td);
  // Training sessions: the small-model epoch kernel (the tutorial's model), the graph-captured
  // step with its gather, loss and Adam kernels (H above the small kernel's 32), a token model's
  // embedding.
  SmokeCase t{"train_small_model_epoch", ModelConfig{}, 4};
  t.train = true;
  c.push_back(t);
  t.name = "train_captured_step";
  t.cfg = model(Cell::kElman, 40, false, 4);
  c.push_back(t);
  t.name = "train_tokens_lstm";
  t.cfg = model(Cell::kLstm, 6, true, 4);
  t.cfg.vocab_size = 23;
  t.cfg.input_size = 5;
  t.cfg.loss = Loss::kBce;
  c.push_back(t);
  return c;
}

std::vector<int> lengths_for(int batch, int steps) {
  std::vector<int> l(batch);
  for (int b = 0; b < batch; ++b) l[b] = b == 0 ? steps : 1 + (b * 5) % steps;
  return l;
}

// The device API's three passes (inference, training forward, backward) with lengths.
void run_passes(const SmokeCase& c, cudaStream_t s) {
  const ModelConfig& cfg = c.cfg;
  cuda::Handle h(cfg, s, nullptr, c.path);
  h.set_recurrence(c.rec);
  const auto p = init_parameters(cfg, 3);
  const auto x =
      test::random_vector<float>(static_cast<std::size_t>(c.batch) * cfg.steps * cfg.input_size, 4);
  const auto dy = test::random_vector<float>(static_cast<std::size_t>(c.batch), 5);
  const auto dp = test::to_device(p, s), dx = test::to_device(x, s), ddy = test::to_device(dy, s);
  const auto len = test::to_device(lengths_for(c.batch, cfg.steps), s);
  auto y = test::poisoned(c.batch, s), g = test::poisoned(p.size(), s);
  {
    DeviceBuffer<unsigned char> ws(h.workspace_size(c.batch, cuda::Pass::kInference));
    h.forward_inference(dp.get(), dx.get(), c.batch, y.get(), nullptr, ws.get(), ws.size(),
                        len.get());
  }
  DeviceBuffer<unsigned char> ws(h.workspace_size(c.batch)), rs(h.reserve_size(c.batch));
  h.forward_training(dp.get(), dx.get(), c.batch, y.get(), nullptr, nullptr, rs.get(), rs.size(),
                     ws.get(), ws.size(), len.get());
  h.backward(dp.get(), dx.get(), c.batch, y.get(), ddy.get(), rs.get(), rs.size(), g.get(), nullptr,
             cuda::GradMode::kOverwrite, ws.get(), ws.size(), len.get());
  for (float v : test::to_host(g, s)) ASSERT_TRUE(std::isfinite(v)) << "a gradient is not finite";
}

// Two epochs of a training session on the fused path (batches of 4, a tail).
void run_training(const SmokeCase& c) {
  const ModelConfig& cfg = c.cfg;
  const int n = 9;
  CudaBackend backend(cuda::Path::kFused);
  auto session = backend.start_training(cfg, AdamConfig{}, init_parameters(cfg, 3), AdamState{});
  std::vector<float> y(static_cast<std::size_t>(n) * cfg.output_size);
  for (int i = 0; i < n * cfg.output_size; ++i) y[i] = static_cast<float>(i % 2);
  std::vector<float> x;
  std::vector<int> tokens;
  if (cfg.vocab_size > 0) {
    tokens.resize(static_cast<std::size_t>(n) * cfg.steps);
    for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int>(i * 7 % 23);
    session->set_token_dataset(tokens.data(), y.data(), n);
  } else {
    x = test::random_vector<float>(static_cast<std::size_t>(n) * cfg.steps * cfg.input_size, 6);
    session->set_dataset(x.data(), y.data(), n);
  }
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = (i * 4) % n;
  for (int epoch = 0; epoch < 2; ++epoch) {
    ASSERT_TRUE(std::isfinite(session->train_epoch(order, c.batch))) << "the loss is not finite";
  }
}

void run_case(const SmokeCase& c) {
  if (c.train) return run_training(c);
  CudaStream stream;
  run_passes(c, stream.get());
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(stream.get()));
}

class GpuSmoke : public ::testing::TestWithParam<SmokeCase> {};

TEST_P(GpuSmoke, Runs) {
  SKIP_WITHOUT_GPU();
  const SmokeCase& c = GetParam();
  std::string launched;
  {
    cuda::Profiler profiler;
    run_case(c);
    for (const cuda::KernelProfile& k : profiler.results()) {
      launched += ' ';
      launched += k.kernel;
    }
  }
  std::printf("smoke %s: launched%s\n", c.name.c_str(), launched.c_str());
}

// The device as the plan sees it, printed for the GPU run's record: its attributes and, for each
// cluster kernel, the clusters of 1 to 8 blocks (one block an SM) that it holds at once; the
// plan's limits are these queries.
TEST(GpuDevice, ReportsItsLayout) {
  SKIP_WITHOUT_GPU();
  cudaDeviceProp prop{};
  RNNATTN_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  int clusters = 0, reserved = 0;
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&clusters, cudaDevAttrClusterLaunch, 0));
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&reserved, cudaDevAttrReservedSharedMemoryPerBlock, 0));
  std::printf(
      "device: %s, %d SMs, %zu bytes of shared memory a block (opt-in), %zu an SM, %d "
      "reserved a block, cooperative launch %d, cluster launch %d\n",
      prop.name, prop.multiProcessorCount, prop.sharedMemPerBlockOptin,
      prop.sharedMemPerMultiprocessor, reserved, prop.cooperativeLaunch, clusters);
  const cuda::GpuLimits limits = cuda::current_gpu_limits();
  EXPECT_EQ(limits.sms, prop.multiProcessorCount);
  for (const kernels::ClusterOccupancy& o : kernels::cluster_occupancy()) {
    std::string line;
    for (int n = 1; n <= kernels::kClusterMaxBlocks; ++n) {
      line += ' ';
      line += std::to_string(o.resident[n]);
    }
    std::printf("cudaOccupancyMaxActiveClusters %s, clusters of 1..8 blocks, one block an SM:%s\n",
                o.kernel, line.c_str());
    if (std::string(o.kernel) == "cluster_forward_kernel<elman, head>") {
      for (int n = 1; n <= kernels::kClusterMaxBlocks; ++n) {
        EXPECT_EQ(limits.resident_clusters[n], o.resident[n]) << n << "-block clusters";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Gpu, GpuSmoke, ::testing::ValuesIn(smoke_cases()),
                         [](const ::testing::TestParamInfo<SmokeCase>& i) { return i.param.name; });

#ifdef RNNATTN_GPU_SIMULATOR
// Together the cases launch every kernel the nvcc build compiles (the resource table's rows).
TEST(GpuSmokeCoverage, CoversEveryKernel) {
  ASSERT_TRUE(sim::set_device_layout("h100-sxm"));  // a device that runs every design
  std::set<std::string> launched;
  sim::set_launch_observer([&](const sim::LaunchStats& l) { launched.insert(l.signature); });
  for (const SmokeCase& c : smoke_cases()) {
    SCOPED_TRACE(c.name);
    run_case(c);
  }
  sim::set_launch_observer(nullptr);
  sim::set_device_layout("");
  for (const std::string& k : sim::table_signatures()) {
    EXPECT_TRUE(launched.count(k)) << "no smoke case launches " << k;
  }
}
#endif

}  // namespace
}  // namespace rnnattn
