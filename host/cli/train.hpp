// The parts of `rnnattn train` (internal): train.cpp parses the options into a TrainSetup and
// reads the data, train_run.cpp trains the runs (models x seeds, side by side where it can),
// train_report.cpp prints their lines and tables and builds the --json and --save files.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/common.hpp"

namespace rnnattn::cli {

// What the options (or, with --resume, the checkpoint) ask for, checked before any data is read.
struct TrainSetup {
  std::string resume_path;
  std::optional<Checkpoint> resumed;
  std::string data_arg;  // fib, sentiment or a CSV path
  bool sentiment = false, text = false;
  bool sequences = false;  // one sequence per row (sentiment, texts): classification defaults
  bool classify = false;   // --loss bce or cce
  bool compare = false;
  int embedding = 0;  // the embedding's width (0: none)
  ModelConfig cfg;
  ModelConfig widest;  // the widest model of the run (--compare), for the device's limits
  int sentiment_train = 0, sentiment_test = 0;
  SeriesOptions series;
  std::string model_name;  // attention or plain
  long seeds = 1, first_seed = 1;
  TrainOptions opt;
  double val_split = 0;
  AdamConfig adam;
  std::string save, json_path;
  bool log_each = false;  // --verbose: epoch lines even for runs side by side
  bool verbose = false;   // epoch lines for a run on its own
};

// The data the runs train on: the split, the training windows less any validation ones, and the
// baselines the report prints beside the models.
struct TrainData {
  SplitData data;
  WindowSet train, validation;
  std::vector<Baseline> baselines;
};

// One model of the run: its name in the report, and how it differs from the setup's config.
struct ModelSpec {
  std::string name;
  bool attention, bidirectional;
  Cell cell;
  ModelConfig config(const ModelConfig& base) const;
};

struct RunResult {
  std::string model;
  long seed = 0;
  double train_mse = 0, test_mse = 0, test_rmse = 0, seconds = 0, final_loss = NAN;
  TrainHistory history;
  std::vector<double> test_pred;                                      // original units
  std::vector<float> test_attention;                                  // [N, T] (attention model)
  double train_accuracy = NAN, test_accuracy = NAN, test_loss = NAN;  // classification
  Confusion test_confusion;                                           // classification
  double train_loss = NAN;  // the configured loss on the windows trained on, after training
};

// A run (model x seed) trained, scored, with its model and (run beside others) its epoch lines.
struct Outcome {
  RunResult result;
  Model model;
  std::string log;
};

// train_run.cpp: every (model, seed) run, reported line by line as it comes; the results in order
// and the last run's model.
std::vector<RunResult> run_all(const TrainSetup& s, const TrainData& d,
                               const std::vector<ModelSpec>& specs, Backend& backend,
                               Model* last_model);

// train_report.cpp.
void print_run_line(const TrainSetup& s, const RunResult& r);
void print_summary(const TrainSetup& s, const TrainData& d, const std::vector<std::string>& models,
                   const std::vector<RunResult>& results);
// Refuses non-finite results (a diverged run writes nothing) and warns of a run that ends far
// worse than a constant output.
void check_results(const TrainSetup& s, const TrainData& d, const std::vector<RunResult>& results);
std::string results_json(const TrainSetup& s, const TrainData& d, const std::string& device,
                         const std::vector<RunResult>& results);
Checkpoint trained_checkpoint(const TrainSetup& s, const SplitData& data, const Model& model);

}  // namespace rnnattn::cli
