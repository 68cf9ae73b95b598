// The CUDA backend (internal header): the fused kernels (or the unfused path) behind the Backend
// interface, plus device-pointer entry points for tests and benchmarks.
#pragma once

#include <memory>

#include "cuda_utils.hpp"
#include "rnnattn/backend.hpp"

namespace rnnattn {

enum class CudaPath { kFused, kUnfused };

// Scratch of one forward/backward at batch B, owned by the backend and reused across calls.
struct CudaWorkspace {
  DeviceBuffer<float> xw, hidden, scores, ex, expsum, context, attention, dpre, du, dz, dz_next,
      ones;
  DeviceBuffer<float> dc, g_dot_c, dh, carry;  // unfused backward only
  DeviceBuffer<float> persist;                 // persistent forward (large H) only
  DeviceBuffer<unsigned char> cub_temp;
  // Grows the buffers to fit batch B; returns true when any buffer was (re)allocated, which
  // invalidates device pointers captured in a CUDA Graph.
  bool ensure(const ModelConfig& c, int batch);
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(CudaPath path);
  std::string name() const override;

  void forward(const ModelConfig& config, const float* params, const float* x, int batch, float* y,
               float* attention, float* hidden) override;
  void backward(const ModelConfig& config, const float* params, const float* x, int batch,
                const float* dy, float* dparams, float* dx) override;
  std::unique_ptr<TrainingSession> start_training(const ModelConfig& config, const AdamConfig& adam,
                                                  const std::vector<float>& params,
                                                  const AdamState& state) override;

  // Device-pointer versions. forward_device: training = true stores what backward needs in the
  // workspace (and copies the hidden states to `hidden` when not null); training = false is the
  // inference mode (fused path: nothing stored per time step). backward_device recomputes the
  // training forward, then writes dparams (overwritten) and dx (nullable).
  void forward_device(const ModelConfig& config, const float* params, const float* x, int batch,
                      float* y, float* attention, float* hidden, bool training);
  void backward_device(const ModelConfig& config, const float* params, const float* x, int batch,
                       const float* dy, float* dparams, float* dx);

  // The same on an explicit workspace (a training session owns its own, so that its captured
  // graph never sees buffers another call reallocated). backward_from_saved consumes what the
  // training forward left in `ws`, with its outputs y.
  void forward_impl(CudaWorkspace& ws, const ModelConfig& config, const float* params,
                    const float* x, int batch, float* y, float* attention, float* hidden,
                    bool training);
  void backward_from_saved(CudaWorkspace& ws, const ModelConfig& config, const float* params,
                           const float* x, int batch, const float* y, const float* dy,
                           float* dparams, float* dx);

  cudaStream_t stream() const { return stream_.get(); }
  cublasHandle_t cublas() const { return cublas_.get(); }
  // The workspace forward_device/backward_device use (benchmarks time backward_from_saved on it).
  CudaWorkspace& workspace() { return ws_; }
  CudaPath path() const { return path_; }

 private:
  void check_config(const ModelConfig& config) const;
  CudaPath path_;
  CudaStream stream_;
  CublasHandle cublas_;
  DeviceBuffer<unsigned char> cublas_workspace_;
  CudaWorkspace ws_;
  friend class CudaTrainingSession;
};

std::unique_ptr<Backend> make_cuda_backend(CudaPath path);

}  // namespace rnnattn
