// The whole-GPU mapping (internal): one kernel body each way for the recurrence of one recurrent
// block (layer, direction), over the cell, the variant and whether the attention and head run
// inside (a one-layer, one-direction model), and over how the blocks exchange each step's states:
//   grid (rnn_persistent.cu): one cooperative launch over the whole GPU, block (s, g) owning the
//     16 units of slice s for the sequences of batch group g; h_t (the backward: dL/drec) goes to
//     global memory, a grid barrier, and each block stages its group's rows into shared memory
//     (Diamos et al., 2016). A bidirectional layer's two directions run as two planes of blocks
//     side by side along x;
//   cluster (rnn_cluster.cu, sm_90): cluster k of N blocks owns group k (at most 32 sequences;
//     `order` says which: packed by length, a group's sequences end together), block r of it the
//     `subs` slices [r subs, (r + 1) subs); h_t goes straight into every block's copy of the
//     group's rows (distributed shared memory, double-buffered) and a cluster barrier replaces
//     the grid's, so the products read only the block's own shared memory; each cluster stops at
//     its group's longest sequence. The two directions run side by side along y.
// Every block keeps its slices of Wh (the backward: of Wh^T) in shared memory for the whole run.
//
// Forward, per step t in the block's direction: z = h_{t-1} Wh for the block's (sequence, unit)
// pairs, every gate over one read of the rows, each dot product split over `split` lanes
// (persistent_common.cuh); one thread per pair adds x_t Wx (one GEMM before the launch) and the
// bias and runs the cell (cells.cuh; the LSTM's c stays in shared memory), writes h_t and what
// the step keeps; with the head the block's partial score sum_j h_t wa over its units goes to
// the group's other blocks; the barrier; with the head every block sums its group's partials in
// slice order (every block gets the bitwise same u_t), forms e_t, exp(e_t) and the running S,
// and adds exp(e_t) h_t to its own units' accumulators. After the last step (head): the context
// c = acc / S and y = act(c Wd + bd).
// Backward, against the direction: with the head first g = dL/dc of the block's pairs (to every
// block of the group: the attention's g.h_t needs all of H) and dpre, a barrier, du_t for every
// (sequence, step) over the warps (the H-long dots g.h_t and g.c do not depend on the recurrence,
// so they leave the serial loop), a barrier. Per step: the product of dL/drec of the step
// processed before (G*H values a row; the grid's gated backward stages them in `pieces` parts
// where the tiling says so) with the slice is the Wh part of dL/dh_t; the cell's backward per
// pair writes d_in and drec_next (or drec_first) and keeps the LSTM's dL/dc; the barrier.
// Padding (t >= L) as in rnn_segment.cu: h, c and what a step keeps pass unchanged in the forward
// (score 0, weight 0); dL/dh and dL/dc pass through in the backward, d_in = d_rec = 0. Steps past
// a cluster's longest sequence are padding for all of it: the forward direction carries its
// final state there, the backward direction (which would meet them first) its initial state, 0.
// No atomics: the products' shuffle order is fixed, so results are bitwise reproducible.
//
// Memory model: what other blocks wrote before a barrier (the states, drec_next, the head's
// context, attention, dpre and du, the grid's scratch) is read after it with __ldcg or plain
// loads, never __ldg (kernels.hpp, before persistent_forward); grid.sync() and cluster.sync()
// (barrier.cluster.arrive.release + wait.acquire) make the writes before them visible to every
// thread of the grid or cluster after them. A block's shared memory is gone when it exits, so
// every access to another block's shared memory is followed by a cluster barrier before the
// owner can exit.
#pragma once

#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include "cells.cuh"
#include "cuda_compat.cuh"
#include "device_common.cuh"
#include "kernels.hpp"
#include "persistent_common.cuh"

// Clusters exist from compute capability 9.0: compiled for an older target, the cluster
// instantiations are empty (their launchers never run them there: current_gpu_limits() says the
// GPU has no clusters).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
#define RNNATTN_CLUSTER_KERNELS 0
#else
#define RNNATTN_CLUSTER_KERNELS 1
#endif

namespace rnnattn::kernels {
namespace {

namespace cg = cooperative_groups;

// ---- variants: the exchange and the registers a thread has --------------------------------
//   ElmanWide (grid): grids of at most one block an SM (every Elman shape up to ~132 blocks, B128
//     H256 and B32 H1024 among them), up to 255 registers: 16 staging loads in flight (16-byte
//     ones where the rows allow), up to 4 units a thread (register tiling: plan.hpp's
//     max_units), and the backward's step inputs loaded ahead of the products;
//   ElmanCapped (grid): grids of up to 4 blocks an SM, 64 registers: the forward 4 loads in
//     flight (16 spill) and one unit; the backward loads its step inputs after the products;
//   Gated (grid): the LSTM and GRU, 128 registers (2 blocks an SM: a bidirectional layer's
//     directions in one grid): the G gates' products fused over one staging (staged_products'
//     FusedMats), 16 loads in flight of 4 bytes and 8 (forward) or 16 (backward: its piece loop
//     otherwise goes out 6 at a time, tools/sass_check.py) of 16 bytes; plan.cpp's
//     staging_round_trips;
//   ClusterWide (cluster): one block an SM, up to 4 slices and 4 units a thread; nothing staged.
// kPairs: the (sequence, unit) pairs a thread in the elementwise loops, where each keeps what it
// needs at every step in registers: the grid's blocks have 32 sequences x 16 units at most, the
// cluster's 4 slices of them.
struct ElmanWide {
  static constexpr bool kCluster = false;
  static constexpr int kMinBlocks = 1, kPairs = 2;
  static constexpr int kInFlight = 16, kVecInFlight = 16, kMaxUnits = kPersistentWideMaxUnits;
  static constexpr int kBackInFlight = kStageInFlight, kBackVecInFlight = kStageInFlight;
  static constexpr int kBackMaxUnits = kPersistentWideMaxUnits;
  static constexpr bool kLoadAhead = true;
};
struct ElmanCapped {
  static constexpr bool kCluster = false;
  static constexpr int kMinBlocks = kPersistentMinBlocksPerSm, kPairs = 2;
  static constexpr int kInFlight = 4, kVecInFlight = 1, kMaxUnits = kPersistentMaxUnits;
  static constexpr int kBackInFlight = kStageInFlight, kBackVecInFlight = kStageInFlight / 4;
  static constexpr int kBackMaxUnits = kPersistentMaxUnits;
  static constexpr bool kLoadAhead = false;
};
struct Gated {
  static constexpr bool kCluster = false;
  static constexpr int kMinBlocks = kGatedPersistentMinBlocksPerSm, kPairs = 2;
  static constexpr int kInFlight = 16, kVecInFlight = 8, kMaxUnits = 4;  // the mats: G <= 4
  static constexpr int kBackInFlight = 16, kBackVecInFlight = 16;
  static constexpr int kBackMaxUnits = kGatedBackwardMaxUnits;
  static constexpr bool kLoadAhead = false;
};
struct ClusterWide {
  static constexpr bool kCluster = true;
  static constexpr int kMinBlocks = 1, kPairs = 8;
  static constexpr int kInFlight = 0, kVecInFlight = 0, kMaxUnits = kClusterMaxUnits;
  static constexpr int kBackInFlight = 0, kBackVecInFlight = 0, kBackMaxUnits = kClusterMaxUnits;
  static constexpr bool kLoadAhead = true;
};
static_assert(kPersistentMaxRows * (kPersistentSlice / 2) * kPersistentSlice / kPersistentThreads ==
                  ElmanWide::kPairs,
              "a grid block's pairs a thread");
static_assert(kClusterMaxSubs * kClusterMaxRows * kPersistentSlice / kPersistentThreads ==
                  ClusterWide::kPairs,
              "a cluster block's pairs a thread");

// A launch's parameters: its blocks' arguments (one direction, or a bidirectional layer's two:
// dir[1] = dir[0] for one), the head's (kHead kernels only), the cluster's `order` and the grid's
// scratch. Written by every block and read by the others across barriers: the states (`out`),
// drec_next, the head's context, attention, du and dpre, and the scratch: no __restrict__, no
// __ldg on any of these.
template <typename Args>
struct PersistentParams {
  Args dir[2];
  AttentionHeadArgs head;
  const int* order;  // cluster: the sequence of each group slot, or null: in order
  float* hbuf;       // grid forward without `out`: [2][B][H] h_{t-1} / h_t; backward (head): dL/dc
  float* upart;      // grid forward (head): [2][slices][B] per-block partial scores
  float* ctx;        // grid forward (head): [B][H] the context where the caller stores none
};

// A block's place: the N blocks of its group that exchange partial sums (grid: the group's
// slices; cluster: the cluster's blocks) and its rank among them, the group's first slot and
// sequences, its `subs` slices from first_slice, its (sequence, unit) pairs, the steps it runs
// (grid: T; cluster: its group's longest sequence, cluster_begin), and the thread's role in the
// products (persistent_common.cuh).
struct Place {
  int N, rank, b0, rows, first_slice, subs, n_out, steps;
  TileThread th;
};

template <typename V, typename Args>
__device__ __forceinline__ Args place_block(const PersistentParams<Args>& p,
                                            const PersistentGeometry& g, int subs, Place* pl) {
  if constexpr (V::kCluster) {
    cg::cluster_group cluster = cg::this_cluster();
    pl->N = static_cast<int>(cluster.num_blocks());
    pl->rank = static_cast<int>(cluster.block_rank());
    pl->b0 = static_cast<int>(blockIdx.x) / pl->N * g.group;
    pl->first_slice = pl->rank * subs;
    pl->subs = subs;
    pl->th = tile_lanes(g);
    pl->th.slice = pl->first_slice;
    pl->th.b0 = pl->b0;
  } else {
    // The plane of this block and its index within the plane.
    const int per_plane = g.slices * g.groups;
    const int plane = static_cast<int>(blockIdx.x) / per_plane;
    pl->th = tile_thread(g, static_cast<int>(blockIdx.x) - plane * per_plane);
    pl->N = g.slices;
    pl->rank = pl->th.slice;
    pl->b0 = pl->th.b0;
    pl->first_slice = pl->th.slice;
    pl->subs = 1;
  }
  pl->n_out = pl->subs * g.staged * kPersistentSlice;
  // Field by field from the two: a dynamic index into the kernel's parameters would copy them to
  // local memory.
  const bool second =
      V::kCluster ? blockIdx.y != 0 : static_cast<int>(blockIdx.x) >= g.slices * g.groups;
  const Args a = second ? p.dir[1] : p.dir[0];
  pl->rows = a.batch - pl->b0 < g.group ? a.batch - pl->b0 : g.group;
  pl->steps = a.steps;
  return a;
}

// The block's pair i (one thread per pair in the elementwise loops): slice m = i / (staged 16) of
// the block's, row bb of the group, unit j; `valid` where both exist. z_s (staged_products) holds
// its product at index i.
struct Pair {
  int bb, j;
  bool valid;
};

__device__ __forceinline__ Pair pair_of(const PersistentGeometry& g, const Place& pl, int i) {
  const int per = g.staged * kPersistentSlice;
  const int m = i / per, rem = i - m * per;
  Pair p;
  p.bb = rem / kPersistentSlice;
  p.j = (pl.first_slice + m) * kPersistentSlice + rem % kPersistentSlice;
  p.valid = p.bb < pl.rows && p.j < g.hidden;
  return p;
}

// The block's barrier with the others of its exchange.
template <typename V>
__device__ __forceinline__ void exchange_sync() {
  if constexpr (V::kCluster) {
    cg::this_cluster().sync();
  } else {
    cg::this_grid().sync();
  }
}

// Stores v at word i of `local`'s counterpart in every block of the cluster.
__device__ __forceinline__ void store_to_cluster(int blocks, float* local, int i, float v) {
  cg::cluster_group cluster = cg::this_cluster();
  for (int r = 0; r < blocks; ++r) cluster.map_shared_rank(local, r)[i] = v;
}

// The start every kernel shares: `zero_n` floats of `zero` cleared (the row buffers, whose rows
// past the group and columns past `inner` the products read), the group's sequences (seq_s:
// `order`'s, or in order) and lengths (len_s), then a barrier (the cluster's: every block of the
// cluster has started and cleared its buffers before any block writes into them), and the steps
// the block runs: every thread reads the same longest length.
template <typename V>
__device__ __forceinline__ void begin_block(const int* order, const int* lengths, int steps,
                                            float* zero, int zero_n, int* seq_s, int* len_s,
                                            Place* pl) {
  for (int i = threadIdx.x; i < zero_n; i += blockDim.x) zero[i] = 0.f;
  for (int bb = threadIdx.x; bb < pl->rows; bb += blockDim.x) {
    const int b = order ? order[pl->b0 + bb] : pl->b0 + bb;
    seq_s[bb] = b;
    len_s[bb] = sequence_length(lengths, b, steps);
  }
  if constexpr (V::kCluster) {
    cg::this_cluster().sync();
    int longest = 1;
    for (int bb = 0; bb < pl->rows; ++bb) longest = len_s[bb] > longest ? len_s[bb] : longest;
    pl->steps = longest;
  } else {
    __syncthreads();
  }
}

// ---- the head inside the forward ----------------------------------------------------------

// The forward's per-block state of the attention: per pair h_t, h_t wa and sum_t exp(e_t) h_t,
// per sequence the running S and exp(e_t) of this step.
struct HeadSmem {
  float *ht, *p, *acc, *sum, *w;
};

// Where a step's partial scores go: the grid's [2][slices][B] scratch, indexed by sequence, or
// every cluster block's [2][N][staged] buffer, indexed by group row.
struct Partials {
  float* base;  // this step's half
  int stride;   // between two blocks' partials: B (grid) or staged (cluster)
  __device__ __forceinline__ int index(int b, int bb, bool cluster) const {
    return cluster ? bb : b;
  }
};

template <typename V>
__device__ __forceinline__ Partials partials_of(const PersistentGeometry& g, const Place& pl,
                                                float* parts, int batch, int n) {
  if constexpr (V::kCluster) {
    return Partials{parts + (n & 1) * pl.N * g.staged, g.staged};
  } else {
    return Partials{parts + static_cast<std::size_t>(n & 1) * batch * g.slices, batch};
  }
}

// The block's partial score of row bb (sequence b) over its units, to where the group's blocks
// read it.
template <typename V>
__device__ __forceinline__ void publish_partial(const PersistentGeometry& g, const Place& pl,
                                                const Partials& out, int b, int bb,
                                                const HeadSmem& s) {
  const int per = g.staged * kPersistentSlice;
  float sum = 0.f;
  for (int m = 0; m < pl.subs; ++m) {
    for (int jj = 0; jj < kPersistentSlice; ++jj) sum += s.p[m * per + bb * kPersistentSlice + jj];
  }
  const int at = pl.rank * out.stride + out.index(b, bb, V::kCluster);
  if constexpr (V::kCluster) {
    store_to_cluster(pl.N, out.base, at, sum);
  } else {
    out.base[at] = sum;
  }
}

// Step t's scores after the barrier: every block sums its group's partials in rank order (the
// bitwise same u_t everywhere), forms e_t, exp(e_t) and S (the group's first block stores e_t
// and exp(e_t)), and adds exp(e_t) h_t to its units' accumulators. ba_t: loaded before the
// barrier (after it, one more L2 round trip on the step's path).
template <typename V>
__device__ __forceinline__ void head_step_weights(const AttentionHeadArgs& h,
                                                  const PersistentGeometry& g, const Place& pl,
                                                  const int* seq_s, const int* len_s,
                                                  const Partials& parts, float ba_t, int t,
                                                  const HeadSmem& s) {
  const int T = h.shape.steps, per = g.staged * kPersistentSlice;
  if (static_cast<int>(threadIdx.x) < g.staged) {
    const int bb = threadIdx.x;
    float w = 0.f;
    if (bb < pl.rows) {
      const int b = seq_s[bb];
      const float* part = parts.base + parts.index(b, bb, V::kCluster);
      float u = ba_t;
      for (int k = 0; k < pl.N; ++k) u += part[static_cast<std::size_t>(k) * parts.stride];
      const bool valid = t < len_s[bb];  // padding: no weight
      const float e = valid ? tanhf(u) : 0.f;
      w = valid ? expf(e) : 0.f;
      s.sum[bb] += w;
      if (pl.rank == 0) {
        if (h.scores) h.scores[static_cast<std::size_t>(b) * T + t] = e;
        if (h.attention) h.attention[static_cast<std::size_t>(b) * T + t] = w;
      }
    }
    s.w[bb] = w;
  }
  __syncthreads();
  for (int i = threadIdx.x; i < pl.n_out; i += blockDim.x) {
    s.acc[i] += s.w[(i % per) / kPersistentSlice] * s.ht[i];
  }
}

// The softmax's sums and weights of the group's rows, by the threads that wrote the weights.
__device__ __forceinline__ void normalise_weights(const AttentionHeadArgs& h, const Place& pl,
                                                  const int* seq_s, const HeadSmem& s) {
  if (!h.shape.attention || pl.rank != 0 || static_cast<int>(threadIdx.x) >= pl.rows) return;
  const int T = h.shape.steps;
  const std::size_t b = seq_s[threadIdx.x];
  const float S = s.sum[threadIdx.x];
  if (h.expsum) h.expsum[b] = S;
  if (h.attention) {
    for (int t = 0; t < T; ++t) h.attention[b * T + t] /= S;
  }
}

// After the forward's steps, the head: each block's context c = acc / S (or the last state) of
// its units, gathered where y is formed (the grid: global memory, after a grid barrier one warp a
// (sequence, output) over every block's warps; the cluster: block 0's h buffer, free again, after
// a cluster barrier its warps), the lanes splitting the H-long dot product (coalesced) and
// reducing it with shuffles in a fixed order; then the softmax's sums and weights. The cluster's
// scores and weights of the steps past its longest sequence are 0.
template <typename V>
__device__ __forceinline__ void head_finish(const AttentionHeadArgs& h, float* ctx_scratch,
                                            const PersistentGeometry& g, const Place& pl,
                                            const int* seq_s, const HeadSmem& s, float* rows_s) {
  const int T = h.shape.steps, H = h.shape.hidden, O = h.shape.output;
  const bool attention = h.shape.attention;
  if (V::kCluster && pl.rank == 0 && static_cast<int>(threadIdx.x) < pl.rows) {
    const std::size_t b = seq_s[threadIdx.x];
    for (int t = pl.steps; t < T; ++t) {
      if (h.scores) h.scores[b * T + t] = 0.f;
      if (h.attention) h.attention[b * T + t] = 0.f;
    }
  }
  float* ctx = h.context ? h.context : ctx_scratch;  // the grid's
  for (int i = threadIdx.x; i < pl.n_out; i += blockDim.x) {
    const Pair q = pair_of(g, pl, i);
    if (!q.valid) continue;
    const float c = attention ? s.acc[i] / s.sum[q.bb] : s.ht[i];
    const std::size_t b = seq_s[q.bb];
    if constexpr (V::kCluster) {
      if (h.context) h.context[b * H + q.j] = c;
      cg::this_cluster().map_shared_rank(rows_s, 0)[q.bb * g.hpad + q.j] = c;
    } else {
      ctx[b * H + q.j] = c;
    }
  }
  exchange_sync<V>();  // (cluster: no block reaches another's memory after it)
  const int lane = threadIdx.x % 32, warps = blockDim.x / 32;
  if constexpr (V::kCluster) {
    if (pl.rank == 0) {
      for (int i = threadIdx.x / 32; i < pl.rows * O; i += warps) {
        const int bb = i / O, o = i % O;
        float v = 0.f;
        for (int k = lane; k < H; k += 32) v += rows_s[bb * g.hpad + k] * h.wd[k * O + o];
        v = warp_sum(v);
        if (lane == 0) {
          h.y[static_cast<std::size_t>(seq_s[bb]) * O + o] = head_act(h.shape.head, v + h.bd[o]);
        }
      }
    }
  } else {
    const int B = h.shape.batch;
    for (int i = blockIdx.x * warps + threadIdx.x / 32; i < B * O; i += gridDim.x * warps) {
      const int b = i / O, o = i % O;
      float v = 0.f;
      for (int k = lane; k < H; k += 32) {
        v += ctx[static_cast<std::size_t>(b) * H + k] * h.wd[k * O + o];
      }
      v = warp_sum(v);
      if (lane == 0) h.y[i] = head_act(h.shape.head, v + h.bd[o]);
    }
  }
  normalise_weights(h, pl, seq_s, s);
}

// ---- forward --------------------------------------------------------------------------------

// A gated cell's step for pair i (unit j of the sequence whose rows start at seq): x_t Wx + b
// and h_{t-1} Wh (z_s, 0 before the first step) into the cell, what the step keeps into aux;
// padding keeps h (hprev), c and what the step before kept. Returns h_t.
template <Cell kCell>
__device__ __forceinline__ float gated_step(const CellForwardArgs& a, std::size_t seq, int t,
                                            int tp, int n, int j, int i, int n_out, int len,
                                            float hprev, const float* z_s, float* c_s) {
  constexpr int G = gate_count(kCell), A = kept_of(kCell), kSlots = kept_slots(kCell);
  const int H = a.hidden, GH = G * H;
  const std::size_t row = seq + t;
  float h = hprev;
  float kept[kSlots] = {};
  // The input projection is loaded whatever the length (xw has every row), so that its load is
  // issued with the length's rather than after it.
  float xin[G], rec[G];
  for (int k = 0; k < G; ++k) xin[k] = a.bias[k * H + j] + a.xw[row * GH + k * H + j];
  if (t < len) {
    for (int k = 0; k < G; ++k) {
      rec[k] =
          (n > 0 ? z_s[k * n_out + i] : 0.f) + (kCell == Cell::kGru ? a.bias[GH + k * H + j] : 0.f);
    }
    // prev: c_{t-1} (LSTM) or h_{t-1} (GRU), as in rnn_segment.cu.
    h = cell_step<kCell>(xin, rec, kCell == Cell::kLstm ? c_s[i] : hprev, kept);
    if (kCell == Cell::kLstm) c_s[i] = kept[A - 1];
  } else if (a.aux) {
    // Padding keeps what the step before kept (this thread wrote it), 0 before any step.
    for (int k = 0; k < A; ++k) kept[k] = tp >= 0 ? a.aux[(seq + tp) * A * H + k * H + j] : 0.f;
  }
  if (a.aux) {
    for (int k = 0; k < A; ++k) a.aux[row * A * H + k * H + j] = kept[k];
  }
  return h;
}

// The cluster's states after a step's barrier (from ht_s, step t), and after the last step those
// of the steps past the group's longest sequence: the forward direction's final state, the
// backward direction's initial one, 0.
__device__ __forceinline__ void write_states(const CellForwardArgs& a, const PersistentGeometry& g,
                                             const Place& pl, const int* seq_s, const float* ht_s,
                                             int t_first, int t_end, bool tail) {
  const int T = a.steps;
  for (int i = threadIdx.x; i < pl.n_out; i += blockDim.x) {
    const Pair q = pair_of(g, pl, i);
    if (!q.valid) continue;
    const float h = tail && a.direction != 0 ? 0.f : ht_s[i];
    for (int t = t_first; t < t_end; ++t) {
      a.out[(static_cast<std::size_t>(seq_s[q.bb]) * T + t) * a.stride + q.j] = h;
    }
  }
}

template <Cell kCell, typename V, bool kHead>
__global__ void __launch_bounds__(kPersistentThreads, V::kMinBlocks)
    persistent_forward_kernel(PersistentParams<CellForwardArgs> p, PersistentGeometry g, int subs) {
  constexpr int G = gate_count(kCell);
  constexpr bool kCluster = V::kCluster;
  static_assert(!kCluster || G == 1, "the cluster exchange runs the Elman cell");
  if constexpr (kCluster && !RNNATTN_CLUSTER_KERNELS) {
    return;
  } else {
    Place pl;
    const CellForwardArgs a = place_block<V>(p, g, subs, &pl);
    const int B = a.batch, T = a.steps, H = a.hidden, C = a.stride, GH = G * H;
    const bool attention = kHead && p.head.shape.attention;
    const int n_out = pl.n_out, rsize = g.staged * g.hpad;
    const TileThread& th = pl.th;

    // Shared memory: the block's slices of Wh (G a slice, split layout); the group's rows of
    // h_{t-1} (the grid's staged, the cluster's double-buffered [2][staged][hpad]); per pair the
    // G products, the LSTM's c, and (head, cluster) h_t; with the head per pair h_t wa and
    // sum_t exp(e_t) h_t, the cluster's partial scores [2][N][staged], per row S and exp(e_t).
    float* wh_s = dynamic_shared<float>();
    float* rows_s = wh_s + subs * G * g.split * g.wh_part;
    float* z_s = rows_s + (kCluster ? 2 : 1) * rsize;
    float* c_s = z_s + G * n_out;
    float* ht_s = c_s + (kCell == Cell::kLstm ? n_out : 0);
    float* part_s = ht_s + 3 * n_out;
    const HeadSmem hs{ht_s, ht_s + n_out, ht_s + 2 * n_out,
                      part_s + (kCluster ? 2 * pl.N * g.staged : 0),
                      part_s + (kCluster ? 2 * pl.N * g.staged : 0) + g.staged};
    RNNATTN_SHARED_ARRAY(int, seq_s, kClusterMaxRows);
    RNNATTN_SHARED_ARRAY(int, len_s, kClusterMaxRows);
    for (int m = 0; m < subs; ++m) {
      for (int q = 0; q < G; ++q)
        load_slice(g, pl.first_slice + m, a.wh + q * H, GH,
                   wh_s + static_cast<std::size_t>(m * G + q) * g.split * g.wh_part);
    }
    for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
      if (kCell == Cell::kLstm) c_s[i] = 0.f;
      if (kHead) hs.acc[i] = 0.f;
    }
    if (kHead) {
      for (int i = threadIdx.x; i < g.staged; i += blockDim.x) hs.sum[i] = 0.f;
    }
    // h_0 = 0: the rows (a padding step before any valid one keeps it).
    begin_block<V>(p.order, a.lengths, T, rows_s, (kCluster ? 2 : 1) * rsize, seq_s, len_s, &pl);
    const int steps = pl.steps;
    const auto step_t = [&](int n) { return a.direction == 0 ? n : steps - 1 - n; };

    // The Elman cell's pairs keep the bias and wa in registers, and the input projection of the
    // next step, loaded as soon as this step's h is out, so that its latency passes under the
    // step's barriers. (The gated cells' G values a pair would not fit their 128 registers.)
    float bias_r[V::kPairs] = {}, wa_r[V::kPairs] = {}, xw_r[V::kPairs] = {};
    if constexpr (G == 1) {
      RNNATTN_UNROLL
      for (int r = 0; r < V::kPairs; ++r) {
        const int i = threadIdx.x + r * kPersistentThreads;
        const Pair q = pair_of(g, pl, i);
        if (i < n_out && q.valid) {
          bias_r[r] = a.bias[q.j];
          wa_r[r] = attention ? p.head.wa[q.j] : 0.f;
          xw_r[r] = a.xw[(static_cast<std::size_t>(seq_s[q.bb]) * T + step_t(0)) * H + q.j];
        }
      }
    }
    // The grid stages h_{t-1} from the states, rows T*C apart, or where the caller keeps none
    // from the double-buffered scratch.
    const std::size_t h_stride = a.out ? static_cast<std::size_t>(T) * C : H;

    for (int n = 0; n < steps; ++n) {
      const int t = step_t(n);
      const int tp = n > 0 ? step_t(n - 1) : -1;  // the step processed before
      // The rows of h_{t-1} (the cluster's: its buffer of the step before, zero before the
      // first) and where h_t goes (the cluster's other buffer; the grid's scratch half).
      const float* hprev_s = kCluster ? rows_s + ((n & 1) ^ 1) * rsize : rows_s;
      float* hcur_s = rows_s + (n & 1) * rsize;
      float* hnext = kCluster || a.out ? nullptr : p.hbuf + static_cast<std::size_t>(n & 1) * B * H;
      if (n > 0) {  // z_s = h_{t-1} Wh for the block's pairs, every gate
        if constexpr (kCluster) {
          staged_products<V::kMaxUnits>(g, th, wh_s, hprev_s, z_s, subs);
          __syncthreads();
        } else {
          const float* src = a.out ? a.out + static_cast<std::size_t>(tp) * C
                                   : p.hbuf + static_cast<std::size_t>((n & 1) ^ 1) * B * H;
          slice_products<V::kInFlight, V::kMaxUnits, V::kVecInFlight, (G > 1)>(
              g, th, pl.b0 + pl.rows, src, h_stride, wh_s, rows_s, z_s, G);
        }
      }
      // Thread i on (sequence i / 16, unit i % 16) of each slice: 16 consecutive units of a
      // sequence are 16 consecutive lanes (coalesced reads of xw, writes of h_t).
      RNNATTN_UNROLL
      for (int r = 0; r < V::kPairs; ++r) {
        const int i = threadIdx.x + r * kPersistentThreads;
        if (i >= n_out) continue;
        const Pair q = pair_of(g, pl, i);
        float h = 0.f;
        if (q.valid) {
          const std::size_t seq = static_cast<std::size_t>(seq_s[q.bb]) * T, row = seq + t;
          const float hprev = hprev_s[q.bb * g.hpad + q.j];
          h = hprev;  // padding keeps the state
          if constexpr (G == 1) {
            // (h_{t-1} Wh + b) + x_t Wx: the sum the split products allow (rec_start's single
            // accumulator is the segment kernels').
            if (t < len_s[q.bb]) h = tanhf((n > 0 ? z_s[i] : 0.f) + bias_r[r] + xw_r[r]);
            if (n + 1 < steps) xw_r[r] = a.xw[(seq + step_t(n + 1)) * H + q.j];
          } else {
            h = gated_step<kCell>(a, seq, t, tp, n, q.j, i, n_out, len_s[q.bb], hprev, z_s, c_s);
          }
          if constexpr (kCluster) {
            store_to_cluster(pl.N, hcur_s, q.bb * g.hpad + q.j, h);
          } else if (a.out) {
            a.out[row * C + q.j] = h;
          } else {
            hnext[seq_s[q.bb] * static_cast<std::size_t>(H) + q.j] = h;
          }
        }
        if (kHead || kCluster) hs.ht[i] = h;
        if (kHead) hs.p[i] = h * wa_r[r];
      }
      float ba_t = 0.f;
      const Partials parts = partials_of<V>(g, pl, kCluster ? part_s : p.upart, B, n);
      if constexpr (kHead) {
        __syncthreads();  // p_s complete; the rows and z_s may be rewritten after the barrier
        if (attention && static_cast<int>(threadIdx.x) < pl.rows) {
          publish_partial<V>(g, pl, parts, seq_s[threadIdx.x], threadIdx.x, hs);
          ba_t = p.head.ba[t];
        }
      }
      // h_t (and the partial scores) of every block are visible. (cluster.sync() compiles to
      // MEMBAR.ALL.GPU + UCGABAR_ARV/WAIT + CCTL.IVALL: its release waits for the block's
      // outstanding stores, so the cluster's global stores of the states come after it.)
      exchange_sync<V>();
      if (kCluster && a.out) write_states(a, g, pl, seq_s, hs.ht, t, t + 1, false);
      if (attention) head_step_weights<V>(p.head, g, pl, seq_s, len_s, parts, ba_t, t, hs);
    }
    // The steps past the group's longest sequence.
    if (kCluster && a.out) write_states(a, g, pl, seq_s, hs.ht, steps, T, true);
    if constexpr (kHead) head_finish<V>(p.head, p.ctx, g, pl, seq_s, hs, rows_s);
  }
}

// ---- backward -------------------------------------------------------------------------------

// The head's gradients before the backward's loop: dpre (the grid: over all of it; the cluster:
// block 0, its group's rows), g = dL/dc of the block's pairs (in dc_s, and where the group's
// blocks read all of H: the grid's global [B,H] dc, every cluster block's gfull_s), a barrier;
// with the attention du_t = a_t (g.h_t - g.c) (1 - e_t^2), one warp per (sequence, step) over
// the grid's or the cluster's warps, fixed-order sums, and a barrier.
template <typename V>
__device__ __forceinline__ void head_backward_begin(const AttentionHeadArgs& h, const float* states,
                                                    const PersistentGeometry& g, const Place& pl,
                                                    const int* seq_s, const int* len_s, float* dc,
                                                    float* dc_s) {
  const int B = h.shape.batch, T = h.shape.steps, H = h.shape.hidden, O = h.shape.output;
  if constexpr (V::kCluster) {
    if (pl.rank == 0) {
      for (int i = threadIdx.x; i < pl.rows * O; i += blockDim.x) {
        const std::size_t k = static_cast<std::size_t>(seq_s[i / O]) * O + i % O;
        h.dpre[k] = h.dy[k] * head_act_grad(h.shape.head, h.prediction[k]);
      }
    }
  } else {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < B * O; i += gridDim.x * blockDim.x) {
      h.dpre[i] = h.dy[i] * head_act_grad(h.shape.head, h.prediction[i]);
    }
  }
  for (int i = threadIdx.x; i < pl.n_out; i += blockDim.x) {
    const Pair q = pair_of(g, pl, i);
    float d = 0.f;
    if (q.valid) {
      const std::size_t b = seq_s[q.bb];
      for (int o = 0; o < O; ++o) {
        const std::size_t k = b * O + o;
        d += h.dy[k] * head_act_grad(h.shape.head, h.prediction[k]) * h.wd[q.j * O + o];
      }
      if constexpr (V::kCluster) {
        store_to_cluster(pl.N, dc, q.bb * g.hpad + q.j, d);
      } else {
        dc[b * H + q.j] = d;
      }
    }
    dc_s[i] = d;
  }
  exchange_sync<V>();  // g of every unit where every block reads it
  if (!h.shape.attention) return;
  const int lane = threadIdx.x % 32, warps = blockDim.x / 32;
  if constexpr (V::kCluster) {
    for (int i = pl.rank * warps + threadIdx.x / 32; i < pl.rows * T; i += pl.N * warps) {
      const int bb = i / T, t = i % T;
      const std::size_t b = seq_s[bb], row = b * T + t;
      if (t >= len_s[bb]) {  // uniform across the warp
        if (lane == 0) h.du[row] = 0.f;
        continue;
      }
      float gh, gc;
      warp_dots(dc + bb * g.hpad, states + row * H, h.context + b * H, H, &gh, &gc);
      if (lane == 0) {
        const float e = h.scores[row];
        h.du[row] = expf(e) / h.expsum[b] * (gh - gc) * (1.f - e * e);
      }
    }
  } else {
    for (int i = blockIdx.x * warps + threadIdx.x / 32; i < B * T; i += gridDim.x * warps) {
      const int b = i / T, t = i % T;
      float gh, gc;
      warp_dots(dc + static_cast<std::size_t>(b) * H, states + static_cast<std::size_t>(i) * H,
                h.context + static_cast<std::size_t>(b) * H, H, &gh, &gc);
      if (lane == 0) {
        const float e = h.scores[i];
        const bool valid = t < sequence_length(h.lengths, b, T);
        const float at = valid ? expf(e) / h.expsum[b] : 0.f;
        h.du[i] = at * (gh - gc) * (1.f - e * e);
      }
    }
  }
  exchange_sync<V>();  // du in global memory, visible to every block
}

// dL/dh_t from above for pair i of sequence b at `row` (its step t): with the head's attention
// a_t g + du_t wa_j (du written by other blocks before the barrier: __ldcg), else the caller's
// dout.
template <bool kHead>
__device__ __forceinline__ float step_input(const CellBackwardArgs& a, const AttentionHeadArgs& h,
                                            const float* dc_s, int i, int b, int j, std::size_t row,
                                            bool valid) {
  if constexpr (kHead) {
    const float at = valid ? expf(h.scores[row]) / h.expsum[b] : 0.f;
    return at * dc_s[i] + __ldcg(h.du + row) * h.wa[j];
  } else {
    return a.dout[row * a.stride + j];
  }
}

// The backward's start per pair: rows t >= steps (the cluster's past its longest sequence) get
// d_in 0, and the forward direction's dL/dh there passes down to step steps - 1 (in the order the
// sequential kernel adds it; with the head and no attention g into the last state) as the carry;
// drec_next's rows no step writes are 0; the gated cells' direct part and dL/dc start at 0.
template <int G, bool kHead>
__device__ __forceinline__ void begin_carry(const CellBackwardArgs& a, const PersistentGeometry& g,
                                            const Place& pl, const int* seq_s, bool attention,
                                            const float* dc_s, float* carry_s, float* direct_s,
                                            float* cc_s) {
  const int T = a.steps, H = a.hidden, GH = G * H, steps = pl.steps;
  const bool forward_dir = a.direction == 0;
  for (int i = threadIdx.x; i < pl.n_out; i += blockDim.x) {
    const Pair q = pair_of(g, pl, i);
    float carry = 0.f;
    if (q.valid) {
      const std::size_t seq = static_cast<std::size_t>(seq_s[q.bb]) * T;
      for (int t = T - 1; t >= steps; --t) {
        if (!kHead && forward_dir) carry += a.dout[(seq + t) * a.stride + q.j];
        for (int k = 0; k < G; ++k) a.d_in[(seq + t) * GH + k * H + q.j] = 0.f;
      }
      for (int t = 0; t < T; ++t) {
        const bool written = forward_dir ? t < steps - 1 : (t >= 1 && t <= steps);
        if (written) continue;
        for (int k = 0; k < G; ++k) a.drec_next[(seq + t) * GH + k * H + q.j] = 0.f;
      }
      if (kHead && !attention) carry = dc_s[i];
    }
    carry_s[i] = carry;
    if constexpr (G > 1) direct_s[i] = cc_s[i] = 0.f;
  }
}

template <Cell kCell, typename V, bool kHead>
__global__ void __launch_bounds__(kPersistentThreads, V::kMinBlocks)
    persistent_backward_kernel(PersistentParams<CellBackwardArgs> p, PersistentGeometry g,
                               int subs) {
  constexpr int G = gate_count(kCell), A = kept_of(kCell);
  constexpr bool kCluster = V::kCluster;
  static_assert(!kCluster || G == 1, "the cluster exchange runs the Elman cell");
  if constexpr (kCluster && !RNNATTN_CLUSTER_KERNELS) {
    return;
  } else {
    Place pl;
    const CellBackwardArgs a = place_block<V>(p, g, subs, &pl);
    const int T = a.steps, H = a.hidden, C = a.stride, GH = G * H;
    const bool forward_dir = a.direction == 0;
    const bool attention = kHead && p.head.shape.attention;
    const int n_out = pl.n_out;
    const TileThread& th = pl.th;

    // Shared memory: the block's slices of Wh^T ([G*H,16] each: (m, jj) = Wh[j][m]); the rows of
    // dL/drec of the step processed before (the grid's staged, a piece at a time; the cluster's
    // double-buffered [2][staged][hpad]); per pair the product, the carry passed through padding,
    // the gated cells' part of dL/dh_{t-1} not through Wh and the LSTM's dL/dc, the head's g; the
    // cluster's g of all units for the attention.
    const int rsize = g.staged * (kCluster ? g.hpad : g.piece);
    float* wh_s = dynamic_shared<float>();
    float* rows_s = wh_s + subs * g.split * g.wh_part;
    float* z_s = rows_s + (kCluster ? 2 : 1) * rsize;
    float* carry_s = z_s + n_out;
    float* direct_s = carry_s + n_out;
    float* cc_s = direct_s + n_out;
    float* dc_s = carry_s + (G > 1 ? 3 : 1) * n_out;
    float* gfull_s = dc_s + n_out;
    RNNATTN_SHARED_ARRAY(int, seq_s, kClusterMaxRows);
    RNNATTN_SHARED_ARRAY(int, len_s, kClusterMaxRows);
    for (int m = 0; m < subs; ++m) {
      load_slice(g, pl.first_slice + m, a.wh_t, H,
                 wh_s + static_cast<std::size_t>(m) * g.split * g.wh_part);
    }
    begin_block<V>(p.order, a.lengths, T, rows_s, kCluster ? 2 * rsize : 0, seq_s, len_s, &pl);
    const int steps = pl.steps;
    if constexpr (kHead) {
      head_backward_begin<V>(p.head, a.states, g, pl, seq_s, len_s, kCluster ? gfull_s : p.hbuf,
                             dc_s);
    }
    begin_carry<G, kHead>(a, g, pl, seq_s, attention, dc_s, carry_s, direct_s, cc_s);

    for (int m = 0; m < steps; ++m) {
      const int t = forward_dir ? steps - 1 - m : m;
      // The step processed next (before t in the forward) and the one processed before.
      const int tp = forward_dir ? t - 1 : (t + 1 < T ? t + 1 : -1);
      const int tn = m == 0 ? -1 : (forward_dir ? t + 1 : t - 1);
      // With registers to spare (V::kLoadAhead) each step's inputs (h_t and dL/dh_t from above),
      // which depend on nothing the step computes, are loaded before the products, so that their
      // L2 round trips pass under them.
      float h_r[V::kPairs] = {}, in_r[V::kPairs] = {};
      if constexpr (V::kLoadAhead) {
        RNNATTN_UNROLL
        for (int r = 0; r < V::kPairs; ++r) {
          const int i = threadIdx.x + r * kPersistentThreads;
          if (i >= n_out) continue;
          const Pair q = pair_of(g, pl, i);
          if (!q.valid) continue;
          const int b = seq_s[q.bb];
          const std::size_t row = static_cast<std::size_t>(b) * T + t;
          h_r[r] = a.states[row * C + q.j];
          if (!kHead || attention)
            in_r[r] = step_input<kHead>(a, p.head, dc_s, i, b, q.j, row, t < len_s[q.bb]);
        }
      }
      // z_s = dL/drec of step tn times Wh^T (the grid stages it from drec_next's row t).
      if (m > 0) {
        if constexpr (kCluster) {
          staged_products<V::kBackMaxUnits>(g, th, wh_s, rows_s + ((m & 1) ^ 1) * rsize, z_s, subs);
          __syncthreads();
        } else if constexpr (G == 1) {
          slice_products<V::kBackInFlight, V::kBackMaxUnits, V::kBackVecInFlight>(
              g, th, pl.b0 + pl.rows, a.drec_next + static_cast<std::size_t>(t) * GH,
              static_cast<std::size_t>(T) * GH, wh_s, rows_s, z_s);
        } else {
          piece_products<V::kBackInFlight, V::kBackMaxUnits, V::kBackVecInFlight>(
              g, th, pl.b0 + pl.rows, a.drec_next + static_cast<std::size_t>(t) * GH,
              static_cast<std::size_t>(T) * GH, wh_s, rows_s, z_s);
        }
      }
      // Thread i on (sequence i / 16, unit i % 16) of each slice: coalesced reads of the states,
      // writes of d_in.
      RNNATTN_UNROLL
      for (int r = 0; r < V::kPairs; ++r) {
        const int i = threadIdx.x + r * kPersistentThreads;
        if (i >= n_out) continue;
        const Pair q = pair_of(g, pl, i);
        if (!q.valid) continue;
        const int b = seq_s[q.bb], L = len_s[q.bb];
        const std::size_t seq = static_cast<std::size_t>(b) * T, row = seq + t;
        const bool valid = t < L;
        // dL/dh_t from the step after: through Wh (and the GRU's direct path) after a valid
        // step, what passed through after padding; then dL/dh_t from above.
        float dh = tn >= 0 && tn < L ? (G > 1 ? direct_s[i] + z_s[i] : z_s[i]) : carry_s[i];
        if (!kHead || attention) {
          dh += V::kLoadAhead ? in_r[r] : step_input<kHead>(a, p.head, dc_s, i, b, q.j, row, valid);
        }
        float din[G], drec[G];
        for (int k = 0; k < G; ++k) din[k] = drec[k] = 0.f;
        float direct = 0.f;
        if (valid) {
          // c_{t-1} (LSTM) or h_{t-1} (GRU) from what the forward stored at the step before.
          float prev = 0.f;
          if (kCell != Cell::kElman && tp >= 0) {
            prev = kCell == Cell::kLstm ? a.aux[(seq + tp) * A * H + 4 * H + q.j]
                                        : a.states[(seq + tp) * C + q.j];
          }
          // What the step kept: the Elman cell's is its state.
          const float h = V::kLoadAhead ? h_r[r] : a.states[row * C + q.j];
          const float* k = kCell == Cell::kElman ? &h : a.aux + row * A * H + q.j;
          float carry_c = kCell == Cell::kLstm ? cc_s[i] : 0.f;
          direct = cell_step_backward<kCell>(k, H, prev, dh, carry_c, din, drec);
          if (kCell == Cell::kLstm) cc_s[i] = carry_c;
        }
        store_step_gradients<G>(a, b, t, tp, q.j, din, drec);
        carry_s[i] = dh;  // read after this step only if it is padding
        if constexpr (G > 1) direct_s[i] = direct;
        if constexpr (kCluster) {
          if (m < steps - 1) {
            store_to_cluster(pl.N, rows_s + (m & 1) * rsize, q.bb * g.hpad + q.j, drec[0]);
          }
        }
      }
      if (m < steps - 1) exchange_sync<V>();  // dL/drec of step t where every block reads it
    }
  }
}

}  // namespace
}  // namespace rnnattn::kernels
