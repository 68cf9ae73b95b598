// The hooks around every kernel launch (cuda_compat.cuh's launchers) and every GEMM of the device
// API (internal header, host side): the profiler's while one is active (host/cuda/profiler.hpp
// installs them), else none. Kernels' code knows only these two calls, not who listens.
#pragma once

#include <cuda_runtime_api.h>

namespace rnnattn::kernels {

using LaunchHook = void (*)(const char* name, cudaStream_t stream);
struct LaunchHooks {
  LaunchHook before = nullptr;
  LaunchHook after = nullptr;
};
// The program's hooks (one for the whole program: an inline function's static).
inline LaunchHooks& launch_hooks() {
  static LaunchHooks hooks;
  return hooks;
}
inline void launch_before(const char* name, cudaStream_t stream) {
  if (LaunchHook f = launch_hooks().before) f(name, stream);
}
inline void launch_after(const char* name, cudaStream_t stream) {
  if (LaunchHook f = launch_hooks().after) f(name, stream);
}

}  // namespace rnnattn::kernels
