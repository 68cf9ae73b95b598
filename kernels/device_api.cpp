// The device API (include/rnnattn/cuda.hpp) on the caller's buffers and stream: the embedding, the
// recurrence of every cell, layer and direction on the design kernels/plan.hpp chooses (segment:
// rnn_segment.cu; persistent: rnn_persistent_*.cu; cluster: rnn_cluster.cu) or on the unfused
// path (rnn_unfused.cu), the attention and head (attention_head.cu), the loss and
// Adam (train_ops.cu), and the parameter gradients as cuBLAS GEMMs. The backward kernels write
// per-sequence, per-step quantities (dpre, du, dz); the parameter gradients are cuBLAS GEMMs over
// all B*T rows (deterministic: cuBLAS GEMMs give the same bits on every run on the same GPU, and
// nothing here uses atomics).
//
// Memory: the caller's workspace and reserve are carved into 256-byte-aligned tensors by one
// layout function, which also answers the size queries, so the two cannot disagree.
#include <cublas_v2.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "cuda_utils.hpp"
#include "kernels.hpp"
#include "model_math.hpp"
#include "rnnattn/backend.hpp"
#include "rnnattn/cuda.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"

namespace rnnattn::cuda {
namespace {

constexpr int kMaxHidden = kCudaMaxContext;  // a sequence's segment is one thread block
constexpr std::size_t kAlign = 256;
constexpr std::size_t kOwnCublasWorkspace = 32u << 20;

kernels::Weights weights_of(const ModelConfig& c, const float* params) {
  const ParamLayout l(c);
  const ParamView<const float> v = make_view(l, params);
  return kernels::Weights{v.wx, v.wh, v.bh, v.wa, v.ba, v.wd, v.bd};
}

// Hands out aligned pieces of a region; with a null base it only adds up the sizes.
class Carver {
 public:
  explicit Carver(void* base) : base_(static_cast<unsigned char*>(base)) {}
  template <typename T>
  T* take(std::size_t n) {
    used_ = (used_ + kAlign - 1) / kAlign * kAlign;
    T* p = base_ && n ? reinterpret_cast<T*>(base_ + used_) : nullptr;
    used_ += n * sizeof(T);
    return p;
  }
  std::size_t used() const { return used_; }

 private:
  unsigned char* base_;
  std::size_t used_ = 0;
};

// Every tensor a forward or backward uses. Which live in the reserve and which in the workspace
// is decided by layout() below.
struct Buffers {
  // What training keeps for backward (the reserve); inference on the unfused path keeps them in
  // the workspace.
  float* hidden = nullptr;     // [B,T,H]
  float* scores = nullptr;     // [B,T] e_t
  float* expsum = nullptr;     // [B]   sum_t exp(e_t)
  float* context = nullptr;    // [B,H]
  float* attention = nullptr;  // [B,T] softmax weights (unfused backward reads them)
  // Scratch.
  float* xw = nullptr;       // [B,T,H] x Wx for every step (the fused path, both passes)
  float* ex = nullptr;       // [B,T]   exp(e_t) (unfused)
  float* persist = nullptr;  // persistent kernels' scratch (fused path, one layer)
  int* order = nullptr;      // [B] the sequences by length (cluster kernels with lengths)
  unsigned char* cub_temp = nullptr;
  std::size_t cub_bytes = 0;
  float* dpre = nullptr;     // [B,O]
  float* du = nullptr;       // [B,T]
  float* dz = nullptr;       // [B,T,H]
  float* dz_next = nullptr;  // [B,T,H]
  float* wh_t = nullptr;     // [H,H]   Wh transposed (the fused path's backward)
  float* ones = nullptr;     // [max(BT, B)]
  float* dc = nullptr;       // [B,H]   (unfused backward)
  float* g_dot_c = nullptr;  // [B]     (unfused backward)
  float* dh = nullptr;       // [B,T,H] (unfused backward)
  float* carry = nullptr;    // [B,H]   (unfused backward)
  // Stacked / bidirectional models and the gated cells (layer by layer): hidden
  // holds every layer's states [L][B,T,C]; context is [B,C]; xw, dz (d_in), dz_next (drec_next)
  // are G*H wide and wh_t is [G*H,H] for a gated cell.
  float* dtop = nullptr;  // [B,T,C] dL/d(states) of the layer being differentiated
  float* din = nullptr;   // [B,T,C] dL/d(its input), the layer below's dtop
  // Gated cells.
  float* aux = nullptr;         // [blocks][B,T,A*H] what each step keeps (training); inference
                                // on the unfused path: one block's, reused
  float* rec = nullptr;         // [B,G*H] h_prev Wh of one step (unfused)
  float* drec_first = nullptr;  // [B,G*H] (GRU)
  float* carry_c = nullptr;     // [B,H] the LSTM's dL/dc (unfused backward)
};

enum class Region { kReserve, kWorkspace };

// A caller's workspace or reserve for a call: present, large enough and aligned, else
// InvalidArgument naming the call and what it needs.
void check_region(const char* call, const char* what, const void* base, std::size_t bytes,
                  std::size_t need, int batch) {
  if (need > 0 && base == nullptr) {
    throw InvalidArgument(std::string(call) + ": " + what + " is null; it needs " +
                          std::to_string(need) + " bytes at B = " + std::to_string(batch));
  }
  if (bytes < need) {
    throw InvalidArgument(std::string(call) + ": " + what + " of " + std::to_string(bytes) +
                          " bytes; B = " + std::to_string(batch) + " needs " +
                          std::to_string(need) + " (" + what + "_size)");
  }
  if (reinterpret_cast<std::uintptr_t>(base) % kAlign != 0) {
    throw InvalidArgument(std::string(call) + ": " + what +
                          " must be aligned to 256 bytes (as cudaMalloc returns)");
  }
}

}  // namespace

struct Handle::Impl {
  ModelConfig model;   // as given, its embedding included
  ModelConfig config;  // what the kernels run: model.recurrent_part()
  Path path;
  cudaStream_t stream;
  Recurrence recurrence = Recurrence::kAuto;
  mutable bool have_gpu_limits = false;  // queried at the first pass (no GPU needed before)
  mutable kernels::GpuLimits gpu_limits;
  cublasHandle_t cublas;
  bool owns_cublas;
  DeviceBuffer<unsigned char> cublas_workspace;

  Impl(const ModelConfig& c, cudaStream_t s, cublasHandle_t h, Path p)
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
  ~Impl() {
    if (owns_cublas && cublas) cublasDestroy(cublas);
  }

  // Stacked or bidirectional, or a gated cell: layer by layer, the attention and head after the
  // recurrence (attention_head.cu) but where the segment kernels run them inside, on either path.
  bool layered() const { return !config.single_layer() || gated(); }
  bool gated() const { return config.cell != Cell::kElman; }
  // A one-layer, one-direction gated model on the fused path runs its attention and head inside
  // the recurrence's segment kernel (segment_forward_with_head / _backward_with_head), not
  // attention_head_*; where the persistent kernels run its recurrence, the head's kernels follow.
  bool gated_head_fused(int batch) const {
    kernels::PersistentTiling t;
    return gated() && path == Path::kFused && config.layers == 1 && config.directions() == 1 &&
           !persistent_plan(batch, &t);
  }

  // Whether the Elman persistent kernels may run (one layer, fused path): their scratch is then
  // part of every workspace, so that changing the recurrence setting needs no new workspace.
  bool persistent_capable() const { return !layered() && path == Path::kFused; }

  const kernels::GpuLimits& limits() const {
    if (!have_gpu_limits) {
      gpu_limits = kernels::current_gpu_limits();
      have_gpu_limits = true;
    }
    return gpu_limits;
  }

  // The gated cells' persistent tiling (rnn_persistent_gated.cu; every block of any gated model,
  // no scratch) for batch B, or null: run the segment kernels (kCluster included: the cluster
  // kernels are the Elman cell's).
  const kernels::PersistentTiling* persistent_plan(int batch, kernels::PersistentTiling* t) const {
    if (!gated() || path != Path::kFused) return nullptr;
    if (recurrence == Recurrence::kSegment || recurrence == Recurrence::kCluster) return nullptr;
    const kernels::GatedPlan p = kernels::plan_gated(
        batch, config.hidden_size, gates_of(config.cell), limits(), config.directions());
    if (!p.persistent_possible) return nullptr;
    if (recurrence == Recurrence::kAuto && !p.persistent) return nullptr;
    *t = p.tiling;
    return t;
  }

  // The design that runs a one-layer Elman model's recurrence at batch B on the fused path (the
  // model's choice, or the forced one where this GPU allows it; else segment), with its tilings
  // in *plan.
  kernels::Design elman_design(int batch, kernels::RecurrencePlan* plan) const {
    if (!persistent_capable() || recurrence == Recurrence::kSegment) {
      return kernels::Design::kSegment;
    }
    *plan = kernels::plan_recurrence(batch, config.hidden_size, limits());
    switch (recurrence) {
      case Recurrence::kPersistent:
        return plan->persistent_possible ? kernels::Design::kPersistent : kernels::Design::kSegment;
      case Recurrence::kCluster:
        return plan->cluster_possible ? kernels::Design::kCluster : kernels::Design::kSegment;
      default:
        return plan->design;
    }
  }

  // The design that runs the blocks of a stacked or bidirectional Elman model at batch B: the
  // cluster layer kernels where the model (or kCluster) picks them and this GPU allows it, else
  // the segment layer kernels (kPersistent included: there is no persistent layer design).
  kernels::Design layer_design(int batch, kernels::RecurrencePlan* plan) const {
    if (gated() || !layered() || path != Path::kFused || recurrence == Recurrence::kSegment ||
        recurrence == Recurrence::kPersistent) {
      return kernels::Design::kSegment;
    }
    *plan = kernels::plan_layer(batch, config.hidden_size, config.directions(), limits());
    if (recurrence == Recurrence::kCluster) {
      return plan->cluster_possible ? kernels::Design::kCluster : kernels::Design::kSegment;
    }
    return plan->design;
  }

  // The sequences by length for the cluster kernels' groups (into b.order), or null without
  // lengths: in order.
  const int* length_order(const int* lengths, int batch, Buffers& b) {
    if (!lengths) return nullptr;
    kernels::length_order(lengths, batch, config.steps, b.order, stream);
    return b.order;
  }

  // The one-layer Elman forward or backward (FusedForwardArgs or FusedBackwardArgs) on the design
  // elman_design picks, falling back to the segment kernels where the GPU refuses it.
  template <typename Args, typename Persistent, typename Cluster, typename Segment>
  void run_elman(const Args& a, int batch, const int* lengths, Buffers& b, Persistent persistent,
                 Cluster cluster, Segment segment) {
    kernels::RecurrencePlan plan;
    bool done = false;
    switch (elman_design(batch, &plan)) {
      case kernels::Design::kPersistent:
        done = persistent(a, plan.tiling, b.persist, stream);
        break;
      case kernels::Design::kCluster:
        // Groups packed by length, so that each cluster stops at its own longest sequence.
        done = cluster(a, plan.cluster_tiling, length_order(lengths, batch, b), stream);
        break;
      case kernels::Design::kSegment:
        break;
    }
    if (!done) segment(a, stream);
  }

  // The layered models' regions: every layer's states (and a gated cell's kept values), the
  // attention's stored tensors, and the training scratch.
  std::size_t layout_layered(Region region, int batch, Pass pass, Carver& cv, Buffers& b) const {
    const ModelConfig& c = config;
    const std::size_t B = batch, bt = B * c.steps, H = c.hidden_size, O = c.output_size,
                      C = c.context_size(), GH = gates_of(c.cell) * H,
                      kept = static_cast<std::size_t>(aux_width(c.cell)) * H;
    const std::size_t blocks = static_cast<std::size_t>(c.layers) * c.directions();
    const bool unfused = path == Path::kUnfused;
    if (region == Region::kReserve || pass == Pass::kInference) {
      b.hidden = cv.take<float>(c.layers * bt * C);
      b.scores = cv.take<float>(bt);
      b.expsum = cv.take<float>(B);
      b.context = cv.take<float>(B * C);
    }
    if (region == Region::kReserve) {
      if (gated()) b.aux = cv.take<float>(blocks * bt * kept);
      return cv.used();
    }
    // A layer's two directions run in one launch (the segment and cluster kernels), each with its
    // own input projection, Wh^T, dz and dz_next (and the GRU's drec_first): `planes` of each.
    const std::size_t planes = c.directions();
    if (!gated() && path == Path::kFused) b.order = cv.take<int>(B);  // the cluster layer kernels
    b.xw = cv.take<float>(planes * bt * GH);
    if (gated() && unfused) {
      b.rec = cv.take<float>(B * GH);
      if (pass == Pass::kInference) b.aux = cv.take<float>(bt * kept);
    }
    if (pass == Pass::kTraining) {
      if (!(gated() && unfused)) b.wh_t = cv.take<float>(planes * GH * H);
      b.dpre = cv.take<float>(B * O);
      b.du = cv.take<float>(bt);
      b.dtop = cv.take<float>(bt * C);
      b.din = cv.take<float>(bt * C);
      b.dz = cv.take<float>(planes * bt * GH);
      b.dz_next = cv.take<float>(planes * bt * GH);
      b.ones = cv.take<float>(std::max<std::size_t>(bt, B));
      if (c.cell == Cell::kGru) b.drec_first = cv.take<float>(planes * B * GH);
      if (gated() && unfused) {
        b.carry = cv.take<float>(B * H);
        if (c.cell == Cell::kLstm) b.carry_c = cv.take<float>(B * H);
      }
    }
    return cv.used();
  }

  // The layout of one region for batch B (base null: sizes only). Training: the reserve holds
  // what backward reads; the workspace holds the forward's and backward's scratch. Inference:
  // everything in the workspace; on the fused path the input projection of every step (one GEMM
  // before the recurrence, as in training) and otherwise only what does not grow with T.
  std::size_t layout(Region region, int batch, Pass pass, void* base, Buffers& b) const {
    const ModelConfig& c = config;
    const std::size_t B = batch, bt = B * c.steps, H = c.hidden_size, O = c.output_size;
    Carver cv(base);
    if (layered()) return layout_layered(region, batch, pass, cv, b);
    const bool unfused = path == Path::kUnfused;
    auto kept = [&] {  // the forward's stored tensors (the fused backward needs no weights)
      b.hidden = cv.take<float>(bt * H);
      b.scores = cv.take<float>(bt);
      b.expsum = cv.take<float>(B);
      b.context = cv.take<float>(B * H);
      if (unfused) b.attention = cv.take<float>(bt);
    };
    if (region == Region::kReserve) {
      kept();
      return cv.used();
    }
    if (pass == Pass::kInference && unfused) kept();
    if (persistent_capable()) {
      b.persist = cv.take<float>(kernels::persistent_scratch_floats(kernels::shape_of(c, batch)));
      b.order = cv.take<int>(B);
    }
    if (unfused) {
      b.ex = cv.take<float>(bt);
      std::size_t cub = 0;
      kernels::unfused_row_sums(nullptr, batch, c.steps, nullptr, nullptr, &cub, nullptr);
      b.cub_bytes = cub;
      b.cub_temp = cv.take<unsigned char>(cub);
    }
    if (!unfused) b.xw = cv.take<float>(bt * H);
    if (pass == Pass::kTraining) {
      if (!unfused) b.wh_t = cv.take<float>(H * H);
      b.dpre = cv.take<float>(B * O);
      b.du = cv.take<float>(bt);
      b.dz = cv.take<float>(bt * H);
      b.dz_next = cv.take<float>(bt * H);
      b.ones = cv.take<float>(std::max<std::size_t>(bt, B));
      if (unfused) {
        b.dc = cv.take<float>(B * H);
        b.g_dot_c = cv.take<float>(B);
        b.dh = cv.take<float>(bt * H);
        b.carry = cv.take<float>(B * H);
      }
    }
    return cv.used();
  }

  // Checks a caller's region and carves it.
  void carve(Region region, int batch, Pass pass, void* base, std::size_t bytes, const char* call,
             Buffers& b) const {
    const char* what = region == Region::kReserve ? "reserve" : "workspace";
    check_region(call, what, base, bytes, layout(region, batch, pass, nullptr, b), batch);
    layout(region, batch, pass, base, b);
  }

  // Binds cuBLAS to this handle's stream. cublasSetStream resets cuBLAS's workspace to its
  // default pool (cuBLAS documents this), which may allocate, also under graph capture: so a
  // handle already on this stream is not rebound, and an owned one gives its workspace again
  // after rebinding. A caller's handle on another stream loses the workspace it had (cuda.hpp).
  void bind() {
    cudaStream_t current = nullptr;
    RNNATTN_CUBLAS_CHECK(cublasGetStream(cublas, &current));
    if (current == stream) return;
    RNNATTN_CUBLAS_CHECK(cublasSetStream(cublas, stream));
    if (owns_cublas) {
      RNNATTN_CUBLAS_CHECK(
          cublasSetWorkspace(cublas, cublas_workspace.get(), cublas_workspace.size()));
    }
  }

  void check_batch(int batch, const char* call) const {
    if (batch < 1) {
      throw InvalidArgument(std::string(call) + ": batch (B) must be >= 1, got " +
                            std::to_string(batch));
    }
  }

  // The forward. training: stores hidden, scores, S and the context in the reserve (b).
  void forward(const float* params, const float* x, int batch, float* y, float* attention,
               float* hidden_out, bool training, const int* lengths, Buffers& b) {
    const ModelConfig& c = config;
    check_forward_args(c, params, x, batch, y, attention);
    bind();
    if (layered()) {
      forward_layered(params, x, batch, y, attention, hidden_out, training, lengths, b);
      return;
    }
    const cudaStream_t s = stream;
    const kernels::Weights w = weights_of(c, params);
    const int H = c.hidden_size, T = c.steps, D = c.input_size, O = c.output_size;
    const int bt = batch * T;

    if (path == Path::kFused) {
      kernels::FusedForwardArgs a{};
      a.shape = kernels::shape_of(c, batch);
      a.w = w;
      a.y = y;
      a.attention = attention;
      a.lengths = lengths;
      // One GEMM for the input projection of every step: xw[BT,H] = x[BT,D] Wx[D,H].
      gemm_row_major(cublas, false, false, bt, H, D, 1.f, x, D, w.wx, H, 0.f, b.xw, H);
      a.xw = b.xw;
      if (training) {
        a.hidden = b.hidden;
        a.scores = b.scores;
        a.expsum = b.expsum;
        a.context = b.context;
      }
      // The segment kernels: the one-layer block's recurrence with the head inside.
      const auto segment = [&](const kernels::FusedForwardArgs& f, cudaStream_t st) {
        kernels::AttentionHeadArgs head = attention_args(params, batch, lengths, b);
        head.y = f.y;
        head.attention = f.attention;
        kernels::segment_forward_with_head(
            cell_forward_args(params, 0, 0, batch, lengths, b.xw, f.hidden, nullptr), head, st);
      };
      run_elman(a, batch, lengths, b, kernels::persistent_forward, kernels::cluster_forward,
                segment);
    } else {
      // Classic: input GEMM, then per step a recurrent GEMM and an elementwise kernel.
      float* hs = b.hidden;
      gemm_row_major(cublas, false, false, bt, H, D, 1.f, x, D, w.wx, H, 0.f, hs, H);
      for (int t = 0; t < T; ++t) {
        if (t > 0) {
          gemm_row_major(cublas, false, false, batch, H, H, 1.f, hs + (t - 1) * H, T * H, w.wh, H,
                         1.f, hs + t * H, T * H);
        }
        kernels::unfused_bias_tanh_step(hs, w.bh, batch, T, H, t, lengths, s);
      }
      if (c.attention) {
        kernels::unfused_scores(hs, w.wa, w.ba, batch, T, H, lengths, b.scores, b.ex, s);
        std::size_t temp = b.cub_bytes;
        kernels::unfused_row_sums(b.ex, batch, T, b.expsum, b.cub_temp, &temp, s);
        kernels::unfused_normalise(b.ex, b.expsum, batch, T, b.attention, s);
        kernels::unfused_context(hs, b.attention, batch, T, H, b.context, s);
        if (attention) {
          RNNATTN_CUDA_CHECK(cudaMemcpyAsync(attention, b.attention,
                                             static_cast<std::size_t>(bt) * sizeof(float),
                                             cudaMemcpyDeviceToDevice, s));
        }
      } else {
        RNNATTN_CUDA_CHECK(cudaMemcpy2DAsync(b.context, H * sizeof(float), hs + (T - 1) * H,
                                             static_cast<std::size_t>(T) * H * sizeof(float),
                                             H * sizeof(float), batch, cudaMemcpyDeviceToDevice,
                                             s));
      }
      gemm_row_major(cublas, false, false, batch, O, H, 1.f, b.context, H, w.wd, O, 0.f, y, O);
      kernels::unfused_bias_act(y, w.bd, batch, O, static_cast<int>(c.head), s);
    }
    if (hidden_out) {
      RNNATTN_CUDA_CHECK(cudaMemcpyAsync(hidden_out, b.hidden,
                                         static_cast<std::size_t>(bt) * H * sizeof(float),
                                         cudaMemcpyDeviceToDevice, s));
    }
  }

  void backward(const float* params, const float* x, int batch, const float* y, const float* dy,
                float* dparams, float* dx, GradMode mode, const int* lengths, Buffers& b) {
    const ModelConfig& c = config;
    check_inputs(c, params, x, batch);
    if (!y) throw InvalidArgument("backward: y [B,O] is null");
    if (!dy) throw InvalidArgument("backward: dy [B,O] is null");
    if (!dparams) throw InvalidArgument("backward: dparams is null");
    bind();
    if (layered()) {
      backward_layered(params, x, batch, y, dy, dparams, dx, mode, lengths, b);
      return;
    }
    const cudaStream_t s = stream;
    const ParamLayout l(c);
    const kernels::Weights w = weights_of(c, params);
    const int H = c.hidden_size, T = c.steps, D = c.input_size, O = c.output_size;
    const int bt = batch * T;

    if (path == Path::kFused) {
      kernels::FusedBackwardArgs a{};
      a.shape = kernels::shape_of(c, batch);
      a.w = w;
      a.hidden = b.hidden;
      a.scores = b.scores;
      a.expsum = b.expsum;
      a.context = b.context;
      a.y = y;
      a.dy = dy;
      a.dpre = b.dpre;
      a.du = b.du;
      a.dz = b.dz;
      a.dz_next = b.dz_next;
      a.wh_t = b.wh_t;
      a.lengths = lengths;
      kernels::transpose(w.wh, b.wh_t, H, H, s);
      const auto segment = [&](const kernels::FusedBackwardArgs& f, cudaStream_t st) {
        kernels::AttentionHeadArgs head = attention_args(params, batch, lengths, b);
        head.prediction = f.y;
        head.dy = f.dy;
        head.dpre = f.dpre;
        head.du = f.du;
        kernels::CellBackwardArgs cell = cell_backward_args(0, 0, batch, lengths, b.hidden, b);
        kernels::segment_backward_with_head(cell, head, st);
      };
      run_elman(a, batch, lengths, b, kernels::persistent_backward, kernels::cluster_backward,
                segment);
    } else {
      // Classic: attention/head backward kernels, then per step an elementwise kernel and a GEMM.
      kernels::unfused_attention_backward(kernels::shape_of(c, batch), w, b.hidden, b.scores,
                                          b.attention, b.context, y, dy, b.dpre, b.dc, b.g_dot_c,
                                          b.du, b.dh, s);
      RNNATTN_CUDA_CHECK(
          cudaMemsetAsync(b.carry, 0, static_cast<std::size_t>(batch) * H * sizeof(float), s));
      for (int t = T - 1; t >= 0; --t) {
        kernels::unfused_bptt_step(b.dh, b.carry, b.hidden, batch, T, H, t, lengths, b.dz,
                                   b.dz_next, s);
        if (t > 0) {  // carry += dz_t Wh^T (the step left 0, or on padding what passes through)
          gemm_row_major(cublas, false, true, batch, H, H, 1.f, b.dz + t * H, T * H, w.wh, H, 1.f,
                         b.carry, H);
        }
      }
    }

    // Weight gradients: large GEMMs over all B*T rows (or B rows for the head); beta = 1 adds
    // to what dparams holds.
    const float beta = mode == GradMode::kAccumulate ? 1.f : 0.f;
    const std::size_t n_ones = std::max(bt, batch);
    kernels::fill(b.ones, n_ones, 1.f, s);
    const float* ones = b.ones;
    float* g = dparams;
    cublasHandle_t h = cublas;
    gemm_row_major(h, true, false, D, H, bt, 1.f, x, D, b.dz, H, beta, g + l.wx, H);  // X^T dZ
    gemm_row_major(h, true, false, H, H, bt, 1.f, b.hidden, H, b.dz_next, H, beta, g + l.wh,
                   H);  // Hs^T dZ'
    gemm_row_major(h, false, false, 1, H, bt, 1.f, ones, bt, b.dz, H, beta, g + l.bh, H);
    if (c.attention) {
      gemm_row_major(h, false, false, 1, H, bt, 1.f, b.du, bt, b.hidden, H, beta, g + l.wa,
                     H);  // dU^T Hs
      gemm_row_major(h, false, false, 1, T, batch, 1.f, ones, batch, b.du, T, beta, g + l.ba, T);
    }
    gemm_row_major(h, true, false, H, O, batch, 1.f, b.context, H, b.dpre, O, beta, g + l.wd,
                   O);  // C^T dPre
    gemm_row_major(h, false, false, 1, O, batch, 1.f, ones, batch, b.dpre, O, beta, g + l.bd, O);
    if (dx) {
      gemm_row_major(h, false, true, bt, D, H, 1.f, b.dz, H, w.wx, H, beta, dx, D);  // dZ Wx^T
    }
  }

  // ---- stacked / bidirectional models (rnn_layers.cu) -----------------------------------------
  // Block (l, d)'s states are the column slice [d*H, (d+1)*H) of layer l's [B,T,C] states.
  float* layer_states(const Buffers& b, int batch, int layer) const {
    return b.hidden +
           static_cast<std::size_t>(layer) * batch * config.steps * config.context_size();
  }

  kernels::AttentionHeadArgs attention_args(const float* params, int batch, const int* lengths,
                                            const Buffers& b) const {
    const ModelConfig& c = config;
    const ParamLayout l(c);
    kernels::AttentionHeadArgs a{};
    a.shape = kernels::shape_of(c, batch);
    a.directions = c.directions();
    a.wa = c.attention ? params + l.wa : nullptr;
    a.ba = c.attention ? params + l.ba : nullptr;
    a.wd = params + l.wd;
    a.bd = params + l.bd;
    a.top = layer_states(b, batch, c.layers - 1);
    a.lengths = lengths;
    a.scores = b.scores;
    a.expsum = b.expsum;
    a.context = b.context;
    return a;
  }

  // Block (l, d)'s kept values (gated cells): its [B,T,A*H] in the reserve, or in inference on
  // the unfused path the one buffer every block reuses (null on the segment kernels).
  float* block_aux(const Buffers& b, int batch, int block, bool training) const {
    if (!b.aux || !training) return b.aux;
    return b.aux + static_cast<std::size_t>(block) * batch * config.steps * aux_width(config.cell) *
                       config.hidden_size;
  }

  // Block (layer, dir)'s recurrence arguments: its input projection xw, its weights, its states
  // `out` (the column slice of the layer's [B,T,C] states) and kept values `aux`.
  kernels::CellForwardArgs cell_forward_args(const float* params, int layer, int dir, int batch,
                                             const int* lengths, const float* xw, float* out,
                                             float* aux) const {
    const ModelConfig& c = config;
    const ParamLayout::Block& blk = ParamLayout(c).block(layer, dir);
    kernels::CellForwardArgs a{};
    a.cell = c.cell;
    a.batch = batch;
    a.steps = c.steps;
    a.hidden = c.hidden_size;
    a.stride = c.context_size();
    a.direction = dir;
    a.xw = xw;
    a.wh = params + blk.wh;
    a.bias = params + blk.bh;
    a.lengths = lengths;
    a.out = out;
    a.aux = aux;
    return a;
  }

  // Block (layer, dir)'s BPTT arguments: `states` and `dout` are the layer's [B,T,C] (offset here
  // to the direction's columns); direction d writes its d_in into plane d of b.dz, its
  // drec_next into plane d of b.dz_next (and the first steps' d_rec into plane d of
  // b.drec_first for the GRU) and reads its Wh^T from plane d of b.wh_t (the fused path).
  kernels::CellBackwardArgs cell_backward_args(int layer, int dir, int batch, const int* lengths,
                                               const float* states, const Buffers& b,
                                               const float* dout = nullptr) const {
    const ModelConfig& c = config;
    const int H = c.hidden_size, GH = gates_of(c.cell) * H;
    const std::size_t plane = static_cast<std::size_t>(batch) * c.steps * GH;
    kernels::CellBackwardArgs a{};
    a.cell = c.cell;
    a.batch = batch;
    a.steps = c.steps;
    a.hidden = H;
    a.stride = c.context_size();
    a.direction = dir;
    a.states = states + dir * H;
    a.aux = block_aux(b, batch, layer * c.directions() + dir, true);
    a.dout = dout ? dout + dir * H : nullptr;
    a.lengths = lengths;
    a.d_in = b.dz + dir * plane;
    a.drec_next = b.dz_next + dir * plane;
    a.drec_first =
        b.drec_first ? b.drec_first + static_cast<std::size_t>(dir) * batch * GH : nullptr;
    a.wh_t = b.wh_t ? b.wh_t + static_cast<std::size_t>(dir) * GH * H : nullptr;
    return a;
  }

  void forward_layered(const float* params, const float* x, int batch, float* y, float* attention,
                       float* hidden_out, bool training, const int* lengths, Buffers& b) {
    const ModelConfig& c = config;
    const cudaStream_t s = stream;
    const ParamLayout l(c);
    const int H = c.hidden_size, T = c.steps, C = c.context_size(), bt = batch * T;
    const int GH = gates_of(c.cell) * H, dirs = c.directions();
    kernels::RecurrencePlan plan;
    const bool clustered = layer_design(batch, &plan) == kernels::Design::kCluster;
    const int* order = clustered ? length_order(lengths, batch, b) : nullptr;
    for (int layer = 0; layer < c.layers; ++layer) {
      const float* in = layer == 0 ? x : layer_states(b, batch, layer - 1);
      // Per direction: xw[BT,G*H] = in[BT,I] Wx[I,G*H], the input projection of every step in
      // one GEMM, into the direction's plane; then the recurrence's arguments.
      kernels::CellForwardArgs cell[2]{};
      for (int dir = 0; dir < dirs; ++dir) {
        const ParamLayout::Block& blk = l.block(layer, dir);
        float* xw = b.xw + static_cast<std::size_t>(dir) * bt * GH;
        gemm_row_major(cublas, false, false, bt, GH, blk.input, 1.f, in, blk.input, params + blk.wx,
                       GH, 0.f, xw, GH);
        cell[dir] = cell_forward_args(params, layer, dir, batch, lengths, xw,
                                      layer_states(b, batch, layer) + dir * H,
                                      block_aux(b, batch, layer * dirs + dir, training));
      }
      if (clustered) {  // both directions in one launch
        if (kernels::cluster_layer_forward(cell, dirs, plan.cluster_tiling, order, s)) continue;
      }
      if (gated() && path == Path::kUnfused) {
        // Classic: per step a GEMM of the previous state, rec[B,G*H] = h_prev Wh (rows T*C
        // apart), and the elementwise cell.
        for (int dir = 0; dir < dirs; ++dir) {
          const kernels::CellForwardArgs& a = cell[dir];
          for (int n = 0; n < T; ++n) {
            if (n > 0) {
              const int tp = dir == 0 ? n - 1 : T - n;
              gemm_row_major(cublas, false, false, batch, GH, H, 1.f, a.out + tp * C, T * C, a.wh,
                             GH, 0.f, b.rec, GH);
            }
            kernels::gated_step(a, b.rec, n, s);
          }
        }
        continue;
      }
      if (gated_head_fused(batch)) {
        kernels::AttentionHeadArgs head = attention_args(params, batch, lengths, b);
        head.y = y;
        head.attention = attention;
        if (!training && !hidden_out) cell[0].out = nullptr;  // nothing reads the states
        kernels::segment_forward_with_head(cell[0], head, s);
        continue;
      }
      // The gated persistent kernels, both directions in one grid where it is co-resident; else
      // the segment kernels, both directions in one launch (the Elman cell's layers on either
      // path).
      kernels::PersistentTiling tiling;
      const kernels::PersistentTiling* tiled = persistent_plan(batch, &tiling);
      if (!(tiled && kernels::gated_persistent_forward(cell, dirs, *tiled, s))) {
        kernels::segment_forward(cell, dirs, s);
      }
    }
    if (!gated_head_fused(batch)) {
      kernels::AttentionHeadArgs a = attention_args(params, batch, lengths, b);
      a.y = y;
      a.attention = attention;
      kernels::attention_head_forward(a, s);
    }
    if (hidden_out) {
      RNNATTN_CUDA_CHECK(cudaMemcpyAsync(hidden_out, layer_states(b, batch, c.layers - 1),
                                         static_cast<std::size_t>(bt) * C * sizeof(float),
                                         cudaMemcpyDeviceToDevice, s));
    }
  }

  // A layer's BPTT, every direction (cell_backward_args' planes), from its states, kept values
  // and dL/d(states), or where gated_head_fused() from the head's arguments (the kernel writes
  // their dpre and du). The segment and cluster kernels run both directions in one launch; the
  // cluster layer kernels where `order` plans them (the Elman cell's).
  void backward_layer(const float* params, int layer, const float* states, const float* dout,
                      int batch, const int* lengths, const kernels::AttentionHeadArgs& head,
                      const kernels::RecurrencePlan* clustered, const int* order, Buffers& b) {
    const ModelConfig& c = config;
    const ParamLayout l(c);
    const cudaStream_t s = stream;
    const int H = c.hidden_size, T = c.steps, GH = gates_of(c.cell) * H, dirs = c.directions();
    kernels::CellBackwardArgs cell[2]{};
    for (int dir = 0; dir < dirs; ++dir) {
      cell[dir] = cell_backward_args(layer, dir, batch, lengths, states, b, dout);
      if (b.wh_t) {  // Wh^T [G*H,H] for the fused path's kernels
        kernels::transpose(params + l.block(layer, dir).wh,
                           b.wh_t + static_cast<std::size_t>(dir) * GH * H, H, GH, s);
      }
    }
    if (!(gated() && path == Path::kUnfused)) {
      if (gated_head_fused(batch)) {
        kernels::segment_backward_with_head(cell[0], head, s);
        return;
      }
      if (clustered &&
          kernels::cluster_layer_backward(cell, dirs, clustered->cluster_tiling, order, s)) {
        return;
      }
      kernels::PersistentTiling tiling;
      const kernels::PersistentTiling* tiled = persistent_plan(batch, &tiling);
      if (!(tiled && kernels::gated_persistent_backward(cell, dirs, *tiled, s))) {
        kernels::segment_backward(cell, dirs, s);  // both directions in one launch
      }
      return;
    }
    // Classic: per step the elementwise cell backward, then carry += d_rec Wh^T (a GEMM over the
    // rows of drec_next the step wrote).
    const std::size_t bh = static_cast<std::size_t>(batch) * H * sizeof(float);
    for (int dir = 0; dir < dirs; ++dir) {
      const kernels::CellBackwardArgs& a = cell[dir];
      const float* wh = params + l.block(layer, dir).wh;
      RNNATTN_CUDA_CHECK(cudaMemsetAsync(b.carry, 0, bh, s));
      if (b.carry_c) RNNATTN_CUDA_CHECK(cudaMemsetAsync(b.carry_c, 0, bh, s));
      for (int n = T - 1; n >= 0; --n) {
        kernels::gated_step_backward(a, b.carry, b.carry_c, n, s);
        if (n > 0) {
          const int tp = dir == 0 ? n - 1 : T - n;
          gemm_row_major(cublas, false, true, batch, H, GH, 1.f, a.drec_next + tp * GH, T * GH, wh,
                         GH, 1.f, b.carry, H);
        }
      }
    }
  }

  void backward_layered(const float* params, const float* x, int batch, const float* y,
                        const float* dy, float* dparams, float* dx, GradMode mode,
                        const int* lengths, Buffers& b) {
    const ModelConfig& c = config;
    const cudaStream_t s = stream;
    const ParamLayout l(c);
    const int H = c.hidden_size, T = c.steps, D = c.input_size, O = c.output_size;
    const int C = c.context_size(), bt = batch * T, GH = gates_of(c.cell) * H;
    const float beta = mode == GradMode::kAccumulate ? 1.f : 0.f;
    cublasHandle_t h = cublas;
    float* g = dparams;
    kernels::fill(b.ones, std::max(bt, batch), 1.f, s);
    const float* ones = b.ones;

    kernels::AttentionHeadArgs a = attention_args(params, batch, lengths, b);
    a.prediction = y;
    a.dy = dy;
    a.dpre = b.dpre;
    a.du = b.du;
    a.dtop = b.dtop;
    // dpre, du and dL/d(top states); where gated_head_fused() the block's kernel forms them.
    if (!gated_head_fused(batch)) kernels::attention_head_backward(a, s);

    kernels::RecurrencePlan plan;
    const bool clustered = layer_design(batch, &plan) == kernels::Design::kCluster;
    const int* order = clustered ? length_order(lengths, batch, b) : nullptr;
    float* dcur = b.dtop;  // dL/d(states of layer l)
    float* dnext = b.din;  // dL/d(input of layer l) = dL/d(states of layer l - 1)
    for (int layer = c.layers - 1; layer >= 0; --layer) {
      const int I = layer == 0 ? D : C;
      const float* in = layer == 0 ? x : layer_states(b, batch, layer - 1);
      const float* states = layer_states(b, batch, layer);
      // The layer's directions' BPTT (one launch on the segment kernels), each into its own
      // plane of dz, dz_next and Wh^T.
      const std::size_t plane = static_cast<std::size_t>(bt) * GH;
      backward_layer(params, layer, states, dcur, batch, lengths, a, clustered ? &plan : nullptr,
                     order, b);
      for (int dir = 0; dir < c.directions(); ++dir) {
        const ParamLayout::Block& blk = l.block(layer, dir);
        // dz (a gated cell's d_in) and dz_next (its drec_next) are [BT,G*H].
        const float* dz = b.dz + dir * plane;
        const float* dz_next = b.dz_next + dir * plane;
        gemm_row_major(h, true, false, I, GH, bt, 1.f, in, I, dz, GH, beta, g + blk.wx,
                       GH);  // In^T dZ
        gemm_row_major(h, true, false, H, GH, bt, 1.f, states + dir * H, C, dz_next, GH, beta,
                       g + blk.wh, GH);  // S^T dZ'
        gemm_row_major(h, false, false, 1, GH, bt, 1.f, ones, bt, dz, GH, beta, g + blk.bh, GH);
        if (c.cell == Cell::kGru) {
          // The recurrent bias b' sees every step's dL/drec: the rows of drec_next (each step
          // with a predecessor) and each sequence's first step.
          float* gb = g + blk.bh + GH;
          gemm_row_major(h, false, false, 1, GH, bt, 1.f, ones, bt, dz_next, GH, beta, gb, GH);
          gemm_row_major(h, false, false, 1, GH, batch, 1.f, ones, batch,
                         b.drec_first + static_cast<std::size_t>(dir) * batch * GH, GH, 1.f, gb,
                         GH);
        }
        // The layer's input gradient, summed over the directions: dZ Wx^T.
        if (layer > 0) {
          gemm_row_major(h, false, true, bt, C, GH, 1.f, dz, GH, params + blk.wx, GH,
                         dir == 0 ? 0.f : 1.f, dnext, C);
        } else if (dx) {
          gemm_row_major(h, false, true, bt, D, GH, 1.f, dz, GH, params + blk.wx, GH,
                         dir == 0 ? beta : 1.f, dx, D);
        }
      }
      std::swap(dcur, dnext);
    }
    // The head's and the attention's weight gradients from dpre and du.
    const float* top = layer_states(b, batch, c.layers - 1);
    gemm_row_major(h, true, false, C, O, batch, 1.f, b.context, C, b.dpre, O, beta, g + l.wd,
                   O);  // C^T dPre
    gemm_row_major(h, false, false, 1, O, batch, 1.f, ones, batch, b.dpre, O, beta, g + l.bd, O);
    if (c.attention) {
      gemm_row_major(h, false, false, 1, C, bt, 1.f, b.du, bt, top, C, beta, g + l.wa,
                     C);  // dU^T S
      gemm_row_major(h, false, false, 1, T, batch, 1.f, ones, batch, b.du, T, beta, g + l.ba, T);
    }
  }
};

Handle::Handle(const ModelConfig& config, cudaStream_t stream, cublasContext* cublas, Path path)
    : impl_(std::make_unique<Impl>(config, stream, cublas, path)) {}
Handle::~Handle() = default;
Handle::Handle(Handle&&) noexcept = default;
Handle& Handle::operator=(Handle&&) noexcept = default;

const ModelConfig& Handle::config() const { return impl_->model; }
Path Handle::path() const { return impl_->path; }
void Handle::set_recurrence(Recurrence recurrence) { impl_->recurrence = recurrence; }
Recurrence Handle::recurrence() const { return impl_->recurrence; }
Recurrence Handle::recurrence_for(int batch) const {
  impl_->check_batch(batch, "recurrence_for");
  if (impl_->gated()) {
    kernels::PersistentTiling t;
    return impl_->persistent_plan(batch, &t) ? Recurrence::kPersistent : Recurrence::kSegment;
  }
  kernels::RecurrencePlan plan;
  if (impl_->layered()) {
    return impl_->layer_design(batch, &plan) == kernels::Design::kCluster ? Recurrence::kCluster
                                                                          : Recurrence::kSegment;
  }
  switch (impl_->elman_design(batch, &plan)) {
    case kernels::Design::kPersistent:
      return Recurrence::kPersistent;
    case kernels::Design::kCluster:
      return Recurrence::kCluster;
    case kernels::Design::kSegment:
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
                                 batch * impl_->config.output_size, dy, loss_sum, impl_->stream);
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
