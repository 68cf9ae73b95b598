// Sequence models beyond the tutorial, on the CPU reference: variable lengths, stacked and
// bidirectional layers (finite-difference checked), their defining identities (padding equals
// truncation, a backward direction equals a forward one on reversed time, a stacked layer reads
// the states below), the sentiment data set and accuracy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "rnnattn/checkpoint.hpp"
#include "rnnattn/data.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/reference.hpp"
#include "rnnattn/trainer.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

using test::all_close;
using test::random_vector;

struct StructureCase {
  int layers;
  bool bidirectional;
  bool attention;
  bool lengths;
  Cell cell = Cell::kElman;
  AttentionScore score = AttentionScore::kAdditive;
};

std::string structure_name(const ::testing::TestParamInfo<StructureCase>& info) {
  const StructureCase& c = info.param;
  std::ostringstream n;
  n << to_string(c.cell) << "_L" << c.layers << (c.bidirectional ? "_bidir" : "_fwd")
    << (!c.attention                           ? "_plain"
        : c.score == AttentionScore::kAdditive ? "_attn"
        : c.score == AttentionScore::kDot      ? "_dot"
                                               : "_dotscaled")
    << (c.lengths ? "_lengths" : "_full");
  return n.str();
}

std::vector<StructureCase> structure_cases() {
  std::vector<StructureCase> cases;
  for (Cell cell : {Cell::kElman, Cell::kLstm, Cell::kGru}) {
    for (int layers : {1, 2, 3}) {
      for (bool bidir : {false, true}) {
        for (bool attn : {true, false}) {
          for (bool len : {false, true}) cases.push_back({layers, bidir, attn, len, cell});
        }
      }
    }
    // Keras' dot-product attention (unscaled and with use_scale): one layer, and two
    // bidirectional ones.
    for (AttentionScore score : {AttentionScore::kDot, AttentionScore::kDotScaled}) {
      for (bool deep : {false, true}) {
        for (bool len : {false, true})
          cases.push_back({deep ? 2 : 1, deep, true, len, cell, score});
      }
    }
  }
  return cases;
}

ModelConfig small_config(const StructureCase& c) {
  ModelConfig cfg;
  cfg.hidden_size = 3;
  cfg.steps = 5;
  cfg.input_size = 2;
  cfg.output_size = 2;
  cfg.layers = c.layers;
  cfg.bidirectional = c.bidirectional;
  cfg.attention = c.attention;
  cfg.score = c.score;
  cfg.cell = c.cell;
  cfg.head = Activation::kLinear;
  return cfg;
}

class StructureGradient : public ::testing::TestWithParam<StructureCase> {};

// L = sum_i r_i y_i, central differences in double, per tensor (every block's Wx, Wh, bh by
// name) and for dx; lengths {T, 1, 3, 4} cover a full sequence, one valid step and padding.
TEST_P(StructureGradient, MatchesCentralFiniteDifferences) {
  const StructureCase& c = GetParam();
  const ModelConfig cfg = small_config(c);
  const int B = 4, T = cfg.steps;
  const std::vector<int> lengths = {T, 1, 3, 4};
  const int* len = c.lengths ? lengths.data() : nullptr;
  const std::size_t P = ParamLayout(cfg).size();
  const std::vector<double> params = random_vector<double>(P, 41, -0.8, 0.8);
  const std::vector<double> x =
      random_vector<double>(static_cast<std::size_t>(B) * T * cfg.input_size, 42);
  const std::vector<double> r =
      random_vector<double>(static_cast<std::size_t>(B) * cfg.output_size, 43);
  auto loss = [&](const std::vector<double>& p, const std::vector<double>& xx) {
    std::vector<double> y(static_cast<std::size_t>(B) * cfg.output_size);
    reference_forward<double>(cfg, p.data(), xx.data(), B, y.data(), nullptr, nullptr, nullptr,
                              len);
    double l = 0;
    for (std::size_t i = 0; i < y.size(); ++i) l += r[i] * y[i];
    return l;
  };
  std::vector<double> dparams(P, 12345.0), dx(x.size(), 12345.0);  // poisoned
  reference_backward<double>(cfg, params.data(), x.data(), B, r.data(), dparams.data(), dx.data(),
                             len);
  constexpr double kEps = 1e-6;
  std::vector<double> num_dp(P), num_dx(x.size());
  for (std::size_t i = 0; i < P; ++i) {
    std::vector<double> p = params;
    p[i] = params[i] + kEps;
    const double lp = loss(p, x);
    p[i] = params[i] - kEps;
    num_dp[i] = (lp - loss(p, x)) / (2 * kEps);
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::vector<double> xx = x;
    xx[i] = x[i] + kEps;
    const double lp = loss(params, xx);
    xx[i] = x[i] - kEps;
    num_dx[i] = (lp - loss(params, xx)) / (2 * kEps);
  }
  const ParamLayout layout(cfg);
  for (const TensorInfo& t : layout.tensors()) {
    std::vector<double> got(dparams.begin() + t.offset, dparams.begin() + t.offset + t.size());
    std::vector<double> want(num_dp.begin() + t.offset, num_dp.begin() + t.offset + t.size());
    EXPECT_TRUE(all_close("d" + t.name, got, want, 1e-7, 1e-6));
  }
  EXPECT_TRUE(all_close("dx", dx, num_dx, 1e-7, 1e-6));
  if (c.lengths) {  // x on padding is unused: its gradient is exactly zero
    for (int b = 0; b < B; ++b) {
      for (int t = lengths[b]; t < T; ++t) {
        for (int k = 0; k < cfg.input_size; ++k) {
          EXPECT_EQ(dx[(static_cast<std::size_t>(b) * T + t) * cfg.input_size + k], 0.0)
              << "b=" << b << " t=" << t;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, StructureGradient, ::testing::ValuesIn(structure_cases()),
                         structure_name);

// The parameters of `cfg` re-laid for `to` (same blocks and head; ba cut to to.steps).
std::vector<double> relayout(const ModelConfig& from, const std::vector<double>& p,
                             const ModelConfig& to) {
  const ParamLayout a(from), b(to);
  std::map<std::string, const TensorInfo*> src;
  for (const TensorInfo& t : a.tensors()) src[t.name] = &t;
  std::vector<double> out(b.size());
  for (const TensorInfo& t : b.tensors()) {
    std::copy_n(p.begin() + src.at(t.name)->offset, t.size(), out.begin() + t.offset);
  }
  return out;
}

// A sequence of length L padded to T gives what the same model built for T' = L gives on the
// unpadded sequence (every structure); padding content is irrelevant; weights sum to one over
// the valid steps and are zero on padding.
TEST(SequenceModels, PaddingEqualsTruncation) {
  for (const StructureCase& c : structure_cases()) {
    if (!c.lengths) continue;
    ModelConfig cfg = small_config(c);
    cfg.steps = 7;
    const int T = cfg.steps, D = cfg.input_size, O = cfg.output_size, C = cfg.context_size();
    const std::vector<double> p = random_vector<double>(ParamLayout(cfg).size(), 51, -0.7, 0.7);
    for (int L : {1, 4, 7}) {
      std::vector<double> x = random_vector<double>(static_cast<std::size_t>(T) * D, 52);
      std::vector<double> y(O), a(T, -1), h(static_cast<std::size_t>(T) * C);
      double* attn = cfg.attention ? a.data() : nullptr;
      reference_forward<double>(cfg, p.data(), x.data(), 1, y.data(), attn, h.data(), nullptr, &L);
      ModelConfig cut = cfg;
      cut.steps = L;
      const std::vector<double> pc = relayout(cfg, p, cut);
      std::vector<double> yc(O), ac(L);
      reference_forward<double>(cut, pc.data(), x.data(), 1, yc.data(),
                                cfg.attention ? ac.data() : nullptr);
      const std::string what = structure_name({c, 0}) + " L=" + std::to_string(L);
      EXPECT_TRUE(all_close("y " + what, y, yc, 1e-14, 1e-13));
      // Garbage on the padding changes nothing, bit for bit.
      for (std::size_t i = static_cast<std::size_t>(L) * D; i < x.size(); ++i) x[i] = 1e3 * (i % 7);
      std::vector<double> y2(O);
      reference_forward<double>(cfg, p.data(), x.data(), 1, y2.data(), nullptr, nullptr, nullptr,
                                &L);
      EXPECT_EQ(y, y2) << what;
      if (cfg.attention) {
        double sum = 0;
        for (int t = 0; t < T; ++t) {
          if (t >= L) {
            EXPECT_EQ(a[t], 0.0) << what << " t=" << t;
          } else {
            EXPECT_NEAR(a[t], ac[t], 1e-14) << what << " t=" << t;
          }
          sum += a[t];
        }
        EXPECT_NEAR(sum, 1.0, 1e-12) << what;
      }
    }
  }
}

// Lengths equal to T are the same as no lengths, bit for bit (forward and backward).
TEST(SequenceModels, FullLengthsEqualNoLengths) {
  ModelConfig cfg = small_config({2, true, true, true});
  const int B = 3, T = cfg.steps;
  const auto p = random_vector<float>(ParamLayout(cfg).size(), 61, -0.7, 0.7);
  const auto x = random_vector<float>(static_cast<std::size_t>(B) * T * cfg.input_size, 62);
  const auto dy = random_vector<float>(static_cast<std::size_t>(B) * cfg.output_size, 63);
  const std::vector<int> full(B, T);
  std::vector<float> y1(B * 2), y2(B * 2), g1(p.size()), g2(p.size());
  reference_forward<float>(cfg, p.data(), x.data(), B, y1.data());
  reference_forward<float>(cfg, p.data(), x.data(), B, y2.data(), nullptr, nullptr, nullptr,
                           full.data());
  EXPECT_EQ(y1, y2);
  reference_backward<float>(cfg, p.data(), x.data(), B, dy.data(), g1.data());
  reference_backward<float>(cfg, p.data(), x.data(), B, dy.data(), g2.data(), nullptr, full.data());
  EXPECT_EQ(g1, g2);
}

// The backward direction of a bidirectional layer is a forward layer (with the .rev weights) run
// on the time-reversed sequence; the forward half is the one-direction model.
TEST(SequenceModels, BackwardDirectionIsForwardOnReversedTime) {
  ModelConfig bi = small_config({1, true, true, false});
  bi.steps = 6;
  const int T = bi.steps, D = bi.input_size, H = bi.hidden_size;
  const auto p = random_vector<double>(ParamLayout(bi).size(), 71, -0.9, 0.9);
  const auto x = random_vector<double>(static_cast<std::size_t>(T) * D, 72);
  std::vector<double> y(bi.output_size), hb(static_cast<std::size_t>(T) * 2 * H);
  reference_forward<double>(bi, p.data(), x.data(), 1, y.data(), nullptr, hb.data());

  ModelConfig one = bi;
  one.bidirectional = false;
  one.attention = false;
  const ParamLayout lb(bi), lo(one);
  for (int dir : {0, 1}) {
    std::vector<double> po(lo.size(), 0.0);
    const ParamLayout::Block& src = lb.block(0, dir);
    std::copy_n(p.begin() + src.wx, D * H, po.begin() + lo.wx);
    std::copy_n(p.begin() + src.wh, H * H, po.begin() + lo.wh);
    std::copy_n(p.begin() + src.bh, H, po.begin() + lo.bh);
    std::vector<double> xr = x;
    if (dir == 1) {
      for (int t = 0; t < T; ++t) std::copy_n(&x[(T - 1 - t) * D], D, &xr[t * D]);
    }
    std::vector<double> yo(one.output_size), ho(static_cast<std::size_t>(T) * H);
    reference_forward<double>(one, po.data(), xr.data(), 1, yo.data(), nullptr, ho.data());
    for (int t = 0; t < T; ++t) {
      const int to = dir == 0 ? t : T - 1 - t;
      for (int j = 0; j < H; ++j) {
        EXPECT_EQ(hb[static_cast<std::size_t>(t) * 2 * H + dir * H + j], ho[to * H + j])
            << "dir=" << dir << " t=" << t << " j=" << j;
      }
    }
  }
}

// Layer 2 of a stack is a one-layer model whose input is layer 1's states.
TEST(SequenceModels, StackedLayerReadsTheStatesBelow) {
  ModelConfig two = small_config({2, false, true, false});
  const int T = two.steps, D = two.input_size, H = two.hidden_size;
  const auto p = random_vector<double>(ParamLayout(two).size(), 81, -0.9, 0.9);
  const auto x = random_vector<double>(static_cast<std::size_t>(T) * D, 82);
  std::vector<double> y(two.output_size), h2(static_cast<std::size_t>(T) * H);
  reference_forward<double>(two, p.data(), x.data(), 1, y.data(), nullptr, h2.data());

  const ParamLayout l2(two);
  auto one_layer = [&](int layer, int input, const std::vector<double>& in) {
    ModelConfig one = two;
    one.layers = 1;
    one.input_size = input;
    const ParamLayout lo(one);
    std::vector<double> po(lo.size(), 0.0);
    const ParamLayout::Block& b = l2.block(layer, 0);
    std::copy_n(p.begin() + b.wx, input * H, po.begin() + lo.wx);
    std::copy_n(p.begin() + b.wh, H * H, po.begin() + lo.wh);
    std::copy_n(p.begin() + b.bh, H, po.begin() + lo.bh);
    std::vector<double> yo(one.output_size), ho(static_cast<std::size_t>(T) * H);
    reference_forward<double>(one, po.data(), in.data(), 1, yo.data(), nullptr, ho.data());
    return ho;
  };
  const std::vector<double> h1 = one_layer(0, D, x);
  EXPECT_EQ(one_layer(1, H, h1), h2);
}

TEST(SequenceModels, LayoutNamesEveryBlockAndKeepsTheTutorialLayout) {
  ModelConfig cfg;  // the tutorial's model: unchanged layout and initial values
  const ParamLayout one(cfg);
  std::vector<std::string> names;
  for (const TensorInfo& t : one.tensors()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Wx", "Wh", "bh", "wa", "ba", "Wd", "bd"}));
  EXPECT_EQ(one.size(), 33u);

  cfg.layers = 2;
  cfg.bidirectional = true;
  cfg.hidden_size = 4;
  cfg.input_size = 3;
  const ParamLayout l(cfg);
  names.clear();
  for (const TensorInfo& t : l.tensors())
    names.push_back(t.name + "[" + std::to_string(t.rows) + "," + std::to_string(t.cols) + "]");
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "Wx[3,4]", "Wh[4,4]", "bh[4,1]", "l0.rev.Wx[3,4]", "l0.rev.Wh[4,4]",
                "l0.rev.bh[4,1]", "l1.Wx[8,4]", "l1.Wh[4,4]", "l1.bh[4,1]", "l1.rev.Wx[8,4]",
                "l1.rev.Wh[4,4]", "l1.rev.bh[4,1]", "wa[8,1]", "ba[20,1]", "Wd[8,1]", "bd[1,1]"}));
  EXPECT_EQ(l.block(1, 1).input, 8);
  EXPECT_EQ(l.block(1, 1).wx, l.tensors()[9].offset);
  // Every block starts orthogonal/glorot, not zero; biases zero.
  const std::vector<float> p = init_parameters(cfg, 3);
  for (const ParamLayout::Block& b : l.blocks()) {
    double wh = 0;
    for (int i = 0; i < 16; ++i) wh += p[b.wh + i] * p[b.wh + i];
    EXPECT_NEAR(wh, 4.0, 1e-5) << "orthogonal Wh of block (" << b.layer << "," << b.direction
                               << ")";
  }
  ModelConfig bad = cfg;
  bad.layers = 0;
  EXPECT_THROW(bad.validate(), InvalidArgument);
  bad.layers = 17;
  EXPECT_THROW(bad.validate(), InvalidArgument);
}

TEST(SequenceModels, LengthsOutsideOneToTAreRefusedByName) {
  ModelConfig cfg;
  std::vector<float> p(ParamLayout(cfg).size()), x(40), y(2);
  for (int bad : {0, 21, -3}) {
    const std::vector<int> lengths = {20, bad};
    try {
      reference_forward<float>(cfg, p.data(), x.data(), 2, y.data(), nullptr, nullptr, nullptr,
                               lengths.data());
      FAIL() << "length " << bad << " accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("lengths[1] = " + std::to_string(bad)),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(SequenceModels, CheckpointCarriesTheStructure) {
  test::ScratchDir dir("seqmodels");
  ModelConfig cfg;
  cfg.layers = 3;
  cfg.bidirectional = true;
  cfg.hidden_size = 5;
  cfg.input_size = 4;
  Checkpoint ck;
  ck.model = make_model(cfg, 9);
  ck.data_source = "sentiment";
  const std::string path = dir.file("m.ckpt");
  save_checkpoint(path, ck);
  const Checkpoint back = load_checkpoint(path);
  EXPECT_EQ(back.model.config, cfg);
  EXPECT_EQ(back.model.params, ck.model.params);
  EXPECT_EQ(back.format_version, kCheckpointVersion);
}

TEST(SentimentData, IsBalancedSeededAndLabelledByTheMajority) {
  SentimentOptions o;
  o.train = 60;
  o.test = 31;
  o.dim = 8;
  o.min_length = 10;
  o.max_length = 30;
  o.neutral_tokens = 50;
  o.sentiment_tokens = 3;
  std::vector<int> tokens;
  const SplitData d = sentiment_data(o, &tokens);
  ASSERT_EQ(d.train.count, 60);
  ASSERT_EQ(d.test.count, 31);
  ASSERT_EQ(tokens.size(), static_cast<std::size_t>(91) * 30);
  int positives = 0;
  std::map<int, std::vector<float>> vec;  // a token always has the same vector
  for (int i = 0; i < 91; ++i) {
    const WindowSet& w = i < 60 ? d.train : d.test;
    const int k = i < 60 ? i : i - 60;
    const int len = w.lengths[k];
    ASSERT_GE(len, 10);
    ASSERT_LE(len, 30);
    int pos = 0, neg = 0;
    for (int t = 0; t < 30; ++t) {
      const int tok = tokens[static_cast<std::size_t>(i) * 30 + t];
      const float* xt = &w.x[(static_cast<std::size_t>(k) * 30 + t) * 8];
      if (t >= len) {
        EXPECT_EQ(tok, -1);
        for (int f = 0; f < 8; ++f) EXPECT_EQ(xt[f], 0.f) << "padding is zero";
        continue;
      }
      ASSERT_GE(tok, 0);
      pos += tok >= 50 && tok < 53;
      neg += tok >= 53;
      auto [it, fresh] = vec.emplace(tok, std::vector<float>(xt, xt + 8));
      if (!fresh) {
        EXPECT_EQ(it->second, std::vector<float>(xt, xt + 8)) << "token " << tok;
      }
    }
    EXPECT_EQ((pos + neg) % 2, 1) << "an odd number of sentiment tokens, so no ties";
    EXPECT_LE(pos + neg, 7);
    EXPECT_EQ(w.y[k], pos > neg ? 1.f : 0.f) << "sequence " << i;
    positives += w.y[k] > 0.5f;
  }
  EXPECT_EQ(positives, 45) << "alternating labels";  // 30 of 60, 15 of 31 (odd indices)
  EXPECT_EQ(sentiment_data(o).train.x, d.train.x) << "same seed, same data";
  o.seed = 8;
  EXPECT_NE(sentiment_data(o).train.x, d.train.x);
  o.min_length = 3;
  EXPECT_THROW(sentiment_data(o), InvalidArgument);
}

TEST(SentimentData, AccuracyCountsTheRightSideOfOneHalf) {
  WindowSet w;
  w.count = 4;
  w.y = {1, 0, 1, 0};
  EXPECT_DOUBLE_EQ(accuracy({0.9f, 0.1f, 0.4f, 0.5f}, w), 0.5);
  EXPECT_THROW(accuracy({0.9f}, w), InvalidArgument);
}

// Training on the CPU with lengths and a bidirectional stack lowers the loss (the trainer
// passes lengths through; a wrong pass-through would be caught by the GPU trainer comparisons).
TEST(SequenceModels, TrainerUsesLengths) {
  SentimentOptions o;
  o.train = 40;
  o.test = 10;
  o.dim = 6;
  o.min_length = 8;
  o.max_length = 16;
  o.neutral_tokens = 20;
  o.sentiment_tokens = 2;
  const SplitData d = sentiment_data(o);
  ModelConfig cfg;
  cfg.input_size = 6;
  cfg.hidden_size = 4;
  cfg.steps = 16;
  cfg.layers = 2;
  cfg.bidirectional = true;
  cfg.head = Activation::kSigmoid;
  cfg.loss = Loss::kBce;
  auto backend = make_backend(Device::kCpu);
  Model m = make_model(cfg, 1, AdamConfig{0.01f});
  const double before = evaluate_loss(*backend, m, d.train);
  fit(*backend, m, d.train, {.epochs = 5, .batch_size = 8, .seed = 1});
  EXPECT_LT(evaluate_loss(*backend, m, d.train), before);
  WindowSet bad = d.train;
  bad.lengths[3] = 17;
  EXPECT_THROW(fit(*backend, m, bad, {.epochs = 1}), InvalidArgument);
  bad.lengths.pop_back();
  EXPECT_THROW(fit(*backend, m, bad, {.epochs = 1}), InvalidArgument);
}

}  // namespace
}  // namespace rnnattn
