// The CPU reference. Plain loops, one sequence at a time, in the order the math in SPEC.md is
// written. Speed is not a goal here; being obviously right is.
#include "rnnattn/reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "model_math.hpp"
#include "rnnattn/backend.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"

namespace rnnattn {
namespace {

// Everything the forward pass computes for one sequence; backward reuses it.
template <typename Real>
struct SequenceState {
  int length = 0;                      // L: steps 0..L-1 are valid, L..T-1 are padding
  std::vector<std::vector<Real>> s;    // per layer: [T, C] states (both directions side by side)
  std::vector<std::vector<Real>> aux;  // per block: [T, aux_width * H] (gated cells)
  std::vector<Real> e;                 // [T] scores e_t = tanh(s_t . wa + ba[t]) (0 on padding)
  std::vector<Real> a;                 // [T] softmax weights (0 on padding)
  std::vector<Real> dots;              // dot attention: [T, T] h_i . h_j (0 past the length)
  std::vector<Real> w;                 // dot attention: [T, T] weights a_ij (0 past the length)
  std::vector<Real> o;                 // dot attention: [T, C] outputs o_i = sum_j a_ij h_j
  std::vector<Real> c;                 // [C] context (attention) or the final states (plain)
  std::vector<Real> keep;              // [C] dropout's factor per element: 0 or 1/(1-rate) (or 1)
  std::vector<Real> y;                 // [O]
};

// Keras' dot-product attention over the valid steps (config.hpp, AttentionScore), the states as
// query, key and value: e_ij = scale (h_i . h_j), a_i = softmax_j(e_i), o_i = sum_j a_ij h_j; the
// notebook's context c = sum_i o_i * h_i; and, as the attention weights, the weight each step gets
// as a key averaged over the queries, a_j = (1/L) sum_i a_ij. The scores are not bounded, so the
// softmax subtracts each row's largest.
template <typename Real>
void dot_attention_forward(const Real* top, int T, int C, int L, Real scale,
                           SequenceState<Real>& s) {
  s.dots.assign(static_cast<std::size_t>(T) * T, Real(0));
  s.w.assign(static_cast<std::size_t>(T) * T, Real(0));
  s.o.assign(static_cast<std::size_t>(T) * C, Real(0));
  s.a.assign(T, Real(0));
  for (int i = 0; i < L; ++i) {
    const Real* hi = top + static_cast<std::size_t>(i) * C;
    Real* dots = &s.dots[static_cast<std::size_t>(i) * T];
    Real* w = &s.w[static_cast<std::size_t>(i) * T];
    Real top_score = -std::numeric_limits<Real>::infinity(), sum = 0;
    for (int j = 0; j < L; ++j) {
      const Real* hj = top + static_cast<std::size_t>(j) * C;
      for (int k = 0; k < C; ++k) dots[j] += hi[k] * hj[k];
      top_score = std::max(top_score, scale * dots[j]);
    }
    for (int j = 0; j < L; ++j) {
      w[j] = std::exp(scale * dots[j] - top_score);
      sum += w[j];
    }
    Real* oi = &s.o[static_cast<std::size_t>(i) * C];
    for (int j = 0; j < L; ++j) {
      w[j] /= sum;
      s.a[j] += w[j] / L;
      const Real* hj = top + static_cast<std::size_t>(j) * C;
      for (int k = 0; k < C; ++k) oi[k] += w[j] * hj[k];
    }
    for (int k = 0; k < C; ++k) s.c[k] += oi[k] * hi[k];
  }
}

// Its backward from dc = dL/dc: dL/d(states) into dout [T, C], and dL/dscale (returned):
//   do_i = dc * h_i, dh_i += dc * o_i                          (c = sum_i o_i * h_i)
//   da_ij = do_i . h_j, dh_j += a_ij do_i                      (o_i = sum_j a_ij h_j)
//   de_ij = a_ij (da_ij - sum_k a_ik da_ik)                    (the softmax)
//   dh_i += scale de_ij h_j, dh_j += scale de_ij h_i, dscale += de_ij (h_i . h_j)
template <typename Real>
Real dot_attention_backward(const Real* top, int T, int C, int L, Real scale,
                            const SequenceState<Real>& s, const Real* dc, Real* dout) {
  std::vector<Real> doi(C), da(L);
  Real dscale = 0;
  for (int i = 0; i < L; ++i) {
    const Real* hi = top + static_cast<std::size_t>(i) * C;
    const Real* oi = &s.o[static_cast<std::size_t>(i) * C];
    const Real* w = &s.w[static_cast<std::size_t>(i) * T];
    const Real* dots = &s.dots[static_cast<std::size_t>(i) * T];
    Real* dhi = dout + static_cast<std::size_t>(i) * C;
    for (int k = 0; k < C; ++k) {
      doi[k] = dc[k] * hi[k];
      dhi[k] += dc[k] * oi[k];
    }
    Real mean = 0;
    for (int j = 0; j < L; ++j) {
      const Real* hj = top + static_cast<std::size_t>(j) * C;
      Real* dhj = dout + static_cast<std::size_t>(j) * C;
      da[j] = 0;
      for (int k = 0; k < C; ++k) {
        da[j] += doi[k] * hj[k];
        dhj[k] += w[j] * doi[k];
      }
      mean += w[j] * da[j];
    }
    for (int j = 0; j < L; ++j) {
      const Real de = w[j] * (da[j] - mean);
      const Real* hj = top + static_cast<std::size_t>(j) * C;
      Real* dhj = dout + static_cast<std::size_t>(j) * C;
      for (int k = 0; k < C; ++k) {
        dhi[k] += scale * de * hj[k];
        dhj[k] += scale * de * hi[k];
      }
      dscale += de * dots[j];
    }
  }
  return dscale;
}

// The forward pass of one sequence, batch row `row` (which draws its dropout masks under `dk`,
// null: no dropout).
template <typename Real>
void forward_sequence(const ModelConfig& cfg, const ParamLayout& layout, const Real* params,
                      const Real* x, int length, SequenceState<Real>& s,
                      const DropoutKey* dk = nullptr, int row = 0) {
  const int H = cfg.hidden_size, T = cfg.steps, O = cfg.output_size, C = cfg.context_size();
  const ParamView<const Real> p = make_view(layout, params);
  s.length = length;
  s.s.assign(cfg.layers, std::vector<Real>(static_cast<std::size_t>(T) * C, Real(0)));

  // Recurrence of each block over its layer's input, in its direction:
  //   valid step:  the cell (model_math.hpp's cell_forward) on xin = in_t Wx + b and
  //                rec = h_prev Wh (GRU: + its recurrent bias b'); Elman: h_t = tanh(xin + rec)
  //   padding:     h_t = h_prev, and the LSTM's c_t = c_prev (the state passes through unchanged)
  const int A = aux_width(cfg.cell);
  s.aux.resize(layout.blocks().size());
  std::vector<Real> xin, rec, in_keep, rec_keep;
  for (std::size_t bi = 0; bi < layout.blocks().size(); ++bi) {
    const ParamLayout::Block& blk = layout.blocks()[bi];
    const BlockView<const Real> w = block_view(blk, params);
    const int I = blk.input, GH = blk.gates * H;
    const Real* in = blk.layer == 0 ? x : s.s[blk.layer - 1].data();
    const std::size_t in_stride = blk.layer == 0 ? I : C;
    Real* out = s.s[blk.layer].data() + static_cast<std::size_t>(blk.direction) * H;
    std::vector<Real>& aux = s.aux[bi];
    aux.assign(static_cast<std::size_t>(T) * A * H, Real(0));
    xin.assign(GH, Real(0));
    rec.assign(GH, Real(0));
    // The layer's dropout: in_t * in_keep enters Wx, h_prev * rec_keep enters Wh.
    layer_dropout_masks(cfg, dk, row, blk.layer, blk.direction, I, in_keep, rec_keep);
    for (int n = 0; n < T; ++n) {
      const int t = blk.direction == 0 ? n : T - 1 - n;
      const int tp = prev_step(blk.direction, t, T);
      Real* ht = out + static_cast<std::size_t>(t) * C;
      const Real* hprev = tp < 0 ? nullptr : out + static_cast<std::size_t>(tp) * C;
      Real* at = aux.data() + static_cast<std::size_t>(t) * A * H;
      const Real* aprev = tp < 0 ? nullptr : aux.data() + static_cast<std::size_t>(tp) * A * H;
      if (t >= length) {
        for (int j = 0; j < H; ++j) ht[j] = hprev ? hprev[j] : Real(0);
        for (int j = 0; j < A * H; ++j) at[j] = aprev ? aprev[j] : Real(0);
        continue;
      }
      const Real* it = in + static_cast<std::size_t>(t) * in_stride;
      for (int j = 0; j < GH; ++j) {
        // Elman and LSTM sum input and recurrent terms in one accumulator (rec stays 0); the
        // GRU keeps the recurrent one apart, as its reset gate scales part of it.
        Real z = w.bh[j];
        for (int k = 0; k < I; ++k)
          z += it[k] * in_keep[k] * w.wx[static_cast<std::size_t>(k) * GH + j];
        Real r = cfg.cell == Cell::kGru ? w.bh[GH + j] : Real(0);
        Real& acc = cfg.cell == Cell::kGru ? r : z;
        if (hprev) {
          for (int k = 0; k < H; ++k)
            acc += hprev[k] * rec_keep[k] * w.wh[static_cast<std::size_t>(k) * GH + j];
        }
        xin[j] = z;
        rec[j] = r;
      }
      const Real* cprev = aprev && cfg.cell == Cell::kLstm ? aprev + 4 * H : nullptr;
      cell_forward(cfg.cell, H, xin.data(), rec.data(), hprev, cprev, ht, at);
    }
  }
  const std::vector<Real>& top = s.s[cfg.layers - 1];

  s.c.assign(C, Real(0));
  if (cfg.dot_attention()) {
    dot_attention_forward(top.data(), T, C, length, p.scale ? *p.scale : Real(1), s);
  } else if (cfg.attention) {
    // Scores over the valid steps, softmax over them (e_t is in [-1, 1], so exp cannot
    // overflow), context; padding gets no weight.
    s.e.assign(T, Real(0));
    s.a.assign(T, Real(0));
    Real sum = 0;
    for (int t = 0; t < length; ++t) {
      const Real* ht = &top[static_cast<std::size_t>(t) * C];
      Real u = p.ba[t];
      for (int j = 0; j < C; ++j) u += ht[j] * p.wa[j];
      s.e[t] = std::tanh(u);
      s.a[t] = std::exp(s.e[t]);
      sum += s.a[t];
    }
    for (int t = 0; t < length; ++t) s.a[t] /= sum;
    for (int t = 0; t < length; ++t) {
      const Real* ht = &top[static_cast<std::size_t>(t) * C];
      for (int j = 0; j < C; ++j) s.c[j] += s.a[t] * ht[j];
    }
  } else {
    // The final state of each direction: the forward one after step T-1 (= after L-1), the
    // backward one after step 0.
    for (int dir = 0; dir < cfg.directions(); ++dir) {
      const int t = dir == 0 ? T - 1 : 0;
      for (int j = 0; j < H; ++j) {
        s.c[dir * H + j] = top[static_cast<std::size_t>(t) * C + dir * H + j];
      }
    }
  }

  // Dropout on the context (training), then the head: y = act((c * keep) Wd + bd).
  s.keep.assign(C, Real(1));
  if (dk) {
    for (int j = 0; j < C; ++j) s.keep[j] = dropout_factor(dk->seed, dk->step, row, j, cfg.dropout);
  }
  s.y.assign(O, Real(0));
  for (int o = 0; o < O; ++o) {
    Real pre = p.bd[o];
    for (int j = 0; j < C; ++j) {
      pre += s.c[j] * s.keep[j] * p.wd[static_cast<std::size_t>(j) * O + o];
    }
    s.y[o] = pre;
  }
  head_activate(cfg.head, s.y.data(), O);
}

int length_of(const ModelConfig& cfg, const int* lengths, int b) {
  return lengths ? lengths[b] : cfg.steps;
}

}  // namespace

template <typename Real>
void reference_forward(const ModelConfig& cfg, const Real* params, const Real* x, int batch,
                       Real* y, Real* attention, Real* hidden, Real* context, const int* lengths,
                       const DropoutKey* dropout) {
  check_forward_args(cfg, params, x, batch, y, attention);
  check_lengths(cfg, lengths, batch);
  const ParamLayout layout(cfg);
  const std::size_t T = cfg.steps, C = cfg.context_size(), D = cfg.input_size, O = cfg.output_size;
  SequenceState<Real> s;
  for (int b = 0; b < batch; ++b) {
    forward_sequence(cfg, layout, params, x + b * T * D, length_of(cfg, lengths, b), s, dropout, b);
    std::copy(s.y.begin(), s.y.end(), y + b * O);
    if (attention) std::copy(s.a.begin(), s.a.end(), attention + b * T);
    if (hidden) std::copy(s.s.back().begin(), s.s.back().end(), hidden + b * T * C);
    if (context) std::copy(s.c.begin(), s.c.end(), context + b * C);
  }
}

template <typename Real>
void reference_backward(const ModelConfig& cfg, const Real* params, const Real* x, int batch,
                        const Real* dy, Real* dparams, Real* dx, const int* lengths,
                        const DropoutKey* dropout) {
  check_inputs(cfg, params, x, batch);
  check_lengths(cfg, lengths, batch);
  if (!dy) throw InvalidArgument("dy [B,O] is null");
  if (!dparams) throw InvalidArgument("dparams is null");
  const ParamLayout layout(cfg);
  const ParamView<const Real> p = make_view(layout, params);
  std::fill(dparams, dparams + layout.size(), Real(0));
  const ParamView<Real> g = make_view(layout, dparams);
  const int D = cfg.input_size, H = cfg.hidden_size, T = cfg.steps, O = cfg.output_size;
  const int C = cfg.context_size();

  SequenceState<Real> s;
  std::vector<Real> dc(C), dpre(O), dout, din, carry(H), carry_c(H), dh(H), direct(H), d_in, d_rec;
  std::vector<Real> in_keep, rec_keep;
  for (int b = 0; b < batch; ++b) {
    const Real* xb = x + static_cast<std::size_t>(b) * T * D;
    const int L = length_of(cfg, lengths, b);
    forward_sequence(cfg, layout, params, xb, L, s, dropout, b);
    const std::vector<Real>& top = s.s[cfg.layers - 1];

    // Head: dpre = act's backward of dy; dWd += (c * keep)^T dpre; dbd += dpre;
    // dc = (dpre Wd^T) * keep.
    std::fill(dc.begin(), dc.end(), Real(0));
    head_backward(cfg.head, s.y.data(), dy + static_cast<std::size_t>(b) * O, dpre.data(), O);
    for (int o = 0; o < O; ++o) {
      g.bd[o] += dpre[o];
      for (int j = 0; j < C; ++j) {
        g.wd[static_cast<std::size_t>(j) * O + o] += s.c[j] * s.keep[j] * dpre[o];
        dc[j] += dpre[o] * p.wd[static_cast<std::size_t>(j) * O + o];
      }
    }
    for (int j = 0; j < C; ++j) dc[j] *= s.keep[j];

    // dout = dL/d(top-layer states) [T, C], from the attention (or from the head for the plain
    // model: the forward direction's last step, the backward direction's first).
    dout.assign(static_cast<std::size_t>(T) * C, Real(0));
    if (cfg.dot_attention()) {
      const Real ds = dot_attention_backward(top.data(), T, C, L, p.scale ? *p.scale : Real(1), s,
                                             dc.data(), dout.data());
      if (g.scale) *g.scale += ds;
    } else if (cfg.attention) {
      Real g_dot_c = 0;
      for (int j = 0; j < C; ++j) g_dot_c += dc[j] * s.c[j];
      for (int t = 0; t < L; ++t) {
        const Real* ht = &top[static_cast<std::size_t>(t) * C];
        Real* dht = &dout[static_cast<std::size_t>(t) * C];
        Real g_dot_h = 0;
        for (int j = 0; j < C; ++j) g_dot_h += dc[j] * ht[j];
        const Real de = s.a[t] * (g_dot_h - g_dot_c);      // through the softmax
        const Real du = de * (Real(1) - s.e[t] * s.e[t]);  // through the score's tanh
        g.ba[t] += du;
        for (int j = 0; j < C; ++j) {
          g.wa[j] += du * ht[j];
          dht[j] = s.a[t] * dc[j] + du * p.wa[j];
        }
      }
    } else {
      for (int dir = 0; dir < cfg.directions(); ++dir) {
        const int t = dir == 0 ? T - 1 : 0;
        for (int j = 0; j < H; ++j) {
          dout[static_cast<std::size_t>(t) * C + dir * H + j] = dc[dir * H + j];
        }
      }
    }

    // BPTT, layer by layer from the top, each block against its direction:
    //   valid step:  dh = dout_t + carry; the cell's backward gives d_in (dL/dxin), d_rec
    //                (dL/drec) and its direct path to h_prev; carry = d_rec Wh^T + direct;
    //                din_t += d_in Wx^T (the LSTM's carry_c = dL/dc through the forget gate)
    //   padding:     carry = dout_t + carry (the state passed through unchanged; carry_c too)
    for (int l = cfg.layers - 1; l >= 0; --l) {
      const int I = l == 0 ? D : C;
      const Real* in = l == 0 ? xb : s.s[l - 1].data();
      din.assign(static_cast<std::size_t>(T) * I, Real(0));
      for (int dir = 0; dir < cfg.directions(); ++dir) {
        const ParamLayout::Block& blk = layout.block(l, dir);
        const int GH = blk.gates * H, A = aux_width(cfg.cell);
        const BlockView<const Real> w = block_view(blk, params);
        const BlockView<Real> gw = block_view(blk, dparams);
        const Real* hs = s.s[l].data() + static_cast<std::size_t>(dir) * H;
        const Real* aux = s.aux[static_cast<std::size_t>(l) * cfg.directions() + dir].data();
        const Real* douts = dout.data() + static_cast<std::size_t>(dir) * H;
        std::fill(carry.begin(), carry.end(), Real(0));
        std::fill(carry_c.begin(), carry_c.end(), Real(0));
        d_in.resize(GH);
        d_rec.resize(GH);
        layer_dropout_masks(cfg, dropout, b, l, dir, I, in_keep, rec_keep);
        for (int n = T - 1; n >= 0; --n) {
          const int t = dir == 0 ? n : T - 1 - n;
          const Real* dht = douts + static_cast<std::size_t>(t) * C;
          if (t >= L) {
            for (int j = 0; j < H; ++j) carry[j] += dht[j];
            continue;
          }
          const int tp = prev_step(dir, t, T);
          const Real* ht = hs + static_cast<std::size_t>(t) * C;
          const Real* hprev = tp < 0 ? nullptr : hs + static_cast<std::size_t>(tp) * C;
          const Real* at = aux + static_cast<std::size_t>(t) * A * H;
          const Real* cprev = tp < 0 || cfg.cell != Cell::kLstm
                                  ? nullptr
                                  : aux + static_cast<std::size_t>(tp) * A * H + 4 * H;
          const Real* it = in + static_cast<std::size_t>(t) * I;
          for (int j = 0; j < H; ++j) dh[j] = dht[j] + carry[j];
          cell_backward(cfg.cell, H, ht, at, hprev, cprev, dh.data(), carry_c.data(), d_in.data(),
                        d_rec.data(), direct.data());
          for (int j = 0; j < GH; ++j) {
            gw.bh[j] += d_in[j];
            if (cfg.cell == Cell::kGru) gw.bh[GH + j] += d_rec[j];
            if (hprev) {
              for (int k = 0; k < H; ++k)
                gw.wh[static_cast<std::size_t>(k) * GH + j] += hprev[k] * rec_keep[k] * d_rec[j];
            }
            for (int k = 0; k < I; ++k)
              gw.wx[static_cast<std::size_t>(k) * GH + j] += it[k] * in_keep[k] * d_in[j];
          }
          for (int k = 0; k < H; ++k) {
            Real acc = 0;
            for (int j = 0; j < GH; ++j)
              acc += d_rec[j] * w.wh[static_cast<std::size_t>(k) * GH + j];
            carry[k] = acc * rec_keep[k] + direct[k];
          }
          Real* dit = &din[static_cast<std::size_t>(t) * I];
          for (int k = 0; k < I; ++k) {
            Real acc = 0;
            for (int j = 0; j < GH; ++j)
              acc += d_in[j] * w.wx[static_cast<std::size_t>(k) * GH + j];
            dit[k] += acc * in_keep[k];
          }
        }
      }
      dout.swap(din);  // dL/d(this layer's input) is dL/d(the states of the layer below)
    }
    if (dx) std::copy(dout.begin(), dout.end(), dx + static_cast<std::size_t>(b) * T * D);
  }
}

void check_tokens(const ModelConfig& cfg, const int* tokens, int batch, const int* lengths) {
  if (!cfg.embedded()) {
    throw InvalidArgument("tokens [B,T] were given to a model without an embedding (vocab_size 0)");
  }
  if (batch < 1) throw InvalidArgument("batch (B) must be >= 1, got " + std::to_string(batch));
  if (!tokens) throw InvalidArgument("tokens [B,T] is null");
  check_lengths(cfg, lengths, batch);
  const int T = cfg.steps, V = cfg.vocab_size;
  for (int b = 0; b < batch; ++b) {
    const int L = length_of(cfg, lengths, b);
    for (int t = 0; t < L; ++t) {
      const int id = tokens[static_cast<std::size_t>(b) * T + t];
      if (id < 0 || id >= V) {
        throw InvalidArgument("tokens[" + std::to_string(b) + "][" + std::to_string(t) +
                              "] = " + std::to_string(id) +
                              " is outside [0, V = " + std::to_string(V) + ")");
      }
    }
  }
}

template <typename Real>
void embedding_forward(const ModelConfig& cfg, const Real* params, const int* tokens, int batch,
                       Real* x, const int* lengths) {
  check_tokens(cfg, tokens, batch, lengths);
  embed_rows(params + ParamLayout(cfg).emb, tokens, lengths, batch, cfg.steps, cfg.input_size, x);
}

template <typename Real>
void embedding_backward(const ModelConfig& cfg, const int* tokens, int batch, const Real* dx,
                        Real* dparams, const int* lengths) {
  check_tokens(cfg, tokens, batch, lengths);
  if (!dx) throw InvalidArgument("dx [B,T,D] is null");
  embed_grad_rows(tokens, lengths, batch, cfg.steps, cfg.input_size, cfg.vocab_size, dx,
                  dparams + ParamLayout(cfg).emb);
}

template <typename Real>
void reference_forward_tokens(const ModelConfig& cfg, const Real* params, const int* tokens,
                              int batch, Real* y, Real* attention, Real* hidden, Real* context,
                              const int* lengths) {
  if (!params) throw InvalidArgument("params is null");
  std::vector<Real> x(static_cast<std::size_t>(batch > 0 ? batch : 0) * cfg.steps * cfg.input_size);
  embedding_forward(cfg, params, tokens, batch, x.data(), lengths);
  reference_forward(cfg.recurrent_part(), params, x.data(), batch, y, attention, hidden, context,
                    lengths);
}

template <typename Real>
void reference_backward_tokens(const ModelConfig& cfg, const Real* params, const int* tokens,
                               int batch, const Real* dy, Real* dparams, const int* lengths) {
  if (!params) throw InvalidArgument("params is null");
  if (!dparams) throw InvalidArgument("dparams is null");
  std::vector<Real> x(static_cast<std::size_t>(batch > 0 ? batch : 0) * cfg.steps * cfg.input_size);
  std::vector<Real> dx(x.size());
  embedding_forward(cfg, params, tokens, batch, x.data(), lengths);
  reference_backward(cfg.recurrent_part(), params, x.data(), batch, dy, dparams, dx.data(),
                     lengths);
  embedding_backward(cfg, tokens, batch, dx.data(), dparams, lengths);
}

template <typename Real>
double reference_loss(Loss loss, const Real* y, const Real* target, long n, Real* dy, int outputs) {
  if (n < 1) throw InvalidArgument("loss: need at least one prediction, got " + std::to_string(n));
  if (!y || !target) throw InvalidArgument("loss: y or target is null");
  if (outputs < 1 || n % outputs != 0) {
    throw InvalidArgument("loss: " + std::to_string(n) + " predictions are not rows of " +
                          std::to_string(outputs) + " outputs");
  }
  if (loss == Loss::kCce && outputs < 2) {
    throw InvalidArgument("loss: cce needs the rows' width, the K >= 2 classes (got outputs = " +
                          std::to_string(outputs) + ")");
  }
  double total = 0;
  // MSE and BCE average over every prediction, CCE over the rows.
  const double inv_n = 1.0 / static_cast<double>(loss == Loss::kCce ? n / outputs : n);
  constexpr double kEps = 1e-7;  // Keras' backend epsilon
  for (long i = 0; i < n; ++i) {
    const double yi = y[i], ti = target[i];
    const bool clipped = yi < kEps || yi > 1.0 - kEps;
    const double yc = std::min(std::max(yi, kEps), 1.0 - kEps);
    if (loss == Loss::kMse) {
      const double diff = yi - ti;
      total += diff * diff;
      if (dy) dy[i] = static_cast<Real>(2.0 * diff * inv_n);
    } else if (loss == Loss::kBce) {
      total += -(ti * std::log(yc) + (1.0 - ti) * std::log(1.0 - yc));
      if (dy) dy[i] = clipped ? Real(0) : static_cast<Real>((yc - ti) / (yc * (1.0 - yc)) * inv_n);
    } else {
      total += -ti * std::log(yc);
      if (dy) dy[i] = clipped ? Real(0) : static_cast<Real>(-ti / yc * inv_n);
    }
  }
  return total * inv_n;
}

#define RNNATTN_INSTANTIATE(Real)                                                                 \
  template void reference_forward<Real>(const ModelConfig&, const Real*, const Real*, int, Real*, \
                                        Real*, Real*, Real*, const int*, const DropoutKey*);      \
  template void reference_backward<Real>(const ModelConfig&, const Real*, const Real*, int,       \
                                         const Real*, Real*, Real*, const int*,                   \
                                         const DropoutKey*);                                      \
  template double reference_loss<Real>(Loss, const Real*, const Real*, long, Real*, int);         \
  template void embedding_forward<Real>(const ModelConfig&, const Real*, const int*, int, Real*,  \
                                        const int*);                                              \
  template void embedding_backward<Real>(const ModelConfig&, const int*, int, const Real*, Real*, \
                                         const int*);                                             \
  template void reference_forward_tokens<Real>(const ModelConfig&, const Real*, const int*, int,  \
                                               Real*, Real*, Real*, Real*, const int*);           \
  template void reference_backward_tokens<Real>(const ModelConfig&, const Real*, const int*, int, \
                                                const Real*, Real*, const int*);
RNNATTN_INSTANTIATE(float)
RNNATTN_INSTANTIATE(double)
#undef RNNATTN_INSTANTIATE

}  // namespace rnnattn
