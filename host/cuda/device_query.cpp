// Device discovery: how many CUDA GPUs the runtime sees (0 without a driver or a device), for the
// backends' `auto` choice and the tests' skips.
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
