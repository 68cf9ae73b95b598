#include "rnnattn/params.hpp"

#include <cmath>

#include "rnnattn/random.hpp"

namespace rnnattn {

ParamLayout::ParamLayout(const ModelConfig& c)
    : wx(kAbsent), wh(kAbsent), bh(kAbsent), wa(kAbsent), ba(kAbsent), wd(kAbsent), bd(kAbsent) {
  c.validate();
  auto add = [&](const char* name, int rows, int cols) {
    TensorInfo t{name, rows, cols, size_};
    size_ += t.size();
    tensors_.push_back(t);
    return t.offset;
  };
  const int d = c.input_size, h = c.hidden_size, t = c.steps, o = c.output_size;
  wx = add("Wx", d, h);
  wh = add("Wh", h, h);
  bh = add("bh", h, 1);
  if (c.attention) {
    wa = add("wa", h, 1);
    ba = add("ba", t, 1);
  }
  wd = add("Wd", h, o);
  bd = add("bd", o, 1);
}

namespace {

void glorot_uniform(Rng& rng, float* w, int fan_in, int fan_out) {
  const double limit = std::sqrt(6.0 / (fan_in + fan_out));
  for (long i = 0; i < static_cast<long>(fan_in) * fan_out; ++i) {
    w[i] = static_cast<float>(rng.uniform(-limit, limit));
  }
}

// Orthogonal [n,n]: QR of a standard normal matrix by modified Gram-Schmidt in double. Gram-Schmidt
// produces R with a positive diagonal, which is exactly Keras' Q * sign(diag(R)) correction.
// A column that comes out (numerically) dependent is redrawn.
void orthogonal(Rng& rng, float* w, int n) {
  std::vector<double> q(static_cast<std::size_t>(n) * n);  // column-major: q[col * n + row]
  for (int j = 0; j < n; ++j) {
    double* col = &q[static_cast<std::size_t>(j) * n];
    for (;;) {
      for (int i = 0; i < n; ++i) col[i] = rng.normal();
      double norm0 = 0;
      for (int i = 0; i < n; ++i) norm0 += col[i] * col[i];
      for (int k = 0; k < j; ++k) {
        const double* qk = &q[static_cast<std::size_t>(k) * n];
        double dot = 0;
        for (int i = 0; i < n; ++i) dot += qk[i] * col[i];
        for (int i = 0; i < n; ++i) col[i] -= dot * qk[i];
      }
      double norm = 0;
      for (int i = 0; i < n; ++i) norm += col[i] * col[i];
      if (norm > 1e-20 * norm0 && norm > 0) {
        norm = std::sqrt(norm);
        for (int i = 0; i < n; ++i) col[i] /= norm;
        break;
      }
    }
  }
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < n; ++c)
      w[r * n + c] = static_cast<float>(q[static_cast<std::size_t>(c) * n + r]);
  }
}

}  // namespace

std::vector<float> init_parameters(const ModelConfig& c, std::uint64_t seed) {
  const ParamLayout layout(c);
  std::vector<float> p(layout.size(), 0.f);  // biases stay zero
  ParamView<float> v = make_view(layout, p.data());
  Rng rng(seed);
  glorot_uniform(rng, v.wx, c.input_size, c.hidden_size);
  orthogonal(rng, v.wh, c.hidden_size);
  if (c.attention) {
    for (int i = 0; i < c.hidden_size; ++i) v.wa[i] = static_cast<float>(0.05 * rng.normal());
  }
  glorot_uniform(rng, v.wd, c.hidden_size, c.output_size);
  return p;
}

}  // namespace rnnattn
