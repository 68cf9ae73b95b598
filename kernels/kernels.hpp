// Launchers of rnnattn's CUDA kernels (internal header, includable by plain C++).
// All pointers are device pointers. Shape letters as in include/rnnattn/config.hpp.
// Each launcher checks its launch and throws CudaError naming the kernel.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "rnnattn/config.hpp"
#include "tiling.hpp"

namespace rnnattn::kernels {

// Head activation codes shared by host and device (same order as rnnattn::Activation).
enum HeadAct : int { kHeadTanh = 0, kHeadLinear = 1, kHeadSigmoid = 2, kHeadSoftmax = 3 };

struct Shape {
  int batch;   // B
  int steps;   // T
  int input;   // D
  int hidden;  // H
  int output;  // O
  bool attention;
  int head;  // HeadAct
};

// The kernels' view of a model configuration at batch B.
inline Shape shape_of(const ModelConfig& c, int batch) {
  return Shape{batch,
               c.steps,
               c.input_size,
               c.hidden_size,
               c.output_size,
               c.attention,
               static_cast<int>(c.head)};
}

struct Weights {
  const float* wx;  // [D,H]
  const float* wh;  // [H,H]
  const float* bh;  // [H]
  const float* wa;  // [H]   (attention only)
  const float* ba;  // [T]   (attention only)
  const float* wd;  // [H,O]
  const float* bd;  // [O]
};

// out[c, r] = in[r, c] for a rows x cols matrix (32 x 32 tiles through shared memory).
void transpose(const float* in, float* out, int rows, int cols, cudaStream_t stream);

// ---- rnn_unfused.cu: the classic one-kernel-per-operation path ------------------------------
// (its recurrence steps, unfused_step and unfused_step_backward, below the argument structs).
// Lengths [B] (nullable) as in CellForwardArgs.
// e[b,t] = tanh(h[b,t,:] . wa + ba[t]); ex[b,t] = exp(e[b,t]) (both 0 on padding).
void unfused_scores(const float* hidden, const float* wa, const float* ba, int batch, int steps,
                    int hidden_size, const int* lengths, float* scores, float* ex,
                    cudaStream_t stream);
// a[b,t] = ex[b,t] / sum[b].
void unfused_normalise(const float* ex, const float* sum, int batch, int steps, float* a,
                       cudaStream_t stream);
// Row sums of a [rows, cols] matrix through CUB's segmented reduction.
void unfused_row_sums(const float* m, int rows, int cols, float* out, void* temp,
                      std::size_t* temp_bytes, cudaStream_t stream);
// c[b,:] = sum_t a[b,t] h[b,t,:].
void unfused_context(const float* hidden, const float* a, int batch, int steps, int hidden_size,
                     float* context, cudaStream_t stream);
// y = act(y + bd) in place, y [B,O].
void unfused_bias_act(float* y, const float* bd, int batch, int outputs, int head,
                      cudaStream_t stream);

// Attention + head backward as separate kernels (a cuDNN user's path): from the context c, the
// attention weights a, the scores e, the hidden states h and dy, writes dpre [B,O], du [B,T] and
// dh [B,T,H] = dL/dh_t from the attention (plain model: dc at t = T, 0 elsewhere), with dc [B,H]
// and g_dot_c [B] as scratch.
void unfused_attention_backward(const Shape& shape, const Weights& w, const float* hidden,
                                const float* scores, const float* attention, const float* context,
                                const float* y, const float* dy, float* dpre, float* dc,
                                float* g_dot_c, float* du, float* dh, cudaStream_t stream);

// ---- attention_head.cu: the attention and head over the top layer's states ----------------
struct AttentionHeadArgs {
  Shape shape;       // hidden = H; the states are C = H x directions wide
  int directions;    // 1 or 2
  const float* wa;   // [C]  (attention)
  const float* ba;   // [T]
  const float* wd;   // [C,O]
  const float* bd;   // [O]
  const float* top;  // [B,T,C] the top layer's states
  const int* lengths;
  // Forward outputs (nullable except y).
  float* y;          // [B,O]
  float* scores;     // [B,T]
  float* expsum;     // [B]
  float* context;    // [B,C]
  float* attention;  // [B,T]
  // Backward inputs and outputs.
  const float* prediction;  // [B,O] the forward's y
  const float* dy;          // [B,O]
  float* dpre;              // [B,O]
  float* du;                // [B,T]
  float* dtop;              // [B,T,C] dL/d(top states)
  // Keras' dot-product attention instead of the additive one (wa and ba unused): the learned
  // scale (use_scale; null: 1), each query's softmax maximum and sum of exponentials (the forward
  // writes them, the backward recomputes every weight from them), and dL/dscale per sequence.
  bool dot;
  const float* scale;  // [1] or null
  float* rowmax;       // [B,T]
  float* rowsum;       // [B,T]
  float* dscale;       // [B] (backward; null without use_scale)
  // Dropout on the context (training; rate 0: none): the head reads c * keep, keep from
  // dropout.hpp's dropout_factor(seed, *step (0 where null), b, j, rate); `kept` [B,C] receives
  // c * keep (the context itself still goes to `context`, which the attention's backward reads).
  float dropout;
  std::uint64_t dropout_seed;
  const std::int64_t* dropout_step;
  float* kept;
};
// y (and the stored tensors) from the top layer's states: for every model whose recurrence does not
// run them inside (stacked and bidirectional models, the persistent and cluster designs of the
// layered ones, and every model with the dot-product attention, `dot`).
void attention_head_forward(const AttentionHeadArgs& args, cudaStream_t stream);
// dpre, du and dtop from dy, y and what attention_head_forward stored.
void attention_head_backward(const AttentionHeadArgs& args, cudaStream_t stream);

// ---- rnn_segment.cu: the recurrence of one block (layer, direction) of any cell --------------
// Every model runs layer by layer: per block one GEMM for the input projection of every step,
// the recurrence below, then attention_head_forward over the top states; a one-layer,
// one-direction model instead runs its attention and head inside the recurrence
// (segment_forward_with_head / segment_backward_with_head). G = 1 (Elman), 4 (LSTM) or 3 (GRU)
// gates in Keras' order; A = 0, 5 or 4 kept values a step (model_math.hpp's aux_width): LSTM
// [i f g o c], GRU [z r n rn].
struct CellForwardArgs {
  Cell cell;
  int batch, steps, hidden;  // B, T, H
  int stride;                // C: row length of `out`
  int direction;             // 0: t = 0..T-1, 1: t = T-1..0
  const float* xw;           // [B,T,G*H] in_t Wx (no bias)
  const float* wh;           // [H,G*H]
  const float* bias;         // [G*H] (GRU: the input bias, then the recurrent bias [G*H])
  const int* lengths;        // [B] or null: all T. Padding (t >= length) keeps the state.
  float* out;                // the block's column slice of [B,T,C] (already offset by dir * H),
                             // or null with the head in inference (nothing reads the states)
  float* aux;                // gated cells: [B,T,A*H] what each step keeps for backward, or null
                             // (inference on the segment kernels; the unfused step needs it)
};
// The recurrence as one segment-mapped kernel: a segment of threads per sequence, thread j owning
// unit j's G columns. `count` blocks (1, or a bidirectional layer's 2 directions, each with its
// own xw, out and aux) in one launch, side by side.
void segment_forward(const CellForwardArgs* args, int count, cudaStream_t stream);

struct CellBackwardArgs {
  Cell cell;
  int batch, steps, hidden, stride, direction;
  const float* states;  // the block's slice of [B,T,C]
  const float* aux;     // [B,T,A*H] from the training forward (gated cells)
  const float* dout;    // its slice of dL/d(states) [B,T,C]
  const float* wh_t;    // [G*H,H] Wh transposed (transpose(); the fused path's kernels)
  const int* lengths;   // [B] or null
  float* d_in;          // [B,T,G*H] dL/d(xw_t + b) (0 on padding): dWx = in^T d_in (the Elman
                        // cell's dz_t)
  float* drec_next;     // [B,T,G*H] row t: dL/drec of the step processed after t (0 at the
                        // end), so that dWh = states^T drec_next
  float* drec_first;    // [B,G*H] dL/drec of each sequence's first step, or null (the GRU's
                        // recurrent bias is the sum of every step's)
};
// As segment_forward: `count` blocks' BPTT in one launch, each with its own wh_t, d_in, drec_next
// and drec_first.
void segment_backward(const CellBackwardArgs* args, int count, cudaStream_t stream);
// A one-layer, one-direction model's whole pass in one kernel: the recurrence with the attention
// and head inside it. The cell's arguments as above (direction 0, stride H; forward: `out` may be
// null in inference; backward: `dout` unused, dL/dh_t comes from the head), the head's as for
// attention_head_* (`top`, `dtop` unused; the backward reads the states from cell.states).
void segment_forward_with_head(const CellForwardArgs& cell, const AttentionHeadArgs& head,
                               cudaStream_t stream);
void segment_backward_with_head(const CellBackwardArgs& cell, const AttentionHeadArgs& head,
                                cudaStream_t stream);

// ---- rnn_unfused.cu: the unfused path's recurrence steps, any cell ---------------------------
// Step n of the processing order, after the GEMM rec [B,G*H] = h_prev Wh (rows of the previous
// step's states; not read at n = 0). The gated cells keep what a step keeps in aux (not null).
void unfused_step(const CellForwardArgs& args, const float* rec, int n, cudaStream_t stream);
// The unfused BPTT's step n (n = T-1 first): dL/dh_t = carry + dout_t, then the cell's backward
// into d_in, drec_next (drec_first); carry and carry_c (the LSTM's; else null) [B,H] start at 0,
// and the step leaves in carry what the caller's GEMM adds to for n > 0 (carry +=
// drec_next[rows of step n-1] Wh^T): the direct part, or on padding dL/dh_t itself.
void unfused_step_backward(const CellBackwardArgs& args, float* carry, float* carry_c, int n,
                           cudaStream_t stream);

// ---- rnn_persistent.cu: a block's recurrence as one cooperative launch over the whole GPU ----
// A grid barrier per step, Wh held on chip (the whole-GPU mapping of whole_gpu.cuh, its grid
// exchange). They write what the segment kernels write. They return false, launching nothing,
// where the GPU cannot hold the grid co-resident (or refused it before): the caller then runs the
// segment kernels. The kernels read, in the same launch, what other blocks wrote after a grid
// barrier: the states (`out`, staged as h_{t-1}), drec_next (staged as the step after's dL/drec),
// the head's context, attention, dpre and du, and their scratch. Never mark these pointers
// __restrict__ or read them through __ldg (const __restrict__ lets the compiler do so): the
// read-only data path is not coherent with writes made during the kernel and may return the stale
// value from before the barrier. Only the weights and the inputs (xw, dout, dy, the states in the
// backward, scores, expsum, lengths) are read-only for a whole launch.
//
// The blocks of any cell: `count` (1, or a bidirectional layer's 2 directions) in one grid of
// `count` planes where the GPU holds it co-resident, else one grid a direction; `tiling` from
// plan_gated (LSTM, GRU) or plan_layer (Elman). The forward stages h_{t-1} from `out`, which must
// not be null; Wh^T (wh_t) is read by the backward.
bool persistent_forward(const CellForwardArgs* args, int count, const PersistentTiling& tiling,
                        cudaStream_t stream);
bool persistent_backward(const CellBackwardArgs* args, int count, const PersistentTiling& tiling,
                         cudaStream_t stream);
// Floats of device scratch the kernels with the head need for this shape.
std::size_t persistent_scratch_floats(const Shape& shape);
// A one-layer, one-direction Elman model's whole pass with the attention and head inside, as
// segment_forward_with_head / segment_backward_with_head, `tiling` from plan_recurrence (the
// forward's `out` may be null in inference: h_{t-1} then goes through the scratch); scratch:
// persistent_scratch_floats().
bool persistent_forward_with_head(const CellForwardArgs& cell, const AttentionHeadArgs& head,
                                  const PersistentTiling& tiling, float* scratch,
                                  cudaStream_t stream);
bool persistent_backward_with_head(const CellBackwardArgs& cell, const AttentionHeadArgs& head,
                                   const PersistentTiling& tiling, float* scratch,
                                   cudaStream_t stream);

// ---- rnn_cluster.cu: the Elman cell's recurrence in thread-block clusters (sm_90) -----------
// The persistent kernels' tiling scoped to a cluster (plan.hpp's ClusterTiling): cluster k owns
// batch group k, h_t and dz_t travel through distributed shared memory and a cluster barrier
// replaces the grid barrier; each cluster stops at its group's longest sequence. `order` [B]:
// which sequence each group slot holds (a permutation of 0..B-1, such as length_order's, so that
// a group's sequences have similar lengths), or null: in order; results land at each sequence's
// own index either way. The forward's `order` and the backward's must be the same. They write
// what the segment kernels write and need no scratch. Return false, launching nothing, where
// this GPU has no clusters or cannot hold one cluster; the caller then runs the segment kernels.
// The blocks of stacked and bidirectional models: `count` directions side by side in one launch,
// `tiling` from plan_layer (a direction's).
bool cluster_forward(const CellForwardArgs* args, int count, const ClusterTiling& tiling,
                     const int* order, cudaStream_t stream);
bool cluster_backward(const CellBackwardArgs* args, int count, const ClusterTiling& tiling,
                      const int* order, cudaStream_t stream);
// A one-layer, one-direction model's whole pass with the attention and head inside, as
// segment_forward_with_head / segment_backward_with_head; `tiling` from plan_recurrence.
bool cluster_forward_with_head(const CellForwardArgs& cell, const AttentionHeadArgs& head,
                               const ClusterTiling& tiling, const int* order, cudaStream_t stream);
bool cluster_backward_with_head(const CellBackwardArgs& cell, const AttentionHeadArgs& head,
                                const ClusterTiling& tiling, const int* order, cudaStream_t stream);
// Clusters of `cluster` blocks of these kernels, one block an SM, that the current device holds at
// once (cudaOccupancyMaxActiveClusters: its GPC layout decides); 0 without clusters. The plan's
// count is the forward kernel's; cluster_occupancy() gives each kernel's, for 1 to 8 blocks.
int max_resident_clusters(int cluster);
struct ClusterOccupancy {
  const char* kernel;
  int resident[kClusterMaxBlocks + 1];  // [n]: clusters of n blocks; [0] unused
};
std::vector<ClusterOccupancy> cluster_occupancy();
// order [B] = 0..B-1 sorted by length (lengths clamped to [1, T], as the kernels read them;
// stable: ties keep their index order), so that a cluster's group holds sequences of similar
// lengths. A counting sort, one thread a sequence: deterministic, no workspace.
void length_order(const int* lengths, int batch, int steps, int* order, cudaStream_t stream);

// ---- rnn_train_small.cu: whole epochs of a small model in one launch -------------------------
// Offsets of the tensors in the flat parameter buffer (params.hpp's ParamLayout).
struct ParamOffsets {
  int wx, wh, bh, wa, ba, wd, bd;
};
struct SmallTrainArgs {
  Shape shape;  // batch: the mini-batch size
  ParamOffsets offsets;
  int n_params;
  float* params;          // [P], updated in place
  float* m;               // [P] Adam moments
  float* v;               // [P]
  long long* step;        // Adam's step count, advanced once per batch
  const float* all_x;     // [N,T,D] the dataset
  const float* all_y;     // [N,O]
  const int* order;       // [n] the epoch's sample order
  int n;                  // samples this epoch (the last batch may be smaller)
  int loss;               // 0 MSE, 1 BCE
  float lr, b1, b2, eps;  // Adam (Keras form)
  double* loss_sum;       // += the batches' mean losses, added in order (nullable)
};
// Whether a model fits the small-model kernel (H <= 32, O <= 32, its state in 48 KB of shared
// memory).
bool small_train_fits(const Shape& shape, int n_params);
void small_train_epoch(const SmallTrainArgs& args, cudaStream_t stream);

// ---- train_ops.cu: loss, Adam and the training-step bookkeeping -----------------------------
// dy = dL/dy and, when loss_acc is not null, loss_acc += L (double, one block: a fixed summation
// order, deterministic), over n = B * O predictions; `outputs` = O (CCE averages over the B rows,
// reference_loss's semantics).
void loss_forward_backward(int loss, const float* y, const float* target, int n, int outputs,
                           float* dy, double* loss_acc, cudaStream_t stream);
// Adam over n parameters with the step count read from *step (already advanced).
void adam_update(float* params, const float* grads, float* m, float* v, int n, float lr,
                 float beta1, float beta2, float epsilon, const long long* step,
                 cudaStream_t stream);
// ++*step; *cursor += batch (either may be null).
void advance_counters(long long* step, int* cursor, int batch, cudaStream_t stream);
// x[i] = all_x[order[*cursor + i]], y likewise (and lengths, when all_len is not null), for
// i < batch.
void gather_batch(const float* all_x, const float* all_y, const int* all_len, const int* order,
                  const int* cursor, int batch, int x_row, int y_row, float* x, float* y, int* len,
                  cudaStream_t stream);
void fill(float* p, std::size_t n, float value, cudaStream_t stream);
// tokens [n] = all_tokens[order[*cursor + r]] rows of `steps` ids, for r < batch.
void gather_token_rows(const int* all_tokens, const int* order, const int* cursor, int batch,
                       int steps, int* tokens, cudaStream_t stream);

// ---- embedding.cu: the embedding (a model with V = config.vocab_size > 0) -----------------
constexpr int kEmbeddingReduceThreads = 128;
// x [B,T,D] = table [V,D] rows of tokens [B,T]; 0 on padding steps and for ids outside [0, V).
void embedding_forward(const float* table, const int* tokens, const int* lengths, int batch,
                       int steps, int dim, int vocab, float* x, cudaStream_t stream);
// Bytes of workspace embedding_backward needs for B*T positions.
std::size_t embedding_workspace_size(int batch, int steps, int vocab);
// dtable [V,D] = (accumulate ? dtable : 0) + the sums of dx [B,T,D] rows per id over the valid
// steps (CUB radix sort by id, then one deterministic sum per id).
void embedding_backward(const int* tokens, const int* lengths, int batch, int steps, int dim,
                        int vocab, const float* dx, bool accumulate, float* dtable, void* workspace,
                        std::size_t workspace_bytes, cudaStream_t stream);

}  // namespace rnnattn::kernels
