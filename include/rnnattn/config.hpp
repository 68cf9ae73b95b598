// Model configuration: the shapes and options of a recurrent network with (optional) attention.
//
// General notes for every rnnattn header:
//   - Shape letters: B batch, T time steps, D input features, H hidden units, O outputs.
//   - Tensors are dense and row-major (rightmost index fastest); x is [B, T, D], batch-major.
//   - Pointers in the host API are host pointers unless a function says otherwise.
//   - Optional outputs may be null; the documentation of each function says which.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rnnattn {

// Activation of the dense head: y = act(c Wd + bd). kSoftmax normalises the O outputs of each
// row together (y_k = exp(pre_k) / sum_j exp(pre_j)), Keras' Dense(K, activation="softmax");
// the others act on each output alone.
enum class Activation { kTanh, kLinear, kSigmoid, kSoftmax };

// How the attention scores the top layer's states h_t (docs/model.md, "Attention"):
//   kAdditive:  the tutorial's, e_t = tanh(h_t . wa + ba[t]), a = softmax_t(e), context
//               c = sum_t a_t h_t (parameters wa [C], ba [T]);
//   kDot:       Keras' dot-product Attention()([h, h]) with the states as query, key and value,
//               e_ij = h_i . h_j, a_i = softmax_j(e_i), o_i = sum_j a_ij h_j, and the notebook's
//               context c = sum_i o_i * h_i (elementwise product, summed over time); no parameters;
//   kDotScaled: the same with Keras' use_scale=True, e_ij = s (h_i . h_j), s a learned scalar
//               (parameter `scale`, initially 1).
// With lengths, padded steps are masked as keys and left out as queries.
enum class AttentionScore { kAdditive, kDot, kDotScaled };

// Training loss. MSE: mean over batch and outputs. BCE: binary cross-entropy on sigmoid outputs,
// mean over batch and outputs. CCE: categorical cross-entropy on a softmax head over K = O
// classes, -sum_k t_k log y_k per row (targets one-hot, or any distribution), mean over the batch
// (Keras' categorical_crossentropy).
enum class Loss { kMse, kBce, kCce };

// The recurrent cell of every (layer, direction) block, as Keras defines it (docs/model.md,
// "Cells"):
//   kElman: SimpleRNN, h_t = tanh(x_t Wx + h_{t-1} Wh + bh); 1 gate.
//   kLstm:  LSTM, gates i, f, c, o (Keras' order), sigmoid gates and tanh candidate and output,
//           c_t = f c_{t-1} + i g, h_t = o tanh(c_t); one bias of 4H; 4 gates.
//   kGru:   GRU with reset_after=True (Keras' default and cuDNN's variant), gates z, r, h (Keras'
//           order): z = sig(x Wz + bz + h Uz + b'z), r likewise, n = tanh(x Wn + bn + r (h Un +
//           b'n)), h_t = z h_{t-1} + (1 - z) n; an input bias and a recurrent bias of 3H each.
enum class Cell { kElman, kLstm, kGru };
// Gates per cell: the width of a block's Wx and Wh in units of H (1, 4, 3).
int gates_of(Cell cell);

struct ModelConfig {
  int input_size = 1;     // D
  int hidden_size = 2;    // H
  int steps = 20;         // T (the attention bias ba[T] ties the model to this length)
  int output_size = 1;    // O
  bool attention = true;  // false: the "plain" model y = act(h_T Wd + bd)
  AttentionScore score = AttentionScore::kAdditive;  // with attention: how steps are scored
  // Recurrent structure (as Keras' stacked SimpleRNN(return_sequences=True) layers, each wrapped
  // in Bidirectional when `bidirectional`): layer l > 0 reads layer l-1's states; with two
  // directions a layer's state at step t is [forward h_t, backward h_t] (2H wide), and the
  // attention (or, for the plain model, the head) reads the top layer's states.
  int layers = 1;              // L
  bool bidirectional = false;  // two directions per layer
  Cell cell = Cell::kElman;
  // A trainable embedding in front of the recurrent layers, as Keras' Embedding(V, D): V > 0 makes
  // the model's input token ids [B, T] (int32, each in [0, V); the tokenizer's 0 is padding and 1
  // out-of-vocabulary) looked up in a table emb [V, D] (params.hpp) instead of features x [B, T,
  // D]. 0: no embedding, the input is x. Token models run through the *_tokens entry points
  // (reference.hpp, backend.hpp); the others refuse them.
  int vocab_size = 0;  // V
  Activation head = Activation::kTanh;
  Loss loss = Loss::kMse;
  // Keras' Dropout(rate) on the context, before the head (the notebook's Dropout(0.5)): training
  // only, inverted (kept elements scaled by 1 / (1 - rate)), masks from dropout.hpp keyed by the
  // run's seed, the optimiser's step and the element. 0: none. In [0, 1).
  float dropout = 0.f;
  // The recurrent layers' own dropout, as Keras' LSTM(dropout=, recurrent_dropout=): training
  // only, inverted, one mask per (layer, direction, sequence) for all its steps (dropout.hpp's
  // layer_dropout_factor), shared by the gates. input_dropout masks each layer's input before
  // its input projection (in_t Wx), recurrent_dropout the previous state before the recurrent
  // product (h_{t-1} Wh) only (the GRU's z h_{t-1} and the LSTM's c read it unmasked). In [0, 1).
  float input_dropout = 0.f;
  float recurrent_dropout = 0.f;

  // Throws InvalidArgument naming the offending field when a size is < 1 or unreasonably large,
  // when BCE is combined with a head other than sigmoid, CCE with a head other than softmax, or a
  // softmax head has fewer than two outputs (its one output would always be 1).
  void validate() const;

  int directions() const { return bidirectional ? 2 : 1; }
  // Width of a top-layer state, the context and the head's input: H times the directions.
  int context_size() const { return hidden_size * directions(); }
  // True for the tutorial's structure: one unidirectional layer.
  bool single_layer() const { return layers == 1 && !bidirectional; }
  bool embedded() const { return vocab_size > 0; }
  // Whether training draws masks: dropout on the context or in the recurrent layers.
  bool any_dropout() const {
    return dropout > 0.f || input_dropout > 0.f || recurrent_dropout > 0.f;
  }
  bool layer_dropout() const { return input_dropout > 0.f || recurrent_dropout > 0.f; }
  // Attention of the tutorial's kind (the only kind with per-step parameters wa, ba).
  bool additive() const { return attention && score == AttentionScore::kAdditive; }
  // Keras' dot-product attention (kDot or kDotScaled).
  bool dot_attention() const { return attention && score != AttentionScore::kAdditive; }
  // The model without its embedding: the recurrent layers, attention and head that read the
  // embedded x [B, T, D]. Its parameters are the first ParamLayout(recurrent_part()).size() values
  // of this model's (the table comes last).
  ModelConfig recurrent_part() const {
    ModelConfig c = *this;
    c.vocab_size = 0;
    return c;
  }

  bool operator==(const ModelConfig& o) const {
    return input_size == o.input_size && hidden_size == o.hidden_size && steps == o.steps &&
           output_size == o.output_size && attention == o.attention &&
           (!attention || score == o.score) && head == o.head && loss == o.loss &&
           layers == o.layers && bidirectional == o.bidirectional && cell == o.cell &&
           vocab_size == o.vocab_size && dropout == o.dropout && input_dropout == o.input_dropout &&
           recurrent_dropout == o.recurrent_dropout;
  }
  bool operator!=(const ModelConfig& o) const { return !(*this == o); }
};

const char* to_string(Activation a);
const char* to_string(Loss l);
const char* to_string(Cell c);            // "elman" | "lstm" | "gru"
const char* to_string(AttentionScore s);  // "additive" | "dot" | "dot-scaled"
// Parse "tanh" | "linear" | "sigmoid" | "softmax" (resp. "mse" | "bce" | "cce"); throws
// InvalidArgument otherwise.
Activation parse_activation(std::string_view s);
Loss parse_loss(std::string_view s);
Cell parse_cell(std::string_view s);
AttentionScore parse_score(std::string_view s);

// A one-line description, e.g. "attention D=1 H=2 T=20 O=1 head=tanh loss=mse"; " layers=L" and
// " bidirectional", " cell=lstm|gru", " score=dot|dot-scaled", " dropout=R", " input_dropout=R",
// " recurrent_dropout=R" and " vocab=V" follow when they are not the defaults.
std::string describe(const ModelConfig& c);

}  // namespace rnnattn
