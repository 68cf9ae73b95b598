// Persistent forward for large H: the recurrence, the attention and the head in one cooperative
// launch that runs all T steps, with one grid-wide barrier per step (Diamos et al., 2016).
//
// What it computes: the same as rnn_fused_forward.cu (SPEC.md's model, lengths included), with
// the same stored outputs (hidden, scores, S, context, attention) when their pointers are not null.
//
// Work mapping: block k owns hidden units j in [16k, 16k + 16) for every sequence and keeps its
// slice of Wh, [H, 16], in shared memory for the whole run (64 KiB at H = 1024): Wh is read from
// device memory once, not once per step. A block of 256 threads is 16 unit lanes x 16 row lanes;
// thread (r, jj) handles unit 16k + jj of sequences r, r + 16, r + 32, ...
// Per step: (1) every thread forms z = x_t Wx + bh + h_{t-1} Wh for its (b, j), reading h_{t-1}
// [B,H] from a double-buffered global array, writes h_t, and the 16 lanes of a row reduce
// h_t . wa over the block's slice into a per-block partial score; (2) grid barrier; (3) every
// block sums the partials of each sequence in block order (so every block gets the bitwise same
// u_t), forms e_t, exp(e_t) and the running S, and accumulates exp(e_t) h_t for its own units.
// After the last step: context c = acc / S for the block's units, a grid barrier, and the head
// y = act(c Wd + bd), one warp per (sequence, output) across all blocks.
// Limits: H >= 1; all ceil(H/16) blocks must be co-resident (checked; otherwise the launcher
// returns false and the caller uses the segment-mapped kernel); B <= 4096 (per-sequence softmax
// state in shared memory).
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include "cuda_compat.cuh"
#include "cuda_utils.hpp"
#include "device_common.cuh"
#include "kernels.hpp"

namespace rnnattn::kernels {
namespace {

namespace cg = cooperative_groups;

constexpr int kSlice = 16;     // hidden units per block
constexpr int kThreads = 256;  // kSlice unit lanes x 16 row lanes
constexpr int kRowLanes = kThreads / kSlice;
constexpr int kMaxBatch = 4096;

struct PersistScratch {
  float* hbuf;   // [2][B][H]  h_{t-1} / h_t
  float* upart;  // [2][B][blocks] per-block partial scores
  float* acc;    // [B][H]  sum_t exp(e_t) h_t
  float* ctx;    // [B][H]  context (when the caller stores none)
};

__global__ void __launch_bounds__(kThreads)
    persistent_forward_kernel(FusedForwardArgs a, PersistScratch s, int blocks) {
  cg::grid_group grid = cg::this_grid();
  float* smem = dynamic_shared<float>();
  const int B = a.shape.batch, T = a.shape.steps, D = a.shape.input, H = a.shape.hidden,
            O = a.shape.output;
  const bool attention = a.shape.attention;
  float* wh_s = smem;                // [H][kSlice]
  float* sum_s = wh_s + H * kSlice;  // [B]  running S
  float* w_s = sum_s + B;            // [B]  exp(e_t) of this step
  const int jj = threadIdx.x % kSlice, r0 = threadIdx.x / kSlice;
  const int j = blockIdx.x * kSlice + jj;
  const bool unit = j < H;

  for (int i = threadIdx.x; i < H * kSlice; i += blockDim.x) {
    const int k = i / kSlice, c = blockIdx.x * kSlice + i % kSlice;
    wh_s[i] = c < H ? a.w.wh[static_cast<std::size_t>(k) * H + c] : 0.f;
  }
  for (int b = threadIdx.x; b < B; b += blockDim.x) sum_s[b] = 0.f;
  __syncthreads();

  const float bh = unit ? a.w.bh[j] : 0.f;
  const float wa = (attention && unit) ? a.w.wa[j] : 0.f;
  const int rows = (B + kRowLanes - 1) / kRowLanes;  // uniform across the block
  int cur = 0;
  for (int t = 0; t < T; ++t) {
    const float* hprev = s.hbuf + static_cast<std::size_t>(cur) * B * H;
    float* hnext = s.hbuf + static_cast<std::size_t>(cur ^ 1) * B * H;
    float* upart = s.upart + static_cast<std::size_t>(t & 1) * B * blocks;
    for (int r = 0; r < rows; ++r) {
      const int b = r0 + r * kRowLanes;
      float h = 0.f;
      if (b < B && unit) {
        const std::size_t row = static_cast<std::size_t>(b) * T + t;
        const float* hp = hprev + static_cast<std::size_t>(b) * H;
        if (t < sequence_length(a.lengths, b, T)) {
          float z = bh;
          if (a.xw) {
            z += a.xw[row * H + j];
          } else {
            for (int k = 0; k < D; ++k) z += a.x[row * D + k] * a.w.wx[k * H + j];
          }
          for (int k = 0; k < H; ++k) z += hp[k] * wh_s[k * kSlice + jj];
          h = tanhf(z);
        } else {
          h = hp[j];  // padding keeps the state
        }
        hnext[static_cast<std::size_t>(b) * H + j] = h;
        if (a.hidden) a.hidden[row * H + j] = h;
      }
      if (attention) {
        // The 16 unit lanes of this row are 16 consecutive lanes of one warp.
        float p = h * wa;
        for (int off = kSlice / 2; off > 0; off >>= 1) {
          p += __shfl_xor_sync(0xffffffffu, p, off, kSlice);
        }
        if (jj == 0 && b < B) upart[static_cast<std::size_t>(b) * blocks + blockIdx.x] = p;
      }
    }
    grid.sync();  // h_t and the partial scores of every block are visible
    if (attention) {
      for (int b = threadIdx.x; b < B; b += blockDim.x) {
        float u = a.w.ba[t];
        for (int k = 0; k < blocks; ++k) u += upart[static_cast<std::size_t>(b) * blocks + k];
        const bool valid = t < sequence_length(a.lengths, b, T);  // padding: no weight
        const float e = valid ? tanhf(u) : 0.f, w = valid ? expf(e) : 0.f;
        sum_s[b] += w;
        w_s[b] = w;
        if (blockIdx.x == 0) {
          if (a.scores) a.scores[static_cast<std::size_t>(b) * T + t] = e;
          if (a.attention) a.attention[static_cast<std::size_t>(b) * T + t] = w;
        }
      }
      __syncthreads();
      for (int r = 0; r < rows; ++r) {
        const int b = r0 + r * kRowLanes;
        if (b < B && unit) {
          const std::size_t i = static_cast<std::size_t>(b) * H + j;
          s.acc[i] += w_s[b] * hnext[i];
        }
      }
      __syncthreads();  // w_s is rewritten next step
    }
    cur ^= 1;
  }

  // Context for the block's units; then the head from all of them.
  float* ctx = a.context ? a.context : s.ctx;
  const float* hlast = s.hbuf + static_cast<std::size_t>(cur) * B * H;
  for (int r = 0; r < rows; ++r) {
    const int b = r0 + r * kRowLanes;
    if (b < B && unit) {
      const std::size_t i = static_cast<std::size_t>(b) * H + j;
      ctx[i] = attention ? s.acc[i] / sum_s[b] : hlast[i];
    }
  }
  grid.sync();
  // Head: one warp per (sequence, output) over every block's warps; the lanes split the H-long
  // dot product (coalesced reads of the context row) and reduce it with shuffles in a fixed order.
  const int lane = threadIdx.x % 32, warps = blockDim.x / 32;
  for (int i = blockIdx.x * warps + threadIdx.x / 32; i < B * O; i += gridDim.x * warps) {
    const int b = i / O, o = i % O;
    float v = 0.f;
    for (int k = lane; k < H; k += 32) {
      v += ctx[static_cast<std::size_t>(b) * H + k] * a.w.wd[k * O + o];
    }
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    if (lane == 0) a.y[i] = head_act(a.shape.head, v + a.w.bd[o]);
  }
  // The softmax's sums and weights, sequences spread over every block's threads (each block holds
  // the same S; block 0's weights of every step are visible since the grid syncs).
  if (attention) {
    for (int b = blockIdx.x * blockDim.x + threadIdx.x; b < B; b += gridDim.x * blockDim.x) {
      if (a.expsum) a.expsum[b] = sum_s[b];
      if (a.attention) {
        for (int t = 0; t < T; ++t) a.attention[static_cast<std::size_t>(b) * T + t] /= sum_s[b];
      }
    }
  }
}

int blocks_for_hidden(int hidden) { return (hidden + kSlice - 1) / kSlice; }

}  // namespace

std::size_t persistent_scratch_floats(const Shape& s) {
  const std::size_t bh = static_cast<std::size_t>(s.batch) * s.hidden;
  return 2 * bh + 2 * static_cast<std::size_t>(s.batch) * blocks_for_hidden(s.hidden) + 2 * bh;
}

bool persistent_forward(const FusedForwardArgs& a, float* scratch, cudaStream_t stream) {
  const Shape& s = a.shape;
  if (s.batch < 1 || s.batch > kMaxBatch) return false;
  const int blocks = blocks_for_hidden(s.hidden);
  const std::size_t smem =
      sizeof(float) * (static_cast<std::size_t>(s.hidden) * kSlice + 2 * s.batch);
  int device = 0, optin = 0, sms = 0, coop = 0;
  RNNATTN_CUDA_CHECK(cudaGetDevice(&device));
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, device));
  RNNATTN_CUDA_CHECK(
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  if (!coop || smem > static_cast<std::size_t>(optin)) return false;
  allow_max_dynamic_shared<persistent_forward_kernel>();
  int per_sm = 0;
  RNNATTN_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &per_sm, persistent_forward_kernel, kThreads, smem));
  if (per_sm * sms < blocks) return false;  // not all blocks co-resident: no grid barrier

  const std::size_t bh = static_cast<std::size_t>(s.batch) * s.hidden;
  PersistScratch ps{scratch, scratch + 2 * bh, scratch + 2 * bh + 2 * s.batch * blocks, nullptr};
  ps.ctx = ps.acc + bh;
  // h_0 = 0 and the attention accumulator starts at 0.
  RNNATTN_CUDA_CHECK(cudaMemsetAsync(ps.hbuf, 0, bh * sizeof(float), stream));
  RNNATTN_CUDA_CHECK(cudaMemsetAsync(ps.acc, 0, bh * sizeof(float), stream));
  launch_cooperative("persistent_forward_kernel", persistent_forward_kernel, dim3(blocks),
                     dim3(kThreads), smem, stream, a, ps, blocks);
  return true;
}

}  // namespace rnnattn::kernels
