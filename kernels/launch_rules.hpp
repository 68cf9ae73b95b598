// What the launchers of the whole-GPU designs remember between launches (internal header, host
// side): cooperative launches a GPU refused, and the designs they could not launch, each said
// once on stderr; the caller then runs the segment kernels.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdio>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

#include "cuda_utils.hpp"
#include "rnnattn/error.hpp"
#include "tiling.hpp"

namespace rnnattn::kernels {

// The process's records (one for the whole program: an inline function's static).
struct LaunchRecords {
  std::mutex mutex;
  std::set<std::tuple<int, std::string, int>> refusals;       // (device, kernel, blocks)
  std::set<std::tuple<int, std::string, std::string>> noted;  // (device, kernel, reason)
};
inline LaunchRecords& launch_records() {
  static LaunchRecords records;
  return records;
}

inline int current_device() {
  int device = 0;
  RNNATTN_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

// Cooperative launches that the GPU refused at launch time although the occupancy query
// allowed them (cudaErrorCooperativeLaunchTooLarge: MPS thread limits, green contexts, another
// carve-out), remembered per (current device, kernel, grid size) so that they are not tried
// again: the persistent launchers then return false and the caller runs the segment kernels.
inline bool cooperative_launch_refused(const char* kernel, int blocks) {
  const int device = current_device();
  LaunchRecords& r = launch_records();
  std::lock_guard<std::mutex> lock(r.mutex);
  return r.refusals.count({device, kernel, blocks}) != 0;
}

// Says once on stderr (per device, kernel and reason) that a design's kernel was not launched and
// why; its caller runs the segment kernels instead.
inline void note_design_fallback(const char* kernel, const std::string& reason) {
  const int device = current_device();
  LaunchRecords& r = launch_records();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (r.noted.insert({device, kernel, reason}).second) {
    std::fprintf(stderr, "rnnattn: %s not launched on device %d: %s; the segment kernels run\n",
                 kernel, device, reason.c_str());
  }
}

// Records a refusal and says so once on stderr. While the stream is being captured it throws
// instead (the failed launch has spoilt the capture), saying to run the pass once outside
// capture, which records the refusal, before capturing.
inline void record_cooperative_refusal(const char* kernel, int blocks, std::size_t smem_bytes,
                                       bool capturing) {
  const int device = current_device();
  const std::string what =
      "the GPU (device " + std::to_string(device) + ") refused the cooperative launch of " +
      kernel + " (" + std::to_string(blocks) + " blocks of " + std::to_string(kPersistentThreads) +
      " threads, " + std::to_string(smem_bytes) +
      " bytes of shared memory each) that its occupancy query allowed "
      "(cudaErrorCooperativeLaunchTooLarge: MPS thread limits, green "
      "contexts or another carve-out)";
  if (capturing) {
    throw CudaError(what +
                    " while a CUDA graph was being captured; run the pass once outside "
                    "capture (the segment kernels are then chosen) before capturing, or "
                    "set_recurrence(Recurrence::kSegment)");
  }
  LaunchRecords& r = launch_records();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (r.refusals.insert({device, kernel, blocks}).second) {
    std::fprintf(stderr, "rnnattn: %s; running the segment kernels for this shape from now on\n",
                 what.c_str());
  }
}

}  // namespace rnnattn::kernels
