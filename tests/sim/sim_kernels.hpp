// Launchers of the simulator's test kernels (tests/sim/sim_kernels.cu); device pointers throughout.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

namespace rnnattn::simtest {

// out[b, t] = in[b, (t + 1) % threads] through shared memory; with_barrier = false is the
// planted race (a removed __syncthreads).
void exchange(const float* in, float* out, int blocks, int threads, bool with_barrier,
              cudaStream_t s);
// out = 2 in, [blocks, threads]; swapped = true is the planted swapped index.
void scale(const float* in, float* out, int blocks, int threads, bool swapped, cudaStream_t s);
// *out = sum of in[0..n); one_past = true reads in[n] too.
void sum(const float* in, int n, float* out, bool one_past, cudaStream_t s);
void early_return(float* out, cudaStream_t s);          // out [64]
void divergent_barrier(float* out, cudaStream_t s);     // out [64]
void shuffle_outside_mask(float* out, cudaStream_t s);  // out [32]
void shuffle_partial_warp(float* out, cudaStream_t s);  // out [48]
// out[i] = sum of in over i's group of `width` lanes.
void segment_sum(const float* in, float* out, int threads, int width, cudaStream_t s);
// out[i] = in[i * stride], n threads (a multiple of 128).
void copy_strided(const float* in, float* out, int n, int stride, cudaStream_t s);
// out[t] = s[(t * stride) % 1024] from shared memory, one warp.
void bank(float* out, int stride, cudaStream_t s);
// data [2 * blocks * threads]: a grid sync between a write and a read of another block's value.
void cooperative(float* data, int blocks, int threads, bool cooperative_launch, cudaStream_t s);

// ---- cross-block and warp-level races (the race checks of global and shared memory) ----------
// Cooperative: each block writes its part of data[0, n) (n = blocks * threads), then reads the
// next block's part into data[n, 2n); with_sync = false drops the grid sync between the two.
void grid_exchange(float* data, int blocks, int threads, bool with_sync, cudaStream_t s);
// Cooperative, a persistent recurrence in miniature: for `steps` steps every thread reads the
// next block's value of the previous step and writes its own new value, one grid sync a step.
// double_buffer = false keeps both steps in one buffer (buf [2 * blocks * threads]).
void grid_steps(float* buf, int blocks, int threads, int steps, bool double_buffer, cudaStream_t s);
// Thread-block clusters of `cluster` blocks of `threads` threads; out [clusters * cluster *
// threads]. Each thread's value (its global index) reaches the same thread of the next block of
// its cluster through distributed shared memory: mode 0 pushes it (a cluster.sync() before, to
// know every block started, and one after); 1 drops the one after (a race); 2 the one before (a
// race with the receiver clearing its memory); 3 pulls it from the next block after a
// cluster.sync() and exits without another (the next block may exit while being read); 4 pulls
// with the final cluster.sync().
void cluster_exchange(float* out, int clusters, int cluster, int threads, int mode, cudaStream_t s);
// cluster.sync() in a launch without cluster dimensions; out [32].
void cluster_sync_unclustered(float* out, cudaStream_t s);
// *sum += in[i] over blocks * threads elements from every thread: with atomicAdd, or as a plain
// read-modify-write (the planted race).
void accumulate(const float* in, float* sum, int blocks, int threads, bool atomic, cudaStream_t s);
// Every thread of one block stores its index to *out (many writers of one word: a race).
void store_one_word(float* out, int threads, cudaStream_t s);
// One block: thread t writes g[t], then reads g[(t + 1) % n] into out[t] through device memory;
// with_barrier = false drops the __syncthreads between (a read-after-write race across threads).
void global_neighbour(float* g, float* out, int threads, bool with_barrier, cudaStream_t s);
// Like accumulate with atomics, but thread 0 of block 0 also stores to *sum plainly.
void atomic_and_plain(const float* in, float* sum, int blocks, int threads, cudaStream_t s);
// One warp exchanges through shared memory: out[l] = in[(l + 1) % 32]. sync 0: nothing
// between the write and the read (a race); 1: __syncwarp(); 2: each half-warp synchronises and
// exchanges within itself (__syncwarp(0x0000ffff) / (0xffff0000), out[l] = in of the next lane of
// its half); 3: each half synchronises with its own mask but reads across halves (a race); 4: as
// 1, then a __syncwarp() and each lane's read-modify-write of its own word (out[l] = in[l + 1] +
// in[l] + 1); 5: as 4 without that __syncwarp() (a race with the neighbour's read).
void warp_exchange(const float* in, float* out, int sync, cudaStream_t s);
// Disjoint-mask shuffles in divergent branches: lanes 0..15 and 16..31 each sum their half with
// __shfl_xor_sync on their own mask; out[l] = the sum of l's half.
void half_warp_sums(const float* in, float* out, cudaStream_t s);
// Records the order in which blocks start: order[k] = the k-th block to run (atomics only).
void block_order(int* counter, int* order, int blocks, bool cooperative, cudaStream_t s);
// out[i] = in[i] + 1, one block of `n` threads (n <= 1024): a writer or reader for the cross-
// stream tests.
void add_one(const float* in, float* out, int n, cudaStream_t s);

// ---- launch rules ------------------------------------------------------------------------------
// A kernel with a static array of 256 bytes (declare its resources by its address): out[i] =
// i % 64 (+ 1 where dynamic_bytes > 0, read back from the last dynamic float), [blocks, threads],
// threads <= 1024. allow_static_array_dynamic_shared raises its limit as the library's kernels do
// (kernels::allow_dynamic_shared) and returns it.
const void* static_array_kernel_address();
int allow_static_array_dynamic_shared();
void static_array(float* out, int blocks, int threads, std::size_t dynamic_bytes, cudaStream_t s);
// A kernel without shared memory: out[i] = i. Launched plainly, cooperatively or in clusters
// along x of `cluster` blocks (non-zero); returns the launch error's message ("" on success),
// which names the CUDA error.
const void* registers_kernel_address();
std::string registers_launch(float* out, int blocks, int threads, bool cooperative,
                             unsigned cluster, cudaStream_t s);

}  // namespace rnnattn::simtest
