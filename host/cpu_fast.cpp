// The fast CPU path (host/cpu_fast.hpp). Row-major throughout; a state row (b, t) of layer l
// lives at states[l][(b * T + t) * C + direction * H].
#include "cpu_fast.hpp"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <thread>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "model_math.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"

// OpenBLAS's thread control and core name (declared in its cblas.h; declared here too so that
// another cblas.h does not hide them), and the dispatch of a DYNAMIC_ARCH build (exported, not in
// its headers; weak: absent from a build for one CPU).
extern "C" {
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
char* openblas_get_corename(void);
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace rnnattn::fast {

// tanh over n floats, written so that the compiler vectorises it (no calls, selects instead of
// branches). |x| < 0.625: tanh x = x + x^3 P(x^2), the odd minimax polynomial of Cephes' tanhf;
// otherwise tanh|x| = (1 - t) / (1 + t) with t = exp(-2|x|) (t <= 0.29: no cancellation), exp by
// Cody-Waite reduction x = k ln2 + r and Cephes' expf polynomial on r, 2^k put into the exponent
// bits. Inputs past 9 give +-1 (tanh 9 rounds to 1 in float). Measured against double tanh over
// [-12, 12]: at most 4 ulp (tests/cpu/test_cpu_fast.cpp checks the bound).
// On x86-64 the loop is also compiled for AVX-512 and AVX2, and the best the CPU has is picked
// at load time. host/cpu_fast.cpp is built with -ffp-contract=off, so that no clone fuses a
// multiply and an add (the AVX-512 one may use FMA instructions): every clone rounds alike, the
// same bits on every x86-64 CPU (checked when the AVX-512 clone came: over [-12, 12] in steps of
// 2^-16 and the edge values, the three clones' outputs were identical); and with
// -fno-trapping-math, which lets the compiler turn the select into vector blends (it does not
// change any value).
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
void tanh_inplace(float* v, int n) {
  for (int i = 0; i < n; ++i) {
    const float x = v[i];
    const float ax = std::min(std::fabs(x), 9.0f);
    // Small: the odd polynomial.
    const float z = x * x;
    const float small =
        x + x * z *
                ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                  1.33314422036e-1f) *
                     z -
                 3.33332819422e-1f);
    // Large: exp(-2|x|) = 2^k exp(r), r = y - k ln2 in [-ln2/2, ln2/2].
    const float y = -2.0f * ax;
    // Round to nearest by the 1.5 * 2^23 trick (|y log2 e| < 27): a call to nearbyint would stop
    // the loop from being vectorised.
    const float k = (y * 1.44269504089f + 12582912.0f) - 12582912.0f;
    const float r = (y - k * 0.693359375f) + k * 2.12194440e-4f;
    const float p = ((((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r +
                        4.1665795894e-2f) *
                           r +
                       1.6666665459e-1f) *
                          r +
                      5.0000001201e-1f) *
                         r * r +
                     r + 1.0f);
    std::int32_t bits;
    std::memcpy(&bits, &p, 4);
    // 2^k into the exponent (k in [-27, 0]: the result stays normal); a multiplication, as a
    // left shift of a negative value is undefined.
    bits += static_cast<std::int32_t>(k) * (1 << 23);
    float t;
    std::memcpy(&t, &bits, 4);
    const float large = std::copysign((1.0f - t) / (1.0f + t), x);
    v[i] = ax < 0.625f ? small : large;
  }
}

namespace {

// C = alpha op(A) op(B) + beta C, row-major; M x N result, K the inner size.
void gemm(bool ta, bool tb, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
          float beta, float* C, int ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
              K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

int length_of(const int* lengths, int b, int T) { return lengths ? lengths[b] : T; }

// Threads: the count asked for (set_threads), and the count OpenBLAS was last given, so that it is
// told only on a change (a batch split into parts runs one thread per part and single-threaded
// GEMMs; an unsplit one gives OpenBLAS every thread).
int cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }
std::atomic<int> g_threads{cores()};
std::atomic<int> g_blas_threads{0};

void blas_threads(int n) {
  if (g_blas_threads.exchange(n) != n) openblas_set_num_threads(n);
}

// OpenBLAS (DYNAMIC_ARCH, as Debian builds it) picks its kernels by the CPU's model when it loads;
// a model it does not know (a virtual machine's generic "Intel(R) Xeon(R) Processor", or a CPU
// newer than the library) gets its oldest x86-64 kernels, Prescott's: SSE3, no FMA, at 2.2 to 4
// times the time of the AVX-512 ones on this project's CI machine (docs/performance.md). Where
// that happened, the user set no OPENBLAS_CORETYPE of their own and the CPU (with the OS) has
// AVX2 and FMA, the kernels are picked again, by OpenBLAS's own dispatch, for what the CPU has:
// SkylakeX's with AVX-512, else Haswell's. Once, when the library loads: before any GEMM and,
// in a program, before its threads (setenv is not thread-safe).
bool choose_blas_kernels() {
#if defined(__x86_64__)
  const char* core = openblas_get_corename();
  if (!core || std::strcmp(core, "Prescott") != 0 || std::getenv("OPENBLAS_CORETYPE")) return false;
  if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return false;
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  setenv("OPENBLAS_CORETYPE", avx512 ? "SkylakeX" : "Haswell", 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
  return true;
#else
  return false;
#endif
}
const bool g_blas_kernels_chosen = choose_blas_kernels();

// The state each step of direction `dir` read, per row [B*T, H] (0 before the first): the left
// operand of dWh = H_prev^T dZ. S points at the direction's first state column.
void gather_previous_states(const float* S, int B, int T, int H, int C, int dir,
                            std::vector<float>& prev) {
  prev.resize(static_cast<std::size_t>(B) * T * H);
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      const int tp = prev_step(dir, t, T);
      float* pr = &prev[(static_cast<std::size_t>(b) * T + t) * H];
      if (tp < 0) {
        std::fill_n(pr, H, 0.0f);
      } else {
        std::copy_n(S + (static_cast<std::size_t>(b) * T + tp) * C, H, pr);
      }
    }
  }
}

// A block's recurrent-layer dropout factors, per sequence of the part: `in` [B, I] on its input,
// `rec` [B, H] on its previous state; null where it has none.
struct LayerDropout {
  const float* in = nullptr;
  const float* rec = nullptr;
};

// Block `bi` (of `blocks`)'s factors for the part's sequences (rows b0 + b of the batch, as the
// reference draws them), kept in the part for the backward; none without a key or at rate 0.
LayerDropout draw_layer_dropout(const ModelConfig& cfg, const DropoutKey* dk, int b0, int B,
                                const ParamLayout::Block& blk, std::size_t bi, std::size_t blocks,
                                Part& ws) {
  const int I = blk.input;
  ws.in_keep.resize(blocks);
  ws.rec_keep.resize(blocks);
  std::vector<float>& in = ws.in_keep[bi];
  std::vector<float>& rec = ws.rec_keep[bi];
  in.clear();
  rec.clear();
  if (!dk || !cfg.layer_dropout()) return {};
  std::vector<float> row_in, row_rec;
  for (int b = 0; b < B; ++b) {
    layer_dropout_masks(cfg, dk, b0 + b, blk.layer, blk.direction, I, row_in, row_rec);
    if (cfg.input_dropout > 0.f) in.insert(in.end(), row_in.begin(), row_in.end());
    if (cfg.recurrent_dropout > 0.f) rec.insert(rec.end(), row_rec.begin(), row_rec.end());
  }
  return {in.empty() ? nullptr : in.data(), rec.empty() ? nullptr : rec.data()};
}

// The factors the forward drew for block `bi` (none: null).
LayerDropout kept_layer_dropout(const Part& ws, std::size_t bi) {
  if (bi >= ws.in_keep.size()) return {};
  return {ws.in_keep[bi].empty() ? nullptr : ws.in_keep[bi].data(),
          ws.rec_keep[bi].empty() ? nullptr : ws.rec_keep[bi].data()};
}

// The rows [B*T, I] of `in` times their sequence's factors keep [B, I], into out: the operand of
// the input projection under the layer's input dropout.
const float* masked_input(const float* in, int B, int T, int I, const float* keep,
                          std::vector<float>& out) {
  out.resize(static_cast<std::size_t>(B) * T * I);
  for (int b = 0; b < B; ++b) {
    const float* kb = keep + static_cast<std::size_t>(b) * I;
    for (int t = 0; t < T; ++t) {
      const std::size_t r = (static_cast<std::size_t>(b) * T + t) * I;
      for (int k = 0; k < I; ++k) out[r + k] = in[r + k] * kb[k];
    }
  }
  return out.data();
}

// Step tp's states of the batch (rows T*C apart in S) times their factors keep [B, H], into out
// [B, H]: the operand of the recurrent product under recurrent dropout.
void masked_previous(const float* S, int B, int T, int C, int H, int tp, const float* keep,
                     float* out) {
  for (int b = 0; b < B; ++b) {
    const float* h = S + (static_cast<std::size_t>(b) * T + tp) * C;
    const float* kb = keep + static_cast<std::size_t>(b) * H;
    for (int j = 0; j < H; ++j) out[static_cast<std::size_t>(b) * H + j] = h[j] * kb[j];
  }
}

// R += h_prev Wh for the batch at step t (predecessor tp, rows T*C apart in S), h_prev masked by
// the block's recurrent dropout where it has one. R's rows are ldr apart.
void recurrent_product(const float* S, int B, int T, int C, int H, int GH, int tp, const float* wh,
                       const LayerDropout& drop, float beta, float* R, int ldr, Part& ws) {
  if (!drop.rec) {
    gemm(false, false, B, GH, H, S + static_cast<std::size_t>(tp) * C, T * C, wh, GH, beta, R, ldr);
    return;
  }
  ws.hm.resize(static_cast<std::size_t>(B) * H);
  masked_previous(S, B, T, C, H, tp, drop.rec, ws.hm.data());
  gemm(false, false, B, GH, H, ws.hm.data(), H, wh, GH, beta, R, ldr);
}

// The end of a block's backward for its input and its recurrent operand under the layer's
// dropout: dWh = (H_prev * rec)^T D_rec and dWx = (X * in)^T D_in over every row, and
// dX += (D_in Wx^T) * in. prev holds H_prev [rows, H] (gather_previous_states).
void block_weight_gradients(int B, int T, int I, int H, int GH, const float* in,
                            std::vector<float>& prev, const float* drec, const float* din,
                            const BlockView<const float>& w, const BlockView<float>& gw,
                            const LayerDropout& drop, Part& ws) {
  const int rows = B * T;
  if (drop.rec) {
    for (int b = 0; b < B; ++b) {
      const float* kb = drop.rec + static_cast<std::size_t>(b) * H;
      for (int t = 0; t < T; ++t) {
        float* pr = &prev[(static_cast<std::size_t>(b) * T + t) * H];
        for (int j = 0; j < H; ++j) pr[j] *= kb[j];
      }
    }
  }
  gemm(true, false, H, GH, rows, prev.data(), H, drec, GH, 1.0f, gw.wh, GH);
  const float* x = drop.in ? masked_input(in, B, T, I, drop.in, ws.masked) : in;
  gemm(true, false, I, GH, rows, x, I, din, GH, 1.0f, gw.wx, GH);
  if (!drop.in) {
    gemm(false, true, rows, I, GH, din, GH, w.wx, GH, 1.0f, ws.dinput.data(), I);
    return;
  }
  gemm(false, true, rows, I, GH, din, GH, w.wx, GH, 0.0f, ws.masked.data(), I);
  for (int b = 0; b < B; ++b) {
    const float* kb = drop.in + static_cast<std::size_t>(b) * I;
    for (int t = 0; t < T; ++t) {
      const std::size_t r = (static_cast<std::size_t>(b) * T + t) * I;
      for (int k = 0; k < I; ++k) ws.dinput[r + k] += ws.masked[r + k] * kb[k];
    }
  }
}

// One valid step of a gated cell for one sequence: the equations of model_math.hpp's cell_forward
// with every sigmoid and tanh through the vectorised tanh (sigma(v) = (1 + tanh(v/2)) / 2, exact
// in real arithmetic): a scalar exp per gate would cost more than the step's GEMM. The gates go
// straight into what the step keeps (aux: the LSTM's [i f g o c], the GRU's [z r n rn]), each
// gate's loops over its own columns (no per-column branch: they vectorise without blends); g is
// scratch of H. Same outputs (h, aux) as cell_forward, within float32 rounding
// (tests/cpu/test_cpu_fast.cpp).
void gated_step(Cell cell, int H, const float* xin, const float* rec, const float* hprev,
                const float* cprev, float* h, float* aux, float* g) {
  if (cell == Cell::kLstm) {
    // i, f (sigmoids), g (tanh), o (sigmoid): the sigmoids' halves, then one tanh over 4H.
    for (int j = 0; j < 2 * H; ++j) aux[j] = 0.5f * (xin[j] + rec[j]);
    for (int j = 2 * H; j < 3 * H; ++j) aux[j] = xin[j] + rec[j];
    for (int j = 3 * H; j < 4 * H; ++j) aux[j] = 0.5f * (xin[j] + rec[j]);
    tanh_inplace(aux, 4 * H);
    for (int j = 0; j < 2 * H; ++j) aux[j] = 0.5f + 0.5f * aux[j];
    for (int j = 3 * H; j < 4 * H; ++j) aux[j] = 0.5f + 0.5f * aux[j];
    float* c = aux + 4 * H;
    for (int j = 0; j < H; ++j) {
      c[j] = aux[H + j] * (cprev ? cprev[j] : 0.0f) + aux[j] * aux[2 * H + j];
      g[j] = c[j];
    }
    tanh_inplace(g, H);
    for (int j = 0; j < H; ++j) h[j] = aux[3 * H + j] * g[j];
  } else {
    for (int j = 0; j < 2 * H; ++j) aux[j] = 0.5f * (xin[j] + rec[j]);
    tanh_inplace(aux, 2 * H);
    for (int j = 0; j < 2 * H; ++j) aux[j] = 0.5f + 0.5f * aux[j];  // z, r
    for (int j = 0; j < H; ++j) {
      aux[2 * H + j] = xin[2 * H + j] + aux[H + j] * rec[2 * H + j];
      aux[3 * H + j] = rec[2 * H + j];
    }
    tanh_inplace(aux + 2 * H, H);  // n
    for (int j = 0; j < H; ++j) {
      const float z = aux[j], n = aux[2 * H + j];
      h[j] = z * (hprev ? hprev[j] : 0.0f) + (1.0f - z) * n;
    }
  }
}

// The backward of gated_step for one sequence: model_math.hpp's cell_backward, written per cell
// without branches in the loops (so that they vectorise) and with the LSTM's tanh(c_t) through
// the vectorised tanh. g is scratch of H. The LSTM's dL/drec equals its dL/dxin: only d_in is
// written (d_rec is the GRU's).
void gated_step_backward(Cell cell, int H, const float* aux, const float* hprev, const float* cprev,
                         const float* dh, float* dc, float* d_in, float* d_rec, float* dh_direct,
                         float* g) {
  if (cell == Cell::kLstm) {
    const float *i = aux, *f = aux + H, *gg = aux + 2 * H, *o = aux + 3 * H;
    std::copy_n(aux + 4 * H, H, g);
    tanh_inplace(g, H);  // tanh(c_t)
    for (int j = 0; j < H; ++j) {
      const float tc = g[j], cp = cprev ? cprev[j] : 0.0f;
      const float dct = dc[j] + dh[j] * o[j] * (1.0f - tc * tc);
      d_in[j] = dct * gg[j] * i[j] * (1.0f - i[j]);
      d_in[H + j] = dct * cp * f[j] * (1.0f - f[j]);
      d_in[2 * H + j] = dct * i[j] * (1.0f - gg[j] * gg[j]);
      d_in[3 * H + j] = dh[j] * tc * o[j] * (1.0f - o[j]);
      dc[j] = dct * f[j];
      dh_direct[j] = 0.0f;
    }
    (void)d_rec;  // the LSTM's dL/drec is its dL/dxin: the caller reads d_in for both
  } else {
    const float *z = aux, *r = aux + H, *n = aux + 2 * H, *rn = aux + 3 * H;
    for (int j = 0; j < H; ++j) {
      const float hp = hprev ? hprev[j] : 0.0f;
      const float dn = dh[j] * (1.0f - z[j]) * (1.0f - n[j] * n[j]);
      d_in[j] = d_rec[j] = dh[j] * (hp - n[j]) * z[j] * (1.0f - z[j]);
      d_in[H + j] = d_rec[H + j] = dn * rn[j] * r[j] * (1.0f - r[j]);
      d_in[2 * H + j] = dn;
      d_rec[2 * H + j] = dn * r[j];
      dh_direct[j] = dh[j] * z[j];
    }
  }
}

// A gated block (LSTM, GRU) of the forward pass: P = X Wx + b over all rows (one GEMM), then per
// step R = h_prev Wh (+ the GRU's recurrent bias) for the batch (one GEMM) and the cell per row
// (gated_step: model_math.hpp's equations, vectorised). aux [rows, A*H] keeps the gates
// (and the LSTM's c) for backward; padding passes h and aux (so c) through.
void forward_gated_block(const ModelConfig& cfg, const ParamLayout::Block& blk,
                         const BlockView<const float>& w, const float* in, float* S, int B,
                         const int* lengths, const LayerDropout& drop, std::vector<float>& aux,
                         Part& ws) {
  const int H = cfg.hidden_size, T = cfg.steps, C = cfg.context_size(), I = blk.input;
  const int GH = blk.gates * H, A = aux_width(cfg.cell) * H;
  const std::size_t rows = static_cast<std::size_t>(B) * T;
  ws.pre.resize(rows * GH);
  ws.tmp.resize(static_cast<std::size_t>(B) * GH);
  ws.carry_c.resize(static_cast<std::size_t>(H));  // gated_step's scratch
  aux.resize(rows * A);
  for (std::size_t r = 0; r < rows; ++r) std::copy_n(w.bh, GH, &ws.pre[r * GH]);
  gemm(false, false, static_cast<int>(rows), GH, I, in, I, w.wx, GH, 1.0f, ws.pre.data(), GH);
  const bool gru = cfg.cell == Cell::kGru;
  for (int n = 0; n < T; ++n) {
    const int t = blk.direction == 0 ? n : T - 1 - n;
    const int tp = prev_step(blk.direction, t, T);
    // R = h_prev Wh (h_prev = 0 before the first step), onto the GRU's recurrent bias; the
    // LSTM's GEMM writes R itself (beta 0: nothing to clear first).
    if (gru || tp < 0) {
      for (int b = 0; b < B; ++b) {
        float* rb = &ws.tmp[static_cast<std::size_t>(b) * GH];
        if (gru) {
          std::copy_n(w.bh + GH, GH, rb);
        } else {
          std::fill_n(rb, GH, 0.0f);
        }
      }
    }
    if (tp >= 0) {
      recurrent_product(S, B, T, C, H, GH, tp, w.wh, drop, gru ? 1.0f : 0.0f, ws.tmp.data(), GH,
                        ws);
    }
    for (int b = 0; b < B; ++b) {
      const std::size_t r = static_cast<std::size_t>(b) * T + t, rp = r - t + tp;
      float* ht = S + r * C;
      const float* hprev = tp < 0 ? nullptr : S + rp * C;
      float* at = &aux[r * A];
      const float* aprev = tp < 0 ? nullptr : &aux[rp * A];
      if (t >= length_of(lengths, b, T)) {
        if (tp >= 0) {
          std::copy_n(hprev, H, ht);
          std::copy_n(aprev, A, at);
        } else {
          std::fill_n(ht, H, 0.0f);
          std::fill_n(at, A, 0.0f);
        }
        continue;
      }
      const float* cprev = aprev && cfg.cell == Cell::kLstm ? aprev + 4 * H : nullptr;
      gated_step(cfg.cell, H, &ws.pre[r * GH], &ws.tmp[static_cast<std::size_t>(b) * GH], hprev,
                 cprev, ht, at, ws.carry_c.data());
    }
  }
}

// A gated block of the backward pass: per step the cell's backward per row (d_in = dL/dP,
// d_rec = dL/dR, the direct path to h_prev) and one GEMM for the carry (d_rec Wh^T); then the
// weight gradients as GEMMs over all rows (dWx = X^T D_in, dWh = H_prev^T D_rec, dX += D_in Wx^T)
// and the biases as column sums (the GRU's recurrent bias from D_rec).
void backward_gated_block(const ModelConfig& cfg, const ParamLayout::Block& blk,
                          const BlockView<const float>& w, const BlockView<float>& gw,
                          const float* in, const float* S, const float* dS, int B,
                          const int* lengths, const LayerDropout& drop,
                          const std::vector<float>& aux, Part& ws) {
  const int H = cfg.hidden_size, T = cfg.steps, C = cfg.context_size(), I = blk.input;
  const int GH = blk.gates * H, A = aux_width(cfg.cell) * H, dir = blk.direction;
  const std::size_t rows = static_cast<std::size_t>(B) * T;
  const bool lstm = cfg.cell == Cell::kLstm;
  ws.dz.assign(rows * GH, 0.0f);  // D_in
  // D_rec: the GRU's own; the LSTM's is D_in.
  if (!lstm) ws.z.assign(rows * GH, 0.0f);
  float* drec = lstm ? ws.dz.data() : ws.z.data();
  ws.prev.resize(rows * H);  // h_prev per row (0 before the first step)
  ws.carry.assign(static_cast<std::size_t>(B) * H, 0.0f);
  ws.carry_c.assign(static_cast<std::size_t>(B) * H, 0.0f);  // the LSTM's dL/dc carry
  ws.tmp.resize(static_cast<std::size_t>(B) * H);
  std::vector<float> dh(H), scratch(H), direct(static_cast<std::size_t>(B) * H);
  for (int n = T - 1; n >= 0; --n) {
    const int t = dir == 0 ? n : T - 1 - n;
    const int tp = prev_step(dir, t, T);
    bool any_valid = false;
    for (int b = 0; b < B; ++b) {
      const std::size_t r = static_cast<std::size_t>(b) * T + t, rp = r - t + tp;
      const float* dht = dS + r * C;
      float* carry = &ws.carry[static_cast<std::size_t>(b) * H];
      float* dir_b = &direct[static_cast<std::size_t>(b) * H];
      if (t >= length_of(lengths, b, T)) {  // padding: the gradient passes through
        for (int j = 0; j < H; ++j) carry[j] += dht[j];
        std::fill_n(dir_b, H, 0.0f);
        continue;
      }
      any_valid = true;
      for (int j = 0; j < H; ++j) dh[j] = dht[j] + carry[j];
      const float* hprev = tp < 0 ? nullptr : S + rp * C;
      const float* cprev = tp < 0 || cfg.cell != Cell::kLstm ? nullptr : &aux[rp * A] + 4 * H;
      gated_step_backward(cfg.cell, H, &aux[r * A], hprev, cprev, dh.data(),
                          &ws.carry_c[static_cast<std::size_t>(b) * H], &ws.dz[r * GH],
                          drec + r * GH, dir_b, scratch.data());
    }
    if (!any_valid) continue;
    if (tp < 0) {
      for (int b = 0; b < B; ++b) {
        if (t < length_of(lengths, b, T))
          std::fill_n(&ws.carry[static_cast<std::size_t>(b) * H], H, 0.0f);
      }
      continue;
    }
    // carry = (D_rec_t Wh^T) * rec + direct for the valid sequences (rows of D_rec_t are T*GH
    // apart; rec the recurrent dropout's factors, 1 without).
    gemm(false, true, B, H, GH, drec + static_cast<std::size_t>(t) * GH, T * GH, w.wh, GH, 0.0f,
         ws.tmp.data(), H);
    for (int b = 0; b < B; ++b) {
      if (t < length_of(lengths, b, T)) {
        const std::size_t o = static_cast<std::size_t>(b) * H;
        for (int j = 0; j < H; ++j) {
          ws.carry[o + j] = ws.tmp[o + j] * (drop.rec ? drop.rec[o + j] : 1.0f) + direct[o + j];
        }
      }
    }
  }
  for (std::size_t r = 0; r < rows; ++r) {
    for (int j = 0; j < GH; ++j) gw.bh[j] += ws.dz[r * GH + j];
    if (cfg.cell == Cell::kGru) {
      for (int j = 0; j < GH; ++j) gw.bh[GH + j] += ws.z[r * GH + j];
    }
  }
  gather_previous_states(S, B, T, H, C, dir, ws.prev);
  block_weight_gradients(B, T, I, H, GH, in, ws.prev, drec, ws.dz.data(), w, gw, drop, ws);
}

// Keras' dot-product attention of one sequence (reference.cpp's dot_attention_forward) as GEMMs
// over its L valid steps: dots = H H^T, a_i = softmax_j(scale dots_ij) (each row less its
// largest), O = A H, c = sum_i O_i * h_i, and the weights averaged over the queries into `mean_a`.
// dots and a are [T, T] (row stride T), O [T, C]: only their first L rows and columns are
// written, and only those are read.
void dot_attention_forward(const float* hb, int T, int C, int L, float scale, float* dots, float* a,
                           float* o, float* c, float* mean_a) {
  gemm(false, true, L, L, C, hb, C, hb, C, 0.0f, dots, T);
  for (int i = 0; i < L; ++i) {
    const float* d = dots + static_cast<std::size_t>(i) * T;
    float* ai = a + static_cast<std::size_t>(i) * T;
    float top = -std::numeric_limits<float>::infinity(), sum = 0;
    for (int j = 0; j < L; ++j) top = std::max(top, scale * d[j]);
    for (int j = 0; j < L; ++j) {
      ai[j] = std::exp(scale * d[j] - top);
      sum += ai[j];
    }
    const float inv = 1.0f / sum;
    for (int j = 0; j < L; ++j) ai[j] *= inv;
  }
  gemm(false, false, L, C, L, a, T, hb, C, 0.0f, o, C);
  const float per_query = 1.0f / L;
  for (int i = 0; i < L; ++i) {
    const float* oi = o + static_cast<std::size_t>(i) * C;
    const float* hi = hb + static_cast<std::size_t>(i) * C;
    for (int k = 0; k < C; ++k) c[k] += oi[k] * hi[k];
    const float* ai = a + static_cast<std::size_t>(i) * T;
    for (int j = 0; j < L; ++j) mean_a[j] += ai[j] * per_query;
  }
}

// Its backward (reference.cpp's dot_attention_backward) from dc: adds dL/d(states) to db [T, C]
// and returns dL/dscale. dout [T, C] and da [T, T] are scratch.
float dot_attention_backward(const float* hb, int T, int C, int L, float scale, const float* dots,
                             const float* a, const float* o, const float* dc, float* db,
                             float* dout, float* da) {
  for (int i = 0; i < L; ++i) {  // c = sum_i o_i * h_i
    const std::size_t r = static_cast<std::size_t>(i) * C;
    for (int k = 0; k < C; ++k) {
      dout[r + k] = dc[k] * hb[r + k];
      db[r + k] += dc[k] * o[r + k];
    }
  }
  gemm(false, true, L, L, C, dout, C, hb, C, 0.0f, da, T);  // da_ij = do_i . h_j
  gemm(true, false, L, C, L, a, T, dout, C, 1.0f, db, C);   // dh_j += sum_i a_ij do_i
  float dscale = 0;
  for (int i = 0; i < L; ++i) {  // through the softmax; then de_ij times the scale, in da
    const float* ai = a + static_cast<std::size_t>(i) * T;
    const float* d = dots + static_cast<std::size_t>(i) * T;
    float* dai = da + static_cast<std::size_t>(i) * T;
    float mean = 0;
    for (int j = 0; j < L; ++j) mean += ai[j] * dai[j];
    for (int j = 0; j < L; ++j) {
      const float de = ai[j] * (dai[j] - mean);
      dscale += de * d[j];
      dai[j] = scale * de;
    }
  }
  // dh_i += sum_j de_ij h_j and dh_j += sum_i de_ij h_i are one product with de + de^T.
  for (int i = 0; i < L; ++i) {
    for (int j = 0; j < i; ++j) {
      float& lower = da[static_cast<std::size_t>(i) * T + j];
      float& upper = da[static_cast<std::size_t>(j) * T + i];
      lower = upper = lower + upper;
    }
    da[static_cast<std::size_t>(i) * T + i] *= 2.0f;
  }
  gemm(false, false, L, C, L, da, T, hb, C, 1.0f, db, C);
  return dscale;
}

// The forward pass over sequences [0, B) of one part (a contiguous slice of the caller's batch).
void forward_part(const ModelConfig& cfg, const float* params, const float* x, int B,
                  const int* lengths, const DropoutKey* dropout, int b0, Part& ws) {
  const ParamLayout layout(cfg);
  const int H = cfg.hidden_size, T = cfg.steps, C = cfg.context_size(), O = cfg.output_size;
  const std::size_t rows = static_cast<std::size_t>(B) * T;
  ws.states.resize(cfg.layers);
  for (auto& s : ws.states) s.resize(rows * C);  // every entry is written below
  ws.pre.resize(rows * H);

  for (std::size_t bi = 0; bi < layout.blocks().size(); ++bi) {
    const ParamLayout::Block& blk = layout.blocks()[bi];
    const BlockView<const float> w = block_view(blk, params);
    const int I = blk.input;
    // The block's input, masked by the layer's input dropout where it has one.
    const LayerDropout drop =
        draw_layer_dropout(cfg, dropout, b0, B, blk, bi, layout.blocks().size(), ws);
    const float* raw = blk.layer == 0 ? x : ws.states[blk.layer - 1].data();
    const float* in = drop.in ? masked_input(raw, B, T, I, drop.in, ws.masked) : raw;
    float* S = ws.states[blk.layer].data() + static_cast<std::size_t>(blk.direction) * H;
    if (cfg.cell != Cell::kElman) {
      ws.aux.resize(layout.blocks().size());
      forward_gated_block(cfg, blk, w, in, S, B, lengths, drop, ws.aux[bi], ws);
      continue;
    }
    ws.pre.resize(rows * H);
    // P = X Wx + bh over every (b, t) row: one GEMM.
    for (std::size_t r = 0; r < rows; ++r) std::copy_n(w.bh, H, &ws.pre[r * H]);
    gemm(false, false, static_cast<int>(rows), H, I, in, I, w.wx, H, 1.0f, ws.pre.data(), H);
    for (int n = 0; n < T; ++n) {
      const int t = blk.direction == 0 ? n : T - 1 - n;
      const int tp = prev_step(blk.direction, t, T);
      // h_t = tanh(P_t + h_prev Wh) for the whole batch, computed in place in the states (rows
      // of one step are T*C apart): P_t copied in, the GEMM adds h_prev Wh, tanh.
      float* St = S + static_cast<std::size_t>(t) * C;
      const std::size_t stride = static_cast<std::size_t>(T) * C;
      for (int b = 0; b < B; ++b) {
        std::copy_n(&ws.pre[(static_cast<std::size_t>(b) * T + t) * H], H, St + b * stride);
      }
      if (tp >= 0) recurrent_product(S, B, T, C, H, H, tp, w.wh, drop, 1.0f, St, T * C, ws);
      for (int b = 0; b < B; ++b) {
        float* ht = St + b * stride;
        if (t < length_of(lengths, b, T)) {
          tanh_inplace(ht, H);
        } else if (tp >= 0) {  // padding: the state passes through
          std::copy_n(S + static_cast<std::size_t>(b) * stride + static_cast<std::size_t>(tp) * C,
                      H, ht);
        } else {
          std::fill_n(ht, H, 0.0f);
        }
      }
    }
  }

  // Attention (or the final states), then the head, one sequence at a time.
  const ParamView<const float> p = make_view(layout, params);
  const std::vector<float>& top = ws.states.back();
  ws.context.assign(static_cast<std::size_t>(B) * C, 0.0f);
  ws.y.resize(static_cast<std::size_t>(B) * O);
  if (dropout) {
    ws.keep.resize(static_cast<std::size_t>(B) * C);
  } else {
    ws.keep.clear();  // no dropout: the backward reads c itself
  }
  if (cfg.attention) {
    ws.scores.assign(rows, 0.0f);
    ws.weights.assign(rows, 0.0f);
  }
  if (cfg.dot_attention()) {  // each sequence writes what it reads (dot_attention_forward)
    ws.dots.resize(rows * T);
    ws.attn.resize(rows * T);
    ws.outputs.resize(rows * C);
  }
  for (int b = 0; b < B; ++b) {
    const int L = length_of(lengths, b, T);
    float* c = &ws.context[static_cast<std::size_t>(b) * C];
    const float* hb = &top[static_cast<std::size_t>(b) * T * C];
    if (cfg.dot_attention()) {
      const std::size_t r = static_cast<std::size_t>(b) * T;
      dot_attention_forward(hb, T, C, L, p.scale ? *p.scale : 1.0f, &ws.dots[r * T],
                            &ws.attn[r * T], &ws.outputs[r * C], c, &ws.weights[r]);
    } else if (cfg.attention) {
      float* e = &ws.scores[static_cast<std::size_t>(b) * T];
      float* a = &ws.weights[static_cast<std::size_t>(b) * T];
      float sum = 0;
      for (int t = 0; t < L; ++t) {  // e_t in [-1, 1]: exp cannot overflow
        const float* ht = hb + static_cast<std::size_t>(t) * C;
        float u = p.ba[t];
        for (int j = 0; j < C; ++j) u += ht[j] * p.wa[j];
        e[t] = std::tanh(u);
        a[t] = std::exp(e[t]);
        sum += a[t];
      }
      const float inv = 1.0f / sum;
      for (int t = 0; t < L; ++t) {
        a[t] *= inv;
        const float* ht = hb + static_cast<std::size_t>(t) * C;
        for (int j = 0; j < C; ++j) c[j] += a[t] * ht[j];
      }
    } else {
      for (int dir = 0; dir < cfg.directions(); ++dir) {
        const int t = dir == 0 ? T - 1 : 0;
        std::copy_n(hb + static_cast<std::size_t>(t) * C + dir * H, H, c + dir * H);
      }
    }
    // Dropout on the context (training): the factors of the batch's row b0 + b, kept for the
    // backward; then the head on c * keep.
    const float* keep = nullptr;
    if (dropout) {
      float* k = &ws.keep[static_cast<std::size_t>(b) * C];
      for (int j = 0; j < C; ++j)
        k[j] = dropout_factor(dropout->seed, dropout->step, b0 + b, j, cfg.dropout);
      keep = k;
    }
    float* y = &ws.y[static_cast<std::size_t>(b) * O];
    for (int o = 0; o < O; ++o) {
      float pre = p.bd[o];
      for (int j = 0; j < C; ++j) {
        pre += (keep ? c[j] * keep[j] : c[j]) * p.wd[static_cast<std::size_t>(j) * O + o];
      }
      y[o] = pre;
    }
    head_activate(cfg.head, y, O);
  }
}

// The backward pass of one part, after forward_part on it: overwrites dparams with this part's
// gradient.
void backward_part(const ModelConfig& cfg, const float* params, const float* x, int B,
                   const int* lengths, const float* dy, float* dparams, float* dx, Part& ws) {
  const ParamLayout layout(cfg);
  const ParamView<const float> p = make_view(layout, params);
  std::fill(dparams, dparams + layout.size(), 0.0f);
  const ParamView<float> g = make_view(layout, dparams);
  const int D = cfg.input_size, H = cfg.hidden_size, T = cfg.steps, O = cfg.output_size;
  const int C = cfg.context_size();
  const std::size_t rows = static_cast<std::size_t>(B) * T;
  const std::vector<float>& top = ws.states.back();

  // Head and attention, per sequence: dstates = dL/d(top states) [B, T, C]. dstates and dinput
  // trade places per layer: both keep room for the wider of C and D, so that no call reallocates.
  const std::size_t widest = rows * std::max(C, D);
  ws.dstates.reserve(widest);
  ws.dinput.reserve(widest);
  ws.dstates.assign(rows * C, 0.0f);
  ws.dc.resize(C);
  ws.dpre.resize(O);
  if (cfg.dot_attention()) {  // dot_attention_backward's scratch
    ws.dout.resize(static_cast<std::size_t>(T) * C);
    ws.dattn.resize(static_cast<std::size_t>(T) * T);
  }
  for (int b = 0; b < B; ++b) {
    const int L = length_of(lengths, b, T);
    const float* c = &ws.context[static_cast<std::size_t>(b) * C];
    const float* keep = ws.keep.empty() ? nullptr : &ws.keep[static_cast<std::size_t>(b) * C];
    std::fill(ws.dc.begin(), ws.dc.end(), 0.0f);
    const std::size_t row = static_cast<std::size_t>(b) * O;
    head_backward(cfg.head, &ws.y[row], dy + row, ws.dpre.data(), O);
    for (int o = 0; o < O; ++o) {
      const float dpre = ws.dpre[o];
      g.bd[o] += dpre;
      for (int j = 0; j < C; ++j) {
        g.wd[static_cast<std::size_t>(j) * O + o] += (keep ? c[j] * keep[j] : c[j]) * dpre;
        ws.dc[j] += dpre * p.wd[static_cast<std::size_t>(j) * O + o];
      }
    }
    if (keep) {
      for (int j = 0; j < C; ++j) ws.dc[j] *= keep[j];
    }
    const float* hb = &top[static_cast<std::size_t>(b) * T * C];
    float* db = &ws.dstates[static_cast<std::size_t>(b) * T * C];
    if (cfg.dot_attention()) {
      const std::size_t r = static_cast<std::size_t>(b) * T;
      const float ds = dot_attention_backward(hb, T, C, L, p.scale ? *p.scale : 1.0f,
                                              &ws.dots[r * T], &ws.attn[r * T], &ws.outputs[r * C],
                                              ws.dc.data(), db, ws.dout.data(), ws.dattn.data());
      if (g.scale) *g.scale += ds;
    } else if (cfg.attention) {
      const float* e = &ws.scores[static_cast<std::size_t>(b) * T];
      const float* a = &ws.weights[static_cast<std::size_t>(b) * T];
      float g_dot_c = 0;
      for (int j = 0; j < C; ++j) g_dot_c += ws.dc[j] * c[j];
      for (int t = 0; t < L; ++t) {
        const float* ht = hb + static_cast<std::size_t>(t) * C;
        float* dht = db + static_cast<std::size_t>(t) * C;
        float g_dot_h = 0;
        for (int j = 0; j < C; ++j) g_dot_h += ws.dc[j] * ht[j];
        const float du = a[t] * (g_dot_h - g_dot_c) * (1.0f - e[t] * e[t]);
        g.ba[t] += du;
        for (int j = 0; j < C; ++j) {
          g.wa[j] += du * ht[j];
          dht[j] = a[t] * ws.dc[j] + du * p.wa[j];
        }
      }
    } else {
      for (int dir = 0; dir < cfg.directions(); ++dir) {
        const int t = dir == 0 ? T - 1 : 0;
        std::copy_n(&ws.dc[dir * H], H, db + static_cast<std::size_t>(t) * C + dir * H);
      }
    }
  }

  // BPTT, layer by layer from the top, each block against its direction. Per step one GEMM for
  // the carry (dz Wh^T); the weight gradients and dL/dinput as GEMMs over all rows at the end.
  ws.dz.resize(rows * H);
  ws.prev.resize(rows * H);
  ws.carry.resize(static_cast<std::size_t>(B) * H);
  ws.tmp.resize(static_cast<std::size_t>(B) * H);
  for (int l = cfg.layers - 1; l >= 0; --l) {
    const int I = l == 0 ? D : C;
    const float* in = l == 0 ? x : ws.states[l - 1].data();
    ws.dinput.assign(rows * I, 0.0f);
    for (int dir = 0; dir < cfg.directions(); ++dir) {
      const ParamLayout::Block& blk = layout.block(l, dir);
      const BlockView<const float> w = block_view(blk, params);
      const BlockView<float> gw = block_view(blk, dparams);
      const float* S = ws.states[l].data() + static_cast<std::size_t>(dir) * H;
      const float* dS = ws.dstates.data() + static_cast<std::size_t>(dir) * H;
      const std::size_t bi = static_cast<std::size_t>(l) * cfg.directions() + dir;
      const LayerDropout drop = kept_layer_dropout(ws, bi);
      if (cfg.cell != Cell::kElman) {
        backward_gated_block(cfg, blk, w, gw, in, S, dS, B, lengths, drop, ws.aux[bi], ws);
        continue;
      }
      ws.dz.resize(rows * H);
      ws.carry.resize(static_cast<std::size_t>(B) * H);
      ws.tmp.resize(static_cast<std::size_t>(B) * H);
      std::fill(ws.carry.begin(), ws.carry.end(), 0.0f);
      for (int n = T - 1; n >= 0; --n) {
        const int t = dir == 0 ? n : T - 1 - n;
        const int tp = prev_step(dir, t, T);
        bool any_valid = false;
        for (int b = 0; b < B; ++b) {
          const std::size_t r = static_cast<std::size_t>(b) * T + t;
          const float* dht = dS + r * C;
          float* carry = &ws.carry[static_cast<std::size_t>(b) * H];
          float* dzr = &ws.dz[r * H];
          if (t >= length_of(lengths, b, T)) {  // padding: the gradient passes through
            for (int j = 0; j < H; ++j) carry[j] += dht[j];
            std::fill_n(dzr, H, 0.0f);
            continue;
          }
          any_valid = true;
          const float* ht = S + r * C;
          for (int j = 0; j < H; ++j) dzr[j] = (dht[j] + carry[j]) * (1.0f - ht[j] * ht[j]);
        }
        if (tp < 0 || !any_valid) continue;
        // carry = dz_t Wh^T for the valid sequences (rows of dz_t are T*H apart).
        gemm(false, true, B, H, H, &ws.dz[static_cast<std::size_t>(t) * H], T * H, w.wh, H, 0.0f,
             ws.tmp.data(), H);
        for (int b = 0; b < B; ++b) {
          if (t < length_of(lengths, b, T)) {
            const std::size_t o = static_cast<std::size_t>(b) * H;
            for (int j = 0; j < H; ++j)
              ws.carry[o + j] = ws.tmp[o + j] * (drop.rec ? drop.rec[o + j] : 1.0f);
          }
        }
      }
      for (std::size_t r = 0; r < rows; ++r) {
        const float* dzr = &ws.dz[r * H];
        for (int j = 0; j < H; ++j) gw.bh[j] += dzr[j];
      }
      gather_previous_states(S, B, T, H, C, dir, ws.prev);  // dWh = H_prev^T dZ
      block_weight_gradients(B, T, I, H, H, in, ws.prev, ws.dz.data(), ws.dz.data(), w, gw, drop,
                             ws);
    }
    ws.dstates.swap(ws.dinput);  // dL/d(this layer's input): the states of the layer below
  }
  if (dx) std::copy_n(ws.dstates.data(), rows * D, dx);
}

// While it lives, the thread's SSE/AVX arithmetic flushes subnormal results to zero and reads
// subnormal operands as zero (MXCSR's FTZ and DAZ); it restores the thread's mode when it ends.
// A pass's values far below float's normal range are rounding noise, but each one costs the core
// a microcode assist: the notebook's training step (dot-product attention over a saturating
// bidirectional LSTM) ran 3.2x slower at two threads with them (docs/performance.md). The
// reference keeps IEEE subnormals; the fast path stays within float rounding of it.
class FlushSubnormals {
 public:
#if defined(__x86_64__)
  FlushSubnormals() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFtz | kDaz); }
  ~FlushSubnormals() { _mm_setcsr(saved_); }

 private:
  static constexpr unsigned kFtz = 0x8000, kDaz = 0x0040;
  unsigned saved_;
#else
 public:
  FlushSubnormals() = default;
#endif
  FlushSubnormals(const FlushSubnormals&) = delete;
  FlushSubnormals& operator=(const FlushSubnormals&) = delete;
};

// Runs part(k) for k in [0, K), in parallel when K > 1 (one thread each), rethrowing the first
// exception on the calling thread once every part has finished.
template <typename F>
void for_each_part(int K, const F& part) {
  if (K == 1) {
    const FlushSubnormals flush;
    part(0);
    return;
  }
  std::vector<std::exception_ptr> errors(K);
#pragma omp parallel for num_threads(K) schedule(static, 1)
  for (int k = 0; k < K; ++k) {
    try {
      const FlushSubnormals flush;
      part(k);
    } catch (...) {
      errors[k] = std::current_exception();
    }
  }
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}
}  // namespace

int parts_for(int batch) {
  // Each part keeps at least kMinRows sequences, so that its per-step GEMMs stay matrix products.
  constexpr int kMinRows = 4;
  return std::max(1, std::min(g_threads.load(), batch / kMinRows));
}

void forward(const ModelConfig& cfg, const float* params, const float* x, int B, const int* lengths,
             Workspace& ws, const DropoutKey* dropout) {
  const int K = parts_for(B);
  blas_threads(K == 1 ? g_threads.load() : 1);
  ws.parts.resize(K);
  ws.first.resize(K + 1);
  for (int k = 0; k <= K; ++k) ws.first[k] = static_cast<int>(static_cast<long>(B) * k / K);
  const std::size_t xs = static_cast<std::size_t>(cfg.steps) * cfg.input_size;
  for_each_part(K, [&](int k) {
    const int b0 = ws.first[k];
    forward_part(cfg, params, x + b0 * xs, ws.first[k + 1] - b0, lengths ? lengths + b0 : nullptr,
                 dropout, b0, ws.parts[k]);
  });
  ws.y.resize(static_cast<std::size_t>(B) * cfg.output_size);
  float* y = ws.y.data();
  for (const Part& p : ws.parts) y = std::copy(p.y.begin(), p.y.end(), y);
}

void backward(const ModelConfig& cfg, const float* params, const float* x, int B,
              const int* lengths, const float* dy, float* dparams, float* dx, Workspace& ws) {
  const int K = static_cast<int>(ws.parts.size());
  if (K == 0 || ws.first.back() != B) {
    throw InvalidArgument("fast::backward: call forward on the same batch first");
  }
  const std::size_t n = ParamLayout(cfg).size();
  ws.grads.resize(K - 1);
  const std::size_t xs = static_cast<std::size_t>(cfg.steps) * cfg.input_size;
  for_each_part(K, [&](int k) {
    const int b0 = ws.first[k];
    float* g = dparams;
    if (k > 0) {
      ws.grads[k - 1].resize(n);
      g = ws.grads[k - 1].data();
    }
    backward_part(cfg, params, x + b0 * xs, ws.first[k + 1] - b0, lengths ? lengths + b0 : nullptr,
                  dy + static_cast<std::size_t>(b0) * cfg.output_size, g,
                  dx ? dx + b0 * xs : nullptr, ws.parts[k]);
  });
  // The parts' gradients summed in part order: the same bits for the same thread count.
  for (const std::vector<float>& g : ws.grads) {
    for (std::size_t i = 0; i < n; ++i) dparams[i] += g[i];
  }
}

void copy_outputs(const Workspace& ws, float* attention, float* hidden) {
  for (const Part& p : ws.parts) {
    if (attention) attention = std::copy(p.weights.begin(), p.weights.end(), attention);
    if (hidden) hidden = std::copy(p.states.back().begin(), p.states.back().end(), hidden);
  }
}

bool preferred(const ModelConfig& cfg, int batch) {
  // Multiply-adds of one step of the recurrence over the batch: below this, the per-sequence
  // loops of the reference win over GEMM calls (measured: bench/bench_cpu.cpp,
  // docs/performance.md).
  const long work = static_cast<long>(batch) * cfg.hidden_size * cfg.hidden_size;
  return work >= 2048;
}

void set_threads(int n) {
  g_threads = n > 0 ? n : cores();
  blas_threads(g_threads);
}
int threads() { return g_threads; }

const char* blas_core() {
  (void)g_blas_kernels_chosen;
  return openblas_get_corename();
}

}  // namespace rnnattn::fast
