// CUDA and cuBLAS errors as exceptions naming the call, and the row-major cuBLAS GEMM the CUDA
// backend calls (timed by the profiler when one is active).
#include "cuda_utils.hpp"

#include "profiler.hpp"

namespace rnnattn {

void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  (void)cudaGetLastError();  // clear a non-sticky error so the caller can go on
  throw CudaError(std::string(call) + " failed: " + cudaGetErrorName(e) + " (" +
                  cudaGetErrorString(e) + ") at " + file + ":" + std::to_string(line));
}

void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line) {
  throw CudaError(std::string(call) + " failed: " + cublasGetStatusName(s) + " (" +
                  cublasGetStatusString(s) + ") at " + file + ":" + std::to_string(line));
}

void gemm_row_major(cublasHandle_t h, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                    const float* a, int lda, const float* b, int ldb, float beta, float* c,
                    int ldc) {
  // A row-major [r, c] matrix is the column-major [c, r] matrix; so C^T = op(B)^T op(A)^T is one
  // column-major GEMM with the operands swapped and the same transpose flags.
  cudaStream_t stream = nullptr;
  RNNATTN_CUBLAS_CHECK(cublasGetStream(h, &stream));
  kernels::Profiler::before("cublasSgemm", stream);
  RNNATTN_CUBLAS_CHECK(cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                   trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb, a,
                                   lda, &beta, c, ldc));
  kernels::Profiler::after("cublasSgemm", stream);
}

}  // namespace rnnattn
