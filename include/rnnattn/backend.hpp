// Backends: where the model is computed, behind one interface: the fast CPU path (batched, BLAS),
// the plain reference it is tested against, and the CUDA backend (the fused kernels, or the
// unfused path), so callers do not change with the device.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rnnattn/adam.hpp"
#include "rnnattn/config.hpp"

namespace rnnattn {

enum class Device { kCpu, kCuda, kCudaUnfused, kAuto, kReference };
// "cpu" | "reference" | "cuda" | "cuda-unfused" | "auto"
Device parse_device(const std::string& s);
const char* to_string(Device d);

// A training run that lives in the backend's memory: the parameters, the Adam state and the
// dataset are handed over once, then whole epochs run without the caller touching the data.
class TrainingSession {
 public:
  virtual ~TrainingSession() = default;
  // x [n, T, D], y [n, O], lengths [n] (null: all T; see reference.hpp), host pointers; copied.
  virtual void set_dataset(const float* x, const float* y, int n, const int* lengths = nullptr) = 0;
  // The same for a model with an embedding (config.vocab_size > 0): tokens [n, T] (reference.hpp)
  // instead of x; every step then trains the embedding too. A backend that cannot yet throws
  // Unavailable saying so (the default).
  virtual void set_token_dataset(const int* tokens, const float* y, int n,
                                 const int* lengths = nullptr);
  // One epoch of mini-batches over the dataset in the given order (a permutation of a subset of
  // 0..n-1); the last batch may be smaller. Returns the mean of the per-batch losses (as Keras
  // reports it): train_batches from a sum of 0, divided by the batches.
  double train_epoch(const std::vector<int>& order, int batch_size);
  // The same mini-batches, adding each batch's loss in order to *loss_sum (a running sum, so that
  // an epoch trained in parts sums its losses bit for bit as in one call, however it is cut);
  // returns the number of batches.
  virtual int train_batches(const std::vector<int>& order, int batch_size, double* loss_sum) = 0;
  // Copy the current parameters and optimiser state back to the host.
  virtual std::vector<float> parameters() const = 0;
  virtual AdamState adam_state() const = 0;
  // The run's seed: with the optimiser's step (Adam's, which a checkpoint keeps) it keys the
  // dropout masks (config.dropout; dropout.hpp), so that a resumed run draws what one run would.
  // fit() sets TrainOptions::seed. Ignored by a model without dropout.
  void set_seed(std::uint64_t seed) { seed_ = seed; }

 protected:
  std::uint64_t seed_ = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // Forward pass on host buffers; shapes as in reference.hpp. attention/hidden may be null;
  // lengths [B] may be null (every sequence T steps).
  virtual void forward(const ModelConfig& config, const float* params, const float* x, int batch,
                       float* y, float* attention, float* hidden, const int* lengths = nullptr) = 0;

  // Backward pass on host buffers: dy [B,O] in, dparams (overwritten) and dx [B,T,D] (nullable)
  // out.
  virtual void backward(const ModelConfig& config, const float* params, const float* x, int batch,
                        const float* dy, float* dparams, float* dx,
                        const int* lengths = nullptr) = 0;

  // A token model's passes (config.vocab_size > 0; tokens [B, T] as in reference.hpp): by default
  // the embedding on the host (embedding_forward / embedding_backward) around forward / backward
  // of config.recurrent_part(). dparams receives every tensor's gradient, the table's included.
  virtual void forward_tokens(const ModelConfig& config, const float* params, const int* tokens,
                              int batch, float* y, float* attention, float* hidden,
                              const int* lengths = nullptr);
  virtual void backward_tokens(const ModelConfig& config, const float* params, const int* tokens,
                               int batch, const float* dy, float* dparams,
                               const int* lengths = nullptr);

  // Start a training run from the given parameters and optimiser state.
  virtual std::unique_ptr<TrainingSession> start_training(const ModelConfig& config,
                                                          const AdamConfig& adam,
                                                          const std::vector<float>& params,
                                                          const AdamState& state) = 0;
};

// Number of CUDA devices visible to this process (0 when there is no GPU or no driver).
int cuda_device_count() noexcept;
// Whether this build has the CUDA backend (false: a CPU-only build, where make_backend refuses
// the CUDA devices, saying so, and the device API, rnnattn/cuda.hpp, is not installed).
bool built_with_cuda() noexcept;
// True when this build has the CUDA backend and a GPU is present.
bool cuda_backend_available() noexcept;
// True when `auto` picks the GPU: a GPU is present and the CUDA backend has passed the GPU suite
// on real hardware (docs/gpu-runs.md). Until then `auto` stays on the CPU and says so.
bool cuda_auto_enabled() noexcept;

// kCpu: the fast CPU path (batched, BLAS GEMMs; the per-sequence reference for shapes too small
// to gain from it), results within float32 rounding of the reference. kReference: the plain
// reference (host/reference.cpp), the oracle every path is tested against. kCuda: the fused CUDA
// kernels; kCudaUnfused: the classic one-launch-per-operation GPU path (a differential check and
// the benchmarks' baseline); both throw Unavailable saying why when there is no GPU or the build
// has no CUDA. kAuto: the GPU when cuda_auto_enabled(), else the CPU.
std::unique_ptr<Backend> make_backend(Device device);

// The widest state each path computes: the CUDA paths keep a sequence's segment in one thread
// block, so H and C = H x directions are at most 1024 there; the CPU path takes every H that
// ModelConfig::validate accepts (up to 16384).
constexpr int kCudaMaxContext = 1024;

// Throws InvalidArgument naming the device and its limit when `device` (kCuda, kCudaUnfused;
// kCpu and kAuto take every valid configuration) cannot run `config`: a context wider than
// kCudaMaxContext, or the recurrent layers' dropout in training (the CUDA recurrences draw no
// masks).
void check_device_supports(Device device, const ModelConfig& config);

// Threads of the fast CPU path, process-wide: n >= 1, or 0 for one per core (the default). A batch
// is split by sequence into one part a thread (each part's GEMMs single-threaded); a batch of
// fewer than 4 sequences a thread is one part, whose GEMMs (OpenBLAS) use every thread. The same
// count gives the same bits run after run; another count may change the last bits (the parts'
// gradients are summed), within float32 rounding (tests/cpu/test_cpu_fast.cpp).
void set_cpu_threads(int n);
int cpu_threads();

// The checks every entry point (the CPU reference included) makes; throw InvalidArgument naming
// the field or tensor. check_inputs: a valid config, B >= 1, params and x present.
// check_forward_args: check_inputs, y present, attention only from the attention model.
void check_inputs(const ModelConfig& config, const void* params, const void* x, int batch);
void check_forward_args(const ModelConfig& config, const void* params, const void* x, int batch,
                        const void* y, const void* attention);
// Host lengths [B] (null: every sequence has T steps): each must be in [1, T].
void check_lengths(const ModelConfig& config, const int* lengths, int batch);

}  // namespace rnnattn
