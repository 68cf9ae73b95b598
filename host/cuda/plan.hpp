// How a one-layer model's recurrence is run on the fused path, chosen by B and H from the
// performance model of docs/performance.md (internal header, plain C++: testable without a GPU).
//
// Three designs compute the same thing:
//   segment:    rnn_segment.cu. One segment of threads per sequence,
//               one thread per hidden unit, a block barrier per step. Wh in shared memory when it
//               fits (H <= ~235), else every block reads it through L2 at every step.
//   persistent: rnn_persistent.cu. One cooperative launch
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

#include "kernels/tiling.hpp"

namespace rnnattn::cuda {

// The launch geometry the plan chooses (kernels/tiling.hpp).
using kernels::ClusterTiling;
using kernels::kClusterMaxBlocks;
using kernels::PersistentTiling;

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

// The tiling for B sequences of H units (G gates) on this GPU, or false where none fits (a grid
// too large to be co-resident, shared memory too small for the slices, or no cooperative launch).
bool persistent_tiling(int batch, int hidden, const GpuLimits& gpu, PersistentTiling* out,
                       int gates = 1);

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
// by side: the segment kernels (rnn_segment.cu, one launch), the persistent kernels
// (rnn_persistent.cu: one grid of all directions where it is co-resident, else a direction at a
// time; persistent_us is every direction's step) or the cluster kernels (rnn_cluster.cu, one
// launch). The tilings are a direction's.
RecurrencePlan plan_layer(int batch, int hidden, int directions, const GpuLimits& gpu);

// The gated cells (G = 4 LSTM, 3 GRU) have both designs: segment (rnn_segment.cu: a thread per
// unit owning its G columns of Wh) and persistent (rnn_persistent.cu: block (s, g) holds
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

}  // namespace rnnattn::cuda
