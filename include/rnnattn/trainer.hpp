// The host trainer: mini-batch Adam over epochs, the training set reshuffled every epoch from a
// seeded RNG, as Keras' fit does. The same seeds give the same result, bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <vector>

#include "rnnattn/adam.hpp"
#include "rnnattn/backend.hpp"
#include "rnnattn/config.hpp"
#include "rnnattn/data.hpp"

namespace rnnattn {

// A model: its configuration, parameters (flat, params.hpp) and optimiser state.
struct Model {
  ModelConfig config;
  std::vector<float> params;
  AdamConfig adam_config;
  AdamState adam;
  std::int64_t epochs_trained = 0;
};

// A freshly initialised model (Keras defaults, params.hpp) with a zeroed optimiser state.
Model make_model(const ModelConfig& config, std::uint64_t seed, const AdamConfig& adam = {});

// Options of fit(). An aggregate: with C++20, fill it with designated initialisers in this order,
//   rnnattn::fit(backend, model, data.train, {.epochs = 30, .batch_size = 1, .seed = 1});
// (C++17: set the fields by name on a default-constructed object).
struct TrainOptions {
  int epochs = 30;
  int batch_size = 1;
  // The run's seed: the one given to make_model and the CLI's --seed. The per-epoch shuffle draws
  // from Rng(shuffle_seed(seed)), so the library and `rnnattn train --seed S` agree.
  std::uint64_t seed = 1;
  std::ostream* log = nullptr;  // one Keras-like line per epoch when not null, flushed at once
  // With log: also a progress line within each epoch ("\r"-rewritten, at most ~5 times a
  // second), as Keras shows on a terminal. The result is the same with or without it.
  bool progress = false;
  // With log and without progress (a pipe): an epoch still running after this many seconds gets
  // a plain progress line, and another every as many seconds, so that a slow run shows it is
  // alive within its first epoch.
  double heartbeat_seconds = 10.0;
  // Evaluated after every epoch (the loss of the model's configuration, on its windows): val_loss.
  const WindowSet* validation = nullptr;
  // Early stopping with this patience in epochs (0: off), as Keras' EarlyStopping with
  // restore_best_weights: training stops once the monitored loss (val_loss with a validation set,
  // else the epoch's training loss) has not improved for `early_stopping` epochs, and the model
  // gets back the weights and Adam state of its best epoch.
  int early_stopping = 0;
  // What early stopping watches: kAuto is val_loss with a validation set, else the training loss;
  // kValLoss without a validation set is refused.
  enum class Monitor { kAuto, kLoss, kValLoss };
  Monitor monitor = Monitor::kAuto;
  // An epoch improves on the best only when its monitored loss is lower by more than this (Keras'
  // min_delta).
  double min_delta = 0;
  // When the best epoch's weights and Adam state come back: kAlways (whether training stopped
  // early or ran to `epochs`), kOnStop (only when it stopped early: Keras' restore_best_weights,
  // which keeps the last epoch's weights of a run that never stopped), kNever (Keras' default).
  enum class Restore { kAlways, kOnStop, kNever };
  Restore restore = Restore::kAlways;
  // The epochs already run (Keras' initial_epoch): training resumes at epoch initial_epoch + 1 and
  // runs to `epochs`, which counts them. The shuffle stream is first advanced by the
  // initial_epoch epochs' shuffles, so a model saved after N epochs (weights, Adam state) and
  // resumed with initial_epoch = N ends with the same bits as one run of `epochs` epochs (without
  // early stopping, whose best-so-far starts afresh on resuming).
  int initial_epoch = 0;
};

// The shuffle stream's seed for a run seeded `seed`: seed * 0x9E3779B97F4A7C15 + 1 (mod 2^64), so
// that neighbouring seeds give unrelated orders.
std::uint64_t shuffle_seed(std::uint64_t seed);

struct TrainHistory {
  std::vector<double> epoch_loss;     // mean batch loss of each epoch run
  std::vector<double> val_loss;       // per epoch, with a validation set (else empty)
  std::vector<double> val_accuracy;   // per epoch, for a BCE model with a validation set
  std::vector<double> epoch_seconds;  // wall time of each epoch (the validation included)
  // The epoch (1-based, counting the initial_epoch ones) whose weights the model holds after fit.
  int best_epoch = 0;
  // With early stopping: the epoch whose monitored loss was the best, restored or not (else 0).
  int monitored_best_epoch = 0;
  bool stopped_early = false;
  double seconds = 0.0;  // wall time of the whole fit
};

// Trains `model` in place on `train`. Throws InvalidArgument for bad options or a dataset whose
// window length or width differs from the model's T and D. model.epochs_trained grows by the
// epochs run whose weights were kept (up to best_epoch with early stopping, else all).
TrainHistory fit(Backend& backend, Model& model, const WindowSet& train, const TrainOptions& opt);

// Predictions [N, O] for every window of `data`; optionally the attention weights [N, T].
std::vector<float> predict(Backend& backend, const Model& model, const WindowSet& data,
                           std::vector<float>* attention = nullptr);

// Mean squared error between predictions and the targets of `data`, in scaled units (double).
double mean_squared_error(const std::vector<float>& pred, const WindowSet& data);

// The class of each row of [N, O] values: for O = 1, 1 where the value is >= 0.5, else 0 (a
// sigmoid's probability, a 0/1 label); for O >= 2, the index of the row's largest value (a
// softmax's probabilities, a one-hot label; the first of equal ones).
std::vector<int> classes_of(const std::vector<float>& values, int outputs);
// Accuracy: the fraction of rows whose predicted class (classes_of, O = pred.size() / N) is their
// target's: binary for O = 1 (the side of 0.5), the largest output for O >= 2.
double accuracy(const std::vector<float>& pred, const WindowSet& data);

// A K x K confusion matrix, rows the true class and columns the predicted one, with the scores
// read off it. Precision, recall and F1 of a class are NaN where they divide by zero (no row
// predicted as, resp. labelled with, that class), as scikit-learn's zero_division="warn" reports
// them as undefined.
struct Confusion {
  int classes = 2;                                  // K
  std::vector<long> counts = std::vector<long>(4);  // [true * K + predicted]

  Confusion() = default;
  explicit Confusion(int k) : classes(k), counts(static_cast<std::size_t>(k) * k, 0) {}
  void add(int truth, int said) { ++counts[static_cast<std::size_t>(truth) * classes + said]; }
  long at(int truth, int said) const {
    return counts[static_cast<std::size_t>(truth) * classes + said];
  }
  long total() const;
  long correct() const;  // the diagonal
  double accuracy() const;
  double precision(int k) const;  // at(k, k) / the rows predicted k
  double recall(int k) const;     // at(k, k) / the rows labelled k
  double f1(int k) const;         // the harmonic mean of the two
};

// The classes of a head of O outputs: 2 for one (a sigmoid's, class 1 at >= 0.5), else O.
inline int class_count(int outputs) { return outputs == 1 ? 2 : outputs; }

// The confusion of predictions [N, O] against targets [N, O], each row's class by classes_of;
// K = class_count(O).
Confusion confusion(const std::vector<float>& pred, const std::vector<float>& target, int outputs);

// The configuration's loss (MSE or BCE, as training computes it) of the model on `data`.
double evaluate_loss(Backend& backend, const Model& model, const WindowSet& data);

}  // namespace rnnattn
