// The CPU reference: forward and backward of the model, written as plain loops to be read.
// It is the oracle every other implementation is tested against. Instantiated for float (the CPU
// backend) and double (finite-difference gradient checks).
//
// Shapes (see config.hpp for the letters):
//   params  [ParamLayout(config).size()]   flat buffer, layout in params.hpp
//   x       [B, T, D]
//   y       [B, O]        predictions, y = act(c Wd + bd)
//   attention [B, T]      softmax weights a_t (attention model only; 0 on padding)
//   hidden  [B, T, C]     the top layer's states h_1..h_T (C = H x directions)
//   context [B, C]        c = sum_t a_t h_t (attention) or the final states (plain)
//   lengths [B]           valid steps per sequence, each in [1, T], or null: all T. Steps
//                         t >= length are padding: every layer's state passes through them
//                         unchanged, the attention gives them no weight, and x there is unused.
//   tokens  [B, T]        token ids of a model with an embedding (config.vocab_size = V > 0),
//                         each in [0, V) on the valid steps; ids on padding steps are ignored
//                         (any value, e.g. 0 or -1), their embedded x is 0.
#pragma once

#include "rnnattn/config.hpp"
#include "rnnattn/dropout.hpp"

namespace rnnattn {

// Forward pass. `y` is required; `attention`, `hidden` and `context` may be null.
// For the plain model `attention` must be null (there are no weights to return).
// `dropout` (a training step's key, dropout.hpp) applies config.dropout to the context before the
// head, batch row b's masks drawn as row b; null (inference): no dropout. `context` is c before it.
template <typename Real>
void reference_forward(const ModelConfig& config, const Real* params, const Real* x, int batch,
                       Real* y, Real* attention = nullptr, Real* hidden = nullptr,
                       Real* context = nullptr, const int* lengths = nullptr,
                       const DropoutKey* dropout = nullptr);

// Backward pass for an upstream gradient dy = dL/dy [B, O]. Overwrites dparams (same layout as
// params) with dL/dparams, and dx [B, T, D] with dL/dx when dx is not null. Recomputes the forward
// pass internally (with the same `dropout` key as the forward it differentiates).
template <typename Real>
void reference_backward(const ModelConfig& config, const Real* params, const Real* x, int batch,
                        const Real* dy, Real* dparams, Real* dx = nullptr,
                        const int* lengths = nullptr, const DropoutKey* dropout = nullptr);

// The embedding (models with config.vocab_size = V > 0): x [B, T, D] = the rows of emb [V, D]
// (params.hpp) that the tokens name, 0 on padding steps. Throws InvalidArgument naming the first
// token outside [0, V) on a valid step.
void check_tokens(const ModelConfig& config, const int* tokens, int batch, const int* lengths);
template <typename Real>
void embedding_forward(const ModelConfig& config, const Real* params, const int* tokens, int batch,
                       Real* x, const int* lengths = nullptr);
// Overwrites the emb [V, D] part of dparams with dL/demb: row v is the sum of dx [B, T, D] over
// the valid steps whose token is v (summed in (b, t) order), zero for ids that do not occur.
template <typename Real>
void embedding_backward(const ModelConfig& config, const int* tokens, int batch, const Real* dx,
                        Real* dparams, const int* lengths = nullptr);

// A token model's forward and backward: the embedding, then reference_forward / _backward of
// config.recurrent_part() on the embedded x. The plain entry points above refuse token models.
template <typename Real>
void reference_forward_tokens(const ModelConfig& config, const Real* params, const int* tokens,
                              int batch, Real* y, Real* attention = nullptr, Real* hidden = nullptr,
                              Real* context = nullptr, const int* lengths = nullptr);
// dparams: every tensor, the embedding's gradient included (embedding_backward).
template <typename Real>
void reference_backward_tokens(const ModelConfig& config, const Real* params, const int* tokens,
                               int batch, const Real* dy, Real* dparams,
                               const int* lengths = nullptr);

// Loss over n = B * O predictions [B, O], `outputs` = O, returned in double. MSE: mean (y - t)^2.
// BCE: mean of -[t log y + (1 - t) log(1 - y)]. CCE (O >= 2 given): the mean over the B rows of
// -sum_k t_k log y_k. BCE and CCE clip y to [1e-7, 1 - 1e-7] as Keras does. When dy is not null it
// receives dL/dy (zero where y was clipped).
template <typename Real>
double reference_loss(Loss loss, const Real* y, const Real* target, long n, Real* dy = nullptr,
                      int outputs = 1);

}  // namespace rnnattn
