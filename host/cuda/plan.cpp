// The recurrence plan (plan.hpp): the persistent kernels' tiling and the performance model that
// chooses between them and the segment kernels. docs/performance.md derives every formula here.
#include "cuda/plan.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

#include "kernels/cuda_utils.hpp"
#include "kernels/kernels.hpp"

namespace rnnattn::cuda {

// The tilings and the kernels' constants and geometry the model is of.
using namespace kernels;

namespace {

// The model's constants for an H100 SXM. The first two are architecture facts; the rest are
// estimates that a GPU run measures (docs/performance.md, "Limits used").
constexpr double kClockGHz = 1.755;       // sustained FP32 clock
constexpr double kFmaLatency = 4;         // cycles of a dependent FP32 FMA
constexpr double kL2BytesPerCycle = 64;   // L2 -> one SM
constexpr double kL2LatencyUs = 0.3;      // a step's staged load from L2, start to use
constexpr double kBlockBarrierUs = 0.05;  // __syncthreads plus the shared-memory exchange
constexpr double kGridBarrierUs = 1.5;    // cooperative grid.sync()
// Thread-block clusters (estimates, to be measured): cluster.sync() is barrier.cluster.arrive
// .release + wait.acquire, which sm_90 SASS spells MEMBAR.ALL.GPU + UCGABAR_ARV + UCGABAR_WAIT +
// CCTL.IVALL (read from the compiled code): the hardware barrier (~0.2 us) plus a GPU-scope fence.
constexpr double kClusterBarrierUs = 0.5;
constexpr double kDsmemBytesPerCycle = 32;  // one SM's stores into other SMs' shared memory
constexpr int kThreadsPerSm = 2048;
// The L2's aggregate read bandwidth over all SMs (an estimate: published microbenchmarks of the
// H100 SXM measure 5.5 to 7 TB/s; the lower end): a step's L2 traffic over every block cannot
// move faster, whatever each SM's share.
constexpr double kL2AggregateBytesPerUs = 5.5e6;
// A load that misses L2 (an input projection row read once per step, from HBM), start to use
// (an estimate, to be measured).
constexpr double kHbmLatencyUs = 0.6;
constexpr double kFmaPerCycle = 128;  // FP32 FMAs an SM issues a cycle (4 schedulers x 32 lanes)

// Memory-level parallelism, from the compiled sm_90 code (tools/sass_check.py's
// "in flight" column): a warp of the segment kernels with Wh in L2 keeps this many 128-byte loads
// in flight (fused_forward_kernel<Wh in L2>: 11; the backward's 4), so an SM pulls at most
// warps x 11 x 128 B per L2 round trip.
constexpr int kSegmentLoadsInFlight = 11;
// A persistent step's staging of the group's rows costs one dependent L2 round trip per batch of
// loads a thread keeps in flight (stage_rows). Rows of a multiple of 4 floats go as 16-byte loads.
// In flight, from the compiled code (tools/sass_check.py): the Elman kernels for grids of at most
// one block an SM 16 16-byte loads (16 of 4 bytes); the forward's variant for larger grids 1 (4);
// the gated kernels at least 8 (16). The Elman backward's variant for larger
// grids keeps 4 (16): the model predicts the Elman kernels' forward steps. `inner`: a staged row's
// values (0: H). The gated backward stages its rows in p.pieces parts, a round trip (at least)
// each.
int staging_round_trips(const PersistentTiling& p, const GpuLimits& gpu, int inner = 0) {
  if (inner == 0) inner = p.hidden;
  const int pieces = inner == p.hidden ? 1 : std::max(1, p.pieces);
  const bool vector = inner % 4 == 0;
  int in_flight = 0;
  if (p.gates > 1) {
    in_flight = vector ? 8 : 16;
  } else if (p.blocks() <= gpu.sms) {
    in_flight = 16;
  } else {
    in_flight = vector ? 1 : 4;
  }
  const int floats = p.rows * p.row_lanes * (pieces > 1 ? p.piece(inner) : p.padded(inner));
  const int loads = ceil_div(vector ? ceil_div(floats, 4) : floats, kPersistentThreads);
  return pieces * std::max(1, ceil_div(loads, in_flight));
}

int log2_int(int v) {
  int l = 0;
  while ((1 << l) < v) ++l;
  return l;
}

int blocks_per_sm(int threads, std::size_t smem, const GpuLimits& gpu) {
  const int by_threads = kThreadsPerSm / threads;
  const int by_smem = smem ? static_cast<int>(gpu.smem_per_sm / smem) : by_threads;
  return std::min(by_threads, by_smem);
}

// Shuffles a lane issues to sum its units x rows products over the `split` lanes: a butterfly for
// each, or one reduce-scatter over the `values` accumulators of the kernel (0: none).
int reduction_shuffles(int split, int rows, int units, int values) {
  const int butterfly = units * rows * log2_int(split);
  const int scatter = values - values / split;  // values / 2 + values / 4 + ... (values >= split)
  return values > 0 && scatter < butterfly ? scatter : butterfly;
}

// Shared-memory cycles of one block's split dot products over `hidden` terms for its rows: each
// warp reads, per chunk of 4 terms a lane adds, `units` float4s of the Wh slice (4 wavefronts
// each: 128 different words, 4 to a bank) and `rows` float4s of staged rows (the split lanes'
// 4 split consecutive words, shared by the unit lanes: 1 wavefront up to 32 words, 2 at split
// 16), then sums the products over the `split` lanes with shuffles (one cycle a warp each;
// reduction_shuffles).
double persistent_wavefronts(int hidden, int split, int rows, int units = 1, int values = 0) {
  const int warps = kPersistentThreads / 32;
  const int chunks = ceil_div(hidden, split * kPersistentChunk);
  const int row_wavefronts = std::max(1, split * kPersistentChunk / 32);
  return static_cast<double>(warps) * (chunks * (units * kPersistentChunk + rows * row_wavefronts) +
                                       reduction_shuffles(split, rows, units, values));
}

// The reduce-scatter's accumulators in a kernel whose products take up to max_units units a
// thread (0: the kernel has none, persistent_common.cuh's staged_products).
int scatter_values(int max_units) { return max_units > 1 ? max_units * kPersistentMaxRows : 0; }

// The gated persistent forward's products (staged_products with FusedMats): per chunk a warp reads
// the G gates' float4s of the Wh slices (4 wavefronts each) and each staged row once, and sums
// the 16 accumulators with a reduce-scatter.
double gated_forward_wavefronts(int hidden, int gates, int split, int rows) {
  const int warps = kPersistentThreads / 32;
  const int chunks = ceil_div(hidden, split * kPersistentChunk);
  const int row_wavefronts = std::max(1, split * kPersistentChunk / 32);
  const int values = 4 * kPersistentMaxRows;
  return static_cast<double>(warps) *
         (chunks * (gates * kPersistentChunk + rows * row_wavefronts) + values - values / split);
}

// The cycles an SM's FP32 lanes take to issue a block's FMAs of a step: its staged rows x 16
// units x `cols` products (G in the gated forward) over `inner` terms (padded to the chunks).
double fma_cycles(const PersistentTiling& p, int cols, int inner) {
  return static_cast<double>(p.rows) * p.row_lanes * kPersistentSlice * cols * p.padded(inner) /
         kFmaPerCycle;
}

// The blocks an SM holds of a persistent kernel (by threads, shared memory and the registers of
// its launch bounds: the Elman kernels 4, the gated ones 2).
int persistent_blocks_per_sm(const PersistentTiling& p, std::size_t smem, const GpuLimits& gpu) {
  const int bound = p.gates > 1 ? kGatedPersistentMinBlocksPerSm : kPersistentMinBlocksPerSm;
  return std::min(blocks_per_sm(kPersistentThreads, smem, gpu), bound);
}

// One step of a segment kernel with G columns of Wh a thread (G = 1: the Elman cell).
double segment_step_us(int batch, int hidden, int gates, const GpuLimits& gpu) {
  const SegmentGeometry g = segment_geometry(hidden, batch);
  // The head's reduction scratch counted (a one-layer model's): a few floats either way.
  const std::size_t with = segment_smem_bytes(g, hidden, gates, false, true, true);
  const bool wh_in_smem = with <= gpu.smem_per_block;
  const std::size_t without = segment_smem_bytes(g, hidden, gates, false, false, true);
  const std::size_t smem = wh_in_smem ? with : without;
  const int per_sm = std::max(1, blocks_per_sm(g.threads, smem, gpu));
  const int waves = ceil_div(g.blocks, gpu.sms * per_sm);
  const int used = std::min(per_sm, ceil_div(g.blocks, gpu.sms));  // blocks on the busiest SM
  // One thread per unit: an H-long chain of dependent FMAs per step (a gated cell's G chains
  // are independent and interleave).
  const double chain = hidden * kFmaLatency;
  // Per step every warp reads h_{t-1} (a broadcast: one wavefront per k) and G rows of Wh.
  const double warps = used * g.threads / 32.0;
  double memory = warps * hidden;  // the h_{t-1} reads
  if (wh_in_smem) {
    memory += warps * hidden * gates;  // Wh from shared memory, conflict-free
  } else {
    // Every block pulls all of Wh from L2 at every step, at the L2's rate or, where the SM's warps
    // keep too few loads in flight to cover the round trip, at warps x loads x 128 B a round trip.
    const double latency_cycles = kL2LatencyUs * kClockGHz * 1e3;
    const double rate =
        std::min(kL2BytesPerCycle, warps * kSegmentLoadsInFlight * 128.0 / latency_cycles);
    memory = std::max(memory, used * static_cast<double>(hidden) * gates * hidden * 4 / rate);
  }
  const double step = waves * (std::max(chain, memory) / (kClockGHz * 1e3) + kBlockBarrierUs);
  if (wh_in_smem) return step;
  // And every block's Wh through L2 together, at its aggregate rate.
  return std::max(
      step, static_cast<double>(g.blocks) * hidden * gates * hidden * 4 / kL2AggregateBytesPerUs);
}

// The dependent global round trips a persistent step makes besides its staging, on the step's
// path: the Elman forward's partial scores of every block, read after the grid barrier (its score
// bias and lengths are loaded before it); the gated forward's input projection, read after the
// products (from HBM: each row once), its lengths issued with it; the gated backward's saved gate
// values, read after its products. The Elman backward's variant for grids of at most one block an
// SM loads its step's inputs before its products, under them; its variant capped at 64 registers
// after them, behind the lengths (two in a row).
double dependent_round_trips_us(const PersistentTiling& p, const GpuLimits& gpu, bool backward) {
  if (p.gates > 1) return backward ? kL2LatencyUs : kHbmLatencyUs;
  if (!backward) return kL2LatencyUs;
  return p.blocks() <= gpu.sms ? 0 : 2 * kL2LatencyUs;
}

// One step of the persistent kernels, `planes` grids side by side in one launch (a bidirectional
// layer's directions): the forward's G products over the staged h_{t-1} (G = 1: Elman), or the
// gated backward's one product over the staged dL/drec (G*H terms). A block's products take the
// more of their shared-memory wavefronts and their FMAs' issue cycles.
double persistent_step_us(const PersistentTiling& tiling, const GpuLimits& gpu, int planes = 1,
                          bool backward = false) {
  const bool gated = tiling.gates > 1;
  // The gated backward's products are its own (split, units, rows).
  const PersistentTiling p = gated && backward ? tiling.for_backward() : tiling;
  const int used = ceil_div(planes * p.blocks(), gpu.sms);
  const int inner = gated && backward ? p.gates * p.hidden : p.hidden;
  double wavefronts = 0;
  if (!gated) {
    wavefronts = persistent_wavefronts(p.hidden, p.split, p.rows, p.units,
                                       scatter_values(p.max_units(gpu.sms)));
  } else if (backward) {
    wavefronts = persistent_wavefronts(inner, p.split, p.rows, p.units,
                                       scatter_values(kGatedBackwardMaxUnits));
  } else {
    wavefronts = gated_forward_wavefronts(p.hidden, p.gates, p.split, p.rows);
  }
  const double fma = fma_cycles(p, gated && !backward ? p.gates : 1, inner);
  const double compute = used * std::max(wavefronts, fma);
  const double staging = used * static_cast<double>(p.group) * inner * 4 / kL2BytesPerCycle;
  // Every block stages its group's rows through L2: the step's traffic at the L2's aggregate rate.
  const double l2_us = static_cast<double>(planes) * p.blocks() * p.rows * p.row_lanes *
                       p.padded(inner) * 4 / kL2AggregateBytesPerUs;
  // A block barrier after each staging and after its products (the backward's pieces: more).
  const int pieces = gated && backward ? std::max(1, p.pieces) : 1;
  const double step = staging_round_trips(p, gpu, inner) * kL2LatencyUs +
                      (compute + staging) / (kClockGHz * 1e3) + (2 * pieces - 1) * kBlockBarrierUs;
  return kGridBarrierUs + dependent_round_trips_us(p, gpu, backward) + std::max(step, l2_us);
}

// One forward step of the cluster kernels: the block's `subs` products over its own shared copy
// of h_{t-1}, h_t of its slices pushed to every block of the cluster, a cluster barrier and a few
// block barriers; clusters beyond what the GPU holds at once run in further waves.
double cluster_step_us(const ClusterTiling& c, const GpuLimits& gpu, int planes = 1) {
  const PersistentTiling& p = c.tile;
  const int resident = std::max(1, gpu.resident_clusters[c.cluster]);
  const int waves = ceil_div(c.clusters() * planes, resident);
  const double compute = c.subs * std::max(persistent_wavefronts(p.hidden, p.split, p.rows, p.units,
                                                                 scatter_values(kClusterMaxUnits)),
                                           fma_cycles(p, 1, p.hidden));
  const double pairs = static_cast<double>(c.subs) * p.rows * p.row_lanes * kPersistentSlice;
  const double exchange = pairs * c.cluster * 4 / kDsmemBytesPerCycle;
  return waves *
         (kClusterBarrierUs + (compute + exchange) / (kClockGHz * 1e3) + 3 * kBlockBarrierUs);
}

// The split and units a thread with the fewest shared-memory cycles a step for groups of
// p->group sequences (each thread at most 4 rows; a warp within one row lane: split >= 2 units),
// `mats` products a step; false where none holds the group.
bool choose_split(PersistentTiling* p, int mats, int max_units) {
  double best = 0;
  p->split = 0;
  const int values = scatter_values(max_units);
  for (int split = 2; split <= kPersistentSlice; split *= 2) {
    for (int units = 1; units <= max_units && 2 * units <= split; units *= 2) {
      const int row_lanes = kPersistentThreads * units / (kPersistentSlice * split);
      const int rows = ceil_div(p->group, row_lanes);
      if (rows > kPersistentMaxRows) continue;
      // The gated forward: its fused gates (the backward chooses its own: choose_backward).
      const double cost = p->gates > 1
                              ? gated_forward_wavefronts(p->hidden, p->gates, split, rows)
                              : mats * persistent_wavefronts(p->hidden, split, rows, units, values);
      if (p->split == 0 || cost < best) {
        best = cost;
        p->split = split;
        p->units = units;
        p->scatter = reduction_shuffles(split, rows, units, values) <
                     reduction_shuffles(split, rows, units, 0);
        p->row_lanes = row_lanes;
        p->rows = rows;
      }
    }
  }
  return p->split != 0;
}

// The gated backward's products (over G*H terms, one mat) chosen as choose_split does with up to
// kGatedBackwardMaxUnits units a thread, into p's backward fields; false where none holds the
// group.
bool choose_backward(PersistentTiling* p) {
  PersistentTiling b = *p;
  b.hidden = p->gates * p->hidden;  // choose_split's terms: the backward's G*H
  b.gates = 1;
  if (!choose_split(&b, 1, kGatedBackwardMaxUnits)) return false;
  p->backward_split = b.split;
  p->backward_units = b.units;
  p->backward_row_lanes = b.row_lanes;
  p->backward_rows = b.rows;
  p->backward_scatter = b.scatter;
  return true;
}

}  // namespace

const char* design_name(Design d) {
  switch (d) {
    case Design::kPersistent:
      return "persistent";
    case Design::kCluster:
      return "cluster";
    case Design::kSegment:
      break;
  }
  return "segment";
}

bool cluster_tiling(int batch, int hidden, const GpuLimits& gpu, ClusterTiling* out, int planes) {
  if (batch < 1 || hidden < 1 || planes < 1 || !gpu.clusters || gpu.sms < 1) return false;
  ClusterTiling c;
  PersistentTiling& p = c.tile;
  p.hidden = hidden;
  p.slices = ceil_div(hidden, kPersistentSlice);
  c.subs = ceil_div(p.slices, kClusterMaxBlocks);
  if (c.subs > kClusterMaxSubs) return false;
  c.cluster = ceil_div(p.slices, c.subs);
  // As many groups as the GPU holds clusters at once (one block an SM), at most 32 sequences each.
  const int resident = std::max(1, gpu.resident_clusters[c.cluster] / planes);
  // Where a group's buffers do not fit (wide H, many sequences), smaller groups in more waves.
  const int groups = std::clamp(resident, 1, batch);
  for (int group = std::min(ceil_div(batch, groups), kClusterMaxRows); group >= 1;
       group = group == 1 ? 0 : ceil_div(group, 2)) {
    p.group = group;
    p.groups = ceil_div(batch, p.group);
    if (!choose_split(&p, c.subs, kClusterMaxUnits)) continue;
    const std::size_t smem =
        std::max(c.smem_forward_bytes(), c.smem_backward_bytes()) + kMappingStaticBytes;
    if (smem <= gpu.smem_per_block) {
      *out = c;
      return true;
    }
  }
  return false;
}

GpuLimits current_gpu_limits() {
  int device = 0, sms = 0, optin = 0, per_sm = 0, coop = 0;
  RNNATTN_CUDA_CHECK(cudaGetDevice(&device));
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  RNNATTN_CUDA_CHECK(
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  RNNATTN_CUDA_CHECK(
      cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device));
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, device));
  int clusters = 0;
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&clusters, cudaDevAttrClusterLaunch, device));
  GpuLimits g;
  g.sms = sms;
  g.smem_per_block = static_cast<std::size_t>(optin);
  g.smem_per_sm = static_cast<std::size_t>(per_sm);
  g.cooperative = coop != 0;
  g.clusters = clusters != 0;
  for (int n = 1; n <= kClusterMaxBlocks; ++n) {
    g.resident_clusters[n] = g.clusters ? max_resident_clusters(n) : 0;
  }
  g.clusters = g.clusters && g.resident_clusters[1] > 0;
  return g;
}

bool persistent_tiling(int batch, int hidden, const GpuLimits& gpu, PersistentTiling* out,
                       int gates) {
  if (batch < 1 || hidden < 1 || gates < 1 || !gpu.cooperative || gpu.sms < 1) return false;
  PersistentTiling p;
  p.hidden = hidden;
  p.gates = gates;
  p.slices = ceil_div(hidden, kPersistentSlice);
  // One block per SM where the batch allows: the slices of every group spread over the SMs.
  int groups = std::clamp(gpu.sms / p.slices, 1, batch);
  p.group = ceil_div(batch, groups);
  const int max_group = kPersistentMaxRows * (kPersistentSlice / 2);  // split 2: 8 row lanes
  p.group = std::min(p.group, max_group);
  p.groups = ceil_div(batch, p.group);
  if (!choose_split(&p, 1, p.max_units(gpu.sms))) return false;
  if (gates > 1 && !choose_backward(&p)) return false;
  // The kernels' static arrays (the group's sequences and lengths) count too.
  const std::size_t smem =
      std::max(p.smem_forward_bytes(), p.smem_backward_bytes()) + kMappingStaticBytes;
  if (smem > gpu.smem_per_block) return false;
  const int per_sm = persistent_blocks_per_sm(p, smem, gpu);
  if (per_sm < 1 || p.blocks() > per_sm * gpu.sms) return false;  // not co-resident
  *out = p;
  return true;
}

RecurrencePlan plan_recurrence(int batch, int hidden, const GpuLimits& gpu) {
  RecurrencePlan r;
  r.segment_us = segment_step_us(batch, hidden, 1, gpu);
  double best = r.segment_us;
  r.persistent_possible = persistent_tiling(batch, hidden, gpu, &r.tiling);
  if (r.persistent_possible) {
    r.persistent_us = persistent_step_us(r.tiling, gpu);
    if (r.persistent_us < best) best = r.persistent_us, r.design = Design::kPersistent;
  }
  r.cluster_possible = cluster_tiling(batch, hidden, gpu, &r.cluster_tiling);
  if (r.cluster_possible) {
    r.cluster_us = cluster_step_us(r.cluster_tiling, gpu);
    if (r.cluster_us < best) best = r.cluster_us, r.design = Design::kCluster;
  }
  r.persistent = r.design == Design::kPersistent;
  return r;
}

RecurrencePlan plan_layer(int batch, int hidden, int directions, const GpuLimits& gpu) {
  RecurrencePlan r;
  r.segment_us = segment_step_us(batch * directions, hidden, 1, gpu);
  double best = r.segment_us;
  r.persistent_possible = persistent_tiling(batch, hidden, gpu, &r.tiling);
  if (r.persistent_possible) {
    // The directions in one grid where it is co-resident (the launcher asks the GPU the same):
    // a grid of at most one block an SM runs the kernels' one-block-an-SM variant, so the planes
    // share the SMs only where they fit one block an SM; else a direction at a time.
    const PersistentTiling& p = r.tiling;
    const std::size_t smem =
        std::max(p.smem_forward_bytes(), p.smem_backward_bytes()) + kMappingStaticBytes;
    const int per_sm = p.blocks() <= gpu.sms ? 1 : persistent_blocks_per_sm(p, smem, gpu);
    r.persistent_us = directions > 1 && directions * p.blocks() <= per_sm * gpu.sms
                          ? persistent_step_us(p, gpu, directions)
                          : directions * persistent_step_us(p, gpu);
    if (r.persistent_us < best) best = r.persistent_us, r.design = Design::kPersistent;
  }
  r.cluster_possible = cluster_tiling(batch, hidden, gpu, &r.cluster_tiling, directions);
  if (r.cluster_possible) {
    r.cluster_us = cluster_step_us(r.cluster_tiling, gpu, directions);
    if (r.cluster_us < best) best = r.cluster_us, r.design = Design::kCluster;
  }
  r.persistent = r.design == Design::kPersistent;
  return r;
}

std::string RecurrencePlan::describe() const {
  char persistent_text[224], cluster_text[224], buf[608];
  if (persistent_possible) {
    std::snprintf(persistent_text, sizeof persistent_text,
                  "persistent %.3g us/step on %d blocks = %d slices x %d groups of %d, split %d x "
                  "%d units a thread%s",
                  persistent_us, tiling.blocks(), tiling.slices, tiling.groups, tiling.group,
                  tiling.split, tiling.units, tiling.scatter ? ", reduce-scatter" : "");
  } else {
    std::snprintf(persistent_text, sizeof persistent_text, "persistent not possible here");
  }
  const ClusterTiling& c = cluster_tiling;
  if (cluster_possible) {
    std::snprintf(cluster_text, sizeof cluster_text,
                  "cluster %.3g us/step on %d clusters of %d blocks x %d slices, groups of %d, "
                  "split %d x %d units a thread%s",
                  cluster_us, c.clusters(), c.cluster, c.subs, c.tile.group, c.tile.split,
                  c.tile.units, c.tile.scatter ? ", reduce-scatter" : "");
  } else {
    std::snprintf(cluster_text, sizeof cluster_text, "cluster not possible here");
  }
  std::snprintf(buf, sizeof buf, "%s (model: segment %.3g us/step, %s, %s)", design_name(design),
                segment_us, persistent_text, cluster_text);
  return buf;
}

GatedPlan plan_gated(int batch, int hidden, int gates, const GpuLimits& gpu, int directions) {
  GatedPlan r;
  r.gates = gates;
  r.directions = directions;
  const SegmentGeometry g = segment_geometry(hidden, batch);
  r.forward_wh_in_smem =
      segment_smem_bytes(g, hidden, gates, false, true, false) <= gpu.smem_per_block;
  r.backward_wh_in_smem =
      segment_smem_bytes(g, hidden, gates, true, true, false) <= gpu.smem_per_block;
  r.segment_us = segment_step_us(batch, hidden, gates, gpu);
  // The segment kernels run every direction in one launch, over directions x B sequences.
  r.segment_all_us =
      directions == 1 ? r.segment_us : segment_step_us(batch * directions, hidden, gates, gpu);
  r.persistent_possible = persistent_tiling(batch, hidden, gpu, &r.tiling, gates);
  if (r.persistent_possible) {
    const PersistentTiling& p = r.tiling;
    r.persistent_us = persistent_step_us(p, gpu);
    // All directions in one grid where it is co-resident (rnn_persistent.cu's launcher
    // asks the GPU the same), else a direction at a time.
    const auto planes_fit = [&](std::size_t smem) {
      return directions > 1 &&
             directions * p.blocks() <= persistent_blocks_per_sm(p, smem, gpu) * gpu.sms;
    };
    r.forward_planes = planes_fit(p.smem_forward_bytes());
    r.backward_planes = planes_fit(p.smem_backward_bytes());
    // The backward's rows of G*H values in pieces, where that lets the directions share a grid
    // and the model predicts it faster than one direction at a time (the notebook's LSTM: ~134 KB
    // a block whole, ~102 KB in 2 pieces).
    for (int pieces = 2; directions > 1 && !r.backward_planes && pieces <= 4; pieces *= 2) {
      PersistentTiling q = p;
      q.pieces = pieces;
      if (planes_fit(q.smem_backward_bytes()) &&
          persistent_step_us(q, gpu, directions, true) <
              directions * persistent_step_us(p, gpu, 1, true)) {
        r.tiling.pieces = pieces;
        r.backward_planes = true;
      }
    }
    r.persistent_backward_us = persistent_step_us(p, gpu, 1, true);
    r.persistent_all_us =
        r.forward_planes ? persistent_step_us(p, gpu, directions) : directions * r.persistent_us;
    r.persistent_backward_all_us = r.backward_planes ? persistent_step_us(p, gpu, directions, true)
                                                     : directions * r.persistent_backward_us;
    r.persistent = r.persistent_all_us < r.segment_all_us;
  }
  return r;
}

namespace {
constexpr double kGemmTflops = 50;  // cuBLAS SGEMM, FP32 without TF32, H100 SXM: an estimate
constexpr double kLaunchUs = 3;     // a launch's cost on the stream, GEMM or kernel: an estimate

double gemm_ms(double m, double n, double k) {
  return 2 * m * n * k / (kGemmTflops * 1e9) + kLaunchUs * 1e-3;
}

// One step of a (layer, both directions) block: the design the device API picks; `backward`:
// the backward's step (the gated persistent kernels' own; else charged as the forward's).
double block_step_us(const PassShape& s, const GpuLimits& gpu, bool backward = false) {
  if (s.gates > 1) {
    const GatedPlan p = plan_gated(s.batch, s.hidden, s.gates, gpu, s.directions);
    if (!p.persistent) return p.segment_all_us;
    return backward ? p.persistent_backward_all_us : p.persistent_all_us;
  }
  if (s.layers == 1 && s.directions == 1) {
    const RecurrencePlan p = plan_recurrence(s.batch, s.hidden, gpu);
    return p.design == Design::kPersistent ? p.persistent_us
           : p.design == Design::kCluster  ? p.cluster_us
                                           : p.segment_us;
  }
  const RecurrencePlan p = plan_layer(s.batch, s.hidden, s.directions, gpu);
  return p.design == Design::kPersistent ? p.persistent_us
         : p.design == Design::kCluster  ? p.cluster_us
                                         : p.segment_us;
}
}  // namespace

PassPrediction predict_passes(const PassShape& s, const GpuLimits& gpu) {
  PassPrediction r;
  const double rows = static_cast<double>(s.batch) * s.steps;  // B*T
  const double gh = static_cast<double>(s.gates) * s.hidden;
  const double step_ms = block_step_us(s, gpu) * 1e-3;
  const double backward_step_ms = block_step_us(s, gpu, true) * 1e-3;
  double backward_ms = 0;
  for (int l = 0; l < s.layers; ++l) {
    const double in = l == 0 ? s.input : static_cast<double>(s.directions) * s.hidden;
    const double projection = s.directions * gemm_ms(rows, gh, in);
    r.gemm_ms += projection;
    r.recurrence_ms += s.steps * step_ms;
    backward_ms +=
        s.steps * backward_step_ms + s.directions * (gemm_ms(in, gh, rows) +        // dWx
                                                     gemm_ms(s.hidden, gh, rows));  // dWh
    if (l > 0) backward_ms += s.directions * gemm_ms(rows, in, gh);  // the input's gradient
  }
  r.forward_ms = r.recurrence_ms + r.gemm_ms;
  r.training_ms = r.forward_ms + backward_ms;
  return r;
}

std::string GatedPlan::describe() const {
  char buf[640], alt[320], all[96];
  const auto planes = [](bool one_grid) { return one_grid ? "in one grid" : "one at a time"; };
  if (persistent_possible) {
    const PersistentTiling b = tiling.for_backward();
    std::snprintf(alt, sizeof alt,
                  "persistent %.3g us/step (backward %.3g) on %d blocks = %d slices x %d groups of "
                  "%d, split %d (backward %d x %d units a thread%s)",
                  persistent_us, persistent_backward_us, tiling.blocks(), tiling.slices,
                  tiling.groups, tiling.group, tiling.split, b.split, b.units,
                  b.scatter ? ", reduce-scatter" : "");
    if (directions > 1) {
      const std::size_t n = std::strlen(alt);
      std::snprintf(
          alt + n, sizeof alt - n, "; %d directions: forward %.3g us/step %s, backward %.3g %s%s",
          directions, persistent_all_us, planes(forward_planes), persistent_backward_all_us,
          planes(backward_planes), tiling.pieces > 1 ? " (its rows staged in pieces)" : "");
    }
  } else {
    std::snprintf(alt, sizeof alt, "persistent not possible here");
  }
  all[0] = '\0';
  if (directions > 1) {
    std::snprintf(all, sizeof all, " (%d directions in one launch: %.3g)", directions,
                  segment_all_us);
  }
  std::snprintf(buf, sizeof buf,
                "%s (model: segment, %d columns of Wh a thread, %.3g us/step%s, Wh [H,%dH] in %s "
                "in the forward, %s in the backward; %s)",
                persistent ? "persistent" : "segment", gates, segment_us, all, gates,
                forward_wh_in_smem ? "shared memory" : "L2",
                backward_wh_in_smem ? "shared memory" : "L2", alt);
  return buf;
}

}  // namespace rnnattn::cuda
