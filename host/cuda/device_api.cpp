// The device API (include/rnnattn/cuda.hpp) on the caller's buffers and stream: the handle, the
// choice of design for a pass (host/cuda/plan.hpp's model, or the forced one where this GPU
// allows it), the loss, Adam and the embedding. The passes themselves are pass_one_layer.cpp and
// pass_layered.cpp, the layout of the caller's workspace and reserve workspace.cpp
// (handle_impl.hpp declares what they share). The kernels write per-sequence, per-step
// quantities; the parameter gradients are cuBLAS GEMMs over all B*T rows (deterministic: cuBLAS
// GEMMs give the same bits on every run on the same GPU, and nothing here uses atomics).
#include <algorithm>
#include <cstdint>
#include <string>

#include "cuda/handle_impl.hpp"
#include "model_math.hpp"
#include "rnnattn/backend.hpp"
#include "rnnattn/error.hpp"

namespace rnnattn::cuda {

Handle::Impl::Impl(const ModelConfig& c, cudaStream_t s, cublasHandle_t h, Path p)
    : model(c),
      config(c.recurrent_part()),
      path(p),
      stream(s),
      cublas(h),
      owns_cublas(h == nullptr) {
  model.validate();
  if (config.hidden_size > kMaxHidden) {
    throw InvalidArgument("the CUDA backend supports H <= " + std::to_string(kMaxHidden) +
                          ", got H = " + std::to_string(config.hidden_size) +
                          "; use the CPU backend");
  }
  if (config.context_size() > kMaxHidden) {
    throw InvalidArgument(
        "the CUDA backend supports C = H x directions <= " + std::to_string(kMaxHidden) +
        ", got C = " + std::to_string(config.context_size()) +
        " (bidirectional H = " + std::to_string(config.hidden_size) + "); use the CPU backend");
  }
  if (owns_cublas) {
    RNNATTN_CUBLAS_CHECK(cublasCreate(&cublas));
    try {
      // cuBLAS must not allocate while a CUDA Graph is being captured: give it its workspace.
      cublas_workspace.resize(kOwnCublasWorkspace, "cuBLAS workspace");
      RNNATTN_CUBLAS_CHECK(
          cublasSetWorkspace(cublas, cublas_workspace.get(), cublas_workspace.size()));
      // Plain FP32 arithmetic (no TF32): results within float32 tolerances of the reference.
      RNNATTN_CUBLAS_CHECK(cublasSetMathMode(cublas, CUBLAS_PEDANTIC_MATH));
    } catch (...) {
      cublasDestroy(cublas);
      throw;
    }
  }
}

Handle::Impl::~Impl() {
  if (owns_cublas && cublas) cublasDestroy(cublas);
}

bool Handle::Impl::gated_head_fused(int batch) const {
  kernels::PersistentTiling t;
  return gated() && path == Path::kFused && config.layers == 1 && config.directions() == 1 &&
         !config.dot_attention() && !(config.dropout > 0.f) &&
         config.head != Activation::kSoftmax && !persistent_plan(batch, &t);
}

const cuda::GpuLimits& Handle::Impl::limits() const {
  if (!have_gpu_limits) {
    gpu_limits = cuda::current_gpu_limits();
    have_gpu_limits = true;
  }
  return gpu_limits;
}

const kernels::PersistentTiling* Handle::Impl::persistent_plan(int batch,
                                                               kernels::PersistentTiling* t) const {
  if (!gated() || path != Path::kFused) return nullptr;
  if (recurrence == Recurrence::kSegment || recurrence == Recurrence::kCluster) return nullptr;
  const cuda::GatedPlan p = cuda::plan_gated(batch, config.hidden_size, gates_of(config.cell),
                                             limits(), config.directions());
  if (!p.persistent_possible) return nullptr;
  if (recurrence == Recurrence::kAuto && !p.persistent) return nullptr;
  *t = p.tiling;
  return t;
}

cuda::Design Handle::Impl::elman_design(int batch, cuda::RecurrencePlan* plan) const {
  if (gated() || path != Path::kFused || recurrence == Recurrence::kSegment) {
    return cuda::Design::kSegment;
  }
  *plan = layered() ? cuda::plan_layer(batch, config.hidden_size, config.directions(), limits())
                    : cuda::plan_recurrence(batch, config.hidden_size, limits());
  switch (recurrence) {
    case Recurrence::kPersistent:
      return plan->persistent_possible ? cuda::Design::kPersistent : cuda::Design::kSegment;
    case Recurrence::kCluster:
      return plan->cluster_possible ? cuda::Design::kCluster : cuda::Design::kSegment;
    default:
      return plan->design;
  }
}

const int* Handle::Impl::length_order(const int* lengths, int batch, Buffers& b) {
  if (!lengths) return nullptr;
  kernels::length_order(lengths, batch, config.steps, b.order, stream);
  return b.order;
}

void Handle::Impl::bind() {
  cudaStream_t current = nullptr;
  RNNATTN_CUBLAS_CHECK(cublasGetStream(cublas, &current));
  if (current == stream) return;
  RNNATTN_CUBLAS_CHECK(cublasSetStream(cublas, stream));
  if (owns_cublas) {
    RNNATTN_CUBLAS_CHECK(
        cublasSetWorkspace(cublas, cublas_workspace.get(), cublas_workspace.size()));
  }
}

void Handle::Impl::check_trainable(const char* call) const {
  if (config.layer_dropout()) {
    throw InvalidArgument(std::string(call) +
                          ": the CUDA kernels train without the recurrent layers' dropout "
                          "(input_dropout, recurrent_dropout); train this model on the CPU");
  }
}

void Handle::Impl::check_batch(int batch, const char* call) const {
  if (batch < 1) {
    throw InvalidArgument(std::string(call) + ": batch (B) must be >= 1, got " +
                          std::to_string(batch));
  }
}

Handle::Handle(const ModelConfig& config, cudaStream_t stream, cublasContext* cublas, Path path)
    : impl_(std::make_unique<Impl>(config, stream, cublas, path)) {}
Handle::~Handle() = default;
Handle::Handle(Handle&&) noexcept = default;
Handle& Handle::operator=(Handle&&) noexcept = default;

const ModelConfig& Handle::config() const { return impl_->model; }
Path Handle::path() const { return impl_->path; }
void Handle::set_recurrence(Recurrence recurrence) { impl_->recurrence = recurrence; }
void Handle::set_dropout(std::uint64_t seed, const std::int64_t* step) {
  impl_->dropout_seed = seed;
  impl_->dropout_step = step;
}
Recurrence Handle::recurrence() const { return impl_->recurrence; }
Recurrence Handle::recurrence_for(int batch) const {
  impl_->check_batch(batch, "recurrence_for");
  if (impl_->gated()) {
    kernels::PersistentTiling t;
    return impl_->persistent_plan(batch, &t) ? Recurrence::kPersistent : Recurrence::kSegment;
  }
  cuda::RecurrencePlan plan;
  switch (impl_->elman_design(batch, &plan)) {
    case cuda::Design::kPersistent:
      return Recurrence::kPersistent;
    case cuda::Design::kCluster:
      return Recurrence::kCluster;
    case cuda::Design::kSegment:
      break;
  }
  return Recurrence::kSegment;
}
cudaStream_t Handle::stream() const { return impl_->stream; }
void Handle::set_stream(cudaStream_t stream) { impl_->stream = stream; }
std::size_t Handle::parameter_count() const { return ParamLayout(impl_->model).size(); }

std::size_t Handle::workspace_size(int batch, Pass pass) const {
  impl_->check_batch(batch, "workspace_size");
  Buffers b;
  const std::size_t layers = impl_->layout(Region::kWorkspace, batch, pass, nullptr, b);
  if (!impl_->model.embedded() || pass != Pass::kTraining) return layers;
  // embedding_backward runs on its own, after backward: the larger of the two.
  return std::max(layers, kernels::embedding_workspace_size(batch, impl_->model.steps,
                                                            impl_->model.vocab_size));
}

std::size_t Handle::reserve_size(int batch) const {
  impl_->check_batch(batch, "reserve_size");
  Buffers b;
  return impl_->layout(Region::kReserve, batch, Pass::kTraining, nullptr, b);
}

void Handle::forward_inference(const float* params, const float* x, int batch, float* y,
                               float* attention, void* workspace, std::size_t workspace_bytes,
                               const int* lengths) {
  impl_->check_batch(batch, "forward_inference");
  Buffers b;
  impl_->carve(Region::kWorkspace, batch, Pass::kInference, workspace, workspace_bytes,
               "forward_inference", b);
  impl_->forward(params, x, batch, y, attention, nullptr, false, lengths, b);
}

void Handle::forward_training(const float* params, const float* x, int batch, float* y,
                              float* attention, float* hidden, void* reserve,
                              std::size_t reserve_bytes, void* workspace,
                              std::size_t workspace_bytes, const int* lengths) {
  impl_->check_batch(batch, "forward_training");
  impl_->check_trainable("forward_training");
  Buffers b;
  impl_->carve(Region::kReserve, batch, Pass::kTraining, reserve, reserve_bytes, "forward_training",
               b);
  impl_->carve(Region::kWorkspace, batch, Pass::kTraining, workspace, workspace_bytes,
               "forward_training", b);
  impl_->forward(params, x, batch, y, attention, hidden, true, lengths, b);
}

void Handle::backward(const float* params, const float* x, int batch, const float* y,
                      const float* dy, const void* reserve, std::size_t reserve_bytes,
                      float* dparams, float* dx, GradMode mode, void* workspace,
                      std::size_t workspace_bytes, const int* lengths) {
  impl_->check_batch(batch, "backward");
  impl_->check_trainable("backward");
  Buffers b;
  impl_->carve(Region::kReserve, batch, Pass::kTraining, const_cast<void*>(reserve), reserve_bytes,
               "backward", b);
  impl_->carve(Region::kWorkspace, batch, Pass::kTraining, workspace, workspace_bytes, "backward",
               b);
  impl_->backward(params, x, batch, y, dy, dparams, dx, mode, lengths, b);
}

void Handle::loss_gradient(const float* y, const float* target, int batch, float* dy,
                           double* loss_sum) {
  impl_->check_batch(batch, "loss_gradient");
  if (!y || !target || !dy) throw InvalidArgument("loss_gradient: y, target and dy are required");
  kernels::loss_forward_backward(static_cast<int>(impl_->config.loss), y, target,
                                 batch * impl_->config.output_size, impl_->config.output_size, dy,
                                 loss_sum, impl_->stream);
}

void Handle::adam_update(const AdamConfig& adam, float* params, const float* grads, float* m,
                         float* v, std::int64_t* step) {
  adam.validate();
  if (!params || !grads || !m || !v || !step) {
    throw InvalidArgument("adam_update: params, grads, m, v and step are required");
  }
  auto* counter = reinterpret_cast<long long*>(step);
  static_assert(sizeof(long long) == sizeof(std::int64_t));
  kernels::advance_counters(counter, nullptr, 0, impl_->stream);
  kernels::adam_update(params, grads, m, v, static_cast<int>(parameter_count()), adam.learning_rate,
                       adam.beta1, adam.beta2, adam.epsilon, counter, impl_->stream);
}

namespace {

void check_embedding_call(const ModelConfig& m, int batch, const char* call) {
  if (!m.embedded()) {
    throw InvalidArgument(std::string(call) +
                          ": the model has no embedding (config.vocab_size is 0)");
  }
  if (batch < 1) {
    throw InvalidArgument(std::string(call) + ": batch (B) must be >= 1, got " +
                          std::to_string(batch));
  }
  if (static_cast<long long>(batch) * m.steps >= (1ll << 31)) {
    throw InvalidArgument(std::string(call) + ": B x T must be below 2^31");
  }
}

}  // namespace

void Handle::embed(const float* params, const int* tokens, int batch, float* x,
                   const int* lengths) {
  const ModelConfig& m = impl_->model;
  check_embedding_call(m, batch, "embed");
  if (!params || !tokens || !x) throw InvalidArgument("embed: params, tokens and x are required");
  kernels::embedding_forward(params + ParamLayout(m).emb, tokens, lengths, batch, m.steps,
                             m.input_size, m.vocab_size, x, impl_->stream);
}

void Handle::embedding_backward(const int* tokens, int batch, const float* dx, float* dparams,
                                GradMode mode, void* workspace, std::size_t workspace_bytes,
                                const int* lengths) {
  const ModelConfig& m = impl_->model;
  check_embedding_call(m, batch, "embedding_backward");
  if (!tokens || !dx || !dparams) {
    throw InvalidArgument("embedding_backward: tokens, dx and dparams are required");
  }
  check_region("embedding_backward", "workspace", workspace, workspace_bytes,
               kernels::embedding_workspace_size(batch, m.steps, m.vocab_size), batch);
  kernels::embedding_backward(tokens, lengths, batch, m.steps, m.input_size, m.vocab_size, dx,
                              mode == GradMode::kAccumulate, dparams + ParamLayout(m).emb,
                              workspace, workspace_bytes, impl_->stream);
}

}  // namespace rnnattn::cuda
