// The row-major cuBLAS GEMM the device API and the CUDA backend call (internal header), timed by
// the profiler when one is active.
#pragma once

#include <cublas_v2.h>

namespace rnnattn {

// Row-major GEMM on cuBLAS: C[M,N] = alpha op(A) op(B) + beta C, where op(A) is [M,K] and op(B)
// is [K,N]; lda, ldb, ldc are the row lengths of the stored (row-major) matrices.
void gemm_row_major(cublasHandle_t h, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                    const float* a, int lda, const float* b, int ldb, float beta, float* c,
                    int ldc);

}  // namespace rnnattn
