// The CPU reference. Plain loops, one sequence at a time, in the order the math in SPEC.md is
// written. Speed is not a goal here; being obviously right is.
#include "rnnattn/reference.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "rnnattn/backend.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"

namespace rnnattn {
namespace {

template <typename Real>
Real activate(Activation a, Real v) {
  switch (a) {
    case Activation::kTanh:
      return std::tanh(v);
    case Activation::kSigmoid:
      return Real(1) / (Real(1) + std::exp(-v));
    case Activation::kLinear:
      break;
  }
  return v;
}

// d act / d pre, written in terms of the output y = act(pre).
template <typename Real>
Real activate_grad(Activation a, Real y) {
  switch (a) {
    case Activation::kTanh:
      return Real(1) - y * y;
    case Activation::kSigmoid:
      return y * (Real(1) - y);
    case Activation::kLinear:
      break;
  }
  return Real(1);
}

// Everything the forward pass computes for one sequence; backward reuses it.
template <typename Real>
struct SequenceState {
  std::vector<Real> h;  // [T+1, H]; row 0 is h_0 = 0, row t is h_t
  std::vector<Real> e;  // [T] scores e_t = tanh(h_t . wa + ba[t])
  std::vector<Real> a;  // [T] softmax weights
  std::vector<Real> c;  // [H] context (attention) or h_T (plain)
  std::vector<Real> y;  // [O]
};

template <typename Real>
void forward_sequence(const ModelConfig& cfg, const ParamView<const Real>& p, const Real* x,
                      SequenceState<Real>& s) {
  const int D = cfg.input_size, H = cfg.hidden_size, T = cfg.steps, O = cfg.output_size;
  s.h.assign(static_cast<std::size_t>(T + 1) * H, Real(0));

  // Recurrence: z_t = x_t Wx + h_{t-1} Wh + bh; h_t = tanh(z_t).
  for (int t = 1; t <= T; ++t) {
    const Real* xt = x + static_cast<std::size_t>(t - 1) * D;
    const Real* hprev = &s.h[static_cast<std::size_t>(t - 1) * H];
    Real* ht = &s.h[static_cast<std::size_t>(t) * H];
    for (int j = 0; j < H; ++j) {
      Real z = p.bh[j];
      for (int k = 0; k < D; ++k) z += xt[k] * p.wx[static_cast<std::size_t>(k) * H + j];
      for (int k = 0; k < H; ++k) z += hprev[k] * p.wh[static_cast<std::size_t>(k) * H + j];
      ht[j] = std::tanh(z);
    }
  }

  s.c.assign(H, Real(0));
  if (cfg.attention) {
    // Scores, softmax over time (e_t is in [-1, 1], so exp cannot overflow), context.
    s.e.assign(T, Real(0));
    s.a.assign(T, Real(0));
    Real sum = 0;
    for (int t = 0; t < T; ++t) {
      const Real* ht = &s.h[static_cast<std::size_t>(t + 1) * H];
      Real u = p.ba[t];
      for (int j = 0; j < H; ++j) u += ht[j] * p.wa[j];
      s.e[t] = std::tanh(u);
      s.a[t] = std::exp(s.e[t]);
      sum += s.a[t];
    }
    for (int t = 0; t < T; ++t) s.a[t] /= sum;
    for (int t = 0; t < T; ++t) {
      const Real* ht = &s.h[static_cast<std::size_t>(t + 1) * H];
      for (int j = 0; j < H; ++j) s.c[j] += s.a[t] * ht[j];
    }
  } else {
    std::copy_n(&s.h[static_cast<std::size_t>(T) * H], H, s.c.begin());
  }

  // Head: y = act(c Wd + bd).
  s.y.assign(O, Real(0));
  for (int o = 0; o < O; ++o) {
    Real pre = p.bd[o];
    for (int j = 0; j < H; ++j) pre += s.c[j] * p.wd[static_cast<std::size_t>(j) * O + o];
    s.y[o] = activate(cfg.head, pre);
  }
}

}  // namespace

template <typename Real>
void reference_forward(const ModelConfig& cfg, const Real* params, const Real* x, int batch,
                       Real* y, Real* attention, Real* hidden, Real* context) {
  check_forward_args(cfg, params, x, batch, y, attention);
  const ParamLayout layout(cfg);
  const ParamView<const Real> p = make_view(layout, params);
  const std::size_t T = cfg.steps, H = cfg.hidden_size, D = cfg.input_size, O = cfg.output_size;
  SequenceState<Real> s;
  for (int b = 0; b < batch; ++b) {
    forward_sequence(cfg, p, x + b * T * D, s);
    std::copy(s.y.begin(), s.y.end(), y + b * O);
    if (attention) std::copy(s.a.begin(), s.a.end(), attention + b * T);
    if (hidden) std::copy(s.h.begin() + H, s.h.end(), hidden + b * T * H);
    if (context) std::copy(s.c.begin(), s.c.end(), context + b * H);
  }
}

template <typename Real>
void reference_backward(const ModelConfig& cfg, const Real* params, const Real* x, int batch,
                        const Real* dy, Real* dparams, Real* dx) {
  check_inputs(cfg, params, x, batch);
  if (!dy) throw InvalidArgument("dy [B,O] is null");
  if (!dparams) throw InvalidArgument("dparams is null");
  const ParamLayout layout(cfg);
  const ParamView<const Real> p = make_view(layout, params);
  std::fill(dparams, dparams + layout.size(), Real(0));
  const ParamView<Real> g = make_view(layout, dparams);
  const int D = cfg.input_size, H = cfg.hidden_size, T = cfg.steps, O = cfg.output_size;

  SequenceState<Real> s;
  std::vector<Real> dc(H), dh(static_cast<std::size_t>(T + 1) * H), carry(H), dz(H);
  for (int b = 0; b < batch; ++b) {
    const Real* xb = x + static_cast<std::size_t>(b) * T * D;
    forward_sequence(cfg, p, xb, s);

    // Head: dpre = dy * act'(y); dWd += c^T dpre; dbd += dpre; dc = dpre Wd^T.
    std::fill(dc.begin(), dc.end(), Real(0));
    for (int o = 0; o < O; ++o) {
      const Real dpre = dy[static_cast<std::size_t>(b) * O + o] * activate_grad(cfg.head, s.y[o]);
      g.bd[o] += dpre;
      for (int j = 0; j < H; ++j) {
        g.wd[static_cast<std::size_t>(j) * O + o] += s.c[j] * dpre;
        dc[j] += dpre * p.wd[static_cast<std::size_t>(j) * O + o];
      }
    }

    // dL/dh_t from the attention (or from the head for the plain model).
    std::fill(dh.begin(), dh.end(), Real(0));
    if (cfg.attention) {
      Real g_dot_c = 0;
      for (int j = 0; j < H; ++j) g_dot_c += dc[j] * s.c[j];
      for (int t = 0; t < T; ++t) {
        const Real* ht = &s.h[static_cast<std::size_t>(t + 1) * H];
        Real* dht = &dh[static_cast<std::size_t>(t + 1) * H];
        Real g_dot_h = 0;
        for (int j = 0; j < H; ++j) g_dot_h += dc[j] * ht[j];
        const Real de = s.a[t] * (g_dot_h - g_dot_c);      // through the softmax
        const Real du = de * (Real(1) - s.e[t] * s.e[t]);  // through the score's tanh
        g.ba[t] += du;
        for (int j = 0; j < H; ++j) {
          g.wa[j] += du * ht[j];
          dht[j] = s.a[t] * dc[j] + du * p.wa[j];
        }
      }
    } else {
      std::copy(dc.begin(), dc.end(), dh.begin() + static_cast<std::size_t>(T) * H);
    }

    // BPTT, t = T..1: dz_t = (dL/dh_t + carry) * (1 - h_t^2); carry = dz_t Wh^T.
    std::fill(carry.begin(), carry.end(), Real(0));
    for (int t = T; t >= 1; --t) {
      const Real* ht = &s.h[static_cast<std::size_t>(t) * H];
      const Real* hprev = &s.h[static_cast<std::size_t>(t - 1) * H];
      const Real* xt = xb + static_cast<std::size_t>(t - 1) * D;
      for (int j = 0; j < H; ++j) {
        dz[j] = (dh[static_cast<std::size_t>(t) * H + j] + carry[j]) * (Real(1) - ht[j] * ht[j]);
      }
      for (int j = 0; j < H; ++j) {
        g.bh[j] += dz[j];
        for (int k = 0; k < H; ++k) g.wh[static_cast<std::size_t>(k) * H + j] += hprev[k] * dz[j];
        for (int k = 0; k < D; ++k) g.wx[static_cast<std::size_t>(k) * H + j] += xt[k] * dz[j];
      }
      for (int k = 0; k < H; ++k) {
        Real acc = 0;
        for (int j = 0; j < H; ++j) acc += dz[j] * p.wh[static_cast<std::size_t>(k) * H + j];
        carry[k] = acc;
      }
      if (dx) {
        Real* dxt = dx + (static_cast<std::size_t>(b) * T + (t - 1)) * D;
        for (int k = 0; k < D; ++k) {
          Real acc = 0;
          for (int j = 0; j < H; ++j) acc += dz[j] * p.wx[static_cast<std::size_t>(k) * H + j];
          dxt[k] = acc;
        }
      }
    }
  }
}

template <typename Real>
double reference_loss(Loss loss, const Real* y, const Real* target, long n, Real* dy) {
  if (n < 1) throw InvalidArgument("loss: need at least one prediction, got " + std::to_string(n));
  if (!y || !target) throw InvalidArgument("loss: y or target is null");
  double total = 0;
  const double inv_n = 1.0 / static_cast<double>(n);
  for (long i = 0; i < n; ++i) {
    const double yi = y[i], ti = target[i];
    if (loss == Loss::kMse) {
      const double diff = yi - ti;
      total += diff * diff;
      if (dy) dy[i] = static_cast<Real>(2.0 * diff * inv_n);
    } else {
      constexpr double kEps = 1e-7;  // Keras' backend epsilon
      const bool clipped = yi < kEps || yi > 1.0 - kEps;
      const double yc = std::min(std::max(yi, kEps), 1.0 - kEps);
      total += -(ti * std::log(yc) + (1.0 - ti) * std::log(1.0 - yc));
      if (dy) dy[i] = clipped ? Real(0) : static_cast<Real>((yc - ti) / (yc * (1.0 - yc)) * inv_n);
    }
  }
  return total * inv_n;
}

#define RNNATTN_INSTANTIATE(Real)                                                                 \
  template void reference_forward<Real>(const ModelConfig&, const Real*, const Real*, int, Real*, \
                                        Real*, Real*, Real*);                                     \
  template void reference_backward<Real>(const ModelConfig&, const Real*, const Real*, int,       \
                                         const Real*, Real*, Real*);                              \
  template double reference_loss<Real>(Loss, const Real*, const Real*, long, Real*);
RNNATTN_INSTANTIATE(float)
RNNATTN_INSTANTIATE(double)
#undef RNNATTN_INSTANTIATE

}  // namespace rnnattn
