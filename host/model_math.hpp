// The small pieces of the model's math that the CPU reference (host/reference.cpp) and the fast
// CPU path (host/cpu_fast.cpp) share (internal header).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "rnnattn/config.hpp"
#include "rnnattn/dropout.hpp"

namespace rnnattn {

// The head's activation of one output, y = act(pre), for the elementwise activations (not
// kSoftmax, which head_activate normalises over the row).
template <typename Real>
Real activate(Activation a, Real v) {
  switch (a) {
    case Activation::kTanh:
      return std::tanh(v);
    case Activation::kSigmoid:
      return Real(1) / (Real(1) + std::exp(-v));
    case Activation::kLinear:
    case Activation::kSoftmax:
      break;
  }
  return v;
}

// d act / d pre of an elementwise activation, written in terms of the output y = act(pre).
template <typename Real>
Real activate_grad(Activation a, Real y) {
  switch (a) {
    case Activation::kTanh:
      return Real(1) - y * y;
    case Activation::kSigmoid:
      return y * (Real(1) - y);
    case Activation::kLinear:
    case Activation::kSoftmax:
      break;
  }
  return Real(1);
}

// One row of the head: y [O] = act(pre [O]) in place. The softmax subtracts the row's maximum
// first, so that no exp overflows.
template <typename Real>
void head_activate(Activation a, Real* y, int O) {
  if (a != Activation::kSoftmax) {
    for (int o = 0; o < O; ++o) y[o] = activate(a, y[o]);
    return;
  }
  const Real top = *std::max_element(y, y + O);
  Real sum = 0;
  for (int o = 0; o < O; ++o) sum += (y[o] = std::exp(y[o] - top));
  for (int o = 0; o < O; ++o) y[o] /= sum;
}

// The backward of head_activate for one row: dpre [O] = dL/dpre from dy = dL/dy and the outputs
// y. Softmax: dpre_k = y_k (dy_k - sum_j dy_j y_j), the Jacobian's product, whatever the loss.
template <typename Real>
void head_backward(Activation a, const Real* y, const Real* dy, Real* dpre, int O) {
  if (a != Activation::kSoftmax) {
    for (int o = 0; o < O; ++o) dpre[o] = dy[o] * activate_grad(a, y[o]);
    return;
  }
  Real dot = 0;
  for (int o = 0; o < O; ++o) dot += dy[o] * y[o];
  for (int o = 0; o < O; ++o) dpre[o] = y[o] * (dy[o] - dot);
}

template <typename Real>
Real sigmoid(Real v) {
  return Real(1) / (Real(1) + std::exp(-v));
}

// What one valid step of a cell keeps for its backward pass, per sequence, in units of H:
// Elman nothing (the state itself), LSTM [i, f, g, o, c] (the gates after their activations and
// the cell state), GRU [z, r, n, rn] (the gates, and rn = h_{t-1} Un + b'n, the recurrent part of
// the candidate that r scales).
inline int aux_width(Cell cell) { return cell == Cell::kLstm ? 5 : cell == Cell::kGru ? 4 : 0; }

// One valid step of the cell for one sequence, from its pre-activations xin = x_t Wx + b [G*H]
// and rec = h_{t-1} Wh [G*H] (GRU: + the recurrent bias b'), in Keras' gate order (config.hpp):
// writes h_t [H] and aux [aux_width * H]. hprev [H] is h_{t-1} (GRU), cprev [H] the LSTM's c_{t-1};
// null for the first step (zeros).
template <typename Real>
void cell_forward(Cell cell, int H, const Real* xin, const Real* rec, const Real* hprev,
                  const Real* cprev, Real* h, Real* aux) {
  for (int j = 0; j < H; ++j) {
    if (cell == Cell::kElman) {
      h[j] = std::tanh(xin[j] + rec[j]);
    } else if (cell == Cell::kLstm) {
      const Real i = sigmoid(xin[j] + rec[j]), f = sigmoid(xin[H + j] + rec[H + j]),
                 g = std::tanh(xin[2 * H + j] + rec[2 * H + j]),
                 o = sigmoid(xin[3 * H + j] + rec[3 * H + j]);
      const Real c = f * (cprev ? cprev[j] : Real(0)) + i * g;
      aux[j] = i, aux[H + j] = f, aux[2 * H + j] = g, aux[3 * H + j] = o, aux[4 * H + j] = c;
      h[j] = o * std::tanh(c);
    } else {
      const Real z = sigmoid(xin[j] + rec[j]), r = sigmoid(xin[H + j] + rec[H + j]);
      const Real rn = rec[2 * H + j];
      const Real n = std::tanh(xin[2 * H + j] + r * rn);
      aux[j] = z, aux[H + j] = r, aux[2 * H + j] = n, aux[3 * H + j] = rn;
      h[j] = z * (hprev ? hprev[j] : Real(0)) + (Real(1) - z) * n;
    }
  }
}

// The backward of one valid step: dh [H] is dL/dh_t (from above and from step t+1); dc [H] (LSTM)
// holds dL/dc_t from step t+1 on entry and dL/dc_{t-1} on return. Writes d_in = dL/dxin [G*H],
// d_rec = dL/drec [G*H] and dh_direct [H], the part of dL/dh_{t-1} that does not go through Wh
// (GRU: dh z; otherwise 0). h, aux, hprev, cprev as cell_forward had them.
template <typename Real>
void cell_backward(Cell cell, int H, const Real* h, const Real* aux, const Real* hprev,
                   const Real* cprev, const Real* dh, Real* dc, Real* d_in, Real* d_rec,
                   Real* dh_direct) {
  for (int j = 0; j < H; ++j) {
    if (cell == Cell::kElman) {
      d_in[j] = d_rec[j] = dh[j] * (Real(1) - h[j] * h[j]);
      dh_direct[j] = 0;
    } else if (cell == Cell::kLstm) {
      const Real i = aux[j], f = aux[H + j], g = aux[2 * H + j], o = aux[3 * H + j];
      const Real tc = std::tanh(aux[4 * H + j]);
      const Real dct = dc[j] + dh[j] * o * (Real(1) - tc * tc);
      d_in[j] = dct * g * i * (Real(1) - i);
      d_in[H + j] = dct * (cprev ? cprev[j] : Real(0)) * f * (Real(1) - f);
      d_in[2 * H + j] = dct * i * (Real(1) - g * g);
      d_in[3 * H + j] = dh[j] * tc * o * (Real(1) - o);
      for (int k = 0; k < 4; ++k) d_rec[k * H + j] = d_in[k * H + j];
      dc[j] = dct * f;
      dh_direct[j] = 0;
    } else {
      const Real z = aux[j], r = aux[H + j], n = aux[2 * H + j], rn = aux[3 * H + j];
      const Real hp = hprev ? hprev[j] : Real(0);
      const Real dn = dh[j] * (Real(1) - z) * (Real(1) - n * n);  // through the candidate's tanh
      d_in[j] = d_rec[j] = dh[j] * (hp - n) * z * (Real(1) - z);
      d_in[H + j] = d_rec[H + j] = dn * rn * r * (Real(1) - r);
      d_in[2 * H + j] = dn;
      d_rec[2 * H + j] = dn * r;
      dh_direct[j] = dh[j] * z;
    }
  }
}

// Block (layer, dir)'s recurrent-layer dropout factors for batch row `row` under the training
// step's key `dk` (config.hpp's input_dropout and recurrent_dropout): in [I] on its input, rec [H]
// on its previous state; all 1 without a key (inference) or at rate 0.
template <typename Real>
void layer_dropout_masks(const ModelConfig& cfg, const DropoutKey* dk, int row, int layer, int dir,
                         int I, std::vector<Real>& in, std::vector<Real>& rec) {
  in.assign(I, Real(1));
  rec.assign(cfg.hidden_size, Real(1));
  if (!dk) return;
  if (cfg.input_dropout > 0.f) {
    for (int j = 0; j < I; ++j) {
      in[j] =
          layer_dropout_factor(dk->seed, dk->step, row, layer, dir, false, j, cfg.input_dropout);
    }
  }
  if (cfg.recurrent_dropout > 0.f) {
    for (int j = 0; j < cfg.hidden_size; ++j) {
      rec[j] =
          layer_dropout_factor(dk->seed, dk->step, row, layer, dir, true, j, cfg.recurrent_dropout);
    }
  }
}

// Step t of direction `dir` follows step prev_step(t) (-1: it is the first, from h = 0).
inline int prev_step(int dir, int t, int T) { return dir == 0 ? t - 1 : (t + 1 < T ? t + 1 : -1); }

// The embedding on checked ids (reference.hpp's embedding_forward / embedding_backward check
// them; a training session checks its dataset once): x [B,T,D] = the rows of table [V,D] the
// valid steps' ids name, 0 on padding; dtable [V,D] = 0, then each valid step's dx row added to
// its id's row in (b, t) order. lengths null: every sequence T steps.
template <typename Real>
void embed_rows(const Real* table, const int* tokens, const int* lengths, int batch, int T, int D,
                Real* x) {
  for (std::size_t b = 0; b < static_cast<std::size_t>(batch); ++b) {
    const std::size_t L = lengths ? lengths[b] : T;
    for (std::size_t t = 0; t < static_cast<std::size_t>(T); ++t) {
      Real* row = x + (b * T + t) * D;
      if (t < L) {
        std::copy_n(table + static_cast<std::size_t>(tokens[b * T + t]) * D, D, row);
      } else {
        std::fill_n(row, D, Real(0));
      }
    }
  }
}
template <typename Real>
void embed_grad_rows(const int* tokens, const int* lengths, int batch, int T, int D, int V,
                     const Real* dx, Real* dtable) {
  std::fill_n(dtable, static_cast<std::size_t>(V) * D, Real(0));
  for (std::size_t b = 0; b < static_cast<std::size_t>(batch); ++b) {
    const std::size_t L = lengths ? lengths[b] : T;
    for (std::size_t t = 0; t < L; ++t) {
      Real* row = dtable + static_cast<std::size_t>(tokens[b * T + t]) * D;
      const Real* g = dx + (b * T + t) * D;
      for (int k = 0; k < D; ++k) row[k] += g[k];
    }
  }
}

}  // namespace rnnattn
