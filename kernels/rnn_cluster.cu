// Thread-block cluster kernels (sm_90): the one-layer Elman forward (the
// recurrence, the attention and the head) and backward (the head and attention gradients and
// BPTT) of rnn_persistent_*.cu, with the grid barrier replaced by a cluster's (Diamos et al.'s
// persistent RNN scoped to a cluster).
//
// Work mapping (plan.hpp's ClusterTiling): cluster k of N blocks owns the sequences of batch
// group k (at most 32; `order` says which: packed by length, a group's sequences end together).
// Block r of the cluster owns the `subs` slices [r subs, (r + 1) subs) of 16 hidden units and
// keeps their columns of Wh (the backward: of Wh^T) in shared memory for the whole run. Every
// block holds its own copy of the group's h_{t-1} ([staged][hpad], double-buffered), so a step's
// products read only the block's shared memory (persistent_common.cuh's staged_products, the
// persistent kernels' split dot products): nothing is staged from L2. Per step t:
//   (1) z = h_{t-1} Wh for the block's (sequence, unit) pairs; one thread per pair adds x_t Wx
//       and bh, forms h_t = tanh(z) and stores it into every block's h_t buffer (distributed
//       shared memory, map_shared_rank); the block's partial score sum_j h_t wa over its units
//       goes to every block likewise;
//   (2) cluster.sync(): h_t and the partials are in every block;
//   (3) every block sums the N partials in rank order (the bitwise same u_t everywhere), forms
//       e_t, exp(e_t), the running S, and exp(e_t) h_t for its own units.
// The cluster runs to its group's longest sequence; steps past it only keep the state, which the
// kernel writes (training) without computing. After the loop each block sends its units'
// context to block 0, which forms the head y = act(c Wd + bd) and the softmax's weights.
//
// The backward: g = dL/dc for the block's pairs goes to every block (the attention's g.h_t needs
// all of H), du_t for the group's (sequence, step) pairs over the cluster's warps, a cluster
// barrier, then BPTT from the group's longest sequence down: dz_t for the block's pairs into every
// block's dz buffer, a cluster barrier a step. No atomics: bitwise reproducible.
//
// Memory model: every exchange between blocks (shared memory of another block, and du in global
// memory) is ordered by cluster.sync(), which is barrier.cluster.arrive.release + wait.acquire:
// the writes before it are visible to every thread of the cluster after it. A block's shared
// memory is gone when it exits, so every access to another block's shared memory is followed by a
// cluster barrier before the owner can exit.
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include "cuda_compat.cuh"
#include "cuda_utils.hpp"
#include "device_common.cuh"
#include "kernels.hpp"
#include "launch_rules.hpp"
#include "persistent_common.cuh"

// Clusters exist from compute capability 9.0: compiled for an older target, the kernels trap
// (the launcher never runs them there: current_gpu_limits() says the GPU has no clusters).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
#define RNNATTN_CLUSTER_KERNELS 0
#else
#define RNNATTN_CLUSTER_KERNELS 1
#endif

namespace rnnattn::kernels {
namespace {

namespace cg = cooperative_groups;

// The block's pair i (one thread per pair in the elementwise loops): slice m of the block's subs,
// row bb of the group, unit j; `valid` where both exist. z_s (staged_products) holds its product
// at index i.
struct ClusterPair {
  int bb, j;
  bool valid;
};

__device__ __forceinline__ ClusterPair cluster_pair(const PersistentGeometry& g, int first_slice,
                                                    int rows, int i) {
  const int per = g.staged * kPersistentSlice;
  const int m = i / per, rem = i - m * per;
  ClusterPair p;
  p.bb = rem / kPersistentSlice;
  p.j = (first_slice + m) * kPersistentSlice + rem % kPersistentSlice;
  p.valid = p.bb < rows && p.j < g.hidden;
  return p;
}

// A block's place in its cluster and the cluster's group: cluster k of N blocks (blockIdx.x / N)
// owns group k, block r (its rank) the `subs` slices from first_slice = r subs; `th` is the
// thread's role in staged_products (persistent_common.cuh); `steps` the group's longest length.
struct ClusterBlock {
  int N, rank, b0, rows, first_slice, n_out, hsize, steps;
  TileThread th;
};

__device__ __forceinline__ ClusterBlock cluster_block(const cg::cluster_group& cluster,
                                                      const PersistentGeometry& g, int subs,
                                                      int batch) {
  ClusterBlock c;
  c.N = static_cast<int>(cluster.num_blocks());
  c.rank = static_cast<int>(cluster.block_rank());
  c.b0 = static_cast<int>(blockIdx.x) / c.N * g.group;
  c.rows = batch - c.b0 < g.group ? batch - c.b0 : g.group;
  c.first_slice = c.rank * subs;
  c.n_out = subs * g.staged * kPersistentSlice;
  c.hsize = g.staged * g.hpad;
  c.steps = 0;  // cluster_begin
  c.th = tile_lanes(g);
  c.th.slice = c.first_slice;
  c.th.b0 = c.b0;
  return c;
}

// The start every cluster kernel shares: the block's `subs` slices of `m` (ld H: Wh, or Wh^T for
// the backward) into wh_s, `zero_n` floats of `zero` cleared (the exchange buffers, whose rows
// past the group and columns past H the products read), the group's sequences (seq_s: `order`'s,
// or in order) and lengths (len_s), then a cluster barrier: every block of the cluster has
// started and cleared its buffers before any block writes into them, and seq_s, len_s are
// complete, so that every thread reads the same longest length into c->steps.
__device__ __forceinline__ void cluster_begin(const cg::cluster_group& cluster,
                                              const PersistentGeometry& g, int subs, int steps,
                                              const int* order, const int* lengths, const float* m,
                                              float* wh_s, float* zero, int zero_n, int* seq_s,
                                              int* len_s, ClusterBlock* c) {
  for (int q = 0; q < subs; ++q) {
    load_slice(g, c->first_slice + q, m, g.hidden,
               wh_s + static_cast<std::size_t>(q) * g.split * g.wh_part);
  }
  for (int i = threadIdx.x; i < zero_n; i += blockDim.x) zero[i] = 0.f;
  for (int bb = threadIdx.x; bb < c->rows; bb += blockDim.x) {
    const int b = order ? order[c->b0 + bb] : c->b0 + bb;
    seq_s[bb] = b;
    len_s[bb] = sequence_length(lengths, b, steps);
  }
  cluster.sync();
  int longest = 1;
  for (int bb = 0; bb < c->rows; ++bb) longest = len_s[bb] > longest ? len_s[bb] : longest;
  c->steps = longest;
}

// A block's (sequence, unit) pairs a thread: at most 4 slices x 32 sequences x 16 units over 256
// threads. The elementwise loops keep what each pair needs at every step in registers (item 1).
constexpr int kClusterPairs =
    kClusterMaxSubs * kClusterMaxRows * kPersistentSlice / kPersistentThreads;
static_assert(kClusterPairs == 8, "the elementwise part's pairs a thread");

// Stores v at word i of `local`'s counterpart in every block of the cluster.
__device__ __forceinline__ void store_to_cluster(const cg::cluster_group& cluster, int blocks,
                                                 float* local, int i, float v) {
  for (int r = 0; r < blocks; ++r) cluster.map_shared_rank(local, r)[i] = v;
}

// The cluster forward after its steps (cluster_forward_kernel's block `blk`, the group's first
// `steps` done): the states, scores and weights of the steps past the group's longest sequence,
// the context of the block's units gathered in block 0's h buffer, and there the head and the
// softmax's sums and weights. ht_s, acc_s, sum_s: the loop's per-pair state, running sums and
// running S; hbuf_s: the h buffers, free again.
__device__ __forceinline__ void cluster_forward_finish(
    const cg::cluster_group& cluster, const FusedForwardArgs& a, const PersistentGeometry& g,
    const ClusterBlock& blk, int steps, const int* seq_s, const float* ht_s, const float* acc_s,
    const float* sum_s, float* hbuf_s) {
  const int T = a.shape.steps, H = a.shape.hidden, O = a.shape.output;
  const bool attention = a.shape.attention;
  const int rank = blk.rank, rows = blk.rows, first_slice = blk.first_slice, n_out = blk.n_out;
  // Steps past the group's longest sequence: every sequence keeps its state (ht_s holds it),
  // with score and weight 0.
  for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
    const ClusterPair q = cluster_pair(g, first_slice, rows, i);
    if (!q.valid || !a.hidden) continue;
    const std::size_t b = seq_s[q.bb];
    for (int t = steps; t < T; ++t) a.hidden[(b * T + t) * H + q.j] = ht_s[i];
  }
  if (rank == 0 && static_cast<int>(threadIdx.x) < rows) {
    const std::size_t b = seq_s[threadIdx.x];
    for (int t = steps; t < T; ++t) {
      if (a.scores) a.scores[b * T + t] = 0.f;
      if (a.attention) a.attention[b * T + t] = 0.f;
    }
  }

  // The context of the block's units, to block 0's h buffer (every block's last read of the h
  // buffers came before the loop's last cluster barrier), then the head there.
  float* ctx_s = hbuf_s;  // [staged][hpad] in block 0
  for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
    const ClusterPair q = cluster_pair(g, first_slice, rows, i);
    if (!q.valid) continue;
    const float c = attention ? acc_s[i] / sum_s[q.bb] : ht_s[i];
    if (a.context) a.context[static_cast<std::size_t>(seq_s[q.bb]) * H + q.j] = c;
    cluster.map_shared_rank(ctx_s, 0)[q.bb * g.hpad + q.j] = c;
  }
  cluster.sync();  // block 0 holds the group's context; no block reaches another's memory after
  if (rank != 0) return;
  // Head: one warp per (sequence, output); the lanes split the H-long dot product and reduce it
  // with shuffles in a fixed order.
  const int lane = threadIdx.x % 32, warps = blockDim.x / 32;
  for (int i = threadIdx.x / 32; i < rows * O; i += warps) {
    const int bb = i / O, o = i % O;
    float v = 0.f;
    for (int k = lane; k < H; k += 32) v += ctx_s[bb * g.hpad + k] * a.w.wd[k * O + o];
    v = warp_sum(v);
    if (lane == 0)
      a.y[static_cast<std::size_t>(seq_s[bb]) * O + o] = head_act(a.shape.head, v + a.w.bd[o]);
  }
  // The softmax's sums and weights (the same thread wrote the weights).
  if (attention && static_cast<int>(threadIdx.x) < rows) {
    const std::size_t b = seq_s[threadIdx.x];
    const float S = sum_s[threadIdx.x];
    if (a.expsum) a.expsum[b] = S;
    if (a.attention) {
      for (int t = 0; t < T; ++t) a.attention[b * T + t] /= S;
    }
  }
}

__global__ void __launch_bounds__(kPersistentThreads, 1)
    cluster_forward_kernel(FusedForwardArgs a, const int* order, PersistentGeometry g, int subs) {
#if RNNATTN_CLUSTER_KERNELS
  cg::cluster_group cluster = cg::this_cluster();
  const int B = a.shape.batch, T = a.shape.steps, H = a.shape.hidden;
  const bool attention = a.shape.attention;
  ClusterBlock c = cluster_block(cluster, g, subs, B);
  const int N = c.N, rank = c.rank, rows = c.rows, first_slice = c.first_slice, n_out = c.n_out,
            hsize = c.hsize;
  const TileThread& th = c.th;
  const int per = g.staged * kPersistentSlice;

  float* wh_s = dynamic_shared<float>();              // subs slices of Wh (split layout)
  float* hbuf_s = wh_s + subs * g.split * g.wh_part;  // [2][staged][hpad] h_{t-1} / h_t
  float* part_s = hbuf_s + 2 * hsize;                 // [2][N][staged] score partials
  float* ht_s = part_s + 2 * N * g.staged;            // [n_out] h_t of the block's pairs
  float* p_s = ht_s + n_out;                          // [n_out] h_t wa
  float* acc_s = p_s + n_out;                         // [n_out] sum_t exp(e_t) h_t
  float* z_s = acc_s + n_out;                         // [n_out] h_{t-1} Wh
  float* sum_s = z_s + n_out;                         // [staged] running S
  float* w_s = sum_s + g.staged;                      // [staged] exp(e_t) of this step
  RNNATTN_SHARED_ARRAY(int, seq_s, kClusterMaxRows);
  RNNATTN_SHARED_ARRAY(int, len_s, kClusterMaxRows);

  for (int i = threadIdx.x; i < n_out; i += blockDim.x) acc_s[i] = 0.f;
  for (int i = threadIdx.x; i < g.staged; i += blockDim.x) sum_s[i] = 0.f;
  cluster_begin(cluster, g, subs, T, order, a.lengths, a.w.wh, wh_s, hbuf_s, 2 * hsize, seq_s,
                len_s, &c);
  const int steps = c.steps;
  // The thread's pairs i = threadIdx.x + r * 256: bh_j and wa_j loaded once, and the input
  // projection of the next step loaded as soon as this step's h is out, so that its latency
  // passes under the step's barriers rather than after the next step's products.
  float bh_r[kClusterPairs] = {}, wa_r[kClusterPairs] = {}, xw_r[kClusterPairs] = {};
  RNNATTN_UNROLL
  for (int r = 0; r < kClusterPairs; ++r) {
    const int i = threadIdx.x + r * kPersistentThreads;
    const ClusterPair q = cluster_pair(g, first_slice, rows, i);
    if (i < n_out && q.valid) {
      bh_r[r] = a.w.bh[q.j];
      wa_r[r] = attention ? a.w.wa[q.j] : 0.f;
      xw_r[r] = a.xw[static_cast<std::size_t>(seq_s[q.bb]) * T * H + q.j];
    }
  }

  for (int t = 0; t < steps; ++t) {
    const float* hprev = hbuf_s + ((t & 1) ^ 1) * hsize;
    float* hcur = hbuf_s + (t & 1) * hsize;
    float* part = part_s + (t & 1) * N * g.staged;
    if (t > 0) {  // uniform across the cluster
      staged_products<kClusterMaxUnits>(g, th, wh_s, hprev, z_s, subs);
      __syncthreads();
    }
    RNNATTN_UNROLL
    for (int r = 0; r < kClusterPairs; ++r) {
      const int i = threadIdx.x + r * kPersistentThreads;
      if (i >= n_out) continue;
      const ClusterPair q = cluster_pair(g, first_slice, rows, i);
      float h = 0.f, wa_j = 0.f;
      if (q.valid) {
        const int b = seq_s[q.bb], j = q.j;
        const std::size_t row = static_cast<std::size_t>(b) * T + t;
        if (t < len_s[q.bb]) {
          h = tanhf((t > 0 ? z_s[i] : 0.f) + bh_r[r] + xw_r[r]);
        } else {
          h = hprev[q.bb * g.hpad + j];  // padding keeps the state (t >= 1 here)
        }
        store_to_cluster(cluster, N, hcur, q.bb * g.hpad + j, h);
        wa_j = wa_r[r];
        if (t + 1 < steps) xw_r[r] = a.xw[(row + 1) * H + j];
      }
      ht_s[i] = h;
      p_s[i] = h * wa_j;
    }
    __syncthreads();  // p_s complete
    if (attention && static_cast<int>(threadIdx.x) < rows) {
      const int bb = threadIdx.x;
      float p = 0.f;
      for (int m = 0; m < subs; ++m) {
        for (int jj = 0; jj < kPersistentSlice; ++jj) {
          p += p_s[m * per + bb * kPersistentSlice + jj];
        }
      }
      store_to_cluster(cluster, N, part, rank * g.staged + bb, p);
    }
    // The step's score bias, loaded before the barrier: after it the load would start only once
    // the barrier's L1 invalidation is done, one more L2 round trip on the step's path.
    const float ba_t = attention && static_cast<int>(threadIdx.x) < rows ? a.w.ba[t] : 0.f;
    // h_t and every block's partial scores are in every block. (cluster.sync() compiles to
    // MEMBAR.ALL.GPU + UCGABAR_ARV/WAIT + CCTL.IVALL: its release waits for the block's
    // outstanding stores, so the step's global stores come after it.)
    cluster.sync();
    if (a.hidden) {
      for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
        const ClusterPair q = cluster_pair(g, first_slice, rows, i);
        if (q.valid) a.hidden[(static_cast<std::size_t>(seq_s[q.bb]) * T + t) * H + q.j] = ht_s[i];
      }
    }
    if (attention) {
      if (static_cast<int>(threadIdx.x) < g.staged) {
        const int bb = threadIdx.x;
        float w = 0.f;
        if (bb < rows) {
          const int b = seq_s[bb];
          float u = ba_t;
          for (int r = 0; r < N; ++r) u += part[r * g.staged + bb];
          const bool valid = t < len_s[bb];  // padding: no weight
          const float e = valid ? tanhf(u) : 0.f;
          w = valid ? expf(e) : 0.f;
          sum_s[bb] += w;
          if (rank == 0) {
            if (a.scores) a.scores[static_cast<std::size_t>(b) * T + t] = e;
            if (a.attention) a.attention[static_cast<std::size_t>(b) * T + t] = w;
          }
        }
        w_s[bb] = w;
      }
      __syncthreads();
      for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
        acc_s[i] += w_s[(i % per) / kPersistentSlice] * ht_s[i];
      }
    }
  }

  cluster_forward_finish(cluster, a, g, c, steps, seq_s, ht_s, acc_s, sum_s, hbuf_s);
#endif
}

__global__ void __launch_bounds__(kPersistentThreads, 1)
    // a.du is written and read by different blocks of a cluster across a cluster barrier: read
    // with __ldcg, never __ldg (kernels.hpp, before persistent_forward).
    cluster_backward_kernel(FusedBackwardArgs a, const int* order, PersistentGeometry g, int subs) {
#if RNNATTN_CLUSTER_KERNELS
  cg::cluster_group cluster = cg::this_cluster();
  const int B = a.shape.batch, T = a.shape.steps, H = a.shape.hidden, O = a.shape.output;
  const bool attention = a.shape.attention;
  ClusterBlock c = cluster_block(cluster, g, subs, B);
  const int N = c.N, rows = c.rows, first_slice = c.first_slice, n_out = c.n_out, hsize = c.hsize;
  const TileThread& th = c.th;

  float* wh_s = dynamic_shared<float>();               // subs slices of Wh^T: (k, jj) = Wh[j][k]
  float* dzbuf_s = wh_s + subs * g.split * g.wh_part;  // [2][staged][hpad] dz_{t+1} / dz_t
  float* gfull_s = dzbuf_s + 2 * hsize;                // [staged][hpad] g = dL/dc, all units
  float* dc_s = gfull_s + hsize;                       // [n_out] g of the block's pairs
  float* carry_s = dc_s + n_out;                       // [n_out] dL/dh_t passed down
  float* z_s = carry_s + n_out;                        // [n_out] dz_{t+1} Wh^T
  RNNATTN_SHARED_ARRAY(int, seq_s, kClusterMaxRows);
  RNNATTN_SHARED_ARRAY(int, len_s, kClusterMaxRows);
  cluster_begin(cluster, g, subs, T, order, a.lengths, a.wh_t, wh_s, dzbuf_s, 2 * hsize, seq_s,
                len_s, &c);
  const int steps = c.steps, rank = c.rank;

  // (1) dpre (block 0) and g for the block's pairs, to every block; the rows of dz and dz_next
  // past the group's longest sequence are zero.
  if (rank == 0) {
    for (int i = threadIdx.x; i < rows * O; i += blockDim.x) {
      const std::size_t k = static_cast<std::size_t>(seq_s[i / O]) * O + i % O;
      a.dpre[k] = a.dy[k] * head_act_grad(a.shape.head, a.y[k]);
    }
  }
  for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
    const ClusterPair q = cluster_pair(g, first_slice, rows, i);
    float dc = 0.f;
    if (q.valid) {
      const std::size_t b = seq_s[q.bb];
      for (int o = 0; o < O; ++o) {
        const std::size_t k = b * O + o;
        dc += a.dy[k] * head_act_grad(a.shape.head, a.y[k]) * a.w.wd[q.j * O + o];
      }
      store_to_cluster(cluster, N, gfull_s, q.bb * g.hpad + q.j, dc);
      for (int t = steps; t < T; ++t) a.dz[(b * T + t) * H + q.j] = 0.f;
      for (int t = steps - 1; t < T; ++t) a.dz_next[(b * T + t) * H + q.j] = 0.f;
    }
    dc_s[i] = dc;
    // The plain model's dL/dh_T = g passes through the padding steps past the longest sequence
    // (every sequence's) down to its last valid step.
    carry_s[i] = attention ? 0.f : dc;
  }
  cluster.sync();  // g of every unit in every block

  // (2) du_t = a_t (g.h_t - g.c) (1 - e_t^2), one warp per (sequence, step) of the group over
  // the cluster's warps, fixed-order sums; 0 on padding.
  if (attention) {
    const int lane = threadIdx.x % 32, warps = blockDim.x / 32;
    for (int i = rank * warps + threadIdx.x / 32; i < rows * T; i += N * warps) {
      const int bb = i / T, t = i % T;
      const std::size_t b = seq_s[bb], row = b * T + t;
      if (t >= len_s[bb]) {  // uniform across the warp
        if (lane == 0) a.du[row] = 0.f;
        continue;
      }
      const float* gb = gfull_s + bb * g.hpad;
      const float* hb = a.hidden + row * H;
      const float* cb = a.context + b * H;
      float gh, gc;
      warp_dots(gb, hb, cb, H, &gh, &gc);
      if (lane == 0) {
        const float e = a.scores[row];
        a.du[row] = expf(e) / a.expsum[b] * (gh - gc) * (1.f - e * e);
      }
    }
    cluster.sync();  // the group's du in global memory, visible to every block of the cluster
  }

  // (3) BPTT from the group's longest sequence down.
  for (int t = steps - 1; t >= 0; --t) {
    const float* dznext = dzbuf_s + ((t + 1) & 1) * hsize;
    float* dzcur = dzbuf_s + (t & 1) * hsize;
    // The step's inputs (h_t and the attention's gradient into it) depend on nothing the step
    // computes: loaded before the products, their L2 round trip passes under them.
    float h_r[kClusterPairs] = {}, att_r[kClusterPairs] = {};
    RNNATTN_UNROLL
    for (int r = 0; r < kClusterPairs; ++r) {
      const int i = threadIdx.x + r * kPersistentThreads;
      if (i >= n_out) continue;
      const ClusterPair q = cluster_pair(g, first_slice, rows, i);
      if (!q.valid) continue;
      const std::size_t b = seq_s[q.bb], row = b * T + t;
      h_r[r] = a.hidden[row * H + q.j];
      if (attention) {
        const float at = t < len_s[q.bb] ? expf(a.scores[row]) / a.expsum[b] : 0.f;
        att_r[r] = at * dc_s[i] + __ldcg(a.du + row) * a.w.wa[q.j];
      }
    }
    if (t < steps - 1) {  // uniform across the cluster: z_s = dz_{t+1} Wh^T
      staged_products<kClusterMaxUnits>(g, th, wh_s, dznext, z_s, subs);
      __syncthreads();
    }
    RNNATTN_UNROLL
    for (int r = 0; r < kClusterPairs; ++r) {
      const int i = threadIdx.x + r * kPersistentThreads;
      if (i >= n_out) continue;
      const ClusterPair q = cluster_pair(g, first_slice, rows, i);
      if (!q.valid) continue;
      const int L = len_s[q.bb];
      const std::size_t b = seq_s[q.bb], row = b * T + t;
      // Into step t: dz_{t+1} Wh^T after a valid step t+1; after padding what passed through.
      float dh = (t + 1 < L) ? z_s[i] : carry_s[i];
      const bool valid = t < L;
      if (attention) dh += att_r[r];
      const float h = h_r[r];
      const float dz = valid ? dh * (1.f - h * h) : 0.f;
      a.dz[row * H + q.j] = dz;
      if (t > 0) {
        a.dz_next[(row - 1) * H + q.j] = dz;
        store_to_cluster(cluster, N, dzcur, q.bb * g.hpad + q.j, dz);
      }
      carry_s[i] = dh;  // used only if step t is padding
    }
    if (t > 0) cluster.sync();  // dz_t in every block; the last step reaches no other block
  }
#endif
}

// ---- the Elman blocks of stacked and bidirectional models (rnn_segment.cu's segment_forward /
// segment_backward in clusters): the recurrence alone, writing the block's states (the attention
// and head run after, in attention_head.cu), blockIdx.y picking the block (a bidirectional layer's
// two directions side by side). Per step as the one-layer forward without the attention; steps past
// the group's longest sequence are padding for all of it: the forward direction carries its final
// state there, the backward direction (which meets them first) its initial state, 0.
__global__ void __launch_bounds__(kPersistentThreads, 1)
    cluster_layer_forward_kernel(LayerSet<CellForwardArgs> set, const int* order,
                                 PersistentGeometry g, int subs) {
#if RNNATTN_CLUSTER_KERNELS
  cg::cluster_group cluster = cg::this_cluster();
  const CellForwardArgs a = set.pick();
  const int B = a.batch, T = a.steps, H = a.hidden, C = a.stride;
  ClusterBlock c = cluster_block(cluster, g, subs, B);
  const int N = c.N, rows = c.rows, first_slice = c.first_slice, n_out = c.n_out, hsize = c.hsize;
  const TileThread& th = c.th;

  float* wh_s = dynamic_shared<float>();              // subs slices of Wh (split layout)
  float* hbuf_s = wh_s + subs * g.split * g.wh_part;  // [2][staged][hpad] h_prev / h
  float* ht_s = hbuf_s + 2 * hsize;                   // [n_out] h of the block's pairs
  float* z_s = ht_s + n_out;                          // [n_out] h_prev Wh
  RNNATTN_SHARED_ARRAY(int, seq_s, kClusterMaxRows);
  RNNATTN_SHARED_ARRAY(int, len_s, kClusterMaxRows);
  cluster_begin(cluster, g, subs, T, order, a.lengths, a.wh, wh_s, hbuf_s, 2 * hsize, seq_s, len_s,
                &c);
  const int steps = c.steps;
  const auto step_t = [&](int n) { return a.direction == 0 ? n : steps - 1 - n; };
  // As the one-layer forward: bh_j once, the next step's input projection ahead of its use.
  float bh_r[kClusterPairs] = {}, xw_r[kClusterPairs] = {};
  RNNATTN_UNROLL
  for (int r = 0; r < kClusterPairs; ++r) {
    const int i = threadIdx.x + r * kPersistentThreads;
    const ClusterPair q = cluster_pair(g, first_slice, rows, i);
    if (i < n_out && q.valid) {
      bh_r[r] = a.bias[q.j];
      xw_r[r] = a.xw[(static_cast<std::size_t>(seq_s[q.bb]) * T + step_t(0)) * H + q.j];
    }
  }

  for (int n = 0; n < steps; ++n) {
    const int t = step_t(n);
    const float* hprev = hbuf_s + ((n & 1) ^ 1) * hsize;  // zero before the first step
    float* hcur = hbuf_s + (n & 1) * hsize;
    if (n > 0) {  // uniform across the cluster
      staged_products<kClusterMaxUnits>(g, th, wh_s, hprev, z_s, subs);
      __syncthreads();
    }
    RNNATTN_UNROLL
    for (int r = 0; r < kClusterPairs; ++r) {
      const int i = threadIdx.x + r * kPersistentThreads;
      if (i >= n_out) continue;
      const ClusterPair q = cluster_pair(g, first_slice, rows, i);
      float h = 0.f;
      if (q.valid) {
        const std::size_t seq_row = static_cast<std::size_t>(seq_s[q.bb]) * T;
        if (t < len_s[q.bb]) {
          h = tanhf((n > 0 ? z_s[i] : 0.f) + bh_r[r] + xw_r[r]);
        } else {
          h = hprev[q.bb * g.hpad + q.j];  // padding keeps the state
        }
        store_to_cluster(cluster, N, hcur, q.bb * g.hpad + q.j, h);
        if (n + 1 < steps) xw_r[r] = a.xw[(seq_row + step_t(n + 1)) * H + q.j];
      }
      ht_s[i] = h;
    }
    cluster.sync();  // h in every block (its global stores after the barrier: see the forward)
    for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
      const ClusterPair q = cluster_pair(g, first_slice, rows, i);
      if (q.valid) a.out[(static_cast<std::size_t>(seq_s[q.bb]) * T + t) * C + q.j] = ht_s[i];
    }
  }
  for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
    const ClusterPair q = cluster_pair(g, first_slice, rows, i);
    if (!q.valid) continue;
    const float h = a.direction == 0 ? ht_s[i] : 0.f;
    for (int t = steps; t < T; ++t) {
      a.out[(static_cast<std::size_t>(seq_s[q.bb]) * T + t) * C + q.j] = h;
    }
  }
#endif
}

// BPTT against the block's direction from dL/d(states) (dout), as segment_backward_kernel: m-th
// step of the backward pass at t (the forward direction from the group's longest sequence down,
// the backward direction from t = 0 up); dL/dh of a step comes from dz of the step processed
// after it in the forward (dz Wh^T over the cluster's exchange) when that step was valid, else
// passes through; drec_next's row of the step processed before t gets dz_t (d_in and d_rec are both
// dz).
__global__ void __launch_bounds__(kPersistentThreads, 1)
    cluster_layer_backward_kernel(LayerSet<CellBackwardArgs> set, const int* order,
                                  PersistentGeometry g, int subs) {
#if RNNATTN_CLUSTER_KERNELS
  cg::cluster_group cluster = cg::this_cluster();
  const CellBackwardArgs a = set.pick();
  const int B = a.batch, T = a.steps, H = a.hidden, C = a.stride;
  const bool forward_dir = a.direction == 0;
  ClusterBlock c = cluster_block(cluster, g, subs, B);
  const int N = c.N, rows = c.rows, first_slice = c.first_slice, n_out = c.n_out, hsize = c.hsize;
  const TileThread& th = c.th;

  float* wh_s = dynamic_shared<float>();               // subs slices of Wh^T
  float* dzbuf_s = wh_s + subs * g.split * g.wh_part;  // [2][staged][hpad]
  float* carry_s = dzbuf_s + 2 * hsize;                // [n_out] dL/dh passed through padding
  float* z_s = carry_s + n_out;                        // [n_out] dz Wh^T
  RNNATTN_SHARED_ARRAY(int, seq_s, kClusterMaxRows);
  RNNATTN_SHARED_ARRAY(int, len_s, kClusterMaxRows);
  cluster_begin(cluster, g, subs, T, order, a.lengths, a.wh_t, wh_s, dzbuf_s, 2 * hsize, seq_s,
                len_s, &c);
  const int steps = c.steps;

  // Rows t >= steps: dz 0; the forward direction's dL/dh there passes down to step steps - 1 (in
  // the order the sequential kernel adds it); drec_next's rows no step below writes are 0.
  for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
    const ClusterPair q = cluster_pair(g, first_slice, rows, i);
    float carry = 0.f;
    if (q.valid) {
      const std::size_t b = seq_s[q.bb];
      for (int t = T - 1; t >= steps; --t) {
        if (forward_dir) carry += a.dout[(b * T + t) * C + q.j];
        a.d_in[(b * T + t) * H + q.j] = 0.f;
      }
      for (int t = 0; t < T; ++t) {
        const bool written = forward_dir ? t < steps - 1 : (t >= 1 && t <= steps);
        if (!written) a.drec_next[(b * T + t) * H + q.j] = 0.f;
      }
    }
    carry_s[i] = carry;
  }

  for (int m = 0; m < steps; ++m) {
    const int t = forward_dir ? steps - 1 - m : m;
    const float* dzprev = dzbuf_s + ((m & 1) ^ 1) * hsize;  // dz of the step processed after t
    float* dzcur = dzbuf_s + (m & 1) * hsize;
    if (m > 0) {  // uniform across the cluster: z_s = dz_prev Wh^T
      staged_products<kClusterMaxUnits>(g, th, wh_s, dzprev, z_s, subs);
      __syncthreads();
    }
    for (int i = threadIdx.x; i < n_out; i += blockDim.x) {
      const ClusterPair q = cluster_pair(g, first_slice, rows, i);
      if (!q.valid) continue;
      const int L = len_s[q.bb];
      const std::size_t b = seq_s[q.bb], row = b * T + t;
      const bool after_valid = m > 0 && (forward_dir ? t + 1 < L : t - 1 < L);
      const float dh = (after_valid ? z_s[i] : carry_s[i]) + a.dout[row * C + q.j];
      const float h = a.states[row * C + q.j];
      const float dz = t < L ? dh * (1.f - h * h) : 0.f;
      a.d_in[row * H + q.j] = dz;
      if (forward_dir ? t >= 1 : t <= T - 2) {
        a.drec_next[(forward_dir ? row - 1 : row + 1) * H + q.j] = dz;
      }
      carry_s[i] = dh;  // used only if step t is padding
      if (m < steps - 1) store_to_cluster(cluster, N, dzcur, q.bb * g.hpad + q.j, dz);
    }
    if (m < steps - 1) cluster.sync();  // dz_t in every block; the last step reaches none
  }
#endif
}

// The cluster layer kernels run the Elman cell only (the gated cells' designs are the segment and
// the persistent ones).
template <typename Args>
void check_elman(const LayerSet<Args>& set, const char* call) {
  if (set.first.cell != Cell::kElman || set.second.cell != Cell::kElman) {
    throw InvalidArgument(std::string(call) +
                          ": the cluster layer kernels run the Elman cell only");
  }
}

// Launches one of the kernels in clusters of tiling.cluster blocks, or returns false where this
// GPU cannot (no clusters, too little shared memory, a cluster that fits no GPC).
template <auto Kernel, typename Args>
bool launch_cluster_kernel(const char* name, const ClusterTiling& tiling, std::size_t smem,
                           cudaStream_t stream, const Args& args, const int* order,
                           int planes = 1) {
  int device = 0, clusters = 0;
  RNNATTN_CUDA_CHECK(cudaGetDevice(&device));
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&clusters, cudaDevAttrClusterLaunch, device));
  if (!clusters) {
    note_design_fallback(name, "this GPU has no thread-block clusters");
    return false;
  }
  // The kernels' static arrays (kClusterStaticBytes) count against the same opt-in maximum.
  const int limit = allow_dynamic_shared<Kernel>();
  if (smem > static_cast<std::size_t>(limit)) {
    note_design_fallback(name, std::to_string(smem) +
                                   " bytes of shared memory a block exceed the " +
                                   std::to_string(limit) + " this GPU allows the kernel");
    return false;
  }
  if (max_active_clusters<Kernel>(tiling.cluster, kPersistentThreads, smem) < 1) {
    note_design_fallback(name,
                         "no GPC holds a cluster of " + std::to_string(tiling.cluster) + " blocks");
    return false;
  }
  launch_clustered<Kernel>(name, static_cast<unsigned>(tiling.cluster),
                           dim3(tiling.blocks(), static_cast<unsigned>(planes)),
                           dim3(kPersistentThreads), smem, stream, args, order,
                           geometry_of(tiling.tile), tiling.subs);
  return true;
}

// order[rank of b] = b, where b's rank among the batch is the number of sequences shorter than
// it plus the number of as long ones before it (a stable counting sort: every rank is taken
// once). One thread a sequence; the lengths pass through shared memory in tiles of the block.
constexpr int kOrderThreads = 256;
__global__ void __launch_bounds__(kOrderThreads)
    length_order_kernel(const int* lengths, int batch, int steps, int* order) {
  RNNATTN_SHARED_ARRAY(int, tile_s, kOrderThreads);
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  const int mine = b < batch ? sequence_length(lengths, b, steps) : 0;
  int rank = 0;
  for (int base = 0; base < batch; base += kOrderThreads) {
    const int k = base + threadIdx.x;
    tile_s[threadIdx.x] = k < batch ? sequence_length(lengths, k, steps) : 0;
    __syncthreads();
    const int n = batch - base < kOrderThreads ? batch - base : kOrderThreads;
    for (int i = 0; i < n; ++i) {
      const int other = tile_s[i];
      rank += other < mine || (other == mine && base + i < b);
    }
    __syncthreads();
  }
  if (b < batch) order[rank] = b;
}

}  // namespace

bool cluster_forward(const FusedForwardArgs& a, const ClusterTiling& tiling, const int* order,
                     cudaStream_t stream) {
  if (a.shape.batch < 1 || tiling.tile.hidden != a.shape.hidden) return false;
  return launch_cluster_kernel<cluster_forward_kernel>(
      "cluster_forward_kernel", tiling, tiling.smem_forward_bytes(), stream, a, order);
}

bool cluster_backward(const FusedBackwardArgs& a, const ClusterTiling& tiling, const int* order,
                      cudaStream_t stream) {
  if (a.shape.batch < 1 || tiling.tile.hidden != a.shape.hidden) return false;
  return launch_cluster_kernel<cluster_backward_kernel>(
      "cluster_backward_kernel", tiling, tiling.smem_backward_bytes(), stream, a, order);
}

bool cluster_layer_forward(const CellForwardArgs* args, int count, const ClusterTiling& tiling,
                           const int* order, cudaStream_t stream) {
  const LayerSet<CellForwardArgs> set = layer_set(args, count, "cluster_layer_forward");
  check_elman(set, "cluster_layer_forward");
  if (args[0].batch < 1 || tiling.tile.hidden != args[0].hidden) return false;
  return launch_cluster_kernel<cluster_layer_forward_kernel>(
      "cluster_layer_forward_kernel", tiling, tiling.smem_layer_bytes(), stream, set, order, count);
}

bool cluster_layer_backward(const CellBackwardArgs* args, int count, const ClusterTiling& tiling,
                            const int* order, cudaStream_t stream) {
  const LayerSet<CellBackwardArgs> set = layer_set(args, count, "cluster_layer_backward");
  check_elman(set, "cluster_layer_backward");
  if (args[0].batch < 1 || tiling.tile.hidden != args[0].hidden) return false;
  return launch_cluster_kernel<cluster_layer_backward_kernel>("cluster_layer_backward_kernel",
                                                              tiling, tiling.smem_layer_bytes(),
                                                              stream, set, order, count);
}

namespace {
// Clusters of `cluster` blocks of Kernel, one block an SM (more than half an SM's shared memory a
// block, as the plan counts them), that the current device holds at once; 0 without clusters.
template <auto Kernel>
int resident_clusters(int cluster) {
  int device = 0, clusters = 0, per_sm = 0, reserved = 0;
  RNNATTN_CUDA_CHECK(cudaGetDevice(&device));
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&clusters, cudaDevAttrClusterLaunch, device));
  if (!clusters) return 0;
  RNNATTN_CUDA_CHECK(
      cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device));
  RNNATTN_CUDA_CHECK(
      cudaDeviceGetAttribute(&reserved, cudaDevAttrReservedSharedMemoryPerBlock, device));
  const std::size_t one_block = static_cast<std::size_t>(per_sm / 2 - reserved + 16);
  if (one_block > static_cast<std::size_t>(allow_dynamic_shared<Kernel>())) return 0;
  return max_active_clusters<Kernel>(cluster, kPersistentThreads, one_block);
}

template <auto Kernel>
ClusterOccupancy occupancy_of(const char* name) {
  ClusterOccupancy o{name, {}};
  for (int n = 1; n <= kClusterMaxBlocks; ++n) o.resident[n] = resident_clusters<Kernel>(n);
  return o;
}
}  // namespace

int max_resident_clusters(int cluster) {
  return resident_clusters<cluster_forward_kernel>(cluster);
}

std::vector<ClusterOccupancy> cluster_occupancy() {
  return {occupancy_of<cluster_forward_kernel>("cluster_forward_kernel"),
          occupancy_of<cluster_backward_kernel>("cluster_backward_kernel"),
          occupancy_of<cluster_layer_forward_kernel>("cluster_layer_forward_kernel"),
          occupancy_of<cluster_layer_backward_kernel>("cluster_layer_backward_kernel")};
}

void length_order(const int* lengths, int batch, int steps, int* order, cudaStream_t stream) {
  launch_kernel<length_order_kernel>("length_order_kernel", dim3(blocks_for(batch, kOrderThreads)),
                                     dim3(kOrderThreads), 0, stream, lengths, batch, steps, order);
}

}  // namespace rnnattn::kernels
