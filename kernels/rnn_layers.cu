// Stacked and bidirectional models: one recurrence kernel per recurrent block (layer, direction)
// and one attention-and-head kernel over the top layer's states, forward and backward.
//
// What they compute (reference.hpp, host/reference.cpp), per sequence b of length L:
//   block (l, d): over t in its direction (d = 0: 0..T-1, d = 1: T-1..0), from h = 0,
//     valid step (t < L): h_t = tanh(xw_t + h_prev Wh + bh), xw_t = in_t Wx (a GEMM beforehand)
//     padding:            h_t = h_prev
//   attention over the top states s_t [C]: e_t = tanh(s_t . wa + ba[t]) on valid steps, softmax
//   over them (padding gets 0), c = sum_t a_t s_t; plain: c = [forward s_{T-1}, backward s_0];
//   y = act(c Wd + bd).
// Backward: attention_head_backward gives dL/ds_t (dtop); each block then runs BPTT against its
// direction, writing dz (0 on padding, where dL/dh passes through to the previous state) and
// dz_next (dz of the step processed after t), from which the backend forms dWx, dWh, dbh and the
// gradient of the layer below with GEMMs over all B*T rows (no atomics: deterministic).
//
// Work mapping: as the fused kernels (rnn_fused_forward.cu): a segment of nextpow2(H) threads per
// sequence (nextpow2(C) for the attention kernels), thread j owning unit (column) j; the two
// directions of a bidirectional layer run in one launch, side by side (blockIdx.y, each block
// with its own input projection, Wh and outputs); h_prev (or
// dz) is exchanged through double-buffered shared memory with one __syncthreads per step; Wh (Wh^T
// in the backward, for coalesced, conflict-free reads) is staged in shared memory when it fits.
// Limits: H <= 1024 and C <= 1024.
#include <cuda_runtime.h>

#include "cuda_utils.hpp"
#include "device_common.cuh"
#include "kernels.hpp"

namespace rnnattn::kernels {
namespace {

template <bool kWhInSmem>
__global__ void __launch_bounds__(1024)
    layer_forward_kernel(LayerSet<LayerForwardArgs> set, SegmentGeometry g) {
  const LayerForwardArgs a = set.pick();
  float* smem = dynamic_shared<float>();
  const int B = a.batch, T = a.steps, H = a.hidden, C = a.stride;
  const int hp = g.hp;
  const int seg = threadIdx.x / hp, j = threadIdx.x % hp;
  const int b = blockIdx.x * g.segments + seg;
  const bool active = b < B && j < H;
  float* wh_s = smem;
  float* hbuf = smem + (kWhInSmem ? H * H : 0);  // [2][segments][hp]
  if (kWhInSmem) {
    for (int i = threadIdx.x; i < H * H; i += blockDim.x) wh_s[i] = a.wh[i];
  }
  const float* wh = kWhInSmem ? wh_s : a.wh;
  hbuf[seg * hp + j] = 0.f;  // h = 0 before the first step
  __syncthreads();

  const int L = b < B ? sequence_length(a.lengths, b, T) : T;
  const float bh = active ? a.bh[j] : 0.f;
  float h = 0.f;
  int cur = 0;
  for (int n = 0; n < T; ++n) {
    const int t = step_at(a.direction, n, T);
    if (active) {
      const std::size_t row = static_cast<std::size_t>(b) * T + t;
      if (t < L) {
        float z = bh + a.xw[row * H + j];
        const float* hprev = hbuf + (cur * g.segments + seg) * hp;
        for (int k = 0; k < H; ++k) z += hprev[k] * wh[k * H + j];
        h = tanhf(z);
      }
      hbuf[((cur ^ 1) * g.segments + seg) * hp + j] = h;
      a.out[row * C + j] = h;
    }
    __syncthreads();
    cur ^= 1;
  }
}

template <bool kWhInSmem>
__global__ void __launch_bounds__(1024)
    layer_backward_kernel(LayerSet<LayerBackwardArgs> set, SegmentGeometry g) {
  const LayerBackwardArgs a = set.pick();
  float* smem = dynamic_shared<float>();
  const int B = a.batch, T = a.steps, H = a.hidden, C = a.stride;
  const int hp = g.hp;
  const int seg = threadIdx.x / hp, j = threadIdx.x % hp;
  const int b = blockIdx.x * g.segments + seg;
  const bool active = b < B && j < H;
  float* wh_s = smem;
  float* dzbuf = smem + (kWhInSmem ? H * H : 0);  // [2][segments][hp]
  if (kWhInSmem) {
    for (int i = threadIdx.x; i < H * H; i += blockDim.x) wh_s[i] = a.wh_t[i];
    __syncthreads();
  }
  const float* wh_t = kWhInSmem ? wh_s : a.wh_t;  // wh_t[k * H + j] = Wh[j, k]
  const int L = b < B ? sequence_length(a.lengths, b, T) : T;
  if (active) {  // the step processed last has no successor
    const int last = step_at(a.direction, T - 1, T);
    a.dz_next[(static_cast<std::size_t>(b) * T + last) * H + j] = 0.f;
  }
  float carry = 0.f;  // dL/dh of the step being processed, from the steps processed after it
  int cur = 0;
  for (int n = T - 1; n >= 0; --n) {
    const int t = step_at(a.direction, n, T);
    const std::size_t row = static_cast<std::size_t>(b) * T + t;
    const bool valid = t < L;
    float dh = carry, dz = 0.f;
    if (active) {
      const float h = a.states[row * C + j];
      dh += a.dout[row * C + j];
      dz = valid ? dh * (1.f - h * h) : 0.f;
      a.dz[row * H + j] = dz;
      if (n > 0)
        a.dz_next[(static_cast<std::size_t>(b) * T + step_at(a.direction, n - 1, T)) * H + j] = dz;
    }
    float* buf = dzbuf + (cur * g.segments + seg) * hp;
    buf[j] = dz;
    __syncthreads();
    if (!valid) {
      carry = dh;  // padding passes dL/dh through to the previous state
    } else {
      carry = 0.f;
      if (active) {
        for (int k = 0; k < H; ++k) carry += buf[k] * wh_t[k * H + j];
      }
    }
    cur ^= 1;
  }
}

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
  float* smem = dynamic_shared<float>();
  const int B = a.shape.batch, T = a.shape.steps, H = a.shape.hidden;
  const int C = H * a.directions;
  const int hp = g.hp;
  const int seg = threadIdx.x / hp, j = threadIdx.x % hp;
  const int b = blockIdx.x * g.segments + seg;
  const bool seq_valid = b < B;
  const bool active = seq_valid && j < C;
  SegmentReducer red{hp, seg, j, smem, g.segments};
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
  float* smem = dynamic_shared<float>();
  const int B = a.shape.batch, T = a.shape.steps, H = a.shape.hidden;
  const int C = H * a.directions;
  const int hp = g.hp;
  const int seg = threadIdx.x / hp, j = threadIdx.x % hp;
  const int b = blockIdx.x * g.segments + seg;
  const bool seq_valid = b < B;
  const bool active = seq_valid && j < C;
  SegmentReducer red{hp, seg, j, smem, g.segments};
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

Shape layer_shape(int batch, int steps, int hidden) {
  return Shape{batch, steps, 0, hidden, 0, false, 0};
}

}  // namespace

void layer_forward(const LayerForwardArgs* args, int count, cudaStream_t stream) {
  static const char* const names[2] = {"layer_forward_kernel<Wh in smem>",
                                       "layer_forward_kernel<Wh in L2>"};
  const LayerSet<LayerForwardArgs> set = layer_set(args, count, "layer_forward");
  const LayerForwardArgs& a = args[0];
  launch_segmented<layer_forward_kernel<true>, layer_forward_kernel<false>>(
      set, layer_shape(a.batch, a.steps, a.hidden), names, stream, count);
}

void layer_backward(const LayerBackwardArgs* args, int count, cudaStream_t stream) {
  static const char* const names[2] = {"layer_backward_kernel<Wh in smem>",
                                       "layer_backward_kernel<Wh in L2>"};
  const LayerSet<LayerBackwardArgs> set = layer_set(args, count, "layer_backward");
  const LayerBackwardArgs& a = args[0];
  launch_segmented<layer_backward_kernel<true>, layer_backward_kernel<false>>(
      set, layer_shape(a.batch, a.steps, a.hidden), names, stream, count);
}

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
