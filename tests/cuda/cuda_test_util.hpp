// Helpers shared by the GPU tests (test_gpu_recurrence.cpp, test_cuda.cpp, test_device_api.cpp,
// skipping where no GPU exists, and staging data on a given stream (the backend's streams are
// non-blocking: work on the legacy default stream is not ordered with them).
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "kernels/cuda_utils.hpp"
#include "rnnattn/backend.hpp"
#include "rnnattn/checkpoint.hpp"
#include "rnnattn/cuda.hpp"

#define SKIP_WITHOUT_GPU()                                             \
  do {                                                                 \
    if (::rnnattn::cuda_device_count() == 0)                           \
      GTEST_SKIP() << "no CUDA GPU on this machine: GPU test skipped"; \
  } while (0)

namespace rnnattn::test {

// A device copy of a host vector, enqueued on stream s.
template <typename T>
DeviceBuffer<T> to_device(const std::vector<T>& h, cudaStream_t s) {
  DeviceBuffer<T> d(h.size(), "test input");
  RNNATTN_CUDA_CHECK(
      cudaMemcpyAsync(d.get(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice, s));
  return d;
}

// n floats with every bit set (NaN), so that an element a kernel forgets to write fails.
inline DeviceBuffer<float> poisoned(std::size_t n, cudaStream_t s) {
  DeviceBuffer<float> d(n, "test output");
  RNNATTN_CUDA_CHECK(cudaMemsetAsync(d.get(), 0xFF, n * sizeof(float), s));
  return d;
}

// A workspace or reserve of n bytes, poisoned, so that nothing can rely on its contents.
inline DeviceBuffer<unsigned char> scratch(std::size_t n, cudaStream_t s) {
  DeviceBuffer<unsigned char> d(n, "test scratch");
  if (n) RNNATTN_CUDA_CHECK(cudaMemsetAsync(d.get(), 0xFF, n, s));
  return d;
}

// The bits guard: with RNNATTN_BITS_DIR set, every buffer a test copies back is also recorded, as
// a line "copy-number bytes fnv1a64" in DIR/<test>.bits, so that the outputs of two builds (before
// and after a change to the kernels), or of two block orders, can be compared bit for bit
// (tools/bits_guard.py). The copies of one test come in program order, so their numbers match.
inline void record_bits(const void* data, std::size_t bytes) {
  const char* dir = std::getenv("RNNATTN_BITS_DIR");
  if (!dir || !*dir) return;
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "outside";
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  static std::map<std::string, int> copies;
  const int k = copies[name]++;
  std::ofstream(std::string(dir) + "/" + name + ".bits", std::ios::app)
      << k << ' ' << bytes << ' ' << std::hex << fnv1a64(data, bytes) << '\n';
}

// The buffer's contents once stream s has done its work.
template <typename T>
std::vector<T> to_host(const DeviceBuffer<T>& d, cudaStream_t s) {
  std::vector<T> h(d.size());
  RNNATTN_CUDA_CHECK(
      cudaMemcpyAsync(h.data(), d.get(), d.size() * sizeof(T), cudaMemcpyDeviceToHost, s));
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s));
  record_bits(h.data(), h.size() * sizeof(T));
  return h;
}

// Whether the current device launches thread-block clusters (cudaDevAttrClusterLaunch; the GPU
// simulator's "no-clusters" layout does not).
inline bool device_has_clusters() {
  int device = 0, clusters = 0;
  RNNATTN_CUDA_CHECK(cudaGetDevice(&device));
  RNNATTN_CUDA_CHECK(cudaDeviceGetAttribute(&clusters, cudaDevAttrClusterLaunch, device));
  return clusters != 0;
}

// The design a handle forced to `forced` runs on the current device: the cluster design falls
// back to the segment kernels where the device has no clusters (the device API documents it).
inline cuda::Recurrence design_run_for(cuda::Recurrence forced) {
  return forced == cuda::Recurrence::kCluster && !device_has_clusters() ? cuda::Recurrence::kSegment
                                                                        : forced;
}

}  // namespace rnnattn::test
