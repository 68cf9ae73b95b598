// The gated cells' step, forward and backward, for one unit (internal): what the segment kernels
// (rnn_gated.cu) and the persistent kernels (rnn_persistent_gated.cu) compute per (sequence,
// unit), host/model_math.hpp's cell_forward / cell_backward in Keras' gate order.
#pragma once

#include <cuda_runtime.h>

#include "kernels.hpp"

namespace rnnattn::kernels {

constexpr int gate_count(Cell cell) { return cell == Cell::kLstm ? 4 : 3; }
// What a step keeps, in units of H (model_math.hpp's aux_width).
constexpr int kept_of(Cell cell) { return cell == Cell::kLstm ? 5 : 4; }

__device__ __forceinline__ float sigmoidf(float v) { return 1.f / (1.f + expf(-v)); }

// One valid forward step of one unit: xin[G] = xw_t + b, rec[G] = h_{t-1} Wh (GRU: + b') of its
// gates; prev is c_{t-1} (LSTM) or h_{t-1} (GRU). Writes what the step keeps and returns h_t.
template <Cell kCell>
__device__ __forceinline__ float cell_step(const float* xin, const float* rec, float prev,
                                           float* kept) {
  if constexpr (kCell == Cell::kLstm) {
    const float i = sigmoidf(xin[0] + rec[0]), f = sigmoidf(xin[1] + rec[1]);
    const float g = tanhf(xin[2] + rec[2]), o = sigmoidf(xin[3] + rec[3]);
    const float c = f * prev + i * g;
    kept[0] = i, kept[1] = f, kept[2] = g, kept[3] = o, kept[4] = c;
    return o * tanhf(c);
  }
  const float z = sigmoidf(xin[0] + rec[0]), r = sigmoidf(xin[1] + rec[1]);
  const float n = tanhf(xin[2] + r * rec[2]);
  kept[0] = z, kept[1] = r, kept[2] = n, kept[3] = rec[2];
  return z * prev + (1.f - z) * n;
}

// The backward of one valid step of one unit: k points at what the forward kept for it (stride
// H between the kept values), prev as cell_step had it, dh = dL/dh_t; carry_c (LSTM) holds
// dL/dc_t from step t+1 on entry and dL/dc_{t-1} on return. Writes din = dL/dxin[G] and
// drec = dL/drec[G]; returns the part of dL/dh_{t-1} that does not go through Wh (GRU: dh z).
template <Cell kCell>
__device__ __forceinline__ float cell_step_backward(const float* k, int H, float prev, float dh,
                                                    float& carry_c, float* din, float* drec) {
  if constexpr (kCell == Cell::kLstm) {
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
  }
  const float z = k[0], r = k[H], n = k[2 * H], rn = k[3 * H];
  const float dn = dh * (1.f - z) * (1.f - n * n);  // through the candidate's tanh
  din[0] = drec[0] = dh * (prev - n) * z * (1.f - z);
  din[1] = drec[1] = dn * rn * r * (1.f - r);
  din[2] = dn;
  drec[2] = dn * r;
  return dh * z;
}

}  // namespace rnnattn::kernels
