// The trainer (rnnattn/trainer.hpp): epochs of shuffled mini-batches on a backend, validation,
// early stopping, and predict / evaluate over a window set.
#include "rnnattn/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <ostream>
#include <string>

#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/random.hpp"
#include "rnnattn/reference.hpp"

namespace rnnattn {
namespace {

void check_dataset(const Model& model, const WindowSet& data, const char* what) {
  const ModelConfig& c = model.config;
  if (data.steps != c.steps) {
    throw InvalidArgument(std::string(what) + ": windows of " + std::to_string(data.steps) +
                          " steps for a model built for T = " + std::to_string(c.steps));
  }
  const std::size_t want_y = static_cast<std::size_t>(data.count) * c.output_size;
  if (c.embedded()) {
    // A model with an embedding reads token ids [N, T].
    const std::size_t want_t = static_cast<std::size_t>(data.count) * c.steps;
    if (data.tokens.size() != want_t || data.y.size() != want_y) {
      throw InvalidArgument(std::string(what) + ": tokens holds " +
                            std::to_string(data.tokens.size()) + " and y " +
                            std::to_string(data.y.size()) + " values; the model embeds token ids " +
                            "and needs tokens [N,T] and y [N,O]: " + std::to_string(want_t) +
                            " and " + std::to_string(want_y));
    }
  } else {
    const std::size_t want_x = static_cast<std::size_t>(data.count) * c.steps * c.input_size;
    if (data.x.size() != want_x || data.y.size() != want_y) {
      throw InvalidArgument(
          std::string(what) + ": x holds " + std::to_string(data.x.size()) + " and y " +
          std::to_string(data.y.size()) + " values; [N,T,D] and [N,O] need " +
          std::to_string(want_x) + " and " + std::to_string(want_y) +
          (data.tokens.empty() ? "" : " (this is token data: the model needs an embedding)"));
    }
  }
  if (!data.lengths.empty()) {
    if (data.lengths.size() != static_cast<std::size_t>(data.count)) {
      throw InvalidArgument(std::string(what) + ": " + std::to_string(data.lengths.size()) +
                            " lengths for " + std::to_string(data.count) + " windows");
    }
    try {
      check_lengths(c, data.lengths.data(), data.count);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(std::string(what) + ": " + e.what());
    }
  }
}

// One epoch, in chunks of whole batches when there is a log, so that a slow epoch shows progress
// (the batches, their order and so the parameters are the same either way). Chunks start at one
// batch, so the first line comes after the first step however slow it is, and double while a
// chunk takes under 50 ms, so fast epochs make few calls. With opt.progress the "\r" line is
// rewritten at most every 200 ms; without it (a pipe) a plain line is written every
// opt.heartbeat_seconds. Returns the mean per-batch loss.
double run_epoch(TrainingSession& session, const std::vector<int>& order, const TrainOptions& opt,
                 int epoch, std::chrono::steady_clock::time_point start) {
  using std::chrono::steady_clock;
  const int n = static_cast<int>(order.size()), bs = opt.batch_size;
  const int batches = (n + bs - 1) / bs;
  if (!opt.log || batches < 2) return session.train_epoch(order, bs);
  const int max_chunk = opt.progress ? std::max(1, batches / 20) : batches;
  int chunk = 1;
  double loss_sum = 0;
  int done = 0;
  auto last_print = start;
  while (done < batches) {
    const int take = std::min(chunk, batches - done);
    const auto first = order.begin() + static_cast<std::ptrdiff_t>(done) * bs;
    const auto last =
        order.begin() + std::min<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(done + take) * bs, n);
    const auto c0 = steady_clock::now();
    // The running sum goes on through the parts: the epoch's loss has the bits of one call,
    // however the (timed) parts are cut.
    done += session.train_batches(std::vector<int>(first, last), bs, &loss_sum);
    const auto now = steady_clock::now();
    if (now - c0 < std::chrono::milliseconds(50)) chunk = std::min(2 * chunk, max_chunk);
    if (done >= batches) break;
    char line[200];
    if (opt.progress && (done == take || now - last_print > std::chrono::milliseconds(200))) {
      last_print = now;
      const int width = 30, filled = width * done / batches;
      std::snprintf(line, sizeof line, "\rEpoch %d/%d - %d/%d [%s>%s] - loss: %.4e", epoch,
                    opt.epochs, done, batches, std::string(filled, '=').c_str(),
                    std::string(width - filled, '.').c_str(), loss_sum / done);
      *opt.log << line << std::flush;
    } else if (!opt.progress &&
               std::chrono::duration<double>(now - last_print).count() >= opt.heartbeat_seconds) {
      last_print = now;
      std::snprintf(line, sizeof line, "Epoch %d/%d - %d/%d - loss: %.4e - running, %.0fs\n", epoch,
                    opt.epochs, done, batches, loss_sum / done,
                    std::chrono::duration<double>(now - start).count());
      *opt.log << line << std::flush;
    }
  }
  return loss_sum / batches;
}

// The per-epoch reshuffle (Fisher-Yates over the previous epoch's order), as Keras'
// fit(shuffle=True) does. Resuming replays it for the epochs already run.
void shuffle(std::vector<int>& order, Rng& rng) {
  for (int i = static_cast<int>(order.size()) - 1; i >= 1; --i) {
    std::swap(order[i], order[rng.below(i + 1)]);
  }
}

}  // namespace

std::uint64_t shuffle_seed(std::uint64_t seed) { return seed * 0x9E3779B97F4A7C15ull + 1; }

Model make_model(const ModelConfig& config, std::uint64_t seed, const AdamConfig& adam) {
  Model m;
  m.config = config;
  m.params = init_parameters(config, seed);
  m.adam_config = adam;
  m.adam_config.validate();
  m.adam.reset(m.params.size());
  return m;
}

TrainHistory fit(Backend& backend, Model& model, const WindowSet& train, const TrainOptions& opt) {
  if (opt.epochs < 0)
    throw InvalidArgument("epochs must be >= 0, got " + std::to_string(opt.epochs));
  if (opt.batch_size < 1) {
    throw InvalidArgument("batch size must be >= 1, got " + std::to_string(opt.batch_size));
  }
  if (opt.initial_epoch < 0 || opt.initial_epoch > opt.epochs) {
    throw InvalidArgument("initial epoch must be in [0, epochs = " + std::to_string(opt.epochs) +
                          "], got " + std::to_string(opt.initial_epoch));
  }
  if (opt.early_stopping < 0) {
    throw InvalidArgument("early stopping patience must be >= 0, got " +
                          std::to_string(opt.early_stopping));
  }
  if (!(opt.min_delta >= 0) || !std::isfinite(opt.min_delta)) {
    throw InvalidArgument("early stopping's min_delta must be finite and >= 0");
  }
  if (opt.early_stopping > 0 && opt.monitor == TrainOptions::Monitor::kValLoss && !opt.validation) {
    throw InvalidArgument(
        "early stopping monitors val_loss, but there is no validation set (give a validation "
        "split or validation data, or monitor the training loss)");
  }
  check_dataset(model, train, "training set");
  if (train.count < 1) throw InvalidArgument("training set: no windows");
  if (opt.validation) {
    check_dataset(model, *opt.validation, "validation set");
    if (opt.validation->count < 1) throw InvalidArgument("validation set: no windows");
  }

  const auto t0 = std::chrono::steady_clock::now();
  std::unique_ptr<TrainingSession> session =
      backend.start_training(model.config, model.adam_config, model.params, model.adam);
  session->set_seed(opt.seed);
  if (model.config.embedded()) {
    session->set_token_dataset(train.tokens.data(), train.y.data(), train.count,
                               train.lengths_or_null());
  } else {
    session->set_dataset(train.x.data(), train.y.data(), train.count, train.lengths_or_null());
  }

  TrainHistory h;
  Rng rng(shuffle_seed(opt.seed));
  std::vector<int> order(train.count);
  std::iota(order.begin(), order.end(), 0);
  const int batches = (train.count + opt.batch_size - 1) / opt.batch_size;
  for (int epoch = 1; epoch <= opt.initial_epoch; ++epoch) shuffle(order, rng);
  double best = 0;
  Model best_model;  // weights and Adam state of the best epoch (early stopping)
  for (int epoch = opt.initial_epoch + 1; epoch <= opt.epochs; ++epoch) {
    const auto e0 = std::chrono::steady_clock::now();
    shuffle(order, rng);
    const double loss = run_epoch(*session, order, opt, epoch, e0);
    h.epoch_loss.push_back(loss);
    double monitored = loss;
    double val_loss = NAN;
    if (opt.validation || opt.early_stopping > 0) {
      Model now = model;
      now.params = session->parameters();
      if (opt.validation) {
        const std::vector<float> y = predict(backend, now, *opt.validation);
        val_loss =
            reference_loss<float>(now.config.loss, y.data(), opt.validation->y.data(),
                                  static_cast<long>(y.size()), nullptr, now.config.output_size);
        h.val_loss.push_back(val_loss);
        if (opt.monitor != TrainOptions::Monitor::kLoss) monitored = val_loss;
        if (now.config.loss != Loss::kMse) h.val_accuracy.push_back(accuracy(y, *opt.validation));
      }
      if (opt.early_stopping > 0 &&
          (epoch == opt.initial_epoch + 1 || monitored < best - opt.min_delta)) {
        best = monitored;
        h.best_epoch = epoch;
        now.adam = session->adam_state();
        best_model = std::move(now);
      }
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - e0).count();
    h.epoch_seconds.push_back(sec);
    if (opt.log) {
      char line[200];
      int len =
          std::snprintf(line, sizeof line, "%sEpoch %d/%d - %d/%d - loss: %.4e",
                        opt.progress ? "\r\033[K" : "", epoch, opt.epochs, batches, batches, loss);
      if (opt.validation) {
        len += std::snprintf(line + len, sizeof line - len, " - val_loss: %.4e", val_loss);
      }
      if (!h.val_accuracy.empty()) {
        len += std::snprintf(line + len, sizeof line - len, " - val_accuracy: %.4f",
                             h.val_accuracy.back());
      }
      std::snprintf(line + len, sizeof line - len, " - %.2fs", sec);
      *opt.log << line << '\n' << std::flush;
    }
    if (opt.early_stopping > 0 && epoch - h.best_epoch >= opt.early_stopping) {
      h.stopped_early = epoch < opt.epochs;
      break;
    }
  }
  const int run = static_cast<int>(h.epoch_loss.size());
  h.monitored_best_epoch = opt.early_stopping > 0 ? h.best_epoch : 0;
  const bool restore = opt.restore == TrainOptions::Restore::kAlways ||
                       (opt.restore == TrainOptions::Restore::kOnStop && h.stopped_early);
  if (opt.early_stopping > 0 && h.best_epoch > 0 && restore) {
    model.params = std::move(best_model.params);
    model.adam = std::move(best_model.adam);
    if (opt.log) {
      *opt.log << (h.stopped_early ? "Early stopping: " : "") << "restored the weights of epoch "
               << h.best_epoch << " of " << opt.initial_epoch + run << '\n'
               << std::flush;
    }
  } else {
    model.params = session->parameters();
    model.adam = session->adam_state();
    h.best_epoch = opt.initial_epoch + run;
    if (opt.log && h.stopped_early) {
      *opt.log << "Early stopping at epoch " << h.best_epoch << " (the best was epoch "
               << h.monitored_best_epoch << "; the last epoch's weights are kept)\n"
               << std::flush;
    }
  }
  model.epochs_trained += h.best_epoch - opt.initial_epoch;
  h.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return h;
}

double evaluate_loss(Backend& backend, const Model& model, const WindowSet& data) {
  const std::vector<float> y = predict(backend, model, data);
  return reference_loss<float>(model.config.loss, y.data(), data.y.data(),
                               static_cast<long>(y.size()), nullptr, model.config.output_size);
}

namespace {

// Sequences per forward call in predict: at most 4096, and few enough that what a pass keeps per
// sequence (the input, every layer's states, the gated cells' gates, the dot-product attention's
// [T, T] matrices) stays near 256 MiB: the notebook's model (T 200, bidirectional LSTM 256, dot
// attention) took 20 GB at 4096.
int predict_chunk(const ModelConfig& c) {
  const std::size_t T = c.steps, C = c.context_size();
  const std::size_t gates = static_cast<std::size_t>(gates_of(c.cell)) * 2 * c.hidden_size;
  const std::size_t per = T * (c.input_size + c.layers * (C + c.directions() * gates) +
                               (c.dot_attention() ? 3 * T : 1));
  const std::size_t budget = (std::size_t{256} << 20) / sizeof(float);
  return static_cast<int>(
      std::clamp<std::size_t>(budget / std::max<std::size_t>(per, 1), 16, 4096));
}

}  // namespace

std::vector<float> predict(Backend& backend, const Model& model, const WindowSet& data,
                           std::vector<float>* attention) {
  check_dataset(model, data, "prediction set");
  const ModelConfig& c = model.config;
  std::vector<float> y(static_cast<std::size_t>(data.count) * c.output_size);
  if (attention) attention->assign(static_cast<std::size_t>(data.count) * c.steps, 0.f);
  const int chunk = predict_chunk(c);  // bounds the scratch of the backends
  const std::size_t xs = static_cast<std::size_t>(c.steps) * c.input_size;
  for (int start = 0; start < data.count; start += chunk) {
    const int b = std::min(chunk, data.count - start);
    float* yb = y.data() + static_cast<std::size_t>(start) * c.output_size;
    float* ab = attention ? attention->data() + static_cast<std::size_t>(start) * c.steps : nullptr;
    const int* lb = data.lengths.empty() ? nullptr : data.lengths.data() + start;
    if (c.embedded()) {
      backend.forward_tokens(c, model.params.data(),
                             data.tokens.data() + static_cast<std::size_t>(start) * c.steps, b, yb,
                             ab, nullptr, lb);
    } else {
      backend.forward(c, model.params.data(), data.x.data() + start * xs, b, yb, ab, nullptr, lb);
    }
  }
  return y;
}

double mean_squared_error(const std::vector<float>& pred, const WindowSet& data) {
  if (pred.size() != data.y.size() || pred.empty()) {
    throw InvalidArgument("mse: " + std::to_string(pred.size()) + " predictions for " +
                          std::to_string(data.y.size()) + " targets");
  }
  double s = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) {
    const double d = static_cast<double>(pred[i]) - data.y[i];
    s += d * d;
  }
  return s / static_cast<double>(pred.size());
}

std::vector<int> classes_of(const std::vector<float>& values, int outputs) {
  if (outputs < 1 || values.size() % outputs != 0) {
    throw InvalidArgument("classes_of: " + std::to_string(values.size()) +
                          " values are not rows of " + std::to_string(outputs));
  }
  std::vector<int> c(values.size() / outputs);
  for (std::size_t i = 0; i < c.size(); ++i) {
    const float* row = &values[i * outputs];
    c[i] = outputs == 1 ? row[0] >= 0.5f
                        : static_cast<int>(std::max_element(row, row + outputs) - row);
  }
  return c;
}

double accuracy(const std::vector<float>& pred, const WindowSet& data) {
  if (pred.size() != data.y.size() || pred.empty() || data.count < 1 ||
      pred.size() % data.count != 0) {
    throw InvalidArgument("accuracy: " + std::to_string(pred.size()) + " predictions for " +
                          std::to_string(data.y.size()) + " targets of " +
                          std::to_string(data.count) + " rows");
  }
  const int outputs = static_cast<int>(pred.size() / data.count);
  const std::vector<int> said = classes_of(pred, outputs), truth = classes_of(data.y, outputs);
  std::size_t right = 0;
  for (std::size_t i = 0; i < said.size(); ++i) right += said[i] == truth[i];
  return static_cast<double>(right) / static_cast<double>(said.size());
}

long Confusion::total() const { return std::accumulate(counts.begin(), counts.end(), 0L); }

long Confusion::correct() const {
  long n = 0;
  for (int k = 0; k < classes; ++k) n += at(k, k);
  return n;
}

double Confusion::accuracy() const {
  const long n = total();
  return n ? static_cast<double>(correct()) / static_cast<double>(n) : NAN;
}

double Confusion::precision(int k) const {
  long said = 0;
  for (int t = 0; t < classes; ++t) said += at(t, k);
  return said ? static_cast<double>(at(k, k)) / static_cast<double>(said) : NAN;
}

double Confusion::recall(int k) const {
  long labelled = 0;
  for (int p = 0; p < classes; ++p) labelled += at(k, p);
  return labelled ? static_cast<double>(at(k, k)) / static_cast<double>(labelled) : NAN;
}

double Confusion::f1(int k) const {
  const double p = precision(k), r = recall(k);
  if (std::isnan(p) || std::isnan(r)) return NAN;
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

Confusion confusion(const std::vector<float>& pred, const std::vector<float>& target, int outputs) {
  if (pred.size() != target.size()) {
    throw InvalidArgument("confusion: " + std::to_string(pred.size()) + " predictions for " +
                          std::to_string(target.size()) + " targets");
  }
  const std::vector<int> said = classes_of(pred, outputs), truth = classes_of(target, outputs);
  Confusion c(class_count(outputs));
  for (std::size_t i = 0; i < said.size(); ++i) c.add(truth[i], said[i]);
  return c;
}

}  // namespace rnnattn
