// Small-model training: whole epochs of mini-batch Adam in one launch, for models whose hidden
// layer fits in a warp (H <= 32), such as the tutorial's (H = 2, 33 parameters).
//
// Why (docs/performance.md): at the seed's size a training step is ~1 kFLOP, and a step made of
// ~16 launches or graph nodes costs ~1000x its arithmetic. Here the parameters, the Adam moments,
// the gradients and one sample's activations live in shared memory for the whole epoch; the
// kernel walks the epoch's samples in order, batch by batch, and applies Adam after each batch,
// exactly as the step-by-step path does (same losses, same update, same order of batches).
//
// Work mapping: one block of one warp (32 threads); lane j owns hidden unit j (j < H): it forms
// z_t[j], dz_t[j], and the gradient columns Wx[:, j], Wh[:, j], bh[j], wa[j], Wd[j, :]. The
// per-step scalars go over the lanes too, lane l taking steps t = l, l + 32, ...: the scores e_t
// and exp(e_t), and in the backward du_t (each an H-long dot product); the softmax's sum and g.c
// are butterflies of shuffles, which leave every lane the same bits. Lane 0 does the head and the
// loss (O outputs, a few FLOPs). h_t and dz_t are exchanged through shared memory with a barrier
// per exchange (one warp: a barrier costs about a warp sync). The Adam update is strided over the
// lanes. Deterministic: a fixed order of every sum.
//
// Per sample (SPEC.md): forward h_t, e_t, a_t, c, y; loss and dy; backward as the segment kernels
// with the head (rnn_segment.cu) with the weight gradients accumulated on chip instead of by GEMMs.
// Limits: H <= 32, O <= 32, and the shared memory below within the default 48 KB.
#include <cuda_runtime.h>

#include "cuda_compat.cuh"
#include "device_common.cuh"
#include "kernels.hpp"

namespace rnnattn::kernels {
namespace {

constexpr int kLanes = 32;

// Floats of shared memory: params, m, v, grads [P]; hs [(T+1)H] (row 0 is h_0 = 0); x [TD];
// e, a, du [T]; c, dc, dz [H]; dpre [O].
std::size_t small_smem_floats(const Shape& s, int n_params) {
  return 4 * static_cast<std::size_t>(n_params) + static_cast<std::size_t>(s.steps + 1) * s.hidden +
         static_cast<std::size_t>(s.steps) * s.input + 3 * s.steps + 3 * s.hidden + s.output;
}

// One sample's pass in one warp: thread j owns hidden unit j, the shared-memory tensors below
// (the layout of small_smem_floats) hold the parameters, their gradients and the sample's
// activations. Every member is called by all 32 lanes (they contain block barriers).
struct SmallModel {
  const SmallTrainArgs& a;
  const Shape& s;
  const ParamOffsets& off;
  int T, D, H, O, j;
  bool unit, attention;
  float *p, *m, *v, *g, *hs, *xs, *e, *at, *du, *c, *dc, *dz, *dpre;

  __device__ SmallModel(const SmallTrainArgs& args, float* smem)
      : a(args), s(args.shape), off(args.offsets) {
    T = s.steps, D = s.input, H = s.hidden, O = s.output;
    j = threadIdx.x;
    unit = j < H;
    attention = s.attention;
    const int P = a.n_params;
    p = smem;
    m = p + P;
    v = m + P;
    g = v + P;
    hs = g + P;             // [(T+1), H]
    xs = hs + (T + 1) * H;  // [T, D]
    e = xs + T * D;         // [T]
    at = e + T;             // [T]
    du = at + T;            // [T]
    c = du + T;             // [H]
    dc = c + H;             // [H]
    dz = dc + H;            // [H]
    dpre = dz + H;          // [O]
  }

  // The recurrence, the attention and the context of dataset row `row`.
  __device__ void forward(int row) {
    for (int i = j; i < T * D; i += kLanes) {
      xs[i] = a.all_x[static_cast<std::size_t>(row) * T * D + i];
    }
    if (unit) hs[j] = 0.f;  // h_0
    __syncthreads();
    for (int t = 0; t < T; ++t) {
      if (unit) {
        float z = p[off.bh + j];
        for (int q = 0; q < D; ++q) z += xs[t * D + q] * p[off.wx + q * H + j];
        for (int q = 0; q < H; ++q) z += hs[t * H + q] * p[off.wh + q * H + j];
        hs[(t + 1) * H + j] = tanhf(z);
      }
      __syncthreads();
    }
    if (attention) {
      // Lane l: the steps t = l, l + 32, ... (their own part of S, in t order).
      float part = 0.f;
      for (int t = j; t < T; t += kLanes) {
        float u = p[off.ba + t];
        for (int q = 0; q < H; ++q) u += hs[(t + 1) * H + q] * p[off.wa + q];
        e[t] = tanhf(u);
        at[t] = expf(e[t]);
        part += at[t];
      }
      const float sum = warp_sum(part);
      for (int t = j; t < T; t += kLanes) at[t] /= sum;
    }
    __syncthreads();
    if (unit) {
      float cj = 0.f;
      if (attention) {
        for (int t = 0; t < T; ++t) cj += at[t] * hs[(t + 1) * H + j];
      } else {
        cj = hs[T * H + j];
      }
      c[j] = cj;
    }
    __syncthreads();
  }

  // The head, the loss (added to *batch_loss, scaled by inv_n) and dpre, on lane 0.
  __device__ void head_and_loss(int row, double inv_n, double* batch_loss) {
    if (j == 0) {
      for (int o = 0; o < O; ++o) {
        float pre = p[off.bd + o];
        for (int q = 0; q < H; ++q) pre += c[q] * p[off.wd + q * O + o];
        const float y = head_act(s.head, pre);
        const double yi = y, ti = a.all_y[static_cast<std::size_t>(row) * O + o];
        float dy;
        if (a.loss == 0) {  // MSE, as loss_kernel
          const double d = yi - ti;
          *batch_loss += d * d * inv_n;
          dy = static_cast<float>(2.0 * d * inv_n);
        } else {  // BCE on probabilities, clipped as Keras does
          const double eps = 1e-7;
          const bool clipped = yi < eps || yi > 1.0 - eps;
          const double yc = fmin(fmax(yi, eps), 1.0 - eps);
          *batch_loss += -(ti * log(yc) + (1.0 - ti) * log(1.0 - yc)) * inv_n;
          dy = clipped ? 0.f : static_cast<float>((yc - ti) / (yc * (1.0 - yc)) * inv_n);
        }
        dpre[o] = dy * head_act_grad(s.head, y);
        g[off.bd + o] += dpre[o];
      }
    }
    __syncthreads();
  }

  // The gradients, added to g: the head, then the attention (the lanes over t), then BPTT.
  __device__ void backward() {
    if (unit) {
      float dcj = 0.f;
      for (int o = 0; o < O; ++o) {
        dcj += dpre[o] * p[off.wd + j * O + o];
        g[off.wd + j * O + o] += c[j] * dpre[o];
      }
      dc[j] = dcj;
    }
    __syncthreads();
    if (attention) {
      const float g_dot_c = warp_sum(unit ? dc[j] * c[j] : 0.f);
      for (int t = j; t < T; t += kLanes) {  // lane l: the steps t = l, l + 32, ...
        float g_dot_h = 0.f;
        for (int q = 0; q < H; ++q) g_dot_h += dc[q] * hs[(t + 1) * H + q];
        du[t] = at[t] * (g_dot_h - g_dot_c) * (1.f - e[t] * e[t]);
        g[off.ba + t] += du[t];
      }
      __syncthreads();
      if (unit) {
        for (int t = 0; t < T; ++t) g[off.wa + j] += du[t] * hs[(t + 1) * H + j];
      }
    }
    float carry = 0.f;
    for (int t = T - 1; t >= 0; --t) {
      if (unit) {
        float dh = carry;
        if (attention) {
          dh += at[t] * dc[j] + du[t] * p[off.wa + j];
        } else if (t == T - 1) {
          dh += dc[j];
        }
        const float h = hs[(t + 1) * H + j];
        const float dzj = dh * (1.f - h * h);
        g[off.bh + j] += dzj;
        for (int q = 0; q < D; ++q) g[off.wx + q * H + j] += xs[t * D + q] * dzj;
        for (int q = 0; q < H; ++q) g[off.wh + q * H + j] += hs[t * H + q] * dzj;
        dz[j] = dzj;
      }
      __syncthreads();
      if (unit) {
        carry = 0.f;
        for (int q = 0; q < H; ++q) carry += dz[q] * p[off.wh + j * H + q];
      }
      __syncthreads();
    }
  }

  // Adam, as adam_kernel: the step size alpha (computed in double), the update in float.
  __device__ void adam(float alpha) {
    for (int i = j; i < a.n_params; i += kLanes) {
      const float gi = g[i];
      const float mi = a.b1 * m[i] + (1.f - a.b1) * gi;
      const float vi = a.b2 * v[i] + (1.f - a.b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] -= alpha * mi / (sqrtf(vi) + a.eps);
    }
    __syncthreads();
  }
};

__global__ void __launch_bounds__(kLanes) small_train_kernel(SmallTrainArgs a) {
  SmallModel model(a, dynamic_shared<float>());
  const int j = model.j, P = a.n_params, O = a.shape.output;
  RNNATTN_SHARED_ARRAY(double, alpha_s, 1);

  for (int i = j; i < P; i += kLanes) {
    model.p[i] = a.params[i];
    model.m[i] = a.m[i];
    model.v[i] = a.v[i];
  }
  long long step = *a.step;  // every lane keeps the count (it only grows by one per batch)
  // Lane 0: the running sum of the batches' mean losses, continued from *loss_sum in batch order
  // (so that an epoch launched in parts sums as one launch does).
  double loss_total = a.loss_sum && j == 0 ? *a.loss_sum : 0.0;
  __syncthreads();

  for (int start = 0; start < a.n; start += a.shape.batch) {
    const int nb = a.n - start < a.shape.batch ? a.n - start : a.shape.batch;
    const double inv_n = 1.0 / (static_cast<double>(nb) * O);
    double batch_loss = 0;
    for (int i = j; i < P; i += kLanes) model.g[i] = 0.f;
    for (int k = start; k < start + nb; ++k) {
      const int row = a.order[k];
      model.forward(row);
      model.head_and_loss(row, inv_n, &batch_loss);
      model.backward();
    }
    ++step;
    if (j == 0) {
      alpha_s[0] = a.lr * sqrt(1.0 - pow(static_cast<double>(a.b2), static_cast<double>(step))) /
                   (1.0 - pow(static_cast<double>(a.b1), static_cast<double>(step)));
      loss_total += batch_loss;
    }
    __syncthreads();
    model.adam(static_cast<float>(alpha_s[0]));
  }

  for (int i = j; i < P; i += kLanes) {
    a.params[i] = model.p[i];
    a.m[i] = model.m[i];
    a.v[i] = model.v[i];
  }
  if (j == 0) {
    *a.step = step;
    if (a.loss_sum) *a.loss_sum = loss_total;
  }
}

}  // namespace

bool small_train_fits(const Shape& s, int n_params) {
  return s.hidden <= kLanes && s.output <= kLanes && s.batch >= 1 &&
         small_smem_floats(s, n_params) * sizeof(float) + 64 <= 48 * 1024;
}

void small_train_epoch(const SmallTrainArgs& a, cudaStream_t stream) {
  if (!small_train_fits(a.shape, a.n_params)) {
    throw InvalidArgument("small_train_epoch: the model does not fit the small-model kernel");
  }
  if (a.n < 1) return;
  launch_kernel<small_train_kernel>("small_train_kernel", 1, kLanes,
                                    small_smem_floats(a.shape, a.n_params) * sizeof(float), stream,
                                    a);
}

}  // namespace rnnattn::kernels
