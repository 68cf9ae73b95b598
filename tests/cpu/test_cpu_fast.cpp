// The fast CPU path against the reference (in double, the oracle): forward (y, attention, top
// states) and every gradient (dparams, dx) over an edge-size sweep (B, T, D, H of 1, odd and
// tile +- 1; lengths; layers; both directions; every head and loss); the same bits for one and
// two threads; the backend picks it by shape; the trainer on it follows the reference trainer.
#include <gtest/gtest.h>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>

#include "cpu_fast.hpp"
#include "rnnattn/backend.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/reference.hpp"
#include "rnnattn/trainer.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

struct FastCase {
  int B, T, D, H, O, layers;
  bool bidirectional, attention, lengths;
  Activation head;
  Cell cell = Cell::kElman;
  AttentionScore score = AttentionScore::kAdditive;
  std::string name() const {
    const std::string attn = !attention                           ? "_plain"
                             : score == AttentionScore::kAdditive ? "_attn"
                             : score == AttentionScore::kDot      ? "_dot"
                                                                  : "_dotscaled";
    return "B" + std::to_string(B) + "_T" + std::to_string(T) + "_D" + std::to_string(D) + "_H" +
           std::to_string(H) + "_O" + std::to_string(O) + "_L" + std::to_string(layers) +
           (bidirectional ? "_bi" : "") + attn + (lengths ? "_lengths" : "") + "_" +
           to_string(head) + "_" + to_string(cell);
  }
};

std::vector<FastCase> fast_cases() {
  using A = Activation;
  return {
      {1, 1, 1, 1, 1, 1, false, true, false, A::kTanh},         // every size 1
      {1, 20, 1, 2, 1, 1, false, true, false, A::kTanh},        // the tutorial
      {3, 5, 2, 7, 2, 1, false, false, false, A::kLinear},      // odd, plain
      {5, 7, 3, 15, 1, 1, false, true, true, A::kSigmoid},      // tile - 1, lengths
      {4, 9, 1, 17, 3, 2, false, true, false, A::kTanh},        // tile + 1, stacked
      {6, 6, 4, 8, 1, 1, true, true, true, A::kTanh},           // bidirectional with lengths
      {2, 4, 5, 9, 2, 3, true, false, true, A::kLinear},        // 3 bidirectional layers, plain
      {33, 12, 16, 32, 1, 1, false, true, false, A::kSigmoid},  // a batch past 32
      {17, 30, 8, 64, 1, 2, true, true, true, A::kTanh},        // larger, everything
      // The gated cells over the same kinds of edges.
      {1, 1, 1, 1, 1, 1, false, true, false, A::kTanh, Cell::kLstm},
      {1, 1, 1, 1, 1, 1, false, false, false, A::kTanh, Cell::kGru},
      {5, 7, 3, 15, 1, 1, false, true, true, A::kSigmoid, Cell::kLstm},
      {6, 6, 4, 8, 1, 1, true, true, true, A::kTanh, Cell::kGru},
      {4, 9, 1, 17, 3, 2, false, true, false, A::kTanh, Cell::kLstm},
      {2, 4, 5, 9, 2, 3, true, false, true, A::kLinear, Cell::kGru},
      {33, 12, 16, 32, 1, 1, false, true, false, A::kSigmoid, Cell::kGru},
      {17, 30, 8, 64, 1, 2, true, true, true, A::kTanh, Cell::kLstm},
      // Keras' dot-product attention: every size 1, lengths, the notebook's structure (a
      // bidirectional LSTM, sigmoid head), T past a GEMM tile, and use_scale.
      {1, 1, 1, 1, 1, 1, false, true, false, A::kTanh, Cell::kElman, AttentionScore::kDot},
      {5, 7, 3, 15, 1, 1, false, true, true, A::kLinear, Cell::kElman, AttentionScore::kDot},
      {6, 9, 4, 8, 1, 1, true, true, true, A::kSigmoid, Cell::kLstm, AttentionScore::kDot},
      {9, 40, 3, 16, 2, 1, false, true, true, A::kTanh, Cell::kGru, AttentionScore::kDotScaled},
      {17, 30, 8, 33, 1, 2, true, true, false, A::kSigmoid, Cell::kLstm,
       AttentionScore::kDotScaled},
      // A softmax head over K classes: two (the least), odd K, and K past a batch of rows.
      {3, 5, 2, 7, 2, 1, false, false, false, A::kSoftmax},
      {6, 9, 4, 8, 5, 1, true, true, true, A::kSoftmax, Cell::kLstm, AttentionScore::kDot},
      {33, 12, 16, 32, 40, 1, false, true, false, A::kSoftmax, Cell::kGru},
  };
}

class FastVsReference : public ::testing::TestWithParam<FastCase> {};

TEST_P(FastVsReference, ForwardAndEveryGradient) {
  const FastCase k = GetParam();
  ModelConfig cfg;
  cfg.input_size = k.D;
  cfg.hidden_size = k.H;
  cfg.steps = k.T;
  cfg.output_size = k.O;
  cfg.layers = k.layers;
  cfg.bidirectional = k.bidirectional;
  cfg.attention = k.attention;
  cfg.score = k.score;
  cfg.head = k.head;
  cfg.cell = k.cell;
  const std::size_t n = ParamLayout(cfg).size(), xs = static_cast<std::size_t>(k.B) * k.T * k.D;
  // Fresh random inputs per case; weights wide enough that the tanh is not linear, yet with a
  // recurrent spectral radius below 1 (|w| <= 1.5 / sqrt(H)), so that float32 rounding is not
  // amplified through the steps of a chaotic recurrence.
  const std::uint64_t seed = std::hash<std::string>{}(k.name());
  const double w = std::min(0.8, 1.5 / std::sqrt(static_cast<double>(k.H)));
  std::vector<float> params = test::random_vector<float>(n, seed, -w, w);
  const std::vector<float> x = test::random_vector<float>(xs, seed + 1, -1.5, 1.5);
  const std::vector<float> dy =
      test::random_vector<float>(static_cast<std::size_t>(k.B) * k.O, seed + 2);
  std::vector<int> lengths;
  if (k.lengths) {
    for (int b = 0; b < k.B; ++b) lengths.push_back(1 + (b * 5 + 3) % k.T);
    lengths[0] = k.T;
  }
  const int* len = lengths.empty() ? nullptr : lengths.data();

  // The oracle, in double.
  const std::vector<double> pd(params.begin(), params.end()), xd(x.begin(), x.end()),
      dyd(dy.begin(), dy.end());
  std::vector<double> y_ref(static_cast<std::size_t>(k.B) * k.O),
      a_ref(static_cast<std::size_t>(k.B) * k.T),
      h_ref(static_cast<std::size_t>(k.B) * k.T * cfg.context_size()), g_ref(n), dx_ref(xs);
  reference_forward<double>(cfg, pd.data(), xd.data(), k.B, y_ref.data(),
                            k.attention ? a_ref.data() : nullptr, h_ref.data(), nullptr, len);
  reference_backward<double>(cfg, pd.data(), xd.data(), k.B, dyd.data(), g_ref.data(),
                             dx_ref.data(), len);

  // One thread (one part) and three (the batch split into up to three parts, each its own
  // thread): both the reference's numbers.
  for (const int threads : {1, 3}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    set_cpu_threads(threads);
    fast::Workspace ws;
    std::vector<float> g(n, NAN), dx(xs, NAN);  // poisoned: every element must be written
    std::vector<float> a(static_cast<std::size_t>(k.B) * k.T, NAN), h(h_ref.size(), NAN);
    fast::forward(cfg, params.data(), x.data(), k.B, len, ws);
    fast::copy_outputs(ws, k.attention ? a.data() : nullptr, h.data());
    fast::backward(cfg, params.data(), x.data(), k.B, len, dy.data(), g.data(), dx.data(), ws);
    // float32 against double: states and outputs to a few ulps of their size; gradients sum over
    // B*T rows, so they get a tolerance that grows with the sums' length.
    const double sums = static_cast<double>(k.B) * k.T;
    EXPECT_TRUE(test::all_close("y", ws.y, y_ref, 2e-5, 2e-5));
    if (k.attention) {
      EXPECT_TRUE(test::all_close("attention", a, a_ref, 2e-5, 2e-5));
    }
    EXPECT_TRUE(test::all_close("top states", h, h_ref, 2e-5, 2e-5));
    EXPECT_TRUE(test::all_close("dparams", g, g_ref, 1e-5 * std::sqrt(sums) * k.layers, 1e-4));
    EXPECT_TRUE(test::all_close("dx", dx, dx_ref, 2e-5 * k.layers, 1e-4));
    // A second batch through the same workspace gives the same bits (nothing stale is read).
    std::vector<float> g2(n, NAN);
    fast::forward(cfg, params.data(), x.data(), k.B, len, ws);
    fast::backward(cfg, params.data(), x.data(), k.B, len, dy.data(), g2.data(), nullptr, ws);
    EXPECT_EQ(g2, g);
  }
  set_cpu_threads(0);
}

INSTANTIATE_TEST_SUITE_P(Cpu, FastVsReference, ::testing::ValuesIn(fast_cases()),
                         [](const auto& info) { return info.param.name(); });

// The same thread count gives the same bits, run after run; another count may not (the batch is
// split into as many parts, whose gradients are summed), but stays within float32 rounding.
TEST(FastCpu, ThreadCountsAndBits) {
  ModelConfig cfg;
  cfg.input_size = 16;
  cfg.hidden_size = 96;
  cfg.steps = 24;
  cfg.bidirectional = true;
  const int B = 64;
  const std::size_t n = ParamLayout(cfg).size();
  const std::vector<float> params = test::random_vector<float>(n, 3, -0.15, 0.15);
  const std::vector<float> x =
      test::random_vector<float>(static_cast<std::size_t>(B) * cfg.steps * cfg.input_size, 4);
  const std::vector<float> dy = test::random_vector<float>(B, 5);
  const auto grads = [&](int threads) {
    set_cpu_threads(threads);
    fast::Workspace ws;
    std::vector<float> g(n);
    fast::forward(cfg, params.data(), x.data(), B, nullptr, ws);
    fast::backward(cfg, params.data(), x.data(), B, nullptr, dy.data(), g.data(), nullptr, ws);
    g.insert(g.end(), ws.y.begin(), ws.y.end());
    return g;
  };
  const std::vector<float> one = grads(1), two = grads(2), three = grads(3);
  EXPECT_EQ(grads(1), one);
  EXPECT_EQ(grads(2), two);
  EXPECT_EQ(grads(3), three);
  EXPECT_TRUE(test::all_close("1 vs 2 threads", two, one, 1e-5, 1e-4));
  EXPECT_TRUE(test::all_close("1 vs 3 threads", three, one, 1e-5, 1e-4));
  // A batch too small to split (one part, the GEMMs threaded) and one just large enough.
  for (const int b : {1, 7, 8}) {
    set_cpu_threads(2);
    fast::Workspace ws;
    fast::forward(cfg, params.data(), x.data(), b, nullptr, ws);
    EXPECT_EQ(ws.parts.size(), b < 8 ? 1u : 2u) << "batch " << b;
  }
  set_cpu_threads(0);
  EXPECT_THROW(set_cpu_threads(-1), InvalidArgument);
}

// Device::kCpu is the fast path where it wins and the reference where it does not;
// Device::kReference is always the reference.
TEST(FastCpu, TheBackendChoosesByShape) {
  EXPECT_FALSE(fast::preferred(ModelConfig{}, 1));  // the tutorial: B 1, H 2
  ModelConfig big;
  big.hidden_size = 64;
  EXPECT_TRUE(fast::preferred(big, 32));
  EXPECT_EQ(make_backend(Device::kReference)->name(), "reference");
  EXPECT_EQ(make_backend(Device::kCpu)->name(), "cpu");
  EXPECT_EQ(parse_device("reference"), Device::kReference);
  // Through the Backend interface, on a shape the fast path takes: the reference's numbers.
  big.steps = 6;
  const int B = 40;
  const std::size_t n = ParamLayout(big).size();
  const std::vector<float> params = test::random_vector<float>(n, 8, -0.3, 0.3);
  const std::vector<float> x = test::random_vector<float>(static_cast<std::size_t>(B) * 6, 9);
  std::vector<float> y_fast(B), y_ref(B), a_fast(B * 6), a_ref(B * 6);
  make_backend(Device::kCpu)
      ->forward(big, params.data(), x.data(), B, y_fast.data(), a_fast.data(), nullptr);
  make_backend(Device::kReference)
      ->forward(big, params.data(), x.data(), B, y_ref.data(), a_ref.data(), nullptr);
  EXPECT_TRUE(test::all_close("y", y_fast, y_ref, 1e-5, 1e-5));
  EXPECT_TRUE(test::all_close("attention", a_fast, a_ref, 1e-5, 1e-5));
  EXPECT_NE(y_fast, y_ref) << "the same bits: the fast path did not run";
}

// The trainer on the fast path follows the reference trainer: the tutorial's task (which the
// shape rule keeps on the reference: the same bits) and a batched sentiment task.
TEST(FastCpu, TrainerFollowsTheReferenceTrainer) {
  const SplitData fib = fibonacci_data(20);
  Model a = make_model(ModelConfig{}, 1), b = make_model(ModelConfig{}, 1);
  TrainOptions opt;
  opt.epochs = 2;
  fit(*make_backend(Device::kCpu), a, fib.train, opt);
  fit(*make_backend(Device::kReference), b, fib.train, opt);
  EXPECT_EQ(a.params, b.params);

  SentimentOptions so;
  so.train = 96;
  so.test = 8;
  so.dim = 12;
  so.min_length = 8;
  so.max_length = 16;
  const SplitData s = sentiment_data(so);
  ModelConfig cfg;
  cfg.input_size = 12;
  cfg.hidden_size = 24;
  cfg.steps = 16;
  cfg.head = Activation::kSigmoid;
  cfg.loss = Loss::kBce;
  cfg.bidirectional = true;
  opt.batch_size = 32;
  opt.epochs = 3;
  for (Cell cell : {Cell::kElman, Cell::kLstm, Cell::kGru}) {
    SCOPED_TRACE(to_string(cell));
    cfg.cell = cell;
    Model f = make_model(cfg, 2), r = make_model(cfg, 2);
    const TrainHistory hf = fit(*make_backend(Device::kCpu), f, s.train, opt);
    const TrainHistory hr = fit(*make_backend(Device::kReference), r, s.train, opt);
    for (std::size_t e = 0; e < hf.epoch_loss.size(); ++e) {
      EXPECT_NEAR(hf.epoch_loss[e], hr.epoch_loss[e], 1e-5 * hr.epoch_loss[e]) << "epoch " << e;
    }
    EXPECT_TRUE(test::all_close("params after 9 Adam steps", f.params, r.params, 1e-4, 1e-4));
  }
}

}  // namespace
}  // namespace rnnattn

namespace rnnattn {
namespace {

// The vectorised tanh's stated bound: within 4 ulp of tanh in double over a dense grid of
// [-12, 12] (both sides of the 0.625 switch, the saturation at 9, tiny and subnormal inputs).
TEST(FastCpu, TanhIsWithinFourUlp) {
  std::vector<float> x;
  for (double v = -12.0; v <= 12.0; v += 1.0 / 4096) x.push_back(static_cast<float>(v));
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-38f, 1e-45f, 0.625f, 0.62499994f, 9.0f, 1e30f, -1e30f}) {
    x.push_back(v);
  }
  std::vector<float> y = x;
  fast::tanh_inplace(y.data(), static_cast<int>(y.size()));
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double want = std::tanh(static_cast<double>(x[i]));
    const double ulp = std::max(std::nextafter(static_cast<float>(std::fabs(want)), 2.0f) -
                                    static_cast<float>(std::fabs(want)),
                                1e-45f);
    worst = std::max(worst, std::fabs(y[i] - want) / ulp);
    ASSERT_LE(std::fabs(y[i] - want), 4 * ulp) << "tanh(" << x[i] << ") = " << y[i];
  }
  EXPECT_EQ(y[y.size() - 2], 1.0f);
  EXPECT_EQ(y.back(), -1.0f);
  RecordProperty("worst_ulp", std::to_string(worst));
}

}  // namespace
}  // namespace rnnattn

namespace rnnattn {
namespace {

// OpenBLAS falls back to its SSE3 kernels ("Prescott") on a CPU it does not recognise, such as a
// virtual machine's generic model name; the library picks them again for what the CPU has (AVX2
// and FMA at least) unless the user set OPENBLAS_CORETYPE.
// The fast path flushes subnormals only while it runs: the caller's floating-point mode (MXCSR)
// is the same after a pass, on one part and on several.
TEST(FastCpu, LeavesTheCallersFloatingPointModeAlone) {
#if defined(__x86_64__)
  ModelConfig cfg;
  cfg.hidden_size = 8;
  const auto p = init_parameters(cfg, 1);
  const auto x = test::random_vector<float>(static_cast<std::size_t>(16) * 20, 2);
  const auto dy = test::random_vector<float>(16, 3);
  std::vector<float> g(p.size());
  const unsigned before = _mm_getcsr();
  for (int threads : {1, 2}) {
    set_cpu_threads(threads);
    fast::Workspace ws;
    fast::forward(cfg, p.data(), x.data(), 16, nullptr, ws);
    fast::backward(cfg, p.data(), x.data(), 16, nullptr, dy.data(), g.data(), nullptr, ws);
    EXPECT_EQ(_mm_getcsr(), before) << threads << " threads";
  }
  set_cpu_threads(0);
#else
  GTEST_SKIP() << "x86-64 only";
#endif
}

TEST(FastCpu, BlasRunsKernelsForTheCpusVectorUnits) {
#if defined(__x86_64__)
  if (std::getenv("OPENBLAS_CORETYPE"))
    GTEST_SKIP() << "OPENBLAS_CORETYPE is set: the user's choice";
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    GTEST_SKIP() << "this CPU has no AVX2 and FMA: OpenBLAS's SSE kernels are its best";
  const std::string core = fast::blas_core();
  std::cout << "OpenBLAS kernels: " << core << "\n";
  EXPECT_NE(core, "Prescott") << "OpenBLAS runs its SSE3 kernels on a CPU with AVX2 and FMA";
#else
  GTEST_SKIP() << "x86-64 only";
#endif
}

}  // namespace
}  // namespace rnnattn
