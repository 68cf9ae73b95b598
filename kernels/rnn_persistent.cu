// The persistent design: the whole-GPU mapping (whole_gpu.cuh) over the grid, one cooperative
// launch that runs all T steps of one recurrent block with one grid-wide barrier per step
// (Diamos et al., 2016): the blocks of any cell in any model, and a one-layer, one-direction
// Elman model with the attention and head inside. The launchers.
// Limits: the grid must be co-resident (persistent_tiling() and a launch-time occupancy check;
// otherwise the launchers return false and the caller runs the segment kernels).
#include <cuda_runtime.h>

#include <string>

#include "cells.cuh"
#include "cuda_utils.hpp"
#include "kernels.hpp"
#include "persistent_common.cuh"
#include "whole_gpu.cuh"

namespace rnnattn::kernels {
namespace {

// ---- launchers ----

// Runs `count` planes (1 or 2 directions) of the kernel: in one grid where the GPU holds it
// co-resident, else one grid a direction; false where even that is refused.
template <auto Kernel, typename Args>
bool launch_planes(const char* name, PersistentParams<Args> p, const Args* args, int count,
                   const PersistentTiling& tiling, std::size_t bytes, const PersistentGeometry& g,
                   cudaStream_t stream) {
  if (count == 2) {
    const std::size_t smem = persistent_launch_smem<Kernel>(2 * tiling.blocks(), bytes);
    p.dir[0] = args[0];
    p.dir[1] = args[1];
    if (smem != 0 && launch_persistent<Kernel>(name, 2 * tiling.blocks(), smem, stream, p, g, 1)) {
      return true;
    }
  }
  const std::size_t smem = persistent_launch_smem<Kernel>(tiling.blocks(), bytes);
  if (smem == 0) return false;
  for (int d = 0; d < count; ++d) {
    p.dir[0] = p.dir[1] = args[d];
    // A refused launch is refused for every direction (same kernel and grid).
    if (!launch_persistent<Kernel>(name, tiling.blocks(), smem, stream, p, g, 1)) return false;
  }
  return true;
}

// One pass's kernel for cell kCell in variant V on `tiling` (the backward with its own products
// over G*H terms: PersistentTiling::for_backward); false where the tiling takes more units a
// thread than the variant has (a tiling made for another GPU's SM count) or the GPU refuses.
template <bool kBackward, Cell kCell, typename V, bool kHead, typename Args>
bool launch_kernel(const char* name, const PersistentParams<Args>& p, const Args* args, int count,
                   const PersistentTiling& tiling, cudaStream_t stream) {
  const PersistentTiling t = kBackward ? tiling.for_backward() : tiling;
  if (t.units > (kBackward ? V::kBackMaxUnits : V::kMaxUnits)) return false;
  const std::size_t bytes = kBackward ? tiling.smem_backward_bytes() : tiling.smem_forward_bytes();
  const PersistentGeometry g = geometry_of(t, kBackward ? gate_count(kCell) * args[0].hidden : 0);
  if constexpr (kBackward) {
    return launch_planes<persistent_backward_kernel<kCell, V, kHead>>(name, p, args, count, tiling,
                                                                      bytes, g, stream);
  } else {
    return launch_planes<persistent_forward_kernel<kCell, V, kHead>>(name, p, args, count, tiling,
                                                                     bytes, g, stream);
  }
}

// The Elman cell's kernels of one pass, `count` planes of the parameters' blocks: the variant by
// whether a direction's grid is at most one block an SM (launch_planes puts both directions in
// one grid only where that is co-resident too).
template <bool kBackward, bool kHead, typename Args>
bool launch_elman(const PersistentParams<Args>& p, int count, const PersistentTiling& tiling,
                  cudaStream_t stream) {
  int device = 0, sms = 0;
  RNNATTN_CUDA_CHECK(cudaGetDevice(&device));
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  // The kernels' names by pass, head and variant.
  const char* const names[2][2][2] = {
      {{"persistent_forward_kernel<elman>", "persistent_forward_kernel<elman, capped>"},
       {"persistent_forward_kernel<elman, head>",
        "persistent_forward_kernel<elman, head, capped>"}},
      {{"persistent_backward_kernel<elman>", "persistent_backward_kernel<elman, capped>"},
       {"persistent_backward_kernel<elman, head>",
        "persistent_backward_kernel<elman, head, capped>"}}};
  if (tiling.blocks() <= sms) {
    return launch_kernel<kBackward, Cell::kElman, ElmanWide, kHead>(names[kBackward][kHead][0], p,
                                                                    p.dir, count, tiling, stream);
  }
  return launch_kernel<kBackward, Cell::kElman, ElmanCapped, kHead>(names[kBackward][kHead][1], p,
                                                                    p.dir, count, tiling, stream);
}

// The blocks of any cell without the head for one pass, `count` directions.
template <bool kBackward, typename Args>
bool launch_blocks(const Args* args, int count, const PersistentTiling& tiling,
                   cudaStream_t stream) {
  PersistentParams<Args> p{};
  p.dir[0] = args[0];
  p.dir[1] = args[count - 1];
  switch (args[0].cell) {
    case Cell::kElman:
      return launch_elman<kBackward, false>(p, count, tiling, stream);
    case Cell::kLstm:
      return launch_kernel<kBackward, Cell::kLstm, Gated, false>(
          kBackward ? "persistent_backward_kernel<lstm>" : "persistent_forward_kernel<lstm>", p,
          args, count, tiling, stream);
    case Cell::kGru:
      break;
  }
  return launch_kernel<kBackward, Cell::kGru, Gated, false>(
      kBackward ? "persistent_backward_kernel<gru>" : "persistent_forward_kernel<gru>", p, args,
      count, tiling, stream);
}

void check_tiling(Cell cell, const PersistentTiling& tiling, int hidden, const char* call) {
  if (tiling.hidden != hidden || tiling.gates != gate_count(cell))
    throw InvalidArgument(
        std::string(call) + ": the tiling is for H = " + std::to_string(tiling.hidden) + " and " +
        std::to_string(tiling.gates) + " gates, not this block's H = " + std::to_string(hidden) +
        " and " + std::to_string(gate_count(cell)));
}

template <typename Args>
void check_blocks(const Args* args, int count, const PersistentTiling& tiling, const char* call) {
  if (count < 1 || count > 2)
    throw InvalidArgument(std::string(call) + ": count must be 1 or 2 (the directions), got " +
                          std::to_string(count));
  for (int d = 0; d < count; ++d) {
    if (args[d].cell != args[0].cell)
      throw InvalidArgument(std::string(call) + ": the blocks of one launch differ in cell");
    check_tiling(args[d].cell, tiling, args[d].hidden, call);
  }
}

template <typename Args>
void check_elman_head(const Args& a, const PersistentTiling& tiling, const char* call) {
  if (a.cell != Cell::kElman)
    throw InvalidArgument(std::string(call) + ": cell " + to_string(a.cell) +
                          " (the head runs inside the persistent kernels of the Elman cell only; "
                          "the gated cells' run attention_head_*)");
  check_tiling(a.cell, tiling, a.hidden, call);
}

}  // namespace

std::size_t persistent_scratch_floats(const Shape& s) {
  const std::size_t bh = static_cast<std::size_t>(s.batch) * s.hidden;
  const std::size_t slices = (s.hidden + kPersistentSlice - 1) / kPersistentSlice;
  // forward: hbuf, upart, ctx; backward: dL/dc fits in hbuf.
  return 2 * bh + 2 * static_cast<std::size_t>(s.batch) * slices + bh;
}

bool persistent_forward(const CellForwardArgs* args, int count, const PersistentTiling& tiling,
                        cudaStream_t stream) {
  check_blocks(args, count, tiling, "persistent_forward");
  for (int d = 0; d < count; ++d) {
    if (!args[d].out) throw InvalidArgument("persistent_forward: out is null (the steps stage it)");
  }
  if (args[0].batch < 1) return true;
  return launch_blocks<false>(args, count, tiling, stream);
}

bool persistent_backward(const CellBackwardArgs* args, int count, const PersistentTiling& tiling,
                         cudaStream_t stream) {
  check_blocks(args, count, tiling, "persistent_backward");
  if (args[0].batch < 1) return true;
  return launch_blocks<true>(args, count, tiling, stream);
}

bool persistent_forward_with_head(const CellForwardArgs& a, const AttentionHeadArgs& head,
                                  const PersistentTiling& tiling, float* scratch,
                                  cudaStream_t stream) {
  check_head(a, head, "persistent_forward_with_head");
  check_elman_head(a, tiling, "persistent_forward_with_head");
  if (!head.y) throw InvalidArgument("persistent_forward_with_head: head.y is null");
  if (!scratch) throw InvalidArgument("persistent_forward_with_head: scratch is null");
  if (a.batch < 1) return false;
  const std::size_t bh = static_cast<std::size_t>(a.batch) * a.hidden;
  PersistentParams<CellForwardArgs> p{{a, a}, head, nullptr, scratch, scratch + 2 * bh, nullptr};
  p.ctx = p.upart + 2 * static_cast<std::size_t>(a.batch) * tiling.slices;
  return launch_elman<false, true>(p, 1, tiling, stream);
}

bool persistent_backward_with_head(const CellBackwardArgs& a, const AttentionHeadArgs& head,
                                   const PersistentTiling& tiling, float* scratch,
                                   cudaStream_t stream) {
  check_head(a, head, "persistent_backward_with_head");
  check_elman_head(a, tiling, "persistent_backward_with_head");
  if (!head.dy || !head.prediction || !head.dpre || (head.shape.attention && !head.du))
    throw InvalidArgument("persistent_backward_with_head: head.dy, prediction, dpre or du is null");
  if (!scratch) throw InvalidArgument("persistent_backward_with_head: scratch is null");
  if (a.batch < 1) return false;
  const PersistentParams<CellBackwardArgs> p{{a, a}, head, nullptr, scratch, nullptr, nullptr};
  return launch_elman<true, true>(p, 1, tiling, stream);
}

}  // namespace rnnattn::kernels
