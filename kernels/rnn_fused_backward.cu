// Fused backward: head and attention gradients, then BPTT in reverse time, in one launch. The
// weight gradients are not accumulated here: the kernel writes per-sequence, per-step quantities
// (dpre, du, dz) and the CUDA backend turns them into dWd, dbd, dwa, dba, dWh, dWx, dbh and dx with
// a few large cuBLAS GEMMs over all B*T rows. No atomics: the result is bitwise reproducible.
//
// Per sequence (SPEC.md, "Gradients"), with g = dL/dc:
//   dpre = dy * act'(y);  g = dpre Wd^T
//   attention: a_t = exp(e_t) / S;  du_t = a_t (g.h_t - g.c) (1 - e_t^2);  dh_t = a_t g + du_t wa
//   plain: dh_T = g
//   t = T..1:  dz_t = (dh_t + carry) (1 - h_t^2);  carry = dz_t Wh^T
//   (padding, t >= length: dz_t = 0, du_t = 0, carry = dh_t + carry)
//
// Work mapping: as the forward kernel (rnn_fused_forward.cu): a segment of hp = nextpow2(H) threads
// per sequence, thread j owning unit j; dz_t is exchanged through double-buffered shared memory so
// that thread j can form carry_j = sum_k dz_t[k] Wh[j,k]. Wh is read transposed (Wh^T, made by
// transpose_kernel before the launch), so that at each k the threads of a warp read consecutive
// words: coalesced through L2, and free of bank conflicts when Wh^T is staged in shared memory
// (when it fits). Reads what the training forward stored (hidden, scores, S, context, y).
// Limits: H <= 1024.
#include <cuda_runtime.h>

#include "cuda_utils.hpp"
#include "device_common.cuh"
#include "kernels.hpp"

namespace rnnattn::kernels {
namespace {

template <bool kWhInSmem>
__device__ void fused_backward_device(const FusedBackwardArgs& a, const SegmentGeometry& g) {
  float* smem = dynamic_shared<float>();
  const int B = a.shape.batch, T = a.shape.steps, H = a.shape.hidden;
  const int hp = g.hp;
  const int seg = threadIdx.x / hp, j = threadIdx.x % hp;
  const int b = blockIdx.x * g.segments + seg;
  const bool seq_valid = b < B;
  const bool active = seq_valid && j < H;

  float* wh_s = smem;
  float* dzbuf = smem + (kWhInSmem ? H * H : 0);  // [2][segments][hp]
  float* scratch = dzbuf + 2 * g.segments * hp;
  if (kWhInSmem) {
    for (int i = threadIdx.x; i < H * H; i += blockDim.x) wh_s[i] = a.wh_t[i];
    __syncthreads();
  }
  const float* wh_t = kWhInSmem ? wh_s : a.wh_t;  // wh_t[k * H + j] = Wh[j, k]
  SegmentReducer red{hp, seg, j, scratch, g.segments};

  // The head's gradient (dpre, dc) and the attention's (device_common.cuh, shared with
  // rnn_gated.cu).
  const AttentionHeadArgs head = attention_head_of(a);
  AttentionBackward att;
  att.begin(red, head, H, b, active, seq_valid);
  const bool attention = a.shape.attention;
  const int L = seq_valid ? sequence_length(a.lengths, b, T) : T;

  if (active) a.dz_next[(static_cast<std::size_t>(b) * T + T - 1) * H + j] = 0.f;
  float carry = 0.f;
  int cur = 0;
  for (int t = T - 1; t >= 0; --t) {
    const std::size_t row = static_cast<std::size_t>(b) * T + t;
    const bool step_valid = t < L;
    const float h = active ? a.hidden[row * H + j] : 0.f;
    float dh = carry;
    if (attention) {
      dh += att.step(red, head, h, b, t, step_valid, seq_valid);
    } else if (t == T - 1) {
      dh += att.dc;
    }
    const float dz = step_valid ? dh * (1.f - h * h) : 0.f;
    if (active) {
      a.dz[row * H + j] = dz;
      if (t > 0) a.dz_next[(row - 1) * H + j] = dz;
    }
    float* buf = dzbuf + (cur * g.segments + seg) * hp;
    buf[j] = active ? dz : 0.f;
    __syncthreads();
    if (!step_valid) {
      carry = dh;  // padding: h_t = h_{t-1}, so dL/dh_{t-1} gets dL/dh_t unchanged
    } else {
      carry = 0.f;
      if (active) {
        for (int k = 0; k < H; ++k) carry += buf[k] * wh_t[k * H + j];
      }
    }
    cur ^= 1;
  }
}

template <bool kWhInSmem>
__global__ void __launch_bounds__(1024)
    fused_backward_kernel(FusedBackwardArgs a, SegmentGeometry g) {
  fused_backward_device<kWhInSmem>(a, g);
}

// One 32 x 32 tile per block of 32 x 8 threads: read rows of the tile (coalesced), write rows of
// its transpose (coalesced); the tile's padding column keeps the column reads free of bank
// conflicts.
constexpr int kTile = 32, kTileRows = 8;

__global__ void __launch_bounds__(kTile* kTileRows)
    transpose_kernel(const float* in, float* out, int rows, int cols) {
  RNNATTN_SHARED_ARRAY(float, tile, kTile*(kTile + 1));
  const int x = blockIdx.x * kTile + threadIdx.x;  // column of `in`
  for (int r = threadIdx.y; r < kTile; r += kTileRows) {
    const int y = blockIdx.y * kTile + r;
    if (x < cols && y < rows)
      tile[r * (kTile + 1) + threadIdx.x] = in[static_cast<std::size_t>(y) * cols + x];
  }
  __syncthreads();
  const int ox = blockIdx.y * kTile + threadIdx.x;  // column of `out` (a row of `in`)
  for (int r = threadIdx.y; r < kTile; r += kTileRows) {
    const int oy = blockIdx.x * kTile + r;
    if (ox < rows && oy < cols)
      out[static_cast<std::size_t>(oy) * rows + ox] = tile[threadIdx.x * (kTile + 1) + r];
  }
}

}  // namespace

void transpose(const float* in, float* out, int rows, int cols, cudaStream_t stream) {
  if (rows < 1 || cols < 1) return;
  const dim3 tiles(static_cast<unsigned>((cols + kTile - 1) / kTile),
                   static_cast<unsigned>((rows + kTile - 1) / kTile));
  launch_kernel<transpose_kernel>("transpose_kernel", tiles, dim3(kTile, kTileRows), 0, stream, in,
                                  out, rows, cols);
}

void fused_backward(const FusedBackwardArgs& a, cudaStream_t stream) {
  static const char* const names[2] = {"fused_backward_kernel<Wh in smem>",
                                       "fused_backward_kernel<Wh in L2>"};
  launch_segmented<fused_backward_kernel<true>, fused_backward_kernel<false>>(a, a.shape, names,
                                                                              stream);
}

}  // namespace rnnattn::kernels
