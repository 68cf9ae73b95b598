// Kernels for the simulator's own tests (tests/sim/test_simulator.cpp), built only in the GPU
// simulator build and instrumented like kernels/*.cu. Each `planted` variant carries one of the
// bugs the simulator must catch, next to the correct variant it is compared with; the others
// have a known access pattern for the counters.
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <string>

#include "kernels/cuda_compat.cuh"
#include "rnnattn/error.hpp"
#include "sim/sim_kernels.hpp"

namespace rnnattn::simtest {
namespace {

using kernels::dynamic_shared;
using kernels::launch_kernel;

// The fused kernels' exchange through shared memory: each thread publishes a value, then reads
// its neighbour's. Without the barrier between the two, the read races with the write.
__global__ void exchange_kernel(const float* in, float* out, bool with_barrier) {
  float* buf = dynamic_shared<float>();
  const int n = static_cast<int>(blockDim.x), t = static_cast<int>(threadIdx.x);
  buf[t] = in[blockIdx.x * n + t];
  if (with_barrier) __syncthreads();
  out[blockIdx.x * n + t] = buf[(t + 1) % n];
}

// out[b, t] = in[b, t] * 2 with the row and column swapped in the planted variant: with more
// threads per block than blocks, the store runs past the end of `out`.
__global__ void scale_kernel(const float* in, float* out, bool swapped) {
  const unsigned i = swapped ? threadIdx.x * gridDim.x + blockIdx.x * blockDim.x
                             : blockIdx.x * blockDim.x + threadIdx.x;
  out[i] = 2.f * in[blockIdx.x * blockDim.x + threadIdx.x];
}

// A sum over n elements whose planted loop bound reads one element past the end.
__global__ void sum_kernel(const float* in, int n, float* out, bool one_past) {
  float s = 0.f;
  for (int i = 0; one_past ? i <= n : i < n; ++i) s += in[i];
  *out = s;
}

__global__ void early_return_kernel(float* out) {
  float* buf = dynamic_shared<float>();
  if (threadIdx.x == 5) return;  // planted: thread 5 never reaches the barrier
  buf[threadIdx.x] = 1.f;
  __syncthreads();
  out[threadIdx.x] = buf[0];
}

__global__ void divergent_barrier_kernel(float* out) {
  if (threadIdx.x % 2) {
    __syncthreads();
  } else {
    __syncthreads();  // planted: another barrier
  }
  out[threadIdx.x] = 1.f;
}

// Lanes 0..15 shuffle with mask 0x0000ffff, but read from lanes 16..31 (xor 16).
__global__ void shuffle_outside_mask_kernel(float* out) {
  float v = static_cast<float>(threadIdx.x);
  if (threadIdx.x < 16) v = __shfl_xor_sync(0x0000ffffu, v, 16);
  out[threadIdx.x] = v;
}

// A full-warp shuffle in a block of 48 threads: lanes 16..31 of the second warp do not exist.
__global__ void shuffle_partial_warp_kernel(float* out) {
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.f, 1);
}

// Correct width-limited butterfly: every lane gets the sum of its group of `width` lanes.
__global__ void segment_sum_kernel(const float* in, float* out, int width) {
  float v = in[threadIdx.x];
  for (int off = width / 2; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off, width);
  out[threadIdx.x] = v;
}

__global__ void copy_strided_kernel(const float* in, float* out, int stride) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  out[i] = in[i * stride];
}

// Shared-memory reads with a stride of `stride` words: stride 32 puts all 32 lanes in one bank.
__global__ void bank_kernel(float* out, int stride) {
  float* s = dynamic_shared<float>();
  for (int i = threadIdx.x; i < 32 * 32; i += blockDim.x) s[i] = static_cast<float>(i);
  __syncthreads();
  out[threadIdx.x] = s[(threadIdx.x * stride) % (32 * 32)];
}

__global__ void cooperative_kernel(float* data, int n) {
  cooperative_groups::grid_group grid = cooperative_groups::this_grid();
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  data[i] = static_cast<float>(i);
  grid.sync();
  data[n + i] = data[(i + blockDim.x) % n];  // another block's value, written before the sync
}

__global__ void grid_exchange_kernel(float* data, int n, bool with_sync) {
  cooperative_groups::grid_group grid = cooperative_groups::this_grid();
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  data[i] = static_cast<float>(i);
  if (with_sync) grid.sync();
  data[n + i] = data[(i + blockDim.x) % n];  // the next block's value
}

__global__ void grid_steps_kernel(float* buf, int n, int steps, bool double_buffer) {
  cooperative_groups::grid_group grid = cooperative_groups::this_grid();
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  int cur = 0;
  for (int t = 0; t < steps; ++t) {
    const float* prev = buf + cur * n;
    float* next = buf + (double_buffer ? cur ^ 1 : cur) * n;
    const float v = prev[(i + blockDim.x) % n] * 0.5f + 1.f;
    next[i] = v;
    grid.sync();
    if (double_buffer) cur ^= 1;
  }
}

// Thread-block clusters: value i = blockIdx.x * blockDim.x + threadIdx.x travels to the next
// block of the cluster through distributed shared memory (push modes) or is read from it (pull
// modes); `mode` as cluster_exchange's.
__global__ void cluster_exchange_kernel(float* out, int mode) {
  cooperative_groups::cluster_group cluster = cooperative_groups::this_cluster();
  const unsigned n = cluster.num_blocks(), rank = cluster.block_rank();
  float* s = dynamic_shared<float>();
  const float value = static_cast<float>(blockIdx.x * blockDim.x + threadIdx.x);
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (mode <= 2) {  // push to the next rank
    s[threadIdx.x] = 0.f;
    if (mode != 2) cluster.sync();  // every block started and cleared before the pushes
    cluster.map_shared_rank(s, (rank + 1) % n)[threadIdx.x] = value;
    if (mode != 1) cluster.sync();  // the pushes landed
    out[i] = s[threadIdx.x];
  } else {  // pull from the next rank
    s[threadIdx.x] = value;
    cluster.sync();
    out[i] = cluster.map_shared_rank(s, (rank + 1) % n)[threadIdx.x];
    if (mode == 4) cluster.sync();  // nobody exits while another block reads its memory
  }
}

// A cluster barrier in a launch without clusters.
__global__ void cluster_sync_unclustered_kernel(float* out) {
  cooperative_groups::this_cluster().sync();
  out[threadIdx.x] = 1.f;
}

__global__ void accumulate_kernel(const float* in, float* sum, bool atomic) {
  const float v = in[blockIdx.x * blockDim.x + threadIdx.x];
  if (atomic) {
    atomicAdd(sum, v);
  } else {
    *sum += v;
  }
}

__global__ void store_one_word_kernel(float* out) { *out = static_cast<float>(threadIdx.x); }

__global__ void global_neighbour_kernel(float* g, float* out, bool with_barrier) {
  const int t = static_cast<int>(threadIdx.x), n = static_cast<int>(blockDim.x);
  g[t] = static_cast<float>(t) * 3.f;
  if (with_barrier) __syncthreads();
  out[t] = g[(t + 1) % n];
}

__global__ void atomic_and_plain_kernel(const float* in, float* sum) {
  atomicAdd(sum, in[blockIdx.x * blockDim.x + threadIdx.x]);
  if (blockIdx.x == 0 && threadIdx.x == 0) *sum = 0.f;
}

__global__ void warp_exchange_kernel(const float* in, float* out, int sync) {
  RNNATTN_SHARED_ARRAY(float, buf, 32);
  const int l = static_cast<int>(threadIdx.x);
  buf[l] = in[l];
  const unsigned half = l < 16 ? 0x0000ffffu : 0xffff0000u;
  if (sync == 1 || sync >= 4) __syncwarp();
  if (sync == 2 || sync == 3) __syncwarp(half);
  const int src = sync == 2 ? (l & 16) | ((l + 1) & 15) : (l + 1) % 32;
  out[l] = buf[src];
  if (sync >= 4) {
    if (sync == 4) __syncwarp();  // lane l - 1's read of buf[l] comes before lane l's update
    buf[l] += 1.f;                // each lane's read-modify-write of its own word
    out[l] += buf[l];
  }
}

__global__ void half_warp_sums_kernel(const float* in, float* out) {
  float v = in[threadIdx.x];
  if (threadIdx.x < 16) {
    for (int off = 8; off > 0; off /= 2) v += __shfl_xor_sync(0x0000ffffu, v, off);
  } else {
    for (int off = 8; off > 0; off /= 2) v += __shfl_xor_sync(0xffff0000u, v, off);
  }
  out[threadIdx.x] = v;
}

__global__ void block_order_kernel(int* counter, int* order) {
  if (threadIdx.x == 0) order[atomicAdd(counter, 1)] = static_cast<int>(blockIdx.x);
}

__global__ void add_one_kernel(const float* in, float* out) {
  out[threadIdx.x] = in[threadIdx.x] + 1.f;
}

// out[i] = i + dynamic floats of shared memory's first, through a static array of 64 floats (256
// bytes, as the cluster kernels' static arrays) and `dynamic` bytes of dynamic shared memory.
__global__ void static_array_kernel(float* out, int dynamic_floats) {
  RNNATTN_SHARED_ARRAY(float, fixed_s, 64);
  float* dyn = dynamic_shared<float>();
  const int t = static_cast<int>(threadIdx.x);
  fixed_s[t % 64] = static_cast<float>(t % 64);
  if (dynamic_floats > 0 && t == 0) dyn[dynamic_floats - 1] = 1.f;
  __syncthreads();
  out[blockIdx.x * blockDim.x + t] =
      fixed_s[t % 64] + (dynamic_floats > 0 ? dyn[dynamic_floats - 1] : 0.f);
}

// out[i] = i: a kernel with no shared memory whose registers the launch-rule tests declare.
__global__ void registers_kernel(float* out) {
  out[blockIdx.x * blockDim.x + threadIdx.x] =
      static_cast<float>(blockIdx.x * blockDim.x + threadIdx.x);
}

}  // namespace

const void* static_array_kernel_address() {
  kernels::detail::register_kernel<static_array_kernel>();
  return reinterpret_cast<const void*>(static_array_kernel);
}
int allow_static_array_dynamic_shared() {
  return kernels::allow_dynamic_shared<static_array_kernel>();
}
void static_array(float* out, int blocks, int threads, std::size_t dynamic_bytes, cudaStream_t s) {
  launch_kernel<static_array_kernel>("static_array_kernel", blocks, threads, dynamic_bytes, s, out,
                                     static_cast<int>(dynamic_bytes / sizeof(float)));
}
const void* registers_kernel_address() {
  kernels::detail::register_kernel<registers_kernel>();
  return reinterpret_cast<const void*>(registers_kernel);
}
std::string registers_launch(float* out, int blocks, int threads, bool cooperative,
                             unsigned cluster, cudaStream_t s) {
  try {
    if (cluster != 0) {
      kernels::launch_clustered<registers_kernel>("registers_kernel", cluster, blocks, threads, 0,
                                                  s, out);
    } else if (cooperative) {
      kernels::launch_cooperative<registers_kernel>("registers_kernel", blocks, threads, 0, s, out);
    } else {
      launch_kernel<registers_kernel>("registers_kernel", blocks, threads, 0, s, out);
    }
  } catch (const CudaError& e) {
    return e.what();
  }
  return "";
}

void grid_exchange(float* data, int blocks, int threads, bool with_sync, cudaStream_t s) {
  kernels::launch_cooperative<grid_exchange_kernel>("grid_exchange_kernel", blocks, threads, 0, s,
                                                    data, blocks * threads, with_sync);
}
void grid_steps(float* buf, int blocks, int threads, int steps, bool double_buffer,
                cudaStream_t s) {
  kernels::launch_cooperative<grid_steps_kernel>("grid_steps_kernel", blocks, threads, 0, s, buf,
                                                 blocks * threads, steps, double_buffer);
}
void cluster_exchange(float* out, int clusters, int cluster, int threads, int mode,
                      cudaStream_t s) {
  kernels::launch_clustered<cluster_exchange_kernel>(
      "cluster_exchange_kernel", static_cast<unsigned>(cluster), clusters * cluster, threads,
      threads * sizeof(float), s, out, mode);
}
void cluster_sync_unclustered(float* out, cudaStream_t s) {
  launch_kernel<cluster_sync_unclustered_kernel>("cluster_sync_unclustered_kernel", 2, 32, 0, s,
                                                 out);
}
void accumulate(const float* in, float* sum, int blocks, int threads, bool atomic, cudaStream_t s) {
  launch_kernel<accumulate_kernel>("accumulate_kernel", blocks, threads, 0, s, in, sum, atomic);
}
void store_one_word(float* out, int threads, cudaStream_t s) {
  launch_kernel<store_one_word_kernel>("store_one_word_kernel", 1, threads, 0, s, out);
}
void global_neighbour(float* g, float* out, int threads, bool with_barrier, cudaStream_t s) {
  launch_kernel<global_neighbour_kernel>("global_neighbour_kernel", 1, threads, 0, s, g, out,
                                         with_barrier);
}
void atomic_and_plain(const float* in, float* sum, int blocks, int threads, cudaStream_t s) {
  launch_kernel<atomic_and_plain_kernel>("atomic_and_plain_kernel", blocks, threads, 0, s, in, sum);
}
void warp_exchange(const float* in, float* out, int sync, cudaStream_t s) {
  launch_kernel<warp_exchange_kernel>("warp_exchange_kernel", 1, 32, 0, s, in, out, sync);
}
void half_warp_sums(const float* in, float* out, cudaStream_t s) {
  launch_kernel<half_warp_sums_kernel>("half_warp_sums_kernel", 1, 32, 0, s, in, out);
}
void block_order(int* counter, int* order, int blocks, bool cooperative, cudaStream_t s) {
  if (cooperative) {
    kernels::launch_cooperative<block_order_kernel>("block_order_kernel", blocks, 32, 0, s, counter,
                                                    order);
  } else {
    launch_kernel<block_order_kernel>("block_order_kernel", blocks, 32, 0, s, counter, order);
  }
}
void add_one(const float* in, float* out, int n, cudaStream_t s) {
  launch_kernel<add_one_kernel>("add_one_kernel", 1, n, 0, s, in, out);
}

void exchange(const float* in, float* out, int blocks, int threads, bool with_barrier,
              cudaStream_t s) {
  launch_kernel<exchange_kernel>("exchange_kernel", blocks, threads, threads * sizeof(float), s, in,
                                 out, with_barrier);
}
void scale(const float* in, float* out, int blocks, int threads, bool swapped, cudaStream_t s) {
  launch_kernel<scale_kernel>("scale_kernel", blocks, threads, 0, s, in, out, swapped);
}
void sum(const float* in, int n, float* out, bool one_past, cudaStream_t s) {
  launch_kernel<sum_kernel>("sum_kernel", 1, 1, 0, s, in, n, out, one_past);
}
void early_return(float* out, cudaStream_t s) {
  launch_kernel<early_return_kernel>("early_return_kernel", 1, 64, 64 * sizeof(float), s, out);
}
void divergent_barrier(float* out, cudaStream_t s) {
  launch_kernel<divergent_barrier_kernel>("divergent_barrier_kernel", 1, 64, 0, s, out);
}
void shuffle_outside_mask(float* out, cudaStream_t s) {
  launch_kernel<shuffle_outside_mask_kernel>("shuffle_outside_mask_kernel", 1, 32, 0, s, out);
}
void shuffle_partial_warp(float* out, cudaStream_t s) {
  launch_kernel<shuffle_partial_warp_kernel>("shuffle_partial_warp_kernel", 1, 48, 0, s, out);
}
void segment_sum(const float* in, float* out, int threads, int width, cudaStream_t s) {
  launch_kernel<segment_sum_kernel>("segment_sum_kernel", 1, threads, 0, s, in, out, width);
}
void copy_strided(const float* in, float* out, int n, int stride, cudaStream_t s) {
  launch_kernel<copy_strided_kernel>("copy_strided_kernel", n / 128, 128, 0, s, in, out, stride);
}
void bank(float* out, int stride, cudaStream_t s) {
  launch_kernel<bank_kernel>("bank_kernel", 1, 32, 32 * 32 * sizeof(float), s, out, stride);
}
void cooperative(float* data, int blocks, int threads, bool cooperative_launch, cudaStream_t s) {
  if (cooperative_launch) {
    kernels::launch_cooperative<cooperative_kernel>("cooperative_kernel", blocks, threads, 0, s,
                                                    data, blocks * threads);
  } else {
    launch_kernel<cooperative_kernel>("cooperative_kernel", blocks, threads, 0, s, data,
                                      blocks * threads);
  }
}

}  // namespace rnnattn::simtest
