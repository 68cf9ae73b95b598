// Launchers of the simulator's test kernels (tests/sim_kernels.cu); device pointers throughout.
#pragma once

#include <cuda_runtime_api.h>

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

}  // namespace rnnattn::simtest
