// Backend selection and the argument checks shared by every backend.
#include "rnnattn/backend.hpp"

#include "backend_cpu.hpp"
#include "rnnattn/error.hpp"

namespace rnnattn {

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::kCpu;
  if (s == "cuda") return Device::kCuda;
  if (s == "auto") return Device::kAuto;
  throw InvalidArgument("unknown device '" + s + "' (expected cpu, cuda or auto)");
}

const char* to_string(Device d) {
  switch (d) {
    case Device::kCpu:
      return "cpu";
    case Device::kCuda:
      return "cuda";
    case Device::kAuto:
      return "auto";
  }
  return "?";
}

// The fused CUDA backend is not part of this build yet; when it lands, this becomes
// `cuda_device_count() > 0`.
bool cuda_backend_available() noexcept { return false; }

std::unique_ptr<Backend> make_backend(Device device) {
  switch (device) {
    case Device::kCpu:
      return make_cpu_backend();
    case Device::kAuto:
      if (cuda_backend_available()) return make_backend(Device::kCuda);
      return make_cpu_backend();
    case Device::kCuda: {
      const int n = cuda_device_count();
      if (n == 0) {
        throw Unavailable(
            "device cuda: no CUDA GPU is visible on this machine "
            "(cudaGetDeviceCount found none); use --device cpu or auto");
      }
      throw Unavailable("device cuda: this build of rnnattn has no CUDA backend yet (" +
                        std::to_string(n) + " GPU(s) found); use --device cpu or auto");
    }
  }
  throw InvalidArgument("unknown device");
}

void check_forward_args(const ModelConfig& config, const void* params, const void* x, int batch,
                        const void* y, const void* attention) {
  config.validate();
  if (batch < 1) throw InvalidArgument("batch (B) must be >= 1, got " + std::to_string(batch));
  if (!params) throw InvalidArgument("params is null");
  if (!x) throw InvalidArgument("x [B,T,D] is null");
  if (!y) throw InvalidArgument("y [B,O] is null");
  if (attention && !config.attention) {
    throw InvalidArgument("attention [B,T] was requested from the plain model, which has none");
  }
}

}  // namespace rnnattn
