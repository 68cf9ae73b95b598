// Adam against a hand computation; training lowers the loss; same seed, same bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "rnnattn/adam.hpp"
#include "rnnattn/backend.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/random.hpp"
#include "rnnattn/reference.hpp"
#include "rnnattn/trainer.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

TEST(Adam, MatchesHandComputedUpdates) {
  AdamConfig cfg;  // lr 1e-3, b1 0.9, b2 0.999, eps 1e-7
  AdamState st;
  st.reset(2);
  std::vector<float> p = {1.0f, -2.0f};
  const float g1[] = {0.5f, -0.25f}, g2[] = {-0.1f, 0.3f};
  adam_update(cfg, st, p.data(), g1, 2);
  adam_update(cfg, st, p.data(), g2, 2);
  // By hand, in double.
  double want[2] = {1.0, -2.0};
  const double g[2][2] = {{0.5, -0.25}, {-0.1, 0.3}};
  double m[2] = {0, 0}, v[2] = {0, 0};
  for (int t = 1; t <= 2; ++t) {
    const double step = 1e-3 * std::sqrt(1 - std::pow(0.999, t)) / (1 - std::pow(0.9, t));
    for (int i = 0; i < 2; ++i) {
      m[i] = 0.9 * m[i] + 0.1 * g[t - 1][i];
      v[i] = 0.999 * v[i] + 0.001 * g[t - 1][i] * g[t - 1][i];
      want[i] -= step * m[i] / (std::sqrt(v[i]) + 1e-7);
    }
  }
  EXPECT_EQ(st.step, 2);
  EXPECT_NEAR(p[0], want[0], 1e-6);
  EXPECT_NEAR(p[1], want[1], 1e-6);
  // The first step moves each parameter by about lr against its gradient's sign.
  EXPECT_LT(p[0], 1.0f);
  EXPECT_THROW(adam_update(cfg, st, p.data(), g1, 3), InvalidArgument);
  AdamConfig bad;
  bad.learning_rate = -1e-3f;
  EXPECT_THROW(bad.validate(), InvalidArgument);
}

// A small series task for quick training tests.
SplitData small_series() {
  std::vector<double> s(120);
  for (int i = 0; i < 120; ++i) s[i] = std::sin(0.3 * i) + 0.5 * std::sin(0.11 * i);
  return series_data(s, 8);
}

TEST(Trainer, ShortRunLowersTheLoss) {
  const SplitData d = small_series();
  for (bool attention : {true, false}) {
    ModelConfig cfg;
    cfg.steps = 8;
    cfg.hidden_size = 8;
    cfg.attention = attention;
    cfg.head = Activation::kLinear;
    Model m = make_model(cfg, 3);
    auto backend = make_backend(Device::kCpu);
    const double before = mean_squared_error(predict(*backend, m, d.train), d.train);
    TrainOptions opt;
    opt.epochs = 15;
    opt.batch_size = 4;
    const TrainHistory h = fit(*backend, m, d.train, opt);
    const double after = mean_squared_error(predict(*backend, m, d.train), d.train);
    ASSERT_EQ(h.epoch_loss.size(), 15u);
    EXPECT_LT(h.epoch_loss.back(), h.epoch_loss.front()) << "attention=" << attention;
    EXPECT_LT(after, 0.5 * before) << "attention=" << attention;
    EXPECT_EQ(m.epochs_trained, 15);
    EXPECT_EQ(m.adam.step, 15 * ((d.train.count + 3) / 4));
  }
}

TEST(Trainer, SameSeedSameBits) {
  const SplitData d = fibonacci_data(20);
  auto run = [&](std::uint64_t shuffle) {
    Model m = make_model(ModelConfig{}, 9);
    auto backend = make_backend(Device::kCpu);
    TrainOptions opt;
    opt.epochs = 2;
    opt.seed = shuffle;
    fit(*backend, m, d.train, opt);
    return m;
  };
  const Model a = run(5), b = run(5), c = run(6);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.adam.m, b.adam.m);
  EXPECT_EQ(a.adam.v, b.adam.v);
  EXPECT_NE(a.params, c.params);  // another shuffle order
}

// The progress line is display only: the same batches in the same order, the same parameters.
// Resuming: N epochs, then initial_epoch = N up to N + M, gives the bits of N + M epochs at once
// (the shuffle stream replayed, Adam's moments and step carried in the model), for a batch that
// does not divide the training set and for N = 1 and N = M + N - 1.
TEST(Trainer, ResumingGivesTheBitsOfOneRun) {
  const SplitData d = small_series();
  ModelConfig cfg;
  cfg.steps = 8;
  cfg.hidden_size = 3;
  auto backend = make_backend(Device::kCpu);
  TrainOptions opt;
  opt.batch_size = 5;
  opt.seed = 11;
  opt.epochs = 6;
  Model whole = make_model(cfg, 11);
  fit(*backend, whole, d.train, opt);
  for (int first : {1, 4, 5}) {
    SCOPED_TRACE(first);
    Model part = make_model(cfg, 11);
    TrainOptions o = opt;
    o.epochs = first;
    fit(*backend, part, d.train, o);
    EXPECT_NE(part.params, whole.params);
    o.epochs = opt.epochs;
    o.initial_epoch = static_cast<int>(part.epochs_trained);
    const TrainHistory h = fit(*backend, part, d.train, o);
    EXPECT_EQ(h.epoch_loss.size(), static_cast<std::size_t>(opt.epochs - first));
    EXPECT_EQ(h.best_epoch, opt.epochs);
    EXPECT_EQ(part.params, whole.params);
    EXPECT_EQ(part.adam.m, whole.adam.m);
    EXPECT_EQ(part.adam.v, whole.adam.v);
    EXPECT_EQ(part.adam.step, whole.adam.step);
    EXPECT_EQ(part.epochs_trained, opt.epochs);
  }
  TrainOptions bad = opt;
  bad.initial_epoch = opt.epochs + 1;
  EXPECT_THROW(fit(*backend, whole, d.train, bad), InvalidArgument);
}

TEST(Trainer, ProgressLinesDoNotChangeTheResult) {
  const SplitData d = fibonacci_data(20);
  auto run = [&](bool progress, std::ostringstream& log) {
    Model m = make_model(ModelConfig{}, 4);
    auto backend = make_backend(Device::kCpu);
    fit(*backend, m, d.train,
        {.epochs = 2, .batch_size = 3, .seed = 4, .log = &log, .progress = progress});
    return m;
  };
  std::ostringstream plain_log, progress_log;
  const Model a = run(false, plain_log), b = run(true, progress_log);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.adam.m, b.adam.m);
  EXPECT_EQ(plain_log.str().find('\r'), std::string::npos) << plain_log.str();
  const std::string p = progress_log.str();
  EXPECT_NE(p.find("\rEpoch 1/2 - "), std::string::npos) << p;
  EXPECT_NE(p.find(" - 1/276 [>"), std::string::npos) << p;  // 826 windows in batches of 3
  EXPECT_NE(p.find("Epoch 2/2 - 276/276 - loss: "), std::string::npos) << p;
  // Each epoch's final line reports the same loss with and without progress (to 4 digits).
  const auto loss_of = [](const std::string& log, const std::string& epoch) {
    const auto at = log.find(epoch + " - 276/276 - loss: ");
    return at == std::string::npos ? std::string() : log.substr(at, epoch.size() + 30);
  };
  EXPECT_EQ(loss_of(p, "Epoch 2/2"), loss_of(plain_log.str(), "Epoch 2/2"));
}

// The progress lines train an epoch in parts whose size follows the clock; the epoch's loss is
// still the bits of one call (the parts continue one running sum of the batches' losses), with
// and without lines, progress bar or not.
TEST(Trainer, EpochLossesDoNotDependOnTheParts) {
  const SplitData d = fibonacci_data(20);
  auto losses = [&](std::ostream* log, bool progress) {
    Model m = make_model(ModelConfig{}, 5);
    auto backend = make_backend(Device::kCpu);
    return fit(*backend, m, d.train,
               {.epochs = 3, .batch_size = 5, .seed = 5, .log = log, .progress = progress})
        .epoch_loss;
  };
  std::ostringstream lines, bar;
  const std::vector<double> whole = losses(nullptr, false);
  ASSERT_EQ(whole.size(), 3u);
  EXPECT_EQ(losses(&lines, false), whole);
  EXPECT_EQ(losses(&bar, true), whole);
  // And the sessions' parts by hand: one call, then the same batches in parts of 1, 2 and 4.
  Model m = make_model(ModelConfig{}, 6);
  std::vector<int> order(d.train.count);
  for (int i = 0; i < d.train.count; ++i) order[i] = (i * 7) % d.train.count;
  auto sum_in_parts = [&](const std::vector<int>& parts) {
    auto backend = make_backend(Device::kCpu);
    auto session = backend->start_training(m.config, m.adam_config, m.params, m.adam);
    session->set_dataset(d.train.x.data(), d.train.y.data(), d.train.count);
    double sum = 0;
    std::size_t at = 0;
    for (std::size_t p = 0; at < order.size(); ++p) {
      const std::size_t n =
          std::min(order.size() - at, 4 * static_cast<std::size_t>(parts[p % parts.size()]));
      session->train_batches(std::vector<int>(order.begin() + at, order.begin() + at + n), 4, &sum);
      at += n;
    }
    return sum;
  };
  const double one_call = sum_in_parts({1 << 20});
  EXPECT_EQ(sum_in_parts({1, 2, 4}), one_call);
  EXPECT_EQ(sum_in_parts({3}), one_call);
}

// A slow step shows progress within the first epoch: on a terminal the first line comes after
// the first batch (not after a twentieth of the epoch), and in a pipe a plain line comes once
// heartbeat_seconds have passed (0 here: after every chunk). The result does not change.
TEST(Trainer, ProgressComesAfterTheFirstStep) {
  const SplitData d = small_series();
  ModelConfig cfg;
  cfg.steps = 8;
  auto backend = make_backend(Device::kCpu);
  const int batches = d.train.count;  // batch 1
  std::ostringstream terminal, pipe, none;
  Model a = make_model(cfg, 2), b = make_model(cfg, 2), c = make_model(cfg, 2);
  fit(*backend, a, d.train,
      {.epochs = 1, .batch_size = 1, .seed = 2, .log = &terminal, .progress = true});
  fit(*backend, b, d.train,
      {.epochs = 1, .batch_size = 1, .seed = 2, .log = &pipe, .heartbeat_seconds = 0});
  fit(*backend, c, d.train, {.epochs = 1, .batch_size = 1, .seed = 2, .log = &none});
  const std::string n = std::to_string(batches);
  EXPECT_NE(terminal.str().find("\rEpoch 1/1 - 1/" + n + " ["), std::string::npos)
      << terminal.str();
  EXPECT_NE(pipe.str().find("Epoch 1/1 - 1/" + n + " - loss: "), std::string::npos) << pipe.str();
  EXPECT_NE(pipe.str().find("running"), std::string::npos) << pipe.str();
  EXPECT_EQ(none.str().find("running"), std::string::npos) << none.str();  // a fast epoch: none
  EXPECT_EQ(a.params, c.params);
  EXPECT_EQ(b.params, c.params);
}

// TrainOptions::seed is the run's seed: the shuffle uses the documented derivation.
TEST(Trainer, SeedDerivationIsDocumented) {
  EXPECT_EQ(shuffle_seed(0), 1u);
  EXPECT_EQ(shuffle_seed(1), 0x9E3779B97F4A7C15ull + 1);
  EXPECT_EQ(shuffle_seed(2), 2 * 0x9E3779B97F4A7C15ull + 1);
}

// Early stopping as Keras' EarlyStopping(restore_best_weights=True): the model ends with the best
// epoch's weights and Adam state, the history says which, and training stopped exactly `patience`
// epochs after it.
TEST(Trainer, EarlyStoppingKeepsTheBestEpoch) {
  SplitData d = small_series();
  WindowSet train = d.train;
  const WindowSet val = split_validation(train, 0.25);
  ModelConfig cfg;
  cfg.steps = 8;
  cfg.hidden_size = 6;
  for (int patience : {1, 3}) {
    SCOPED_TRACE(patience);
    Model m = make_model(cfg, 2, AdamConfig{0.05f});  // a large step: val_loss wanders
    auto backend = make_backend(Device::kCpu);
    const TrainHistory h = fit(
        *backend, m, train,
        {.epochs = 40, .batch_size = 2, .seed = 3, .validation = &val, .early_stopping = patience});
    const int run = static_cast<int>(h.epoch_loss.size());
    ASSERT_EQ(h.val_loss.size(), h.epoch_loss.size());
    ASSERT_EQ(h.epoch_seconds.size(), h.epoch_loss.size());
    const auto best = std::min_element(h.val_loss.begin(), h.val_loss.end());
    EXPECT_EQ(h.best_epoch, 1 + static_cast<int>(best - h.val_loss.begin()));
    if (h.stopped_early) {
      EXPECT_EQ(run - h.best_epoch, patience);
    } else {
      EXPECT_EQ(run, 40);
    }
    // The weights kept are the best epoch's: their validation loss is the best one, bit for bit.
    EXPECT_EQ(evaluate_loss(*backend, m, val), *best);
    EXPECT_EQ(m.epochs_trained, h.best_epoch);
    EXPECT_EQ(m.adam.step, h.best_epoch * ((train.count + 1) / 2));
  }
}

// Keras' EarlyStopping options: the monitored loss, min_delta, and when the best weights come back
// (Keras' restore_best_weights=True restores only on a stop; its default never does).
TEST(Trainer, EarlyStoppingOptionsFollowKeras) {
  SplitData d = small_series();
  WindowSet train = d.train;
  const WindowSet val = split_validation(train, 0.25);
  ModelConfig cfg;
  cfg.steps = 8;
  cfg.hidden_size = 6;
  auto backend = make_backend(Device::kCpu);
  using Monitor = TrainOptions::Monitor;
  using Restore = TrainOptions::Restore;
  const auto run = [&](int epochs, int patience, Monitor monitor, double min_delta, Restore restore,
                       Model* out = nullptr) {
    Model m = make_model(cfg, 2, AdamConfig{0.05f});
    TrainOptions o{.epochs = epochs, .batch_size = 2, .seed = 3, .validation = &val};
    o.early_stopping = patience;
    o.monitor = monitor;
    o.min_delta = min_delta;
    o.restore = restore;
    const TrainHistory h = fit(*backend, m, train, o);
    if (out) *out = m;
    return h;
  };
  // The training loss monitored: the best epoch is the lowest training loss's, not val_loss's.
  TrainHistory h = run(40, 2, Monitor::kLoss, 0, Restore::kAlways);
  const auto best_loss = std::min_element(h.epoch_loss.begin(), h.epoch_loss.end());
  EXPECT_EQ(h.best_epoch, 1 + static_cast<int>(best_loss - h.epoch_loss.begin()));
  // A min_delta no epoch beats: the first epoch stays the best, and training stops `patience`
  // epochs after it.
  h = run(40, 3, Monitor::kValLoss, 1e9, Restore::kAlways);
  EXPECT_TRUE(h.stopped_early);
  EXPECT_EQ(h.epoch_loss.size(), 4u);
  EXPECT_EQ(h.best_epoch, 1);
  // Never restored: a stopped run keeps its last epoch's weights, and says which epoch was best.
  Model m;
  h = run(40, 1, Monitor::kValLoss, 1e9, Restore::kNever, &m);
  EXPECT_TRUE(h.stopped_early);
  EXPECT_EQ(h.best_epoch, 2);
  EXPECT_EQ(h.monitored_best_epoch, 1);
  EXPECT_EQ(m.epochs_trained, 2);
  EXPECT_EQ(evaluate_loss(*backend, m, val), h.val_loss.back());
  // Restored on a stop only: a run that never stops keeps its last epoch; one that stops, its best.
  h = run(4, 10, Monitor::kValLoss, 0, Restore::kOnStop, &m);
  EXPECT_FALSE(h.stopped_early);
  EXPECT_EQ(m.epochs_trained, 4);
  EXPECT_EQ(evaluate_loss(*backend, m, val), h.val_loss.back());
  h = run(40, 1, Monitor::kValLoss, 1e9, Restore::kOnStop, &m);
  EXPECT_TRUE(h.stopped_early);
  EXPECT_EQ(m.epochs_trained, 1);
  EXPECT_EQ(evaluate_loss(*backend, m, val), h.val_loss.front());
  // val_loss with no validation set to compute it on is refused, as is a negative min_delta.
  Model bare = make_model(cfg, 2);
  TrainOptions o{.epochs = 2, .early_stopping = 1};
  o.monitor = Monitor::kValLoss;
  EXPECT_THROW(fit(*backend, bare, train, o), InvalidArgument);
  o.monitor = Monitor::kAuto;
  o.min_delta = -1;
  EXPECT_THROW(fit(*backend, bare, train, o), InvalidArgument);
}

TEST(Trainer, ValidationSplitTakesTheLatestWindows) {
  SplitData d = fibonacci_data(20);
  WindowSet train = d.train;
  const WindowSet val = split_validation(train, 0.2);
  EXPECT_EQ(val.count, static_cast<int>(0.2 * d.train.count));
  EXPECT_EQ(train.count + val.count, d.train.count);
  const int latest_train = *std::max_element(train.index.begin(), train.index.end());
  for (int i : val.index) EXPECT_GT(i, latest_train);
  // The training part keeps the tutorial's order, rows and all.
  std::vector<int> kept;
  for (int i : d.train.index) {
    if (i <= latest_train) kept.push_back(i);
  }
  EXPECT_EQ(train.index, kept);
  EXPECT_EQ(train.x.size(), static_cast<std::size_t>(train.count) * 20);
  WindowSet one = train;
  one.count = 1;
  EXPECT_THROW(split_validation(one, 0.5), InvalidArgument);
  EXPECT_THROW(split_validation(train, 1.0), InvalidArgument);
}

TEST(Trainer, BatchOfAllEqualsOneFullGradientStep) {
  // One epoch with batch = N is one Adam step on the mean loss: check against reference + Adam.
  const SplitData d = small_series();
  ModelConfig cfg;
  cfg.steps = 8;
  cfg.hidden_size = 3;
  Model m = make_model(cfg, 4);
  const std::vector<float> p0 = m.params;
  auto backend = make_backend(Device::kCpu);
  TrainOptions opt;
  opt.epochs = 1;
  opt.batch_size = d.train.count;
  fit(*backend, m, d.train, opt);

  const int n = d.train.count;
  std::vector<float> y(n), dy(n), grads(p0.size()), p = p0;
  reference_forward<float>(cfg, p0.data(), d.train.x.data(), n, y.data());
  reference_loss<float>(Loss::kMse, y.data(), d.train.y.data(), n, dy.data());
  reference_backward<float>(cfg, p0.data(), d.train.x.data(), n, dy.data(), grads.data());
  AdamState st;
  st.reset(p.size());
  adam_update(AdamConfig{}, st, p.data(), grads.data(), p.size());
  // The sample order differs (shuffled), so float sums may differ in the last bits.
  EXPECT_TRUE(test::all_close("params", m.params, p, 1e-7, 1e-5));
}

TEST(Trainer, RejectsMismatchedData) {
  const SplitData d = small_series();      // T = 8
  Model m = make_model(ModelConfig{}, 1);  // T = 20
  auto backend = make_backend(Device::kCpu);
  try {
    fit(*backend, m, d.train, TrainOptions{});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("T = 20"), std::string::npos) << e.what();
  }
}

// The class of a row: the side of 0.5 for one output, the largest output (the first of equal
// ones) for several; accuracy compares the predictions' classes with the targets'.
TEST(Classes, OfOneOutputOrSeveral) {
  EXPECT_EQ(classes_of({0.2f, 0.5f, 0.9f, 0.49f}, 1), (std::vector<int>{0, 1, 1, 0}));
  EXPECT_EQ(classes_of({0.2f, 0.5f, 0.3f, 0.4f, 0.4f, 0.2f}, 3), (std::vector<int>{1, 0}));
  EXPECT_THROW(classes_of({0.2f, 0.5f}, 3), InvalidArgument);
  WindowSet w;
  w.count = 3;
  w.y = {1, 0, 0, 0, 0, 1, 0, 1, 0};  // one-hot: classes 0, 2, 1
  EXPECT_DOUBLE_EQ(accuracy({0.5f, 0.3f, 0.2f, 0.1f, 0.1f, 0.8f, 0.6f, 0.3f, 0.1f}, w), 2.0 / 3);
  EXPECT_THROW(accuracy({0.5f, 0.3f}, w), InvalidArgument);
}

// A confusion matrix counted by hand, and the scores read off it as scikit-learn's
// precision_recall_fscore_support gives them; undefined ones (nothing predicted as a class, no
// row of it) are NaN.
TEST(Classes, ConfusionAndPerClassScores) {
  // Truth 0 0 0 1 1 2 2 2 2, predicted 0 0 1 1 2 2 2 2 0 (three classes, one-hot targets).
  const int truth[] = {0, 0, 0, 1, 1, 2, 2, 2, 2}, said[] = {0, 0, 1, 1, 2, 2, 2, 2, 0};
  std::vector<float> y, p;
  for (int i = 0; i < 9; ++i) {
    for (int k = 0; k < 3; ++k) {
      y.push_back(truth[i] == k ? 1.f : 0.f);
      p.push_back(said[i] == k ? 0.6f : 0.2f);
    }
  }
  const Confusion c = confusion(p, y, 3);
  ASSERT_EQ(c.classes, 3);
  EXPECT_EQ(c.counts, (std::vector<long>{2, 1, 0, 0, 1, 1, 1, 0, 3}));
  EXPECT_EQ(c.total(), 9);
  EXPECT_EQ(c.correct(), 6);
  EXPECT_DOUBLE_EQ(c.accuracy(), 6.0 / 9);
  EXPECT_DOUBLE_EQ(c.precision(0), 2.0 / 3);
  EXPECT_DOUBLE_EQ(c.recall(0), 2.0 / 3);
  EXPECT_DOUBLE_EQ(c.precision(1), 1.0 / 2);
  EXPECT_DOUBLE_EQ(c.recall(1), 1.0 / 2);
  EXPECT_DOUBLE_EQ(c.precision(2), 3.0 / 4);
  EXPECT_DOUBLE_EQ(c.recall(2), 3.0 / 4);
  EXPECT_DOUBLE_EQ(c.f1(2), 0.75);
  // Binary: one output, class 1 where >= 0.5; nothing predicted as class 1: its precision is NaN.
  const Confusion b = confusion({0.1f, 0.2f, 0.3f}, {0.f, 1.f, 1.f}, 1);
  EXPECT_EQ(b.counts, (std::vector<long>{1, 0, 2, 0}));
  EXPECT_TRUE(std::isnan(b.precision(1)));
  EXPECT_DOUBLE_EQ(b.recall(1), 0.0);
  EXPECT_TRUE(std::isnan(b.f1(1)));
  EXPECT_TRUE(std::isnan(Confusion(4).accuracy()));
  EXPECT_THROW(confusion({0.1f}, {0.f, 1.f}, 1), InvalidArgument);
}

// A softmax head with CCE learns three classes that the inputs' sign pattern decides, and the
// trainer reports the validation accuracy for it as for BCE.
TEST(Trainer, SoftmaxHeadLearnsThreeClasses) {
  ModelConfig cfg;
  cfg.steps = 6;
  cfg.hidden_size = 8;
  cfg.input_size = 2;
  cfg.output_size = 3;
  cfg.head = Activation::kSoftmax;
  cfg.loss = Loss::kCce;
  WindowSet w;
  w.count = 240;
  w.steps = 6;
  w.features = 2;
  Rng rng(17);
  for (int i = 0; i < w.count; ++i) {
    const int k = i % 3;  // class k: feature k's mean is high (class 2: both low)
    for (int t = 0; t < 6; ++t) {
      for (int f = 0; f < 2; ++f) {
        w.x.push_back(static_cast<float>((f == k ? 0.8 : -0.4) + 0.3 * (rng.uniform() - 0.5)));
      }
    }
    for (int c = 0; c < 3; ++c) w.y.push_back(c == k ? 1.f : 0.f);
    w.index.push_back(i);
  }
  WindowSet train = w;
  const WindowSet validation = split_validation(train, 0.25);
  Model m = make_model(cfg, 5);
  auto backend = make_backend(Device::kCpu);
  TrainOptions opt;
  opt.epochs = 20;
  opt.batch_size = 16;
  opt.validation = &validation;
  const TrainHistory h = fit(*backend, m, train, opt);
  ASSERT_EQ(h.val_accuracy.size(), 20u);
  EXPECT_GT(h.val_accuracy.back(), 0.95);
  EXPECT_LT(h.epoch_loss.back(), 0.5 * h.epoch_loss.front());
  EXPECT_GT(accuracy(predict(*backend, m, validation), validation), 0.95);
}

}  // namespace
}  // namespace rnnattn
