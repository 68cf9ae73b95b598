// Model configuration: the shapes and options of an Elman RNN with (optional) additive attention.
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

// Activation of the dense head: y = act(c Wd + bd).
enum class Activation { kTanh, kLinear, kSigmoid };

// Training loss. MSE: mean over batch and outputs. BCE: binary cross-entropy on sigmoid outputs.
enum class Loss { kMse, kBce };

struct ModelConfig {
  int input_size = 1;     // D
  int hidden_size = 2;    // H
  int steps = 20;         // T (the attention bias ba[T] ties the model to this length)
  int output_size = 1;    // O
  bool attention = true;  // false: the "plain" model y = act(h_T Wd + bd)
  // Recurrent structure (as Keras' stacked SimpleRNN(return_sequences=True) layers, each wrapped
  // in Bidirectional when `bidirectional`): layer l > 0 reads layer l-1's states; with two
  // directions a layer's state at step t is [forward h_t, backward h_t] (2H wide), and the
  // attention (or, for the plain model, the head) reads the top layer's states.
  int layers = 1;              // L
  bool bidirectional = false;  // two directions per layer
  Activation head = Activation::kTanh;
  Loss loss = Loss::kMse;

  // Throws InvalidArgument naming the offending field when a size is < 1 or unreasonably large,
  // or when BCE is combined with a head other than sigmoid.
  void validate() const;

  int directions() const { return bidirectional ? 2 : 1; }
  // Width of a top-layer state, the context and the head's input: H times the directions.
  int context_size() const { return hidden_size * directions(); }
  // True for the tutorial's structure: one unidirectional layer.
  bool single_layer() const { return layers == 1 && !bidirectional; }

  bool operator==(const ModelConfig& o) const {
    return input_size == o.input_size && hidden_size == o.hidden_size && steps == o.steps &&
           output_size == o.output_size && attention == o.attention && head == o.head &&
           loss == o.loss && layers == o.layers && bidirectional == o.bidirectional;
  }
  bool operator!=(const ModelConfig& o) const { return !(*this == o); }
};

const char* to_string(Activation a);
const char* to_string(Loss l);
// Parse "tanh" | "linear" | "sigmoid" (resp. "mse" | "bce"); throws InvalidArgument otherwise.
Activation parse_activation(std::string_view s);
Loss parse_loss(std::string_view s);

// A one-line description, e.g. "attention D=1 H=2 T=20 O=1 head=tanh loss=mse"; " layers=L" and
// " bidirectional" follow when they are not the defaults.
std::string describe(const ModelConfig& c);

}  // namespace rnnattn
