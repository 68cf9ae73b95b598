// The device API: rnnattn on the caller's device buffers, on the caller's stream, inside the
// caller's CUDA graphs (as cuDNN's RNN API and haste are used). The host-pointer backend
// (make_backend(Device::kCuda)) is built on it.
//
// General notes (in addition to config.hpp's):
//   - Every pointer passed to a call is a device pointer (cudaMalloc'd or equivalent), except
//     AdamConfig and ModelConfig, which are host values. Tensors are dense, row-major, float32:
//     params [P] (params.hpp's flat layout), x [B,T,D], y [B,O], dy [B,O], attention [B,T],
//     hidden [B,T,C] (C = H x directions), dparams [P], dx [B,T,D]; lengths [B] is int32 (each in
//     [1, T]; values outside are clamped; null: every sequence T steps; reference.hpp says what
//     padding means). forward_training and the backward that consumes its reserve must get the
//     same lengths.
//   - Models: any cell, layers and directions. Stacked or bidirectional models run layer by layer
//     and need C <= 1024.
//   - workspace and reserve are untyped device memory of at least the size the queries return,
//     aligned to 256 bytes (cudaMalloc's alignment). The workspace is scratch: its contents are not
//     kept between calls, and one workspace may serve every call of a handle in turn. The reserve
//     is what forward_training keeps for backward: it must stay untouched from forward_training to
//     the backward that consumes it, for the same params, x and batch.
//   - Nothing in forward_*, backward, loss_gradient or adam_update allocates memory or synchronises
//     with the host: each enqueues work on the handle's stream and returns, so all of them can be
//     captured into a CUDA graph (stream capture in any mode). They return before the GPU is done:
//     outputs are ready when the stream is. Host-side argument errors are thrown before anything is
//     enqueued. The constructor allocates (the owned cuBLAS handle and its workspace).
//   - A Handle is used by one host thread at a time; separate handles may be used concurrently.
//   - Errors: InvalidArgument names the argument (a null or misaligned pointer, a workspace too
//     small, a shape the CUDA kernels do not support: H > 1024); CudaError names the failed CUDA or
//     cuBLAS call (error.hpp).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "rnnattn/adam.hpp"
#include "rnnattn/config.hpp"

struct cublasContext;  // cuBLAS's handle: cublasHandle_t is cublasContext*

namespace rnnattn::cuda {

// Which kernels compute the model: the fused kernels, or the classic one-launch-per-operation
// path (per-step cuBLAS GEMMs, elementwise kernels; a reference point and a fallback).
enum class Path { kFused, kUnfused };

// How the fused path runs a one-layer model's recurrence (as cuDNN's RNN algorithms do):
//   kAuto:       chosen per batch size B by the performance model (docs/performance.md), default;
//   kSegment:    a segment of threads per sequence, one thread per hidden unit, a block barrier per
//                step (rnn_segment.cu);
//   kPersistent: one cooperative launch over the whole GPU, Wh held on chip in slices, a grid
//                barrier per step (rnn_persistent.cu); falls back to kSegment where this GPU
//                cannot hold the grid at once.
//   kCluster:    thread-block clusters (sm_90, H <= 512): the persistent tiling scoped to a
//                cluster of up to 8 blocks per batch group, h_t exchanged through distributed
//                shared memory, a cluster barrier per step, each group stopping at its own longest
//                sequence (groups packed by length) (rnn_cluster.cu); falls back to kSegment where
//                this GPU has no clusters or H > 512.
// All give the same results within float32 rounding. The Elman cell: all three for every model
// (a stacked or bidirectional layer's two directions in one launch; the persistent kernels' in
// one grid where the GPU holds it at once); the gated cells (LSTM, GRU): segment and persistent
// for every block of any model (kCluster runs their segment kernels). The unfused path runs none
// (its stacked and bidirectional Elman blocks run the segment kernels).
enum class Recurrence { kAuto, kSegment, kPersistent, kCluster };

// Whether backward overwrites dparams and dx or adds to them (gradient accumulation over
// micro-batches).
enum class GradMode { kOverwrite, kAccumulate };

// What a workspace is sized for: inference alone (less), or training (forward_training and
// backward; also enough for inference).
enum class Pass { kInference, kTraining };

class Handle {
 public:
  // A handle for one model configuration, bound to `stream` (nullptr: the legacy default stream).
  // cublas: the caller's cuBLAS handle, or null: one is created and owned, with its own
  // workspace and plain FP32 arithmetic (no TF32). A caller's handle is bound to this handle's
  // stream at every call where it is on another one; cublasSetStream then resets its workspace
  // to cuBLAS's default pool (as cuBLAS documents), which may allocate, also during graph capture.
  // So give a caller's handle this stream and its workspace beforehand (cublasSetStream, then
  // cublasSetWorkspace): it is then left as it is, workspace and math mode included. Throws
  // InvalidArgument for a configuration the CUDA kernels do not support.
  explicit Handle(const ModelConfig& config, cudaStream_t stream = nullptr,
                  cublasContext* cublas = nullptr, Path path = Path::kFused);
  ~Handle();
  Handle(Handle&&) noexcept;
  Handle& operator=(Handle&&) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  const ModelConfig& config() const;
  Path path() const;
  cudaStream_t stream() const;
  void set_stream(cudaStream_t stream);

  // The recurrence setting (default kAuto), and what a pass at batch B runs on this GPU with it:
  // kSegment, kPersistent or kCluster (kSegment for the unfused path). Changing it needs no new
  // workspace.
  void set_recurrence(Recurrence recurrence);

  // Dropout on the context (ModelConfig::dropout > 0, Keras' Dropout before the head): the masks
  // forward_training and backward apply, dropout.hpp's, keyed by `seed` and counted by the int64
  // at `step` (a device pointer the kernels read when they run, so that a replayed CUDA graph
  // draws each replay's masks; null: step 0), the batch row and the element. A CPU training step
  // at the same seed and step draws the same masks. forward_inference applies none.
  void set_dropout(std::uint64_t seed, const std::int64_t* step);
  Recurrence recurrence() const;
  Recurrence recurrence_for(int batch) const;

  // Bytes of workspace a pass at batch B needs, and bytes of reserve forward_training fills.
  // Inference on the fused path holds the input projection of every step ([B,T,G*H] floats,
  // formed by one GEMM before the recurrence, as in training) and otherwise nothing that grows
  // with T.
  std::size_t workspace_size(int batch, Pass pass = Pass::kTraining) const;
  std::size_t reserve_size(int batch) const;

  // Inference: y [B,O] and, when not null, the attention weights [B,T] (attention model only).
  void forward_inference(const float* params, const float* x, int batch, float* y, float* attention,
                         void* workspace, std::size_t workspace_bytes,
                         const int* lengths = nullptr);

  // Training forward: y, optional attention [B,T] and hidden states [B,T,H] (nullable), and the
  // reserve that backward consumes. It and backward refuse a model with the recurrent layers'
  // dropout (ModelConfig::input_dropout, recurrent_dropout: the CPU trains it).
  void forward_training(const float* params, const float* x, int batch, float* y, float* attention,
                        float* hidden, void* reserve, std::size_t reserve_bytes, void* workspace,
                        std::size_t workspace_bytes, const int* lengths = nullptr);

  // Backward from dy = dL/dy [B,O], with the reserve of the forward_training that produced y:
  // dparams [P] and, when not null, dx = dL/dx [B,T,D], overwritten or accumulated into by `mode`.
  // Deterministic: the same inputs give the same bits on the same GPU.
  void backward(const float* params, const float* x, int batch, const float* y, const float* dy,
                const void* reserve, std::size_t reserve_bytes, float* dparams, float* dx,
                GradMode mode, void* workspace, std::size_t workspace_bytes,
                const int* lengths = nullptr);

  // The loss of y [B,O] against target [B,O] (the configuration's loss: MSE mean over batch and
  // outputs, or BCE on probabilities, clipped as Keras does): writes dy [B,O] and adds the loss to
  // *loss_sum (a device double; may be null).
  void loss_gradient(const float* y, const float* target, int batch, float* dy, double* loss_sum);

  // One Adam step (Keras form, adam.hpp) on device params [P] with moments m, v [P]: increments the
  // device step counter *step first, then updates, so that a captured graph replays correctly.
  void adam_update(const AdamConfig& adam, float* params, const float* grads, float* m, float* v,
                   std::int64_t* step);

  // A model with an embedding (config.vocab_size = V > 0, params.hpp: the table emb [V,D] comes
  // last): the calls above compute the layers above the table from x = its rows, and backward
  // leaves the table's gradient alone; these two run the table around them:
  //   embed(params, tokens, B, x);                       x [B,T,D], device memory the caller owns
  //   forward_training(params, x, ...); backward(params, x, ..., dparams, dx, ...);
  //   embedding_backward(tokens, B, dx, dparams, ...);   dL/demb into dparams' table part
  // tokens [B,T] int32 ids; on padding steps (lengths) they are ignored and x is 0; an id outside
  // [0, V) reads as a row of zeros and gets no gradient (the device cannot throw: the host-pointer
  // backend checks ids before they reach the GPU). embedding_backward sorts the ids with CUB's
  // radix sort and sums each id's dx rows in position order: deterministic, no atomics. Its
  // workspace is workspace_size(B, Pass::kTraining), which covers it.
  void embed(const float* params, const int* tokens, int batch, float* x,
             const int* lengths = nullptr);
  void embedding_backward(const int* tokens, int batch, const float* dx, float* dparams,
                          GradMode mode, void* workspace, std::size_t workspace_bytes,
                          const int* lengths = nullptr);

  // The number of parameters P of the configuration (the embedding's table included).
  std::size_t parameter_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rnnattn::cuda
