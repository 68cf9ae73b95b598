// Backend selection and the argument checks shared by every backend.
#include "rnnattn/backend.hpp"

#include <vector>

#include "backend_cpu.hpp"
#include "backend_gpu.hpp"
#include "cpu_fast.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/reference.hpp"

namespace rnnattn {

void set_cpu_threads(int n) {
  if (n < 0) throw InvalidArgument("threads must be >= 0, got " + std::to_string(n));
  fast::set_threads(n);
}
double TrainingSession::train_epoch(const std::vector<int>& order, int batch_size) {
  double loss_sum = 0;
  const int batches = train_batches(order, batch_size, &loss_sum);
  return batches ? loss_sum / batches : 0.0;
}

int cpu_threads() { return fast::threads(); }

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::kCpu;
  if (s == "reference") return Device::kReference;
  if (s == "cuda") return Device::kCuda;
  if (s == "cuda-unfused") return Device::kCudaUnfused;
  if (s == "auto") return Device::kAuto;
  throw InvalidArgument("unknown device '" + s +
                        "' (expected cpu, reference, cuda, cuda-unfused or auto)");
}

const char* to_string(Device d) {
  switch (d) {
    case Device::kCpu:
      return "cpu";
    case Device::kReference:
      return "reference";
    case Device::kCuda:
      return "cuda";
    case Device::kCudaUnfused:
      return "cuda-unfused";
    case Device::kAuto:
      return "auto";
  }
  return "?";
}

// The CUDA kernels were written in a session without a GPU and have not yet passed the GPU suite
// on hardware; until a recorded GPU run says they do (docs/gpu-runs.md), `auto` stays on the CPU.
// `--device cuda` runs them on request.
constexpr bool kCudaVerifiedOnGpu = false;

bool cuda_backend_available() noexcept { return cuda_device_count() > 0; }

bool cuda_auto_enabled() noexcept { return kCudaVerifiedOnGpu && cuda_backend_available(); }

void check_device_supports(Device device, const ModelConfig& c) {
  if (device != Device::kCuda && device != Device::kCudaUnfused) return;
  if (c.context_size() > kCudaMaxContext) {
    throw InvalidArgument(std::string("--device ") + to_string(device) +
                          " supports H <= " + std::to_string(kCudaMaxContext) +
                          " (C = H x directions <= " + std::to_string(kCudaMaxContext) +
                          "); this model has H = " + std::to_string(c.hidden_size) +
                          ", C = " + std::to_string(c.context_size()) + ": use --device cpu");
  }
  if (c.layer_dropout()) {
    throw InvalidArgument(std::string("--device ") + to_string(device) +
                          " trains without the recurrent layers' dropout (--input-dropout, "
                          "--recurrent-dropout): use --device cpu");
  }
}

std::unique_ptr<Backend> make_backend(Device device) {
  switch (device) {
    case Device::kCpu:
      return make_cpu_backend(true);
    case Device::kReference:
      return make_cpu_backend(false);
    case Device::kAuto:
      if (cuda_auto_enabled()) return make_gpu_backend(true);
      return make_cpu_backend(true);
    case Device::kCuda:
      return make_gpu_backend(true);
    case Device::kCudaUnfused:
      return make_gpu_backend(false);
  }
  throw InvalidArgument("unknown device");
}

void TrainingSession::set_token_dataset(const int*, const float*, int, const int*) {
  throw Unavailable(
      "this backend does not train models with an embedding yet; use --device cpu or reference");
}

void Backend::forward_tokens(const ModelConfig& config, const float* params, const int* tokens,
                             int batch, float* y, float* attention, float* hidden,
                             const int* lengths) {
  if (!params) throw InvalidArgument("params is null");
  std::vector<float> x(static_cast<std::size_t>(batch > 0 ? batch : 0) * config.steps *
                       config.input_size);
  embedding_forward(config, params, tokens, batch, x.data(), lengths);
  forward(config.recurrent_part(), params, x.data(), batch, y, attention, hidden, lengths);
}

void Backend::backward_tokens(const ModelConfig& config, const float* params, const int* tokens,
                              int batch, const float* dy, float* dparams, const int* lengths) {
  if (!params) throw InvalidArgument("params is null");
  if (!dparams) throw InvalidArgument("dparams is null");
  std::vector<float> x(static_cast<std::size_t>(batch > 0 ? batch : 0) * config.steps *
                       config.input_size);
  std::vector<float> dx(x.size());
  embedding_forward(config, params, tokens, batch, x.data(), lengths);
  backward(config.recurrent_part(), params, x.data(), batch, dy, dparams, dx.data(), lengths);
  embedding_backward(config, tokens, batch, dx.data(), dparams, lengths);
}

void check_inputs(const ModelConfig& config, const void* params, const void* x, int batch) {
  config.validate();
  if (config.embedded()) {
    throw InvalidArgument(
        "this model embeds token ids (vocab_size V = " + std::to_string(config.vocab_size) +
        "): give it tokens [B,T] through the *_tokens entry points, not x");
  }
  if (batch < 1) throw InvalidArgument("batch (B) must be >= 1, got " + std::to_string(batch));
  if (!params) throw InvalidArgument("params is null");
  if (!x) throw InvalidArgument("x [B,T,D] is null");
}

void check_forward_args(const ModelConfig& config, const void* params, const void* x, int batch,
                        const void* y, const void* attention) {
  check_inputs(config, params, x, batch);
  if (!y) throw InvalidArgument("y [B,O] is null");
  if (attention && !config.attention) {
    throw InvalidArgument("attention [B,T] was requested from the plain model, which has none");
  }
}

void check_lengths(const ModelConfig& config, const int* lengths, int batch) {
  if (!lengths) return;
  for (int b = 0; b < batch; ++b) {
    if (lengths[b] < 1 || lengths[b] > config.steps) {
      throw InvalidArgument("lengths[" + std::to_string(b) + "] = " + std::to_string(lengths[b]) +
                            " is outside [1, T = " + std::to_string(config.steps) + "]");
    }
  }
}

}  // namespace rnnattn
