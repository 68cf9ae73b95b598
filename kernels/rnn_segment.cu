// The segment mapping: the recurrence of one recurrent block (layer, direction) of any cell
// (Elman, LSTM, GRU), forward and backward, one kernel body each, with the attention and head
// inside the recurrence for a one-layer, one-direction model. The kernels the device API runs
// on the fused path wherever the planner (plan.hpp) picks the segment design: every small model,
// and every shape the persistent and cluster designs cannot take.
//
// What they compute (host/model_math.hpp's cell_forward / cell_backward, cells.cuh), per
// sequence b of length L, over t in the block's direction from h = 0 (and c = 0):
//   valid step: xin = xw_t + b (xw_t = in_t Wx, a GEMM beforehand), rec = h_prev Wh (GRU: + b')
//     Elman: h = tanh(xin + rec)
//     LSTM:  i, f, o = sigmoid(xin + rec) of gates 0, 1, 3; g = tanh(gate 2); c = f c + i g;
//            h = o tanh(c); keeps [i f g o c]
//     GRU:   z, r = sigmoid(gates 0, 1); rn = rec of gate 2; n = tanh(xin_2 + r rn);
//            h = z h_prev + (1 - z) n; keeps [z r n rn]
//   padding (t >= L): h and c unchanged, and so is what the step keeps (the reference copies it).
// Backward against the direction: dh = dout_t + carry; the cell's backward gives d_in = dL/dxin,
// d_rec = dL/drec and the direct path to h_prev (GRU: dh z); carry = d_rec Wh^T + direct; the
// LSTM's dL/dc passes to c_prev through f. Padding: dL/dh and dL/dc pass through unchanged,
// d_in = d_rec = 0. The kernels write d_in per step and d_rec into the row of the step before
// (drec_next, so that dWh = states^T drec_next over all B*T rows) and the first step's d_rec
// apart (the GRU's recurrent bias b' sees every step); the device API forms the weight gradients
// and the layer below's gradient with GEMMs: deterministic, no atomics. (For the Elman cell
// d_in = d_rec = dz_t.)
//
// Work mapping: one segment of hp = nextpow2(H) threads per sequence, thread j owning unit j of
// every gate (G = 1, 4 or 3 columns of Wh: j, H + j, ...); blocks of max(128, hp) threads hold
// 128/hp sequences (the tutorial's H = 2 packs 64 sequences in a block), so any batch runs in
// one launch, and a bidirectional layer's two directions run side by side (blockIdx.y). h_prev
// (or the G*H values of d_rec) is exchanged through double-buffered shared memory with one
// __syncthreads per step. Wh [H, G*H] (forward) or Wh^T [G*H, H] (backward, made by transpose())
// is staged in shared memory when it fits next to the buffers (Elman H <= ~235, LSTM H <= 119,
// GRU H <= 137 on an H100's 227 KB), else read through L2; either way the threads of a warp read
// consecutive words at each k.
// With the head (kHead: a one-layer, one-direction model), each step's score is reduced over the
// segment as soon as h_t exists, through device_common.cuh's AttentionForward (the backward forms
// dL/dh_t from the attention at each step through AttentionBackward instead of reading it), the
// helpers the attention-and-head kernels (attention_head.cu) use: one launch a pass, and no
// [B,T,H] round trip through memory for dL/d(states). Since e_t is bounded by tanh, the softmax
// needs no running maximum.
// Limits: H <= 1024.
#include <cuda_runtime.h>

#include <string>

#include "cells.cuh"
#include "cuda_utils.hpp"
#include "device_common.cuh"
#include "kernels.hpp"

namespace rnnattn::kernels {
namespace {

// A segment kernel's parameters: the cell's, the attention and head's (read by the kHead kernels
// only), and a second block's run side by side (blockIdx.y = 1: the other direction of a
// bidirectional layer).
template <typename Args>
struct WithHead {
  Args cell;
  AttentionHeadArgs head;
  Args second;
};

template <Cell kCell, bool kWhInSmem, bool kHead>
__global__ void __launch_bounds__(1024)
    segment_forward_kernel(WithHead<CellForwardArgs> p, SegmentGeometry g) {
  constexpr int G = gate_count(kCell), A = kept_of(kCell), kSlots = kept_slots(kCell);
  // A copy: with a reference into the parameter space ptxas spilled the kernels without the head.
  // (The head's kernels run one block a launch: no select, which made one of them spill.)
  const CellForwardArgs a = kHead || blockIdx.y == 0 ? p.cell : p.second;
  float* smem = dynamic_shared<float>();
  const int B = a.batch, T = a.steps, H = a.hidden, C = a.stride, GH = G * H;
  const int hp = g.hp;
  const auto [seg, j, b, active] = unit_thread(g, B, H);
  float* wh_s = smem;
  float* hbuf = smem + (kWhInSmem ? H * GH : 0);  // [2][segments][hp]
  // kHead: the attention's reduction scratch after the buffers, its running sums, wa_j.
  SegmentReducer red{hp, seg, j, hbuf + 2 * g.segments * hp, g.segments};
  AttentionForward att;
  const bool attention = kHead && p.head.shape.attention;
  const float wa = attention && active ? p.head.wa[j] : 0.f;
  if (kWhInSmem) {
    for (int i = threadIdx.x; i < H * GH; i += blockDim.x) wh_s[i] = a.wh[i];
  }
  const float* wh = kWhInSmem ? wh_s : a.wh;  // wh[k * GH + q * H + j]: gate q, unit j
  hbuf[seg * hp + j] = 0.f;                   // h = 0 before the first step
  __syncthreads();

  const int L = b < B ? sequence_length(a.lengths, b, T) : T;
  float bin[G], brec[G];  // the bias and (GRU) the recurrent bias of unit j's gates
  for (int q = 0; q < G; ++q) {
    bin[q] = active ? a.bias[q * H + j] : 0.f;
    brec[q] = active && kCell == Cell::kGru ? a.bias[GH + q * H + j] : 0.f;
  }
  float h = 0.f;
  float kept[kSlots];  // what the last valid step keeps (c is kept[4] for the LSTM)
  for (int q = 0; q < kSlots; ++q) kept[q] = 0.f;
  int cur = 0;
  for (int n = 0; n < T; ++n) {
    const int t = step_at(a.direction, n, T);
    if (active) {
      const std::size_t row = static_cast<std::size_t>(b) * T + t;
      if (t < L) {
        float rec[G], xin[G];
        for (int q = 0; q < G; ++q) {
          xin[q] = bin[q] + a.xw[row * GH + q * H + j];
          rec[q] = rec_start<kCell>(xin[q], brec[q]);
        }
        const float* hprev = hbuf + (cur * g.segments + seg) * hp;
        for (int k = 0; k < H; ++k) {
          const float hk = hprev[k];
          for (int q = 0; q < G; ++q) rec[q] += hk * wh[k * GH + q * H + j];
        }
        // prev: c_{t-1}, the last of what the LSTM keeps, or the GRU's h_{t-1}.
        h = cell_step<kCell>(xin, rec, kCell == Cell::kLstm ? kept[kSlots - 1] : h, kept);
      }
      hbuf[((cur ^ 1) * g.segments + seg) * hp + j] = h;
      if (a.out) a.out[row * C + j] = h;
      if (a.aux) {
        for (int q = 0; q < A; ++q) a.aux[row * A * H + q * H + j] = kept[q];
      }
    }
    // Step t's score over the segment (every thread; h = 0 on the inactive ones).
    if (attention) att.step(red, p.head, h, wa, b, t, t < L, b < B);
    __syncthreads();
    cur ^= 1;
  }
  // The context (the final state without attention: direction 0 ends at t = T-1) and the head.
  if constexpr (kHead)
    att.finish(red, p.head, H, attention ? att.acc / att.sum : h, b, active, b < B);
}

template <Cell kCell, bool kWhInSmem, bool kHead>
__global__ void __launch_bounds__(1024)
    segment_backward_kernel(WithHead<CellBackwardArgs> p, SegmentGeometry g) {
  constexpr int G = gate_count(kCell), A = kept_of(kCell);
  const CellBackwardArgs a = kHead || blockIdx.y == 0 ? p.cell : p.second;
  float* smem = dynamic_shared<float>();
  const int B = a.batch, T = a.steps, H = a.hidden, C = a.stride, GH = G * H;
  const int hp = g.hp;
  const auto [seg, j, b, active] = unit_thread(g, B, H);
  float* wh_s = smem;
  float* dbuf = smem + (kWhInSmem ? GH * H : 0);  // [2][segments][G][hp]
  if (kWhInSmem) {
    for (int i = threadIdx.x; i < GH * H; i += blockDim.x) wh_s[i] = a.wh_t[i];
    __syncthreads();
  }
  const float* wh_t = kWhInSmem ? wh_s : a.wh_t;  // wh_t[m * H + j] = Wh[j, m]
  const int L = b < B ? sequence_length(a.lengths, b, T) : T;
  const std::size_t seq = static_cast<std::size_t>(b) * T;
  // kHead: the head's gradient first (dpre, dc); dL/dh_t then comes from the attention per step.
  SegmentReducer red{hp, seg, j, dbuf + 2 * g.segments * G * hp, g.segments};
  AttentionBackward att;
  if constexpr (kHead) att.begin(red, p.head, H, b, active, b < B);
  if (active) {  // the step processed last has no successor
    const std::size_t last = seq + step_at(a.direction, T - 1, T);
    for (int q = 0; q < G; ++q) a.drec_next[last * GH + q * H + j] = 0.f;
  }
  float carry = 0.f;    // dL/dh of the step being processed, from the steps processed after it
  float carry_c = 0.f;  // the LSTM's dL/dc likewise
  int cur = 0;
  for (int n = T - 1; n >= 0; --n) {
    const int t = step_at(a.direction, n, T);
    const bool valid = t < L;
    const int tp = n > 0 ? step_at(a.direction, n - 1, T) : -1;  // the step before t
    float din[G], drec[G];
    for (int q = 0; q < G; ++q) din[q] = drec[q] = 0.f;
    float dh = carry, direct = 0.f;
    float dout = 0.f;  // kHead: dL/dh_t from the attention (every thread), or dc at t = T-1
    if constexpr (kHead) {
      if (p.head.shape.attention) {
        const float hs = active ? a.states[(seq + t) * C + j] : 0.f;
        dout = att.step(red, p.head, hs, b, t, valid, b < B);
      } else if (n == T - 1) {
        dout = att.dc;
      }
    }
    if (active) {
      const std::size_t row = seq + t;
      dh += kHead ? dout : a.dout[row * C + j];
      if (valid) {
        // c_{t-1} (LSTM) or h_{t-1} (GRU) from what the forward stored at the step before.
        float prev = 0.f;
        if (tp >= 0 && kCell != Cell::kElman) {
          prev = kCell == Cell::kLstm ? a.aux[(seq + tp) * A * H + 4 * H + j]
                                      : a.states[(seq + tp) * C + j];
        }
        // What the step kept: the Elman cell's is its state.
        const float* k = kCell == Cell::kElman ? a.states + row * C + j : a.aux + row * A * H + j;
        direct = cell_step_backward<kCell>(k, H, prev, dh, carry_c, din, drec);
      }
      store_step_gradients<G>(a, b, t, tp, j, din, drec);
    }
    float* buf = dbuf + (cur * g.segments + seg) * G * hp;
    for (int q = 0; q < G; ++q) buf[q * hp + j] = drec[q];
    __syncthreads();
    if (!valid) {
      carry = dh;  // padding passes dL/dh (and dL/dc) through to the previous state
    } else {
      carry = direct;
      if (active) {
        for (int q = 0; q < G; ++q) {
          const float* d = buf + q * hp;
          const float* w = wh_t + static_cast<std::size_t>(q) * H * H;
          for (int m = 0; m < H; ++m) carry += d[m] * w[m * H + j];
        }
      }
    }
    cur ^= 1;
  }
}

template <auto WithWh, auto WithoutWh, typename Args>
void launch_cell(const WithHead<Args>& p, int gates, bool backward, bool head,
                 const char* const (&names)[2], cudaStream_t stream, int planes) {
  const Args& a = p.cell;
  const SegmentGeometry g = segment_geometry(a.hidden, a.batch);
  launch_segmented_sized<WithWh, WithoutWh>(
      p, a.batch, a.hidden, segment_smem_bytes(g, a.hidden, gates, backward, false, head),
      segment_smem_bytes(g, a.hidden, gates, backward, true, head), names, stream, planes);
}

// The blocks of one launch (1 or 2, of one cell and shape) as a kernel's parameters.
template <typename Args>
WithHead<Args> cell_pair(const Args* args, int count, const char* call) {
  const LayerSet<Args> set = layer_set(args, count, call);
  if (set.first.cell != set.second.cell) {
    throw InvalidArgument(std::string(call) + ": the blocks of one launch differ in cell");
  }
  return WithHead<Args>{set.first, AttentionHeadArgs{}, set.second};
}

// The kernels' names by pass (0 forward, 1 backward), cell, head and Wh's place (staged first).
const char* const kNames[2][3][2][2] = {
    {{{"segment_forward_kernel<elman, Wh in smem>", "segment_forward_kernel<elman, Wh in L2>"},
      {"segment_forward_kernel<elman, head, Wh in smem>",
       "segment_forward_kernel<elman, head, Wh in L2>"}},
     {{"segment_forward_kernel<lstm, Wh in smem>", "segment_forward_kernel<lstm, Wh in L2>"},
      {"segment_forward_kernel<lstm, head, Wh in smem>",
       "segment_forward_kernel<lstm, head, Wh in L2>"}},
     {{"segment_forward_kernel<gru, Wh in smem>", "segment_forward_kernel<gru, Wh in L2>"},
      {"segment_forward_kernel<gru, head, Wh in smem>",
       "segment_forward_kernel<gru, head, Wh in L2>"}}},
    {{{"segment_backward_kernel<elman, Wh in smem>", "segment_backward_kernel<elman, Wh in L2>"},
      {"segment_backward_kernel<elman, head, Wh in smem>",
       "segment_backward_kernel<elman, head, Wh in L2>"}},
     {{"segment_backward_kernel<lstm, Wh in smem>", "segment_backward_kernel<lstm, Wh in L2>"},
      {"segment_backward_kernel<lstm, head, Wh in smem>",
       "segment_backward_kernel<lstm, head, Wh in L2>"}},
     {{"segment_backward_kernel<gru, Wh in smem>", "segment_backward_kernel<gru, Wh in L2>"},
      {"segment_backward_kernel<gru, head, Wh in smem>",
       "segment_backward_kernel<gru, head, Wh in L2>"}}}};

template <Cell kCell, bool kHead>
void forward_cell(const WithHead<CellForwardArgs>& p, cudaStream_t stream, int planes) {
  launch_cell<segment_forward_kernel<kCell, true, kHead>,
              segment_forward_kernel<kCell, false, kHead>>(
      p, gate_count(kCell), false, kHead, kNames[0][static_cast<int>(kCell)][kHead], stream,
      planes);
}

template <Cell kCell, bool kHead>
void backward_cell(const WithHead<CellBackwardArgs>& p, cudaStream_t stream, int planes) {
  launch_cell<segment_backward_kernel<kCell, true, kHead>,
              segment_backward_kernel<kCell, false, kHead>>(
      p, gate_count(kCell), true, kHead, kNames[1][static_cast<int>(kCell)][kHead], stream, planes);
}

// The kernels by cell and whether the head is inside.
template <bool kHead>
void forward_on(const WithHead<CellForwardArgs>& p, cudaStream_t stream, int planes = 1) {
  dispatch_cell(p.cell.cell, "segment_forward",
                [&](auto cell) { forward_cell<decltype(cell)::value, kHead>(p, stream, planes); });
}

template <bool kHead>
void backward_on(const WithHead<CellBackwardArgs>& p, cudaStream_t stream, int planes = 1) {
  dispatch_cell(p.cell.cell, "segment_backward",
                [&](auto cell) { backward_cell<decltype(cell)::value, kHead>(p, stream, planes); });
}

}  // namespace

void segment_forward(const CellForwardArgs* args, int count, cudaStream_t stream) {
  const WithHead<CellForwardArgs> p = cell_pair(args, count, "segment_forward");
  if (!p.cell.out || !p.second.out) throw InvalidArgument("segment_forward: out is null");
  forward_on<false>(p, stream, count);
}

void segment_backward(const CellBackwardArgs* args, int count, cudaStream_t stream) {
  backward_on<false>(cell_pair(args, count, "segment_backward"), stream, count);
}

void segment_forward_with_head(const CellForwardArgs& a, const AttentionHeadArgs& head,
                               cudaStream_t stream) {
  check_head(a, head, "segment_forward_with_head");
  if (!head.y) throw InvalidArgument("segment_forward_with_head: head.y is null");
  forward_on<true>(WithHead<CellForwardArgs>{a, head, a}, stream);
}

void segment_backward_with_head(const CellBackwardArgs& a, const AttentionHeadArgs& head,
                                cudaStream_t stream) {
  check_head(a, head, "segment_backward_with_head");
  if (!head.dy || !head.prediction || !head.dpre || (head.shape.attention && !head.du))
    throw InvalidArgument("segment_backward_with_head: head.dy, prediction, dpre or du is null");
  backward_on<true>(WithHead<CellBackwardArgs>{a, head, a}, stream);
}

}  // namespace rnnattn::kernels
