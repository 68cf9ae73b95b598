// The device API's handle from the inside (internal header of host/cuda/): what a Handle holds,
// the tensors a pass carves from the caller's workspace and reserve, and the members that the
// files of host/cuda/ define: device_api.cpp (the handle and the choice of design),
// workspace.cpp (the layout of the workspace and reserve), pass_one_layer.cpp (a one-layer Elman
// model's passes) and pass_layered.cpp (stacked, bidirectional and gated models).
#pragma once

#include <cublas_v2.h>

#include <cstddef>

#include "cuda/plan.hpp"
#include "kernels/cuda_utils.hpp"
#include "kernels/kernels.hpp"
#include "rnnattn/backend.hpp"
#include "rnnattn/cuda.hpp"
#include "rnnattn/params.hpp"

namespace rnnattn::cuda {

inline constexpr int kMaxHidden = kCudaMaxContext;  // a sequence's segment is one thread block
inline constexpr std::size_t kAlign = 256;
inline constexpr std::size_t kOwnCublasWorkspace = 32u << 20;

inline kernels::Weights weights_of(const ModelConfig& c, const float* params) {
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
  float* xw = nullptr;       // [B,T,H] x Wx for every step (both paths, both passes)
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
  float* rec = nullptr;   // [B,G*H] h_prev Wh of one step (unfused path)
  // Gated cells.
  float* aux = nullptr;         // [blocks][B,T,A*H] what each step keeps (training); inference
                                // on the unfused path: one block's, reused
  float* drec_first = nullptr;  // [B,G*H] (GRU)
  float* carry_c = nullptr;     // [B,H] the LSTM's dL/dc (unfused backward)
  // The dot-product attention: `scores` holds each query's softmax maximum m_i [B,T], rowsum its
  // sum of exponentials l_i (both kept for backward); dscale dL/dscale per sequence (use_scale).
  float* rowsum = nullptr;  // [B,T]
  float* dscale = nullptr;  // [B]
  // Dropout (training): the context times its factors [B,C], what the head read (dWd's operand).
  float* kept = nullptr;
};

enum class Region { kReserve, kWorkspace };

// A caller's workspace or reserve for a call: present, large enough and aligned, else
// InvalidArgument naming the call and what it needs.
void check_region(const char* call, const char* what, const void* base, std::size_t bytes,
                  std::size_t need, int batch);

struct Handle::Impl {
  ModelConfig model;   // as given, its embedding included
  ModelConfig config;  // what the kernels run: model.recurrent_part()
  Path path;
  cudaStream_t stream;
  Recurrence recurrence = Recurrence::kAuto;
  std::uint64_t dropout_seed = 0;              // set_dropout
  const std::int64_t* dropout_step = nullptr;  // a device pointer, or null (step 0)
  mutable bool have_gpu_limits = false;        // queried at the first pass (no GPU needed before)
  mutable cuda::GpuLimits gpu_limits;
  cublasHandle_t cublas;
  bool owns_cublas;
  DeviceBuffer<unsigned char> cublas_workspace;

  Impl(const ModelConfig& c, cudaStream_t s, cublasHandle_t h, Path p);
  ~Impl();

  // Stacked or bidirectional, a gated cell, the dot-product attention, dropout or the softmax
  // head: layer by layer, the attention and head after the recurrence (attention_head.cu) but
  // where the segment kernels run the additive ones inside (without dropout or softmax), on
  // either path.
  bool layered() const {
    return !config.single_layer() || gated() || config.dot_attention() || config.dropout > 0.f ||
           config.head == Activation::kSoftmax;
  }
  bool gated() const { return config.cell != Cell::kElman; }
  // A one-layer, one-direction gated model on the fused path runs its attention and head inside
  // the recurrence's segment kernel (segment_forward_with_head / _backward_with_head), not
  // attention_head_*; where the persistent kernels run its recurrence, the head's kernels follow.
  bool gated_head_fused(int batch) const;

  // Whether the Elman persistent kernels may run (one layer, fused path): their scratch is then
  // part of every workspace, so that changing the recurrence setting needs no new workspace.
  bool persistent_capable() const { return !layered() && path == Path::kFused; }

  const cuda::GpuLimits& limits() const;

  // The gated cells' persistent tiling (rnn_persistent.cu; every block of any gated model,
  // no scratch) for batch B, or null: run the segment kernels (kCluster included: the cluster
  // kernels are the Elman cell's).
  const kernels::PersistentTiling* persistent_plan(int batch, kernels::PersistentTiling* t) const;

  // The design that runs an Elman model's recurrence at batch B on the fused path (a one-layer,
  // one-direction model's with the head inside, plan_recurrence; else every block's,
  // plan_layer): the model's choice, or the forced one where this GPU allows it; else segment.
  // Its tilings in *plan.
  cuda::Design elman_design(int batch, cuda::RecurrencePlan* plan) const;

  // The sequences by length for the cluster kernels' groups (into b.order), or null without
  // lengths: in order.
  const int* length_order(const int* lengths, int batch, Buffers& b);

  // The one-layer Elman forward or backward on the design elman_design picks, falling back to the
  // segment kernels where the GPU refuses it: persistent(tiling, scratch) and cluster(tiling,
  // order) return whether they ran, segment() runs.
  template <typename Persistent, typename Cluster, typename Segment>
  void run_elman(int batch, const int* lengths, Buffers& b, Persistent persistent, Cluster cluster,
                 Segment segment);

  // The layered models' regions: every layer's states (and a gated cell's kept values), the
  // attention's stored tensors, and the training scratch.
  std::size_t layout_layered(Region region, int batch, Pass pass, Carver& cv, Buffers& b) const;

  // The layout of one region for batch B (base null: sizes only). Training: the reserve holds
  // what backward reads; the workspace holds the forward's and backward's scratch. Inference:
  // everything in the workspace; on the fused path the input projection of every step (one GEMM
  // before the recurrence, as in training) and otherwise only what does not grow with T.
  std::size_t layout(Region region, int batch, Pass pass, void* base, Buffers& b) const;

  // Checks a caller's region and carves it.
  void carve(Region region, int batch, Pass pass, void* base, std::size_t bytes, const char* call,
             Buffers& b) const;

  // Binds cuBLAS to this handle's stream. cublasSetStream resets cuBLAS's workspace to its
  // default pool (cuBLAS documents this), which may allocate, also under graph capture: so a
  // handle already on this stream is not rebound, and an owned one gives its workspace again
  // after rebinding. A caller's handle on another stream loses the workspace it had (cuda.hpp).
  void bind();

  void check_batch(int batch, const char* call) const;
  // Refuses training a model whose recurrent layers have dropout (the recurrences draw no masks).
  void check_trainable(const char* call) const;

  // The forward. training: stores hidden, scores, S and the context in the reserve (b).
  void forward(const float* params, const float* x, int batch, float* y, float* attention,
               float* hidden_out, bool training, const int* lengths, Buffers& b);

  void backward(const float* params, const float* x, int batch, const float* y, const float* dy,
                float* dparams, float* dx, GradMode mode, const int* lengths, Buffers& b);

  // ---- stacked / bidirectional models (rnn_layers.cu) -----------------------------------------
  // Block (l, d)'s states are the column slice [d*H, (d+1)*H) of layer l's [B,T,C] states.
  float* layer_states(const Buffers& b, int batch, int layer) const;

  kernels::AttentionHeadArgs attention_args(const float* params, int batch, const int* lengths,
                                            const Buffers& b) const;

  // Block (l, d)'s kept values (gated cells): its [B,T,A*H] in the reserve, or in inference on
  // the unfused path the one buffer every block reuses (null on the segment kernels).
  float* block_aux(const Buffers& b, int batch, int block, bool training) const;

  // Block (layer, dir)'s recurrence arguments: its input projection xw, its weights, its states
  // `out` (the column slice of the layer's [B,T,C] states) and kept values `aux`.
  kernels::CellForwardArgs cell_forward_args(const float* params, int layer, int dir, int batch,
                                             const int* lengths, const float* xw, float* out,
                                             float* aux) const;

  // Block (layer, dir)'s BPTT arguments: `states` and `dout` are the layer's [B,T,C] (offset here
  // to the direction's columns); direction d writes its d_in into plane d of b.dz, its
  // drec_next into plane d of b.dz_next (and the first steps' d_rec into plane d of
  // b.drec_first for the GRU) and reads its Wh^T from plane d of b.wh_t (the fused path).
  kernels::CellBackwardArgs cell_backward_args(int layer, int dir, int batch, const int* lengths,
                                               const float* states, const Buffers& b,
                                               const float* dout = nullptr) const;

  void forward_layered(const float* params, const float* x, int batch, float* y, float* attention,
                       float* hidden_out, bool training, const int* lengths, Buffers& b);

  // A layer's BPTT, every direction (cell_backward_args' planes), from its states, kept values
  // and dL/d(states), or where gated_head_fused() from the head's arguments (the kernel writes
  // their dpre and du). The persistent kernels where `tiled` (both directions in one grid where
  // it is co-resident), the cluster kernels where `clustered` plans them (the Elman cell's), else
  // the segment kernels; the segment and cluster kernels run both directions in one launch.
  void backward_layer(const float* params, int layer, const float* states, const float* dout,
                      int batch, const int* lengths, const kernels::AttentionHeadArgs& head,
                      const kernels::PersistentTiling* tiled, const cuda::RecurrencePlan* clustered,
                      const int* order, Buffers& b);

  void backward_layered(const float* params, const float* x, int batch, const float* y,
                        const float* dy, float* dparams, float* dx, GradMode mode,
                        const int* lengths, Buffers& b);
};

}  // namespace rnnattn::cuda
