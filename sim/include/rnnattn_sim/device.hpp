// rnnattn GPU simulator, device side: the names kernel code uses (threadIdx, __syncthreads,
// warp shuffles, the CUDA qualifiers) mapped onto the simulator's scheduler.
//
// Every CUDA thread of a launch runs as a fiber on one host thread; barriers and shuffles switch
// fibers. Kernel translation units are compiled with GCC's thread-sanitizer instrumentation, so
// every load and store reaches the simulator (sim/src/checks.cpp), which checks it and counts it.
// Functions here carry no_sanitize_thread: their own reads of the simulator's state are not
// kernel accesses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cuda_runtime_api.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __constant__ static_assert(false, "__constant__ is not simulated");
// Shared memory is declared through kernels/cuda_compat.cuh (dynamic_shared, RNNATTN_SHARED_ARRAY).

#define RNNATTN_SIM_NOINSTR __attribute__((no_sanitize_thread))

namespace rnnattn::sim {

// The simulated thread running now (null outside kernels). Plain TLS: no wrapper call.
struct ThreadState;
extern __thread ThreadState* t_current;

struct ThreadIds {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};
// The first member of every ThreadState. Returned by value, so that the kernel's own code does
// not load from the simulator's state.
RNNATTN_SIM_NOINSTR inline uint3 thread_idx() {
  return reinterpret_cast<const ThreadIds*>(t_current)->thread_idx;
}
RNNATTN_SIM_NOINSTR inline uint3 block_idx() {
  return reinterpret_cast<const ThreadIds*>(t_current)->block_idx;
}
RNNATTN_SIM_NOINSTR inline dim3 block_dim() {
  return reinterpret_cast<const ThreadIds*>(t_current)->block_dim;
}
RNNATTN_SIM_NOINSTR inline dim3 grid_dim() {
  return reinterpret_cast<const ThreadIds*>(t_current)->grid_dim;
}

void block_barrier(const char* file, int line);
void grid_barrier(const char* file, int line);
// Thread-block clusters (sm_90): every thread of the cluster waits at cluster_barrier;
// cluster_map_shared returns where `p` (in the calling block's shared memory) lies in the shared
// memory of the cluster's block `rank` (distributed shared memory).
void cluster_barrier(const char* file, int line);
unsigned cluster_rank();
unsigned cluster_size();
void* cluster_map_shared(const void* p, unsigned rank);
void warp_sync(unsigned mask, const char* file, int line);
bool in_cooperative_launch();
// Exchanges 32-bit values within the lanes `mask` names; src_lane is the lane to read (already
// reduced into the caller's segment), or -1 for "keep my own value".
std::uint32_t shuffle(unsigned mask, std::uint32_t value, int src_lane, const char* file, int line);
int lane_id();
// Atomic read-modify-writes: checked as one access that does not race with other atomics.
float atomic_add(float* p, float v);
int atomic_add(int* p, int v);
unsigned atomic_add(unsigned* p, unsigned v);
void* dynamic_shared_memory();
void* static_shared_memory(const void* tag, std::size_t bytes, std::size_t align);

template <typename T>
RNNATTN_SIM_NOINSTR inline T shfl_impl(unsigned mask, T v, int src, const char* file, int line) {
  static_assert(sizeof(T) == 4 && std::is_trivially_copyable_v<T>,
                "the simulator shuffles 32-bit values");
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits = shuffle(mask, bits, src, file, line);
  T out;
  std::memcpy(&out, &bits, 4);
  return out;
}

// Source lanes as the CUDA programming guide defines them for a sub-group of `width` lanes.
RNNATTN_SIM_NOINSTR inline int shfl_src_xor(int lane, int lane_mask, int width) {
  const int src = lane ^ lane_mask;
  return src >= (lane / width + 1) * width ? -1 : src;  // later groups: own value
}
RNNATTN_SIM_NOINSTR inline int shfl_src_idx(int lane, int src, int width) {
  return (lane / width) * width + (src % width);
}
RNNATTN_SIM_NOINSTR inline int shfl_src_down(int lane, unsigned delta, int width) {
  const int src = lane + static_cast<int>(delta);
  return src >= (lane / width + 1) * width ? -1 : src;
}
RNNATTN_SIM_NOINSTR inline int shfl_src_up(int lane, unsigned delta, int width) {
  const int src = lane - static_cast<int>(delta);
  return src < (lane / width) * width ? -1 : src;
}

}  // namespace rnnattn::sim

#define threadIdx (::rnnattn::sim::thread_idx())
#define blockIdx (::rnnattn::sim::block_idx())
#define blockDim (::rnnattn::sim::block_dim())
#define gridDim (::rnnattn::sim::grid_dim())
constexpr int warpSize = 32;

RNNATTN_SIM_NOINSTR inline void __syncthreads(const char* file = __builtin_FILE(),
                                              int line = __builtin_LINE()) {
  ::rnnattn::sim::block_barrier(file, line);
}
RNNATTN_SIM_NOINSTR inline void __syncwarp(unsigned mask = 0xffffffffu,
                                           const char* file = __builtin_FILE(),
                                           int line = __builtin_LINE()) {
  ::rnnattn::sim::warp_sync(mask, file, line);
}
template <typename T>
RNNATTN_SIM_NOINSTR inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32,
                                             const char* file = __builtin_FILE(),
                                             int line = __builtin_LINE()) {
  const int src = ::rnnattn::sim::shfl_src_xor(::rnnattn::sim::lane_id(), lane_mask, width);
  return ::rnnattn::sim::shfl_impl(mask, v, src, file, line);
}
template <typename T>
RNNATTN_SIM_NOINSTR inline T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32,
                                         const char* file = __builtin_FILE(),
                                         int line = __builtin_LINE()) {
  const int src = ::rnnattn::sim::shfl_src_idx(::rnnattn::sim::lane_id(), src_lane, width);
  return ::rnnattn::sim::shfl_impl(mask, v, src, file, line);
}
template <typename T>
RNNATTN_SIM_NOINSTR inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32,
                                              const char* file = __builtin_FILE(),
                                              int line = __builtin_LINE()) {
  const int src = ::rnnattn::sim::shfl_src_down(::rnnattn::sim::lane_id(), delta, width);
  return ::rnnattn::sim::shfl_impl(mask, v, src, file, line);
}
template <typename T>
RNNATTN_SIM_NOINSTR inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32,
                                            const char* file = __builtin_FILE(),
                                            int line = __builtin_LINE()) {
  const int src = ::rnnattn::sim::shfl_src_up(::rnnattn::sim::lane_id(), delta, width);
  return ::rnnattn::sim::shfl_impl(mask, v, src, file, line);
}

// __ldcg: a load cached in L2 only (strong at GPU scope: it sees what other SMs wrote before a
// grid barrier). A plain load here, instrumented and checked like any other (not NOINSTR).
template <typename T>
inline T __ldcg(const T* p) {
  return *p;
}

RNNATTN_SIM_NOINSTR inline float atomicAdd(float* p, float v) {
  return ::rnnattn::sim::atomic_add(p, v);
}
RNNATTN_SIM_NOINSTR inline int atomicAdd(int* p, int v) { return ::rnnattn::sim::atomic_add(p, v); }
RNNATTN_SIM_NOINSTR inline unsigned atomicAdd(unsigned* p, unsigned v) {
  return ::rnnattn::sim::atomic_add(p, v);
}
