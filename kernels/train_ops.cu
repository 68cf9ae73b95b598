// Training-step kernels: loss (value and gradient), Adam over the flat parameter buffer, and the
// bookkeeping that lets one captured CUDA Graph replay every step of an epoch (a device-side step
// counter for Adam's bias correction and a cursor into the epoch's sample order), and the
// transpose of Wh that the backward kernels read.
//
// Work mapping: loss_kernel is one block of 256 threads striding over the B*O predictions and
// reducing in a fixed tree order (deterministic); adam_kernel and gather_kernel are one thread per
// element; advance_kernel is a single thread.
#include <cuda_runtime.h>

#include "cuda_compat.cuh"
#include "cuda_utils.hpp"
#include "kernels.hpp"

namespace rnnattn::kernels {
namespace {

constexpr int kLossThreads = 256;

__global__ void __launch_bounds__(kLossThreads)
    loss_kernel(int loss, const float* y, const float* target, int n, int outputs, float* dy,
                double* loss_acc) {
  RNNATTN_SHARED_ARRAY(double, partial, kLossThreads);
  // MSE and BCE average over every prediction, CCE over the rows.
  const double inv_n = 1.0 / (loss == 2 ? n / outputs : n);
  const double eps = 1e-7;  // Keras' clipping of probabilities
  double local = 0.0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const double yi = y[i], ti = target[i];
    const bool clipped = yi < eps || yi > 1.0 - eps;
    const double yc = fmin(fmax(yi, eps), 1.0 - eps);
    if (loss == 0) {  // MSE
      const double d = yi - ti;
      local += d * d;
      dy[i] = static_cast<float>(2.0 * d * inv_n);
    } else if (loss == 1) {  // BCE on probabilities
      local += -(ti * log(yc) + (1.0 - ti) * log(1.0 - yc));
      dy[i] = clipped ? 0.f : static_cast<float>((yc - ti) / (yc * (1.0 - yc)) * inv_n);
    } else {  // CCE on a softmax's rows
      local += -ti * log(yc);
      dy[i] = clipped ? 0.f : static_cast<float>(-ti / yc * inv_n);
    }
  }
  partial[threadIdx.x] = local;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0 && loss_acc) *loss_acc += partial[0] * inv_n;
}

__global__ void __launch_bounds__(256)
    adam_kernel(float* p, const float* g, float* m, float* v, int n, float lr, float b1, float b2,
                float eps, const long long* step) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const double t = static_cast<double>(*step);
  // Same arithmetic as the CPU's adam_update: the step size in double, the update in float.
  const float alpha = static_cast<float>(lr * sqrt(1.0 - pow(static_cast<double>(b2), t)) /
                                         (1.0 - pow(static_cast<double>(b1), t)));
  const float gi = g[i];
  const float mi = b1 * m[i] + (1.f - b1) * gi;
  const float vi = b2 * v[i] + (1.f - b2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  p[i] -= alpha * mi / (sqrtf(vi) + eps);
}

__global__ void advance_kernel(long long* step, int* cursor, int batch) {
  if (step) *step += 1;
  if (cursor) *cursor += batch;
}

__global__ void __launch_bounds__(256)
    gather_kernel(const float* all_x, const float* all_y, const int* all_len, const int* order,
                  const int* cursor, int batch, int x_row, int y_row, float* x, float* y,
                  int* len) {
  const int per = x_row + y_row + 1;  // the last column of a row: its length
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(batch) * per) return;
  const int r = static_cast<int>(i / per), c = static_cast<int>(i % per);
  const int src = order[*cursor + r];
  if (c == per - 1) {
    if (all_len) len[r] = all_len[src];
  } else if (c < x_row) {
    x[static_cast<std::size_t>(r) * x_row + c] = all_x[static_cast<std::size_t>(src) * x_row + c];
  } else {
    y[static_cast<std::size_t>(r) * y_row + (c - x_row)] =
        all_y[static_cast<std::size_t>(src) * y_row + (c - x_row)];
  }
}

__global__ void __launch_bounds__(256) fill_kernel(float* p, std::size_t n, float value) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) p[i] = value;
}

__global__ void __launch_bounds__(256)
    gather_tokens_kernel(const int* all_tokens, const int* order, const int* cursor, int batch,
                         int steps, int* tokens) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(batch) * steps) return;
  const int r = static_cast<int>(i / steps), t = static_cast<int>(i % steps);
  tokens[i] = all_tokens[static_cast<std::size_t>(order[*cursor + r]) * steps + t];
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

void loss_forward_backward(int loss, const float* y, const float* target, int n, int outputs,
                           float* dy, double* loss_acc, cudaStream_t stream) {
  if (n < 1) return;
  if (outputs < 1 || n % outputs != 0) {
    throw InvalidArgument("loss_forward_backward: " + std::to_string(n) +
                          " predictions are not rows of " + std::to_string(outputs));
  }
  launch_kernel<loss_kernel>("loss_kernel", 1, kLossThreads, 0, stream, loss, y, target, n, outputs,
                             dy, loss_acc);
}

void adam_update(float* params, const float* grads, float* m, float* v, int n, float lr,
                 float beta1, float beta2, float epsilon, const long long* step,
                 cudaStream_t stream) {
  if (n < 1) return;
  launch_kernel<adam_kernel>("adam_kernel", blocks_for(n, 256), 256, 0, stream, params, grads, m, v,
                             n, lr, beta1, beta2, epsilon, step);
}

void advance_counters(long long* step, int* cursor, int batch, cudaStream_t stream) {
  launch_kernel<advance_kernel>("advance_kernel", 1, 1, 0, stream, step, cursor, batch);
}

void gather_batch(const float* all_x, const float* all_y, const int* all_len, const int* order,
                  const int* cursor, int batch, int x_row, int y_row, float* x, float* y, int* len,
                  cudaStream_t stream) {
  if (batch < 1) return;
  const std::size_t total = static_cast<std::size_t>(batch) * (x_row + y_row + 1);
  launch_kernel<gather_kernel>("gather_kernel", blocks_for(total, 256), 256, 0, stream, all_x,
                               all_y, all_len, order, cursor, batch, x_row, y_row, x, y, len);
}

void gather_token_rows(const int* all_tokens, const int* order, const int* cursor, int batch,
                       int steps, int* tokens, cudaStream_t stream) {
  const std::size_t total = static_cast<std::size_t>(batch) * steps;
  if (total == 0) return;
  launch_kernel<gather_tokens_kernel>("gather_tokens_kernel", blocks_for(total, 256), 256, 0,
                                      stream, all_tokens, order, cursor, batch, steps, tokens);
}

void fill(float* p, std::size_t n, float value, cudaStream_t stream) {
  if (n == 0) return;
  launch_kernel<fill_kernel>("fill_kernel", blocks_for(n, 256), 256, 0, stream, p, n, value);
}

void transpose(const float* in, float* out, int rows, int cols, cudaStream_t stream) {
  if (rows < 1 || cols < 1) return;
  const dim3 tiles(static_cast<unsigned>((cols + kTile - 1) / kTile),
                   static_cast<unsigned>((rows + kTile - 1) / kTile));
  launch_kernel<transpose_kernel>("transpose_kernel", tiles, dim3(kTile, kTileRows), 0, stream, in,
                                  out, rows, cols);
}

}  // namespace rnnattn::kernels
