// Parameter layout and Keras-default initialisation.
#include <gtest/gtest.h>

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
