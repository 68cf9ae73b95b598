// Per-kernel profile of the work enqueued while a Profiler is active (internal; `rnnattn profile`).
// On a GPU, each launch of the project's kernels (and each cuBLAS GEMM of the backend) is timed
// with a pair of CUDA events; in the GPU simulator build, each kernel launch brings its memory
// counters instead (sim/include/rnnattn_sim/sim.hpp). One profiler at a time, one host thread.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

namespace rnnattn::cuda {

struct KernelProfile {
  std::string kernel;
  int launches = 0;
  double ms = 0;  // GPU only: summed event time
  // Simulator only: summed counters.
  std::uint64_t global_load_requests = 0, global_load_sectors = 0, global_load_bytes = 0;
  std::uint64_t global_store_requests = 0, global_store_sectors = 0, global_store_bytes = 0;
  std::uint64_t shared_requests = 0, shared_wavefronts = 0, shared_ideal_wavefronts = 0;
  double global_load_efficiency() const;  // bytes / (sectors * 32); 0 when nothing was loaded
  double global_store_efficiency() const;
  double shared_wavefronts_per_request() const;  // 0 when no shared access
  // Wavefronts over the least the requests could take (1: no bank conflicts; 16-byte accesses
  // of a warp take 4 wavefronts a request without any); 0 when no shared access.
  double shared_wavefronts_per_ideal() const;
};

class Profiler {
 public:
  Profiler();   // starts recording; throws if another profiler is active
  ~Profiler();  // stops
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;
  // Waits for the recorded work (cudaDeviceSynchronize) and returns one entry per kernel name, in
  // the order of their first launch.
  std::vector<KernelProfile> results();

  // The launch hooks (kernels/launch_hooks.hpp) an active profiler installs: around every launch
  // and GEMM.
  static void before(const char* name, cudaStream_t stream);
  static void after(const char* name, cudaStream_t stream);
  static bool simulated();  // counters (simulator build) rather than times (GPU)

  struct Impl;  // public for the launch hooks in profiler.cpp

 private:
  Impl* impl_;
};

}  // namespace rnnattn::cuda
