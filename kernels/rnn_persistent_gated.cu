// The gated cells' recurrence (LSTM and GRU) as persistent kernels: one cooperative launch over
// the whole GPU runs all T steps of one recurrent block (layer, direction), forward or backward,
// with one grid-wide barrier per step. What they compute and write is exactly what the segment
// kernels of rnn_segment.cu write for that block (the states, what each step keeps, d_in,
// drec_next, drec_first); the attention and head run after (forward) or before (backward) them
// in attention_head.cu's kernels, the weight gradients as GEMMs (device_api.cpp).
//
// Work mapping (persistent_common.cuh, plan.hpp's tiling with G gates): block (s, g) owns units
// [16s, 16s + 16) of the sequences of batch group g.
//   forward: it holds the G [H,16] slices of Wh (gate q's columns q*H + 16s ..) in shared memory
//     for the whole run. Per step: stage h_{t-1} of the group (the states the step before wrote:
//     `out` at the previous step of the direction), the G split dot products over one staging,
//     then one thread per (sequence, unit) runs the cell (model_math.hpp's cell_forward via
//     cells.cuh; the LSTM's c stays in shared memory), writes h_t and what the step keeps;
//     grid barrier.
//   backward: it holds the [G*H,16] slice of Wh^T (rows 16s .. of Wh). Per step, against the
//     direction: stage dL/drec of the step processed before (drec_next's row t, G*H values; in
//     `pieces` parts where the tiling says so, the products after each: piece_products), the
//     product with the slice is the Wh part of dL/dh_t; the cell's backward per (sequence, unit)
//     writes d_in, drec_next (or drec_first) and keeps the LSTM's dL/dc in shared memory; grid
//     barrier.
// Padding (t >= L) as in rnn_segment.cu: h, c and what a step keeps pass unchanged in the forward;
// dL/dh and dL/dc pass through in the backward, d_in = d_rec = 0.
// No atomics: the products' shuffle order is fixed, so results are bitwise reproducible.
// Limits: the grid must be co-resident (persistent_tiling() with G gates and a launch-time
// occupancy check; otherwise the launchers return false and the caller runs the segment kernels).
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <string>

#include "cells.cuh"
#include "cuda_compat.cuh"
#include "cuda_utils.hpp"
#include "device_common.cuh"
#include "kernels.hpp"
#include "persistent_common.cuh"

namespace rnnattn::kernels {
namespace {

namespace cg = cooperative_groups;

// Staging loads a thread keeps in flight (128 registers: kGatedPersistentMinBlocksPerSm): 16 of
// 4 bytes; of 16 bytes 8 in the forward, 16 in the backward (whose piece loop the compiler
// otherwise sends out 6 at a time: tools/sass_check.py); plan.cpp's staging_round_trips.
constexpr int kGatedInFlight = 16, kGatedVecInFlight = 8, kGatedBackwardVecInFlight = 16;

// A launch's blocks of the layer: one plane of slices x groups blocks, or a
// bidirectional layer's two side by side along x, plane p running dir[p] (dir[1] = dir[0] for
// one plane).
template <typename Args>
struct Planes {
  Args dir[2];
};

// The plane of this block and its index within the plane; `a` its direction's arguments (picked
// field by field from the two: a dynamic index into the kernel's parameters would copy them to
// local memory).
template <typename Args>
__device__ __forceinline__ Args plane_args(const Planes<Args>& p, const PersistentGeometry& g,
                                           int* block) {
  const int per_plane = g.slices * g.groups;
  const int plane = static_cast<int>(blockIdx.x) / per_plane;
  *block = static_cast<int>(blockIdx.x) - plane * per_plane;
  return plane == 0 ? p.dir[0] : p.dir[1];
}

// `out` (the states) is written by every block and staged by the others across grid barriers:
// no __restrict__, no __ldg (kernels.hpp, before persistent_forward).
template <Cell kCell>
__global__ void __launch_bounds__(kPersistentThreads, kGatedPersistentMinBlocksPerSm)
    gated_persistent_forward_kernel(Planes<CellForwardArgs> planes, PersistentGeometry g) {
  cg::grid_group grid = cg::this_grid();
  constexpr int G = gate_count(kCell), A = kept_of(kCell);
  int block = 0;
  const CellForwardArgs a = plane_args(planes, g, &block);
  const int B = a.batch, T = a.steps, H = a.hidden, C = a.stride, GH = G * H;
  const TileThread th = tile_thread(g, block);
  const int group_end = B < th.b0 + g.group ? B : th.b0 + g.group;
  const int n_out = g.staged * kPersistentSlice;  // (sequence, unit) pairs of the block

  float* wh_s = dynamic_shared<float>();        // G slices of Wh (split layout)
  float* h_s = wh_s + G * g.split * g.wh_part;  // [staged][hpad]  h_{t-1}
  float* z_s = h_s + g.staged * g.hpad;         // [G][staged][16] h_{t-1} Wh, gate by gate
  float* c_s = z_s + G * n_out;                 // [staged][16]    the LSTM's c_{t-1}
  for (int q = 0; q < G; ++q)
    load_slice(g, th.slice, a.wh + q * H, GH, wh_s + q * g.split * g.wh_part);
  for (int i = threadIdx.x; i < n_out; i += blockDim.x) c_s[i] = 0.f;

  for (int n = 0; n < T; ++n) {
    const int t = step_at(a.direction, n, T);
    const int tp = n > 0 ? step_at(a.direction, n - 1, T) : -1;  // the step processed before
    // z_s = h_{t-1} Wh for every gate (h_s holds h_{t-1}; h_0 = 0), the G gates' products over
    // one read of each staged row (FusedMats).
    slice_products<kGatedInFlight, 4, kGatedVecInFlight, true>(
        g, th, group_end, tp >= 0 ? a.out + static_cast<std::size_t>(tp) * C : nullptr,
        static_cast<std::size_t>(T) * C, wh_s, h_s, z_s, G);
    // Thread i on (sequence i / 16, unit i % 16): 16 consecutive units of a sequence are 16
    // consecutive lanes (coalesced reads of xw, writes of h_t).
    for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
      const TilePair p = tile_pair(g, th, group_end, i);
      if (!p.valid) continue;
      const std::size_t row = static_cast<std::size_t>(p.b) * T + t;
      const float hprev = h_s[p.bb * g.hpad + p.j];
      float h = hprev;
      float kept[A] = {};
      // The input projection is loaded whatever the length (xw has every row), so that its load
      // is issued with the length's rather than after it: one round trip, not two in a row.
      const int len = sequence_length(a.lengths, p.b, T);
      float xin[G];
      for (int q = 0; q < G; ++q) xin[q] = a.bias[q * H + p.j] + a.xw[row * GH + q * H + p.j];
      if (t < len) {
        float rec[G];
        for (int q = 0; q < G; ++q) {
          rec[q] = z_s[q * n_out + i] + (kCell == Cell::kGru ? a.bias[GH + q * H + p.j] : 0.f);
        }
        // prev: c_{t-1} (LSTM) or h_{t-1} (GRU), as in rnn_segment.cu.
        h = cell_step<kCell>(xin, rec, kCell == Cell::kLstm ? c_s[i] : hprev, kept);
        if (kCell == Cell::kLstm) c_s[i] = kept[A - 1];
      } else if (a.aux) {
        // Padding keeps what the step before kept (this thread wrote it), zero before any step.
        for (int q = 0; q < A; ++q)
          kept[q] =
              tp >= 0 ? a.aux[(static_cast<std::size_t>(p.b) * T + tp) * A * H + q * H + p.j] : 0.f;
      }
      a.out[row * C + p.j] = h;
      if (a.aux) {
        for (int q = 0; q < A; ++q) a.aux[row * A * H + q * H + p.j] = kept[q];
      }
    }
    grid.sync();  // h_t of every block is visible; h_s and z_s may be rewritten
  }
}

// drec_next is written by every block and staged by the others across grid barriers: no
// __restrict__, no __ldg.
template <Cell kCell>
__global__ void __launch_bounds__(kPersistentThreads, kGatedPersistentMinBlocksPerSm)
    gated_persistent_backward_kernel(Planes<CellBackwardArgs> planes, PersistentGeometry g) {
  cg::grid_group grid = cg::this_grid();
  constexpr int G = gate_count(kCell), A = kept_of(kCell);
  int block = 0;
  const CellBackwardArgs a = plane_args(planes, g, &block);
  const int B = a.batch, T = a.steps, H = a.hidden, C = a.stride, GH = G * H;
  const TileThread th = tile_thread(g, block);
  const int group_end = B < th.b0 + g.group ? B : th.b0 + g.group;
  const int n_out = g.staged * kPersistentSlice;

  float* wh_s = dynamic_shared<float>();    // slice of Wh^T [G*H,16]: wh_s(m, jj) = Wh[j][m]
  float* d_s = wh_s + g.split * g.wh_part;  // [staged][piece] dL/drec of the step after
  float* z_s = d_s + g.staged * g.piece;    // [staged][16]    its product with Wh^T
  float* carry_s = z_s + n_out;             // [staged][16]    dL/dh passed through padding
  float* direct_s = carry_s + n_out;        // [staged][16]    dL/dh_{t-1} not through Wh
  float* cc_s = direct_s + n_out;           // [staged][16]    the LSTM's dL/dc
  load_slice(g, th.slice, a.wh_t, H, wh_s);
  for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
    const TilePair p = tile_pair(g, th, group_end, i);
    if (p.valid) {  // the step processed last has no successor
      const std::size_t last = static_cast<std::size_t>(p.b) * T + step_at(a.direction, T - 1, T);
      for (int q = 0; q < G; ++q) a.drec_next[last * GH + q * H + p.j] = 0.f;
    }
    carry_s[i] = direct_s[i] = cc_s[i] = 0.f;
  }

  for (int n = T - 1; n >= 0; --n) {
    const int t = step_at(a.direction, n, T);
    const int tp = n > 0 ? step_at(a.direction, n - 1, T) : -1;      // processed next
    const int tn = n < T - 1 ? step_at(a.direction, n + 1, T) : -1;  // processed before
    // z_s = dL/drec of step tn (drec_next's row t) times Wh^T; uniform across the grid.
    if (tn >= 0) {
      piece_products<kGatedInFlight, kGatedBackwardMaxUnits, kGatedBackwardVecInFlight>(
          g, th, group_end, a.drec_next + static_cast<std::size_t>(t) * GH,
          static_cast<std::size_t>(T) * GH, wh_s, d_s, z_s);
    }
    for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
      const TilePair p = tile_pair(g, th, group_end, i);
      if (!p.valid) continue;
      const int L = sequence_length(a.lengths, p.b, T);
      const std::size_t seq = static_cast<std::size_t>(p.b) * T, row = seq + t;
      // dL/dh_t from the step after: through Wh (and the GRU's direct path) after a valid step,
      // what passed through after padding.
      float dh = tn < 0 ? 0.f : (tn < L ? direct_s[i] + z_s[i] : carry_s[i]);
      dh += a.dout[row * C + p.j];
      float din[G], drec[G];
      for (int q = 0; q < G; ++q) din[q] = drec[q] = 0.f;
      float direct = 0.f;
      if (t < L) {
        // c_{t-1} (LSTM) or h_{t-1} (GRU) from what the forward stored at the step before.
        float prev = 0.f;
        if (tp >= 0) {
          prev = kCell == Cell::kLstm ? a.aux[(seq + tp) * A * H + 4 * H + p.j]
                                      : a.states[(seq + tp) * C + p.j];
        }
        direct =
            cell_step_backward<kCell>(a.aux + row * A * H + p.j, H, prev, dh, cc_s[i], din, drec);
      }
      for (int q = 0; q < G; ++q) a.d_in[row * GH + q * H + p.j] = din[q];
      if (tp >= 0) {
        for (int q = 0; q < G; ++q) a.drec_next[(seq + tp) * GH + q * H + p.j] = drec[q];
      } else if (a.drec_first) {
        for (int q = 0; q < G; ++q)
          a.drec_first[static_cast<std::size_t>(p.b) * GH + q * H + p.j] = drec[q];
      }
      carry_s[i] = dh;  // read after this step only if it is padding
      direct_s[i] = direct;
    }
    if (n > 0) grid.sync();  // drec_next's row tp of every block is visible
  }
}

void check_persistent(Cell cell, const PersistentTiling& tiling, int hidden, const char* call) {
  if (cell != Cell::kLstm && cell != Cell::kGru)
    throw InvalidArgument(std::string(call) + ": cell " + to_string(cell) + " is not a gated cell");
  if (tiling.hidden != hidden || tiling.gates != gate_count(cell))
    throw InvalidArgument(
        std::string(call) + ": the tiling is for H = " + std::to_string(tiling.hidden) + " and " +
        std::to_string(tiling.gates) + " gates, not this block's H = " + std::to_string(hidden) +
        " and " + std::to_string(gate_count(cell)));
}

// Runs `count` directions (1 or 2) of the kernel: in one grid of count planes where the GPU holds
// it co-resident, else one grid a direction; false where even that is refused.
template <auto Kernel, typename Args>
bool launch_gated_persistent(const char* name, const Args* args, int count,
                             const PersistentTiling& tiling, std::size_t bytes,
                             const PersistentGeometry& g, cudaStream_t stream) {
  Planes<Args> p{};
  if (count == 2) {
    const std::size_t smem = persistent_launch_smem<Kernel>(2 * tiling.blocks(), bytes);
    p.dir[0] = args[0];
    p.dir[1] = args[1];
    if (smem != 0 && launch_persistent<Kernel>(name, 2 * tiling.blocks(), smem, stream, p, g)) {
      return true;
    }
  }
  const std::size_t smem = persistent_launch_smem<Kernel>(tiling.blocks(), bytes);
  if (smem == 0) return false;
  for (int d = 0; d < count; ++d) {
    p.dir[0] = p.dir[1] = args[d];
    // A refused launch is refused for every direction (same kernel and grid).
    if (!launch_persistent<Kernel>(name, tiling.blocks(), smem, stream, p, g)) return false;
  }
  return true;
}

void check_count(int count, const char* call) {
  if (count < 1 || count > 2)
    throw InvalidArgument(std::string(call) + ": count must be 1 or 2 (the directions), got " +
                          std::to_string(count));
}

}  // namespace

bool gated_persistent_forward(const CellForwardArgs* args, int count,
                              const PersistentTiling& tiling, cudaStream_t stream) {
  check_count(count, "gated_persistent_forward");
  const CellForwardArgs& a = args[0];
  for (int d = 0; d < count; ++d) {
    check_persistent(args[d].cell, tiling, args[d].hidden, "gated_persistent_forward");
    if (!args[d].out)
      throw InvalidArgument("gated_persistent_forward: out is null (the steps stage it)");
  }
  if (a.batch < 1) return true;
  const std::size_t bytes = tiling.smem_forward_bytes();
  const PersistentGeometry g = geometry_of(tiling, a.hidden);
  if (a.cell == Cell::kLstm) {
    return launch_gated_persistent<gated_persistent_forward_kernel<Cell::kLstm>>(
        "gated_persistent_forward_kernel<lstm>", args, count, tiling, bytes, g, stream);
  }
  return launch_gated_persistent<gated_persistent_forward_kernel<Cell::kGru>>(
      "gated_persistent_forward_kernel<gru>", args, count, tiling, bytes, g, stream);
}

bool gated_persistent_backward(const CellBackwardArgs* args, int count,
                               const PersistentTiling& tiling, cudaStream_t stream) {
  check_count(count, "gated_persistent_backward");
  const CellBackwardArgs& a = args[0];
  for (int d = 0; d < count; ++d)
    check_persistent(args[d].cell, tiling, args[d].hidden, "gated_persistent_backward");
  if (a.batch < 1) return true;
  const std::size_t bytes = tiling.smem_backward_bytes();
  // The backward's products over G*H terms are its own (PersistentTiling::for_backward).
  const PersistentGeometry g = geometry_of(tiling.for_backward(), gate_count(a.cell) * a.hidden);
  if (a.cell == Cell::kLstm) {
    return launch_gated_persistent<gated_persistent_backward_kernel<Cell::kLstm>>(
        "gated_persistent_backward_kernel<lstm>", args, count, tiling, bytes, g, stream);
  }
  return launch_gated_persistent<gated_persistent_backward_kernel<Cell::kGru>>(
      "gated_persistent_backward_kernel<gru>", args, count, tiling, bytes, g, stream);
}

}  // namespace rnnattn::kernels
