// A CPU-only build (RNNATTN_CUDA=OFF, or no CUDA compiler found at configure time): no CUDA
// backend, no device API. Asking for the GPU is a clear error that says so.
#include "backend_gpu.hpp"
#include "rnnattn/error.hpp"

namespace rnnattn {

int cuda_device_count() noexcept { return 0; }

bool built_with_cuda() noexcept { return false; }

std::unique_ptr<Backend> make_gpu_backend(bool fused) {
  throw Unavailable(std::string("device ") + (fused ? "cuda" : "cuda-unfused") +
                    ": this build of rnnattn has no CUDA (it was configured without a CUDA "
                    "compiler, or with -DRNNATTN_CUDA=OFF); rebuild with the CUDA toolkit, or use "
                    "--device cpu or auto");
}

}  // namespace rnnattn
