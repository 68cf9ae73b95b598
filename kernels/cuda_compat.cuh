// The few CUDA constructs that the nvcc build and the GPU simulator build (RNNATTN_GPU_SIMULATOR,
// sim/) spell differently, each behind one named helper so that kernel code reads the same in
// both: kernel launches (a C++ compiler cannot parse <<<...>>>) and shared-memory declarations
// (in the simulator, shared memory belongs to the running block, not to a variable).
//
//   launch_kernel<kernel>(name, grid, block, smem, stream, args...)        one launch, checked
//   launch_cooperative<kernel>(name, grid, block, smem, stream, args...)   all blocks co-resident
//   launch_clustered<kernel>(name, cluster, grid, block, smem, stream, args...)
//                                           thread-block clusters of `cluster` blocks along x
//   allow_dynamic_shared<kernel>()          the most dynamic shared memory a launch may ask for
//   max_active_clusters<kernel>(cluster, threads, smem)  clusters the GPU holds at once
//   T* p = dynamic_shared<T>();                                            extern __shared__
//   RNNATTN_SHARED_ARRAY(T, name, count);                                  __shared__ T name[count]
//   RNNATTN_UNROLL                                                         #pragma unroll
//
// The kernel is a template argument so that the simulator knows which kernel it runs: it looks up
// the kernel's registers and static shared memory, which only the nvcc build's compiled code has
// (sim/kernel_resources.tsv), and refuses the launches a GPU would refuse.
// Launch errors throw CudaError naming the kernel.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>

#include "cuda_utils.hpp"
#include "launch_hooks.hpp"

#ifdef RNNATTN_GPU_SIMULATOR
#include "rnnattn_sim/sim.hpp"
#define RNNATTN_UNROLL
#else
#define RNNATTN_UNROLL _Pragma("unroll")
#endif

namespace rnnattn::kernels {

// Blocks of `threads` threads that cover n elements, one thread each.
inline unsigned blocks_for(long long n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

#ifdef RNNATTN_GPU_SIMULATOR

template <typename T>
RNNATTN_SIM_NOINSTR inline T* dynamic_shared() {
  return static_cast<T*>(::rnnattn::sim::dynamic_shared_memory());
}
#define RNNATTN_SHARED_ARRAY(T, name, count)                            \
  static const char name##_rnnattn_tag = 0;                             \
  T* const name = static_cast<T*>(::rnnattn::sim::static_shared_memory( \
      &name##_rnnattn_tag, sizeof(T) * static_cast<std::size_t>(count), alignof(T)))

namespace detail {
template <auto Kernel>
struct KernelTag {};

// Tells the simulator the kernel's signature (once per kernel): its resources follow from it.
template <auto Kernel>
void register_kernel() {
  static const bool registered = [] {
    ::rnnattn::sim::register_kernel(
        reinterpret_cast<const void*>(Kernel),
        ::rnnattn::sim::signature_from_tag(typeid(KernelTag<Kernel>).name()));
    return true;
  }();
  (void)registered;
}

template <auto Kernel, typename... Params, typename... Args>
cudaError_t launch(const char* name, void (*)(Params...), dim3 grid, dim3 block, std::size_t smem,
                   cudaStream_t stream, bool cooperative, unsigned cluster, Args&&... args) {
  register_kernel<Kernel>();
  // The arguments are copied now, as a launch copies them; every simulated thread calls the
  // kernel with them.
  auto params = std::make_tuple(std::decay_t<Params>(std::forward<Args>(args))...);
  return ::rnnattn::sim::launch({name, reinterpret_cast<const void*>(Kernel), grid, block, smem,
                                 stream, cooperative, cluster},
                                [params] { std::apply(Kernel, params); });
}
}  // namespace detail

template <auto Kernel>
int max_active_clusters(int cluster, int threads, std::size_t smem) {
  detail::register_kernel<Kernel>();
  return ::rnnattn::sim::max_active_clusters(reinterpret_cast<const void*>(Kernel), cluster,
                                             threads, smem);
}

#else  // nvcc

template <typename T>
__device__ __forceinline__ T* dynamic_shared() {
  extern __shared__ __align__(16) unsigned char rnnattn_dynamic_smem[];
  return reinterpret_cast<T*>(rnnattn_dynamic_smem);
}
#define RNNATTN_SHARED_ARRAY(T, name, count) __shared__ T name[count]

namespace detail {
// A launch configuration with cluster dimensions (cluster, 1, 1), its attribute in *attribute.
inline cudaLaunchConfig_t cluster_launch_config(dim3 grid, dim3 block, std::size_t smem,
                                                cudaStream_t stream, unsigned cluster,
                                                cudaLaunchAttribute* attribute) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  attribute->id = cudaLaunchAttributeClusterDimension;
  attribute->val.clusterDim.x = cluster;
  attribute->val.clusterDim.y = 1;
  attribute->val.clusterDim.z = 1;
  config.attrs = attribute;
  config.numAttrs = 1;
  return config;
}

template <auto Kernel>
void register_kernel() {}  // the simulator's: the GPU knows its kernels

template <auto Kernel, typename... Params, typename... Args>
cudaError_t launch(const char*, void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem,
                   cudaStream_t stream, bool cooperative, unsigned cluster, Args&&... args) {
  if (cluster != 0) {
    cudaLaunchAttribute attribute;
    const cudaLaunchConfig_t config =
        cluster_launch_config(grid, block, smem, stream, cluster, &attribute);
    return cudaLaunchKernelEx(&config, kernel, std::decay_t<Params>(std::forward<Args>(args))...);
  }
  if (!cooperative) {
    // clang-format off
    kernel<<<grid, block, smem, stream>>>(std::forward<Args>(args)...);
    // clang-format on
    return cudaGetLastError();
  }
  auto params = std::make_tuple(std::decay_t<Params>(std::forward<Args>(args))...);
  return std::apply(
      [&](auto&... p) {
        void* ptrs[] = {static_cast<void*>(&p)...};
        return cudaLaunchCooperativeKernel(reinterpret_cast<void*>(kernel), grid, block, ptrs, smem,
                                           stream);
      },
      params);
}
}  // namespace detail

template <auto Kernel>
int max_active_clusters(int cluster, int threads, std::size_t smem) {
  cudaLaunchAttribute attribute;
  const cudaLaunchConfig_t config = detail::cluster_launch_config(
      dim3(cluster), dim3(threads), smem, nullptr, static_cast<unsigned>(cluster), &attribute);
  int clusters = 0;
  RNNATTN_CUDA_CHECK(cudaOccupancyMaxActiveClusters(&clusters, Kernel, &config));
  return clusters;
}

#endif

namespace detail {
// Every launcher: the profiler's hooks around the launch, and an error naming the kernel. An
// error equal to `returned` (not cudaSuccess) is cleared and returned instead of thrown.
template <auto Kernel, typename... Args>
cudaError_t checked_launch(const char* what, const char* name, dim3 grid, dim3 block,
                           std::size_t smem, cudaStream_t stream, bool cooperative,
                           unsigned cluster, cudaError_t returned, Args&&... args) {
  launch_before(name, stream);
  const cudaError_t e = launch<Kernel>(name, Kernel, grid, block, smem, stream, cooperative,
                                       cluster, std::forward<Args>(args)...);
  launch_after(name, stream);
  if (e == cudaSuccess) return e;
  if (e == returned) {
    (void)cudaGetLastError();  // not sticky: clear it, the caller handles it
    return e;
  }
  throw_cuda_error(e, (std::string(what) + name).c_str(), __FILE__, __LINE__);
}
}  // namespace detail

template <auto Kernel, typename... Args>
void launch_kernel(const char* name, dim3 grid, dim3 block, std::size_t smem, cudaStream_t stream,
                   Args&&... args) {
  detail::checked_launch<Kernel>("launch of ", name, grid, block, smem, stream, false, 0,
                                 cudaSuccess, std::forward<Args>(args)...);
}

template <auto Kernel, typename... Args>
void launch_cooperative(const char* name, dim3 grid, dim3 block, std::size_t smem,
                        cudaStream_t stream, Args&&... args) {
  detail::checked_launch<Kernel>("cooperative launch of ", name, grid, block, smem, stream, true, 0,
                                 cudaSuccess, std::forward<Args>(args)...);
}

// A cooperative launch that the GPU may refuse at launch time although the occupancy query
// allowed the grid (cudaErrorCooperativeLaunchTooLarge: MPS thread limits, green contexts, another
// carve-out): returns false then, with the error cleared; any other error throws, as
// launch_cooperative does.
template <auto Kernel, typename... Args>
bool launch_cooperative_unless_refused(const char* name, dim3 grid, dim3 block, std::size_t smem,
                                       cudaStream_t stream, Args&&... args) {
  return detail::checked_launch<Kernel>("cooperative launch of ", name, grid, block, smem, stream,
                                        true, 0, cudaErrorCooperativeLaunchTooLarge,
                                        std::forward<Args>(args)...) == cudaSuccess;
}

// A launch in thread-block clusters of `cluster` blocks along x (sm_90; grid.x a multiple of it).
template <auto Kernel, typename... Args>
void launch_clustered(const char* name, unsigned cluster, dim3 grid, dim3 block, std::size_t smem,
                      cudaStream_t stream, Args&&... args) {
  detail::checked_launch<Kernel>("cluster launch of ", name, grid, block, smem, stream, false,
                                 cluster, cudaSuccess, std::forward<Args>(args)...);
}

// Raises Kernel's dynamic shared-memory limit to the most a launch of it may ask for on the
// current device, and returns that: the opt-in maximum less the kernel's static shared memory
// (cudaFuncGetAttributes' sharedSizeBytes). The Runtime refuses an attribute whose sum with the
// static bytes exceeds the opt-in (cudaErrorInvalidValue), so asking for the whole opt-in fails
// for every kernel with a __shared__ array. Once per kernel and device (the attribute belongs to
// the kernel on the current device: a program that uses two GPUs must raise it on each).
template <auto Kernel>
int allow_dynamic_shared() {
  static std::mutex mutex;
  static std::map<int, int> limit;  // device -> the limit, set on that device
  detail::register_kernel<Kernel>();
  int device = 0;
  RNNATTN_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  auto it = limit.find(device);
  if (it != limit.end()) return it->second;
  int optin = 0;
  RNNATTN_CUDA_CHECK(
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  cudaFuncAttributes attributes{};
  RNNATTN_CUDA_CHECK(cudaFuncGetAttributes(&attributes, Kernel));
  const int value = optin - static_cast<int>(attributes.sharedSizeBytes);
  RNNATTN_CUDA_CHECK(
      cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, value));
  limit[device] = value;
  return value;
}

}  // namespace rnnattn::kernels
