// The embedding of a model with one (config.vocab_size = V > 0), on the GPU: the forward gathers
// the table's rows into x [B, T, D]; the backward sums dx into the rows of the ids that occur as a
// deterministic segmented reduction (CUB's radix sort of the ids, stable, then one sum per id in
// the sorted order), never atomics, so the same inputs give the same bits.
//
// Work mapping:
//   embedding_gather_kernel: one thread per element of x (consecutive threads, consecutive k of a
//     row: coalesced reads of the table row and writes of x).
//   embedding_keys_kernel: one thread per position (b, t): key = its id, or V (past every id) on
//     a padding step or for an id outside [0, V); value = b * T + t.
//   embedding_reduce_kernel: one block per sorted position; the block at the first position of an
//     id's run sums dx over that run for its D columns (threads over k, coalesced dx rows), in
//     ascending position order, and writes the row; every other block returns at once. A run is
//     as long as its id is frequent, so frequent words cost one longer block, not contention.
#include <cuda_runtime.h>

#include <cub/device/device_radix_sort.cuh>

#include "cuda_compat.cuh"
#include "cuda_utils.hpp"
#include "device_common.cuh"
#include "kernels.hpp"

namespace rnnattn::kernels {
namespace {

constexpr int kGatherThreads = 256;

__global__ void __launch_bounds__(kGatherThreads)
    embedding_gather_kernel(const float* table, const int* tokens, const int* lengths, int batch,
                            int steps, int dim, int vocab, float* x) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  const long long total = static_cast<long long>(batch) * steps * dim;
  if (i >= total) return;
  const long long bt = i / dim;
  const int k = static_cast<int>(i % dim);
  const int b = static_cast<int>(bt / steps), t = static_cast<int>(bt % steps);
  float v = 0.f;
  if (t < sequence_length(lengths, b, steps)) {
    const int id = tokens[bt];
    if (id >= 0 && id < vocab) v = table[static_cast<long long>(id) * dim + k];
  }
  x[i] = v;
}

__global__ void __launch_bounds__(kGatherThreads)
    embedding_keys_kernel(const int* tokens, const int* lengths, int batch, int steps, int vocab,
                          int* keys, int* positions) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= batch * steps) return;
  const int b = i / steps, t = i % steps;
  int key = vocab;
  if (t < sequence_length(lengths, b, steps)) {
    const int id = tokens[i];
    if (id >= 0 && id < vocab) key = id;
  }
  keys[i] = key;
  positions[i] = i;
}

__global__ void __launch_bounds__(kEmbeddingReduceThreads)
    embedding_reduce_kernel(const int* keys, const int* positions, int n, const float* dx, int dim,
                            int vocab, bool accumulate, float* dtable) {
  const int i = blockIdx.x;
  const int key = keys[i];
  if (key >= vocab || (i > 0 && keys[i - 1] == key)) return;  // padding, or not a run's start
  int end = i + 1;
  while (end < n && keys[end] == key) ++end;
  for (int k = threadIdx.x; k < dim; k += blockDim.x) {
    float acc = 0.f;
    for (int j = i; j < end; ++j) acc += dx[static_cast<long long>(positions[j]) * dim + k];
    float& out = dtable[static_cast<long long>(key) * dim + k];
    out = accumulate ? out + acc : acc;
  }
}

// Bits of the sort's keys: ids 0..V-1 and the padding key V.
int key_bits(int vocab) {
  int bits = 1;
  while ((1ll << bits) <= vocab) ++bits;
  return bits;
}

std::size_t align_up(std::size_t n) { return (n + 255) / 256 * 256; }

}  // namespace

void embedding_forward(const float* table, const int* tokens, const int* lengths, int batch,
                       int steps, int dim, int vocab, float* x, cudaStream_t stream) {
  const long long total = static_cast<long long>(batch) * steps * dim;
  if (total == 0) return;
  launch_kernel<embedding_gather_kernel>(
      "embedding_gather_kernel", blocks_for(total, kGatherThreads), kGatherThreads, 0, stream,
      table, tokens, lengths, batch, steps, dim, vocab, x);
}

std::size_t embedding_workspace_size(int batch, int steps, int vocab) {
  const int n = batch * steps;
  std::size_t sort_bytes = 0;
  RNNATTN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, sort_bytes, static_cast<int*>(nullptr), static_cast<int*>(nullptr),
      static_cast<int*>(nullptr), static_cast<int*>(nullptr), n, 0, key_bits(vocab)));
  return 4 * align_up(static_cast<std::size_t>(n) * sizeof(int)) + align_up(sort_bytes);
}

void embedding_backward(const int* tokens, const int* lengths, int batch, int steps, int dim,
                        int vocab, const float* dx, bool accumulate, float* dtable, void* workspace,
                        std::size_t workspace_bytes, cudaStream_t stream) {
  const int n = batch * steps;
  if (!accumulate) {
    RNNATTN_CUDA_CHECK(
        cudaMemsetAsync(dtable, 0, static_cast<std::size_t>(vocab) * dim * sizeof(float), stream));
  }
  if (n == 0) return;
  // The workspace: keys and positions before and after the sort, then CUB's scratch.
  const std::size_t part = align_up(static_cast<std::size_t>(n) * sizeof(int));
  auto* base = static_cast<unsigned char*>(workspace);
  int* keys_in = reinterpret_cast<int*>(base);
  int* pos_in = reinterpret_cast<int*>(base + part);
  int* keys_out = reinterpret_cast<int*>(base + 2 * part);
  int* pos_out = reinterpret_cast<int*>(base + 3 * part);
  void* sort_temp = base + 4 * part;
  std::size_t sort_bytes = workspace_bytes - 4 * part;
  launch_kernel<embedding_keys_kernel>("embedding_keys_kernel", blocks_for(n, kGatherThreads),
                                       kGatherThreads, 0, stream, tokens, lengths, batch, steps,
                                       vocab, keys_in, pos_in);
  // Radix sort is stable: each id's positions stay in ascending order, a fixed summation order.
  RNNATTN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      sort_temp, sort_bytes, keys_in, keys_out, pos_in, pos_out, n, 0, key_bits(vocab), stream));
  const int threads =
      dim >= kEmbeddingReduceThreads ? kEmbeddingReduceThreads : (dim + 31) / 32 * 32;
  launch_kernel<embedding_reduce_kernel>("embedding_reduce_kernel", static_cast<unsigned>(n),
                                         threads, 0, stream, keys_out, pos_out, n, dx, dim, vocab,
                                         accumulate, dtable);
}

}  // namespace rnnattn::kernels
