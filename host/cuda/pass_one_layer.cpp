// A one-layer Elman model's passes (handle_impl.hpp): on the fused path the recurrence on the
// design the plan picks (segment: rnn_segment.cu, persistent: rnn_persistent.cu, both with the
// head inside; cluster: rnn_cluster.cu), on the unfused path one launch per operation and
// per step (rnn_unfused.cu); then the parameter gradients as cuBLAS GEMMs over all B*T rows.
#include <algorithm>

#include "cuda/gemm.hpp"
#include "cuda/handle_impl.hpp"
#include "rnnattn/error.hpp"

namespace rnnattn::cuda {

template <typename Persistent, typename Cluster, typename Segment>
void Handle::Impl::run_elman(int batch, const int* lengths, Buffers& b, Persistent persistent,
                             Cluster cluster, Segment segment) {
  cuda::RecurrencePlan plan;
  bool done = false;
  switch (elman_design(batch, &plan)) {
    case cuda::Design::kPersistent:
      done = persistent(plan.tiling, b.persist);
      break;
    case cuda::Design::kCluster:
      // Groups packed by length, so that each cluster stops at its own longest sequence.
      done = cluster(plan.cluster_tiling, length_order(lengths, batch, b));
      break;
    case cuda::Design::kSegment:
      break;
  }
  if (!done) segment();
}

void Handle::Impl::forward(const float* params, const float* x, int batch, float* y,
                           float* attention, float* hidden_out, bool training, const int* lengths,
                           Buffers& b) {
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
  // One GEMM for the input projection of every step, on both paths: xw[BT,H] = x[BT,D] Wx[D,H].
  gemm_row_major(cublas, false, false, bt, H, D, 1.f, x, D, w.wx, H, 0.f, b.xw, H);

  if (path == Path::kFused) {
    // The one-layer block's recurrence with the head inside, on any design. Training stores what
    // backward needs; inference keeps no states.
    const kernels::CellForwardArgs cell = cell_forward_args(params, 0, 0, batch, lengths, b.xw,
                                                            training ? b.hidden : nullptr, nullptr);
    kernels::AttentionHeadArgs head = attention_args(params, batch, lengths, b);
    head.y = y;
    head.attention = attention;
    if (!training) head.scores = head.expsum = head.context = nullptr;
    run_elman(
        batch, lengths, b,
        [&](const kernels::PersistentTiling& t, float* scratch) {
          return kernels::persistent_forward_with_head(cell, head, t, scratch, s);
        },
        [&](const kernels::ClusterTiling& t, const int* order) {
          return kernels::cluster_forward_with_head(cell, head, t, order, s);
        },
        [&] { kernels::segment_forward_with_head(cell, head, s); });
  } else {
    // Classic: per step a recurrent GEMM, rec[B,H] = h_{t-1} Wh (rows T*H apart), and the
    // elementwise cell.
    float* hs = b.hidden;
    const kernels::CellForwardArgs cell =
        cell_forward_args(params, 0, 0, batch, lengths, b.xw, hs, nullptr);
    for (int t = 0; t < T; ++t) {
      if (t > 0) {
        gemm_row_major(cublas, false, false, batch, H, H, 1.f, hs + (t - 1) * H, T * H, w.wh, H,
                       0.f, b.rec, H);
      }
      kernels::unfused_step(cell, b.rec, t, s);
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
                                           H * sizeof(float), batch, cudaMemcpyDeviceToDevice, s));
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

void Handle::Impl::backward(const float* params, const float* x, int batch, const float* y,
                            const float* dy, float* dparams, float* dx, GradMode mode,
                            const int* lengths, Buffers& b) {
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
    kernels::transpose(w.wh, b.wh_t, H, H, s);
    kernels::AttentionHeadArgs head = attention_args(params, batch, lengths, b);
    head.prediction = y;
    head.dy = dy;
    head.dpre = b.dpre;
    head.du = b.du;
    const kernels::CellBackwardArgs cell = cell_backward_args(0, 0, batch, lengths, b.hidden, b);
    run_elman(
        batch, lengths, b,
        [&](const kernels::PersistentTiling& t, float* scratch) {
          return kernels::persistent_backward_with_head(cell, head, t, scratch, s);
        },
        [&](const kernels::ClusterTiling& t, const int* order) {
          return kernels::cluster_backward_with_head(cell, head, t, order, s);
        },
        [&] { kernels::segment_backward_with_head(cell, head, s); });
  } else {
    // Classic: attention/head backward kernels, then per step an elementwise kernel and a GEMM.
    kernels::unfused_attention_backward(kernels::shape_of(c, batch), w, b.hidden, b.scores,
                                        b.attention, b.context, y, dy, b.dpre, b.dc, b.g_dot_c,
                                        b.du, b.dh, s);
    RNNATTN_CUDA_CHECK(
        cudaMemsetAsync(b.carry, 0, static_cast<std::size_t>(batch) * H * sizeof(float), s));
    // The cell's BPTT from dL/dh_t of the attention (b.dh): dz into b.dz, dz_next into b.dz_next.
    const kernels::CellBackwardArgs cell =
        cell_backward_args(0, 0, batch, lengths, b.hidden, b, b.dh);
    for (int t = T - 1; t >= 0; --t) {
      kernels::unfused_step_backward(cell, b.carry, nullptr, t, s);
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

}  // namespace rnnattn::cuda
