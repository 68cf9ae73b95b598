// Stacked, bidirectional and gated models' passes (handle_impl.hpp), layer by layer: per block
// (layer, direction) an input-projection GEMM and the recurrence (the segment, cluster-layer or
// gated persistent kernels; the gated cells' unfused steps), then the attention and head
// (attention_head.cu) unless the segment kernel ran them inside; the backward in reverse, its
// weight gradients and each layer's input gradient as cuBLAS GEMMs.
#include <algorithm>
#include <utility>

#include "cuda/gemm.hpp"
#include "cuda/handle_impl.hpp"
#include "model_math.hpp"

namespace rnnattn::cuda {

float* Handle::Impl::layer_states(const Buffers& b, int batch, int layer) const {
  return b.hidden + static_cast<std::size_t>(layer) * batch * config.steps * config.context_size();
}

kernels::AttentionHeadArgs Handle::Impl::attention_args(const float* params, int batch,
                                                        const int* lengths,
                                                        const Buffers& b) const {
  const ModelConfig& c = config;
  const ParamLayout l(c);
  kernels::AttentionHeadArgs a{};
  a.shape = kernels::shape_of(c, batch);
  a.directions = c.directions();
  a.wa = c.additive() ? params + l.wa : nullptr;
  a.ba = c.additive() ? params + l.ba : nullptr;
  a.dot = c.dot_attention();
  a.scale = c.dot_attention() && c.score == AttentionScore::kDotScaled ? params + l.scale : nullptr;
  a.rowmax = c.dot_attention() ? b.scores : nullptr;
  a.rowsum = b.rowsum;
  a.dscale = b.dscale;
  if (b.kept) {  // training a model with dropout: the reserve keeps the masked context
    a.kept = b.kept;
    a.dropout = c.dropout;
    a.dropout_seed = dropout_seed;
    a.dropout_step = dropout_step;
  }
  a.wd = params + l.wd;
  a.bd = params + l.bd;
  a.top = layer_states(b, batch, c.layers - 1);
  a.lengths = lengths;
  a.scores = b.scores;
  a.expsum = b.expsum;
  a.context = b.context;
  return a;
}

float* Handle::Impl::block_aux(const Buffers& b, int batch, int block, bool training) const {
  if (!b.aux || !training) return b.aux;
  return b.aux + static_cast<std::size_t>(block) * batch * config.steps * aux_width(config.cell) *
                     config.hidden_size;
}

kernels::CellForwardArgs Handle::Impl::cell_forward_args(const float* params, int layer, int dir,
                                                         int batch, const int* lengths,
                                                         const float* xw, float* out,
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

kernels::CellBackwardArgs Handle::Impl::cell_backward_args(int layer, int dir, int batch,
                                                           const int* lengths, const float* states,
                                                           const Buffers& b,
                                                           const float* dout) const {
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
  a.drec_first = b.drec_first ? b.drec_first + static_cast<std::size_t>(dir) * batch * GH : nullptr;
  a.wh_t = b.wh_t ? b.wh_t + static_cast<std::size_t>(dir) * GH * H : nullptr;
  return a;
}

void Handle::Impl::forward_layered(const float* params, const float* x, int batch, float* y,
                                   float* attention, float* hidden_out, bool training,
                                   const int* lengths, Buffers& b) {
  const ModelConfig& c = config;
  const cudaStream_t s = stream;
  const ParamLayout l(c);
  const int H = c.hidden_size, T = c.steps, C = c.context_size(), bt = batch * T;
  const int GH = gates_of(c.cell) * H, dirs = c.directions();
  // The Elman cell's layers: the design elman_design picks (the gated cells': persistent_plan).
  cuda::RecurrencePlan plan;
  const cuda::Design design = elman_design(batch, &plan);
  const bool clustered = design == cuda::Design::kCluster;
  const int* order = clustered ? length_order(lengths, batch, b) : nullptr;
  kernels::PersistentTiling tiling;
  const kernels::PersistentTiling* tiled =
      design == cuda::Design::kPersistent ? &plan.tiling : persistent_plan(batch, &tiling);
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
      if (kernels::cluster_forward(cell, dirs, plan.cluster_tiling, order, s)) continue;
    }
    if (gated() && path == Path::kUnfused) {
      // Classic: per step a GEMM of the previous state, rec[B,G*H] = h_prev Wh (rows T*C
      // apart), and the elementwise cell.
      for (int dir = 0; dir < dirs; ++dir) {
        const kernels::CellForwardArgs& a = cell[dir];
        for (int n = 0; n < T; ++n) {
          if (n > 0) {
            const int tp = dir == 0 ? n - 1 : T - n;
            gemm_row_major(cublas, false, false, batch, GH, H, 1.f, a.out + tp * C, T * C, a.wh, GH,
                           0.f, b.rec, GH);
          }
          kernels::unfused_step(a, b.rec, n, s);
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
    // The persistent kernels, both directions in one grid where it is co-resident; else the
    // segment kernels, both directions in one launch (the Elman cell's layers on either path).
    if (!(tiled && kernels::persistent_forward(cell, dirs, *tiled, s))) {
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

void Handle::Impl::backward_layer(const float* params, int layer, const float* states,
                                  const float* dout, int batch, const int* lengths,
                                  const kernels::AttentionHeadArgs& head,
                                  const kernels::PersistentTiling* tiled,
                                  const cuda::RecurrencePlan* clustered, const int* order,
                                  Buffers& b) {
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
    if (clustered && kernels::cluster_backward(cell, dirs, clustered->cluster_tiling, order, s)) {
      return;
    }
    if (!(tiled && kernels::persistent_backward(cell, dirs, *tiled, s))) {
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
      kernels::unfused_step_backward(a, b.carry, b.carry_c, n, s);
      if (n > 0) {
        const int tp = dir == 0 ? n - 1 : T - n;
        gemm_row_major(cublas, false, true, batch, H, GH, 1.f, a.drec_next + tp * GH, T * GH, wh,
                       GH, 1.f, b.carry, H);
      }
    }
  }
}

void Handle::Impl::backward_layered(const float* params, const float* x, int batch, const float* y,
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

  cuda::RecurrencePlan plan;
  const cuda::Design design = elman_design(batch, &plan);
  const bool clustered = design == cuda::Design::kCluster;
  const int* order = clustered ? length_order(lengths, batch, b) : nullptr;
  kernels::PersistentTiling tiling;
  const kernels::PersistentTiling* tiled =
      design == cuda::Design::kPersistent ? &plan.tiling : persistent_plan(batch, &tiling);
  float* dcur = b.dtop;  // dL/d(states of layer l)
  float* dnext = b.din;  // dL/d(input of layer l) = dL/d(states of layer l - 1)
  for (int layer = c.layers - 1; layer >= 0; --layer) {
    const int I = layer == 0 ? D : C;
    const float* in = layer == 0 ? x : layer_states(b, batch, layer - 1);
    const float* states = layer_states(b, batch, layer);
    // The layer's directions' BPTT (one launch on the segment kernels), each into its own
    // plane of dz, dz_next and Wh^T.
    const std::size_t plane = static_cast<std::size_t>(bt) * GH;
    backward_layer(params, layer, states, dcur, batch, lengths, a, tiled,
                   clustered ? &plan : nullptr, order, b);
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
                       b.drec_first + static_cast<std::size_t>(dir) * batch * GH, GH, 1.f, gb, GH);
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
  gemm_row_major(h, true, false, C, O, batch, 1.f, b.kept ? b.kept : b.context, C, b.dpre, O, beta,
                 g + l.wd, O);  // (C * keep)^T dPre
  gemm_row_major(h, false, false, 1, O, batch, 1.f, ones, batch, b.dpre, O, beta, g + l.bd, O);
  if (c.additive()) {
    gemm_row_major(h, false, false, 1, C, bt, 1.f, b.du, bt, top, C, beta, g + l.wa,
                   C);  // dU^T S
    gemm_row_major(h, false, false, 1, T, batch, 1.f, ones, batch, b.du, T, beta, g + l.ba, T);
  }
  if (b.dscale) {  // use_scale: the sequences' dL/dscale summed
    gemm_row_major(h, false, false, 1, 1, batch, 1.f, ones, batch, b.dscale, 1, beta, g + l.scale,
                   1);
  }
}

}  // namespace rnnattn::cuda
