// The CUDA backend: the host-pointer Backend on top of the device API (host/cuda/device_api.cpp).
// forward/backward copy host buffers in, call a cuda::Handle on the backend's stream, and copy
// the results out; the training session keeps everything on the GPU and replays the whole step
// (gather, forward, loss, backward, Adam) as one CUDA Graph.
#include "cuda/backend_cuda.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include "backend_gpu.hpp"
#include "kernels/kernels.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/reference.hpp"

namespace rnnattn {

bool CudaScratch::grow(const cuda::Handle& h, int batch, cuda::Pass pass) {
  bool moved = false;
  const std::size_t ws = h.workspace_size(batch, pass);
  if (workspace.size() < ws) {
    workspace.resize(ws, "device-API workspace");
    moved = true;
  }
  if (pass == cuda::Pass::kTraining) {
    const std::size_t rs = h.reserve_size(batch);
    if (reserve.size() < rs) {
      reserve.resize(rs, "device-API reserve");
      moved = true;
    }
  }
  return moved;
}

CudaBackend::CudaBackend(cuda::Path path) : path_(path) {
  // One cuBLAS handle and workspace for every handle this backend makes (the workspace is given
  // now: cuBLAS must not allocate while a CUDA Graph is being captured).
  cublas_workspace_.resize(32u << 20, "cuBLAS workspace");
  RNNATTN_CUBLAS_CHECK(cublasSetStream(cublas_.get(), stream_.get()));
  RNNATTN_CUBLAS_CHECK(
      cublasSetWorkspace(cublas_.get(), cublas_workspace_.get(), cublas_workspace_.size()));
  // Plain FP32 arithmetic (no TF32), so results stay within the float32 tolerances of the tests.
  RNNATTN_CUBLAS_CHECK(cublasSetMathMode(cublas_.get(), CUBLAS_PEDANTIC_MATH));
}

std::string CudaBackend::name() const {
  return path_ == cuda::Path::kFused ? "cuda" : "cuda-unfused";
}

cuda::Handle CudaBackend::handle(const ModelConfig& config) const {
  return cuda::Handle(config, stream_.get(), cublas_.get(), path_);
}

// ---- host-pointer entry points: copy in, run, copy out -----------------------------------------
namespace {

DeviceBuffer<float> upload(const float* src, std::size_t n, const char* what, cudaStream_t s) {
  DeviceBuffer<float> d(n, what);
  RNNATTN_CUDA_CHECK(cudaMemcpyAsync(d.get(), src, n * sizeof(float), cudaMemcpyHostToDevice, s));
  return d;
}

// Lengths [n] to the device (an empty buffer when there are none).
DeviceBuffer<int> upload_lengths(const int* src, std::size_t n, cudaStream_t s) {
  DeviceBuffer<int> d;
  if (!src) return d;
  d.resize(n, "lengths [B]");
  RNNATTN_CUDA_CHECK(cudaMemcpyAsync(d.get(), src, n * sizeof(int), cudaMemcpyHostToDevice, s));
  return d;
}

void download(float* dst, const DeviceBuffer<float>& src, cudaStream_t s) {
  RNNATTN_CUDA_CHECK(
      cudaMemcpyAsync(dst, src.get(), src.size() * sizeof(float), cudaMemcpyDeviceToHost, s));
}

}  // namespace

void CudaBackend::forward(const ModelConfig& c, const float* params, const float* x, int batch,
                          float* y, float* attention, float* hidden, const int* lengths) {
  check_forward_args(c, params, x, batch, y, attention);
  check_lengths(c, lengths, batch);
  cuda::Handle h = handle(c);
  const cudaStream_t s = stream_.get();
  const std::size_t bt = static_cast<std::size_t>(batch) * c.steps;
  const DeviceBuffer<float> d_p = upload(params, ParamLayout(c).size(), "params", s);
  const DeviceBuffer<float> d_x = upload(x, bt * c.input_size, "x [B,T,D]", s);
  const DeviceBuffer<int> d_len = upload_lengths(lengths, batch, s);
  DeviceBuffer<float> d_y(static_cast<std::size_t>(batch) * c.output_size, "y [B,O]");
  DeviceBuffer<float> d_a, d_h;
  if (attention) d_a.resize(bt, "attention [B,T]");
  if (hidden) {
    // The hidden states come from the training forward.
    d_h.resize(bt * c.context_size(), "hidden [B,T,C]");
    scratch_.grow(h, batch, cuda::Pass::kTraining);
    h.forward_training(d_p.get(), d_x.get(), batch, d_y.get(), d_a.get(), d_h.get(),
                       scratch_.reserve.get(), scratch_.reserve.size(), scratch_.workspace.get(),
                       scratch_.workspace.size(), d_len.get());
  } else {
    scratch_.grow(h, batch, cuda::Pass::kInference);
    h.forward_inference(d_p.get(), d_x.get(), batch, d_y.get(), d_a.get(), scratch_.workspace.get(),
                        scratch_.workspace.size(), d_len.get());
  }
  download(y, d_y, s);
  if (attention) download(attention, d_a, s);
  if (hidden) download(hidden, d_h, s);
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s));
}

void CudaBackend::backward(const ModelConfig& c, const float* params, const float* x, int batch,
                           const float* dy, float* dparams, float* dx, const int* lengths) {
  check_inputs(c, params, x, batch);
  check_lengths(c, lengths, batch);
  if (!dy) throw InvalidArgument("dy [B,O] is null");
  if (!dparams) throw InvalidArgument("dparams is null");
  cuda::Handle h = handle(c);
  const cudaStream_t s = stream_.get();
  const std::size_t bt = static_cast<std::size_t>(batch) * c.steps, n = ParamLayout(c).size();
  const DeviceBuffer<float> d_p = upload(params, n, "params", s);
  const DeviceBuffer<float> d_x = upload(x, bt * c.input_size, "x [B,T,D]", s);
  const DeviceBuffer<float> d_dy =
      upload(dy, static_cast<std::size_t>(batch) * c.output_size, "dy [B,O]", s);
  const DeviceBuffer<int> d_len = upload_lengths(lengths, batch, s);
  DeviceBuffer<float> d_y(static_cast<std::size_t>(batch) * c.output_size, "y [B,O]");
  DeviceBuffer<float> d_g(n, "dparams"), d_dx;
  if (dx) d_dx.resize(bt * c.input_size, "dx [B,T,D]");
  scratch_.grow(h, batch, cuda::Pass::kTraining);
  h.forward_training(d_p.get(), d_x.get(), batch, d_y.get(), nullptr, nullptr,
                     scratch_.reserve.get(), scratch_.reserve.size(), scratch_.workspace.get(),
                     scratch_.workspace.size(), d_len.get());
  h.backward(d_p.get(), d_x.get(), batch, d_y.get(), d_dy.get(), scratch_.reserve.get(),
             scratch_.reserve.size(), d_g.get(), d_dx.get(), cuda::GradMode::kOverwrite,
             scratch_.workspace.get(), scratch_.workspace.size(), d_len.get());
  download(dparams, d_g, s);
  if (dx) download(dx, d_dx, s);
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s));
}

// ---- training: the whole step (gather, forward, loss, backward, Adam) as one CUDA Graph ---------
class CudaTrainingSession final : public TrainingSession {
 public:
  CudaTrainingSession(CudaBackend& backend, const ModelConfig& c, const AdamConfig& adam,
                      const std::vector<float>& params, const AdamState& state)
      : be_(backend), handle_(backend.handle(c)), c_(c), adam_(adam), n_(ParamLayout(c).size()) {
    adam_.validate();
    if (params.size() != n_) {
      throw InvalidArgument("params: expected " + std::to_string(n_) + " values for " +
                            describe(c) + ", got " + std::to_string(params.size()));
    }
    AdamState st = state;
    if (st.m.empty() && st.v.empty() && st.step == 0) st.reset(n_);
    if (st.m.size() != n_ || st.v.size() != n_) {
      throw InvalidArgument("adam state: moments do not match the " + std::to_string(n_) +
                            " parameters");
    }
    const cudaStream_t s = be_.stream();
    params_ = upload(params.data(), n_, "params", s);
    m_ = upload(st.m.data(), n_, "adam m", s);
    v_ = upload(st.v.data(), n_, "adam v", s);
    grads_.resize(n_, "gradients");
    step_.resize(1, "adam step");
    cursor_.resize(1, "batch cursor");
    loss_.resize(1, "loss accumulator");
    const std::int64_t step = st.step;
    RNNATTN_CUDA_CHECK(cudaMemcpyAsync(step_.get(), &step, sizeof step, cudaMemcpyHostToDevice, s));
    RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s));
  }

  void set_dataset(const float* x, const float* y, int n, const int* lengths) override {
    if (c_.embedded()) {
      throw InvalidArgument("this model embeds token ids: train it with set_token_dataset");
    }
    if (n < 1) throw InvalidArgument("dataset: need at least one window, got " + std::to_string(n));
    check_lengths(c_, lengths, n);
    if (!x || !y) throw InvalidArgument("dataset: x or y is null");
    const cudaStream_t s = be_.stream();
    all_x_ = upload(x, static_cast<std::size_t>(n) * c_.steps * c_.input_size, "dataset x", s);
    set_targets(y, n, lengths);
  }

  // A model with an embedding: the ids stay on the GPU; each step gathers its rows of ids and
  // embeds them (Handle::embed), and sums dL/dx into the table (Handle::embedding_backward).
  void set_token_dataset(const int* tokens, const float* y, int n, const int* lengths) override {
    if (n < 1) throw InvalidArgument("dataset: need at least one window, got " + std::to_string(n));
    check_tokens(c_, tokens, n, lengths);  // ids in [0, V): the device cannot report them
    if (!y) throw InvalidArgument("dataset: y is null");
    const cudaStream_t s = be_.stream();
    const std::size_t nt = static_cast<std::size_t>(n) * c_.steps;
    all_tok_.resize(nt, "dataset tokens");
    RNNATTN_CUDA_CHECK(
        cudaMemcpyAsync(all_tok_.get(), tokens, nt * sizeof(int), cudaMemcpyHostToDevice, s));
    set_targets(y, n, lengths);
  }

  int train_batches(const std::vector<int>& order, int batch, double* loss_sum) override {
    if (batch < 1) throw InvalidArgument("batch size must be >= 1, got " + std::to_string(batch));
    if (count_ == 0) throw InvalidArgument("train_batches: no dataset was set");
    for (int k : order) {
      if (k < 0 || k >= count_) {
        throw InvalidArgument("train_batches: index " + std::to_string(k) + " outside [0, " +
                              std::to_string(count_) + ")");
      }
    }
    const int n = static_cast<int>(order.size());
    if (n == 0) return 0;
    const cudaStream_t s = be_.stream();
    bool moved = false;
    if (order_.size() < order.size()) {
      order_.resize(order.size(), "epoch order");
      moved = true;
    }
    RNNATTN_CUDA_CHECK(cudaMemcpyAsync(order_.get(), order.data(), order.size() * sizeof(int),
                                       cudaMemcpyHostToDevice, s));
    RNNATTN_CUDA_CHECK(cudaMemsetAsync(cursor_.get(), 0, sizeof(int), s));
    // The running sum goes on on the device: every batch's loss added to it in order.
    RNNATTN_CUDA_CHECK(
        cudaMemcpyAsync(loss_.get(), loss_sum, sizeof(double), cudaMemcpyHostToDevice, s));

    const int full = n / batch, tail = n % batch;
    const int batches = full + (tail > 0 ? 1 : 0);
    if (small_epoch(batch)) {
      // A small model: the whole epoch in one launch (rnn_train_small.cu).
      const ParamLayout l(c_);
      kernels::SmallTrainArgs a{};
      a.shape = kernels::shape_of(c_, batch);
      a.offsets = {static_cast<int>(l.wx), static_cast<int>(l.wh), static_cast<int>(l.bh),
                   static_cast<int>(l.wa), static_cast<int>(l.ba), static_cast<int>(l.wd),
                   static_cast<int>(l.bd)};
      a.n_params = static_cast<int>(n_);
      a.params = params_.get();
      a.m = m_.get();
      a.v = v_.get();
      a.step = reinterpret_cast<long long*>(step_.get());
      a.all_x = all_x_.get();
      a.all_y = all_y_.get();
      a.order = order_.get();
      a.n = n;
      a.loss = static_cast<int>(c_.loss);
      a.lr = adam_.learning_rate;
      a.b1 = adam_.beta1;
      a.b2 = adam_.beta2;
      a.eps = adam_.epsilon;
      a.loss_sum = loss_.get();
      kernels::small_train_epoch(a, s);
      *loss_sum = read_loss();
      return batches;
    }
    // The graph holds the device pointers, the batch size and the dropout seed it was captured
    // with: any buffer that moved, a new dataset (set_dataset), another batch size or seed means
    // capturing again. The step counter the masks are counted by is read from the device.
    if (moved || seed_ != graph_seed_) graph_.reset();
    handle_.set_dropout(seed_, step_.get());
    graph_seed_ = seed_;
    if (full > 0) {
      if (prepare(batch) || graph_batch_ != batch) graph_.reset();
      int done = 0;
      if (!graph_) {
        // The first step of a new capture runs eagerly: every kernel is loaded (lazy module
        // loading) and any launch error surfaces here, outside the capture.
        enqueue_step(batch);
        done = 1;
        if (full > 1) capture_step(batch);
      }
      for (; done < full; ++done) graph_.launch(s);
    }
    if (tail > 0) {
      if (prepare(tail)) graph_.reset();
      enqueue_step(tail);  // eager: a tail batch happens once an epoch
    }
    *loss_sum = read_loss();
    return batches;
  }

  std::vector<float> parameters() const override { return to_host(params_); }
  AdamState adam_state() const override {
    AdamState st;
    st.m = to_host(m_);
    st.v = to_host(v_);
    std::int64_t step = 0;
    RNNATTN_CUDA_CHECK(cudaMemcpy(&step, step_.get(), sizeof step, cudaMemcpyDeviceToHost));
    st.step = step;
    return st;
  }

 private:
  void set_targets(const float* y, int n, const int* lengths) {
    const cudaStream_t s = be_.stream();
    all_y_ = upload(y, static_cast<std::size_t>(n) * c_.output_size, "dataset y", s);
    all_len_ = upload_lengths(lengths, n, s);
    count_ = n;
    graph_.reset();  // the captured step read the previous dataset's buffers
    RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s));
  }

  // Allocates everything a step at batch b touches, outside any graph capture. Returns true when
  // a buffer moved (the captured graph must then be captured again).
  bool prepare(int b) {
    bool moved = scratch_.grow(handle_, b, cuda::Pass::kTraining);
    const std::size_t need_x = static_cast<std::size_t>(b) * c_.steps * c_.input_size;
    const std::size_t need_y = static_cast<std::size_t>(b) * c_.output_size;
    if (bx_.size() < need_x) {
      bx_.resize(need_x, "batch x");
      moved = true;
    }
    if (c_.embedded()) {
      const std::size_t need_t = static_cast<std::size_t>(b) * c_.steps;
      if (btok_.size() < need_t) {
        btok_.resize(need_t, "batch tokens");
        moved = true;
      }
      if (dx_.size() < need_x) {
        dx_.resize(need_x, "dL/dx");
        moved = true;
      }
    }
    if (all_len_.get() && blen_.size() < static_cast<std::size_t>(b)) {
      blen_.resize(b, "batch lengths");
      moved = true;
    }
    if (by_.size() < need_y) {
      by_.resize(need_y, "batch y");
      pred_.resize(need_y, "batch predictions");
      dy_.resize(need_y, "dL/dy");
      moved = true;
    }
    return moved;
  }

  // The small-model epoch kernel takes the fused path's one-layer models with the additive
  // attention (or none) and an elementwise head, without dropout or lengths, that fit it.
  bool small_epoch(int batch) const {
    if (be_.path() != cuda::Path::kFused || !c_.single_layer() || c_.cell != Cell::kElman ||
        all_len_.get() || c_.embedded() || c_.dot_attention() || c_.dropout > 0.f ||
        c_.head == Activation::kSoftmax) {
      return false;
    }
    return kernels::small_train_fits(kernels::shape_of(c_, batch), static_cast<int>(n_));
  }

  double read_loss() {
    double loss_sum = 0;
    const cudaStream_t s = be_.stream();
    RNNATTN_CUDA_CHECK(
        cudaMemcpyAsync(&loss_sum, loss_.get(), sizeof loss_sum, cudaMemcpyDeviceToHost, s));
    RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s));
    return loss_sum;
  }

  void capture_step(int b) {
    const cudaStream_t s = be_.stream();
    RNNATTN_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    try {
      enqueue_step(b);
    } catch (...) {
      cudaGraph_t broken = nullptr;
      cudaStreamEndCapture(s, &broken);
      if (broken) cudaGraphDestroy(broken);
      throw;
    }
    graph_.end_capture(s);
    graph_batch_ = b;
  }

  void enqueue_step(int b) {
    const cudaStream_t s = be_.stream();
    const bool tok = c_.embedded();
    const int x_row = tok ? 0 : c_.steps * c_.input_size, y_row = c_.output_size;
    const int* len = all_len_.get() ? blen_.get() : nullptr;
    kernels::gather_batch(all_x_.get(), all_y_.get(), all_len_.get(), order_.get(), cursor_.get(),
                          b, x_row, y_row, bx_.get(), by_.get(), blen_.get(), s);
    void* ws = scratch_.workspace.get();
    void* rs = scratch_.reserve.get();
    const std::size_t wn = scratch_.workspace.size(), rn = scratch_.reserve.size();
    if (tok) {
      kernels::gather_token_rows(all_tok_.get(), order_.get(), cursor_.get(), b, c_.steps,
                                 btok_.get(), s);
      handle_.embed(params_.get(), btok_.get(), b, bx_.get(), len);
    }
    handle_.forward_training(params_.get(), bx_.get(), b, pred_.get(), nullptr, nullptr, rs, rn, ws,
                             wn, len);
    handle_.loss_gradient(pred_.get(), by_.get(), b, dy_.get(), loss_.get());
    handle_.backward(params_.get(), bx_.get(), b, pred_.get(), dy_.get(), rs, rn, grads_.get(),
                     tok ? dx_.get() : nullptr, cuda::GradMode::kOverwrite, ws, wn, len);
    if (tok) {
      handle_.embedding_backward(btok_.get(), b, dx_.get(), grads_.get(),
                                 cuda::GradMode::kOverwrite, ws, wn, len);
    }
    kernels::advance_counters(nullptr, cursor_.get(), b, s);  // the next batch's rows
    handle_.adam_update(adam_, params_.get(), grads_.get(), m_.get(), v_.get(), step_.get());
  }

  std::vector<float> to_host(const DeviceBuffer<float>& d) const {
    std::vector<float> h(d.size());
    RNNATTN_CUDA_CHECK(
        cudaMemcpy(h.data(), d.get(), d.size() * sizeof(float), cudaMemcpyDeviceToHost));
    return h;
  }

  CudaBackend& be_;
  cuda::Handle handle_;
  CudaScratch scratch_;  // this session's own: the captured graph points into it
  ModelConfig c_;
  AdamConfig adam_;
  std::size_t n_;
  DeviceBuffer<float> params_, grads_, m_, v_, all_x_, all_y_, bx_, by_, pred_, dy_;
  DeviceBuffer<std::int64_t> step_;
  DeviceBuffer<int> cursor_, order_;
  DeviceBuffer<int> all_len_, blen_;  // dataset and batch lengths (empty: all T)
  DeviceBuffer<int> all_tok_, btok_;  // a model with an embedding: dataset and batch token ids
  DeviceBuffer<float> dx_;            // and dL/dx, for the table's gradient
  DeviceBuffer<double> loss_;
  int count_ = 0;
  CudaGraphExec graph_;
  int graph_batch_ = 0;
  std::uint64_t graph_seed_ = 0;
};

std::unique_ptr<TrainingSession> CudaBackend::start_training(const ModelConfig& c,
                                                             const AdamConfig& adam,
                                                             const std::vector<float>& params,
                                                             const AdamState& state) {
  if (c.layer_dropout()) {  // inference draws no masks: a model with it predicts on the GPU
    throw InvalidArgument(
        "the CUDA backend trains without the recurrent layers' dropout (input_dropout, "
        "recurrent_dropout); this model has " +
        std::to_string(c.input_dropout) + ", " + std::to_string(c.recurrent_dropout) +
        ": train it with the CPU backend");
  }
  return std::make_unique<CudaTrainingSession>(*this, c, adam, params, state);
}

bool built_with_cuda() noexcept { return true; }

std::unique_ptr<Backend> make_gpu_backend(bool fused) {
  if (cuda_device_count() == 0) {
    throw Unavailable(
        "device cuda: no CUDA GPU is visible on this machine "
        "(cudaGetDeviceCount found none); use --device cpu or auto");
  }
  return std::make_unique<CudaBackend>(fused ? cuda::Path::kFused : cuda::Path::kUnfused);
}

}  // namespace rnnattn
