// The GPU recurrence sweep: every (cell, layers, directions, lengths, attention, head, design)
// case the GPU runs, against the CPU reference, through the device API. One test body; the cases
// say what they exercise, and the trace prints the shape and the planner's tiling. Every test
// skips, saying why, where no GPU exists; the simulator build runs them all.
//
// Designs: `auto` is the planner's choice (host/cuda/plan.hpp), `segment`, `persistent` and
// `cluster` are forced through Handle::set_recurrence (the cluster design falls back to the
// segment kernels on a device without clusters, as documented), `unfused` is the step-by-step path.
//
// Tolerances (float32 on both sides; the CPU reference accumulates in another order):
//   y (inference and training), attention weights, hidden states: |gpu - cpu| <= 1e-5 + 1e-5 |cpu|;
//   gradients, per tensor: |gpu - cpu| <= 1e-4 (1 + max |cpu| of the tensor): the weight gradients
//   are sums over B*T terms that cuBLAS adds in another order, so the bound scales with the tensor.
// Outputs, workspaces and reserves are poisoned (all bits set: NaN) before each run, so an element
// a kernel forgets to write fails; with lengths, the padding's inputs are 1e4, so reading them
// fails too.
//
// Two instantiations: `GpuSanitized` holds the cases tools/gpu-check.sh runs under
// compute-sanitizer (a set that still reaches every kernel and tiling), `Gpu` the rest.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <sstream>

#include "cuda/backend_cuda.hpp"
#include "cuda/cuda_test_util.hpp"
#include "cuda/runtime.hpp"
#include "rnnattn/dropout.hpp"
#include "rnnattn/rnnattn.hpp"
#include "test_util.hpp"
#ifdef RNNATTN_GPU_SIMULATOR
#include "rnnattn_sim/sim.hpp"
#endif

namespace rnnattn {
namespace {

using test::all_close;
using test::poisoned;
using test::random_vector;
using test::scratch;
using test::to_device;
using test::to_host;

enum class Design { kAuto, kSegment, kPersistent, kCluster, kUnfused };

const char* to_string(Design d) {
  switch (d) {
    case Design::kAuto:
      return "auto";
    case Design::kSegment:
      return "segment";
    case Design::kPersistent:
      return "persistent";
    case Design::kCluster:
      return "cluster";
    case Design::kUnfused:
      return "unfused";
  }
  return "?";
}

struct Shape {
  int b, t, d, h, o;
};

struct Case {
  const char* what;  // what the case exercises, in a few words: its name
  Shape s;
  Design design = Design::kAuto;
  Cell cell = Cell::kElman;
  int layers = 1;
  bool bidirectional = false, attention = true, lengths = true;
  AttentionScore score = AttentionScore::kAdditive;  // with attention
  float dropout = 0.f;                               // on the context, in training
  Activation head = Activation::kSigmoid;
  bool accumulate = false;  // the backward also runs with GradMode::kAccumulate
  bool sanitized = false;   // in the compute-sanitizer set
};

std::string name_of(const Case& c) {
  std::ostringstream n;
  n << rnnattn::to_string(c.cell) << '_' << to_string(c.design) << '_' << c.what;
  if (c.layers > 1) n << "_L" << c.layers;
  n << (c.bidirectional ? "_bidir" : "")
    << (!c.attention                           ? "_plain"
        : c.score == AttentionScore::kAdditive ? "_attn"
        : c.score == AttentionScore::kDot      ? "_dot"
                                               : "_dotscaled")
    << (c.lengths ? "_lengths" : "") << (c.dropout > 0.f ? "_dropout" : "");
  if (c.head != Activation::kSigmoid) n << '_' << rnnattn::to_string(c.head);
  return n.str();
}

void PrintTo(const Case& c, std::ostream* os) { *os << name_of(c); }

ModelConfig config_of(const Case& c) {
  ModelConfig cfg;
  cfg.input_size = c.s.d;
  cfg.hidden_size = c.s.h;
  cfg.steps = c.s.t;
  cfg.output_size = c.s.o;
  cfg.layers = c.layers;
  cfg.bidirectional = c.bidirectional;
  cfg.attention = c.attention;
  cfg.score = c.score;
  cfg.dropout = c.dropout;
  cfg.head = c.head;
  cfg.cell = c.cell;
  return cfg;
}

// Each case of `base` on `design`, once with attention and once without, with lengths and (where
// `without_lengths_too` holds for the shape) without; the sanitized ones with lengths.
template <typename Pred>
void add_forced(std::vector<Case>& out, Design design, const std::vector<Case>& base,
                Pred without_lengths_too) {
  for (const Case& c : base) {
    for (bool attn : {true, false}) {
      for (bool len : {true, false}) {
        if (!len && !without_lengths_too(c.s)) continue;
        Case v = c;
        v.design = design;
        v.attention = attn;
        v.lengths = len;
        v.sanitized = c.sanitized && len;
        out.push_back(v);
      }
    }
  }
}

// The one-layer Elman model on the planner's choice and on the unfused path, without lengths:
// 1, odd sizes, warp and block edges +-1 (H 31, 32, 33, 127, 128, 129, 1024), every head, several
// outputs, and GradMode::kAccumulate; H >= 256 runs the segment or the persistent kernels as the
// planner chooses. Each large dimension on its own, so the CPU reference stays quick.
void add_one_layer_sweep(std::vector<Case>& out) {
  const Case shapes[] = {
      {.what = "ones", .s = {1, 1, 1, 1, 1}},
      {.what = "seed", .s = {1, 20, 1, 2, 1}},
      {.what = "odd_sizes", .s = {5, 2, 3, 7, 2}},
      {.what = "seed_130_sequences", .s = {130, 20, 1, 2, 1}},
      {.what = "warp_minus_1", .s = {3, 5, 3, 31, 1}},
      {.what = "warp", .s = {3, 5, 2, 32, 2}},
      {.what = "warp_plus_1", .s = {3, 5, 1, 33, 1}, .sanitized = true},
      {.what = "block_minus_1", .s = {2, 3, 4, 127, 1}},
      {.what = "block", .s = {2, 3, 4, 128, 2}},
      {.what = "block_plus_1", .s = {2, 3, 4, 129, 1}, .sanitized = true},
      {.what = "H257_two_sequences", .s = {2, 2, 3, 257, 1}},
      {.what = "H256", .s = {3, 4, 2, 256, 1}, .sanitized = true},
      {.what = "H1024", .s = {2, 2, 2, 1024, 1}, .sanitized = true},
      {.what = "T2000", .s = {2, 2000, 1, 4, 1}},
      {.what = "B512", .s = {512, 4, 2, 8, 1}},
      {.what = "three_outputs", .s = {65, 7, 5, 64, 3}},
      // the planner's persistent kernels: groups of 3, H not a multiple of 16; several outputs
      {.what = "persistent_groups_of_3", .s = {20, 3, 2, 257, 1}, .sanitized = true},
      {.what = "persistent_three_outputs", .s = {5, 3, 2, 256, 3}},
  };
  for (const Case& shape : shapes) {
    for (Design design : {Design::kAuto, Design::kUnfused}) {
      for (bool attn : {true, false}) {
        for (Activation a : {Activation::kTanh, Activation::kLinear, Activation::kSigmoid}) {
          Case c = shape;
          c.design = design;
          c.attention = attn;
          c.lengths = false;
          c.head = a;
          c.accumulate = true;
          // every head of the odd sizes, one variant of the rest
          c.sanitized = std::string(c.what) == "odd_sizes" ||
                        (shape.sanitized && attn && a == Activation::kTanh);
          out.push_back(c);
        }
      }
    }
  }
}

// Elman models with lengths, stacked and bidirectional ones, on the planner's choice and on the
// unfused path; edges: one unit, a 64-thread segment (cross-warp reductions) with C = 66, three
// layers, H = 257 (whichever kernels the planner picks; the forced cases cover both), B over one
// block's segments.
void add_sequence_models(std::vector<Case>& out) {
  for (Design d : {Design::kAuto, Design::kUnfused}) {
    for (int layers : {1, 2}) {
      for (bool bidir : {false, true}) {
        for (bool attn : {true, false}) {
          for (bool len : {false, true}) {
            if (layers == 1 && !bidir && !len) continue;  // the one-layer sweep's
            const bool sanitized =
                (layers == 2 && bidir && attn && len) || (layers == 1 && !bidir && !attn);
            out.push_back({.what = "small",
                           .s = {5, 7, 3, 8, 2},
                           .design = d,
                           .layers = layers,
                           .bidirectional = bidir,
                           .attention = attn,
                           .lengths = len,
                           .sanitized = sanitized});
          }
        }
      }
    }
    const Case edges[] = {
        {.what = "one_unit", .s = {3, 4, 2, 1, 1}, .design = d, .bidirectional = true},
        {.what = "segment64",
         .s = {3, 5, 2, 33, 1},
         .design = d,
         .bidirectional = true,
         .sanitized = true},
        {.what = "three_layers",
         .s = {2, 4, 2, 5, 1},
         .design = d,
         .layers = 3,
         .bidirectional = true,
         .attention = false,
         .sanitized = true},
        {.what = "H257", .s = {3, 3, 2, 257, 1}, .design = d, .sanitized = true},
        {.what = "70_sequences",
         .s = {70, 6, 2, 4, 1},
         .design = d,
         .layers = 2,
         .bidirectional = true},
    };
    out.insert(out.end(), std::begin(edges), std::end(edges));
  }
}

// The persistent kernels forced on the one-layer Elman model (the planner's tiling on an H100, as
// the simulator reports it): every split (2, 4, 8, 16), 1 to 4 rows a thread, 1, 2 and 4 units a
// thread (with the reduce-scatter), rows staged by 4- and 16-byte loads (H a multiple of 4 or
// not), a last batch group with fewer sequences, units past H in the last slice, H = 1 and 1024,
// T = 1. A plain model's dL/dh passes back through the padding with lengths.
void add_persistent_elman(std::vector<Case>& out) {
  const std::vector<Case> base = {
      {.what = "seed_split2", .s = {1, 20, 1, 2, 1}, .sanitized = true},
      {.what = "H1", .s = {2, 3, 2, 1, 1}},
      {.what = "3_slices_15_padding_units", .s = {5, 4, 3, 33, 2}, .sanitized = true},
      {.what = "split8_2rows_partial_last_group", .s = {40, 3, 2, 257, 1}, .sanitized = true},
      {.what = "split4_101_groups_the_last_of_1", .s = {301, 3, 2, 16, 1}},
      {.what = "split8_staging16", .s = {70, 4, 3, 100, 2}},
      {.what = "4_units_reduce_scatter_staging4", .s = {280, 2, 2, 129, 1}, .sanitized = true},
      {.what = "split4_3rows_staging4", .s = {168, 3, 2, 129, 2}, .sanitized = true},
      {.what = "2_units_partial_last_group", .s = {168, 2, 2, 128, 1}, .sanitized = true},
      {.what = "4_units_staging16", .s = {300, 2, 2, 128, 1}, .sanitized = true},
      {.what = "171_blocks_capped_variant", .s = {600, 2, 2, 129, 1}, .sanitized = true},
      {.what = "64_slices", .s = {1, 3, 2, 1024, 1}, .sanitized = true},
      {.what = "T1", .s = {3, 1, 2, 64, 1}},
      {.what = "one_slice_T1", .s = {4, 1, 2, 16, 1}, .sanitized = true},
      {.what = "one_slice_9_padding_units", .s = {9, 2, 3, 7, 2}},
  };
  add_forced(out, Design::kPersistent, base, [](Shape s) { return s.h <= 2 || s.t == 1; });
}

// The cluster kernels forced on the one-layer Elman model (the planner's cluster tiling on an
// H100): clusters of 1 to 8 blocks, 1 to 4 slices a block (a block of padding units past H at
// H = 257), groups of one sequence (each cluster stopping at its own length) up to 32 (split 2,
// 4 rows), the last group partial, T = 1. With lengths the groups are packed by length.
void add_cluster_elman(std::vector<Case>& out) {
  const std::vector<Case> base = {
      {.what = "seed_one_block", .s = {1, 20, 1, 2, 1}, .sanitized = true},
      {.what = "H1", .s = {2, 3, 2, 1, 1}},
      {.what = "3_blocks_groups_of_1", .s = {5, 4, 3, 33, 2}, .sanitized = true},
      {.what = "6_blocks_3_slices_a_padding_block", .s = {40, 3, 2, 257, 1}, .sanitized = true},
      {.what = "7_blocks_groups_of_5", .s = {70, 4, 3, 100, 2}},
      {.what = "groups_of_32_4_units_reduce_scatter", .s = {500, 2, 2, 300, 1}, .sanitized = true},
      {.what = "8_blocks_2_units", .s = {200, 2, 2, 128, 1}, .sanitized = true},
      {.what = "8_blocks_4_slices", .s = {1, 3, 2, 512, 1}, .sanitized = true},
      {.what = "T1", .s = {3, 1, 2, 64, 1}, .sanitized = true},
      {.what = "one_slice_9_padding_units", .s = {9, 6, 3, 7, 2}},
  };
  add_forced(out, Design::kCluster, base,
             [](Shape s) { return s.h <= 2 || s.t == 1 || s.h == 257; });
}

// The Elman cell's blocks of stacked and bidirectional models (both directions in one launch) on
// the cluster and the persistent designs forced: one to three layers, each direction, lengths and
// without, padding units, 70 sequences, T = 1, several units a thread, and more blocks a direction
// than the SMs (the 64-register variant, a direction at a time).
void add_layered_elman(std::vector<Case>& out) {
  for (Design d : {Design::kCluster, Design::kPersistent}) {
    const Case cases[] = {
        {.what = "small", .s = {5, 7, 3, 8, 2}, .design = d, .bidirectional = true},
        {.what = "small",
         .s = {5, 7, 3, 8, 2},
         .design = d,
         .bidirectional = true,
         .attention = false,
         .lengths = false},
        {.what = "small",
         .s = {5, 7, 3, 8, 2},
         .design = d,
         .layers = 2,
         .bidirectional = true,
         .sanitized = true},
        {.what = "small",
         .s = {4, 6, 2, 6, 1},
         .design = d,
         .layers = 2,
         .attention = false,
         .sanitized = d == Design::kCluster},
        {.what = "padding_units",
         .s = {3, 5, 2, 33, 1},
         .design = d,
         .bidirectional = true,
         .sanitized = true},
        {.what = "70_sequences",
         .s = {70, 6, 2, 4, 1},
         .design = d,
         .layers = 2,
         .bidirectional = true},
        {.what = "three_layers",
         .s = {2, 4, 2, 5, 1},
         .design = d,
         .layers = 3,
         .bidirectional = true,
         .attention = false},
        {.what = "T1", .s = {3, 1, 2, 16, 1}, .design = d, .bidirectional = true},
    };
    out.insert(out.end(), std::begin(cases), std::end(cases));
  }
  const Design c = Design::kCluster, p = Design::kPersistent;
  out.push_back({.what = "6_blocks_3_slices",
                 .s = {40, 3, 2, 257, 1},
                 .design = c,
                 .bidirectional = true,
                 .sanitized = true});
  out.push_back({.what = "8_clusters_of_8_2_units",
                 .s = {200, 2, 2, 128, 1},
                 .design = c,
                 .bidirectional = true});
  out.push_back({.what = "171_blocks_a_direction",
                 .s = {600, 2, 2, 129, 1},
                 .design = p,
                 .bidirectional = true,
                 .sanitized = true});
  out.push_back({.what = "4_units", .s = {300, 2, 2, 128, 1}, .design = p, .layers = 2});
}

// The segment kernels forced on the one-layer Elman model, with lengths: where the planner picks
// the persistent ones (H = 1024), the seed, T = 1, a 64-thread segment (cross-warp sums), several
// segments a block with a partial last block, Wh in shared memory at H = 129 (66 KB, opt-in) and
// through L2 at H = 300.
void add_segment_elman(std::vector<Case>& out) {
  const Case base[] = {
      {.what = "H1024", .s = {1, 3, 2, 1024, 1}},
      {.what = "seed", .s = {1, 20, 1, 2, 1}},
      {.what = "T1", .s = {6, 1, 2, 5, 1}},
      {.what = "segment64", .s = {5, 6, 3, 33, 2}, .sanitized = true},
      {.what = "partial_last_block", .s = {37, 5, 2, 12, 1}},
      {.what = "wh_in_shared_memory", .s = {9, 4, 2, 129, 1}, .sanitized = true},
      {.what = "wh_through_l2", .s = {3, 3, 2, 300, 2}, .sanitized = true},
  };
  for (Case c : base) {
    c.design = Design::kSegment;
    for (bool attn : {true, false}) {
      if (c.s.h == 1024 && !attn) continue;
      c.attention = attn;
      out.push_back(c);
    }
  }
  // The layer kernels (no head inside) with Wh through L2: both directions in one launch, and
  // two stacked layers.
  const Design d = Design::kSegment;
  out.push_back({.what = "wh_through_l2",
                 .s = {3, 3, 2, 300, 1},
                 .design = d,
                 .bidirectional = true,
                 .sanitized = true});
  out.push_back({.what = "wh_through_l2",
                 .s = {3, 3, 2, 300, 1},
                 .design = d,
                 .layers = 2,
                 .attention = false});
}

// The gated cells on the segment design (forced) or the unfused path: one layer and two, each
// direction, attention and plain, with and without lengths; one unit, a 64-thread segment, three
// layers, B over one block's segments. The segment design also: Wh staged in shared memory
// (opt-in: LSTM H = 100 is 160 KB, GRU H = 129 200 KB) or read through L2 (LSTM H = 129,
// GRU H = 150; one layer and two), and the one-layer kernels with the attention and head inside
// over the segment geometries (one unit, a 64-thread segment with two outputs, several segments a
// block with a partial last block, T = 1).
void add_gated_segment(std::vector<Case>& out, Cell cell, Design d) {
  for (bool bidir : {false, true}) {
    for (bool attn : {true, false}) {
      for (bool len : {false, true}) {
        out.push_back({.what = "small",
                       .s = {5, 7, 3, 8, 2},
                       .design = d,
                       .cell = cell,
                       .bidirectional = bidir,
                       .attention = attn,
                       .lengths = len});
      }
    }
  }
  const Case edges[] = {
      {.what = "small",
       .s = {5, 7, 3, 8, 2},
       .design = d,
       .cell = cell,
       .layers = 2,
       .bidirectional = true,
       .sanitized = true},
      {.what = "small",
       .s = {4, 6, 2, 6, 1},
       .design = d,
       .cell = cell,
       .layers = 2,
       .attention = false},
      {.what = "one_unit",
       .s = {3, 4, 2, 1, 1},
       .design = d,
       .cell = cell,
       .bidirectional = true,
       .sanitized = d == Design::kSegment},
      {.what = "segment64",
       .s = {3, 5, 2, 33, 1},
       .design = d,
       .cell = cell,
       .bidirectional = true,
       .sanitized = true},
      {.what = "three_layers",
       .s = {2, 4, 2, 5, 1},
       .design = d,
       .cell = cell,
       .layers = 3,
       .bidirectional = true,
       .attention = false,
       .sanitized = true},
      {.what = "70_sequences",
       .s = {70, 6, 2, 4, 1},
       .design = d,
       .cell = cell,
       .layers = 2,
       .bidirectional = true},
  };
  out.insert(out.end(), std::begin(edges), std::end(edges));
  if (d == Design::kUnfused) return;
  const bool lstm = cell == Cell::kLstm;
  out.push_back({.what = "wh_in_shared_memory",
                 .s = {3, 3, 2, lstm ? 100 : 129, 1},
                 .design = d,
                 .cell = cell,
                 .sanitized = true});
  out.push_back({.what = "wh_through_l2",
                 .s = {3, 3, 2, lstm ? 129 : 150, 1},
                 .design = d,
                 .cell = cell,
                 .sanitized = true});
  out.push_back({.what = "wh_through_l2",  // the layer kernels (no head inside)
                 .s = {3, 3, 2, lstm ? 129 : 150, 1},
                 .design = d,
                 .cell = cell,
                 .layers = 2,
                 .sanitized = true});
  for (bool attn : {true, false}) {
    out.push_back({.what = "one_unit",
                   .s = {3, 4, 2, 1, 1},
                   .design = d,
                   .cell = cell,
                   .attention = attn,
                   .sanitized = true});
    out.push_back({.what = "segment64_two_outputs",
                   .s = {3, 5, 2, 33, 2},
                   .design = d,
                   .cell = cell,
                   .attention = attn});
    out.push_back({.what = "70_sequences",
                   .s = {70, 6, 2, 4, 1},
                   .design = d,
                   .cell = cell,
                   .attention = attn,
                   .sanitized = true});
  }
  out.push_back(
      {.what = "T1", .s = {4, 1, 2, 16, 1}, .design = d, .cell = cell, .sanitized = true});
}

// The gated cells' persistent kernels forced: one layer, both directions, two layers, padding
// units over three slices (H = 33), one sequence a group over 70 groups, T = 1, H = 129 (9
// slices), and the notebook's layer (B = 128, H = 256): both directions in one grid of 256
// blocks, the backward split 8 x 2 units and (the LSTM) its rows in 2 pieces.
void add_gated_persistent(std::vector<Case>& out, Cell cell) {
  const Design p = Design::kPersistent;
  for (bool attn : {true, false}) {
    for (bool len : {true, false}) {
      out.push_back({.what = "small",
                     .s = {5, 7, 3, 8, 2},
                     .design = p,
                     .cell = cell,
                     .attention = attn,
                     .lengths = len});
    }
  }
  const Case cases[] = {
      {.what = "small", .s = {5, 7, 3, 8, 2}, .design = p, .cell = cell, .bidirectional = true},
      {.what = "small",
       .s = {5, 7, 3, 8, 2},
       .design = p,
       .cell = cell,
       .layers = 2,
       .bidirectional = true,
       .sanitized = true},
      {.what = "3_slices_padding_units",
       .s = {3, 5, 2, 33, 1},
       .design = p,
       .cell = cell,
       .bidirectional = true,
       .sanitized = true},
      {.what = "70_groups",
       .s = {70, 6, 2, 4, 1},
       .design = p,
       .cell = cell,
       .bidirectional = true,
       .sanitized = true},
      {.what = "T1", .s = {4, 1, 2, 16, 1}, .design = p, .cell = cell},
      {.what = "9_slices",
       .s = {3, 3, 2, 129, 1},
       .design = p,
       .cell = cell,
       .attention = false,
       .sanitized = true},
      {.what = "notebook_layer",
       .s = {128, 4, 3, 256, 1},
       .design = p,
       .cell = cell,
       .bidirectional = true,
       .sanitized = true},
  };
  out.insert(out.end(), std::begin(cases), std::end(cases));
}

// Keras' dot-product attention (the notebook's), which runs after the recurrence on every design:
// each cell, one layer and the notebook's bidirectional layer, with use_scale, lengths or not, on
// the planner's choice and the unfused path; edges: T = 1, a 64-thread segment (C = 66: cross-warp
// reductions), several sequences per warp (C = 4), and T past what a [T, T] tile would hold.
void add_dot_attention(std::vector<Case>& out) {
  for (Design d : {Design::kAuto, Design::kUnfused}) {
    for (Cell cell : {Cell::kElman, Cell::kLstm, Cell::kGru}) {
      for (AttentionScore score : {AttentionScore::kDot, AttentionScore::kDotScaled}) {
        for (bool len : {true, false}) {
          out.push_back({.what = "small",
                         .s = {5, 7, 3, 8, 2},
                         .design = d,
                         .cell = cell,
                         .lengths = len,
                         .score = score,
                         .sanitized = len && score == AttentionScore::kDotScaled});
          out.push_back({.what = "notebook_layer",
                         .s = {6, 9, 4, 33, 1},
                         .design = d,
                         .cell = cell,
                         .bidirectional = true,
                         .lengths = len,
                         .score = score,
                         .sanitized = len && score == AttentionScore::kDot});
        }
      }
    }
    const Case edges[] = {
        {.what = "T1", .s = {3, 1, 2, 5, 1}, .design = d, .score = AttentionScore::kDotScaled},
        {.what = "sequences_per_warp", .s = {19, 6, 2, 4, 1}, .design = d, .layers = 2},
        {.what = "T300", .s = {2, 300, 2, 6, 1}, .design = d, .cell = Cell::kLstm},
        {.what = "tanh_head_accumulate",
         .s = {4, 5, 3, 16, 3},
         .design = d,
         .head = Activation::kTanh,
         .accumulate = true},
    };
    for (Case c : edges) {
      if (c.score == AttentionScore::kAdditive) c.score = AttentionScore::kDot;
      out.push_back(c);
    }
  }
}

// Dropout on the context (the notebook's Dropout(0.5)): the GPU draws the CPU's masks at the same
// seed and step. Every model with it runs the attention-and-head kernels: the one-layer Elman
// model (no longer its fused kernels), a gated one, the notebook's layer with the dot-product
// attention, the plain model; the planner's choice and the unfused path.
void add_dropout(std::vector<Case>& out) {
  for (Design d : {Design::kAuto, Design::kUnfused}) {
    const Case cases[] = {
        {.what = "seed_shape", .s = {7, 20, 1, 2, 1}, .design = d, .lengths = false},
        {.what = "small", .s = {5, 7, 3, 8, 2}, .design = d, .cell = Cell::kGru, .sanitized = true},
        {.what = "notebook_layer",
         .s = {6, 9, 4, 33, 1},
         .design = d,
         .cell = Cell::kLstm,
         .bidirectional = true,
         .score = AttentionScore::kDot,
         .sanitized = true},
        {.what = "plain", .s = {4, 5, 2, 6, 1}, .design = d, .layers = 2, .attention = false},
    };
    for (Case c : cases) {
      c.dropout = 0.5f;
      out.push_back(c);
    }
  }
}

// A softmax head over K classes (run after the recurrence): the one-layer Elman model, a stacked
// GRU with lengths and the notebook's bidirectional LSTM with the dot-product attention; K = 2, 3
// and 5; the planner's choice and the unfused path; GradMode::kAccumulate.
void add_softmax(std::vector<Case>& out) {
  for (Design d : {Design::kAuto, Design::kUnfused}) {
    const Case cases[] = {
        {.what = "three_classes",
         .s = {6, 8, 3, 7, 3},
         .design = d,
         .lengths = false,
         .head = Activation::kSoftmax,
         .accumulate = true,
         .sanitized = true},
        {.what = "two_classes",
         .s = {5, 7, 3, 8, 2},
         .design = d,
         .cell = Cell::kGru,
         .layers = 2,
         .head = Activation::kSoftmax},
        {.what = "notebook_layer_five_classes",
         .s = {6, 9, 4, 33, 5},
         .design = d,
         .cell = Cell::kLstm,
         .bidirectional = true,
         .score = AttentionScore::kDot,
         .head = Activation::kSoftmax},
    };
    out.insert(out.end(), std::begin(cases), std::end(cases));
  }
}

std::vector<Case> all_cases() {
  std::vector<Case> out;
  add_softmax(out);
  add_dot_attention(out);
  add_dropout(out);
  add_one_layer_sweep(out);
  add_sequence_models(out);
  add_persistent_elman(out);
  add_cluster_elman(out);
  add_layered_elman(out);
  add_segment_elman(out);
  for (Cell cell : {Cell::kLstm, Cell::kGru}) {
    add_gated_segment(out, cell, Design::kSegment);
    add_gated_segment(out, cell, Design::kUnfused);
    add_gated_persistent(out, cell);
  }
  return out;
}

std::vector<Case> cases(bool sanitized) {
  std::vector<Case> out;
  for (const Case& c : all_cases()) {
    if (c.sanitized == sanitized) out.push_back(c);
  }
  return out;
}

// Lengths that cover 1, T and padding in between, deterministic per batch index.
std::vector<int> lengths_for(const Case& c) {
  std::vector<int> l(c.s.b);
  for (int b = 0; b < c.s.b; ++b) l[b] = b == 0 ? c.s.t : 1 + (b * 5) % c.s.t;
  return l;
}

struct Inputs {
  std::vector<float> p, x, dy;
  std::vector<int> lengths;  // empty without lengths
};

// Fresh inputs for the case (the seed follows the shape), a stable recurrence (Wh / sqrt(H), so
// that h does not saturate everywhere over long T), and garbage on the padding.
Inputs make_inputs(const Case& c) {
  const ModelConfig cfg = config_of(c);
  const ParamLayout layout(cfg);
  const std::uint64_t seed = 1000 + c.s.b * 7 + c.s.t * 13 + c.s.h * 17 + c.layers;
  Inputs in;
  in.p = random_vector<float>(layout.size(), seed, -0.5, 0.5);
  for (const ParamLayout::Block& blk : layout.blocks()) {
    for (int i = 0; i < c.s.h * blk.gates * c.s.h; ++i)
      in.p[blk.wh + i] /= std::sqrt(static_cast<float>(c.s.h));
  }
  in.x = random_vector<float>(static_cast<std::size_t>(c.s.b) * c.s.t * c.s.d, seed + 1);
  in.dy = random_vector<float>(static_cast<std::size_t>(c.s.b) * c.s.o, seed + 2);
  if (!c.lengths) return in;
  in.lengths = lengths_for(c);
  for (int b = 0; b < c.s.b; ++b) {
    const std::size_t row = static_cast<std::size_t>(b) * c.s.t * c.s.d;
    for (std::size_t i = static_cast<std::size_t>(in.lengths[b]) * c.s.d;
         i < static_cast<std::size_t>(c.s.t) * c.s.d; ++i)
      in.x[row + i] = 1e4f;
  }
  return in;
}

struct Result {
  std::vector<float> y, attention, hidden, dparams, dx;
  std::vector<float> inference_y;  // with dropout: y without masks (else y)
};

// The dropout masks' key of every case with dropout (Handle::set_dropout on the GPU).
constexpr DropoutKey kDropoutKey{0x5eed, 41};

Result cpu_run(const Case& c, const Inputs& in) {
  const ModelConfig cfg = config_of(c);
  const int* len = c.lengths ? in.lengths.data() : nullptr;
  const std::size_t bt = static_cast<std::size_t>(c.s.b) * c.s.t;
  Result r;
  r.y.resize(static_cast<std::size_t>(c.s.b) * c.s.o);
  r.hidden.resize(bt * cfg.context_size());
  if (c.attention) r.attention.resize(bt);
  const DropoutKey* dk = cfg.dropout > 0.f ? &kDropoutKey : nullptr;
  reference_forward<float>(cfg, in.p.data(), in.x.data(), c.s.b, r.y.data(),
                           c.attention ? r.attention.data() : nullptr, r.hidden.data(), nullptr,
                           len, dk);
  r.inference_y = r.y;
  if (dk) {
    reference_forward<float>(cfg, in.p.data(), in.x.data(), c.s.b, r.inference_y.data(), nullptr,
                             nullptr, nullptr, len);
  }
  r.dparams.resize(in.p.size());
  r.dx.resize(in.x.size());
  reference_backward<float>(cfg, in.p.data(), in.x.data(), c.s.b, in.dy.data(), r.dparams.data(),
                            r.dx.data(), len, dk);
  return r;
}

cuda::Recurrence recurrence_of(Design d) {
  switch (d) {
    case Design::kSegment:
      return cuda::Recurrence::kSegment;
    case Design::kPersistent:
      return cuda::Recurrence::kPersistent;
    case Design::kCluster:
      return cuda::Recurrence::kCluster;
    default:
      return cuda::Recurrence::kAuto;
  }
}

// One GPU run of the case: the inference forward, then the training forward and the backward;
// the gradients start from `start` with GradMode::kAccumulate, else they are overwritten.
struct GpuRun {
  Result r;
  std::vector<float> inference_y, inference_attention;
};

GpuRun gpu_run(cuda::Handle& h, const Case& c, const Inputs& in, const Result* start) {
  const ModelConfig cfg = config_of(c);
  const cudaStream_t s = h.stream();
  const auto dp = to_device(in.p, s), dxin = to_device(in.x, s), ddy = to_device(in.dy, s);
  DeviceBuffer<int> dlen;
  if (c.lengths) dlen = to_device(in.lengths, s);
  const auto step = to_device(std::vector<std::int64_t>{kDropoutKey.step}, s);
  h.set_dropout(kDropoutKey.seed, step.get());
  const std::size_t bt = static_cast<std::size_t>(c.s.b) * c.s.t;
  const std::size_t ny = static_cast<std::size_t>(c.s.b) * c.s.o;
  GpuRun out;
  {
    auto y = poisoned(ny, s);
    DeviceBuffer<float> a;
    if (c.attention) a = poisoned(bt, s);
    auto ws = scratch(h.workspace_size(c.s.b, cuda::Pass::kInference), s);
    h.forward_inference(dp.get(), dxin.get(), c.s.b, y.get(), a.get(), ws.get(), ws.size(),
                        dlen.get());
    out.inference_y = to_host(y, s);
    if (c.attention) out.inference_attention = to_host(a, s);
  }
  auto y = poisoned(ny, s);
  DeviceBuffer<float> a;
  if (c.attention) a = poisoned(bt, s);
  auto hid = poisoned(bt * cfg.context_size(), s);
  auto g = start ? to_device(start->dparams, s) : poisoned(in.p.size(), s);
  auto gx = start ? to_device(start->dx, s) : poisoned(in.x.size(), s);
  auto ws = scratch(h.workspace_size(c.s.b), s);
  auto rs = scratch(h.reserve_size(c.s.b), s);
  h.forward_training(dp.get(), dxin.get(), c.s.b, y.get(), a.get(), hid.get(), rs.get(), rs.size(),
                     ws.get(), ws.size(), dlen.get());
  h.backward(dp.get(), dxin.get(), c.s.b, y.get(), ddy.get(), rs.get(), rs.size(), g.get(),
             gx.get(), start ? cuda::GradMode::kAccumulate : cuda::GradMode::kOverwrite, ws.get(),
             ws.size(), dlen.get());
  out.r.y = to_host(y, s);
  if (c.attention) out.r.attention = to_host(a, s);
  out.r.hidden = to_host(hid, s);
  out.r.dparams = to_host(g, s);
  out.r.dx = to_host(gx, s);
  return out;
}

::testing::AssertionResult scaled_close(const std::string& name, const std::vector<float>& got,
                                        const std::vector<float>& want) {
  float m = 0;
  for (float v : want) m = std::max(m, std::fabs(v));
  return all_close(name, got, want, 1e-4 * (1 + m), 0.0);
}

void expect_gradients_close(const ModelConfig& cfg, const Result& got, const Result& want) {
  const ParamLayout layout(cfg);
  for (const TensorInfo& t : layout.tensors()) {
    const std::vector<float> g(got.dparams.begin() + t.offset,
                               got.dparams.begin() + t.offset + t.size());
    const std::vector<float> w(want.dparams.begin() + t.offset,
                               want.dparams.begin() + t.offset + t.size());
    EXPECT_TRUE(scaled_close("d" + t.name, g, w));
  }
  EXPECT_TRUE(scaled_close("dx", got.dx, want.dx));
}

// The case's shape and what the planner makes of it on this device, its tilings included: the
// case's name says what it exercises, the trace what the kernels ran on.
std::string trace_of(const Case& c, const ModelConfig& cfg) {
  std::ostringstream s;
  s << "B=" << c.s.b << " T=" << c.s.t << " D=" << c.s.d << " H=" << c.s.h << " O=" << c.s.o
    << "; the planner (a design named in the case is forced): ";
  const cuda::GpuLimits gpu = cuda::current_gpu_limits();
  if (c.design == Design::kUnfused) {
    s << "the unfused path";
  } else if (cfg.cell != Cell::kElman) {
    s << cuda::plan_gated(c.s.b, c.s.h, gates_of(cfg.cell), gpu, cfg.directions()).describe();
  } else if (cfg.single_layer()) {
    s << cuda::plan_recurrence(c.s.b, c.s.h, gpu).describe();
  } else {
    s << cuda::plan_layer(c.s.b, c.s.h, cfg.directions(), gpu).describe();
  }
  return s.str();
}

// The case on the GPU against the CPU reference.
void check(const Case& c) {
  const ModelConfig cfg = config_of(c);
  SCOPED_TRACE(trace_of(c, cfg));
  const Inputs in = make_inputs(c);
  const Result want = cpu_run(c, in);
  CudaStream stream;
  cuda::Handle h(cfg, stream.get(), nullptr,
                 c.design == Design::kUnfused ? cuda::Path::kUnfused : cuda::Path::kFused);
  h.set_recurrence(recurrence_of(c.design));
  if (c.design != Design::kAuto && c.design != Design::kUnfused) {  // the forced kernels run
    EXPECT_EQ(h.recurrence_for(c.s.b), test::design_run_for(recurrence_of(c.design)));
  }
  const GpuRun got = gpu_run(h, c, in, nullptr);
  EXPECT_TRUE(all_close("y (inference)", got.inference_y, want.inference_y, 1e-5, 1e-5));
  EXPECT_TRUE(all_close("y (training)", got.r.y, want.y, 1e-5, 1e-5));
  if (c.attention) {
    EXPECT_TRUE(
        all_close("attention (inference)", got.inference_attention, want.attention, 1e-5, 1e-5));
    EXPECT_TRUE(all_close("attention (training)", got.r.attention, want.attention, 1e-5, 1e-5));
  }
  EXPECT_TRUE(all_close("hidden", got.r.hidden, want.hidden, 1e-5, 1e-5));
  expect_gradients_close(cfg, got.r, want);
  if (!c.accumulate) return;
  // GradMode::kAccumulate adds to what the buffers hold.
  SCOPED_TRACE("GradMode::kAccumulate");
  Result start, want_sum = want;
  start.dparams = random_vector<float>(in.p.size(), 31);
  start.dx = random_vector<float>(in.x.size(), 32);
  for (std::size_t i = 0; i < want_sum.dparams.size(); ++i) want_sum.dparams[i] += start.dparams[i];
  for (std::size_t i = 0; i < want_sum.dx.size(); ++i) want_sum.dx[i] += start.dx[i];
  expect_gradients_close(cfg, gpu_run(h, c, in, &start).r, want_sum);
}

class GpuRecurrence : public ::testing::TestWithParam<Case> {};

TEST_P(GpuRecurrence, MatchesTheCpuReference) {
  SKIP_WITHOUT_GPU();
  check(GetParam());
}

std::string param_name(const ::testing::TestParamInfo<Case>& i) { return name_of(i.param); }

INSTANTIATE_TEST_SUITE_P(GpuSanitized, GpuRecurrence, ::testing::ValuesIn(cases(true)), param_name);
INSTANTIATE_TEST_SUITE_P(Gpu, GpuRecurrence, ::testing::ValuesIn(cases(false)), param_name);

#ifdef RNNATTN_GPU_SIMULATOR
// The sanitized cases launch every kernel of the resource table (sim/kernel_resources.tsv) but
// those the rest of tools/gpu-check.sh's sanitized set reaches: the trainers' (Cuda.*,
// CudaSequenceTraining.*) and the embedding's (CudaEmbedding*). A kernel added to the library
// without a sanitized case fails here, so compute-sanitizer sees it on the first GPU run.
// It forces the device layout and needs no particular block order, so it runs once, where neither
// is chosen otherwise (tools/test.sh's first pass): elsewhere it would repeat the same 2 minutes.
TEST(GpuSanitizedCoverage, ReachesEveryRecurrenceKernel) {
  const char* layout = std::getenv("RNNATTN_SIM_DEVICE");
  const char* order = std::getenv("RNNATTN_SIM_ORDER");
  if ((layout && *layout) || (order && *order && std::string(order) != "index"))
    GTEST_SKIP() << "runs only on the default layout in index order (it forces its own layout)";
  const char* elsewhere[] = {"adam_kernel",       "gather_kernel",        "advance_kernel",
                             "embedding_",        "gather_tokens_kernel", "loss_kernel",
                             "small_train_kernel"};
  ASSERT_TRUE(sim::set_device_layout("h100-sxm"));  // a device that runs every design
  std::set<std::string> launched;
  sim::set_launch_observer([&](const sim::LaunchStats& l) { launched.insert(l.signature); });
  for (const Case& c : cases(true)) {
    SCOPED_TRACE(name_of(c));
    check(c);
  }
  sim::set_launch_observer(nullptr);
  sim::set_device_layout("");
  for (const std::string& k : sim::table_signatures()) {
    const bool other = std::any_of(std::begin(elsewhere), std::end(elsewhere), [&](const char* e) {
      return k.find(std::string("::") + e) != std::string::npos;
    });
    if (!other) {
      EXPECT_TRUE(launched.count(k)) << "no sanitized case launches " << k;
    }
  }
}
#endif

}  // namespace
}  // namespace rnnattn
