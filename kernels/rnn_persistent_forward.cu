// Persistent forward: the recurrence, the attention and the head in one cooperative launch over
// the whole GPU that runs all T steps, with one grid-wide barrier per step (Diamos et al., 2016).
//
// What it computes: the same as the segment kernels with the head (SPEC.md's model, lengths
// included), with the same stored outputs (hidden, scores, S, context, attention) when their
// pointers are not null.
//
// Work mapping (persistent_common.cuh, plan.hpp): block (s, g) owns hidden units [16s, 16s + 16)
// of the sequences of batch group g and keeps its [H,16] slice of Wh in shared memory for the
// whole run: Wh is read from device memory once, not once per step, and up to H = 1024 fits.
// Per step t:
//   (1) stage h_{t-1} of the group's sequences ([group, H], from a double-buffered global array)
//       in shared memory; every (sequence, unit) forms h_{t-1} Wh with its dot product split over
//       `split` lanes; then one thread per (sequence, unit) adds x_t Wx (one GEMM before the
//       launch) and bh, and writes h_t = tanh(z) to the global array (and `hidden`); the block sums
//       h_t . wa over its 16 units into a per-block partial score;
//   (2) grid barrier: h_t and every partial score are visible;
//   (3) each block sums the partials of its group's sequences in slice order (every block of a
//       group gets the bitwise same u_t), forms e_t, exp(e_t) and the running S, and adds
//       exp(e_t) h_t to its own units' accumulators.
// After the last step: context c = acc / S for the block's units, a grid barrier, and the head
// y = act(c Wd + bd), one warp per (sequence, output) across all blocks.
// Limits: the grid must be co-resident (persistent_tiling() and a launch-time occupancy check;
// otherwise the launcher returns false and the caller uses the segment kernel).
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

// Written and read by different blocks in one launch, across grid barriers: no __restrict__, no
// __ldg on any of these (kernels.hpp, before persistent_forward).
struct PersistScratch {
  float* hbuf;   // [2][B][H]  h_{t-1} / h_t
  float* upart;  // [2][slices][B] per-block partial scores
  float* ctx;    // [B][H]  context (when the caller stores none)
};

// Two variants by the blocks an SM runs: a grid of at most one block an SM
// (every shape up to ~132 blocks, B128 H256 and B32 H1024 among them) may use up to 255 registers,
// keeps 16 staging loads in flight (16-byte ones where the rows allow) and adds up to 4 units a
// thread (register tiling: plan.hpp's max_units); a grid of up to 4 blocks an SM is held to 64
// registers, where the forward's live state leaves room for 4 (16 spill) and one unit.
struct WideVariant {
  static constexpr int kMinBlocks = 1, kInFlight = 16, kVecInFlight = 16;
  static constexpr int kMaxUnits = kPersistentWideMaxUnits;
};
struct CappedVariant {
  static constexpr int kMinBlocks = kPersistentMinBlocksPerSm, kInFlight = 4, kVecInFlight = 1;
  static constexpr int kMaxUnits = kPersistentMaxUnits;
};
// A block's (sequence, unit) pairs a thread: at most 32 sequences x 16 units over 256 threads.
constexpr int kPairsPerThread =
    kPersistentMaxRows * (kPersistentSlice / 2) * kPersistentSlice / kPersistentThreads;
static_assert(kPairsPerThread == 2, "the elementwise part's pairs a thread");

template <typename V>
__global__ void __launch_bounds__(kPersistentThreads, V::kMinBlocks)
    persistent_forward_kernel(FusedForwardArgs a, PersistScratch s, PersistentGeometry g) {
  cg::grid_group grid = cg::this_grid();
  const int B = a.shape.batch, T = a.shape.steps, H = a.shape.hidden, O = a.shape.output;
  const bool attention = a.shape.attention;
  const TileThread th = tile_thread(g);
  const int group_end = B < th.b0 + g.group ? B : th.b0 + g.group;
  const int n_out = g.staged * kPersistentSlice;  // (sequence, unit) pairs of the block

  float* wh_s = dynamic_shared<float>();    // the Wh slice (split layout)
  float* h_s = wh_s + g.split * g.wh_part;  // [staged][hpad]  h_{t-1}
  float* ht_s = h_s + g.staged * g.hpad;    // [staged][16]    h_t
  float* p_s = ht_s + n_out;                // [staged][16]    h_t * wa
  float* acc_s = p_s + n_out;               // [staged][16]    sum_t exp(e_t) h_t
  float* sum_s = acc_s + n_out;             // [staged]        running S
  float* w_s = sum_s + g.staged;            // [staged]        exp(e_t) of this step
  float* z_s = w_s + g.staged;              // [staged][16]    h_{t-1} Wh

  load_slice(g, th.slice, a.w.wh, H, wh_s);
  for (int i = threadIdx.x; i < n_out; i += blockDim.x) acc_s[i] = 0.f;
  for (int i = threadIdx.x; i < g.staged; i += blockDim.x) sum_s[i] = 0.f;

  // The thread's pairs i = threadIdx.x + r * 256 (at most kPairsPerThread) and what each needs at
  // every step, loaded once: bh_j, wa_j and the sequence's length; and the
  // input projection of the next step, loaded before the grid barrier that ends this one.
  float bh_r[kPairsPerThread] = {}, wa_r[kPairsPerThread] = {}, xw_r[kPairsPerThread] = {};
  int len_r[kPairsPerThread] = {};
  RNNATTN_UNROLL
  for (int r = 0; r < kPairsPerThread; ++r) {
    const int i = threadIdx.x + r * kPersistentThreads;
    const TilePair q = tile_pair(g, th, group_end, i);
    if (i < n_out && q.valid) {
      bh_r[r] = a.w.bh[q.j];
      wa_r[r] = attention ? a.w.wa[q.j] : 0.f;
      len_r[r] = sequence_length(a.lengths, q.b, T);
      xw_r[r] = a.xw[static_cast<std::size_t>(q.b) * T * H + q.j];
    }
  }

  // The length of the sequence whose score this thread forms (threads below g.staged), once.
  const int score_len =
      static_cast<int>(threadIdx.x) < g.staged && th.b0 + static_cast<int>(threadIdx.x) < group_end
          ? sequence_length(a.lengths, th.b0 + threadIdx.x, T)
          : 0;
  int cur = 0;
  for (int t = 0; t < T; ++t) {
    const float* hprev = s.hbuf + static_cast<std::size_t>(cur) * B * H;
    float* hnext = s.hbuf + static_cast<std::size_t>(cur ^ 1) * B * H;
    float* upart = s.upart + static_cast<std::size_t>(t & 1) * B * g.slices;
    // z_s = h_{t-1} Wh for the block's (sequence, unit) pairs (h_s holds h_{t-1}).
    slice_products<V::kInFlight, V::kMaxUnits, V::kVecInFlight>(
        g, th, group_end, t > 0 ? hprev : nullptr, H, wh_s, h_s, z_s);
    // The step's elementwise part, thread i on (sequence i / 16, unit i % 16): 16 consecutive
    // units of a sequence are 16 consecutive lanes (coalesced reads of xw, writes of h_t).
    RNNATTN_UNROLL
    for (int r = 0; r < kPairsPerThread; ++r) {
      const int i = threadIdx.x + r * kPersistentThreads;
      if (i >= n_out) continue;
      const TilePair q = tile_pair(g, th, group_end, i);
      const int bb = q.bb, b = q.b, j = q.j;
      float h = 0.f, wa_j = 0.f;
      if (q.valid) {
        const std::size_t row = static_cast<std::size_t>(b) * T + t;
        if (t < len_r[r]) {
          h = tanhf(z_s[i] + bh_r[r] + xw_r[r]);
        } else {
          h = h_s[bb * g.hpad + j];  // padding keeps the state
        }
        hnext[static_cast<std::size_t>(b) * H + j] = h;
        if (a.hidden) a.hidden[row * H + j] = h;
        wa_j = wa_r[r];
        // The next step's input projection, in flight across this step's barriers.
        if (t + 1 < T) xw_r[r] = a.xw[(row + 1) * H + j];
      }
      ht_s[i] = h;
      p_s[i] = h * wa_j;
    }
    __syncthreads();  // ht_s, p_s complete; h_s and z_s may be rewritten after the grid barrier
    if (attention && static_cast<int>(threadIdx.x) < g.staged) {
      const int bb = threadIdx.x, b = th.b0 + bb;
      if (b < group_end) {
        float p = 0.f;
        for (int jj = 0; jj < kPersistentSlice; ++jj) p += p_s[bb * kPersistentSlice + jj];
        upart[static_cast<std::size_t>(th.slice) * B + b] = p;
      }
    }
    // The score bias, loaded before the grid barrier (after it, one more L2 round trip on the
    // step's path; the partial scores must come after it).
    const float ba_t = attention && static_cast<int>(threadIdx.x) < g.staged ? a.w.ba[t] : 0.f;
    grid.sync();  // h_t and the partial scores of every block are visible
    if (attention) {
      if (static_cast<int>(threadIdx.x) < g.staged) {
        const int bb = threadIdx.x, b = th.b0 + bb;
        float w = 0.f;
        if (b < group_end) {
          float u = ba_t;
          for (int k = 0; k < g.slices; ++k) u += upart[static_cast<std::size_t>(k) * B + b];
          const bool valid = t < score_len;  // padding: no weight
          const float e = valid ? tanhf(u) : 0.f;
          w = valid ? expf(e) : 0.f;
          sum_s[bb] += w;
          if (th.slice == 0) {
            if (a.scores) a.scores[static_cast<std::size_t>(b) * T + t] = e;
            if (a.attention) a.attention[static_cast<std::size_t>(b) * T + t] = w;
          }
        }
        w_s[bb] = w;
      }
      __syncthreads();
      for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
        acc_s[i] += w_s[i / kPersistentSlice] * ht_s[i];
      }
    }
    cur ^= 1;
  }

  // Context for the block's units; then the head from all of them.
  float* ctx = a.context ? a.context : s.ctx;
  for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
    const TilePair q = tile_pair(g, th, group_end, i);
    const int bb = q.bb, b = q.b, j = q.j;
    if (q.valid) {
      ctx[static_cast<std::size_t>(b) * H + j] = attention ? acc_s[i] / sum_s[bb] : ht_s[i];
    }
  }
  grid.sync();
  // Head: one warp per (sequence, output) over every block's warps; the lanes split the H-long
  // dot product (coalesced reads of the context row) and reduce it with shuffles in a fixed order.
  const int lane = threadIdx.x % 32, warps = blockDim.x / 32;
  for (int i = blockIdx.x * warps + threadIdx.x / 32; i < B * O; i += gridDim.x * warps) {
    const int b = i / O, o = i % O;
    float v = 0.f;
    for (int k = lane; k < H; k += 32) {
      v += ctx[static_cast<std::size_t>(b) * H + k] * a.w.wd[k * O + o];
    }
    v = warp_sum(v);
    if (lane == 0) a.y[i] = head_act(a.shape.head, v + a.w.bd[o]);
  }
  // The softmax's sums and weights: the block of slice 0 of each group wrote its sequences'
  // weights and normalises them (the same thread wrote them).
  if (attention && th.slice == 0 && static_cast<int>(threadIdx.x) < g.staged) {
    const int b = th.b0 + threadIdx.x;
    if (b < group_end) {
      const float S = sum_s[threadIdx.x];
      if (a.expsum) a.expsum[b] = S;
      if (a.attention) {
        for (int t = 0; t < T; ++t) a.attention[static_cast<std::size_t>(b) * T + t] /= S;
      }
    }
  }
}

}  // namespace

std::size_t persistent_scratch_floats(const Shape& s) {
  const std::size_t bh = static_cast<std::size_t>(s.batch) * s.hidden;
  const std::size_t slices = (s.hidden + kPersistentSlice - 1) / kPersistentSlice;
  // forward: hbuf, upart, ctx; backward: dL/dc (persistent_backward) fits in hbuf.
  return 2 * bh + 2 * static_cast<std::size_t>(s.batch) * slices + bh;
}

namespace {

template <typename V>
bool launch_forward(const char* name, const FusedForwardArgs& a, const PersistentTiling& tiling,
                    float* scratch, cudaStream_t stream) {
  if (tiling.units > V::kMaxUnits) return false;  // a tiling for another GPU's SM count
  constexpr auto kernel = persistent_forward_kernel<V>;
  const std::size_t smem =
      persistent_launch_smem<kernel>(tiling.blocks(), tiling.smem_forward_bytes());
  if (smem == 0) return false;
  const Shape& s = a.shape;
  const std::size_t bh = static_cast<std::size_t>(s.batch) * s.hidden;
  PersistScratch ps{scratch, scratch + 2 * bh, nullptr};
  ps.ctx = ps.upart + 2 * static_cast<std::size_t>(s.batch) * tiling.slices;
  return launch_persistent<kernel>(name, tiling.blocks(), smem, stream, a, ps, geometry_of(tiling));
}

}  // namespace

bool persistent_forward(const FusedForwardArgs& a, const PersistentTiling& tiling, float* scratch,
                        cudaStream_t stream) {
  const Shape& s = a.shape;
  if (s.batch < 1 || tiling.hidden != s.hidden) return false;
  int device = 0, sms = 0;
  RNNATTN_CUDA_CHECK(cudaGetDevice(&device));
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  if (tiling.blocks() <= sms) {
    return launch_forward<WideVariant>("persistent_forward_kernel", a, tiling, scratch, stream);
  }
  return launch_forward<CappedVariant>("persistent_forward_kernel<capped>", a, tiling, scratch,
                                       stream);
}

}  // namespace rnnattn::kernels
