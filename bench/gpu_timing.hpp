// GPU timing helpers for the benchmarks (CUDA events, manual time) and device-memory probing.
#pragma once

#include <cuda_runtime_api.h>

#include <vector>

#include "bench_common.hpp"
#include "kernels/cuda_utils.hpp"

namespace rnnattn::bench {

inline DeviceBuffer<float> upload(const std::vector<float>& h) {
  DeviceBuffer<float> d(h.size(), "benchmark input");
  RNNATTN_CUDA_CHECK(
      cudaMemcpy(d.get(), h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice));
  return d;
}

// Device memory taken since construction (cudaMemGetInfo): what the case's buffers, workspaces and
// handles hold, the closest portable stand-in for its peak.
class MemoryProbe {
 public:
  MemoryProbe() { RNNATTN_CUDA_CHECK(cudaMemGetInfo(&free0_, &total_)); }
  double used_mib() const {
    std::size_t free1 = 0, total = 0;
    RNNATTN_CUDA_CHECK(cudaMemGetInfo(&free1, &total));
    return free0_ > free1 ? static_cast<double>(free0_ - free1) / (1 << 20) : 0.0;
  }

 private:
  std::size_t free0_ = 0, total_ = 0;
};

class CudaEvent {
 public:
  CudaEvent() { RNNATTN_CUDA_CHECK(cudaEventCreate(&e_)); }
  ~CudaEvent() { cudaEventDestroy(e_); }
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

// One warm-up call, then each iteration timed by events on `stream`.
template <typename F>
void time_gpu(benchmark::State& st, cudaStream_t stream, F&& run, const MemoryProbe& mem) {
  run();
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(stream));
  st.counters["device_MiB"] = mem.used_mib();
  CudaEvent start, stop;
  for (auto _ : st) {
    RNNATTN_CUDA_CHECK(cudaEventRecord(start.get(), stream));
    run();
    RNNATTN_CUDA_CHECK(cudaEventRecord(stop.get(), stream));
    RNNATTN_CUDA_CHECK(cudaEventSynchronize(stop.get()));
    float ms = 0.f;
    RNNATTN_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
    st.SetIterationTime(ms * 1e-3);
  }
}

}  // namespace rnnattn::bench
