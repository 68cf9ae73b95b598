// Device discovery. The only CUDA code in the library so far; the fused kernels (forward,
// backward, Adam) land beside this file, one .cu per op and direction.
#include <cuda_runtime.h>

#include "rnnattn/backend.hpp"

namespace rnnattn {

int cuda_device_count() noexcept {
  int count = 0;
  // No driver or no GPU is a normal situation here (CI has none): report 0, clear the error.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return count;
}

}  // namespace rnnattn
