// The host trainer: mini-batch Adam over epochs, the training set reshuffled every epoch from a
// seeded RNG, as Keras' fit does. The same seeds give the same result, bit for bit.
#pragma once

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

struct TrainOptions {
  int epochs = 30;
  int batch_size = 1;
  std::uint64_t shuffle_seed = 0;
  std::ostream* log = nullptr;  // one Keras-like line per epoch when not null
};

struct TrainHistory {
  std::vector<double> epoch_loss;  // mean batch loss of each epoch
  double seconds = 0.0;            // wall time of the whole fit
};

// Trains `model` in place on `train`. Throws InvalidArgument for bad options or a dataset whose
// window length differs from the model's T.
TrainHistory fit(Backend& backend, Model& model, const WindowSet& train, const TrainOptions& opt);

// Predictions [N, O] for every window of `data`; optionally the attention weights [N, T].
std::vector<float> predict(Backend& backend, const Model& model, const WindowSet& data,
                           std::vector<float>* attention = nullptr);

// Mean squared error between predictions and the targets of `data`, in scaled units (double).
double mean_squared_error(const std::vector<float>& pred, const WindowSet& data);

}  // namespace rnnattn
