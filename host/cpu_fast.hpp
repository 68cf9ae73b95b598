// The fast CPU path (internal): the model batched over B sequences, with the work that is a matrix
// product done as one through BLAS (OpenBLAS) and the rest fused into single passes:
//   forward, per (layer, direction): P = X Wx + bh for all B*T rows (one GEMM), then per step
//     z = P_t + h_prev Wh ([B,H] x [H,H], one GEMM), h_t = tanh(z) (padding passes h through);
//     then per sequence the scores, the softmax and the context in one pass over the top states;
//   backward: the head and the attention per sequence, BPTT with one GEMM per step for the carry
//     (dz Wh^T), and the weight gradients as three GEMMs over all B*T rows at the end
//     (dWx = X^T dZ, dWh = H_prev^T dZ, dX = dZ Wx^T).
// Same semantics as host/reference.cpp (lengths, layers, directions, heads), which stays the
// oracle; results agree within float32 rounding (tests/cpu/test_cpu_fast.cpp).
#pragma once

#include <vector>

#include "rnnattn/config.hpp"
#include "rnnattn/dropout.hpp"

namespace rnnattn::fast {

// What a forward pass keeps for the backward pass of one part of the batch (a contiguous slice of
// its sequences), and the scratch both use.
struct Part {
  std::vector<std::vector<float>> states;  // per layer: [b, T, C]
  std::vector<float> scores, weights;      // [b, T]: e_t and a_t (attention; 0 on padding)
  // Dot-product attention: [b, T, T] h_i . h_j and a_ij, [b, T, C] o_i (a sequence's first L
  // rows and columns only).
  std::vector<float> dots, attn, outputs;
  std::vector<float> context, y;  // [b, C], [b, O]
  std::vector<float> keep;        // [b, C] dropout's factors (training), or empty
  // Per block, the recurrent layers' dropout factors (training): [b, I] on its input, [b, H] on
  // its previous state; empty where the block has none.
  std::vector<std::vector<float>> in_keep, rec_keep;
  std::vector<std::vector<float>> aux;  // per block (gated cells): [b, T, aux_width * H]
  std::vector<float> pre, z, prev, dz, dstates, dinput, carry, carry_c, tmp, dc, dpre;  // scratch
  std::vector<float> dattn, dout, masked, hm;                                           // scratch
};

// The batch is split into parts by sequence, one thread each (threads()), each part running the
// whole model with single-threaded GEMMs: no synchronisation within a pass, and every pass
// (the recurrence's elementwise work, the attention) runs in parallel, not only the GEMMs. A
// batch too small to split (fewer than 8 sequences for 2 threads) is one part whose GEMMs use
// every thread. Gradients are summed over the parts in order, so that results depend on the
// thread count (float rounding), never on timing. Kept between calls: a training run
// allocates once.
struct Workspace {
  std::vector<Part> parts;
  std::vector<int> first;                 // part k holds sequences [first[k], first[k+1])
  std::vector<float> y;                   // [B, O]
  std::vector<std::vector<float>> grads;  // parts 1..K-1: their gradients before the sum
};

// Forward over a batch: fills ws (y in ws.y). lengths may be null (all T). `dropout` (a training
// step's key) applies config.dropout to the context, as reference_forward does; the backward
// uses the same masks.
void forward(const ModelConfig& config, const float* params, const float* x, int batch,
             const int* lengths, Workspace& ws, const DropoutKey* dropout = nullptr);

// Backward for upstream dy [B, O], after forward() on the same inputs with the same ws:
// overwrites dparams; dx [B, T, D] when not null.
void backward(const ModelConfig& config, const float* params, const float* x, int batch,
              const int* lengths, const float* dy, float* dparams, float* dx, Workspace& ws);

// After forward(): the attention weights [B, T] and the top layer's states [B, T, C], each when
// not null.
void copy_outputs(const Workspace& ws, float* attention, float* hidden);

// Whether the batched path is faster than the per-sequence reference for this shape: below
// a few thousand multiply-adds per step the GEMM calls cost more than they save (the tutorial's
// B = 1, H = 2 runs on the reference).
bool preferred(const ModelConfig& config, int batch);

// tanh of n floats in place, vectorised: within 4 ulp of the exact value (see cpu_fast.cpp).
void tanh_inplace(float* v, int n);

// Threads for the fast path (its parts and OpenBLAS's GEMMs): n >= 1; 0: one per core.
void set_threads(int n);
int threads();

// The kernels OpenBLAS runs, by its core name ("SkylakeX", "Haswell", ...). Where it fell back to
// its SSE3 kernels ("Prescott") on a CPU it did not recognise, the library picked them again for
// what the CPU has when it loaded, unless OPENBLAS_CORETYPE was set (cpu_fast.cpp).
const char* blas_core();

}  // namespace rnnattn::fast
