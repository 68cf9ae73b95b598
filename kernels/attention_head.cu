// The attention and the head over the top layer's states, forward and backward, for every model
// whose recurrence does not run them inside (stacked and bidirectional models, and wherever the
// persistent or cluster kernels run a gated cell's recurrence).
//
// What they compute (reference.hpp, host/reference.cpp), per sequence b of length L, over the
// top states s_t [C] (C = H x directions):
//   e_t = tanh(s_t . wa + ba[t]) on valid steps, a softmax over them (padding gets 0),
//   c = sum_t a_t s_t; plain: c = [forward s_{T-1}, backward s_0]; y = act(c Wd + bd).
// Backward: dpre, du and dL/ds_t (dtop), from which the recurrence's BPTT runs.
//
// Work mapping: a segment of nextpow2(C) threads per sequence, thread j owning column j (the
// segment mapping of rnn_segment.cu); dot products over C are segment reductions
// (device_common.cuh's AttentionForward / AttentionBackward, shared with the segment kernels that
// run them inside the recurrence). Limits: C <= 1024.
#include <cuda_runtime.h>

#include "cuda_utils.hpp"
#include "device_common.cuh"
#include "kernels.hpp"

namespace rnnattn::kernels {
namespace {

// Attention kernels: a segment of nextpow2(C) threads per sequence, thread j owning column j.
struct AttnGeometry {
  SegmentGeometry g;
  std::size_t smem;
};

AttnGeometry attention_geometry(const AttentionHeadArgs& a, const char* name) {
  const int C = a.shape.hidden * a.directions;
  if (C > 1024) {
    throw InvalidArgument(std::string(name) + ": the states are C = " + std::to_string(C) +
                          " wide; the CUDA kernels take C = H x directions <= 1024");
  }
  AttnGeometry r{segment_geometry(C, a.shape.batch), 0};
  r.smem = sizeof(float) * reduce_scratch_floats(r.g);
  return r;
}

__global__ void __launch_bounds__(1024)
    attention_head_forward_kernel(AttentionHeadArgs a, SegmentGeometry g) {
  const int B = a.shape.batch, T = a.shape.steps, H = a.shape.hidden;
  const int C = H * a.directions;
  const auto [seg, j, b, active] = unit_thread(g, B, C);
  const bool seq_valid = b < B;
  SegmentReducer red{g.hp, seg, j, dynamic_shared<float>(), g.segments};
  const int L = seq_valid ? sequence_length(a.lengths, b, T) : T;
  const float* top = a.top + static_cast<std::size_t>(b) * T * C;

  AttentionForward att;
  float c = 0.f;
  if (a.shape.attention) {
    const float wa = active ? a.wa[j] : 0.f;
    for (int t = 0; t < T; ++t) {
      const float h = active ? top[static_cast<std::size_t>(t) * C + j] : 0.f;
      att.step(red, a, h, wa, b, t, t < L, seq_valid);
    }
    c = att.acc / att.sum;
  } else if (active) {
    // The final state of each direction: forward after step T-1, backward after step 0.
    const int t = j < H ? T - 1 : 0;
    c = top[static_cast<std::size_t>(t) * C + j];
  }
  att.finish(red, a, C, c, b, active, seq_valid);
}

__global__ void __launch_bounds__(1024)
    attention_head_backward_kernel(AttentionHeadArgs a, SegmentGeometry g) {
  const int B = a.shape.batch, T = a.shape.steps, H = a.shape.hidden;
  const int C = H * a.directions;
  const auto [seg, j, b, active] = unit_thread(g, B, C);
  const bool seq_valid = b < B;
  SegmentReducer red{g.hp, seg, j, dynamic_shared<float>(), g.segments};
  const int L = seq_valid ? sequence_length(a.lengths, b, T) : T;
  const float* top = a.top + static_cast<std::size_t>(b) * T * C;
  float* dtop = a.dtop + static_cast<std::size_t>(b) * T * C;

  AttentionBackward att;
  att.begin(red, a, C, b, active, seq_valid);
  if (a.shape.attention) {
    for (int t = 0; t < T; ++t) {
      const float h = active ? top[static_cast<std::size_t>(t) * C + j] : 0.f;
      const float dh = att.step(red, a, h, b, t, t < L, seq_valid);
      if (active) dtop[static_cast<std::size_t>(t) * C + j] = dh;
    }
  } else if (active) {
    const int final_step = j < H ? T - 1 : 0;
    for (int t = 0; t < T; ++t)
      dtop[static_cast<std::size_t>(t) * C + j] = t == final_step ? att.dc : 0.f;
  }
}

}  // namespace

void attention_head_forward(const AttentionHeadArgs& a, cudaStream_t stream) {
  if (a.shape.batch < 1) return;
  const AttnGeometry r = attention_geometry(a, "attention_head_forward_kernel");
  launch_kernel<attention_head_forward_kernel>("attention_head_forward_kernel", r.g.blocks,
                                               r.g.threads, r.smem, stream, a, r.g);
}

void attention_head_backward(const AttentionHeadArgs& a, cudaStream_t stream) {
  if (a.shape.batch < 1) return;
  const AttnGeometry r = attention_geometry(a, "attention_head_backward_kernel");
  launch_kernel<attention_head_backward_kernel>("attention_head_backward_kernel", r.g.blocks,
                                                r.g.threads, r.smem, stream, a, r.g);
}

}  // namespace rnnattn::kernels
