// Persistent backward: the head and attention gradients and BPTT in reverse time in one
// cooperative launch over the whole GPU, with one grid-wide barrier per step. It writes what
// the segment kernel with the head writes (dpre, du, dz, dz_next); the weight gradients are the
// same cuBLAS GEMMs afterwards (device_api.cpp). No atomics: bitwise reproducible.
//
// Per sequence (SPEC.md, "Gradients"), with g = dL/dc:
//   dpre = dy * act'(y);  g = dpre Wd^T
//   attention: a_t = exp(e_t) / S;  du_t = a_t (g.h_t - g.c) (1 - e_t^2);  dh_t = a_t g + du_t wa
//   plain: dh_T = g
//   t = T..1:  dz_t = (dh_t + carry) (1 - h_t^2);  carry = dz_t Wh^T
//   (padding, t >= length: dz_t = 0, du_t = 0, carry = dh_t + carry)
//
// Phases (persistent_common.cuh's tiling: block (s, g) owns units [16s, 16s + 16) of the
// sequences of batch group g and holds the [H,16] slice of Wh^T, i.e. rows 16s.. of Wh):
//   (1) g = dL/dc for the block's (sequence, unit) pairs, kept in shared memory and written to a
//       global [B,H] array; dpre; grid barrier;
//   (2) attention: du_t for every (sequence, step), one warp per pair across the grid (the
//       H-long dots g.h_t and g.c do not depend on the recurrence, so they leave the serial
//       loop); grid barrier;
//   (3) t = T-1..0: stage dz_{t+1} of the group (from dz, written the step before) in shared
//       memory; carry = dz_{t+1} . (row j of Wh), split over `split` lanes; dz_t for the block's
//       pairs; grid barrier.
// Limits: as the persistent forward (the launcher returns false when the grid cannot be
// co-resident; the caller then uses the segment kernel).
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include "cuda_compat.cuh"
#include "cuda_utils.hpp"
#include "device_common.cuh"
#include "kernels.hpp"
#include "persistent_common.cuh"

namespace rnnattn::kernels {
namespace {

namespace cg = cooperative_groups;

// Two variants, as the forward's: grids of at most one block an SM take up to 4 units a thread
// and 16 staging loads in flight (16-byte ones where the rows allow) with up to 255 registers;
// larger grids one unit at 64 registers (4 blocks an SM).
template <int MinBlocks, int MaxUnits, int VecInFlight>
__global__ void __launch_bounds__(kPersistentThreads, MinBlocks)
    // dc_global (dL/dc) and a.dz are written and read by different blocks across grid
    // barriers: no __restrict__, no __ldg (kernels.hpp, before persistent_forward).
    persistent_backward_kernel(FusedBackwardArgs a, float* dc_global, PersistentGeometry g) {
  cg::grid_group grid = cg::this_grid();
  const int B = a.shape.batch, T = a.shape.steps, H = a.shape.hidden, O = a.shape.output;
  const bool attention = a.shape.attention;
  const TileThread th = tile_thread(g);
  const int group_end = B < th.b0 + g.group ? B : th.b0 + g.group;
  const int n_out = g.staged * kPersistentSlice;

  float* wh_s = dynamic_shared<float>();     // slice of Wh^T: wh_s(k, jj) = Wh[j][k]
  float* dz_s = wh_s + g.split * g.wh_part;  // [staged][hpad]  dz_{t+1}
  float* dc_s = dz_s + g.staged * g.hpad;    // [staged][16]    g = dL/dc
  float* carry_s = dc_s + n_out;             // [staged][16]    dL/dh_t passed down
  float* z_s = carry_s + n_out;              // [staged][16]    dz_{t+1} Wh^T

  load_slice(g, th.slice, a.wh_t, H, wh_s);

  // (1) dpre over the grid; g for the block's pairs.
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < B * O; i += gridDim.x * blockDim.x) {
    a.dpre[i] = a.dy[i] * head_act_grad(a.shape.head, a.y[i]);
  }
  for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
    const TilePair q = tile_pair(g, th, group_end, i);
    const int b = q.b, j = q.j;
    float dc = 0.f;
    if (q.valid) {
      for (int o = 0; o < O; ++o) {
        const std::size_t k = static_cast<std::size_t>(b) * O + o;
        dc += a.dy[k] * head_act_grad(a.shape.head, a.y[k]) * a.w.wd[j * O + o];
      }
      dc_global[static_cast<std::size_t>(b) * H + j] = dc;
      a.dz_next[(static_cast<std::size_t>(b) * T + T - 1) * H + j] = 0.f;
    }
    dc_s[i] = dc;
    carry_s[i] = 0.f;
  }
  grid.sync();

  // (2) du_t = a_t (g.h_t - g.c) (1 - e_t^2), one warp per (sequence, step), fixed-order sums.
  if (attention) {
    const int lane = threadIdx.x % 32, warps = blockDim.x / 32;
    for (int i = blockIdx.x * warps + threadIdx.x / 32; i < B * T; i += gridDim.x * warps) {
      const int b = i / T, t = i % T;
      const float* gb = dc_global + static_cast<std::size_t>(b) * H;
      const float* hb = a.hidden + static_cast<std::size_t>(i) * H;
      const float* cb = a.context + static_cast<std::size_t>(b) * H;
      float gh, gc;
      warp_dots(gb, hb, cb, H, &gh, &gc);
      if (lane == 0) {
        const float e = a.scores[i];
        const bool valid = t < sequence_length(a.lengths, b, T);
        const float at = valid ? expf(e) / a.expsum[b] : 0.f;
        a.du[i] = at * (gh - gc) * (1.f - e * e);
      }
    }
    grid.sync();
  }

  // (3) BPTT. The thread's pairs i = threadIdx.x + r * 256 and their lengths, once. Where
  // registers allow (the variant for grids of at most one block an SM), the step's inputs (h_t and
  // the attention's gradient into it), which depend on nothing the step computes, are loaded
  // before the products, so that their L2 round trips pass under them; the variant capped at 64
  // registers loads them after (holding them would spill).
  constexpr bool kPrefetch = MinBlocks == 1;
  constexpr int kPairs = kPersistentMaxRows * (kPersistentSlice / 2) * kPersistentSlice /
                         kPersistentThreads;  // the most pairs a block has, over its threads
  int len_r[kPairs] = {};
  if constexpr (kPrefetch) {
    RNNATTN_UNROLL
    for (int r = 0; r < kPairs; ++r) {
      const int i = threadIdx.x + r * kPersistentThreads;
      if (i >= n_out) continue;
      const TilePair q = tile_pair(g, th, group_end, i);
      if (q.valid) len_r[r] = sequence_length(a.lengths, q.b, T);
    }
  }
  // The attention's gradient into h_t of pair i (row: its sequence's step t).
  const auto attention_input = [&](int i, const TilePair& q, std::size_t row, bool valid) {
    const float at = valid ? expf(a.scores[row]) / a.expsum[q.b] : 0.f;
    return at * dc_s[i] + a.du[row] * a.w.wa[q.j];
  };
  for (int t = T - 1; t >= 0; --t) {
    float h_r[kPairs] = {}, att_r[kPairs] = {};
    if constexpr (kPrefetch) {
      RNNATTN_UNROLL
      for (int r = 0; r < kPairs; ++r) {
        const int i = threadIdx.x + r * kPersistentThreads;
        if (i >= n_out) continue;
        const TilePair q = tile_pair(g, th, group_end, i);
        if (!q.valid) continue;
        const std::size_t row = static_cast<std::size_t>(q.b) * T + t;
        h_r[r] = a.hidden[row * H + q.j];
        if (attention) att_r[r] = attention_input(i, q, row, t < len_r[r]);
      }
    }
    if (t < T - 1) {  // uniform across the grid: z_s = dz_{t+1} Wh^T
      slice_products<kStageInFlight, MaxUnits, VecInFlight>(
          g, th, group_end, a.dz + static_cast<std::size_t>(t + 1) * H,
          static_cast<std::size_t>(T) * H, wh_s, dz_s, z_s);
    }
    // Thread i on (sequence i / 16, unit i % 16): coalesced reads of h_t, writes of dz_t.
    RNNATTN_UNROLL
    for (int r = 0; r < kPairs; ++r) {
      const int i = threadIdx.x + r * kPersistentThreads;
      if (i >= n_out) continue;
      const TilePair q = tile_pair(g, th, group_end, i);
      const int b = q.b, j = q.j;
      if (!q.valid) continue;
      const int L = kPrefetch ? len_r[r] : sequence_length(a.lengths, b, T);
      // Into step t: dz_{t+1} Wh^T after a valid step t+1; after padding what passed through.
      float dh = (t + 1 < L) ? z_s[i] : carry_s[i];
      const std::size_t row = static_cast<std::size_t>(b) * T + t;
      const bool valid = t < L;
      if (attention) {
        dh += kPrefetch ? att_r[r] : attention_input(i, q, row, valid);
      } else if (t == T - 1) {
        dh += dc_s[i];
      }
      const float h = kPrefetch ? h_r[r] : a.hidden[row * H + j];
      const float dz = valid ? dh * (1.f - h * h) : 0.f;
      a.dz[row * H + j] = dz;
      if (t > 0) a.dz_next[(row - 1) * H + j] = dz;
      carry_s[i] = dh;  // used only if step t is padding
    }
    if (t > 0) grid.sync();  // dz_t of every block is visible; dz_s, z_s may be rewritten
  }
}

template <int MinBlocks, int MaxUnits, int VecInFlight>
bool launch_backward(const char* name, const FusedBackwardArgs& a, const PersistentTiling& tiling,
                     float* scratch, cudaStream_t stream) {
  if (tiling.units > MaxUnits) return false;  // a tiling for another GPU's SM count
  constexpr auto kernel = persistent_backward_kernel<MinBlocks, MaxUnits, VecInFlight>;
  const std::size_t smem =
      persistent_launch_smem<kernel>(tiling.blocks(), tiling.smem_backward_bytes());
  if (smem == 0) return false;
  return launch_persistent<kernel>(name, tiling.blocks(), smem, stream, a, scratch,
                                   geometry_of(tiling));
}

}  // namespace

bool persistent_backward(const FusedBackwardArgs& a, const PersistentTiling& tiling, float* scratch,
                         cudaStream_t stream) {
  const Shape& s = a.shape;
  if (s.batch < 1 || tiling.hidden != s.hidden) return false;
  int device = 0, sms = 0;
  RNNATTN_CUDA_CHECK(cudaGetDevice(&device));
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  if (tiling.blocks() <= sms) {
    return launch_backward<1, kPersistentWideMaxUnits, kStageInFlight>("persistent_backward_kernel",
                                                                       a, tiling, scratch, stream);
  }
  return launch_backward<kPersistentMinBlocksPerSm, kPersistentMaxUnits, kStageInFlight / 4>(
      "persistent_backward_kernel<capped>", a, tiling, scratch, stream);
}

}  // namespace rnnattn::kernels
