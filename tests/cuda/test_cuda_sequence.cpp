// The CUDA paths for sequence models against the CPU reference: lengths (fused, persistent,
// cluster and unfused one-layer kernels), the persistent and cluster kernels forced over their
// tilings and stacked / bidirectional models (rnn_layers.cu, both paths), through the device API;
// and the GPU trainer with lengths and two directions against the CPU trainer. Every test skips,
// saying why, where no GPU exists; the simulator build runs them all.
//
// Tolerances as test_cuda.cpp: forward |gpu - cpu| <= 1e-5 + 1e-5 |cpu|; gradients per tensor
// |gpu - cpu| <= 1e-4 (1 + max |cpu|). Outputs are poisoned (NaN) before each run.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "cuda/backend_cuda.hpp"
#include "cuda/cuda_test_util.hpp"
#include "cuda/runtime.hpp"
#include "rnnattn/rnnattn.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

using test::all_close;
using test::poisoned;
using test::random_vector;
using test::to_device;
using test::to_host;

struct SeqCase {
  int b, t, d, h, o;
  int layers;
  bool bidirectional, attention, lengths;
  cuda::Path path;
  cuda::Recurrence rec = cuda::Recurrence::kAuto;
  Cell cell = Cell::kElman;
};

std::string name_of(const SeqCase& c) {
  std::ostringstream s;
  s << (c.cell == Cell::kElman ? "" : to_string(c.cell) + std::string("_"))
    << (c.path == cuda::Path::kFused ? "fused" : "unfused") << "_B" << c.b << "_T" << c.t << "_D"
    << c.d << "_H" << c.h << "_O" << c.o << "_L" << c.layers << (c.bidirectional ? "_bidir" : "")
    << (c.attention ? "_attn" : "_plain") << (c.lengths ? "_lengths" : "")
    << (c.rec == cuda::Recurrence::kPersistent ? "_persistent"
        : c.rec == cuda::Recurrence::kSegment  ? "_segment"
        : c.rec == cuda::Recurrence::kCluster  ? "_cluster"
                                               : "");
  return s.str();
}

void PrintTo(const SeqCase& c, std::ostream* os) { *os << name_of(c); }

ModelConfig config_of(const SeqCase& c) {
  ModelConfig cfg;
  cfg.input_size = c.d;
  cfg.hidden_size = c.h;
  cfg.steps = c.t;
  cfg.output_size = c.o;
  cfg.layers = c.layers;
  cfg.bidirectional = c.bidirectional;
  cfg.attention = c.attention;
  cfg.head = Activation::kSigmoid;
  cfg.cell = c.cell;
  return cfg;
}

// The Elman cell's blocks of stacked and bidirectional models on the designs forced.
void add_layered_elman_cases(std::vector<SeqCase>& out) {
  // The cluster kernels forced on the Elman cell's blocks (stacked and bidirectional models, both
  // directions in one launch): one and two layers, each direction, lengths (groups packed by
  // length, each cluster stopping at its longest: the forward direction carries its state past
  // it, the backward one starts there) and without, three blocks of padding units at H = 33, 6
  // blocks x 3 slices at H = 257, 70 sequences, three layers, T = 1.
  const SeqCase layered_cluster[] = {
      {5, 7, 3, 8, 2, 1, true, true, true, cuda::Path::kFused},
      {5, 7, 3, 8, 2, 1, true, false, false, cuda::Path::kFused},
      {5, 7, 3, 8, 2, 2, true, true, true, cuda::Path::kFused},
      {4, 6, 2, 6, 1, 2, false, false, true, cuda::Path::kFused},
      {3, 5, 2, 33, 1, 1, true, true, true, cuda::Path::kFused},
      {40, 3, 2, 257, 1, 1, true, true, true, cuda::Path::kFused},
      {70, 6, 2, 4, 1, 2, true, true, true, cuda::Path::kFused},
      {2, 4, 2, 5, 1, 3, true, false, true, cuda::Path::kFused},
      {3, 1, 2, 16, 1, 1, true, true, true, cuda::Path::kFused},
      // 8 clusters of 8 blocks a direction, groups of 25, split 8 x 4 units, reduce-scatter
      {200, 2, 2, 128, 1, 1, true, true, true, cuda::Path::kFused},
  };
  for (SeqCase c : layered_cluster) {
    c.rec = cuda::Recurrence::kCluster;
    out.push_back(c);
  }

  // The persistent kernels forced on the Elman cell's blocks (rnn_persistent.cu, no head): both
  // directions in one grid, two and three layers, one direction, lengths and without, padding
  // units over three slices (H = 33), one sequence per group over 70 groups, T = 1, 171 blocks a
  // direction (more than the SMs: the 64-register variant, a direction at a time) and 4 units a
  // thread (B = 300, H = 128).
  const SeqCase layered_persistent[] = {
      {5, 7, 3, 8, 2, 1, true, true, true, cuda::Path::kFused},
      {5, 7, 3, 8, 2, 1, true, false, false, cuda::Path::kFused},
      {5, 7, 3, 8, 2, 2, true, true, true, cuda::Path::kFused},
      {4, 6, 2, 6, 1, 2, false, false, true, cuda::Path::kFused},
      {3, 5, 2, 33, 1, 1, true, true, true, cuda::Path::kFused},
      {70, 6, 2, 4, 1, 2, true, true, true, cuda::Path::kFused},
      {2, 4, 2, 5, 1, 3, true, false, true, cuda::Path::kFused},
      {3, 1, 2, 16, 1, 1, true, true, true, cuda::Path::kFused},
      {600, 2, 2, 129, 1, 1, true, true, true, cuda::Path::kFused},
      {300, 2, 2, 128, 1, 2, false, true, true, cuda::Path::kFused},
  };
  for (SeqCase c : layered_persistent) {
    c.rec = cuda::Recurrence::kPersistent;
    out.push_back(c);
  }
}

// The gated cells' cases.
void add_gated_cases(std::vector<SeqCase>& out) {
  // The gated cells (rnn_segment.cu, rnn_persistent.cu) on both paths: one layer and two, each
  // direction, attention and plain, with and without lengths; edges: one unit, a 64-thread segment,
  // three layers, several segments a block with a partial last block, and Wh staged in shared
  // memory (opt-in: LSTM H = 100 is 160 KB, GRU H = 129 200 KB) or read through L2 (LSTM H = 129,
  // GRU H = 150).
  for (Cell cell : {Cell::kLstm, Cell::kGru}) {
    for (cuda::Path path : {cuda::Path::kFused, cuda::Path::kUnfused}) {
      std::vector<SeqCase> gated;
      for (bool bidir : {false, true}) {
        for (bool attn : {true, false}) {
          for (bool len : {false, true})
            gated.push_back({5, 7, 3, 8, 2, 1, bidir, attn, len, path});
        }
      }
      gated.push_back({5, 7, 3, 8, 2, 2, true, true, true, path});
      gated.push_back({4, 6, 2, 6, 1, 2, false, false, true, path});
      gated.push_back({3, 4, 2, 1, 1, 1, true, true, true, path});
      gated.push_back({3, 5, 2, 33, 1, 1, true, true, true, path});
      gated.push_back({2, 4, 2, 5, 1, 3, true, false, true, path});
      gated.push_back({70, 6, 2, 4, 1, 2, true, true, true, path});
      if (path == cuda::Path::kFused) {
        for (int h : cell == Cell::kLstm ? std::vector<int>{100, 129} : std::vector<int>{129, 150})
          gated.push_back({3, 3, 2, h, 1, 1, false, true, true, path});
        // The one-layer kernels with the attention and head inside over the segment geometries:
        // one unit, a 64-thread segment (cross-warp sums, two outputs), several segments a
        // block with a partial last block, T = 1.
        for (bool attn : {true, false}) {
          gated.push_back({3, 4, 2, 1, 1, 1, false, attn, true, path});
          gated.push_back({3, 5, 2, 33, 2, 1, false, attn, true, path});
          gated.push_back({70, 6, 2, 4, 1, 1, false, attn, true, path});
        }
        gated.push_back({4, 1, 2, 16, 1, 1, false, true, true, path});
      }
      if (path == cuda::Path::kFused) {
        // The persistent kernels (rnn_persistent.cu) forced, block by block: one layer,
        // both directions, two layers, padding units over three slices (H = 33), one sequence
        // per group over 70 groups, T = 1, and H = 129 (9 slices); the segment kernels forced on
        // every case above (the model picks the persistent ones at H = 129 and 150).
        for (SeqCase& c : gated) c.rec = cuda::Recurrence::kSegment;
        std::vector<SeqCase> persistent;
        for (bool attn : {true, false}) {
          for (bool len : {true, false})
            persistent.push_back({5, 7, 3, 8, 2, 1, false, attn, len, path});
        }
        persistent.push_back({5, 7, 3, 8, 2, 1, true, true, true, path});
        persistent.push_back({5, 7, 3, 8, 2, 2, true, true, true, path});
        persistent.push_back({3, 5, 2, 33, 1, 1, true, true, true, path});
        persistent.push_back({70, 6, 2, 4, 1, 1, true, true, true, path});
        persistent.push_back({4, 1, 2, 16, 1, 1, false, true, true, path});
        persistent.push_back({3, 3, 2, 129, 1, 1, false, false, true, path});
        // The notebook's layer (B128 H256): both directions in one grid of 256 blocks, the
        // backward with split 8 x 2 units and (the LSTM) its rows in 2 pieces.
        persistent.push_back({128, 4, 3, 256, 1, 1, true, true, true, path});
        for (SeqCase& c : persistent) c.rec = cuda::Recurrence::kPersistent;
        gated.insert(gated.end(), persistent.begin(), persistent.end());
      }
      for (SeqCase& c : gated) {
        c.cell = cell;
        out.push_back(c);
      }
    }
  }
}

std::vector<SeqCase> cases() {
  std::vector<SeqCase> out;
  for (cuda::Path path : {cuda::Path::kFused, cuda::Path::kUnfused}) {
    for (int layers : {1, 2}) {
      for (bool bidir : {false, true}) {
        for (bool attn : {true, false}) {
          for (bool len : {false, true}) {
            if (layers == 1 && !bidir && !len) continue;  // test_cuda.cpp's sweep
            out.push_back({5, 7, 3, 8, 2, layers, bidir, attn, len, path});
          }
        }
      }
    }
    // Edges: one unit; a 64-thread segment (cross-warp reductions) with C = 66; three layers;
    // H = 257 with lengths (whichever kernels the model picks; the forced cases below cover both);
    // B over one block's segments.
    out.push_back({3, 4, 2, 1, 1, 1, true, true, true, path});
    out.push_back({3, 5, 2, 33, 1, 1, true, true, true, path});
    out.push_back({2, 4, 2, 5, 1, 3, true, false, true, path});
    out.push_back({3, 3, 2, 257, 1, 1, false, true, true, path});
    out.push_back({70, 6, 2, 4, 1, 2, true, true, true, path});
  }
  // The persistent kernels forced (host/cuda/plan.hpp's tiling on an H100, as the simulator
  // reports): every split (2, 4, 8, 16), 1 to 4 rows per thread, 1, 2 and 4 units a thread (with
  // the reduce-scatter), rows staged by 4- and 16-byte loads (H a multiple of 4 or not), a last
  // batch group with fewer sequences, hidden units past H in the last slice, H = 1, 1024 (64
  // slices), T = 1.
  const int persistent[][5] = {
      // B, T, D, H, O
      {1, 20, 1, 2, 1},     // the seed: split 2, one row (also without lengths)
      {2, 3, 2, 1, 1},      // H = 1
      {5, 4, 3, 33, 2},     // 3 slices, 15 padding units
      {40, 3, 2, 257, 1},   // split 8, 2 rows, groups of 6 (the last of 4)
      {301, 3, 2, 16, 1},   // split 4, one row, 101 groups of 3 (the last of 1)
      {70, 4, 3, 100, 2},   // split 8, 16-byte staging
      {280, 2, 2, 129, 1},  // split 8 x 4 units, reduce-scatter, groups of 20, 4-byte staging
      {168, 3, 2, 129, 2},  // split 4, 3 rows, 4-byte staging
      {168, 2, 2, 128, 1},  // split 8 x 2 units, groups of 11 (the last of 3), 16-byte staging
      {300, 2, 2, 128, 1},  // split 8 x 4 units, groups of 19, 16-byte staging
      {600, 2, 2, 129, 1},  // 171 blocks, more than the SMs: the forward's <4, 4> variant
      {1, 3, 2, 1024, 1},   // 64 slices
      {3, 1, 2, 64, 1},     // T = 1
      {4, 1, 2, 16, 1},     // one slice and T = 1 (also without lengths)
      {9, 2, 3, 7, 2},      // one slice, 9 padding units
  };
  for (const auto& s : persistent) {
    for (bool attn : {true, false}) {
      // With lengths (a plain model's dL/dh passes back through the padding); without them for
      // the first shapes.
      for (bool len : {true, false}) {
        if (!len && s[3] > 2 && s[1] > 1) continue;
        SeqCase c{s[0], s[1], s[2], s[3], s[4], 1, false, attn, len, cuda::Path::kFused};
        c.rec = cuda::Recurrence::kPersistent;
        out.push_back(c);
      }
    }
  }
  // The cluster kernels forced (rnn_cluster.cu; plan.hpp's cluster tiling on an H100, as the
  // simulator reports): clusters of 1 to 8 blocks, 1 to 4 slices a block (a block of padding
  // units past H at H = 257), groups of one sequence (each cluster stopping at its own length)
  // up to 32 (split 2, 4 rows), the last group partial, H = 512 (8 blocks x 4 slices), T = 1.
  // With lengths the groups are packed by length (the lengths below put sequence 0 at T and the
  // rest between 1 and T).
  const int cluster[][5] = {
      // B, T, D, H, O
      {1, 20, 1, 2, 1},     // the seed: one block a cluster
      {2, 3, 2, 1, 1},      // H = 1
      {5, 4, 3, 33, 2},     // 3 blocks, 15 padding units, groups of one
      {40, 3, 2, 257, 1},   // 6 blocks x 3 slices (the last block all padding), groups of 3
      {70, 4, 3, 100, 2},   // 7 blocks, groups of 5
      {500, 2, 2, 300, 1},  // 7 blocks x 3 slices, groups of 32 (16 clusters), the last of 20,
                            // split 8 x 4 units a thread, reduce-scatter
      {200, 2, 2, 128, 1},  // 8 blocks, groups of 13, split 8 x 2 units, reduce-scatter
      {1, 3, 2, 512, 1},    // 8 blocks x 4 slices
      {3, 1, 2, 64, 1},     // T = 1
      {9, 6, 3, 7, 2},      // one slice, 9 padding units, groups of one
  };
  for (const auto& s : cluster) {
    for (bool attn : {true, false}) {
      for (bool len : {true, false}) {
        if (!len && s[3] > 2 && s[1] > 1 && s[0] != 40) continue;
        SeqCase c{s[0], s[1], s[2], s[3], s[4], 1, false, attn, len, cuda::Path::kFused};
        c.rec = cuda::Recurrence::kCluster;
        out.push_back(c);
      }
    }
  }
  add_layered_elman_cases(out);
  // And the segment kernels forced: where the model picks the persistent ones, and the fused
  // forward and backward with lengths over the segment geometries: the seed, T = 1, a 64-thread
  // segment (cross-warp sums), several segments a block with a partial last block, Wh in shared
  // memory at H = 129 (66 KB, opt-in), Wh through L2 at H = 300.
  const int segment[][5] = {
      // B, T, D, H, O
      {1, 3, 2, 1024, 1}, {1, 20, 1, 2, 1},  {6, 1, 2, 5, 1},   {5, 6, 3, 33, 2},
      {37, 5, 2, 12, 1},  {9, 4, 2, 129, 1}, {3, 3, 2, 300, 2},
  };
  for (const auto& s : segment) {
    for (bool attn : {true, false}) {
      if (s[3] == 1024 && !attn) continue;
      SeqCase c{s[0], s[1], s[2], s[3], s[4], 1, false, attn, true, cuda::Path::kFused};
      c.rec = cuda::Recurrence::kSegment;
      out.push_back(c);
    }
  }
  add_gated_cases(out);
  return out;
}

// Lengths that cover 1, T and padding in between, deterministic per batch index.
std::vector<int> lengths_for(const SeqCase& c) {
  std::vector<int> l(c.b);
  for (int b = 0; b < c.b; ++b) l[b] = b == 0 ? c.t : 1 + (b * 5) % c.t;
  return l;
}

struct Result {
  std::vector<float> y, attention, hidden, dparams, dx;
};

Result cpu_run(const SeqCase& c, const std::vector<float>& p, const std::vector<float>& x,
               const std::vector<float>& dy, const int* len) {
  const ModelConfig cfg = config_of(c);
  Result r;
  r.y.resize(static_cast<std::size_t>(c.b) * c.o);
  r.hidden.resize(static_cast<std::size_t>(c.b) * c.t * cfg.context_size());
  if (c.attention) r.attention.resize(static_cast<std::size_t>(c.b) * c.t);
  reference_forward<float>(cfg, p.data(), x.data(), c.b, r.y.data(),
                           c.attention ? r.attention.data() : nullptr, r.hidden.data(), nullptr,
                           len);
  r.dparams.resize(p.size());
  r.dx.resize(x.size());
  reference_backward<float>(cfg, p.data(), x.data(), c.b, dy.data(), r.dparams.data(), r.dx.data(),
                            len);
  return r;
}

DeviceBuffer<unsigned char> scratch(std::size_t n, cudaStream_t s) {
  DeviceBuffer<unsigned char> d(n, "test scratch");
  if (n) RNNATTN_CUDA_CHECK(cudaMemsetAsync(d.get(), 0xFF, n, s));
  return d;
}

// Inference forward (y, attention), then training forward (hidden) and backward (dparams, dx).
Result gpu_run(const SeqCase& c, const std::vector<float>& p, const std::vector<float>& x,
               const std::vector<float>& dy, const std::vector<int>* len,
               std::vector<float>* inference_y) {
  const ModelConfig cfg = config_of(c);
  CudaStream stream;
  const cudaStream_t s = stream.get();
  cuda::Handle h(cfg, s, nullptr, c.path);
  h.set_recurrence(c.rec);
  if (c.rec != cuda::Recurrence::kAuto) {  // the forced kernels really run (or their fallback)
    EXPECT_EQ(h.recurrence_for(c.b), test::design_run_for(c.rec));
  }
  const auto dp = to_device(p, s), dxin = to_device(x, s), ddy = to_device(dy, s);
  DeviceBuffer<int> dlen;
  if (len) dlen = to_device(*len, s);
  const std::size_t bt = static_cast<std::size_t>(c.b) * c.t;
  {
    auto y = poisoned(static_cast<std::size_t>(c.b) * c.o, s);
    auto ws = scratch(h.workspace_size(c.b, cuda::Pass::kInference), s);
    h.forward_inference(dp.get(), dxin.get(), c.b, y.get(), nullptr, ws.get(), ws.size(),
                        dlen.get());
    *inference_y = to_host(y, s);
  }
  auto y = poisoned(static_cast<std::size_t>(c.b) * c.o, s);
  DeviceBuffer<float> da;
  if (c.attention) da = poisoned(bt, s);
  auto dh = poisoned(bt * cfg.context_size(), s);
  auto g = poisoned(p.size(), s), gx = poisoned(x.size(), s);
  auto ws = scratch(h.workspace_size(c.b), s);
  auto rs = scratch(h.reserve_size(c.b), s);
  h.forward_training(dp.get(), dxin.get(), c.b, y.get(), da.get(), dh.get(), rs.get(), rs.size(),
                     ws.get(), ws.size(), dlen.get());
  h.backward(dp.get(), dxin.get(), c.b, y.get(), ddy.get(), rs.get(), rs.size(), g.get(), gx.get(),
             cuda::GradMode::kOverwrite, ws.get(), ws.size(), dlen.get());
  Result r;
  r.y = to_host(y, s);
  if (c.attention) r.attention = to_host(da, s);
  r.hidden = to_host(dh, s);
  r.dparams = to_host(g, s);
  r.dx = to_host(gx, s);
  return r;
}

::testing::AssertionResult scaled_close(const std::string& name, const std::vector<float>& got,
                                        const std::vector<float>& want) {
  float m = 0;
  for (float v : want) m = std::max(m, std::fabs(v));
  return all_close(name, got, want, 1e-4 * (1 + m), 0.0);
}

class CudaSequence : public ::testing::TestWithParam<SeqCase> {};

// What the planner makes of the case on this device, its tilings included, for the trace: the
// case's name gives the shape, the plan what the kernels ran on.
std::string plan_of(const SeqCase& c, const ModelConfig& cfg) {
  if (c.path == cuda::Path::kUnfused) return "the unfused path";
  const cuda::GpuLimits gpu = cuda::current_gpu_limits();
  if (cfg.cell != Cell::kElman) {
    return cuda::plan_gated(c.b, c.h, gates_of(cfg.cell), gpu, cfg.directions()).describe();
  }
  if (cfg.single_layer()) return cuda::plan_recurrence(c.b, c.h, gpu).describe();
  return cuda::plan_layer(c.b, c.h, cfg.directions(), gpu).describe();
}

TEST_P(CudaSequence, MatchesTheCpuReference) {
  SKIP_WITHOUT_GPU();
  const SeqCase& c = GetParam();
  const ModelConfig cfg = config_of(c);
  SCOPED_TRACE("the planner (a design named in the case is forced): " + plan_of(c, cfg));
  const ParamLayout layout(cfg);
  std::vector<float> p = random_vector<float>(layout.size(), 901, -0.5, 0.5);
  for (const ParamLayout::Block& blk : layout.blocks()) {  // a stable recurrence
    for (int i = 0; i < c.h * blk.gates * c.h; ++i)
      p[blk.wh + i] /= std::sqrt(static_cast<float>(c.h));
  }
  std::vector<float> x = random_vector<float>(static_cast<std::size_t>(c.b) * c.t * c.d, 902);
  const std::vector<float> dy = random_vector<float>(static_cast<std::size_t>(c.b) * c.o, 903);
  const std::vector<int> len = lengths_for(c);
  const std::vector<int>* lp = c.lengths ? &len : nullptr;
  if (c.lengths) {  // garbage on the padding must not matter
    for (int b = 0; b < c.b; ++b) {
      for (std::size_t i = static_cast<std::size_t>(len[b]) * c.d;
           i < static_cast<std::size_t>(c.t) * c.d; ++i) {
        x[static_cast<std::size_t>(b) * c.t * c.d + i] = 1e4f;
      }
    }
  }
  const Result want = cpu_run(c, p, x, dy, lp ? lp->data() : nullptr);
  std::vector<float> inference_y;
  const Result got = gpu_run(c, p, x, dy, lp, &inference_y);
  EXPECT_TRUE(all_close("y (inference)", inference_y, want.y, 1e-5, 1e-5));
  EXPECT_TRUE(all_close("y (training)", got.y, want.y, 1e-5, 1e-5));
  if (c.attention) {
    EXPECT_TRUE(all_close("attention", got.attention, want.attention, 1e-5, 1e-5));
  }
  EXPECT_TRUE(all_close("hidden", got.hidden, want.hidden, 1e-5, 1e-5));
  for (const TensorInfo& t : layout.tensors()) {
    const std::vector<float> g(got.dparams.begin() + t.offset,
                               got.dparams.begin() + t.offset + t.size());
    const std::vector<float> w(want.dparams.begin() + t.offset,
                               want.dparams.begin() + t.offset + t.size());
    EXPECT_TRUE(scaled_close("d" + t.name, g, w));
  }
  EXPECT_TRUE(scaled_close("dx", got.dx, want.dx));
}

INSTANTIATE_TEST_SUITE_P(Gpu, CudaSequence, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<SeqCase>& i) {
                           return name_of(i.param);
                         });

// The GPU trainer (captured step with gathered lengths) follows the CPU trainer on a
// bidirectional two-layer model with lengths, and on a one-layer model with lengths (which must
// leave the small-model epoch kernel for the captured step); and so do the gated cells, a
// one-layer LSTM and a bidirectional two-layer GRU (Cli.TrainsOnTheGpuLikeOnTheCpu trains them
// without lengths, where the small-model kernel, Elman only, must not take them).
TEST(CudaSequenceTraining, FollowsTheCpuTrainerWithLengths) {
  SKIP_WITHOUT_GPU();
  SentimentOptions o;
  o.train = 23;
  o.test = 1;
  o.dim = 3;
  o.min_length = 7;
  o.max_length = 12;
  o.neutral_tokens = 10;
  o.sentiment_tokens = 2;
  const SplitData d = sentiment_data(o);
  const std::pair<bool, Cell> models[] = {
      {true, Cell::kElman}, {false, Cell::kElman}, {false, Cell::kLstm}, {true, Cell::kGru}};
  for (const auto& [deep, cell] : models) {
    ModelConfig cfg;
    cfg.cell = cell;
    cfg.input_size = 3;
    cfg.hidden_size = 6;
    cfg.steps = 12;
    cfg.layers = deep ? 2 : 1;
    cfg.bidirectional = deep;
    cfg.head = Activation::kSigmoid;
    cfg.loss = Loss::kBce;
    for (cuda::Path path : {cuda::Path::kFused, cuda::Path::kUnfused}) {
      SCOPED_TRACE(describe(cfg) + (path == cuda::Path::kFused ? " fused" : " unfused"));
      auto cpu = make_backend(Device::kCpu);
      CudaBackend gpu(path);
      Model mc = make_model(cfg, 5, AdamConfig{0.01f}), mg = mc;
      const TrainOptions opt{.epochs = 3, .batch_size = 4, .seed = 2};
      const TrainHistory hc = fit(*cpu, mc, d.train, opt);
      const TrainHistory hg = fit(gpu, mg, d.train, opt);
      for (int e = 0; e < 3; ++e) {
        EXPECT_NEAR(hg.epoch_loss[e], hc.epoch_loss[e], 1e-4 * (1 + std::fabs(hc.epoch_loss[e])))
            << "epoch " << e + 1;
      }
      EXPECT_TRUE(all_close("params after training", mg.params, mc.params, 1e-4, 1e-3));
    }
  }
}

// What the GPU cannot take is refused by name before anything runs.
TEST(CudaSequence, WideBidirectionalModelsAreRefusedByName) {
  SKIP_WITHOUT_GPU();
  ModelConfig cfg;
  cfg.hidden_size = 600;
  cfg.bidirectional = true;
  try {
    cuda::Handle h(cfg);
    FAIL() << "C = 1200 was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("C = 1200"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rnnattn
