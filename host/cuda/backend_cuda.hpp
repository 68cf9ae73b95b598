// The CUDA backend (internal header): the host-pointer Backend interface on top of the device API
// (include/rnnattn/cuda.hpp): it copies host inputs in, runs a cuda::Handle on its own stream and
// buffers, and copies results out. Its training session keeps the data and the Adam state on the
// GPU and replays the whole step as one CUDA Graph.
#pragma once

#include <memory>

#include "kernels/cuda_utils.hpp"
#include "rnnattn/backend.hpp"
#include "rnnattn/cuda.hpp"

namespace rnnattn {

// Device memory for a handle's calls at batch B: a workspace and a reserve, grown on demand.
// grow() returns true when a buffer moved (device pointers captured in a CUDA Graph are stale).
struct CudaScratch {
  DeviceBuffer<unsigned char> workspace, reserve;
  bool grow(const cuda::Handle& h, int batch, cuda::Pass pass);
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(cuda::Path path);
  std::string name() const override;

  void forward(const ModelConfig& config, const float* params, const float* x, int batch, float* y,
               float* attention, float* hidden, const int* lengths) override;
  void backward(const ModelConfig& config, const float* params, const float* x, int batch,
                const float* dy, float* dparams, float* dx, const int* lengths) override;
  std::unique_ptr<TrainingSession> start_training(const ModelConfig& config, const AdamConfig& adam,
                                                  const std::vector<float>& params,
                                                  const AdamState& state) override;

  // A device-API handle for `config` on this backend's stream and cuBLAS handle.
  cuda::Handle handle(const ModelConfig& config) const;
  cudaStream_t stream() const { return stream_.get(); }
  cublasHandle_t cublas() const { return cublas_.get(); }
  cuda::Path path() const { return path_; }

 private:
  cuda::Path path_;
  CudaStream stream_;
  CublasHandle cublas_;
  DeviceBuffer<unsigned char> cublas_workspace_;
  CudaScratch scratch_;
};

}  // namespace rnnattn
