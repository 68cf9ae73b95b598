// Fused forward: recurrence, attention scores, online softmax over time, context and head in one
// kernel launch.
//
// What it computes, per sequence b (SPEC.md):
//   h_t = tanh(x_t Wx + h_{t-1} Wh + bh);  e_t = tanh(h_t . wa + ba[t]);  a = softmax_t(e);
//   c = sum_t a_t h_t (plain model: c = h_T);  y = act(c Wd + bd).
// With lengths, steps t >= length keep h and get no attention weight (reference.hpp).
// Because e_t is bounded by tanh, exp(e_t) lies in [e^-1, e]: the softmax needs no running maximum.
// The kernel keeps the running sum S = sum_t exp(e_t) and acc = sum_t exp(e_t) h_t while the
// steps are produced and divides once at the end.
//
// Work mapping: one segment of hp = nextpow2(H) threads per sequence, thread j owning hidden unit
// j; blocks of max(128, hp) threads hold 128/hp sequences (the tutorial's H = 2 packs 64 sequences
// in a block), so any batch runs in one launch. h_{t-1} is exchanged through shared memory (double
// buffered: one __syncthreads per step); dot products over H (the score, the head) are segment
// reductions (device_common.cuh). Wh is staged in shared memory when it fits, else read through L2.
//
// Stores: training mode writes hidden [B,T,H], scores e [B,T], S [B] and the context [B,H], which
// backward consumes; inference passes null for all of them and keeps nothing per time step.
// Limits: H <= 1024 (a segment is at most one block). x_t Wx comes precomputed (xw, one GEMM over
// all steps, training mode) or is computed in the kernel (inference, so memory does not grow with
// T).
#include <cuda_runtime.h>

#include "cuda_utils.hpp"
#include "device_common.cuh"
#include "kernels.hpp"

namespace rnnattn::kernels {
namespace {

template <bool kWhInSmem>
__device__ void fused_forward_device(const FusedForwardArgs& a, const SegmentGeometry& g) {
  float* smem = dynamic_shared<float>();
  const int B = a.shape.batch, T = a.shape.steps, D = a.shape.input, H = a.shape.hidden;
  const int hp = g.hp;
  const int seg = threadIdx.x / hp, j = threadIdx.x % hp;
  const int b = blockIdx.x * g.segments + seg;
  const bool seq_valid = b < B;
  const bool active = seq_valid && j < H;

  float* wh_s = smem;
  float* hbuf = smem + (kWhInSmem ? H * H : 0);  // [2][segments][hp]
  float* scratch = hbuf + 2 * g.segments * hp;
  if (kWhInSmem) {
    for (int i = threadIdx.x; i < H * H; i += blockDim.x) wh_s[i] = a.w.wh[i];
  }
  const float* wh = kWhInSmem ? wh_s : a.w.wh;
  hbuf[seg * hp + j] = 0.f;  // h_0 = 0
  __syncthreads();

  SegmentReducer red{hp, seg, j, scratch, g.segments};
  const int L = seq_valid ? sequence_length(a.lengths, b, T) : T;
  const float bh = active ? a.w.bh[j] : 0.f;
  const float wa = (a.shape.attention && active) ? a.w.wa[j] : 0.f;
  const AttentionHeadArgs head = attention_head_of(a);
  AttentionForward att;  // the attention and head: device_common.cuh, shared with rnn_gated.cu
  float h = 0.f;
  int cur = 0;
  for (int t = 0; t < T; ++t) {
    const bool step_valid = t < L;  // padding keeps h (the segment's threads agree)
    if (active) {
      const std::size_t row = static_cast<std::size_t>(b) * T + t;
      if (step_valid) {
        float z = bh;
        if (a.xw) {
          z += a.xw[row * H + j];
        } else {
          // x_t Wx summed on its own, then added: the association of the training path, where
          // a GEMM computes it (so inference and training agree bit for bit where the GEMM sums
          // in k order: always at D = 1).
          const float* xt = a.x + row * D;
          float xw = 0.f;
          for (int k = 0; k < D; ++k) xw += xt[k] * a.w.wx[k * H + j];
          z += xw;
        }
        const float* hprev = hbuf + (cur * g.segments + seg) * hp;
        for (int k = 0; k < H; ++k) z += hprev[k] * wh[k * H + j];
        h = tanhf(z);
      }
      hbuf[((cur ^ 1) * g.segments + seg) * hp + j] = h;
      if (a.hidden) a.hidden[row * H + j] = h;
    }
    // Every thread of the block takes part in the reduction; padding then gets no weight.
    if (a.shape.attention) att.step(red, head, h, wa, b, t, step_valid, seq_valid);
    __syncthreads();
    cur ^= 1;
  }

  // The context (the final state without attention), the head, S and the normalised weights.
  att.finish(red, head, H, a.shape.attention ? att.acc / att.sum : h, b, active, seq_valid);
}

template <bool kWhInSmem>
__global__ void __launch_bounds__(1024)
    fused_forward_kernel(FusedForwardArgs a, SegmentGeometry g) {
  fused_forward_device<kWhInSmem>(a, g);
}

}  // namespace

void fused_forward(const FusedForwardArgs& a, cudaStream_t stream) {
  static const char* const names[2] = {"fused_forward_kernel<Wh in smem>",
                                       "fused_forward_kernel<Wh in L2>"};
  launch_segmented<fused_forward_kernel<true>, fused_forward_kernel<false>>(a, a.shape, names,
                                                                            stream);
}

}  // namespace rnnattn::kernels
