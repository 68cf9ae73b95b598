// The flat parameter layout and Keras' initialisers (rnnattn/params.hpp).
#include "rnnattn/params.hpp"

#include <algorithm>
#include <cmath>

#include "rnnattn/random.hpp"

namespace rnnattn {

ParamLayout::ParamLayout(const ModelConfig& c)
    : wx(kAbsent),
      wh(kAbsent),
      bh(kAbsent),
      wa(kAbsent),
      ba(kAbsent),
      scale(kAbsent),
      wd(kAbsent),
      bd(kAbsent),
      emb(kAbsent) {
  c.validate();
  auto add = [&](const char* name, int rows, int cols) {
    TensorInfo t{name, rows, cols, size_};
    size_ += t.size();
    tensors_.push_back(t);
    return t.offset;
  };
  const int d = c.input_size, h = c.hidden_size, t = c.steps, o = c.output_size;
  const int ctx = c.context_size();
  directions_ = c.directions();
  for (int l = 0; l < c.layers; ++l) {
    for (int dir = 0; dir < directions_; ++dir) {
      const std::string prefix =
          (l == 0 && dir == 0) ? "" : "l" + std::to_string(l) + (dir == 1 ? ".rev" : "") + ".";
      Block b;
      b.layer = l;
      b.direction = dir;
      b.input = l == 0 ? d : ctx;
      b.gates = gates_of(c.cell);
      b.bias = (c.cell == Cell::kGru ? 2 : 1) * b.gates * h;
      b.wx = add((prefix + "Wx").c_str(), b.input, b.gates * h);
      b.wh = add((prefix + "Wh").c_str(), h, b.gates * h);
      b.bh = add((prefix + "bh").c_str(), b.bias, 1);
      blocks_.push_back(b);
    }
  }
  wx = blocks_[0].wx;
  wh = blocks_[0].wh;
  bh = blocks_[0].bh;
  if (c.additive()) {
    wa = add("wa", ctx, 1);
    ba = add("ba", t, 1);
  }
  if (c.dot_attention() && c.score == AttentionScore::kDotScaled) scale = add("scale", 1, 1);
  wd = add("Wd", ctx, o);
  bd = add("bd", o, 1);
  if (c.embedded()) emb = add("emb", c.vocab_size, d);
}

const ParamLayout::Block& ParamLayout::block(int layer, int direction) const {
  return blocks_.at(static_cast<std::size_t>(layer) * directions_ + direction);
}

namespace {

void glorot_uniform(Rng& rng, float* w, int fan_in, int fan_out) {
  const double limit = std::sqrt(6.0 / (fan_in + fan_out));
  for (long i = 0; i < static_cast<long>(fan_in) * fan_out; ++i) {
    w[i] = static_cast<float>(rng.uniform(-limit, limit));
  }
}

// Orthogonal [n, m] with m = g*n (g >= 1): the n orthonormal columns Q of an m x n standard normal
// matrix (QR by modified Gram-Schmidt in double), transposed, as Keras' Orthogonal does for a wide
// matrix: orthonormal rows. Gram-Schmidt produces R with a positive diagonal, which is exactly
// Keras' Q * sign(diag(R)) correction. A column that comes out (numerically) dependent is redrawn.
// For g = 1 the drawing order is the square case's: Q[row][col] = w[row * n + col].
void orthogonal(Rng& rng, float* w, int n, int g) {
  const int m = g * n;                                     // rows of the drawn matrix
  std::vector<double> q(static_cast<std::size_t>(m) * n);  // column-major: q[col * m + row]
  for (int j = 0; j < n; ++j) {
    double* col = &q[static_cast<std::size_t>(j) * m];
    for (;;) {
      for (int i = 0; i < m; ++i) col[i] = rng.normal();
      double norm0 = 0;
      for (int i = 0; i < m; ++i) norm0 += col[i] * col[i];
      for (int k = 0; k < j; ++k) {
        const double* qk = &q[static_cast<std::size_t>(k) * m];
        double dot = 0;
        for (int i = 0; i < m; ++i) dot += qk[i] * col[i];
        for (int i = 0; i < m; ++i) col[i] -= dot * qk[i];
      }
      double norm = 0;
      for (int i = 0; i < m; ++i) norm += col[i] * col[i];
      if (norm > 1e-20 * norm0 && norm > 0) {
        norm = std::sqrt(norm);
        for (int i = 0; i < m; ++i) col[i] /= norm;
        break;
      }
    }
  }
  // g = 1: w = Q (rows of Q as rows of w); g > 1: w = Q^T [n, m].
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < m; ++c) {
      w[static_cast<std::size_t>(r) * m + c] = static_cast<float>(
          g == 1 ? q[static_cast<std::size_t>(c) * m + r] : q[static_cast<std::size_t>(r) * m + c]);
    }
  }
}

}  // namespace

std::vector<float> init_parameters(const ModelConfig& c, std::uint64_t seed) {
  const ParamLayout layout(c);
  std::vector<float> p(layout.size(), 0.f);  // biases stay zero
  ParamView<float> v = make_view(layout, p.data());
  Rng rng(seed);
  const int H = c.hidden_size;
  for (const ParamLayout::Block& b : layout.blocks()) {
    glorot_uniform(rng, p.data() + b.wx, b.input, b.gates * H);
    orthogonal(rng, p.data() + b.wh, H, b.gates);
    if (c.cell == Cell::kLstm) std::fill_n(p.data() + b.bh + H, H, 1.0f);  // unit_forget_bias
  }
  if (c.additive()) {
    for (int i = 0; i < c.context_size(); ++i) v.wa[i] = static_cast<float>(0.05 * rng.normal());
  }
  if (v.scale) *v.scale = 1.f;  // Keras' Attention(use_scale=True) starts its scale at ones
  glorot_uniform(rng, v.wd, c.context_size(), c.output_size);
  if (c.embedded()) {
    const std::size_t n = static_cast<std::size_t>(c.vocab_size) * c.input_size;
    for (std::size_t i = 0; i < n; ++i) {
      p[layout.emb + i] = static_cast<float>(rng.uniform(-0.05, 0.05));
    }
  }
  return p;
}

}  // namespace rnnattn
