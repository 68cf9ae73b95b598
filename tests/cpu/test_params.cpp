// Parameter layout and Keras-default initialisation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"

namespace rnnattn {
namespace {

TEST(Params, CountsForTheSeedShapes) {
  ModelConfig cfg;  // D=1, H=2, T=20, O=1
  EXPECT_EQ(ParamLayout(cfg).size(), 33u);
  cfg.attention = false;
  EXPECT_EQ(ParamLayout(cfg).size(), 11u);
}

TEST(Params, LayoutOrderAndOffsets) {
  ModelConfig cfg;
  cfg.input_size = 3;
  cfg.hidden_size = 4;
  cfg.steps = 5;
  cfg.output_size = 2;
  const ParamLayout l(cfg);
  const char* names[] = {"Wx", "Wh", "bh", "wa", "ba", "Wd", "bd"};
  const std::size_t sizes[] = {12, 16, 4, 4, 5, 8, 2};
  std::size_t off = 0;
  ASSERT_EQ(l.tensors().size(), 7u);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(l.tensors()[i].name, names[i]);
    EXPECT_EQ(l.tensors()[i].offset, off);
    EXPECT_EQ(l.tensors()[i].size(), sizes[i]);
    off += sizes[i];
  }
  EXPECT_EQ(l.size(), off);
  EXPECT_EQ(l.wd, 41u);
  cfg.attention = false;
  const ParamLayout lp(cfg);
  EXPECT_EQ(lp.wa, ParamLayout::kAbsent);
  EXPECT_EQ(lp.ba, ParamLayout::kAbsent);
  EXPECT_EQ(lp.wd, 32u);
}

TEST(Params, KerasInitialisation) {
  ModelConfig cfg;
  cfg.input_size = 3;
  cfg.hidden_size = 24;
  cfg.output_size = 2;
  const ParamLayout l(cfg);
  const std::vector<float> p = init_parameters(cfg, 42);
  const ParamView<const float> v = make_view(l, p.data());
  const double lx = std::sqrt(6.0 / (3 + 24)), ld = std::sqrt(6.0 / (24 + 2));
  for (int i = 0; i < 3 * 24; ++i) EXPECT_LE(std::fabs(v.wx[i]), lx);
  for (int i = 0; i < 24 * 2; ++i) EXPECT_LE(std::fabs(v.wd[i]), ld);
  // Wh orthogonal: Wh^T Wh = I.
  for (int a = 0; a < 24; ++a) {
    for (int b = 0; b < 24; ++b) {
      double dot = 0;
      for (int k = 0; k < 24; ++k) dot += double(v.wh[k * 24 + a]) * v.wh[k * 24 + b];
      EXPECT_NEAR(dot, a == b ? 1.0 : 0.0, 1e-5) << a << "," << b;
    }
  }
  double s2 = 0;
  for (int i = 0; i < 24; ++i) s2 += double(v.wa[i]) * v.wa[i];
  EXPECT_GT(std::sqrt(s2 / 24), 0.02);  // stddev 0.05
  EXPECT_LT(std::sqrt(s2 / 24), 0.09);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(v.bh[i], 0.f);
  for (int i = 0; i < cfg.steps; ++i) EXPECT_EQ(v.ba[i], 0.f);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(v.bd[i], 0.f);
  // Reproducible from the seed, and different for another seed.
  EXPECT_EQ(init_parameters(cfg, 42), p);
  EXPECT_NE(init_parameters(cfg, 43), p);
}

// The gated cells as Keras initialises them: Wx [D, G*H] glorot over fan_out = G*H, Wh [H, G*H]
// orthogonal with orthonormal rows (Keras' Orthogonal for a wide matrix), biases zero but the
// LSTM's forget gate (unit_forget_bias); the GRU's bias holds an input and a recurrent part.
TEST(Params, GatedCellsAsKerasInitialisesThem) {
  for (Cell cell : {Cell::kLstm, Cell::kGru}) {
    SCOPED_TRACE(to_string(cell));
    ModelConfig cfg;
    cfg.input_size = 3;
    cfg.hidden_size = 8;
    cfg.cell = cell;
    const int G = gates_of(cell), H = 8, GH = G * H;
    const ParamLayout l(cfg);
    const ParamLayout::Block& b = l.block(0, 0);
    EXPECT_EQ(b.gates, G);
    EXPECT_EQ(b.bias, cell == Cell::kGru ? 2 * GH : GH);
    EXPECT_EQ(l.size(), static_cast<std::size_t>(3 * GH + H * GH + b.bias + H + 20 + H + 1));
    const std::vector<float> p = init_parameters(cfg, 7);
    const double lx = std::sqrt(6.0 / (3 + GH));
    double max_x = 0;
    for (int i = 0; i < 3 * GH; ++i) max_x = std::max(max_x, std::fabs(double(p[b.wx + i])));
    EXPECT_LE(max_x, lx);
    EXPECT_GT(max_x, 0.7 * lx);  // drawn over the whole range, not the Elman's wider one
    for (int r1 = 0; r1 < H; ++r1) {
      for (int r2 = 0; r2 < H; ++r2) {
        double dot = 0;
        for (int k = 0; k < GH; ++k) dot += double(p[b.wh + r1 * GH + k]) * p[b.wh + r2 * GH + k];
        EXPECT_NEAR(dot, r1 == r2 ? 1.0 : 0.0, 1e-5) << r1 << "," << r2;
      }
    }
    for (int j = 0; j < b.bias; ++j) {
      const bool forget = cell == Cell::kLstm && j >= H && j < 2 * H;
      EXPECT_EQ(p[b.bh + j], forget ? 1.0f : 0.0f) << j;
    }
  }
  EXPECT_EQ(parse_cell("gru"), Cell::kGru);
  EXPECT_THROW(parse_cell("rnn"), InvalidArgument);
  ModelConfig bad;
  bad.cell = static_cast<Cell>(9);
  EXPECT_THROW(bad.validate(), InvalidArgument);
}

TEST(Params, ConfigValidationNamesTheField) {
  ModelConfig cfg;
  cfg.steps = 0;
  try {
    ParamLayout l(cfg);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("steps (T)"), std::string::npos) << e.what();
  }
  cfg = ModelConfig{};
  cfg.loss = Loss::kBce;
  EXPECT_THROW(cfg.validate(), InvalidArgument);
  cfg.head = Activation::kSigmoid;
  EXPECT_NO_THROW(cfg.validate());
  EXPECT_THROW(parse_activation("relu"), InvalidArgument);
  EXPECT_EQ(parse_activation("sigmoid"), Activation::kSigmoid);
}

}  // namespace
}  // namespace rnnattn
