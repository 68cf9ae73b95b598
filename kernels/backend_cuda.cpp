// The CUDA backend: drives the fused kernels (kernels/rnn_fused_*.cu) or the unfused path
// (kernels/rnn_unfused.cu) and turns the backward kernel's per-step quantities into parameter
// gradients with cuBLAS GEMMs over all B*T rows (deterministic: cuBLAS GEMMs give the same bits on
// every run on the same GPU, and nothing here uses atomics).
#include "backend_cuda.hpp"

#include <algorithm>
#include <string>

#include "kernels.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"

namespace rnnattn {
namespace {

constexpr int kMaxHidden = 1024;  // a sequence's segment is at most one thread block
// From this H on, the forward runs as one persistent cooperative kernel holding Wh on chip
// (rnn_persistent_forward.cu) when the GPU can hold all its blocks; below it, the segment-mapped
// kernel (one sequence per segment of threads) keeps more sequences in flight.
constexpr int kPersistentMinHidden = 256;

kernels::Shape shape_of(const ModelConfig& c, int batch) {
  return kernels::Shape{batch,
                        c.steps,
                        c.input_size,
                        c.hidden_size,
                        c.output_size,
                        c.attention,
                        static_cast<int>(c.head)};
}

kernels::Weights weights_of(const ModelConfig& c, const float* params) {
  const ParamLayout l(c);
  const ParamView<const float> v = make_view(l, params);
  return kernels::Weights{v.wx, v.wh, v.bh, v.wa, v.ba, v.wd, v.bd};
}

std::size_t rows(const ModelConfig& c, int batch) {
  return static_cast<std::size_t>(batch) * c.steps;
}

}  // namespace

bool CudaWorkspace::ensure(const ModelConfig& c, int batch) {
  const std::size_t bt = rows(c, batch), H = c.hidden_size;
  bool grew = false;
  auto grow = [&grew](DeviceBuffer<float>& b, std::size_t n, const char* what) {
    if (b.size() < n) {
      b.resize(n, what);
      grew = true;
    }
  };
  grow(xw, bt * H, "x Wx [B,T,H]");
  grow(hidden, bt * H, "hidden states [B,T,H]");
  grow(scores, bt, "scores [B,T]");
  grow(ex, bt, "exp(scores) [B,T]");
  grow(attention, bt, "attention weights [B,T]");
  grow(expsum, batch, "softmax sums [B]");
  grow(context, static_cast<std::size_t>(batch) * H, "context [B,H]");
  grow(dpre, static_cast<std::size_t>(batch) * c.output_size, "head gradient [B,O]");
  grow(du, bt, "score gradient [B,T]");
  grow(dz, bt * H, "dz [B,T,H]");
  grow(dz_next, bt * H, "dz shifted [B,T,H]");
  grow(dc, static_cast<std::size_t>(batch) * H, "dL/dc [B,H]");
  grow(g_dot_c, batch, "dL/dc . c [B]");
  grow(dh, bt * H, "dL/dh from the attention [B,T,H]");
  grow(carry, static_cast<std::size_t>(batch) * H, "BPTT carry [B,H]");
  if (H >= kPersistentMinHidden) {
    grow(persist, kernels::persistent_scratch_floats(shape_of(c, batch)),
         "persistent-kernel scratch");
  }
  const std::size_t n_ones = std::max<std::size_t>(bt, batch);
  if (ones.size() < n_ones) {
    grew = true;
    ones.resize(n_ones, "ones");
    kernels::fill(ones.get(), n_ones, 1.f, nullptr);
    RNNATTN_CUDA_CHECK(cudaStreamSynchronize(nullptr));
  }
  std::size_t temp = 0;
  kernels::unfused_row_sums(nullptr, batch, c.steps, nullptr, nullptr, &temp, nullptr);
  if (cub_temp.size() < temp) {
    cub_temp.resize(temp, "CUB temporary storage");
    grew = true;
  }
  return grew;
}

CudaBackend::CudaBackend(CudaPath path) : path_(path) {
  // cuBLAS must not allocate while a CUDA Graph is being captured: give it its workspace now.
  cublas_workspace_.resize(32u << 20, "cuBLAS workspace");
  RNNATTN_CUBLAS_CHECK(cublasSetStream(cublas_.get(), stream_.get()));
  RNNATTN_CUBLAS_CHECK(
      cublasSetWorkspace(cublas_.get(), cublas_workspace_.get(), cublas_workspace_.size()));
  // Plain FP32 arithmetic (no TF32), so results stay within the float32 tolerances of the tests.
  RNNATTN_CUBLAS_CHECK(cublasSetMathMode(cublas_.get(), CUBLAS_PEDANTIC_MATH));
}

std::string CudaBackend::name() const {
  return path_ == CudaPath::kFused ? "cuda" : "cuda-unfused";
}

void CudaBackend::check_config(const ModelConfig& c) const {
  c.validate();
  if (c.hidden_size > kMaxHidden) {
    throw InvalidArgument("the CUDA backend supports H <= " + std::to_string(kMaxHidden) +
                          ", got H = " + std::to_string(c.hidden_size) + "; use the CPU backend");
  }
}

void CudaBackend::forward_device(const ModelConfig& c, const float* params, const float* x,
                                 int batch, float* y, float* attention, float* hidden,
                                 bool training) {
  forward_impl(ws_, c, params, x, batch, y, attention, hidden, training);
}

void CudaBackend::forward_impl(CudaWorkspace& ws, const ModelConfig& c, const float* params,
                               const float* x, int batch, float* y, float* attention, float* hidden,
                               bool training) {
  check_config(c);
  check_forward_args(c, params, x, batch, y, attention);
  ws.ensure(c, batch);
  const cudaStream_t s = stream_.get();
  const kernels::Weights w = weights_of(c, params);
  const int H = c.hidden_size, T = c.steps, D = c.input_size, O = c.output_size;
  const int bt = static_cast<int>(rows(c, batch));

  if (path_ == CudaPath::kFused) {
    kernels::FusedForwardArgs a{};
    a.shape = shape_of(c, batch);
    a.w = w;
    a.x = x;
    a.y = y;
    a.attention = attention;
    if (training || hidden) {
      // One GEMM for the input projection of every step: xw[BT,H] = x[BT,D] Wx[D,H].
      gemm_row_major(cublas_.get(), false, false, bt, H, D, 1.f, x, D, w.wx, H, 0.f, ws.xw.get(),
                     H);
      a.xw = ws.xw.get();
      a.hidden = ws.hidden.get();
      a.scores = ws.scores.get();
      a.expsum = ws.expsum.get();
      a.context = ws.context.get();
    }
    const bool persistent =
        H >= kPersistentMinHidden && kernels::persistent_forward(a, ws.persist.get(), s);
    if (!persistent) kernels::fused_forward(a, s);
  } else {
    // Classic: input GEMM, then per step a recurrent GEMM and an elementwise kernel.
    float* hs = ws.hidden.get();
    gemm_row_major(cublas_.get(), false, false, bt, H, D, 1.f, x, D, w.wx, H, 0.f, hs, H);
    for (int t = 0; t < T; ++t) {
      if (t > 0) {
        gemm_row_major(cublas_.get(), false, false, batch, H, H, 1.f, hs + (t - 1) * H, T * H, w.wh,
                       H, 1.f, hs + t * H, T * H);
      }
      kernels::unfused_bias_tanh_step(hs, w.bh, batch, T, H, t, s);
    }
    if (c.attention) {
      kernels::unfused_scores(hs, w.wa, w.ba, batch, T, H, ws.scores.get(), ws.ex.get(), s);
      std::size_t temp = ws.cub_temp.size();
      kernels::unfused_row_sums(ws.ex.get(), batch, T, ws.expsum.get(), ws.cub_temp.get(), &temp,
                                s);
      // The weights stay in the workspace (the unfused backward reads them); copied out on request.
      float* a = ws.attention.get();
      kernels::unfused_normalise(ws.ex.get(), ws.expsum.get(), batch, T, a, s);
      kernels::unfused_context(hs, a, batch, T, H, ws.context.get(), s);
      if (attention) {
        RNNATTN_CUDA_CHECK(cudaMemcpyAsync(attention, a, rows(c, batch) * sizeof(float),
                                           cudaMemcpyDeviceToDevice, s));
      }
    } else {
      RNNATTN_CUDA_CHECK(cudaMemcpy2DAsync(ws.context.get(), H * sizeof(float), hs + (T - 1) * H,
                                           static_cast<std::size_t>(T) * H * sizeof(float),
                                           H * sizeof(float), batch, cudaMemcpyDeviceToDevice, s));
    }
    gemm_row_major(cublas_.get(), false, false, batch, O, H, 1.f, ws.context.get(), H, w.wd, O, 0.f,
                   y, O);
    kernels::unfused_bias_act(y, w.bd, batch, O, static_cast<int>(c.head), s);
  }
  if (hidden) {
    RNNATTN_CUDA_CHECK(cudaMemcpyAsync(hidden, ws.hidden.get(), rows(c, batch) * H * sizeof(float),
                                       cudaMemcpyDeviceToDevice, s));
  }
}

void CudaBackend::backward_from_saved(CudaWorkspace& ws, const ModelConfig& c, const float* params,
                                      const float* x, int batch, const float* y, const float* dy,
                                      float* dparams, float* dx) {
  const cudaStream_t s = stream_.get();
  const ParamLayout l(c);
  const kernels::Weights w = weights_of(c, params);
  const int H = c.hidden_size, T = c.steps, D = c.input_size, O = c.output_size;
  const int bt = static_cast<int>(rows(c, batch));

  if (path_ == CudaPath::kFused) {
    kernels::FusedBackwardArgs a{};
    a.shape = shape_of(c, batch);
    a.w = w;
    a.hidden = ws.hidden.get();
    a.scores = ws.scores.get();
    a.expsum = ws.expsum.get();
    a.context = ws.context.get();
    a.y = y;
    a.dy = dy;
    a.dpre = ws.dpre.get();
    a.du = ws.du.get();
    a.dz = ws.dz.get();
    a.dz_next = ws.dz_next.get();
    kernels::fused_backward(a, s);
  } else {
    // Classic: attention/head backward kernels, then per step an elementwise kernel and a GEMM.
    kernels::unfused_attention_backward(shape_of(c, batch), w, ws.hidden.get(), ws.scores.get(),
                                        ws.attention.get(), ws.context.get(), y, dy, ws.dpre.get(),
                                        ws.dc.get(), ws.g_dot_c.get(), ws.du.get(), ws.dh.get(), s);
    RNNATTN_CUDA_CHECK(
        cudaMemsetAsync(ws.carry.get(), 0, static_cast<std::size_t>(batch) * H * sizeof(float), s));
    for (int t = T - 1; t >= 0; --t) {
      kernels::unfused_bptt_step(ws.dh.get(), ws.carry.get(), ws.hidden.get(), batch, T, H, t,
                                 ws.dz.get(), ws.dz_next.get(), s);
      if (t > 0) {  // carry = dz_t Wh^T
        gemm_row_major(cublas_.get(), false, true, batch, H, H, 1.f, ws.dz.get() + t * H, T * H,
                       w.wh, H, 0.f, ws.carry.get(), H);
      }
    }
  }

  // Weight gradients: large GEMMs over all B*T rows (or B rows for the head).
  cublasHandle_t h = cublas_.get();
  const float* ones = ws.ones.get();
  float* g = dparams;
  gemm_row_major(h, true, false, D, H, bt, 1.f, x, D, ws.dz.get(), H, 0.f, g + l.wx, H);  // X^T dZ
  gemm_row_major(h, true, false, H, H, bt, 1.f, ws.hidden.get(), H, ws.dz_next.get(), H, 0.f,
                 g + l.wh, H);  // Hs^T dZ'
  gemm_row_major(h, false, false, 1, H, bt, 1.f, ones, bt, ws.dz.get(), H, 0.f, g + l.bh, H);
  if (c.attention) {
    gemm_row_major(h, false, false, 1, H, bt, 1.f, ws.du.get(), bt, ws.hidden.get(), H, 0.f,
                   g + l.wa, H);  // dU^T Hs
    gemm_row_major(h, false, false, 1, T, batch, 1.f, ones, batch, ws.du.get(), T, 0.f, g + l.ba,
                   T);
  }
  gemm_row_major(h, true, false, H, O, batch, 1.f, ws.context.get(), H, ws.dpre.get(), O, 0.f,
                 g + l.wd, O);  // C^T dPre
  gemm_row_major(h, false, false, 1, O, batch, 1.f, ones, batch, ws.dpre.get(), O, 0.f, g + l.bd,
                 O);
  if (dx) {
    gemm_row_major(h, false, true, bt, D, H, 1.f, ws.dz.get(), H, w.wx, H, 0.f, dx, D);  // dZ Wx^T
  }
}

void CudaBackend::backward_device(const ModelConfig& c, const float* params, const float* x,
                                  int batch, const float* dy, float* dparams, float* dx) {
  check_config(c);
  if (!dy) throw InvalidArgument("dy [B,O] is null");
  if (!dparams) throw InvalidArgument("dparams is null");
  DeviceBuffer<float> y(static_cast<std::size_t>(batch) * c.output_size, "y [B,O]");
  forward_device(c, params, x, batch, y.get(), nullptr, nullptr, /*training=*/true);
  backward_from_saved(ws_, c, params, x, batch, y.get(), dy, dparams, dx);
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
}

// ---- host-pointer entry points: copy in, run, copy out -----------------------------------------
namespace {

DeviceBuffer<float> upload(const float* src, std::size_t n, const char* what, cudaStream_t s) {
  DeviceBuffer<float> d(n, what);
  RNNATTN_CUDA_CHECK(cudaMemcpyAsync(d.get(), src, n * sizeof(float), cudaMemcpyHostToDevice, s));
  return d;
}

void download(float* dst, const DeviceBuffer<float>& src, cudaStream_t s) {
  RNNATTN_CUDA_CHECK(
      cudaMemcpyAsync(dst, src.get(), src.size() * sizeof(float), cudaMemcpyDeviceToHost, s));
}

}  // namespace

void CudaBackend::forward(const ModelConfig& c, const float* params, const float* x, int batch,
                          float* y, float* attention, float* hidden) {
  check_config(c);
  check_forward_args(c, params, x, batch, y, attention);
  const cudaStream_t s = stream_.get();
  const std::size_t bt = rows(c, batch);
  const DeviceBuffer<float> d_p = upload(params, ParamLayout(c).size(), "params", s);
  const DeviceBuffer<float> d_x = upload(x, bt * c.input_size, "x [B,T,D]", s);
  DeviceBuffer<float> d_y(static_cast<std::size_t>(batch) * c.output_size, "y [B,O]");
  DeviceBuffer<float> d_a, d_h;
  if (attention) d_a.resize(bt, "attention [B,T]");
  if (hidden) d_h.resize(bt * c.hidden_size, "hidden [B,T,H]");
  forward_device(c, d_p.get(), d_x.get(), batch, d_y.get(), d_a.get(), d_h.get(), false);
  download(y, d_y, s);
  if (attention) download(attention, d_a, s);
  if (hidden) download(hidden, d_h, s);
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s));
}

void CudaBackend::backward(const ModelConfig& c, const float* params, const float* x, int batch,
                           const float* dy, float* dparams, float* dx) {
  check_config(c);
  check_inputs(c, params, x, batch);
  if (!dy) throw InvalidArgument("dy [B,O] is null");
  if (!dparams) throw InvalidArgument("dparams is null");
  const cudaStream_t s = stream_.get();
  const std::size_t bt = rows(c, batch), n = ParamLayout(c).size();
  const DeviceBuffer<float> d_p = upload(params, n, "params", s);
  const DeviceBuffer<float> d_x = upload(x, bt * c.input_size, "x [B,T,D]", s);
  const DeviceBuffer<float> d_dy =
      upload(dy, static_cast<std::size_t>(batch) * c.output_size, "dy [B,O]", s);
  DeviceBuffer<float> d_g(n, "dparams"), d_dx;
  if (dx) d_dx.resize(bt * c.input_size, "dx [B,T,D]");
  backward_device(c, d_p.get(), d_x.get(), batch, d_dy.get(), d_g.get(), d_dx.get());
  download(dparams, d_g, s);
  if (dx) download(dx, d_dx, s);
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s));
}

// ---- training: the whole step (gather, forward, loss, backward, Adam) as one CUDA Graph ---------
class CudaTrainingSession final : public TrainingSession {
 public:
  CudaTrainingSession(CudaBackend& backend, const ModelConfig& c, const AdamConfig& adam,
                      const std::vector<float>& params, const AdamState& state)
      : be_(backend), c_(c), adam_(adam), n_(ParamLayout(c).size()) {
    be_.check_config(c);
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
    const long long step = st.step;
    RNNATTN_CUDA_CHECK(cudaMemcpyAsync(step_.get(), &step, sizeof step, cudaMemcpyHostToDevice, s));
    RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s));
  }

  void set_dataset(const float* x, const float* y, int n) override {
    if (n < 1) throw InvalidArgument("dataset: need at least one window, got " + std::to_string(n));
    const cudaStream_t s = be_.stream();
    all_x_ = upload(x, static_cast<std::size_t>(n) * c_.steps * c_.input_size, "dataset x", s);
    all_y_ = upload(y, static_cast<std::size_t>(n) * c_.output_size, "dataset y", s);
    count_ = n;
    graph_.reset();  // the captured step read the previous dataset's buffers
    RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s));
  }

  double train_epoch(const std::vector<int>& order, int batch) override {
    if (batch < 1) throw InvalidArgument("batch size must be >= 1, got " + std::to_string(batch));
    if (count_ == 0) throw InvalidArgument("train_epoch: no dataset was set");
    for (int k : order) {
      if (k < 0 || k >= count_) {
        throw InvalidArgument("train_epoch: index " + std::to_string(k) + " outside [0, " +
                              std::to_string(count_) + ")");
      }
    }
    const int n = static_cast<int>(order.size());
    if (n == 0) return 0.0;
    const cudaStream_t s = be_.stream();
    bool moved = false;
    if (order_.size() < order.size()) {
      order_.resize(order.size(), "epoch order");
      moved = true;
    }
    RNNATTN_CUDA_CHECK(cudaMemcpyAsync(order_.get(), order.data(), order.size() * sizeof(int),
                                       cudaMemcpyHostToDevice, s));
    RNNATTN_CUDA_CHECK(cudaMemsetAsync(cursor_.get(), 0, sizeof(int), s));
    RNNATTN_CUDA_CHECK(cudaMemsetAsync(loss_.get(), 0, sizeof(double), s));

    // The graph holds the device pointers and the batch size it was captured with: any buffer
    // that moved, a new dataset (set_dataset) or another batch size means capturing again.
    if (moved) graph_.reset();
    const int full = n / batch, tail = n % batch;
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
    double loss_sum = 0;
    RNNATTN_CUDA_CHECK(
        cudaMemcpyAsync(&loss_sum, loss_.get(), sizeof loss_sum, cudaMemcpyDeviceToHost, s));
    RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s));
    return loss_sum / (full + (tail > 0 ? 1 : 0));
  }

  std::vector<float> parameters() const override { return to_host(params_); }
  AdamState adam_state() const override {
    AdamState st;
    st.m = to_host(m_);
    st.v = to_host(v_);
    long long step = 0;
    RNNATTN_CUDA_CHECK(cudaMemcpy(&step, step_.get(), sizeof step, cudaMemcpyDeviceToHost));
    st.step = step;
    return st;
  }

 private:
  // Allocates everything a step at batch b touches, outside any graph capture. Returns true when
  // a buffer moved (the captured graph must then be captured again).
  bool prepare(int b) {
    bool moved = ws_.ensure(c_, b);
    const std::size_t need_x = static_cast<std::size_t>(b) * c_.steps * c_.input_size;
    const std::size_t need_y = static_cast<std::size_t>(b) * c_.output_size;
    if (bx_.size() < need_x) {
      bx_.resize(need_x, "batch x");
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
    const int x_row = c_.steps * c_.input_size, y_row = c_.output_size;
    kernels::gather_batch(all_x_.get(), all_y_.get(), order_.get(), cursor_.get(), b, x_row, y_row,
                          bx_.get(), by_.get(), s);
    be_.forward_impl(ws_, c_, params_.get(), bx_.get(), b, pred_.get(), nullptr, nullptr, true);
    kernels::loss_forward_backward(static_cast<int>(c_.loss), pred_.get(), by_.get(), b * y_row,
                                   dy_.get(), loss_.get(), s);
    be_.backward_from_saved(ws_, c_, params_.get(), bx_.get(), b, pred_.get(), dy_.get(),
                            grads_.get(), nullptr);
    kernels::advance_counters(step_.get(), cursor_.get(), b, s);
    kernels::adam_update(params_.get(), grads_.get(), m_.get(), v_.get(), static_cast<int>(n_),
                         adam_.learning_rate, adam_.beta1, adam_.beta2, adam_.epsilon, step_.get(),
                         s);
  }

  std::vector<float> to_host(const DeviceBuffer<float>& d) const {
    std::vector<float> h(d.size());
    RNNATTN_CUDA_CHECK(
        cudaMemcpy(h.data(), d.get(), d.size() * sizeof(float), cudaMemcpyDeviceToHost));
    return h;
  }

  CudaBackend& be_;
  CudaWorkspace ws_;  // this session's own: the captured graph points into it
  ModelConfig c_;
  AdamConfig adam_;
  std::size_t n_;
  DeviceBuffer<float> params_, grads_, m_, v_, all_x_, all_y_, bx_, by_, pred_, dy_;
  DeviceBuffer<long long> step_;
  DeviceBuffer<int> cursor_, order_;
  DeviceBuffer<double> loss_;
  int count_ = 0;
  CudaGraphExec graph_;
  int graph_batch_ = 0;
};

std::unique_ptr<TrainingSession> CudaBackend::start_training(const ModelConfig& c,
                                                             const AdamConfig& adam,
                                                             const std::vector<float>& params,
                                                             const AdamState& state) {
  return std::make_unique<CudaTrainingSession>(*this, c, adam, params, state);
}

std::unique_ptr<Backend> make_cuda_backend(CudaPath path) {
  if (cuda_device_count() == 0) {
    throw Unavailable(
        "device cuda: no CUDA GPU is visible on this machine "
        "(cudaGetDeviceCount found none); use --device cpu or auto");
  }
  return std::make_unique<CudaBackend>(path);
}

}  // namespace rnnattn
