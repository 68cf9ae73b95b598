// The CPU reference: finite-difference gradient checks in double, hand-computed forward,
// attention-weight invariants, loss gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/reference.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

using test::all_close;
using test::random_vector;

struct Shape {
  int h, t, d, o, b;
};

struct GradCase {
  Shape s;
  bool attention;
  Activation head;
};

void PrintTo(const GradCase& c, std::ostream* os) {
  *os << (c.attention ? "attention" : "plain") << " head=" << to_string(c.head) << " H=" << c.s.h
      << " T=" << c.s.t << " D=" << c.s.d << " O=" << c.s.o << " B=" << c.s.b;
}

std::string case_name(const ::testing::TestParamInfo<GradCase>& info) {
  const GradCase& c = info.param;
  std::ostringstream n;
  n << (c.attention ? "attn" : "plain") << "_" << to_string(c.head) << "_H" << c.s.h << "_T"
    << c.s.t << "_D" << c.s.d << "_O" << c.s.o << "_B" << c.s.b;
  return n.str();
}

std::vector<GradCase> grad_cases() {
  // Each of H 1,2,7,32; T 1,2,20; D 1,3; O 1,2,5; B 1,5 appears, with the seed's shape among
  // them. The softmax head normalises over O >= 2 outputs only.
  const Shape shapes[] = {{1, 1, 1, 1, 1},  {2, 20, 1, 1, 1}, {2, 2, 3, 2, 5},   {7, 20, 3, 1, 5},
                          {32, 2, 1, 2, 1}, {7, 1, 3, 2, 5},  {32, 20, 3, 1, 5}, {3, 4, 2, 5, 3}};
  std::vector<GradCase> cases;
  for (const Shape& s : shapes) {
    for (bool attn : {true, false}) {
      for (Activation a :
           {Activation::kTanh, Activation::kLinear, Activation::kSigmoid, Activation::kSoftmax}) {
        if (a != Activation::kSoftmax || s.o >= 2) cases.push_back({s, attn, a});
      }
    }
  }
  return cases;
}

class GradientCheck : public ::testing::TestWithParam<GradCase> {};

// L = sum_i r_i y_i for a random projection r, so dL/dy = r. Central differences in double.
TEST_P(GradientCheck, MatchesCentralFiniteDifferences) {
  const GradCase& c = GetParam();
  ModelConfig cfg;
  cfg.hidden_size = c.s.h;
  cfg.steps = c.s.t;
  cfg.input_size = c.s.d;
  cfg.output_size = c.s.o;
  cfg.attention = c.attention;
  cfg.head = c.head;
  const int B = c.s.b;
  const std::size_t P = ParamLayout(cfg).size();
  // Large enough parameters that the tanh saturate partly and the softmax is far from uniform.
  std::vector<double> params = random_vector<double>(P, 101, -0.8, 0.8);
  const std::vector<double> x =
      random_vector<double>(static_cast<std::size_t>(B) * c.s.t * c.s.d, 202);
  const std::vector<double> r = random_vector<double>(static_cast<std::size_t>(B) * c.s.o, 303);

  auto loss = [&](const std::vector<double>& p, const std::vector<double>& xx) {
    std::vector<double> y(static_cast<std::size_t>(B) * c.s.o);
    reference_forward<double>(cfg, p.data(), xx.data(), B, y.data());
    double l = 0;
    for (std::size_t i = 0; i < y.size(); ++i) l += r[i] * y[i];
    return l;
  };

  std::vector<double> dparams(P, 12345.0), dx(x.size(), 12345.0);  // poisoned
  reference_backward<double>(cfg, params.data(), x.data(), B, r.data(), dparams.data(), dx.data());

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
  // Per tensor, so a failure names it. Truncation error ~eps^2, round-off ~1e-16 |L| / eps.
  const ParamLayout layout(cfg);
  for (const TensorInfo& t : layout.tensors()) {
    std::vector<double> got(dparams.begin() + t.offset, dparams.begin() + t.offset + t.size());
    std::vector<double> want(num_dp.begin() + t.offset, num_dp.begin() + t.offset + t.size());
    EXPECT_TRUE(all_close("d" + t.name, got, want, 1e-7, 1e-6));
  }
  EXPECT_TRUE(all_close("dx", dx, num_dx, 1e-7, 1e-6));
}

INSTANTIATE_TEST_SUITE_P(Reference, GradientCheck, ::testing::ValuesIn(grad_cases()), case_name);

TEST(Reference, TinyCaseComputedByHand) {
  // D=1, H=1, T=2, O=1, attention, linear head; every step written out.
  ModelConfig cfg;
  cfg.hidden_size = 1;
  cfg.steps = 2;
  cfg.head = Activation::kLinear;
  // Layout: Wx, Wh, bh, wa, ba[0], ba[1], Wd, bd.
  const std::vector<double> p = {0.5, -0.3, 0.1, 0.7, 0.2, -0.1, 1.5, 0.05};
  const std::vector<double> x = {0.4, -0.8};
  const double h1 = std::tanh(0.4 * 0.5 + 0.1);
  const double h2 = std::tanh(-0.8 * 0.5 + h1 * -0.3 + 0.1);
  const double e1 = std::tanh(h1 * 0.7 + 0.2), e2 = std::tanh(h2 * 0.7 - 0.1);
  const double a1 = std::exp(e1) / (std::exp(e1) + std::exp(e2)), a2 = 1 - a1;
  const double c = a1 * h1 + a2 * h2;
  const double want_y = 1.5 * c + 0.05;
  double y = -99, attn[2] = {-99, -99}, hidden[2] = {-99, -99}, ctx = -99;
  reference_forward<double>(cfg, p.data(), x.data(), 1, &y, attn, hidden, &ctx);
  EXPECT_NEAR(hidden[0], h1, 1e-15);
  EXPECT_NEAR(hidden[1], h2, 1e-15);
  EXPECT_NEAR(attn[0], a1, 1e-15);
  EXPECT_NEAR(attn[1], a2, 1e-15);
  EXPECT_NEAR(ctx, c, 1e-15);
  EXPECT_NEAR(y, want_y, 1e-15);
  // The plain model on the same weights (no wa, ba): y = 1.5 h2 + 0.05.
  cfg.attention = false;
  const std::vector<double> pp = {0.5, -0.3, 0.1, 1.5, 0.05};
  reference_forward<double>(cfg, pp.data(), x.data(), 1, &y);
  EXPECT_NEAR(y, 1.5 * h2 + 0.05, 1e-15);
}

TEST(Reference, AttentionWeightsArePositiveAndSumToOne) {
  for (int T : {1, 2, 7, 200}) {
    ModelConfig cfg;
    cfg.hidden_size = 5;
    cfg.steps = T;
    cfg.input_size = 3;
    const int B = 9;
    const auto p = random_vector<float>(ParamLayout(cfg).size(), 11 + T, -2, 2);
    const auto x = random_vector<float>(static_cast<std::size_t>(B) * T * 3, 12 + T, -3, 3);
    std::vector<float> y(B, NAN), a(static_cast<std::size_t>(B) * T, NAN);
    reference_forward<float>(cfg, p.data(), x.data(), B, y.data(), a.data());
    for (int b = 0; b < B; ++b) {
      double sum = 0;
      for (int t = 0; t < T; ++t) {
        const float w = a[static_cast<std::size_t>(b) * T + t];
        ASSERT_GT(w, 0.f) << "T=" << T << " b=" << b << " t=" << t;
        // e_t is in [-1, 1], so no weight can exceed e^2 times another.
        ASSERT_LE(w, std::exp(2.0) / (T - 1 + std::exp(2.0)) + 1e-6);
        sum += w;
      }
      EXPECT_NEAR(sum, 1.0, 1e-5) << "T=" << T << " b=" << b;
      EXPECT_TRUE(std::isfinite(y[b]));
    }
  }
}

TEST(Reference, FloatAgreesWithDouble) {
  ModelConfig cfg;
  cfg.hidden_size = 16;
  cfg.steps = 50;
  cfg.input_size = 4;
  cfg.output_size = 3;
  const int B = 4;
  const auto pd = random_vector<double>(ParamLayout(cfg).size(), 5, -0.5, 0.5);
  const auto xd = random_vector<double>(static_cast<std::size_t>(B) * 50 * 4, 6);
  std::vector<float> pf(pd.begin(), pd.end()), xf(xd.begin(), xd.end());
  std::vector<double> yd(B * 3);
  std::vector<float> yf(B * 3);
  reference_forward<double>(cfg, pd.data(), xd.data(), B, yd.data());
  reference_forward<float>(cfg, pf.data(), xf.data(), B, yf.data());
  EXPECT_TRUE(all_close("y", yf, yd, 1e-5, 1e-5));
}

TEST(Reference, LossGradientsMatchFiniteDifferences) {
  // CCE reads rows of `outputs` (7 = one row of 7 classes; the targets need not be one-hot for
  // its gradient); MSE and BCE every value alike.
  for (Loss loss : {Loss::kMse, Loss::kBce, Loss::kCce}) {
    const long n = 7;
    const int outputs = loss == Loss::kCce ? 7 : 1;
    auto y = random_vector<double>(n, 21, 0.05, 0.95);
    const auto t = random_vector<double>(n, 22, 0.0, 1.0);
    std::vector<double> dy(n, 999.0);
    reference_loss<double>(loss, y.data(), t.data(), n, dy.data(), outputs);
    for (long i = 0; i < n; ++i) {
      const double keep = y[i];
      y[i] = keep + 1e-6;
      const double lp = reference_loss<double>(loss, y.data(), t.data(), n, nullptr, outputs);
      y[i] = keep - 1e-6;
      const double lm = reference_loss<double>(loss, y.data(), t.data(), n, nullptr, outputs);
      y[i] = keep;
      EXPECT_NEAR(dy[i], (lp - lm) / 2e-6, 1e-6) << to_string(loss) << " i=" << i;
    }
  }
  // MSE by hand: ((1-0)^2 + (0.5-1)^2) / 2.
  const double y2[] = {1.0, 0.5}, t2[] = {0.0, 1.0};
  EXPECT_DOUBLE_EQ(reference_loss<double>(Loss::kMse, y2, t2, 2), 0.625);
  // CCE by hand: two rows of three classes, the mean over the rows of -log(y of the true class);
  // a probability below 1e-7 is clipped there, as Keras clips it, and has no gradient.
  const double y3[] = {0.7, 0.2, 0.1, 0.0, 0.25, 0.75}, t3[] = {1, 0, 0, 1, 0, 0};
  double dy3[6];
  EXPECT_NEAR(reference_loss<double>(Loss::kCce, y3, t3, 6, dy3, 3),
              (-std::log(0.7) - std::log(1e-7)) / 2, 1e-12);
  EXPECT_NEAR(dy3[0], -1 / 0.7 / 2, 1e-12);
  EXPECT_EQ(dy3[3], 0.0);
  EXPECT_EQ(dy3[1], 0.0);  // t = 0: no gradient
  // CCE needs the rows' width, and n must be whole rows of it.
  EXPECT_THROW(reference_loss<double>(Loss::kCce, y3, t3, 6), InvalidArgument);
  EXPECT_THROW(reference_loss<double>(Loss::kCce, y3, t3, 5, nullptr, 3), InvalidArgument);
}

// A softmax head with CCE: the bias's gradient is sum over the batch of (y - t) / B, the
// identity that makes the pair the classifier's loss (Keras fuses them for it).
TEST(Reference, SoftmaxWithCrossEntropyGivesYMinusT) {
  ModelConfig cfg;
  cfg.hidden_size = 4;
  cfg.steps = 6;
  cfg.input_size = 3;
  cfg.output_size = 4;
  cfg.head = Activation::kSoftmax;
  cfg.loss = Loss::kCce;
  const int B = 5, O = cfg.output_size;
  const std::vector<double> params = random_vector<double>(ParamLayout(cfg).size(), 7, -0.9, 0.9);
  const std::vector<double> x = random_vector<double>(static_cast<std::size_t>(B) * 6 * 3, 8);
  std::vector<double> y(static_cast<std::size_t>(B) * O, -1.0), t(y.size(), 0.0);
  for (int b = 0; b < B; ++b) t[static_cast<std::size_t>(b) * O + (b * 3) % O] = 1.0;
  reference_forward<double>(cfg, params.data(), x.data(), B, y.data());
  for (int b = 0; b < B; ++b) {  // each row a distribution
    double sum = 0;
    for (int o = 0; o < O; ++o) {
      EXPECT_GT(y[static_cast<std::size_t>(b) * O + o], 0.0);
      sum += y[static_cast<std::size_t>(b) * O + o];
    }
    EXPECT_NEAR(sum, 1.0, 1e-12) << "row " << b;
  }
  std::vector<double> dy(y.size()), dparams(ParamLayout(cfg).size());
  reference_loss<double>(cfg.loss, y.data(), t.data(), static_cast<long>(y.size()), dy.data(), O);
  reference_backward<double>(cfg, params.data(), x.data(), B, dy.data(), dparams.data(), nullptr);
  const ParamLayout layout(cfg);
  for (int o = 0; o < O; ++o) {
    double want = 0;
    for (int b = 0; b < B; ++b) {
      want += (y[static_cast<std::size_t>(b) * O + o] - t[static_cast<std::size_t>(b) * O + o]) / B;
    }
    EXPECT_NEAR(dparams[layout.bd + o], want, 1e-12) << "dbd[" << o << "]";
  }
}

// A softmax of large pre-activations: no overflow (the row's maximum is subtracted first).
TEST(Reference, SoftmaxHeadDoesNotOverflow) {
  ModelConfig cfg;
  cfg.output_size = 3;
  cfg.head = Activation::kSoftmax;
  std::vector<float> p(ParamLayout(cfg).size(), 0.f), x(20, 0.5f), y(3, -1.f);
  const ParamLayout layout(cfg);
  p[layout.bd] = 200.f;  // exp(200) overflows float
  p[layout.bd + 1] = 199.f;
  p[layout.bd + 2] = -50.f;
  reference_forward<float>(cfg, p.data(), x.data(), 1, y.data());
  EXPECT_NEAR(y[0], 1 / (1 + std::exp(-1.f)), 1e-6f);
  EXPECT_NEAR(y[1], std::exp(-1.f) / (1 + std::exp(-1.f)), 1e-6f);
  EXPECT_GE(y[2], 0.f);
}

TEST(Reference, RejectsBadArguments) {
  ModelConfig cfg;
  std::vector<float> p(ParamLayout(cfg).size()), x(20), y(1), a(20);
  EXPECT_THROW(reference_forward<float>(cfg, p.data(), x.data(), 0, y.data()), InvalidArgument);
  EXPECT_THROW(reference_forward<float>(cfg, p.data(), x.data(), 1, nullptr), InvalidArgument);
  cfg.attention = false;
  try {
    reference_forward<float>(cfg, p.data(), x.data(), 1, y.data(), a.data());
    FAIL() << "attention from the plain model was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("attention [B,T]"), std::string::npos) << e.what();
  }
  cfg.hidden_size = 0;
  try {
    reference_forward<float>(cfg, p.data(), x.data(), 1, y.data());
    FAIL() << "H = 0 was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("hidden_size (H)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rnnattn
