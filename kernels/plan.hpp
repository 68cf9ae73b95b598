// How a one-layer model's recurrence is run on the fused path, chosen by B and H from the
// performance model of docs/performance.md (internal header, plain C++: testable without a GPU).
//
// Three designs compute the same thing:
//   segment:    rnn_segment.cu. One segment of threads per sequence,
//               one thread per hidden unit, a block barrier per step. Wh in shared memory when it
//               fits (H <= ~235), else every block reads it through L2 at every step.
//   persistent: rnn_persistent_forward.cu / rnn_persistent_backward.cu. One cooperative launch
//               over the whole GPU, a grid barrier per step. Block (s, g) owns the 16 hidden units
//               of slice s for the sequences of batch group g: its [H,16] slice of Wh stays in
//               shared memory for the whole run, h_{t-1} (or dz_{t+1}) of its group is staged in
//               shared memory each step, and each dot product is split over `split` lanes.
//   cluster:    rnn_cluster.cu (sm_90). The persistent tiling scoped to a thread-block cluster:
//               cluster k of N <= 8 blocks owns batch group k, block r of it holds `subs` slices
//               of Wh (H <= 512), h_t (dz_t) goes to every block's shared memory through
//               distributed shared memory, and a cluster barrier replaces the grid barrier.
//               Clusters are independent: no co-residency needed, and each stops at its own
//               group's longest sequence (the groups can be packed by length).
// The model predicts a step of each from the GPU's limits and a few latencies (the constants in
// plan.cpp, estimates until a GPU run measures them) and picks the faster.
#pragma once

#include <array>
#include <cstddef>
#include <string>

namespace rnnattn::kernels {

constexpr int kClusterMaxBlocks = 8;  // the portable cluster size

// Clusters of n = 0..8 blocks (one block an SM) that GPCs of these SM counts hold at once: a
// cluster lies within one GPC, so it is the sum over GPCs of floor(SMs / n), not SMs / n.
template <std::size_t Gpcs>
constexpr std::array<int, kClusterMaxBlocks + 1> clusters_in_gpcs(const int (&gpcs)[Gpcs]) {
  std::array<int, kClusterMaxBlocks + 1> r{};
  for (int n = 1; n <= kClusterMaxBlocks; ++n) {
    for (std::size_t g = 0; g < Gpcs; ++g) r[n] += gpcs[g] / n;
  }
  return r;
}
// An H100 SXM of 132 SMs whose floor-swept GPCs hold 15 eight-block clusters (a published sweep
// found 8-block clusters on 120 of 132 SMs; GPC sizes differ from die to die): the default of a
// plan made without a GPU, and the GPU simulator's default layout.
constexpr int kDefaultGpcs[] = {18, 18, 18, 16, 16, 16, 16, 14};

// The GPU properties the plan depends on (an H100 SXM's by default).
struct GpuLimits {
  int sms = 132;
  std::size_t smem_per_block = 227 * 1024;  // opt-in maximum
  std::size_t smem_per_sm = 228 * 1024;
  bool cooperative = true;
  bool clusters = true;  // thread-block clusters (compute capability 9.0 and up)
  // resident_clusters[n]: clusters of n blocks of the cluster kernels, one block an SM, that the
  // GPU holds at once (cudaOccupancyMaxActiveClusters on the device; 0 without clusters).
  std::array<int, kClusterMaxBlocks + 1> resident_clusters = clusters_in_gpcs(kDefaultGpcs);
};

// The current device's limits (CUDA runtime attributes and occupancy queries, asked once per
// device and cached; checked).
GpuLimits current_gpu_limits();

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
  int gates = 1;      // G: 1 for the Elman cell; 4 (LSTM) or 3 (GRU) for rnn_persistent_gated.cu
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

// The tiling for B sequences of H units (G gates) on this GPU, or false where none fits (a grid
// too large to be co-resident, shared memory too small for the slices, or no cooperative launch).
bool persistent_tiling(int batch, int hidden, const GpuLimits& gpu, PersistentTiling* out,
                       int gates = 1);

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
  // Dynamic shared memory of a block; both kernels also hold kClusterStaticBytes of static
  // shared memory (the group's sequences and lengths).
  std::size_t smem_forward_bytes() const;
  std::size_t smem_backward_bytes() const;
  // The layer kernels' (no attention): the slices, the double-buffered rows, two per pair.
  std::size_t smem_layer_bytes() const;

 private:
  std::size_t smem_floats(int row_buffers, int per_pair, std::size_t per_row) const;
};
constexpr std::size_t kClusterStaticBytes = 2 * kClusterMaxRows * sizeof(int);

// The cluster tiling for B sequences of H units on this GPU, or false where none fits (H > 512,
// no clusters, shared memory too small). `planes` blocks of recurrence run side by side in one
// launch (a bidirectional layer's directions), sharing the GPU's clusters.
bool cluster_tiling(int batch, int hidden, const GpuLimits& gpu, ClusterTiling* out,
                    int planes = 1);

// Which design runs a recurrence.
enum class Design { kSegment, kPersistent, kCluster };
const char* design_name(Design d);

struct RecurrencePlan {
  Design design = Design::kSegment;  // the choice: the fastest prediction
  bool persistent = false;           // design == kPersistent
  bool persistent_possible = false;
  PersistentTiling tiling;   // when possible
  double segment_us = 0;     // predicted time of one step (forward) of each design
  double persistent_us = 0;  // (0 where not possible)
  bool cluster_possible = false;
  ClusterTiling cluster_tiling;
  double cluster_us = 0;  // (0 where not possible)
  std::string describe() const;
};

// The model's choice for a one-layer model at batch B and hidden size H (the cluster design
// predicted with every group at the longest length: packing by length only shortens it).
RecurrencePlan plan_recurrence(int batch, int hidden, const GpuLimits& gpu);
// The same for one layer of a stacked or bidirectional Elman model, its `directions` blocks side
// by side in one launch: the segment kernels (rnn_segment.cu) or the cluster layer kernels
// (rnn_cluster.cu); no persistent design. The cluster tiling is a direction's.
RecurrencePlan plan_layer(int batch, int hidden, int directions, const GpuLimits& gpu);

// The gated cells (G = 4 LSTM, 3 GRU) have both designs: segment (rnn_segment.cu: a thread per
// unit owning its G columns of Wh) and persistent (rnn_persistent_gated.cu: block (s, g) holds
// the G [H,16] slices of Wh for its units). The model predicts each forward step as the Elman
// kernels' with G x H columns of Wh, says whether the segment kernels stage Wh in shared memory
// in the forward and in the backward (the backward's buffers are G times larger), and picks the
// faster design as plan_recurrence does. For `directions` blocks of a layer (a bidirectional
// layer's 2) it predicts a step of all of them: the segment kernels over 2B sequences in one
// launch, the persistent kernels in one grid of 2 planes where it is co-resident (at most
// kGatedPersistentMinBlocksPerSm blocks an SM), else a direction at a time.
struct GatedPlan {
  int gates = 0;
  bool forward_wh_in_smem = false, backward_wh_in_smem = false;
  double segment_us = 0;    // predicted time of one forward step of each design
  bool persistent = false;  // the choice
  bool persistent_possible = false;
  PersistentTiling tiling;   // when possible
  double persistent_us = 0;  // (0 where not possible)
  // The persistent backward's step (its products over G*H terms: not the forward's).
  double persistent_backward_us = 0;
  // Every direction's step: `directions` x the above, or one grid of all where co-resident.
  int directions = 1;
  bool forward_planes = false, backward_planes = false;  // directions > 1 in one grid
  double segment_all_us = 0, persistent_all_us = 0, persistent_backward_all_us = 0;
  std::string describe() const;
};
GatedPlan plan_gated(int batch, int hidden, int gates, const GpuLimits& gpu, int directions = 1);

// Whole passes from the step model (docs/performance.md, "Whole passes"): per (layer, direction)
// the input projection [B*T, I] x [I, G*H] as a GEMM, T steps of the recurrence the plan chooses,
// and for training the backward's T steps (the Elman kernels' charged as the forward's: the same
// products, staging and barriers; the gated persistent kernels' by their own model, products over
// G*H terms) and its weight-gradient GEMMs (dWx, dWh and, above the first layer, the input's
// gradient). GEMMs at an estimated 50 TFLOP/s plus a launch each; the attention, head, loss and
// Adam (a few small kernels) are not counted.
struct PassShape {
  int batch = 1, steps = 1, input = 1, hidden = 1;
  int layers = 1, directions = 1, gates = 1;  // gates: 1 Elman, 4 LSTM, 3 GRU
};
struct PassPrediction {
  double recurrence_ms = 0;  // the forward's recurrence (T steps, every layer and direction)
  double gemm_ms = 0;        // the forward's input projections
  double forward_ms = 0;     // inference: recurrence + projections
  double training_ms = 0;    // forward, backward recurrence and the weight-gradient GEMMs
};
PassPrediction predict_passes(const PassShape& s, const GpuLimits& gpu);

// Cooperative launches that the GPU refused at launch time although the occupancy query
// allowed them (cudaErrorCooperativeLaunchTooLarge: MPS thread limits, green contexts, another
// carve-out), remembered per (current device, kernel, grid size) so that they are not tried
// again: the persistent launchers then return false and the caller runs the segment kernels.
bool cooperative_launch_refused(const char* kernel, int blocks);
// Records a refusal and says so once on stderr. While the stream is being captured it throws
// instead (the failed launch has spoilt the capture), saying to run the pass once outside
// capture, which records the refusal, before capturing.
void record_cooperative_refusal(const char* kernel, int blocks, std::size_t smem_bytes,
                                bool capturing);
// Says once on stderr (per device, kernel and reason) that a design's kernel was not launched and
// why; its caller runs the segment kernels instead.
void note_design_fallback(const char* kernel, const std::string& reason);

}  // namespace rnnattn::kernels
