// rnnattn GPU simulator: cuBLAS as plain loops. Each call is enqueued on the handle's stream (so
// it is ordered, and captured into graphs, like the real one) and checks every matrix it reads
// and writes as a kernel's accesses are checked: in bounds of one live allocation, inputs written
// before they are read.
#include <cublas_v2.h>

#include <algorithm>
#include <string>

#include "internal.hpp"

struct cublasContext {
  cudaStream_t stream = nullptr;
  bool user_workspace = false;  // cublasSetWorkspace since the last cublasSetStream
};

namespace rnnattn::sim {
std::uint64_t g_default_pool_gemms = 0;
std::uint64_t cublas_default_workspace_calls() { return g_default_pool_gemms; }
}  // namespace rnnattn::sim

namespace {

using rnnattn::sim::check_library_access;

// Column j of a column-major matrix with `rows` rows and leading dimension ld.
bool check_matrix(const float* m, int rows, int cols, int ld, bool write, const char* what) {
  if (rows == 0 || cols == 0) return true;
  for (int j = 0; j < cols; ++j) {
    if (!check_library_access(m + static_cast<std::size_t>(j) * ld, sizeof(float) * rows, write,
                              what))
      return false;
  }
  return true;
}

}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  // As cuBLAS documents: cublasSetStream unconditionally resets the workspace to the default
  // pool, so a workspace given before must be given again.
  handle->user_workspace = false;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t* stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  *stream = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void* workspace, std::size_t bytes) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (bytes > 0 && !rnnattn::sim::is_device_pointer(workspace)) return CUBLAS_STATUS_INVALID_VALUE;
  handle->user_workspace = bytes > 0;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t) {
  return handle ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}
const char* cublasGetStatusName(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    default:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
  }
}
const char* cublasGetStatusString(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return "success";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "an invalid value was used as an argument";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "the GPU program failed to execute";
    default:
      return "an internal operation failed";
  }
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float* alpha,
                           const float* a, int lda, const float* b, int ldb, const float* beta,
                           float* c, int ldc) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
  // The argument checks cuBLAS documents.
  if (m < 0 || n < 0 || k < 0 || ldc < std::max(1, m) || lda < std::max(1, ta ? k : m) ||
      ldb < std::max(1, tb ? n : k)) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  const float al = *alpha, be = *beta;  // host pointer mode: read at the call
  // A GEMM on the default workspace pool: cuBLAS may allocate (also under graph capture).
  if (!handle->user_workspace) ++rnnattn::sim::g_default_pool_gemms;
  const cudaError_t e = rnnattn::sim::enqueue_host_op(handle->stream, "cublasSgemm", [=] {
    if (m == 0 || n == 0) return;
    // op(A) is [m,k]: A is stored [m,k] (N) or [k,m] (T), column-major.
    if (k > 0 && al != 0.f &&
        (!check_matrix(a, ta ? k : m, ta ? m : k, lda, false, "cublasSgemm A") ||
         !check_matrix(b, tb ? n : k, tb ? k : n, ldb, false, "cublasSgemm B")))
      return;
    if (be != 0.f && !check_matrix(c, m, n, ldc, false, "cublasSgemm C (read, beta != 0)")) return;
    if (!check_matrix(c, m, n, ldc, true, "cublasSgemm C")) return;
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < m; ++i) {
        float acc = 0.f;
        if (al != 0.f) {
          for (int p = 0; p < k; ++p) {
            const float av = ta ? a[static_cast<std::size_t>(i) * lda + p]
                                : a[static_cast<std::size_t>(p) * lda + i];
            const float bv = tb ? b[static_cast<std::size_t>(p) * ldb + j]
                                : b[static_cast<std::size_t>(j) * ldb + p];
            acc += av * bv;
          }
        }
        float& out = c[static_cast<std::size_t>(j) * ldc + i];
        out = al * acc + (be != 0.f ? be * out : 0.f);
      }
    }
  });
  return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}
