// Limits that hold under stress, on the CPU path: T = 10,000 steps and B = 4,096 sequences in one
// call (the tutorial's D = 1, H = 2, so that it fits CI: x is 41 M floats, 164 MB, and so are the
// attention weights). Half the sequences end at T / 2 (padding at scale). What must hold: no
// overflow or NaN anywhere (outputs, the softmax over 10,000 steps, every gradient, a training
// epoch's loss and parameters), weights that sum to 1 over each sequence's valid steps and vanish
// on its padding, and sequences computed alone giving the same bits as in the big batch (no index
// arithmetic wraps: the batch offsets reach 4,096 x 10,000).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "rnnattn/rnnattn.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

TEST(Limits, TenThousandStepsAndFourThousandSequencesOnTheCpu) {
  const int B = 4096, T = 10000;
  ModelConfig cfg;
  cfg.steps = T;
  cfg.head = Activation::kSigmoid;
  const std::vector<float> p = init_parameters(cfg, 5);
  const std::vector<float> x = test::random_vector<float>(static_cast<std::size_t>(B) * T, 6);
  std::vector<int> len(B);
  for (int b = 0; b < B; ++b) len[b] = b % 2 ? T / 2 : T;

  std::vector<float> y(B, NAN), a(static_cast<std::size_t>(B) * T, NAN);
  reference_forward<float>(cfg, p.data(), x.data(), B, y.data(), a.data(), nullptr, nullptr,
                           len.data());
  for (int b = 0; b < B; ++b) {
    ASSERT_TRUE(std::isfinite(y[b])) << "y[" << b << "]";
    double sum = 0;
    for (int t = 0; t < T; ++t) {
      const float w = a[static_cast<std::size_t>(b) * T + t];
      ASSERT_TRUE(std::isfinite(w) && w >= 0.f) << "a[" << b << ", " << t << "] = " << w;
      if (t >= len[b]) {
        ASSERT_EQ(w, 0.f) << "weight on padding, b " << b << " t " << t;
      }
      sum += w;
    }
    ASSERT_NEAR(sum, 1.0, 1e-3) << "b " << b;  // 10,000 float weights, summed in double
  }
  // The last sequences of the batch alone: the same bits.
  for (int b : {B - 2, B - 1}) {
    float y1 = NAN;
    std::vector<float> a1(T, NAN);
    reference_forward<float>(cfg, p.data(), x.data() + static_cast<std::size_t>(b) * T, 1, &y1,
                             a1.data(), nullptr, nullptr, &len[b]);
    EXPECT_EQ(y1, y[b]) << "b " << b;
    EXPECT_TRUE(std::equal(a1.begin(), a1.end(), a.begin() + static_cast<std::size_t>(b) * T))
        << "b " << b;
  }

  const std::vector<float> dy = test::random_vector<float>(B, 7);
  std::vector<float> g(p.size(), NAN), dx(x.size(), NAN);
  reference_backward<float>(cfg, p.data(), x.data(), B, dy.data(), g.data(), dx.data(), len.data());
  for (std::size_t i = 0; i < g.size(); ++i)
    ASSERT_TRUE(std::isfinite(g[i])) << "dparams[" << i << "]";
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      const float v = dx[static_cast<std::size_t>(b) * T + t];
      ASSERT_TRUE(std::isfinite(v)) << "dx[" << b << ", " << t << "]";
      if (t >= len[b]) {
        ASSERT_EQ(v, 0.f) << "gradient on padding, b " << b << " t " << t;
      }
    }
  }

  // One training epoch, one batch of all 4,096 (the CPU backend's session: Adam included).
  const std::vector<float> target = test::random_vector<float>(B, 8, 0.0, 1.0);
  auto session = make_backend(Device::kCpu)->start_training(cfg, AdamConfig{}, p, AdamState{});
  session->set_dataset(x.data(), target.data(), B, len.data());
  std::vector<int> order(B);
  std::iota(order.begin(), order.end(), 0);
  const double loss = session->train_epoch(order, B);
  EXPECT_TRUE(std::isfinite(loss) && loss > 0) << loss;
  for (float v : session->parameters()) ASSERT_TRUE(std::isfinite(v));
  EXPECT_NE(session->parameters(), p);
}

}  // namespace
}  // namespace rnnattn
