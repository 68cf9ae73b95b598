// CUDA plumbing shared by the kernels and the CUDA backend (internal header, host side):
// checked calls that throw rnnattn::CudaError naming the call, file and line; a move-only device
// buffer; RAII owners for streams, events, graphs and the cuBLAS handle.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "rnnattn/error.hpp"

namespace rnnattn {

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* call, const char* file,
                                          int line) {
  (void)cudaGetLastError();  // clear a non-sticky error so the caller can go on
  throw CudaError(std::string(call) + " failed: " + cudaGetErrorName(e) + " (" +
                  cudaGetErrorString(e) + ") at " + file + ":" + std::to_string(line));
}
[[noreturn]] inline void throw_cublas_error(cublasStatus_t s, const char* call, const char* file,
                                            int line) {
  throw CudaError(std::string(call) + " failed: " + cublasGetStatusName(s) + " (" +
                  cublasGetStatusString(s) + ") at " + file + ":" + std::to_string(line));
}

#define RNNATTN_CUDA_CHECK(call)                                            \
  do {                                                                      \
    const cudaError_t rnnattn_err_ = (call);                                \
    if (rnnattn_err_ != cudaSuccess)                                        \
      ::rnnattn::throw_cuda_error(rnnattn_err_, #call, __FILE__, __LINE__); \
  } while (0)

#define RNNATTN_CUBLAS_CHECK(call)                                           \
  do {                                                                       \
    const cublasStatus_t rnnattn_st_ = (call);                               \
    if (rnnattn_st_ != CUBLAS_STATUS_SUCCESS)                                \
      ::rnnattn::throw_cublas_error(rnnattn_st_, #call, __FILE__, __LINE__); \
  } while (0)

// Device memory for n elements of T. Move-only; frees in the destructor (never throws).
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n, const char* what = "buffer") { resize(n, what); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  // Reallocates when n differs; contents are not preserved. An out-of-memory error names the
  // buffer and the size asked for.
  void resize(std::size_t n, const char* what = "buffer") {
    if (n == n_) return;
    release();
    if (n == 0) return;
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, n * sizeof(T));
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      throw CudaError(std::string("cudaMalloc of ") + std::to_string(n * sizeof(T)) +
                      " bytes for " + what + " failed: " + cudaGetErrorString(e));
    }
    ptr_ = static_cast<T*>(p);
    n_ = n;
  }
  T* get() const { return ptr_; }
  std::size_t size() const { return n_; }

 private:
  void release() noexcept {
    if (ptr_) cudaFree(ptr_);
    ptr_ = nullptr;
    n_ = 0;
  }
  T* ptr_ = nullptr;
  std::size_t n_ = 0;
};

class CudaStream {
 public:
  CudaStream() { RNNATTN_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~CudaStream() {
    if (s_) cudaStreamDestroy(s_);
  }
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

class CublasHandle {
 public:
  CublasHandle() { RNNATTN_CUBLAS_CHECK(cublasCreate(&h_)); }
  ~CublasHandle() {
    if (h_) cublasDestroy(h_);
  }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

class CudaGraphExec {
 public:
  CudaGraphExec() = default;
  ~CudaGraphExec() { reset(); }
  CudaGraphExec(const CudaGraphExec&) = delete;
  CudaGraphExec& operator=(const CudaGraphExec&) = delete;
  void reset() noexcept {
    if (exec_) cudaGraphExecDestroy(exec_);
    if (graph_) cudaGraphDestroy(graph_);
    exec_ = nullptr;
    graph_ = nullptr;
  }
  // Ends a capture begun on `s` and instantiates it.
  void end_capture(cudaStream_t s) {
    reset();
    RNNATTN_CUDA_CHECK(cudaStreamEndCapture(s, &graph_));
    RNNATTN_CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0));
  }
  void launch(cudaStream_t s) const { RNNATTN_CUDA_CHECK(cudaGraphLaunch(exec_, s)); }
  explicit operator bool() const { return exec_ != nullptr; }

 private:
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace rnnattn
