// The flat parameter buffer and its named views.
//
// All parameters of a model live in one contiguous float buffer, in this order:
//
//   Wx [D,H]   input weights
//   Wh [H,H]   recurrent weights
//   bh [H]     recurrent bias
//   wa [H]     attention score weights      (attention model only)
//   ba [T]     attention bias, one per step (attention model only)
//   Wd [H,O]   head weights
//   bd [O]     head bias
//
// Gradients use the same layout, so zeroing them is one fill and the optimiser is one loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "rnnattn/config.hpp"

namespace rnnattn {

struct TensorInfo {
  std::string name;    // "Wx", "Wh", "bh", "wa", "ba", "Wd", "bd"
  int rows = 0;        // for a vector: its length
  int cols = 1;        // for a vector: 1
  std::size_t offset;  // in elements, from the start of the flat buffer
  std::size_t size() const { return static_cast<std::size_t>(rows) * cols; }
};

class ParamLayout {
 public:
  static constexpr std::size_t kAbsent = static_cast<std::size_t>(-1);

  explicit ParamLayout(const ModelConfig& config);

  std::size_t size() const { return size_; }  // total number of parameters
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  // Offsets of each tensor in the flat buffer; wa and ba are kAbsent for the plain model.
  std::size_t wx, wh, bh, wa, ba, wd, bd;

 private:
  std::vector<TensorInfo> tensors_;
  std::size_t size_ = 0;
};

// Pointers into a flat buffer (params or gradients) following ParamLayout.
template <typename P>
struct ParamView {
  P* wx;  // [D,H]
  P* wh;  // [H,H]
  P* bh;  // [H]
  P* wa;  // [H]  (null for the plain model)
  P* ba;  // [T]  (null for the plain model)
  P* wd;  // [H,O]
  P* bd;  // [O]
};

template <typename P>
ParamView<P> make_view(const ParamLayout& l, P* base) {
  auto at = [&](std::size_t off) { return off == ParamLayout::kAbsent ? nullptr : base + off; };
  return ParamView<P>{at(l.wx), at(l.wh), at(l.bh), at(l.wa), at(l.ba), at(l.wd), at(l.bd)};
}

// Keras default initialisation, reproducible from `seed`:
//   Wx, Wd: glorot_uniform U(-l, l), l = sqrt(6 / (fan_in + fan_out));
//   Wh: orthogonal (QR of a standard normal matrix, columns sign-corrected by diag(R));
//   wa: normal(0, 0.05); all biases zero.
std::vector<float> init_parameters(const ModelConfig& config, std::uint64_t seed);

}  // namespace rnnattn
