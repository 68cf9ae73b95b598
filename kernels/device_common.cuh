// Device helpers shared by the fused kernels (internal).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "cuda_compat.cuh"
#include "cuda_utils.hpp"
#include "kernels.hpp"
#include "plan.hpp"

namespace rnnattn::kernels {

__device__ __forceinline__ float head_act(int head, float v) {
  if (head == kHeadTanh) return tanhf(v);
  if (head == kHeadSigmoid) return 1.f / (1.f + expf(-v));
  return v;
}

// d act / d pre from the output y.
__device__ __forceinline__ float head_act_grad(int head, float y) {
  if (head == kHeadTanh) return 1.f - y * y;
  if (head == kHeadSigmoid) return y * (1.f - y);
  return 1.f;
}

// Valid steps of sequence b: lengths[b] clamped to [1, T] (a bad value cannot make a kernel
// read out of bounds), or T without lengths.
__device__ __forceinline__ int sequence_length(const int* lengths, int b, int steps) {
  if (!lengths) return steps;
  const int l = lengths[b];
  return l < 1 ? 1 : (l > steps ? steps : l);
}

// Step n of the processing order of a direction (0: t = 0..T-1, 1: t = T-1..0).
__device__ __forceinline__ int step_at(int direction, int n, int steps) {
  return direction == 0 ? n : steps - 1 - n;
}

// Sequence-segment reduction. The threads of one block are split into segments of `hp` threads
// (hp a power of two), one segment per sequence. Returns, to every thread of the segment, the sum
// of v over the segment. hp <= 32: one butterfly within the warp (every lane gets the bitwise same
// sum, since IEEE addition is commutative). hp > 32: butterfly per warp, then each thread adds the
// warp partials in the same order from shared memory; `scratch` alternates between two halves
// (parity), so one __syncthreads per call suffices. Every thread of the block must call it.
struct SegmentReducer {
  int hp;
  int seg;         // segment (sequence) index within the block
  int lane;        // thread index within the segment
  float* scratch;  // [2][segments][hp/32] when hp > 32
  int segments;
  int parity = 0;

  __device__ float sum(float v) {
    if (hp <= 32) {
      for (int off = hp >> 1; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off, hp);
      return v;
    }
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    const int warps = hp >> 5;
    float* red = scratch + (parity * segments + seg) * warps;
    parity ^= 1;
    if ((lane & 31) == 0) red[lane >> 5] = v;
    __syncthreads();
    float total = 0.f;
    for (int w = 0; w < warps; ++w) total += red[w];
    return total;
  }
};

// Launches a segment-mapped kernel over a batch of sequences of `hidden` units: WithWh (Wh staged
// in shared memory, `with` bytes a block) when the block's shared memory can hold it, else
// WithoutWh (Wh through L2, `base` bytes). Refuses H > 1024 (a segment is at most one block).
// `names` are the two kernels' names, for errors and the simulator's counters.
template <auto WithWh, auto WithoutWh, typename Args>
void launch_segmented_sized(const Args& args, int batch, int hidden, std::size_t base,
                            std::size_t with, const char* const (&names)[2], cudaStream_t stream) {
  if (batch < 1) return;  // nothing to do
  if (hidden > 1024) {
    throw InvalidArgument(std::string(names[0]) + ": H = " + std::to_string(hidden) +
                          " exceeds the fused kernels' limit of 1024");
  }
  const SegmentGeometry g = segment_geometry(hidden, batch);
  const int optin = allow_max_dynamic_shared<WithWh>();
  if (with <= static_cast<std::size_t>(optin)) {
    launch_kernel(names[0], WithWh, g.blocks, g.threads, with, stream, args, g);
  } else {
    launch_kernel(names[1], WithoutWh, g.blocks, g.threads, base, stream, args, g);
  }
}

// The Elman cell's segment kernels (forward or backward): Wh's H x H floats next to the
// per-sequence buffers (segment_smem_bytes).
template <auto WithWh, auto WithoutWh, typename Args>
void launch_segmented(const Args& args, const Shape& s, const char* const (&names)[2],
                      cudaStream_t stream) {
  const SegmentGeometry g = segment_geometry(s.hidden, s.batch);
  launch_segmented_sized<WithWh, WithoutWh>(args, s.batch, s.hidden,
                                            segment_smem_bytes(g, s.hidden, false),
                                            segment_smem_bytes(g, s.hidden, true), names, stream);
}

}  // namespace rnnattn::kernels
