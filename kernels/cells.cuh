// The cells' step, forward and backward, for one unit (internal): what the segment kernels
// (rnn_segment.cu), the unfused step kernels (rnn_unfused.cu) and the gated persistent kernels
// (rnn_persistent.cu) compute per (sequence, unit); host/model_math.hpp's cell_forward /
// cell_backward. Elman is the cell of one gate and one activation, h = tanh(xin + rec); the gated
// cells' gates are in Keras' order.
#pragma once

#include <cuda_runtime.h>

#include <string>
#include <type_traits>

#include "kernels.hpp"
#include "rnnattn/error.hpp"

namespace rnnattn::kernels {

// Calls f(CellTag<kCell>{}) with `cell` as a compile-time constant (decltype(tag)::value): the one
// place a launcher turns a cell into its kernel's instantiation. A value no cell has is an
// InvalidArgument naming `call`.
template <Cell kCell>
using CellTag = std::integral_constant<Cell, kCell>;
template <typename F>
void dispatch_cell(Cell cell, const char* call, F&& f) {
  switch (cell) {
    case Cell::kElman:
      return f(CellTag<Cell::kElman>{});
    case Cell::kLstm:
      return f(CellTag<Cell::kLstm>{});
    case Cell::kGru:
      return f(CellTag<Cell::kGru>{});
  }
  throw InvalidArgument(std::string(call) + ": unknown cell " + to_string(cell));
}

constexpr int gate_count(Cell cell) {
  return cell == Cell::kLstm ? 4 : (cell == Cell::kGru ? 3 : 1);
}
// What a step keeps besides h_t, in units of H (model_math.hpp's aux_width).
constexpr int kept_of(Cell cell) { return cell == Cell::kLstm ? 5 : (cell == Cell::kGru ? 4 : 0); }
// Arrays of what a step keeps (at least one element: C++ has no empty arrays).
constexpr int kept_slots(Cell cell) { return kept_of(cell) > 0 ? kept_of(cell) : 1; }

// The value rec's products are summed onto: the Elman cell sums h_{t-1} Wh onto xw_t + b itself
// (one accumulator, as every Elman kernel does: no rounding of a separate sum); a gated cell's
// recurrent part stays apart from xin (the GRU's candidate multiplies it by r), starting at its
// recurrent bias b' (GRU) or 0.
template <Cell kCell>
__device__ __forceinline__ float rec_start(float xin, float brec) {
  return kCell == Cell::kElman ? xin : brec;
}

__device__ __forceinline__ float sigmoidf(float v) { return 1.f / (1.f + expf(-v)); }

// One valid forward step of one unit: xin[G] = xw_t + b, rec[G] = rec_start + h_{t-1} Wh of its
// gates; prev is c_{t-1} (LSTM) or h_{t-1} (GRU). Writes what the step keeps and returns h_t.
template <Cell kCell>
__device__ __forceinline__ float cell_step(const float* xin, const float* rec, float prev,
                                           float* kept) {
  if constexpr (kCell == Cell::kElman) {
    return tanhf(rec[0]);  // rec[0] already holds xin[0] (rec_start)
  } else if constexpr (kCell == Cell::kLstm) {
    const float i = sigmoidf(xin[0] + rec[0]), f = sigmoidf(xin[1] + rec[1]);
    const float g = tanhf(xin[2] + rec[2]), o = sigmoidf(xin[3] + rec[3]);
    const float c = f * prev + i * g;
    kept[0] = i, kept[1] = f, kept[2] = g, kept[3] = o, kept[4] = c;
    return o * tanhf(c);
  } else {
    const float z = sigmoidf(xin[0] + rec[0]), r = sigmoidf(xin[1] + rec[1]);
    const float n = tanhf(xin[2] + r * rec[2]);
    kept[0] = z, kept[1] = r, kept[2] = n, kept[3] = rec[2];
    return z * prev + (1.f - z) * n;
  }
}

// The backward of one valid step of one unit: k points at what the forward kept for it (stride
// H between the kept values; the Elman cell's is h_t itself), prev as cell_step had it,
// dh = dL/dh_t; carry_c (LSTM) holds dL/dc_t from step t+1 on entry and dL/dc_{t-1} on return.
// Writes din = dL/dxin[G] and drec = dL/drec[G]; returns the part of dL/dh_{t-1} that does not go
// through Wh (GRU: dh z; 0 for the others).
template <Cell kCell>
__device__ __forceinline__ float cell_step_backward(const float* k, int H, float prev, float dh,
                                                    float& carry_c, float* din, float* drec) {
  if constexpr (kCell == Cell::kElman) {
    din[0] = drec[0] = dh * (1.f - k[0] * k[0]);
    return 0.f;
  } else if constexpr (kCell == Cell::kLstm) {
    const float i = k[0], f = k[H], g = k[2 * H], o = k[3 * H];
    const float tc = tanhf(k[4 * H]);
    const float dct = carry_c + dh * o * (1.f - tc * tc);
    din[0] = dct * g * i * (1.f - i);
    din[1] = dct * prev * f * (1.f - f);
    din[2] = dct * i * (1.f - g * g);
    din[3] = dh * tc * o * (1.f - o);
    for (int q = 0; q < 4; ++q) drec[q] = din[q];
    carry_c = dct * f;
    return 0.f;
  } else {
    const float z = k[0], r = k[H], n = k[2 * H], rn = k[3 * H];
    const float dn = dh * (1.f - z) * (1.f - n * n);  // through the candidate's tanh
    din[0] = drec[0] = dh * (prev - n) * z * (1.f - z);
    din[1] = drec[1] = dn * rn * r * (1.f - r);
    din[2] = dn;
    drec[2] = dn * r;
    return dh * z;
  }
}

// Where the backward passes keep one unit's step gradients: d_in at the step's row, d_rec at the
// row of the step processed before it (tp; so that dWh = states^T drec_next), or for each
// sequence's first step (tp < 0) in drec_first where it is kept.
template <int G>
__device__ __forceinline__ void store_step_gradients(const CellBackwardArgs& a, int b, int t,
                                                     int tp, int j, const float* din,
                                                     const float* drec) {
  const int H = a.hidden, GH = G * H;
  const std::size_t seq = static_cast<std::size_t>(b) * a.steps;
  for (int q = 0; q < G; ++q) a.d_in[(seq + t) * GH + q * H + j] = din[q];
  if (tp >= 0) {
    for (int q = 0; q < G; ++q) a.drec_next[(seq + tp) * GH + q * H + j] = drec[q];
  } else if (a.drec_first) {
    for (int q = 0; q < G; ++q)
      a.drec_first[static_cast<std::size_t>(b) * GH + q * H + j] = drec[q];
  }
}

// The preconditions of the kernels with the head inside (segment and persistent): one layer,
// one direction (direction 0, the states H wide) and the head's shape matching the cell's.
template <typename Args>
void check_head(const Args& a, const AttentionHeadArgs& head, const char* call) {
  const auto fail = [&](const std::string& why) {
    throw InvalidArgument(std::string(call) + ": " + why);
  };
  if (a.direction != 0 || head.directions != 1 || a.stride != a.hidden)
    fail(
        "the attention runs inside the recurrence of a one-direction model only (direction 0, "
        "states H wide); bidirectional and stacked models run attention_head_*");
  if (head.shape.batch != a.batch || head.shape.steps != a.steps || head.shape.hidden != a.hidden)
    fail("the head's shape (B, T, H) differs from the cell's");
}

}  // namespace rnnattn::kernels
