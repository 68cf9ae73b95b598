// Dropout on the context: the counter-based generator against its published answers, the masks'
// rate and scaling, the reference's gradient with the masks held fixed (finite differences), the
// fast path drawing the reference's masks, and a training run that is reproducible and differs
// from one without dropout.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "cpu_fast.hpp"
#include "rnnattn/backend.hpp"
#include "rnnattn/dropout.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/reference.hpp"
#include "rnnattn/trainer.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

using test::all_close;
using test::random_vector;

// Random123's known-answer vectors for Philox4x32-10 (counter, key, result).
TEST(Dropout, PhiloxMatchesRandom123KnownAnswers) {
  struct Kat {
    Philox4x32 counter;
    std::uint32_t k0, k1;
    Philox4x32 want;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       0xffffffff,
       0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       0xa4093822,
       0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Kat& k : kats) {
    const Philox4x32 got = philox4x32_10(k.counter, k.k0, k.k1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got.v[i], k.want.v[i]) << "word " << i;
  }
}

// Each element is kept with probability 1 - rate (within 5 standard deviations over 200,000
// draws) and scaled by 1 / (1 - rate); the same key gives the same factor; another seed or step
// another mask; rate 0 keeps everything unscaled.
TEST(Dropout, MasksKeepOneMinusTheRateAndScaleInverted) {
  for (float rate : {0.1f, 0.5f, 0.9f}) {
    SCOPED_TRACE(rate);
    const int rows = 400, cols = 500;
    long kept = 0, differ_seed = 0, differ_step = 0;
    for (int r = 0; r < rows; ++r) {
      for (int j = 0; j < cols; ++j) {
        const float f = dropout_factor(7, 3, r, j, rate);
        ASSERT_TRUE(f == 0.f || f == 1.f / (1.f - rate)) << f;
        ASSERT_EQ(f, dropout_factor(7, 3, r, j, rate));
        kept += f > 0;
        differ_seed += f != dropout_factor(8, 3, r, j, rate);
        differ_step += f != dropout_factor(7, 4, r, j, rate);
      }
    }
    const double n = static_cast<double>(rows) * cols, p = 1.0 - rate;
    EXPECT_NEAR(kept / n, p, 5 * std::sqrt(p * (1 - p) / n));
    EXPECT_GT(differ_seed, n * p * (1 - p));  // independent masks differ in 2p(1-p) of places
    EXPECT_GT(differ_step, n * p * (1 - p));
  }
  EXPECT_EQ(dropout_factor(7, 3, 1, 2, 0.f), 1.f);
}

// The recurrent layers' masks: one per (layer, direction, input or state, sequence), the same at
// every step; no two of them (nor the context's) draw the same factors, and each keeps about
// 1 - rate of its elements.
TEST(Dropout, LayerMasksAreDistinctAndKeepOneMinusTheRate) {
  std::set<std::vector<float>> seen;
  std::vector<float> context(500);
  for (int j = 0; j < 500; ++j) context[j] = dropout_factor(3, 8, 1, j, 0.4f);
  seen.insert(context);
  for (int layer : {0, 1, 15}) {
    for (int dir : {0, 1}) {
      for (bool recurrent : {false, true}) {
        std::vector<float> m(500);
        int kept = 0;
        for (int j = 0; j < 500; ++j) {
          m[j] = layer_dropout_factor(3, 8, 1, layer, dir, recurrent, j, 0.4f);
          kept += m[j] != 0.f;
          EXPECT_TRUE(m[j] == 0.f || m[j] == 1.f / 0.6f) << m[j];
        }
        EXPECT_NEAR(kept / 500.0, 0.6, 0.07) << layer << dir << recurrent;
        EXPECT_TRUE(seen.insert(m).second) << "a mask repeats: " << layer << dir << recurrent;
      }
    }
  }
  EXPECT_EQ(layer_dropout_factor(3, 8, 1, 0, 0, true, 7, 0.f), 1.f);
}

ModelConfig dropout_config(Cell cell, bool bidirectional, AttentionScore score,
                           float context = 0.5f, float input = 0.f, float recurrent = 0.f,
                           int layers = 1) {
  ModelConfig cfg;
  cfg.cell = cell;
  cfg.bidirectional = bidirectional;
  cfg.score = score;
  cfg.hidden_size = 3;
  cfg.steps = 5;
  cfg.input_size = 2;
  cfg.output_size = 2;
  cfg.head = Activation::kLinear;
  cfg.dropout = context;
  cfg.input_dropout = input;
  cfg.recurrent_dropout = recurrent;
  cfg.layers = layers;
  return cfg;
}

// With the masks held fixed (one key), the gradient is the finite differences' (double), per
// tensor; the masks do act (y differs from the model without dropout's).
TEST(Dropout, ReferenceGradientMatchesFiniteDifferencesWithTheMasksFixed) {
  const DropoutKey key{11, 4};
  // The context's dropout; the recurrent layers' (input, state, both; every cell, stacked and
  // bidirectional), with and without the context's.
  for (const ModelConfig& cfg :
       {dropout_config(Cell::kElman, false, AttentionScore::kAdditive),
        dropout_config(Cell::kLstm, true, AttentionScore::kDot),
        dropout_config(Cell::kElman, false, AttentionScore::kAdditive, 0.f, 0.4f, 0.f),
        dropout_config(Cell::kElman, true, AttentionScore::kAdditive, 0.f, 0.f, 0.4f, 2),
        dropout_config(Cell::kGru, true, AttentionScore::kAdditive, 0.5f, 0.3f, 0.4f, 2),
        dropout_config(Cell::kLstm, false, AttentionScore::kDotScaled, 0.f, 0.3f, 0.5f, 2)}) {
    SCOPED_TRACE(describe(cfg));
    const int B = 3;
    const std::vector<int> lengths = {5, 2, 4};
    const std::size_t P = ParamLayout(cfg).size();
    const auto params = random_vector<double>(P, 71, -0.8, 0.8);
    const auto x = random_vector<double>(static_cast<std::size_t>(B) * 5 * 2, 72);
    const auto r = random_vector<double>(static_cast<std::size_t>(B) * 2, 73);
    auto loss = [&](const std::vector<double>& p, const DropoutKey* k) {
      std::vector<double> y(static_cast<std::size_t>(B) * 2);
      reference_forward<double>(cfg, p.data(), x.data(), B, y.data(), nullptr, nullptr, nullptr,
                                lengths.data(), k);
      double l = 0;
      for (std::size_t i = 0; i < y.size(); ++i) l += r[i] * y[i];
      return l;
    };
    EXPECT_NE(loss(params, &key), loss(params, nullptr)) << "the masks change nothing";
    std::vector<double> g(P, 12345.0);
    reference_backward<double>(cfg, params.data(), x.data(), B, r.data(), g.data(), nullptr,
                               lengths.data(), &key);
    std::vector<double> num(P);
    for (std::size_t i = 0; i < P; ++i) {
      std::vector<double> p = params;
      p[i] = params[i] + 1e-6;
      const double lp = loss(p, &key);
      p[i] = params[i] - 1e-6;
      num[i] = (lp - loss(p, &key)) / 2e-6;
    }
    const ParamLayout layout(cfg);
    for (const TensorInfo& t : layout.tensors()) {
      const std::vector<double> got(g.begin() + t.offset, g.begin() + t.offset + t.size());
      const std::vector<double> want(num.begin() + t.offset, num.begin() + t.offset + t.size());
      EXPECT_TRUE(all_close("d" + t.name, got, want, 1e-7, 1e-6));
    }
  }
}

// The fast path draws the reference's masks (rows numbered across the batch, whichever part and
// thread runs them): the same y and gradients within float rounding, at 1 and 3 threads.
void expect_fast_draws_the_references_masks(const ModelConfig& cfg) {
  const int B = 13;
  const DropoutKey key{5, 9};
  const std::size_t P = ParamLayout(cfg).size(), xs = static_cast<std::size_t>(B) * 5 * 2;
  const auto p = random_vector<float>(P, 81, -0.6, 0.6);
  const auto x = random_vector<float>(xs, 82);
  const auto dy = random_vector<float>(static_cast<std::size_t>(B) * 2, 83);
  std::vector<float> y_ref(static_cast<std::size_t>(B) * 2), g_ref(P), dx_ref(xs);
  reference_forward<float>(cfg, p.data(), x.data(), B, y_ref.data(), nullptr, nullptr, nullptr,
                           nullptr, &key);
  reference_backward<float>(cfg, p.data(), x.data(), B, dy.data(), g_ref.data(), dx_ref.data(),
                            nullptr, &key);
  for (int threads : {1, 3}) {
    SCOPED_TRACE(threads);
    set_cpu_threads(threads);
    fast::Workspace ws;
    std::vector<float> g(P, NAN), dx(xs, NAN);
    fast::forward(cfg, p.data(), x.data(), B, nullptr, ws, &key);
    fast::backward(cfg, p.data(), x.data(), B, nullptr, dy.data(), g.data(), dx.data(), ws);
    EXPECT_TRUE(all_close("y", ws.y, y_ref, 1e-5, 1e-5));
    EXPECT_TRUE(all_close("dparams", g, g_ref, 1e-5, 1e-4));
    EXPECT_TRUE(all_close("dx", dx, dx_ref, 1e-5, 1e-4));
  }
  set_cpu_threads(0);
}

TEST(Dropout, FastPathDrawsTheReferencesMasks) {
  for (const ModelConfig& cfg :
       {dropout_config(Cell::kGru, true, AttentionScore::kDotScaled),
        dropout_config(Cell::kElman, true, AttentionScore::kAdditive, 0.f, 0.3f, 0.4f, 2),
        dropout_config(Cell::kLstm, true, AttentionScore::kDot, 0.5f, 0.2f, 0.3f, 2)}) {
    SCOPED_TRACE(describe(cfg));
    expect_fast_draws_the_references_masks(cfg);
  }
}

// Training with dropout: two runs with one seed give the same bits, on the fast path and on the
// reference alike (within rounding of each other: the same masks); another seed, or no dropout,
// gives other weights.
TEST(Dropout, TrainingIsReproducibleAndTheMasksAct) {
  SentimentOptions o;
  o.train = 40;
  o.test = 1;
  o.dim = 3;
  o.min_length = 8;
  o.max_length = 10;
  const SplitData d = sentiment_data(o);
  ModelConfig cfg;
  cfg.input_size = 3;
  cfg.hidden_size = 4;
  cfg.steps = 10;
  cfg.head = Activation::kSigmoid;
  cfg.loss = Loss::kBce;
  cfg.dropout = 0.5f;
  auto train = [&](const ModelConfig& c, Device device, std::uint64_t seed) {
    Model m = make_model(c, 3);
    auto be = make_backend(device);
    fit(*be, m, d.train, {.epochs = 2, .batch_size = 8, .seed = seed});
    return m.params;
  };
  ModelConfig layers = cfg;  // the recurrent layers' dropout as well (Keras' LSTM's)
  layers.cell = Cell::kLstm;
  layers.input_dropout = 0.3f;
  layers.recurrent_dropout = 0.3f;
  for (const ModelConfig& c : {cfg, layers}) {
    SCOPED_TRACE(describe(c));
    const auto a = train(c, Device::kCpu, 1);
    EXPECT_EQ(train(c, Device::kCpu, 1), a);
    EXPECT_TRUE(all_close("reference's weights", train(c, Device::kReference, 1), a, 1e-5, 1e-4));
    EXPECT_NE(train(c, Device::kCpu, 2), a);
    ModelConfig none = c;
    none.dropout = 0.f;
    EXPECT_NE(train(none, Device::kCpu, 1), a);
  }
  ModelConfig context_only = layers;
  context_only.input_dropout = context_only.recurrent_dropout = 0.f;
  EXPECT_NE(train(context_only, Device::kCpu, 1), train(layers, Device::kCpu, 1));
}

}  // namespace
}  // namespace rnnattn
