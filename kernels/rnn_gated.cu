// The gated cells' recurrence (LSTM and GRU) on the GPU, one recurrent block (layer, direction)
// at a time, forward and backward: the kernels the device API runs for every gated model (one
// layer or stacked, one direction or two), between the GEMMs of the input projection and the
// attention-and-head kernels of rnn_layers.cu.
//
// What they compute (host/model_math.hpp's cell_forward / cell_backward, Keras' gate order), per
// sequence b of length L, over t in the block's direction from h = 0 (and c = 0):
//   valid step: xin = xw_t + b (xw_t = in_t Wx, a GEMM beforehand), rec = h_prev Wh (GRU: + b')
//     LSTM: i, f, o = sigmoid(xin + rec) of gates 0, 1, 3; g = tanh(gate 2); c = f c + i g;
//           h = o tanh(c); keeps [i f g o c]
//     GRU:  z, r = sigmoid(gates 0, 1); rn = rec of gate 2; n = tanh(xin_2 + r rn);
//           h = z h_prev + (1 - z) n; keeps [z r n rn]
//   padding (t >= L): h and c unchanged, and so is what the step keeps (the reference copies it).
// Backward against the direction: dh = dout_t + carry; the cell's backward gives d_in = dL/dxin,
// d_rec = dL/drec and the direct path to h_prev (GRU: dh z); carry = d_rec Wh^T + direct; the
// LSTM's dL/dc passes to c_prev through f. Padding: dL/dh and dL/dc pass through unchanged,
// d_in = d_rec = 0. The kernels write d_in per step and d_rec into the row of the step before
// (drec_next, so that dWh = states^T drec_next over all B*T rows) and the first step's d_rec
// apart (the GRU's recurrent bias b' sees every step); the backend forms the weight gradients
// and the layer below's gradient with GEMMs: deterministic, no atomics.
//
// Work mapping: as the Elman layer kernels (rnn_layers.cu): a segment of nextpow2(H) threads per
// sequence, thread j owning unit j of every gate (G = 4 or 3 columns of Wh: j, H + j, ...), h_prev
// (or the G*H values of d_rec) exchanged through double-buffered shared memory with one
// __syncthreads per step. Wh [H, G*H] (forward) or Wh^T [G*H, H] (backward) is staged in shared
// memory when it fits next to the buffers (LSTM H <= 119, GRU H <= 137 on an H100's 227 KB),
// else read through L2; either way the threads of a warp read consecutive words at each k.
// A one-layer, one-direction model runs its attention and head inside the recurrence (kHead,
// gated_fused_forward / gated_fused_backward): each step's score is reduced over the segment as
// soon as h_t exists (the backward forms dL/dh_t from the attention at each step instead of
// reading it), through device_common.cuh's AttentionForward / AttentionBackward, the helpers the
// attention-and-head kernels of rnn_layers.cu use; one launch a pass and no [B,T,C] round trip
// through memory for dL/d(states).
// Limits: H <= 1024.
#include <cuda_runtime.h>

#include <string>

#include "cuda_utils.hpp"
#include "device_common.cuh"
#include "gated_cell.cuh"
#include "kernels.hpp"

namespace rnnattn::kernels {
namespace {

// A gated kernel's parameters: the cell's, the attention and head's (read by the kHead kernels
// only), and a second block's run side by side (blockIdx.y = 1: the other direction of a
// bidirectional layer).
template <typename Args>
struct WithHead {
  Args cell;
  AttentionHeadArgs head;
  Args second;
};

// Thread (segment seg, unit j) of a segment block: sequence b; active when b < B and j < H.
struct UnitThread {
  int seg, j, b;
  bool active;
};
__device__ __forceinline__ UnitThread unit_thread(const SegmentGeometry& g, int batch, int hidden) {
  UnitThread u;
  u.seg = threadIdx.x / g.hp;
  u.j = threadIdx.x % g.hp;
  u.b = blockIdx.x * g.segments + u.seg;
  u.active = u.b < batch && u.j < hidden;
  return u;
}

template <Cell kCell, bool kWhInSmem, bool kHead>
__global__ void __launch_bounds__(1024)
    gated_forward_kernel(WithHead<GatedForwardArgs> p, SegmentGeometry g) {
  constexpr int G = gate_count(kCell), A = kept_of(kCell);
  // A copy: with a reference into the parameter space ptxas spilled the kernels without the head.
  // (The head's kernels run one block a launch: no select, which made one of them spill.)
  const GatedForwardArgs a = kHead || blockIdx.y == 0 ? p.cell : p.second;
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
  float bin[G], brec[G];  // the input bias and (GRU) the recurrent bias of unit j's gates
  for (int q = 0; q < G; ++q) {
    bin[q] = active ? a.bias[q * H + j] : 0.f;
    brec[q] = active && kCell == Cell::kGru ? a.bias[GH + q * H + j] : 0.f;
  }
  float h = 0.f;
  float kept[A];  // what the last valid step keeps (c is kept[4] for the LSTM)
  for (int q = 0; q < A; ++q) kept[q] = 0.f;
  int cur = 0;
  for (int n = 0; n < T; ++n) {
    const int t = step_at(a.direction, n, T);
    if (active) {
      const std::size_t row = static_cast<std::size_t>(b) * T + t;
      if (t < L) {
        float rec[G], xin[G];
        for (int q = 0; q < G; ++q) {
          rec[q] = brec[q];
          xin[q] = bin[q] + a.xw[row * GH + q * H + j];
        }
        const float* hprev = hbuf + (cur * g.segments + seg) * hp;
        for (int k = 0; k < H; ++k) {
          const float hk = hprev[k];
          for (int q = 0; q < G; ++q) rec[q] += hk * wh[k * GH + q * H + j];
        }
        // prev: c_{t-1}, the last of what the LSTM keeps, or the GRU's h_{t-1}.
        h = cell_step<kCell>(xin, rec, kCell == Cell::kLstm ? kept[A - 1] : h, kept);
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
    gated_backward_kernel(WithHead<GatedBackwardArgs> p, SegmentGeometry g) {
  constexpr int G = gate_count(kCell), A = kept_of(kCell);
  const GatedBackwardArgs a = kHead || blockIdx.y == 0 ? p.cell : p.second;
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
        if (tp >= 0) {
          prev = kCell == Cell::kLstm ? a.aux[(seq + tp) * A * H + 4 * H + j]
                                      : a.states[(seq + tp) * C + j];
        }
        direct =
            cell_step_backward<kCell>(a.aux + row * A * H + j, H, prev, dh, carry_c, din, drec);
      }
      for (int q = 0; q < G; ++q) a.d_in[row * GH + q * H + j] = din[q];
      if (tp >= 0) {
        for (int q = 0; q < G; ++q) a.drec_next[(seq + tp) * GH + q * H + j] = drec[q];
      } else if (a.drec_first) {
        for (int q = 0; q < G; ++q)
          a.drec_first[static_cast<std::size_t>(b) * GH + q * H + j] = drec[q];
      }
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

// ---- the unfused path: per step a cuBLAS GEMM (rec = h_{t-1} Wh, or carry += d_rec Wh^T) and
// one of these elementwise kernels, one thread per (b, j) -------------------------------------
constexpr int kStepThreads = 256;

// Step n of the block's processing order: the cell on xw_t + b and rec [B,G*H] (the GEMM of the
// previous state; not read at n = 0), or on padding the previous state and what it kept again.
template <Cell kCell>
__global__ void __launch_bounds__(kStepThreads)
    gated_step_kernel(GatedForwardArgs a, const float* rec_in, int n) {
  constexpr int G = gate_count(kCell), A = kept_of(kCell);
  const int B = a.batch, T = a.steps, H = a.hidden, C = a.stride, GH = G * H;
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(B) * H) return;
  const int b = static_cast<int>(i / H), j = static_cast<int>(i % H);
  const int t = step_at(a.direction, n, T);
  const int tp = n > 0 ? step_at(a.direction, n - 1, T) : -1;
  const std::size_t row = static_cast<std::size_t>(b) * T + t;
  const std::size_t prow = static_cast<std::size_t>(b) * T + tp;
  float kept[A];
  float h;
  if (t < sequence_length(a.lengths, b, T)) {
    float xin[G], rec[G];
    for (int q = 0; q < G; ++q) {
      xin[q] = a.bias[q * H + j] + a.xw[row * GH + q * H + j];
      rec[q] = (tp < 0 ? 0.f : rec_in[static_cast<std::size_t>(b) * GH + q * H + j]) +
               (kCell == Cell::kGru ? a.bias[GH + q * H + j] : 0.f);
    }
    float prev = 0.f;
    if (tp >= 0) {
      prev = kCell == Cell::kLstm ? a.aux[prow * A * H + (A - 1) * H + j] : a.out[prow * C + j];
    }
    h = cell_step<kCell>(xin, rec, prev, kept);
  } else {  // padding: the state and what it kept pass through
    h = tp < 0 ? 0.f : a.out[prow * C + j];
    for (int q = 0; q < A; ++q) kept[q] = tp < 0 ? 0.f : a.aux[prow * A * H + q * H + j];
  }
  a.out[row * C + j] = h;
  for (int q = 0; q < A; ++q) a.aux[row * A * H + q * H + j] = kept[q];
}

// Step n of the BPTT (n = T-1 first). carry [B,H] holds dL/dh_t from the steps processed after
// t (the GEMM after the previous call added d_rec Wh^T); the kernel leaves in it what the next
// GEMM (beta = 1) adds to: the direct part, or on padding dL/dh_t itself. carry_c [B,H]: the
// LSTM's dL/dc.
template <Cell kCell>
__global__ void __launch_bounds__(kStepThreads)
    gated_step_backward_kernel(GatedBackwardArgs a, float* carry, float* carry_c, int n) {
  constexpr int G = gate_count(kCell), A = kept_of(kCell);
  const int B = a.batch, T = a.steps, H = a.hidden, C = a.stride, GH = G * H;
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(B) * H) return;
  const int b = static_cast<int>(i / H), j = static_cast<int>(i % H);
  const int t = step_at(a.direction, n, T);
  const int tp = n > 0 ? step_at(a.direction, n - 1, T) : -1;
  const std::size_t seq = static_cast<std::size_t>(b) * T, row = seq + t;
  const bool valid = t < sequence_length(a.lengths, b, T);
  if (n == T - 1) {  // the step processed last has no successor
    for (int q = 0; q < G; ++q) a.drec_next[row * GH + q * H + j] = 0.f;
  }
  float din[G], drec[G];
  for (int q = 0; q < G; ++q) din[q] = drec[q] = 0.f;
  const float dh = carry[i] + a.dout[row * C + j];
  float next = dh;  // padding passes dL/dh (and dL/dc) through to the previous state
  if (valid) {
    float prev = 0.f;
    if (tp >= 0) {
      prev = kCell == Cell::kLstm ? a.aux[(seq + tp) * A * H + (A - 1) * H + j]
                                  : a.states[(seq + tp) * C + j];
    }
    float cc = kCell == Cell::kLstm ? carry_c[i] : 0.f;
    next = cell_step_backward<kCell>(a.aux + row * A * H + j, H, prev, dh, cc, din, drec);
    if (kCell == Cell::kLstm) carry_c[i] = cc;
  }
  for (int q = 0; q < G; ++q) a.d_in[row * GH + q * H + j] = din[q];
  if (tp >= 0) {
    for (int q = 0; q < G; ++q) a.drec_next[(seq + tp) * GH + q * H + j] = drec[q];
  } else if (a.drec_first) {
    for (int q = 0; q < G; ++q)
      a.drec_first[static_cast<std::size_t>(b) * GH + q * H + j] = drec[q];
  }
  carry[i] = next;
}

// Blocks of the elementwise step kernels: one thread per (b, j).
template <typename Args>
unsigned step_blocks(const Args& a) {
  return static_cast<unsigned>((static_cast<long long>(a.batch) * a.hidden + kStepThreads - 1) /
                               kStepThreads);
}

template <auto WithWh, auto WithoutWh, typename Args>
void launch_gated(const WithHead<Args>& p, int gates, bool backward, bool head,
                  const char* const (&names)[2], cudaStream_t stream, int planes) {
  const Args& a = p.cell;
  const SegmentGeometry g = segment_geometry(a.hidden, a.batch);
  launch_segmented_sized<WithWh, WithoutWh>(
      p, a.batch, a.hidden, gated_smem_bytes(g, a.hidden, gates, backward, false, head),
      gated_smem_bytes(g, a.hidden, gates, backward, true, head), names, stream, planes);
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

void check_cell(Cell cell, const char* call) {
  if (cell != Cell::kLstm && cell != Cell::kGru) {
    throw InvalidArgument(std::string(call) + ": cell " + to_string(cell) +
                          " is not a gated cell (the Elman cell runs layer_forward)");
  }
}

// The kernels by cell, Wh's place and whether the head is inside; names[head][staged ? 0 : 1].
template <bool kHead>
void forward_on(const WithHead<GatedForwardArgs>& p, cudaStream_t stream, int planes = 1) {
  static const char* const lstm[2][2] = {
      {"gated_forward_kernel<lstm, Wh in smem>", "gated_forward_kernel<lstm, Wh in L2>"},
      {"gated_forward_kernel<lstm, head, Wh in smem>",
       "gated_forward_kernel<lstm, head, Wh in L2>"}};
  static const char* const gru[2][2] = {
      {"gated_forward_kernel<gru, Wh in smem>", "gated_forward_kernel<gru, Wh in L2>"},
      {"gated_forward_kernel<gru, head, Wh in smem>", "gated_forward_kernel<gru, head, Wh in L2>"}};
  if (p.cell.cell == Cell::kLstm) {
    launch_gated<gated_forward_kernel<Cell::kLstm, true, kHead>,
                 gated_forward_kernel<Cell::kLstm, false, kHead>>(p, 4, false, kHead, lstm[kHead],
                                                                  stream, planes);
  } else {
    launch_gated<gated_forward_kernel<Cell::kGru, true, kHead>,
                 gated_forward_kernel<Cell::kGru, false, kHead>>(p, 3, false, kHead, gru[kHead],
                                                                 stream, planes);
  }
}

template <bool kHead>
void backward_on(const WithHead<GatedBackwardArgs>& p, cudaStream_t stream, int planes = 1) {
  static const char* const lstm[2][2] = {
      {"gated_backward_kernel<lstm, Wh in smem>", "gated_backward_kernel<lstm, Wh in L2>"},
      {"gated_backward_kernel<lstm, head, Wh in smem>",
       "gated_backward_kernel<lstm, head, Wh in L2>"}};
  static const char* const gru[2][2] = {
      {"gated_backward_kernel<gru, Wh in smem>", "gated_backward_kernel<gru, Wh in L2>"},
      {"gated_backward_kernel<gru, head, Wh in smem>",
       "gated_backward_kernel<gru, head, Wh in L2>"}};
  if (p.cell.cell == Cell::kLstm) {
    launch_gated<gated_backward_kernel<Cell::kLstm, true, kHead>,
                 gated_backward_kernel<Cell::kLstm, false, kHead>>(p, 4, true, kHead, lstm[kHead],
                                                                   stream, planes);
  } else {
    launch_gated<gated_backward_kernel<Cell::kGru, true, kHead>,
                 gated_backward_kernel<Cell::kGru, false, kHead>>(p, 3, true, kHead, gru[kHead],
                                                                  stream, planes);
  }
}

// The head-fused kernels' preconditions: one layer, one direction (direction 0, the states H
// wide) and the head's shape matching the cell's.
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

}  // namespace

void gated_forward(const GatedForwardArgs* args, int count, cudaStream_t stream) {
  const WithHead<GatedForwardArgs> p = cell_pair(args, count, "gated_forward");
  check_cell(p.cell.cell, "gated_forward");
  if (!p.cell.out || !p.second.out) throw InvalidArgument("gated_forward: out is null");
  forward_on<false>(p, stream, count);
}

void gated_backward(const GatedBackwardArgs* args, int count, cudaStream_t stream) {
  const WithHead<GatedBackwardArgs> p = cell_pair(args, count, "gated_backward");
  check_cell(p.cell.cell, "gated_backward");
  backward_on<false>(p, stream, count);
}

void gated_fused_forward(const GatedForwardArgs& a, const AttentionHeadArgs& head,
                         cudaStream_t stream) {
  check_cell(a.cell, "gated_fused_forward");
  check_head(a, head, "gated_fused_forward");
  if (!head.y) throw InvalidArgument("gated_fused_forward: head.y is null");
  forward_on<true>(WithHead<GatedForwardArgs>{a, head, a}, stream);
}

void gated_fused_backward(const GatedBackwardArgs& a, const AttentionHeadArgs& head,
                          cudaStream_t stream) {
  check_cell(a.cell, "gated_fused_backward");
  check_head(a, head, "gated_fused_backward");
  if (!head.dy || !head.prediction || !head.dpre || (head.shape.attention && !head.du))
    throw InvalidArgument("gated_fused_backward: head.dy, prediction, dpre or du is null");
  backward_on<true>(WithHead<GatedBackwardArgs>{a, head, a}, stream);
}

void gated_step(const GatedForwardArgs& a, const float* rec, int n, cudaStream_t stream) {
  check_cell(a.cell, "gated_step");
  if (a.batch < 1) return;
  if (!a.aux) throw InvalidArgument("gated_step: aux is null (the unfused step reads it back)");
  if (a.cell == Cell::kLstm) {
    launch_kernel<gated_step_kernel<Cell::kLstm>>("gated_step_kernel<lstm>", step_blocks(a),
                                                  kStepThreads, 0, stream, a, rec, n);
  } else {
    launch_kernel<gated_step_kernel<Cell::kGru>>("gated_step_kernel<gru>", step_blocks(a),
                                                 kStepThreads, 0, stream, a, rec, n);
  }
}

void gated_step_backward(const GatedBackwardArgs& a, float* carry, float* carry_c, int n,
                         cudaStream_t stream) {
  check_cell(a.cell, "gated_step_backward");
  if (a.batch < 1) return;
  if (a.cell == Cell::kLstm) {
    launch_kernel<gated_step_backward_kernel<Cell::kLstm>>("gated_step_backward_kernel<lstm>",
                                                           step_blocks(a), kStepThreads, 0, stream,
                                                           a, carry, carry_c, n);
  } else {
    launch_kernel<gated_step_backward_kernel<Cell::kGru>>("gated_step_backward_kernel<gru>",
                                                          step_blocks(a), kStepThreads, 0, stream,
                                                          a, carry, carry_c, n);
  }
}

}  // namespace rnnattn::kernels
