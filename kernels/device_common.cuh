// Device helpers shared by the fused kernels (internal).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "cuda_compat.cuh"
#include "cuda_utils.hpp"
#include "kernels.hpp"
#include "rnnattn/dropout.hpp"
#include "tiling.hpp"

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

// v summed over the lanes of each group of `width` lanes of a warp (a power of two, at most 32) by
// a butterfly: every lane of a group gets the same bits (each addition's two operands are the same
// pair in both lanes that form it). The one butterfly of the kernels: a fixed order of additions,
// so a reduction gives the same bits run after run.
__device__ __forceinline__ float warp_sum(float v, int width = 32) {
  for (int off = width >> 1; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off, width);
  return v;
}

// Valid steps of sequence b: lengths[b] clamped to [1, T] (a bad value cannot make a kernel
// read out of bounds), or T without lengths.
__device__ __forceinline__ int sequence_length(const int* lengths, int b, int steps) {
  if (!lengths) return steps;
  const int l = lengths[b];
  return l < 1 ? 1 : (l > steps ? steps : l);
}

// du_t's two dot products for the persistent and cluster backward: g.h_t and g.c over H-long rows,
// split over a warp's lanes (coalesced) and reduced with shuffles in a fixed order; every lane
// gets both sums.
__device__ __forceinline__ void warp_dots(const float* g, const float* h, const float* c, int n,
                                          float* gh, float* gc) {
  const int lane = threadIdx.x % 32;
  float a = 0.f, b = 0.f;
  for (int k = lane; k < n; k += 32) {
    a += g[k] * h[k];
    b += g[k] * c[k];
  }
  *gh = warp_sum(a);
  *gc = warp_sum(b);
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
    if (hp <= 32) return warp_sum(v, hp);
    v = warp_sum(v);
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

// Thread (segment seg, unit or column j) of a segment block: sequence b; active when b < B and
// j < H (the columns' count).
struct UnitThread {
  int seg, j, b;
  bool active;
};
__device__ __forceinline__ UnitThread unit_thread(const SegmentGeometry& g, int batch, int hidden) {
  UnitThread u;
  u.seg = threadIdx.x / g.hp;
  u.j = threadIdx.x % g.hp;
  u.b = blockIdx.x * g.segments + u.seg;
  u.active = u.b < batch && u.j < hidden;
  return u;
}

// The dropout factor of sequence b's context column j: 0 or 1 / (1 - rate), or 1 without dropout
// (inference, and every kernel that runs the head inside the recurrence).
__device__ inline float keep_factor(const AttentionHeadArgs& a, int b, int j) {
  if (!(a.dropout > 0.f)) return 1.f;
  return dropout_factor(a.dropout_seed, a.dropout_step ? *a.dropout_step : 0, b, j, a.dropout);
}

// The head of one sequence on a segment of threads (thread j owning column j of the context):
// stores the thread's context value c (where asked) and, with dropout, c * keep (`kept`), and
// y = act((c * keep) Wd + bd). Every thread of the block calls it.
__device__ inline void head_forward(SegmentReducer& red, const AttentionHeadArgs& a, int C, float c,
                                    int b, bool active, bool seq_valid) {
  const int O = a.shape.output;
  if (active && a.context) a.context[static_cast<std::size_t>(b) * C + red.lane] = c;
  const float kept = active ? c * keep_factor(a, b, red.lane) : 0.f;
  if (active && a.kept) a.kept[static_cast<std::size_t>(b) * C + red.lane] = kept;
  for (int o = 0; o < O; ++o) {
    const float v = red.sum(active ? kept * a.wd[red.lane * O + o] : 0.f);
    if (seq_valid && red.lane == 0)
      a.y[static_cast<std::size_t>(b) * O + o] = head_act(a.shape.head, v + a.bd[o]);
  }
}

// The softmax head (kHeadSoftmax) after head_forward, which leaves its pre-activations in y: lane
// 0, which wrote them, normalises sequence b's row (its maximum subtracted first: no exp
// overflows). Only the attention-and-head kernels call it: models with a softmax head run those
// (the kernels with the head inside the recurrence keep their registers for it).
__device__ inline void softmax_head(const AttentionHeadArgs& a, int b, int lane, bool seq_valid) {
  if (a.shape.head != kHeadSoftmax || !seq_valid || lane != 0) return;
  const int O = a.shape.output;
  float* y = a.y + static_cast<std::size_t>(b) * O;
  float top = y[0], sum = 0.f;
  for (int o = 1; o < O; ++o) top = fmaxf(top, y[o]);
  for (int o = 0; o < O; ++o) sum += (y[o] = expf(y[o] - top));
  for (int o = 0; o < O; ++o) y[o] /= sum;
}

// Its backward: writes dpre = dy act'(y) and returns dL/dc of the thread's column,
// (dpre Wd^T) * keep.
__device__ inline float head_backward(const AttentionHeadArgs& a, int lane, int b, bool active,
                                      bool seq_valid) {
  const int O = a.shape.output;
  float dc = 0.f;
  // The softmax's Jacobian product, dpre_o = y_o (dy_o - sum_k dy_k y_k); the other heads are
  // elementwise.
  const bool softmax = a.shape.head == kHeadSoftmax;
  float dot = 0.f;
  for (int o = 0; softmax && seq_valid && o < O; ++o) {
    const std::size_t i = static_cast<std::size_t>(b) * O + o;
    dot += a.dy[i] * a.prediction[i];
  }
  for (int o = 0; o < O; ++o) {
    const std::size_t i = static_cast<std::size_t>(b) * O + o;
    const float dpre = !seq_valid ? 0.f
                       : softmax  ? a.prediction[i] * (a.dy[i] - dot)
                                  : a.dy[i] * head_act_grad(a.shape.head, a.prediction[i]);
    if (seq_valid && lane == 0) a.dpre[i] = dpre;
    if (active) dc += dpre * a.wd[lane * O + o];
  }
  return active ? dc * keep_factor(a, b, lane) : 0.f;
}

// The attention and the head of one sequence, forward, on a segment of threads (thread j owning
// column j of the C-wide states; AttentionHeadArgs' tensors): shared by the attention-and-head
// kernels (attention_head.cu) and the segment kernels that run them inside the recurrence
// (rnn_segment.cu). Since e_t is bounded by tanh, exp(e_t) lies in [e^-1, e]: no running maximum;
// the running sum S and sum_t exp(e_t) h_t are divided once at the end. Every thread of the block
// calls each member (they reduce over the segment).
struct AttentionForward {
  float sum = 0.f;  // S = sum_t exp(e_t)
  float acc = 0.f;  // sum_t exp(e_t) h_t for the thread's column

  // Step t with state h (0 on inactive threads) and wa its column's weight; padding (!valid)
  // gets score 0 and no weight. Writes e_t and exp(e_t) (normalised by finish()).
  __device__ void step(SegmentReducer& red, const AttentionHeadArgs& a, float h, float wa, int b,
                       int t, bool valid, bool seq_valid) {
    const float u = red.sum(h * wa);
    const float e = valid ? tanhf(u + a.ba[t]) : 0.f;
    const float w = valid ? expf(e) : 0.f;
    sum += w;
    acc += w * h;
    if (seq_valid && red.lane == 0) {
      const std::size_t i = static_cast<std::size_t>(b) * a.shape.steps + t;
      if (a.scores) a.scores[i] = e;
      if (a.attention) a.attention[i] = w;
    }
  }

  // The context c of the thread's column (acc / S with attention, else the final state), the
  // head y = act(c Wd + bd), S and the normalised weights. C: the states' width.
  __device__ void finish(SegmentReducer& red, const AttentionHeadArgs& a, int C, float c, int b,
                         bool active, bool seq_valid) const {
    const int T = a.shape.steps;
    head_forward(red, a, C, c, b, active, seq_valid);
    if (!a.shape.attention) return;
    __syncthreads();  // thread 0's exp(e_t) writes are visible to its segment
    if (!seq_valid) return;
    if (red.lane == 0 && a.expsum) a.expsum[b] = sum;
    if (a.attention) {
      for (int t = red.lane; t < T; t += red.hp)
        a.attention[static_cast<std::size_t>(b) * T + t] /= sum;
    }
  }
};

// Their backward, from dy, y and what the forward stored: dpre = dy act'(y), dc = dpre Wd^T,
// and per step dL/dh_t = a_t dc + du_t wa with du_t = a_t (dc.h_t - dc.c) (1 - e_t^2). Every
// thread of the block calls each member.
struct AttentionBackward {
  float dc = 0.f;       // dL/dc of the thread's column
  float wa = 0.f;       // its attention weight
  float g_dot_c = 0.f;  // dc . c
  float inv_sum = 0.f;  // 1 / S

  // The head's gradient (writes dpre), and with attention dc . c and 1 / S.
  __device__ void begin(SegmentReducer& red, const AttentionHeadArgs& a, int C, int b, bool active,
                        bool seq_valid) {
    dc = head_backward(a, red.lane, b, active, seq_valid);
    if (!a.shape.attention) return;
    wa = active ? a.wa[red.lane] : 0.f;
    const float c = active ? a.context[static_cast<std::size_t>(b) * C + red.lane] : 0.f;
    g_dot_c = red.sum(dc * c);
    inv_sum = seq_valid ? 1.f / a.expsum[b] : 0.f;
  }

  // dL/dh_t through the attention for the thread's column, h its state (0 on inactive threads);
  // writes du_t.
  __device__ float step(SegmentReducer& red, const AttentionHeadArgs& a, float h, int b, int t,
                        bool valid, bool seq_valid) const {
    const std::size_t i = static_cast<std::size_t>(b) * a.shape.steps + t;
    const float g_dot_h = red.sum(dc * h);
    const float e = seq_valid ? a.scores[i] : 0.f;
    const float at = valid ? expf(e) * inv_sum : 0.f;
    const float du = at * (g_dot_h - g_dot_c) * (1.f - e * e);
    if (seq_valid && red.lane == 0) a.du[i] = du;
    return at * dc + du * wa;
  }
};

// The recurrent blocks one launch runs side by side, blockIdx.y picking one (the two directions
// of a bidirectional layer, so that they share the GPU). A select between two members: an array
// indexed by blockIdx.y would be copied to local memory.
template <typename Args>
struct LayerSet {
  Args first, second;
  __device__ __forceinline__ const Args& pick() const { return blockIdx.y == 0 ? first : second; }
};

// The blocks of one launch (1 or 2, of one shape: B, T, H and the states' row length).
template <typename Args>
LayerSet<Args> layer_set(const Args* args, int count, const char* call) {
  if (count < 1 || count > 2) {
    throw InvalidArgument(std::string(call) + ": " + std::to_string(count) +
                          " blocks in one launch (1 or 2: a layer's directions)");
  }
  const Args& a = args[0];
  const Args& b = args[count - 1];
  if (a.batch != b.batch || a.steps != b.steps || a.hidden != b.hidden || a.stride != b.stride) {
    throw InvalidArgument(std::string(call) + ": the blocks of one launch differ in shape");
  }
  return LayerSet<Args>{a, b};
}

// Launches a segment-mapped kernel over a batch of sequences of `hidden` units: WithWh (Wh staged
// in shared memory, `with` bytes a block) when the block's shared memory can hold it, else
// WithoutWh (Wh through L2, `base` bytes). Refuses H > 1024 (a segment is at most one block).
// `names` are the two kernels' names, for errors and the simulator's counters. `planes` > 1 runs
// that many independent problems side by side along the grid's y (blockIdx.y picks one: the
// two directions of a bidirectional layer).
template <auto WithWh, auto WithoutWh, typename Args>
void launch_segmented_sized(const Args& args, int batch, int hidden, std::size_t base,
                            std::size_t with, const char* const (&names)[2], cudaStream_t stream,
                            int planes = 1) {
  if (batch < 1) return;  // nothing to do
  if (hidden > 1024) {
    throw InvalidArgument(std::string(names[0]) + ": H = " + std::to_string(hidden) +
                          " exceeds the fused kernels' limit of 1024");
  }
  const SegmentGeometry g = segment_geometry(hidden, batch);
  const int optin = allow_dynamic_shared<WithWh>();
  const dim3 grid(static_cast<unsigned>(g.blocks), static_cast<unsigned>(planes));
  if (with <= static_cast<std::size_t>(optin)) {
    launch_kernel<WithWh>(names[0], grid, g.threads, with, stream, args, g);
  } else {
    launch_kernel<WithoutWh>(names[1], grid, g.threads, base, stream, args, g);
  }
}

}  // namespace rnnattn::kernels
