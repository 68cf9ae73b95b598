// The cluster design (sm_90): the whole-GPU mapping (whole_gpu.cuh) over thread-block
// clusters, the grid barrier of the persistent design replaced by a cluster's (Diamos et al.'s
// persistent RNN scoped to a cluster): the Elman cell's blocks of stacked and bidirectional
// models, and a one-layer, one-direction model with the attention and head inside. The
// launchers, the clusters a GPU holds, and the sequences' order by length.
#include <cuda_runtime.h>

#include <string>

#include "cells.cuh"
#include "cuda_compat.cuh"
#include "cuda_utils.hpp"
#include "device_common.cuh"
#include "kernels.hpp"
#include "launch_rules.hpp"
#include "persistent_common.cuh"
#include "whole_gpu.cuh"

namespace rnnattn::kernels {
namespace {

// The blocks of one launch (1, or a bidirectional layer's 2 directions side by side along y):
// the Elman cell's (the gated cells' designs are the segment and the persistent ones), on a
// tiling for their H.
template <typename Args>
PersistentParams<Args> cluster_params(const Args* args, int count, const ClusterTiling& tiling,
                                      const int* order, const char* call) {
  const LayerSet<Args> set = layer_set(args, count, call);
  for (const Args* a : {&set.first, &set.second}) {
    if (a->cell != Cell::kElman)
      throw InvalidArgument(std::string(call) + ": the cluster kernels run the Elman cell only");
  }
  if (tiling.tile.hidden != set.first.hidden) {
    throw InvalidArgument(std::string(call) +
                          ": the tiling is for H = " + std::to_string(tiling.tile.hidden) +
                          ", not this block's H = " + std::to_string(set.first.hidden));
  }
  PersistentParams<Args> p{};
  p.dir[0] = set.first;
  p.dir[1] = set.second;
  p.order = order;
  return p;
}

// Launches one of the kernels in clusters of tiling.cluster blocks, or returns false where this
// GPU cannot (no clusters, too little shared memory, a cluster that fits no GPC).
template <auto Kernel, typename Args>
bool launch_cluster_kernel(const char* name, const ClusterTiling& tiling, std::size_t smem,
                           cudaStream_t stream, const PersistentParams<Args>& p, int planes = 1) {
  int device = 0, clusters = 0;
  RNNATTN_CUDA_CHECK(cudaGetDevice(&device));
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&clusters, cudaDevAttrClusterLaunch, device));
  if (!clusters) {
    note_design_fallback(name, "this GPU has no thread-block clusters");
    return false;
  }
  // The kernels' static arrays (kMappingStaticBytes) count against the same opt-in maximum.
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
                           dim3(kPersistentThreads), smem, stream, p, geometry_of(tiling.tile),
                           tiling.subs);
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

bool cluster_forward(const CellForwardArgs* args, int count, const ClusterTiling& tiling,
                     const int* order, cudaStream_t stream) {
  const auto p = cluster_params(args, count, tiling, order, "cluster_forward");
  if (!p.dir[0].out || !p.dir[1].out) throw InvalidArgument("cluster_forward: out is null");
  if (args[0].batch < 1) return false;
  return launch_cluster_kernel<persistent_forward_kernel<Cell::kElman, ClusterWide, false>>(
      "cluster_forward_kernel<elman>", tiling, tiling.smem_layer_bytes(), stream, p, count);
}

bool cluster_backward(const CellBackwardArgs* args, int count, const ClusterTiling& tiling,
                      const int* order, cudaStream_t stream) {
  const auto p = cluster_params(args, count, tiling, order, "cluster_backward");
  if (args[0].batch < 1) return false;
  return launch_cluster_kernel<persistent_backward_kernel<Cell::kElman, ClusterWide, false>>(
      "cluster_backward_kernel<elman>", tiling, tiling.smem_layer_bytes(), stream, p, count);
}

bool cluster_forward_with_head(const CellForwardArgs& a, const AttentionHeadArgs& head,
                               const ClusterTiling& tiling, const int* order, cudaStream_t stream) {
  check_head(a, head, "cluster_forward_with_head");
  auto p = cluster_params(&a, 1, tiling, order, "cluster_forward_with_head");
  p.head = head;
  if (!head.y) throw InvalidArgument("cluster_forward_with_head: head.y is null");
  if (a.batch < 1) return false;
  return launch_cluster_kernel<persistent_forward_kernel<Cell::kElman, ClusterWide, true>>(
      "cluster_forward_kernel<elman, head>", tiling, tiling.smem_forward_bytes(), stream, p);
}

bool cluster_backward_with_head(const CellBackwardArgs& a, const AttentionHeadArgs& head,
                                const ClusterTiling& tiling, const int* order,
                                cudaStream_t stream) {
  check_head(a, head, "cluster_backward_with_head");
  auto p = cluster_params(&a, 1, tiling, order, "cluster_backward_with_head");
  p.head = head;
  if (!head.dy || !head.prediction || !head.dpre || (head.shape.attention && !head.du))
    throw InvalidArgument("cluster_backward_with_head: head.dy, prediction, dpre or du is null");
  if (a.batch < 1) return false;
  return launch_cluster_kernel<persistent_backward_kernel<Cell::kElman, ClusterWide, true>>(
      "cluster_backward_kernel<elman, head>", tiling, tiling.smem_backward_bytes(), stream, p);
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
  return resident_clusters<persistent_forward_kernel<Cell::kElman, ClusterWide, true>>(cluster);
}

std::vector<ClusterOccupancy> cluster_occupancy() {
  using Cw = ClusterWide;
  return {occupancy_of<persistent_forward_kernel<Cell::kElman, Cw, true>>(
              "cluster_forward_kernel<elman, head>"),
          occupancy_of<persistent_backward_kernel<Cell::kElman, Cw, true>>(
              "cluster_backward_kernel<elman, head>"),
          occupancy_of<persistent_forward_kernel<Cell::kElman, Cw, false>>(
              "cluster_forward_kernel<elman>"),
          occupancy_of<persistent_backward_kernel<Cell::kElman, Cw, false>>(
              "cluster_backward_kernel<elman>")};
}

void length_order(const int* lengths, int batch, int steps, int* order, cudaStream_t stream) {
  launch_kernel<length_order_kernel>("length_order_kernel", dim3(blocks_for(batch, kOrderThreads)),
                                     dim3(kOrderThreads), 0, stream, lengths, batch, steps, order);
}

}  // namespace rnnattn::kernels
