// The launch geometry of the recurrence kernels (internal header, plain C++): how the segment,
// persistent and cluster kernels lay out their threads, blocks and shared memory, given a tiling.
// The planner (host/cuda/plan.hpp) chooses the tiling for a shape and a GPU; the launchers
// (kernels.hpp) take it.
#pragma once

#include <algorithm>
#include <cstddef>

namespace rnnattn::kernels {

// ceil(a / b) for positive a and b.
constexpr int ceil_div(int a, int b) { return (a + b - 1) / b; }

constexpr int kClusterMaxBlocks = 8;  // the portable cluster size

// The segment kernels' launch geometry (forward and backward): segments of hp threads, at least
// 128 threads a block, at most 1024 (so H <= 1024).
struct SegmentGeometry {
  int hp;        // threads per sequence: next power of two >= H
  int threads;   // per block
  int segments;  // sequences per block
  int blocks;
};

inline SegmentGeometry segment_geometry(int hidden, int batch) {
  SegmentGeometry g{};
  g.hp = 1;
  while (g.hp < hidden) g.hp <<= 1;
  g.threads = g.hp < 128 ? 128 : g.hp;
  g.segments = g.threads / g.hp;
  g.blocks = (batch + g.segments - 1) / g.segments;
  return g;
}

// Floats of reduction scratch a block needs.
inline int reduce_scratch_floats(const SegmentGeometry& g) {
  return g.hp > 32 ? 2 * g.segments * (g.hp / 32) : 0;
}

// Bytes of shared memory of a segment block (rnn_segment.cu) of a cell of G gates: the
// per-sequence buffers (forward: h; backward: the G gates of dL/drec; double-buffered), with the
// attention and head in the kernel (`head`, one-layer models) the reduction scratch, and when
// staged Wh's H x G*H floats. The scratch is a few floats: Wh fits up to the same H with and
// without it.
inline std::size_t segment_smem_bytes(const SegmentGeometry& g, int hidden, int gates,
                                      bool backward, bool with_wh, bool head) {
  const std::size_t buffers = sizeof(float) * 2 * g.segments * g.hp * (backward ? gates : 1);
  const std::size_t scratch = head ? sizeof(float) * reduce_scratch_floats(g) : 0;
  return buffers + scratch + (with_wh ? sizeof(float) * hidden * gates * hidden : 0);
}

// The persistent kernels' tiling of the hidden units and the batch.
constexpr int kPersistentSlice = 16;  // hidden units per block
// Terms of a dot product a thread takes at once: one 16-byte shared-memory read of a staged row
// and one of each unit's slice column (persistent_common.cuh's staged_products).
constexpr int kPersistentChunk = 4;
constexpr int kPersistentThreads = 256;  // threads per block
constexpr int kPersistentMaxRows = 4;    // sequences of its group one thread computes
// Units of a slice one thread computes (register tiling of the dot products: each staged word a
// thread reads feeds `units` FMAs, each Wh word `rows`). The persistent kernels compiled for 4
// blocks an SM (64 registers: grids larger than the SMs, and the gated kernels) take 1; the
// Elman persistent kernels' variants for grids of at most one block an SM (up to 255 registers)
// and the cluster kernels (one block an SM) up to 4.
constexpr int kPersistentMaxUnits = 1;
constexpr int kPersistentWideMaxUnits = 4;
// The gated persistent backward (128 registers): up to 2 units a thread.
constexpr int kGatedBackwardMaxUnits = 2;
constexpr int kClusterMaxUnits = 4;
// Blocks per SM the persistent kernels are compiled for (__launch_bounds__): at most 64
// registers a thread, so that 4 blocks of 256 threads fit an SM's 65536 registers.
constexpr int kPersistentMinBlocksPerSm = 4;
// The gated persistent kernels are compiled for 2 (128 registers: the G gates' products fused,
// 16 accumulators, and 8 16-byte staging loads in flight); grids of up to 2 blocks an SM, such
// as a bidirectional layer's two directions in one grid.
constexpr int kGatedPersistentMinBlocksPerSm = 2;
struct PersistentTiling {
  int slices = 0;     // ceil(H / 16): blocks along the hidden units
  int groups = 0;     // blocks along the batch
  int group = 0;      // sequences per batch group (the last group may hold fewer)
  int split = 0;      // lanes per dot product: 2, 4, 8 or 16
  int units = 1;      // units a thread (1, 2 or 4; split >= 2 units, so a warp covers one row lane)
  int row_lanes = 0;  // 16 units / split: sequences computed side by side by a block's threads
  int rows = 0;       // ceil(group / row_lanes) <= 4: sequences per thread
  int hidden = 0;     // H
  int gates = 1;      // G: 1 for the Elman cell; 4 (LSTM) or 3 (GRU)
  // The split lanes' parts summed by one reduce-scatter over the kernel's MaxUnits x 4
  // accumulators (N (1 - 1 / split) shuffles) instead of a butterfly for each (unit, row)
  // (units x rows x log2(split)): where it takes fewer (kernels with several units a thread).
  bool scatter = false;
  // The gated backward stages dL/drec (G*H values a row) in this many pieces, a barrier and the
  // products after each (plan_gated: 2 where that lets a bidirectional layer's two directions
  // fit one grid, 2 blocks an SM); 1: the whole row at once.
  int pieces = 1;
  // The gated backward's own products over its G*H terms (choose_split's for them): split, units
  // (up to kGatedBackwardMaxUnits), row lanes, rows and the reduce-scatter; 0: the forward's. The
  // blocks (slices x groups of `group`) are the forward's.
  int backward_split = 0, backward_units = 0, backward_row_lanes = 0, backward_rows = 0;
  bool backward_scatter = false;
  // This tiling with the backward's products in place of the forward's (what the gated backward
  // kernel's geometry, shared memory and model read).
  PersistentTiling for_backward() const {
    PersistentTiling b = *this;
    if (backward_split > 0) {
      b.split = backward_split;
      b.units = backward_units;
      b.row_lanes = backward_row_lanes;
      b.rows = backward_rows;
      b.scatter = backward_scatter;
      b.backward_split = 0;
    }
    return b;
  }
  int blocks() const { return slices * groups; }
  // The most units a thread the kernels that run this tiling on a GPU of `sms` SMs take: the
  // Elman kernels' one-block-an-SM variants where the grid is at most one block an SM.
  int max_units(int sms) const {
    return gates == 1 && blocks() <= sms ? kPersistentWideMaxUnits : kPersistentMaxUnits;
  }
  // A staged row's length for dot products over `inner` terms (H; the gated backward's G*H): a
  // whole number of chunks for every split lane.
  int padded(int inner) const {
    const int step = split * kPersistentChunk;
    return split < 1 ? 0 : (inner + step - 1) / step * step;
  }
  int padded_hidden() const { return padded(hidden); }
  // The staged part of a row of `inner` terms: a piece of the padded row, a whole number of
  // chunks for every split lane (the whole padded row where pieces is 1).
  int piece(int inner) const {
    return pieces <= 1 ? padded(inner) : padded((inner + pieces - 1) / pieces);
  }
  // Floats of one part of a matrix slice in shared memory over `inner` rows: `split` parts, part
  // kk holding the chunks c = kk, kk + split, ... of 4 rows (terms), 16 units x 4 terms a chunk
  // (unit-major, so that a thread reads a unit's 4 terms as one float4), padded so that the
  // lanes of a warp reading one chunk of every part hit every bank equally (each quarter warp, as
  // a 16-byte access is served, 8 different 16-byte bank groups).
  std::size_t wh_part_floats(int inner) const;
  std::size_t wh_part_floats() const { return wh_part_floats(hidden); }
  // The forward holds G slices of Wh [H,16] (gate q's columns); the backward one slice of Wh^T
  // [G*H,16] and stages rows of G*H values.
  std::size_t smem_forward_bytes() const;
  std::size_t smem_backward_bytes() const;
};

// The cluster design's tiling (rnn_cluster.cu): `tile` lays out the slices (16 units, split,
// rows a thread) and the batch groups, one cluster a group; block r of a cluster owns slices
// [r subs, (r + 1) subs).
constexpr int kClusterMaxSubs = 4;  // slices a block: H <= 8 x 4 x 16 = 512
constexpr int kClusterMaxRows = kPersistentMaxRows * (kPersistentSlice / 2);  // a group: <= 32
struct ClusterTiling {
  int cluster = 0;  // blocks a cluster (N)
  int subs = 0;     // slices a block
  PersistentTiling tile;
  int clusters() const { return tile.groups; }
  int blocks() const { return cluster * tile.groups; }
  // Dynamic shared memory of a block; both kernels also hold kMappingStaticBytes of static
  // shared memory (the group's sequences and lengths).
  std::size_t smem_forward_bytes() const;
  std::size_t smem_backward_bytes() const;
  // The layer kernels' (no attention): the slices, the double-buffered rows, two per pair.
  std::size_t smem_layer_bytes() const;

 private:
  std::size_t smem_floats(int row_buffers, int per_pair, std::size_t per_row) const;
};
// The static shared memory of every kernel of the whole-GPU mapping (persistent and cluster):
// its group's sequences and lengths.
constexpr std::size_t kMappingStaticBytes = 2 * kClusterMaxRows * sizeof(int);

// ---- the tilings' shared memory ----

inline std::size_t PersistentTiling::wh_part_floats(int inner) const {
  if (split < 1) return 0;  // no tiling
  // A warp's lanes read the float4 (part kk, chunk row i, unit jj) for kk < split and 32/split
  // consecutive jj, a quarter warp at a time: 8 lanes with consecutive kk (split >= 8), 4 x 2
  // (split 4) or 2 x 4 (split 2) (kk, jj). A part length of 4 x (8 / split, at least 1) floats
  // (mod 32) puts each quarter's 8 float4s on the 8 different 16-byte bank groups, and the whole
  // warp's 128 words 4 to a bank (Plan.SliceLayoutIsFreeOfBankConflicts).
  const int chunk_rows = ceil_div(inner, split * kPersistentChunk);
  return static_cast<std::size_t>(chunk_rows) * kPersistentSlice * kPersistentChunk +
         kPersistentChunk * std::max(1, 8 / split);
}

inline std::size_t PersistentTiling::smem_forward_bytes() const {
  const std::size_t g = static_cast<std::size_t>(rows) * row_lanes;  // staged rows
  const std::size_t pairs = g * kPersistentSlice;                    // (sequence, unit) pairs
  if (gates > 1) {
    // G slices of Wh, h_{t-1} of the group, then per pair the G products and the LSTM's c.
    return sizeof(float) *
           (gates * wh_part_floats() * split + g * padded_hidden() + (gates + 1) * pairs);
  }
  // Wh slice, h_{t-1} of the group, then h_t, the score partials, sum_t exp(e_t) h_t and the
  // dot products per (sequence, unit), and S and exp(e_t) per sequence.
  return sizeof(float) * (wh_part_floats() * split + g * padded_hidden() + 4 * pairs + 2 * g);
}

inline std::size_t PersistentTiling::smem_backward_bytes() const {
  if (gates > 1 && backward_split > 0) return for_backward().smem_backward_bytes();
  const std::size_t g = static_cast<std::size_t>(rows) * row_lanes;
  const std::size_t pairs = g * kPersistentSlice;
  if (gates > 1) {
    // The Wh^T slice [G*H,16], dL/drec of the group's next step (G*H values a row, a piece at a
    // time), then per pair the product, the carry passed through padding, the part of
    // dL/dh_{t-1} that does not go through Wh, and the LSTM's dL/dc.
    const int inner = gates * hidden;
    return sizeof(float) * (wh_part_floats(inner) * split + g * piece(inner) + 4 * pairs);
  }
  // Wh^T slice, dz_{t+1} of the group, then dL/dc, the carry and the dot products per
  // (sequence, unit).
  return sizeof(float) * (wh_part_floats() * split + g * padded_hidden() + 3 * pairs);
}

// Floats of a cluster block's shared memory: its `subs` slices of Wh (or Wh^T), `row_buffers`
// buffers of the group's rows (full H), `per_pair` floats a (sequence, unit) pair and `per_row`
// a sequence.
inline std::size_t ClusterTiling::smem_floats(int row_buffers, int per_pair,
                                              std::size_t per_row) const {
  const PersistentTiling& p = tile;
  const std::size_t staged = static_cast<std::size_t>(p.rows) * p.row_lanes;
  const std::size_t pairs = subs * staged * kPersistentSlice;
  return subs * p.wh_part_floats() * p.split + row_buffers * staged * p.padded_hidden() +
         per_pair * pairs + per_row * staged;
}

// The forward: h_{t-1} / h_t of the group (double-buffered), per pair h_t, h_t wa,
// sum_t exp(e_t) h_t and the product, per sequence every block's score partial (double-buffered)
// and S and exp(e_t).
inline std::size_t ClusterTiling::smem_forward_bytes() const {
  return sizeof(float) * smem_floats(2, 4, 2 * static_cast<std::size_t>(cluster) + 2);
}

// The backward: dz_{t+1} / dz_t of the group (double-buffered) and dL/dc of the group (full H),
// per pair dL/dc, the carry and the product.
inline std::size_t ClusterTiling::smem_backward_bytes() const {
  return sizeof(float) * smem_floats(3, 3, 0);
}

// The layer kernels: the double-buffered rows, per pair the state (or carry) and the product.
inline std::size_t ClusterTiling::smem_layer_bytes() const {
  return sizeof(float) * smem_floats(2, 2, 0);
}

}  // namespace rnnattn::kernels
