// The row-major cuBLAS GEMM (gemm.hpp), with the launch hooks around it.
#include "cuda/gemm.hpp"

#include "kernels/cuda_utils.hpp"
#include "kernels/launch_hooks.hpp"

namespace rnnattn {

void gemm_row_major(cublasHandle_t h, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                    const float* a, int lda, const float* b, int ldb, float beta, float* c,
                    int ldc) {
  // A row-major [r, c] matrix is the column-major [c, r] matrix; so C^T = op(B)^T op(A)^T is one
  // column-major GEMM with the operands swapped and the same transpose flags.
  cudaStream_t stream = nullptr;
  RNNATTN_CUBLAS_CHECK(cublasGetStream(h, &stream));
  kernels::launch_before("cublasSgemm", stream);
  RNNATTN_CUBLAS_CHECK(cublasSgemm(h, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                   trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb, a,
                                   lda, &beta, c, ldc));
  kernels::launch_after("cublasSgemm", stream);
}

}  // namespace rnnattn
