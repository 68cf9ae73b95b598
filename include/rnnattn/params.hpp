// The flat parameter buffer and its named views.
//
// All parameters of a model live in one contiguous float buffer, in this order:
//
//   for each layer l = 0..L-1, for each direction (forward, then backward when bidirectional):
//     Wx [I_l,G*H]  input weights; I_0 = D, I_l = C for l > 0
//     Wh [H,G*H]    recurrent weights
//     bh [G*H]      bias (GRU: [2*G*H], the input bias then the recurrent bias, as Keras'
//                   reset_after GRU keeps them)
//   wa [C]     attention score weights      (additive attention only)
//   ba [T]     attention bias, one per step (additive attention only)
//   scale [1]  the dot-product scores' scale (AttentionScore::kDotScaled only)
//   Wd [C,O]   head weights
//   bd [O]     head bias
//   emb [V,D]  the embedding table, row v for token id v (models with config.vocab_size > 0 only)
//
// where C = H x directions (config.context_size()). For the tutorial's one forward layer this is
// Wx, Wh, bh, wa, ba, Wd, bd. Each (layer, direction) is one "recurrent block" of three tensors
// named Wx, Wh, bh for block (0, forward) and "l<l>[.rev].Wx" etc. otherwise. A block's tensors are
// G*H wide, G = gates_of(config.cell) (Elman 1, LSTM 4, GRU 3), gate k in columns [k*H, (k+1)*H)
// in Keras' order (LSTM i, f, c, o; GRU z, r, h).
//
// The embedding comes last so that a token model's other tensors sit where the same model without
// it (config.recurrent_part()) has them: the first ParamLayout(recurrent_part()).size() values.
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
  std::string name;    // "Wx", "Wh", "bh", "wa", "ba", "scale", "Wd", "bd"
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

  // Offsets of each tensor in the flat buffer; wa and ba are kAbsent without additive attention,
  // scale without kDotScaled, emb for a model without an embedding. wx, wh, bh are those of block
  // (layer 0, forward).
  std::size_t wx, wh, bh, wa, ba, scale, wd, bd, emb;

  // One recurrent block: a (layer, direction) pair and the offsets of its tensors.
  struct Block {
    int layer = 0;
    int direction = 0;  // 0 forward (t = 0..T-1), 1 backward (t = T-1..0)
    int input = 0;      // I: D for layer 0, C above
    int gates = 1;      // G: 1 for the Elman cell, 4 LSTM, 3 GRU
    int bias = 0;       // bh's length: G*H (GRU 2*G*H)
    std::size_t wx = 0, wh = 0, bh = 0;
  };
  // Layer-major, forward direction first: block (l, d) is blocks()[l * directions + d].
  const std::vector<Block>& blocks() const { return blocks_; }
  const Block& block(int layer, int direction) const;

 private:
  std::vector<TensorInfo> tensors_;
  std::vector<Block> blocks_;
  int directions_ = 1;
  std::size_t size_ = 0;
};

// Pointers into a flat buffer (params or gradients) following ParamLayout.
template <typename P>
struct ParamView {
  P* wx;               // [D,H]  block (0, forward)
  P* wh;               // [H,H]
  P* bh;               // [H]
  P* wa;               // [C]  (null without additive attention)
  P* ba;               // [T]  (null without additive attention)
  P* wd;               // [C,O]
  P* bd;               // [O]
  P* scale = nullptr;  // [1] (AttentionScore::kDotScaled only)
};

// Pointers to one recurrent block's tensors.
template <typename P>
struct BlockView {
  P* wx;  // [I,G*H]
  P* wh;  // [H,G*H]
  P* bh;  // [G*H] (GRU: input bias [G*H], then recurrent bias [G*H])
};

template <typename P>
BlockView<P> block_view(const ParamLayout::Block& b, P* base) {
  return BlockView<P>{base + b.wx, base + b.wh, base + b.bh};
}

template <typename P>
ParamView<P> make_view(const ParamLayout& l, P* base) {
  auto at = [&](std::size_t off) { return off == ParamLayout::kAbsent ? nullptr : base + off; };
  return ParamView<P>{at(l.wx), at(l.wh), at(l.bh), at(l.wa),
                      at(l.ba), at(l.wd), at(l.bd), at(l.scale)};
}

// Keras default initialisation, reproducible from `seed` (blocks in layout order, then wa, Wd):
//   Wx, Wd: glorot_uniform U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (Wx: fan_out = G*H);
//   Wh: orthogonal (QR of a standard normal matrix, columns sign-corrected by diag(R); [H, G*H]
//   with orthonormal rows for a gated cell, as Keras' Orthogonal for a wide matrix);
//   wa: normal(0, 0.05); scale: 1; all biases zero except the LSTM's forget gate, 1
//   (unit_forget_bias); emb: uniform U(-0.05, 0.05), Keras' Embedding default, drawn last (so a
//   token model's other tensors start as those of its recurrent_part() from the same seed).
std::vector<float> init_parameters(const ModelConfig& config, std::uint64_t seed);

}  // namespace rnnattn
