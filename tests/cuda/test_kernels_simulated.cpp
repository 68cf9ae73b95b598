// The library's kernels under the GPU simulator's models (simulator build only): hazards only
// hardware would trip (cuBLAS's workspace reset by cublasSetStream, a refused cooperative launch,
// the shared-memory opt-in on every device, one persistent block an SM), the memory-access targets
// of the recurrent kernels, the gated persistent kernels' grids and pieces, and the recurrence
// that runs being the one the device API reports.
#include "sim/sim_fixture.hpp"

namespace rnnattn {
namespace {

using sim_test::PassResult;
using sim_test::Simulator;

// ---- hazards only hardware would trip, modelled here ---------------------------------------

// The library's kernels in the simulator, named apart from the simulator's own tests
// (tests/sim/test_simulator.cpp, fixture Simulator): the hazards of whole passes, and the kernels'
// access targets, grids and design choices.
class SimulatedPass : public Simulator {};
class SimulatedKernels : public Simulator {};

// cublasSetStream resets cuBLAS's workspace to its default pool (cuBLAS documents it; the
// simulator's cuBLAS models it and counts GEMMs on that pool, which may allocate). The device
// API's own handle and a caller's handle prepared on the handle's stream keep their workspaces.
TEST_F(SimulatedPass, CublasKeepsTheWorkspaceItWasGiven) {
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
TEST_F(SimulatedPass, RefusedCooperativeLaunchFallsBackToTheSegmentKernels) {
  ModelConfig cfg;
  cfg.hidden_size = 40;
  cfg.steps = 4;
  cuda::Handle segment(cfg, s_);
  segment.set_recurrence(cuda::Recurrence::kSegment);
  const PassResult want = run_pass(segment, cfg, 5);
  cuda::Handle h(cfg, s_);
  h.set_recurrence(cuda::Recurrence::kPersistent);
  const PassResult persistent = run_pass(h, cfg, 5);
  EXPECT_EQ(count(persistent, "persistent_forward_kernel<elman, head>"), 1);

  sim::set_refuse_cooperative(true);
  ::testing::internal::CaptureStderr();
  const PassResult first = run_pass(h, cfg, 5);
  const PassResult second = run_pass(h, cfg, 5);
  const std::string said = ::testing::internal::GetCapturedStderr();
  std::cout << said;
  EXPECT_EQ(count(first, "persistent_forward_kernel<elman, head>") +
                count(first, "persistent_backward_kernel<elman, head>"),
            0);
  EXPECT_EQ(first.y, want.y);  // the segment kernels ran: their bits
  EXPECT_EQ(first.grad, want.grad);
  EXPECT_EQ(second.grad, want.grad);
  for (const char* k :
       {"persistent_forward_kernel<elman, head>", "persistent_backward_kernel<elman, head>"}) {
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
TEST_F(SimulatedPass, LargeSharedMemoryLaunchesWorkOnEveryDevice) {
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
    EXPECT_EQ(count(got.back(), "segment_forward_kernel<elman, head, Wh in smem>"), 1)
        << "device " << device;
  }
  EXPECT_EQ(got[0].grad, got[1].grad);
  RNNATTN_CUDA_CHECK(cudaSetDevice(0));
  sim::set_device_count(1);
}

// A persistent grid of at most one block an SM asks for more than half an SM's shared memory:
// two of its blocks can never share an SM (which would slow every grid barrier).
TEST_F(SimulatedPass, PersistentBlocksHaveAnSmEach) {
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

// The memory-access targets (docs/performance.md) at their shape (B32 T4 D16 H256, a training
// step) and where Wh sits in shared memory (H64): every kernel that reads Wh or the hidden states
// loads with an efficiency of at least 0.8 and needs at most 1.25 shared wavefronts per request,
// for the segment kernels, the persistent ones and the cluster ones, and for the gated cells'
// segment kernels (rnn_gated.cu; a one-layer model's, with the attention and head inside) and
// persistent ones (rnn_persistent.cu, with the attention-and-head kernels). The targets are
// the tilings' on the default H100 SXM (another SM count gives other tilings: on an H100 PCIe the
// gated persistent kernels' at H = 64 take 1.27 wavefronts per ideal one).
TEST_F(SimulatedKernels, RecurrentKernelsMeetTheAccessTargets) {
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
TEST_F(SimulatedKernels, GatedPersistentRunsBothDirectionsInOneGrid) {
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
    std::snprintf(fwd, sizeof fwd, "persistent_forward_kernel<%s>", to_string(k.cell));
    std::snprintf(bwd, sizeof bwd, "persistent_backward_kernel<%s>", to_string(k.cell));
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
TEST_F(SimulatedKernels, GatedPersistentBackwardInPiecesMatchesWholeRows) {
  for (Cell cell : {Cell::kLstm, Cell::kGru}) {
    SCOPED_TRACE(to_string(cell));
    const int B = 5, T = 4, H = 40, G = cell == Cell::kLstm ? 4 : 3, A = G + 1, GH = G * H;
    kernels::PersistentTiling whole;
    ASSERT_TRUE(cuda::persistent_tiling(B, H, cuda::current_gpu_limits(), &whole, G));
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
    kernels::CellBackwardArgs a{};
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
      ASSERT_TRUE(kernels::persistent_backward(&a, 1, t, s_));
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
TEST_F(SimulatedKernels, RecurrenceChoiceIsWhatRuns) {
  ASSERT_TRUE(sim::set_device_layout("h100-sxm"));  // the H100 SXM's choices and clusters
  struct Want {
    int batch, hidden;
    cuda::Recurrence set;
    Cell cell = Cell::kElman;
    bool bidirectional = false;
    int layers = 1;
  };
  for (const Want& w :
       {Want{1, 2, cuda::Recurrence::kAuto}, Want{2, 1024, cuda::Recurrence::kAuto},
        Want{3, 8, cuda::Recurrence::kPersistent}, Want{2, 1024, cuda::Recurrence::kSegment},
        Want{3, 300, cuda::Recurrence::kAuto}, Want{3, 8, cuda::Recurrence::kCluster},
        // A bidirectional Elman layer: the cluster kernels where the model picks them (B3 H300)
        // or forced, the persistent kernels forced (both directions in one grid) and, for two
        // stacked layers, where the model picks them (H = 1024: too wide for a cluster), the
        // segment kernels at the seed's size.
        Want{3, 300, cuda::Recurrence::kAuto, Cell::kElman, true},
        Want{3, 8, cuda::Recurrence::kCluster, Cell::kElman, true},
        Want{3, 8, cuda::Recurrence::kPersistent, Cell::kElman, true},
        Want{2, 1024, cuda::Recurrence::kAuto, Cell::kElman, false, 2},
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
    cfg.layers = w.layers;
    cfg.steps = 3;
    cuda::Handle h(cfg, s_);
    h.set_recurrence(w.set);
    const cuda::Recurrence runs = h.recurrence_for(w.batch);
    if (w.set != cuda::Recurrence::kAuto) {
      EXPECT_EQ(runs, w.set);
    }
    SCOPED_TRACE("B = " + std::to_string(w.batch) + " H = " + std::to_string(w.hidden) + " " +
                 to_string(w.cell) + (w.bidirectional ? " bidirectional" : "") + " layers " +
                 std::to_string(w.layers));
    const PassResult r = run_pass(h, cfg, w.batch);
    const bool persistent = runs == cuda::Recurrence::kPersistent;
    const bool clustered = runs == cuda::Recurrence::kCluster;
    const bool layer = w.bidirectional || w.layers > 1;  // a block's kernels, not the head's
    EXPECT_EQ(count(r, "cluster_forward_kernel<elman, head>"), clustered && !layer ? 1 : 0);
    EXPECT_EQ(count(r, "cluster_backward_kernel<elman, head>"), clustered && !layer ? 1 : 0);
    EXPECT_EQ(count(r, "cluster_forward_kernel<elman>"), clustered && layer ? w.layers : 0);
    EXPECT_EQ(count(r, "cluster_backward_kernel<elman>"), clustered && layer ? w.layers : 0);
    if (layer) {
      EXPECT_EQ(count(r, "segment_forward_kernel<elman, Wh in smem>") +
                    count(r, "segment_forward_kernel<elman, Wh in L2>"),
                clustered || persistent ? 0 : w.layers);
    }
    if (w.hidden == 300) {
      EXPECT_TRUE(clustered) << "B = 3 at H = 300 runs the cluster kernels";
    }
    // The kernels' names (exact): the one-layer Elman model's with the head inside, or a
    // block's (the cell's; both directions of a layer in one grid at these sizes).
    char fwd[64] = "persistent_forward_kernel<elman, head>",
         bwd[64] = "persistent_backward_kernel<elman, head>";
    if (w.cell != Cell::kElman || layer) {
      std::snprintf(fwd, sizeof fwd, "persistent_forward_kernel<%s>", to_string(w.cell));
      std::snprintf(bwd, sizeof bwd, "persistent_backward_kernel<%s>", to_string(w.cell));
    }
    EXPECT_EQ(count(r, fwd), persistent ? w.layers : 0);
    EXPECT_EQ(count(r, bwd), persistent ? w.layers : 0);
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
