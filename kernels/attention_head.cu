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
// Keras' dot-product attention instead (reference.cpp's dot_attention_forward / _backward), the
// states as query, key and value: e_ij = scale (s_i . s_j) over the valid steps, a_i =
// softmax_j(e_i), o_i = sum_j a_ij s_j, c = sum_i o_i * s_i. Per query an online softmax (a
// running maximum m_i and sum l_i, the output rescaled as the maximum grows): no [T, T] matrix is
// formed anywhere, whatever T. The forward keeps m_i and l_i; the backward recomputes each a_ij
// from them and the dot product, and o_i in one more sweep over the keys.
//
// Work mapping: a segment of nextpow2(C) threads per sequence, thread j owning column j (the
// segment mapping of rnn_segment.cu); dot products over C are segment reductions
// (device_common.cuh's AttentionForward / AttentionBackward, shared with the segment kernels that
// run them inside the recurrence). Every thread of a block runs every step (query, key) of the
// longest possible sequence, T (or T x T), so that the reductions' barriers are uniform; padding
// steps compute and discard. The dot-product attention costs T^2 reductions a sequence forward and
// 3 T^2 backward (docs/performance.md). Limits: C <= 1024.
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
  softmax_head(a, b, red.lane, seq_valid);
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

// What a dot-product attention kernel's thread holds of its sequence: thread j of the segment of
// sequence b (column j of its C-wide states), the sequence's length L, and the scale.
struct DotThread {
  int T, C, j, b, L;
  bool active, seq_valid;
  const float* top;  // the sequence's states [T, C]
  float scale;
  std::size_t row;  // b * T: the sequence's first step in [B, T] tensors

  __device__ DotThread(const AttentionHeadArgs& a, const SegmentGeometry& g) {
    const UnitThread u = unit_thread(g, a.shape.batch, a.shape.hidden * a.directions);
    T = a.shape.steps;
    C = a.shape.hidden * a.directions;
    j = u.j;
    b = u.b;
    active = u.active;
    seq_valid = b < a.shape.batch;
    L = seq_valid ? sequence_length(a.lengths, b, T) : T;
    top = a.top + static_cast<std::size_t>(b) * T * C;
    scale = a.scale ? *a.scale : 1.f;
    row = static_cast<std::size_t>(b) * T;
  }
  // Column j of step t in a [B, T, C] tensor, and of the states (0 on an inactive thread).
  __device__ std::size_t at(int t) const { return (row + t) * C + j; }
  __device__ float state(int t) const {
    return active ? top[static_cast<std::size_t>(t) * C + j] : 0.f;
  }
  // The segment's reducer (device_common.cuh).
  __device__ SegmentReducer reducer(const SegmentGeometry& g) const {
    return SegmentReducer{g.hp, static_cast<int>(threadIdx.x) / g.hp, j, dynamic_shared<float>(),
                          g.segments};
  }
};

// The dot-product attention's forward and the head, per sequence: for each query i an online
// softmax over the keys, o_i, and c += o_i * s_i; m_i and l_i kept (lane 0); then the head; and,
// where asked, the attention weights as reference.hpp returns them, each key's weight averaged
// over the valid queries (lane 0 sums them in query order).
__global__ void __launch_bounds__(1024)
    dot_attention_head_forward_kernel(AttentionHeadArgs a, SegmentGeometry g) {
  const DotThread th(a, g);
  SegmentReducer red = th.reducer(g);
  float c = 0.f;
  for (int i = 0; i < th.T; ++i) {
    const float hi = th.state(i);
    float m = -INFINITY, l = 0.f, acc = 0.f;
    for (int k = 0; k < th.T; ++k) {
      const float hk = th.state(k);
      const float e = th.scale * red.sum(hi * hk);
      if (k >= th.L) continue;
      const float grown = fmaxf(m, e);
      const float rescale = expf(m - grown), w = expf(e - grown);
      l = l * rescale + w;
      acc = acc * rescale + w * hk;
      m = grown;
    }
    if (i >= th.L) continue;
    c += acc / l * hi;
    if (th.seq_valid && red.lane == 0) {
      a.rowmax[th.row + i] = m;
      a.rowsum[th.row + i] = l;
    }
  }
  head_forward(red, a, th.C, c, th.b, th.active, th.seq_valid);
  softmax_head(a, th.b, red.lane, th.seq_valid);
  if (!a.attention) return;
  if (th.seq_valid && red.lane == 0) {
    for (int k = 0; k < th.T; ++k) a.attention[th.row + k] = 0.f;
  }
  for (int i = 0; i < th.T; ++i) {
    const float hi = th.state(i);
    for (int k = 0; k < th.T; ++k) {
      const float e = th.scale * red.sum(hi * th.state(k));
      if (th.seq_valid && red.lane == 0 && i < th.L && k < th.L) {
        a.attention[th.row + k] += expf(e - a.rowmax[th.row + i]) / a.rowsum[th.row + i] / th.L;
      }
    }
  }
}

// Its backward, per sequence, from dc = dpre Wd^T (reference.cpp's dot_attention_backward): per
// valid query i, o_i recomputed, do_i = dc * s_i, D_i = do_i . o_i, and per valid key k the weight
// a_ik = exp(e_ik - m_i) / l_i, da_ik = do_i . s_k and de_ik = a_ik (da_ik - D_i):
//   dL/ds_k += a_ik do_i + scale de_ik s_i,   dL/ds_i += dc * o_i + scale sum_k de_ik s_k,
//   dL/dscale += de_ik (s_i . s_k).
// Thread j owns column j of dtop and adds into it in a fixed order: no atomics, the same bits run
// after run. Padding steps get 0.
__global__ void __launch_bounds__(1024)
    dot_attention_head_backward_kernel(AttentionHeadArgs a, SegmentGeometry g) {
  const DotThread th(a, g);
  SegmentReducer red = th.reducer(g);
  const float dc = head_backward(a, red.lane, th.b, th.active, th.seq_valid);
  if (th.active) {
    for (int t = 0; t < th.T; ++t) a.dtop[th.at(t)] = 0.f;
  }
  float dscale = 0.f;
  for (int i = 0; i < th.T; ++i) {
    const bool query = th.seq_valid && i < th.L;
    const float hi = th.state(i);
    const float m = query ? a.rowmax[th.row + i] : 0.f,
                inv_l = query ? 1.f / a.rowsum[th.row + i] : 0.f;
    float o = 0.f;
    for (int k = 0; k < th.T; ++k) {
      const float hk = th.state(k);
      const float e = th.scale * red.sum(hi * hk);
      if (query && k < th.L) o += expf(e - m) * inv_l * hk;
    }
    const float d_o = dc * hi;
    const float mean = red.sum(d_o * o);  // sum_k a_ik da_ik
    float dhi = dc * o;
    for (int k = 0; k < th.T; ++k) {
      const float hk = th.state(k);
      const float dot = red.sum(hi * hk);
      const float da = red.sum(d_o * hk);
      if (!query || k >= th.L) continue;
      const float p = expf(th.scale * dot - m) * inv_l, de = p * (da - mean);
      if (th.active) a.dtop[th.at(k)] += p * d_o + th.scale * de * hi;
      dhi += th.scale * de * hk;
      dscale += de * dot;
    }
    if (query && th.active) a.dtop[th.at(i)] += dhi;
  }
  if (th.seq_valid && red.lane == 0 && a.dscale) a.dscale[th.b] = dscale;
}

}  // namespace

void attention_head_forward(const AttentionHeadArgs& a, cudaStream_t stream) {
  if (a.shape.batch < 1) return;
  if (a.dot) {
    const AttnGeometry r = attention_geometry(a, "dot_attention_head_forward_kernel");
    launch_kernel<dot_attention_head_forward_kernel>(
        "dot_attention_head_forward_kernel", r.g.blocks, r.g.threads, r.smem, stream, a, r.g);
    return;
  }
  const AttnGeometry r = attention_geometry(a, "attention_head_forward_kernel");
  launch_kernel<attention_head_forward_kernel>("attention_head_forward_kernel", r.g.blocks,
                                               r.g.threads, r.smem, stream, a, r.g);
}

void attention_head_backward(const AttentionHeadArgs& a, cudaStream_t stream) {
  if (a.shape.batch < 1) return;
  if (a.dot) {
    const AttnGeometry r = attention_geometry(a, "dot_attention_head_backward_kernel");
    launch_kernel<dot_attention_head_backward_kernel>(
        "dot_attention_head_backward_kernel", r.g.blocks, r.g.threads, r.smem, stream, a, r.g);
    return;
  }
  const AttnGeometry r = attention_geometry(a, "attention_head_backward_kernel");
  launch_kernel<attention_head_backward_kernel>("attention_head_backward_kernel", r.g.blocks,
                                                r.g.threads, r.smem, stream, a, r.g);
}

}  // namespace rnnattn::kernels
