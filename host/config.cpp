// The model configuration: validation, names of cells, heads and losses (rnnattn/config.hpp).
#include "rnnattn/config.hpp"

#include <sstream>

#include "rnnattn/error.hpp"

namespace rnnattn {
namespace {

void check_size(const char* field, const char* letter, int value, int max) {
  if (value < 1 || value > max) {
    std::ostringstream msg;
    msg << "model config: " << field << " (" << letter << ") must be in [1, " << max << "], got "
        << value;
    throw InvalidArgument(msg.str());
  }
}

}  // namespace

void ModelConfig::validate() const {
  check_size("input_size", "D", input_size, 1 << 16);
  check_size("hidden_size", "H", hidden_size, 1 << 14);
  check_size("steps", "T", steps, 1 << 22);
  check_size("output_size", "O", output_size, 1 << 16);
  check_size("layers", "L", layers, 16);
  if (vocab_size != 0) check_size("vocab_size", "V", vocab_size, 1 << 22);
  if (cell != Cell::kElman && cell != Cell::kLstm && cell != Cell::kGru) {
    throw InvalidArgument("model config: cell must be elman, lstm or gru, got " +
                          std::to_string(static_cast<int>(cell)));
  }
  if (score != AttentionScore::kAdditive && score != AttentionScore::kDot &&
      score != AttentionScore::kDotScaled) {
    throw InvalidArgument("model config: score must be additive, dot or dot-scaled, got " +
                          std::to_string(static_cast<int>(score)));
  }
  for (const auto& [name, rate] : {std::pair<const char*, float>{"dropout", dropout},
                                   {"input_dropout", input_dropout},
                                   {"recurrent_dropout", recurrent_dropout}}) {
    if (!(rate >= 0.f && rate < 1.f)) {
      throw InvalidArgument(std::string("model config: ") + name + " must be in [0, 1), got " +
                            std::to_string(rate));
    }
  }
  if (loss == Loss::kBce && head != Activation::kSigmoid) {
    throw InvalidArgument(std::string("model config: loss bce needs the sigmoid head, got head ") +
                          to_string(head));
  }
  if (loss == Loss::kCce && head != Activation::kSoftmax) {
    throw InvalidArgument(std::string("model config: loss cce needs the softmax head, got head ") +
                          to_string(head));
  }
  if (head == Activation::kSoftmax && output_size < 2) {
    throw InvalidArgument("model config: a softmax head needs output_size (O) >= 2 classes, got " +
                          std::to_string(output_size));
  }
}

const char* to_string(Activation a) {
  switch (a) {
    case Activation::kTanh:
      return "tanh";
    case Activation::kLinear:
      return "linear";
    case Activation::kSigmoid:
      return "sigmoid";
    case Activation::kSoftmax:
      return "softmax";
  }
  return "?";
}

const char* to_string(Loss l) {
  switch (l) {
    case Loss::kMse:
      return "mse";
    case Loss::kBce:
      return "bce";
    case Loss::kCce:
      return "cce";
  }
  return "?";
}

Activation parse_activation(std::string_view s) {
  if (s == "tanh") return Activation::kTanh;
  if (s == "linear") return Activation::kLinear;
  if (s == "sigmoid") return Activation::kSigmoid;
  if (s == "softmax") return Activation::kSoftmax;
  throw InvalidArgument("unknown head activation '" + std::string(s) +
                        "' (expected tanh, linear, sigmoid or softmax)");
}

int gates_of(Cell cell) {
  switch (cell) {
    case Cell::kLstm:
      return 4;
    case Cell::kGru:
      return 3;
    case Cell::kElman:
      break;
  }
  return 1;
}

const char* to_string(Cell c) {
  switch (c) {
    case Cell::kLstm:
      return "lstm";
    case Cell::kGru:
      return "gru";
    case Cell::kElman:
      break;
  }
  return "elman";
}

Cell parse_cell(std::string_view s) {
  if (s == "elman") return Cell::kElman;
  if (s == "lstm") return Cell::kLstm;
  if (s == "gru") return Cell::kGru;
  throw InvalidArgument("unknown cell '" + std::string(s) + "' (expected elman, lstm or gru)");
}

const char* to_string(AttentionScore s) {
  switch (s) {
    case AttentionScore::kAdditive:
      return "additive";
    case AttentionScore::kDot:
      return "dot";
    case AttentionScore::kDotScaled:
      return "dot-scaled";
  }
  return "?";
}

AttentionScore parse_score(std::string_view s) {
  if (s == "additive") return AttentionScore::kAdditive;
  if (s == "dot") return AttentionScore::kDot;
  if (s == "dot-scaled") return AttentionScore::kDotScaled;
  throw InvalidArgument("unknown attention '" + std::string(s) +
                        "' (expected additive, dot or dot-scaled)");
}

Loss parse_loss(std::string_view s) {
  if (s == "mse") return Loss::kMse;
  if (s == "bce") return Loss::kBce;
  if (s == "cce") return Loss::kCce;
  throw InvalidArgument("unknown loss '" + std::string(s) + "' (expected mse, bce or cce)");
}

std::string describe(const ModelConfig& c) {
  std::ostringstream o;
  o << (c.attention ? "attention" : "plain") << " D=" << c.input_size << " H=" << c.hidden_size
    << " T=" << c.steps << " O=" << c.output_size << " head=" << to_string(c.head)
    << " loss=" << to_string(c.loss);
  if (c.layers != 1) o << " layers=" << c.layers;
  if (c.bidirectional) o << " bidirectional";
  if (c.cell != Cell::kElman) o << " cell=" << to_string(c.cell);
  if (c.dot_attention()) o << " score=" << to_string(c.score);
  if (c.dropout > 0.f) o << " dropout=" << c.dropout;
  if (c.input_dropout > 0.f) o << " input_dropout=" << c.input_dropout;
  if (c.recurrent_dropout > 0.f) o << " recurrent_dropout=" << c.recurrent_dropout;
  if (c.embedded()) o << " vocab=" << c.vocab_size;
  return o.str();
}

}  // namespace rnnattn
