// What the persistent forward and backward kernels share (internal): the tiling's device view,
// each thread's role, the Wh slice held in shared memory, and the split dot products of a step.
//
// Block (s, g) of a persistent grid owns hidden units j in [16s, 16s + 16) for the sequences of
// batch group g (plan.hpp). Its 256 threads are `split` lanes x 16 / `units` unit lanes x
// `row_lanes` rows: thread (kk, jj, rq) adds the chunks of 4 terms c = kk, kk + split, ... (terms
// 4c .. 4c + 3) of the dot products of units jj, jj + 16 / units, ... (`units` of them: register
// tiling, each staged word read feeds `units` FMAs) for the group's sequences rq, rq + row_lanes,
// ... (at most 4), and the `split` lanes of a dot product (consecutive lanes of one warp) sum their
// parts with shuffles. A warp covers one row lane (split >= 2 units): per chunk its lanes read
// `split` consecutive float4s of a staged row (shared by the unit lanes) and, per unit, one float4
// of each of 32 / split unit lanes x split parts of the Wh slice (every bank equally by the
// slice's layout).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_compat.cuh"
#include "device_common.cuh"
#include "launch_rules.hpp"
#include "tiling.hpp"

namespace rnnattn::kernels {

// The tiling as the kernels see it (plain ints; plan.hpp's PersistentTiling is host code).
struct PersistentGeometry {
  int hidden;     // H: the units (columns of a slice)
  int inner;      // the dot products' length: H, or G*H in the gated backward (rows of a slice)
  int hpad;       // inner rounded up to a multiple of split: a staged row's length
  int slices;     // ceil(H / 16)
  int groups;     // batch groups
  int group;      // sequences per group
  int split;      // lanes per dot product
  int units;      // units a thread (register tiling)
  bool scatter;   // sum the split lanes' parts with a reduce-scatter (staged_products)
  int row_lanes;  // 16 units / split
  int rows;       // sequences per thread (<= 4)
  int staged;     // rows * row_lanes: rows of the staging buffer (>= group, zero past it)
  int wh_part;    // floats of one part of the Wh slice
  int piece;      // the gated backward's staged piece of a row (a multiple of split x 4; hpad)
};

// The kernels' view of the tiling for dot products over `inner` terms (0: H).
inline PersistentGeometry geometry_of(const PersistentTiling& p, int inner = 0) {
  PersistentGeometry g{};
  g.hidden = p.hidden;
  g.inner = inner > 0 ? inner : p.hidden;
  g.hpad = p.padded(g.inner);
  g.slices = p.slices;
  g.groups = p.groups;
  g.group = p.group;
  g.split = p.split;
  g.units = p.units;
  g.scatter = p.scatter;
  g.row_lanes = p.row_lanes;
  g.rows = p.rows;
  g.staged = p.rows * p.row_lanes;
  g.wh_part = static_cast<int>(p.wh_part_floats(g.inner));
  g.piece = p.piece(g.inner);
  return g;
}

struct TileThread {
  int kk;     // lane within the dot product
  int jj;     // first unit within the slice (then jj + 16 / units, ...)
  int rq;     // row lane
  int slice;  // blockIdx.x % slices
  int b0;     // first sequence of the group (blockIdx.x / slices)
};

// The thread's lanes in the split dot products (slice and b0 left to the caller).
__device__ __forceinline__ TileThread tile_lanes(const PersistentGeometry& g) {
  const int unit_lanes = kPersistentSlice / g.units;
  TileThread t;
  t.kk = threadIdx.x % g.split;
  t.jj = (threadIdx.x / g.split) % unit_lanes;
  t.rq = threadIdx.x / (g.split * unit_lanes);
  t.slice = 0;
  t.b0 = 0;
  return t;
}

// Block `block` of the grid (by default blockIdx.x; a grid of several planes, such as both
// directions of a bidirectional layer, passes the block's index within its plane).
__device__ __forceinline__ TileThread tile_thread(const PersistentGeometry& g,
                                                  int block = static_cast<int>(blockIdx.x)) {
  TileThread t = tile_lanes(g);
  t.slice = block % g.slices;
  t.b0 = block / g.slices * g.group;
  return t;
}

// The block's (sequence, unit) pair i, for the loops with one thread per pair: row bb = i / 16 of
// the group (sequence b0 + bb) and unit j = 16 slice + i % 16; `valid` where both exist.
struct TilePair {
  int bb, b, j;
  bool valid;
};

__device__ __forceinline__ TilePair tile_pair(const PersistentGeometry& g, const TileThread& th,
                                              int group_end, int i) {
  TilePair p;
  p.bb = i / kPersistentSlice;
  p.b = th.b0 + p.bb;
  p.j = th.slice * kPersistentSlice + i % kPersistentSlice;
  p.valid = p.b < group_end && p.j < g.hidden;
  return p;
}

// Index of M[k][16 s + jj] in the block's slice: chunk c = k / 4 in part c % split, chunk row
// c / split, then unit jj's 4 terms (k % 4 among them).
__device__ __forceinline__ int slice_index(const PersistentGeometry& g, int k, int jj) {
  const int c = k / kPersistentChunk;
  return (c % g.split) * g.wh_part + ((c / g.split) * kPersistentSlice + jj) * kPersistentChunk +
         k % kPersistentChunk;
}

// Loads the block's column slice of the inner x H matrix at m (element (k, j) at m[k * ld + j]:
// Wh or one gate's columns of it for the forward, Wh^T for the backward), zero for k past inner
// or j past H. Reads 16 consecutive words per row (coalesced).
__device__ __forceinline__ void load_slice(const PersistentGeometry& g, int slice, const float* m,
                                           int ld, float* wh_s) {
  for (int i = threadIdx.x; i < g.hpad * kPersistentSlice; i += blockDim.x) {
    const int k = i / kPersistentSlice, jj = i % kPersistentSlice;
    const int j = slice * kPersistentSlice + jj;
    wh_s[slice_index(g, k, jj)] =
        (k < g.inner && j < g.hidden) ? m[static_cast<std::size_t>(k) * ld + j] : 0.f;
  }
}

// Loads a thread keeps in flight while staging (memory-level parallelism): a chunk's loads all go
// out before the first of them is stored, so a step's staging costs ~one L2 round trip per chunk
// rather than one per element. (Written as one loop of load-then-store, the compiler issues a load,
// waits for it and stores it before the next load: the store to shared memory through a generic
// pointer might alias src.) 16: B128 H256's whole staging (16 elements a thread) in one chunk.
// A kernel whose registers cannot hold them (the Elman forward at 4 blocks an SM, 64 registers)
// passes fewer.
constexpr int kStageInFlight = 16;

// Stages rows [b0, b0 + staged) of a [B, rows of `stride` floats] tensor (row b at src + b *
// stride, `inner` values) into rows_s [staged][hpad]; rows past the group or the batch and
// columns past inner are zero. src null: all zero (h_0). Where every row starts on 16 bytes
// (inner, stride and src multiples of 4 floats; then hpad is one too) it moves 16-byte float4s,
// VecInFlight of them in flight a thread (by default the bytes of InFlight floats: the same
// registers), a quarter of the loads: B32 H1024's 64 floats a thread are 16 loads, one chunk.
template <int InFlight = kStageInFlight, int VecInFlight = (InFlight >= 4 ? InFlight / 4 : 1)>
__device__ __forceinline__ void stage_rows(const PersistentGeometry& g, int b0, int group_end,
                                           const float* src, std::size_t stride, float* rows_s) {
  const int step = static_cast<int>(blockDim.x);
  // Uniform across the block: every thread takes the same path.
  if (g.inner % 4 == 0 && stride % 4 == 0 && reinterpret_cast<std::uintptr_t>(src) % 16 == 0 &&
      reinterpret_cast<std::uintptr_t>(rows_s) % 16 == 0) {
    const int quads = g.hpad / 4;  // a staged row in float4s (hpad % 4 == 0: split | hpad)
    const int total = g.staged * quads;
    for (int base = threadIdx.x; base < total; base += VecInFlight * step) {
      const float4* p[VecInFlight];
      RNNATTN_UNROLL
      for (int u = 0; u < VecInFlight; ++u) {
        const int i = base + u * step;
        const int r = i / quads, k = (i - r * quads) * 4, b = b0 + r;
        // __ldcg: as below; k < inner covers the whole float4 (inner % 4 == 0).
        p[u] = (src && i < total && b < group_end && k < g.inner)
                   ? reinterpret_cast<const float4*>(src + static_cast<std::size_t>(b) * stride + k)
                   : nullptr;
      }
      float4 v[VecInFlight];
      RNNATTN_UNROLL
      for (int u = 0; u < VecInFlight; ++u) {
        v[u] = p[u] ? __ldcg(p[u]) : make_float4(0.f, 0.f, 0.f, 0.f);
      }
      RNNATTN_UNROLL
      for (int u = 0; u < VecInFlight; ++u) {
        const int i = base + u * step;
        if (i < total) reinterpret_cast<float4*>(rows_s)[i] = v[u];
      }
    }
    return;
  }
  const int total = g.staged * g.hpad;
  for (int base = threadIdx.x; base < total; base += InFlight * step) {
    float v[InFlight];
    RNNATTN_UNROLL
    for (int u = 0; u < InFlight; ++u) {
      const int i = base + u * step;
      const int r = i / g.hpad, k = i - r * g.hpad, b = b0 + r;
      // __ldcg: the rows were written by other blocks before the grid barrier; read them from
      // L2 (strong at GPU scope), not through L1, where nothing of them is ever reused.
      v[u] = (src && i < total && b < group_end && k < g.inner)
                 ? __ldcg(src + static_cast<std::size_t>(b) * stride + k)
                 : 0.f;
    }
    RNNATTN_UNROLL
    for (int u = 0; u < InFlight; ++u) {
      const int i = base + u * step;
      if (i < total) rows_s[i] = v[u];
    }
  }
}

// z_s[bb * 16 + jj] = (row b0 + bb of src) . (column jj of the slice) for the group's rows: the
// rows are staged in rows_s (stage_rows), each dot product split over `split` lanes (thread
// (kk, jj, rq) adds the chunks c = kk, kk + split, ... for its units and rows rq, rq + row_lanes,
// ...) and summed with shuffles. With `mats` slices one after another in wh_s (split * wh_part
// floats each; the gated forward's G gates), the products with slice m go to z_s + m * staged *
// 16, over one staging of the rows (InFlight / VecInFlight loads a thread in flight: stage_rows).
// Every thread of the block calls it; it begins and ends with a __syncthreads, so rows_s and z_s
// may be rewritten by the caller before and read after. MaxUnits, FusedMats: staged_products's.
template <int InFlight = kStageInFlight, int MaxUnits = kPersistentMaxUnits,
          int VecInFlight = (InFlight >= 4 ? InFlight / 4 : 1), bool FusedMats = false>
__device__ __forceinline__ void slice_products(const PersistentGeometry& g, const TileThread& th,
                                               int group_end, const float* src, std::size_t stride,
                                               const float* wh_s, float* rows_s, float* z_s,
                                               int mats = 1);

// Sums each of the N values a[] over the `split` lanes of a dot product (consecutive lanes of a
// warp, the lanes' bit `o` first, then 2 o, ...), leaving lane kk the sums of N / split of them:
// a reduce-scatter, N / 2 + N / 4 + ... shuffles where a butterfly over every value takes
// N log2(split). store(v, sum) receives value v's sum (v = base + position, in a's numbering) in
// the one lane that holds it.
template <int N, typename Store>
__device__ __forceinline__ void reduce_scatter(const float (&a)[N], int o, int split, int kk,
                                               int base, const Store& store) {
  if constexpr (N == 1) {
    store(base, a[0]);
  } else {
    if (o >= split) {  // uniform: every lane of the warp stops at the same stage
      RNNATTN_UNROLL
      for (int i = 0; i < N; ++i) store(base + i, a[i]);
      return;
    }
    // Lane pairs (kk, kk ^ o): the lane with the bit set keeps the upper half, its partner the
    // lower one; each sends the half it gives away.
    const bool upper = (kk & o) != 0;
    float b[N / 2];
    RNNATTN_UNROLL
    for (int i = 0; i < N / 2; ++i) {
      const float send = upper ? a[i] : a[i + N / 2];
      const float keep = upper ? a[i + N / 2] : a[i];
      b[i] = keep + __shfl_xor_sync(0xffffffffu, send, o, split);
    }
    reduce_scatter<N / 2>(b, 2 * o, split, kk, base + (upper ? N / 2 : 0), store);
  }
}

// The products of slice_products over rows already in shared memory (rows_s [staged][hpad], zero
// past the group and past inner; like wh_s, 16-byte aligned: every kernel lays its row buffers
// out after its slices, both multiples of 4 floats): the cluster kernels' rows arrive there from
// the cluster's blocks. No barrier: the caller orders rows_s's writes before and z_s's reads after.
// MaxUnits bounds g.units (the registers of the accumulators: MaxUnits x 4). The split lanes' parts
// are summed with a butterfly of shuffles over each (unit, row), or where the tiling says so
// (g.scatter, MaxUnits > 1) with one reduce-scatter over all MaxUnits x 4 accumulators.
// FusedMats (the gated forward's G gates): the `mats` (<= MaxUnits) slices take the
// place of the units (g.units must be 1): per chunk a thread reads one float4 of each staged row
// once for every mat, so a warp's shared-memory reads a chunk are mats x 4 + rows wavefronts
// instead of mats x (4 + rows); the sums always go through the reduce-scatter.
// Accumulate: add the sums to z_s (a later piece of the rows: piece_products).
template <int MaxUnits = kPersistentMaxUnits, bool FusedMats = false>
__device__ __forceinline__ void staged_products(const PersistentGeometry& g, const TileThread& th,
                                                const float* wh_s, const float* rows_s, float* z_s,
                                                int mats, bool accumulate = false) {
  constexpr int kValues = MaxUnits * kPersistentMaxRows;  // accumulator (u, r) at u * 4 + r
  // Known at compile time where MaxUnits is 1; fused, the mats are the "units".
  const int units = FusedMats ? mats : MaxUnits == 1 ? 1 : g.units;
  const int n = g.hpad / (g.split * kPersistentChunk);  // chunks a lane adds
  const int unit_lanes = FusedMats ? kPersistentSlice : kPersistentSlice / units;
  // Chunk c = kk + i split: terms 4c .. 4c + 3, one float4 of each staged row and of each unit's
  // slice column (slice_index), added in term order.
  const float4* rows4 = reinterpret_cast<const float4*>(rows_s);
  const int row4 = g.hpad / kPersistentChunk;  // a staged row in float4s
  // Where a unit's float4 u of a chunk is: the next unit lane's column of the same slice, or
  // (fused) the same column of the next mat's slice.
  const int unit_stride = FusedMats ? g.split * g.wh_part / kPersistentChunk : unit_lanes;
  for (int m = 0; m < (FusedMats ? 1 : mats); ++m) {
    const float4* w_m = reinterpret_cast<const float4*>(
        wh_s + (static_cast<std::size_t>(m) * g.split + th.kk) * g.wh_part);
    float acc[kValues] = {};
    for (int i = 0; i < n; ++i) {
      const int c = th.kk + i * g.split;
      const float4* w_row = w_m + i * kPersistentSlice + th.jj;
      float4 w[MaxUnits];
      RNNATTN_UNROLL
      for (int u = 0; u < MaxUnits; ++u) {
        w[u] = u < units ? w_row[u * unit_stride] : make_float4(0.f, 0.f, 0.f, 0.f);
      }
      RNNATTN_UNROLL
      for (int r = 0; r < kPersistentMaxRows; ++r) {
        if (r >= g.rows) continue;
        const float4 x = rows4[(th.rq + r * g.row_lanes) * row4 + c];
        RNNATTN_UNROLL
        for (int u = 0; u < MaxUnits; ++u) {
          if (u >= units) continue;
          float& a = acc[u * kPersistentMaxRows + r];
          a += x.x * w[u].x;
          a += x.y * w[u].y;
          a += x.z * w[u].z;
          a += x.w * w[u].w;
        }
      }
    }
    float* z_m = z_s + static_cast<std::size_t>(m) * g.staged * kPersistentSlice;
    // Value v's sum into z: row rq + r row_lanes, unit jj + u unit_lanes (fused: mat u's z).
    const auto store = [&](int v, float sum) {
      const int u = v / kPersistentMaxRows, r = v % kPersistentMaxRows;
      if (u < units && r < g.rows) {
        const int z_unit = FusedMats ? u * g.staged * kPersistentSlice : u * unit_lanes;
        float& z = z_m[(th.rq + r * g.row_lanes) * kPersistentSlice + th.jj + z_unit];
        z = accumulate ? z + sum : sum;
      }
    };
    if constexpr (MaxUnits > 1) {
      if (FusedMats || g.scatter) {
        reduce_scatter(acc, 1, g.split, th.kk, 0, store);
        continue;
      }
    }
    if constexpr (!FusedMats) {
      RNNATTN_UNROLL
      for (int v = 0; v < kValues; ++v) {
        if (v / kPersistentMaxRows >= units || v % kPersistentMaxRows >= g.rows) continue;
        // Uniform: every lane of the warp shuffles.
        const float sum = warp_sum(acc[v], g.split);
        if (th.kk == 0) store(v, sum);
      }
    }
  }
}

template <int InFlight, int MaxUnits, int VecInFlight, bool FusedMats>
__device__ __forceinline__ void slice_products(const PersistentGeometry& g, const TileThread& th,
                                               int group_end, const float* src, std::size_t stride,
                                               const float* wh_s, float* rows_s, float* z_s,
                                               int mats) {
  stage_rows<InFlight, VecInFlight>(g, th.b0, group_end, src, stride, rows_s);
  __syncthreads();
  staged_products<MaxUnits, FusedMats>(g, th, wh_s, rows_s, z_s, mats);
  __syncthreads();
}

// slice_products over rows of g.hpad terms staged g.piece at a time (the gated backward, whose
// rows of G*H values would otherwise take G times the forward's buffer): per piece, stage it
// into rows_s [staged][piece], barrier, the products of its chunks with the matching chunk rows
// of the slice added to z_s (pieces start on a multiple of split chunks, so chunk c of a piece is
// in the part of the row's chunk), barrier. One mat, MaxUnits as staged_products's.
template <int InFlight, int MaxUnits, int VecInFlight>
__device__ __forceinline__ void piece_products(const PersistentGeometry& g, const TileThread& th,
                                               int group_end, const float* src, std::size_t stride,
                                               const float* wh_s, float* rows_s, float* z_s) {
  for (int k0 = 0; k0 < g.hpad; k0 += g.piece) {
    PersistentGeometry gp = g;
    gp.hpad = g.hpad - k0 < g.piece ? g.hpad - k0 : g.piece;
    gp.inner = g.inner - k0 < gp.hpad ? (g.inner > k0 ? g.inner - k0 : 0) : gp.hpad;
    stage_rows<InFlight, VecInFlight>(gp, th.b0, group_end, src + k0, stride, rows_s);
    __syncthreads();
    // The piece's first chunk row of the slice: k0 / (4 split) rows of 16 units x 4 terms.
    const int offset = k0 / (g.split * kPersistentChunk) * kPersistentSlice * kPersistentChunk;
    staged_products<MaxUnits>(gp, th, wh_s + offset, rows_s, z_s, 1, k0 > 0);
    __syncthreads();
  }
}

// The dynamic shared memory to launch a persistent grid of `blocks` blocks with (at least
// `smem`, what the kernel uses), or 0 where the grid cannot be co-resident (a grid barrier needs
// every block resident). A grid of at most one block an SM asks for more than half an SM's shared
// memory, so that the block scheduler can never put two of its blocks on one SM: a doubled SM
// would run its two blocks' steps at half speed and every grid barrier waits for it.
template <auto Kernel>
std::size_t persistent_launch_smem(int blocks, std::size_t smem) {
  const int optin = allow_dynamic_shared<Kernel>();
  if (smem > static_cast<std::size_t>(optin)) return 0;
  int device = 0, sms = 0, per_sm = 0, smem_per_sm = 0, reserved = 0;
  RNNATTN_CUDA_CHECK(cudaGetDevice(&device));
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  RNNATTN_CUDA_CHECK(
      cudaDeviceGetAttribute(&smem_per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device));
  RNNATTN_CUDA_CHECK(
      cudaDeviceGetAttribute(&reserved, cudaDevAttrReservedSharedMemoryPerBlock, device));
  std::size_t launch = smem;
  if (blocks <= sms) {
    // Two blocks need 2 (launch + reserved) > smem_per_sm bytes.
    const std::size_t alone =
        static_cast<std::size_t>(smem_per_sm) / 2 - static_cast<std::size_t>(reserved) + 16;
    launch = std::min(std::max(smem, alone), static_cast<std::size_t>(optin));
  }
  RNNATTN_CUDA_CHECK(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, Kernel, kPersistentThreads, launch));
  return per_sm * sms >= blocks ? launch : 0;
}

// Launches a persistent kernel, or returns false where the GPU refuses (or refused before) the
// cooperative grid at launch time: the caller then runs the segment kernels.
template <auto Kernel, typename... Args>
bool launch_persistent(const char* name, int blocks, std::size_t smem, cudaStream_t stream,
                       Args&&... args) {
  if (cooperative_launch_refused(name, blocks)) return false;
  if (launch_cooperative_unless_refused<Kernel>(name, dim3(blocks), dim3(kPersistentThreads), smem,
                                                stream, std::forward<Args>(args)...)) {
    return true;
  }
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  RNNATTN_CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  record_cooperative_refusal(name, blocks, smem, capture != cudaStreamCaptureStatusNone);
  return false;
}

}  // namespace rnnattn::kernels
