// The unfused GPU path: the classic implementation a user would write from library calls, one
// launch per operation and per time step. It is the differential check of the fused kernels and
// the benchmark's baseline. The device API strings these together with cuBLAS GEMMs:
//   the recurrence of any cell (Elman, LSTM, GRU), per step: rec = h_{t-1} Wh (a GEMM), then
//   unfused_step, cells.cuh's step on xw_t + b and rec (xw = x Wx: one GEMM before); its BPTT per
//   step against the direction: unfused_step_backward, then carry += d_rec Wh^T (a GEMM);
//   a one-layer Elman model's attention and head as separate kernels: scores (unfused_scores),
//   softmax sums (CUB segmented reduction, unfused_row_sums) and weights (unfused_normalise),
//   context (unfused_context), head GEMM and unfused_bias_act; their backward
//   (unfused_attention_backward). The weight gradients are the same large GEMMs as the fused
//   path's.
// Work mapping: one thread per output element in every kernel (per (b, j), (b, t) or (b, o)).
#include <cuda_runtime.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>

#include <cub/device/device_segmented_reduce.cuh>
#include <string>

#include "cells.cuh"
#include "cuda_compat.cuh"
#include "cuda_utils.hpp"
#include "device_common.cuh"
#include "kernels.hpp"

namespace rnnattn::kernels {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(long long n) { return kernels::blocks_for(n, kThreads); }

__global__ void __launch_bounds__(kThreads)
    scores_kernel(const float* h, const float* wa, const float* ba, int batch, int steps,
                  int hidden, const int* lengths, float* scores, float* ex) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(batch) * steps) return;
  const int t = static_cast<int>(i % steps);
  if (t >= sequence_length(lengths, static_cast<int>(i / steps), steps)) {
    scores[i] = 0.f;  // padding: no weight
    ex[i] = 0.f;
    return;
  }
  const float* row = h + i * hidden;
  float u = ba[t];
  for (int j = 0; j < hidden; ++j) u += row[j] * wa[j];
  const float e = tanhf(u);
  scores[i] = e;
  ex[i] = expf(e);
}

__global__ void __launch_bounds__(kThreads)
    normalise_kernel(const float* ex, const float* sum, int batch, int steps, float* a) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(batch) * steps) return;
  a[i] = ex[i] / sum[i / steps];
}

__global__ void __launch_bounds__(kThreads)
    context_kernel(const float* h, const float* a, int batch, int steps, int hidden, float* c) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(batch) * hidden) return;
  const int b = static_cast<int>(i / hidden), j = static_cast<int>(i % hidden);
  float acc = 0.f;
  for (int t = 0; t < steps; ++t) {
    acc += a[static_cast<std::size_t>(b) * steps + t] *
           h[(static_cast<std::size_t>(b) * steps + t) * hidden + j];
  }
  c[i] = acc;
}

__global__ void __launch_bounds__(kThreads)
    bias_act_kernel(float* y, const float* bd, int batch, int outputs, int head) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(batch) * outputs) return;
  y[i] = head_act(head, y[i] + bd[i % outputs]);
}

// dpre[b,o] and dc[b,j] = sum_o dpre[b,o] Wd[j,o]; one thread per (b, j).
__global__ void __launch_bounds__(kThreads)
    head_backward_kernel(Shape s, Weights w, const float* y, const float* dy, float* dpre,
                         float* dc) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(s.batch) * s.hidden) return;
  const int b = static_cast<int>(i / s.hidden), j = static_cast<int>(i % s.hidden);
  float acc = 0.f;
  for (int o = 0; o < s.output; ++o) {
    const std::size_t k = static_cast<std::size_t>(b) * s.output + o;
    const float d = dy[k] * head_act_grad(s.head, y[k]);
    if (j == 0) dpre[k] = d;
    acc += d * w.wd[j * s.output + o];
  }
  dc[i] = acc;
}

// g_dot_c[b] = dc[b,:] . c[b,:]; one thread per b.
__global__ void __launch_bounds__(kThreads)
    dot_rows_kernel(const float* a, const float* b, int rows, int cols, float* out) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  float acc = 0.f;
  for (int j = 0; j < cols; ++j)
    acc += a[static_cast<std::size_t>(r) * cols + j] * b[static_cast<std::size_t>(r) * cols + j];
  out[r] = acc;
}

// du[b,t] and dh[b,t,:]; one thread per (b, t).
__global__ void __launch_bounds__(kThreads)
    attention_backward_kernel(Shape s, Weights w, const float* h, const float* e, const float* a,
                              const float* dc, const float* g_dot_c, float* du, float* dh) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(s.batch) * s.steps) return;
  const int b = static_cast<int>(i / s.steps), t = static_cast<int>(i % s.steps);
  const float* g = dc + static_cast<std::size_t>(b) * s.hidden;
  const float* ht = h + i * s.hidden;
  float* dht = dh + i * s.hidden;
  if (!s.attention) {
    for (int j = 0; j < s.hidden; ++j) dht[j] = t == s.steps - 1 ? g[j] : 0.f;
    return;
  }
  float g_dot_h = 0.f;
  for (int j = 0; j < s.hidden; ++j) g_dot_h += g[j] * ht[j];
  const float et = e[i];
  const float d = a[i] * (g_dot_h - g_dot_c[b]) * (1.f - et * et);
  du[i] = d;
  for (int j = 0; j < s.hidden; ++j) dht[j] = a[i] * g[j] + d * w.wa[j];
}

// Segment offsets for CUB: row r spans [r * cols, (r + 1) * cols).
struct RowOffset {
  int cols;
  __host__ __device__ int operator()(int r) const { return r * cols; }
};

// ---- the recurrence of any cell: per step a cuBLAS GEMM (rec = h_{t-1} Wh, or carry += d_rec
// Wh^T) and one of these elementwise kernels over cells.cuh's step, one thread per (b, j) -----
constexpr int kStepThreads = 256;

// The (sequence b, unit j) of an elementwise step kernel's thread (one per (b, j), flat index i),
// with step n's time t and the time tp of the step processed before it (-1 at n = 0); false past
// the last pair.
struct StepUnit {
  std::size_t i;
  int b, j, t, tp;
};
template <typename Args>
__device__ __forceinline__ bool step_unit(const Args& a, int n, StepUnit* u) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(a.batch) * a.hidden) return false;
  u->i = static_cast<std::size_t>(i);
  u->b = static_cast<int>(i / a.hidden);
  u->j = static_cast<int>(i % a.hidden);
  u->t = step_at(a.direction, n, a.steps);
  u->tp = n > 0 ? step_at(a.direction, n - 1, a.steps) : -1;
  return true;
}

// Step n of the block's processing order: the cell on xw_t + b and rec [B,G*H] (the GEMM of the
// previous state; not read at n = 0), or on padding the previous state and what it kept again.
template <Cell kCell>
__global__ void __launch_bounds__(kStepThreads)
    unfused_step_kernel(CellForwardArgs a, const float* rec_in, int n) {
  constexpr int G = gate_count(kCell), A = kept_of(kCell);
  const int T = a.steps, H = a.hidden, C = a.stride, GH = G * H;
  StepUnit u;
  if (!step_unit(a, n, &u)) return;
  const int b = u.b, j = u.j, t = u.t, tp = u.tp;
  const std::size_t row = static_cast<std::size_t>(b) * T + t;
  const std::size_t prow = static_cast<std::size_t>(b) * T + tp;
  float kept[kept_slots(kCell)];
  float h;
  if (t < sequence_length(a.lengths, b, T)) {
    float xin[G], rec[G];
    for (int q = 0; q < G; ++q) {
      xin[q] = a.bias[q * H + j] + a.xw[row * GH + q * H + j];
      const float brec = kCell == Cell::kGru ? a.bias[GH + q * H + j] : 0.f;
      rec[q] = rec_start<kCell>(xin[q], brec) +
               (tp < 0 ? 0.f : rec_in[static_cast<std::size_t>(b) * GH + q * H + j]);
    }
    float prev = 0.f;
    if (tp >= 0 && kCell != Cell::kElman) {
      prev = kCell == Cell::kLstm ? a.aux[prow * A * H + (A - 1) * H + j] : a.out[prow * C + j];
    }
    h = cell_step<kCell>(xin, rec, prev, kept);
  } else {  // padding: the state and what it kept pass through
    h = tp < 0 ? 0.f : a.out[prow * C + j];
    for (int q = 0; q < A; ++q) kept[q] = tp < 0 ? 0.f : a.aux[prow * A * H + q * H + j];
  }
  a.out[row * C + j] = h;
  for (int q = 0; q < A; ++q) a.aux[row * A * H + q * H + j] = kept[q];
}

// Step n of the BPTT (n = T-1 first). carry [B,H] holds dL/dh_t from the steps processed after
// t (the GEMM after the previous call added d_rec Wh^T); the kernel leaves in it what the next
// GEMM (beta = 1) adds to: the direct part, or on padding dL/dh_t itself. carry_c [B,H]: the
// LSTM's dL/dc.
template <Cell kCell>
__global__ void __launch_bounds__(kStepThreads)
    unfused_step_backward_kernel(CellBackwardArgs a, float* carry, float* carry_c, int n) {
  constexpr int G = gate_count(kCell), A = kept_of(kCell);
  const int T = a.steps, H = a.hidden, C = a.stride, GH = G * H;
  StepUnit u;
  if (!step_unit(a, n, &u)) return;
  const int b = u.b, j = u.j, t = u.t, tp = u.tp;
  const std::size_t i = u.i;
  const std::size_t seq = static_cast<std::size_t>(b) * T, row = seq + t;
  const bool valid = t < sequence_length(a.lengths, b, T);
  if (n == T - 1) {  // the step processed last has no successor
    for (int q = 0; q < G; ++q) a.drec_next[row * GH + q * H + j] = 0.f;
  }
  float din[G], drec[G];
  for (int q = 0; q < G; ++q) din[q] = drec[q] = 0.f;
  const float dh = carry[i] + a.dout[row * C + j];
  float next = dh;  // padding passes dL/dh (and dL/dc) through to the previous state
  if (valid) {
    float prev = 0.f;
    if (tp >= 0 && kCell != Cell::kElman) {
      prev = kCell == Cell::kLstm ? a.aux[(seq + tp) * A * H + (A - 1) * H + j]
                                  : a.states[(seq + tp) * C + j];
    }
    float cc = kCell == Cell::kLstm ? carry_c[i] : 0.f;
    // What the step kept: the Elman cell's is its state.
    const float* k = kCell == Cell::kElman ? a.states + row * C + j : a.aux + row * A * H + j;
    next = cell_step_backward<kCell>(k, H, prev, dh, cc, din, drec);
    if (kCell == Cell::kLstm) carry_c[i] = cc;
  }
  store_step_gradients<G>(a, b, t, tp, j, din, drec);
  carry[i] = next;
}

// Blocks of the elementwise step kernels: one thread per (b, j).
template <typename Args>
unsigned step_blocks(const Args& a) {
  return static_cast<unsigned>((static_cast<long long>(a.batch) * a.hidden + kStepThreads - 1) /
                               kStepThreads);
}

// The kernels' names by pass (0 forward, 1 backward) and cell.
const char* const kStepNames[2][3] = {
    {"unfused_step_kernel<elman>", "unfused_step_kernel<lstm>", "unfused_step_kernel<gru>"},
    {"unfused_step_backward_kernel<elman>", "unfused_step_backward_kernel<lstm>",
     "unfused_step_backward_kernel<gru>"}};

}  // namespace

void unfused_scores(const float* hidden, const float* wa, const float* ba, int batch, int steps,
                    int hidden_size, const int* lengths, float* scores, float* ex,
                    cudaStream_t stream) {
  launch_kernel<scores_kernel>("scores_kernel", blocks_for(static_cast<long long>(batch) * steps),
                               kThreads, 0, stream, hidden, wa, ba, batch, steps, hidden_size,
                               lengths, scores, ex);
}

void unfused_normalise(const float* ex, const float* sum, int batch, int steps, float* a,
                       cudaStream_t stream) {
  launch_kernel<normalise_kernel>("normalise_kernel",
                                  blocks_for(static_cast<long long>(batch) * steps), kThreads, 0,
                                  stream, ex, sum, batch, steps, a);
}

void unfused_row_sums(const float* m, int rows, int cols, float* out, void* temp,
                      std::size_t* temp_bytes, cudaStream_t stream) {
  // With temp == null this only sets *temp_bytes (CUB's size query).
  const auto begin =
      thrust::make_transform_iterator(thrust::make_counting_iterator(0), RowOffset{cols});
  RNNATTN_CUDA_CHECK(
      cub::DeviceSegmentedReduce::Sum(temp, *temp_bytes, m, out, rows, begin, begin + 1, stream));
}

void unfused_attention_backward(const Shape& s, const Weights& w, const float* hidden,
                                const float* scores, const float* attention, const float* context,
                                const float* y, const float* dy, float* dpre, float* dc,
                                float* g_dot_c, float* du, float* dh, cudaStream_t stream) {
  launch_kernel<head_backward_kernel>("head_backward_kernel",
                                      blocks_for(static_cast<long long>(s.batch) * s.hidden),
                                      kThreads, 0, stream, s, w, y, dy, dpre, dc);
  if (s.attention) {
    launch_kernel<dot_rows_kernel>("dot_rows_kernel", blocks_for(s.batch), kThreads, 0, stream, dc,
                                   context, s.batch, s.hidden, g_dot_c);
  }
  launch_kernel<attention_backward_kernel>(
      "attention_backward_kernel", blocks_for(static_cast<long long>(s.batch) * s.steps), kThreads,
      0, stream, s, w, hidden, scores, attention, dc, g_dot_c, du, dh);
}

void unfused_context(const float* hidden, const float* a, int batch, int steps, int hidden_size,
                     float* context, cudaStream_t stream) {
  launch_kernel<context_kernel>("context_kernel",
                                blocks_for(static_cast<long long>(batch) * hidden_size), kThreads,
                                0, stream, hidden, a, batch, steps, hidden_size, context);
}

void unfused_bias_act(float* y, const float* bd, int batch, int outputs, int head,
                      cudaStream_t stream) {
  launch_kernel<bias_act_kernel>("bias_act_kernel",
                                 blocks_for(static_cast<long long>(batch) * outputs), kThreads, 0,
                                 stream, y, bd, batch, outputs, head);
}

void unfused_step(const CellForwardArgs& a, const float* rec, int n, cudaStream_t stream) {
  if (a.batch < 1) return;
  if (!a.out) throw InvalidArgument("unfused_step: out is null (the next step reads it back)");
  if (a.cell != Cell::kElman && !a.aux)
    throw InvalidArgument("unfused_step: aux is null (the next step reads it back)");
  dispatch_cell(a.cell, "unfused_step", [&](auto cell) {
    constexpr Cell kCell = decltype(cell)::value;
    launch_kernel<unfused_step_kernel<kCell>>(kStepNames[0][static_cast<int>(kCell)],
                                              step_blocks(a), kStepThreads, 0, stream, a, rec, n);
  });
}

void unfused_step_backward(const CellBackwardArgs& a, float* carry, float* carry_c, int n,
                           cudaStream_t stream) {
  if (a.batch < 1) return;
  dispatch_cell(a.cell, "unfused_step_backward", [&](auto cell) {
    constexpr Cell kCell = decltype(cell)::value;
    launch_kernel<unfused_step_backward_kernel<kCell>>(kStepNames[1][static_cast<int>(kCell)],
                                                       step_blocks(a), kStepThreads, 0, stream, a,
                                                       carry, carry_c, n);
  });
}

}  // namespace rnnattn::kernels
