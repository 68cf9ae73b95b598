// rnnattn train's report: a line per run, the summary table beside the baselines, the check of
// the results, and the --json and --save files' contents.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli/json.hpp"
#include "cli/train.hpp"

namespace rnnattn::cli {

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

void print_run_line(const TrainSetup& s, const RunResult& r) {
  std::string kept;
  if (s.opt.early_stopping > 0) {
    kept = "  epoch kept " + std::to_string(r.history.best_epoch) + "/" +
           std::to_string(s.opt.initial_epoch + r.history.epoch_loss.size());
  }
  if (s.classify) {
    std::printf("%-12s seed %-4ld train accuracy %.4f  test accuracy %.4f  test %s %s%s  %.1fs\n",
                r.model.c_str(), r.seed, r.train_accuracy, r.test_accuracy, to_string(s.cfg.loss),
                sci(r.test_loss).c_str(), kept.c_str(), r.seconds);
  } else {
    std::printf(
        "%-9s seed %-4ld train MSE %s  test MSE %s  test RMSE %s (original units)%s  %.1fs\n",
        r.model.c_str(), r.seed, sci(r.train_mse).c_str(), sci(r.test_mse).c_str(),
        sci(r.test_rmse).c_str(), kept.c_str(), r.seconds);
  }
  std::fflush(stdout);
}

void print_summary(const TrainSetup& s, const TrainData& d, const std::vector<std::string>& models,
                   const std::vector<RunResult>& results) {
  // Summary table: per model, one column of values over its runs (seeds), and the kept epochs.
  const bool es = s.opt.early_stopping > 0;
  const auto of_model = [&](const std::string& m, double RunResult::*field) {
    std::vector<double> v;
    for (const RunResult& r : results) {
      if (r.model == m) v.push_back(r.*field);
    }
    return v;
  };
  const auto kept_of = [&](const std::string& m) {
    std::string kept;
    for (const RunResult& r : results) {
      if (r.model == m) kept += (kept.empty() ? "" : ", ") + std::to_string(r.history.best_epoch);
    }
    return es ? " " + kept + " |" : std::string();
  };
  if (s.classify) {
    std::printf(
        "\n| model | runs | train accuracy min / median / max | test accuracy min / median / max | "
        "test %s median |%s\n|---|---|---|---|---|%s\n",
        to_string(s.cfg.loss), es ? " epoch kept (per seed) |" : "", es ? "---|" : "");
    for (const std::string& m : models) {
      const std::vector<double> tr = of_model(m, &RunResult::train_accuracy),
                                te = of_model(m, &RunResult::test_accuracy),
                                tl = of_model(m, &RunResult::test_loss);
      std::printf("| %s | %zu | %.4f / %.4f / %.4f | %.4f / %.4f / %.4f | %s |%s\n", m.c_str(),
                  tr.size(), *std::min_element(tr.begin(), tr.end()), median(tr),
                  *std::max_element(tr.begin(), tr.end()), *std::min_element(te.begin(), te.end()),
                  median(te), *std::max_element(te.begin(), te.end()), sci(median(tl)).c_str(),
                  kept_of(m).c_str());
    }
    const int O = s.cfg.output_size;
    std::vector<int> counts(class_count(O), 0);
    for (int c : classes_of(d.data.test.y, O)) ++counts[c];
    const double majority =
        *std::max_element(counts.begin(), counts.end()) / static_cast<double>(d.data.test.count);
    std::printf("| majority class (baseline) | - | - | %.4f | - |%s\n", majority, es ? " - |" : "");
    if (s.sequences && O == 1) {  // the notebook's rows beside a binary classification
      std::printf(
          "| notebook, IMDB (B128 T200 D100 H256): SimpleRNN | 1 | - | 0.556 | - |%s\n"
          "| notebook, IMDB: bidirectional LSTM with attention | 1 | - | 0.823 | - |%s\n",
          es ? " - |" : "", es ? " - |" : "");
    }
    if (results.size() == 1) {
      const Confusion& cm = results[0].test_confusion;
      std::printf("\ntest set, %s seed %ld:\n", results[0].model.c_str(), results[0].seed);
      print_confusion(cm, class_names(d.data.classes, cm.classes));
    }
  }
  if (!s.classify) {
    std::printf(
        "\n| model | runs | train MSE min / median / max | test MSE min / median / max | "
        "test RMSE median (original units) |%s\n|---|---|---|---|---|%s\n",
        es ? " epoch kept (per seed) |" : "", es ? "---|" : "");
    for (const std::string& m : models) {
      const std::vector<double> tr = of_model(m, &RunResult::train_mse),
                                te = of_model(m, &RunResult::test_mse),
                                rm = of_model(m, &RunResult::test_rmse);
      std::printf("| %s | %zu | %s / %s / %s | %s / %s / %s | %s |%s\n", m.c_str(), tr.size(),
                  sci(*std::min_element(tr.begin(), tr.end())).c_str(), sci(median(tr)).c_str(),
                  sci(*std::max_element(tr.begin(), tr.end())).c_str(),
                  sci(*std::min_element(te.begin(), te.end())).c_str(), sci(median(te)).c_str(),
                  sci(*std::max_element(te.begin(), te.end())).c_str(), sci(median(rm)).c_str(),
                  kept_of(m).c_str());
    }
    for (const Baseline& base : d.baselines) {
      std::printf("| %s (baseline) | - | %s | %s | %s |%s\n", base.name.c_str(),
                  sci(base.train_mse).c_str(), sci(base.test_mse).c_str(),
                  sci(base.test_rmse).c_str(), es ? " - |" : "");
    }
    if (d.data.source == "fib") {
      std::printf(
          "| tutorial, Keras 2.15 (one run): attention | 1 | 5.63e-05 | 5.90e-07 | - |\n"
          "| tutorial, Keras 2.15 (one run): plain | 1 | 6.29e-04 (another run 5.63e-05) | "
          "5.40e-04 (another run 2.62e-05) | - |\n");
      int big_train = 0, big_test = 0;
      for (float v : d.data.train.y) big_train += v > 1e-6f;
      for (float v : d.data.test.y) big_test += v > 1e-6f;
      std::printf(
          "\nNote: the scale is set by the last, huge Fibonacci numbers: only %d train and %d "
          "test targets exceed 1e-6,\nso predicting 0 everywhere already scores the "
          "baseline row above. One run says little; use --seeds.\n",
          big_train, big_test);
    }
  }  // !s.classify
}

// A run whose training loss ends at more than twice that of a constant output (each output's mean
// training target: for a classification, the class frequency) has not merely learned little (a
// short run ends just above it, as the baseline rows show) but was thrown to a saturated output,
// most often by the learning rate. Its results stand, as the user asked for them, but the user
// hears it, with the learning rate that is the usual cause.
namespace {

const char* loss_name(Loss l) { return l == Loss::kMse ? "MSE" : l == Loss::kBce ? "BCE" : "CCE"; }

void warn_if_worse_than_constant(const std::vector<RunResult>& results, const WindowSet& train,
                                 const ModelConfig& cfg, float lr) {
  const std::size_t outputs = static_cast<std::size_t>(cfg.output_size);
  if (train.y.empty() || outputs == 0) return;
  std::vector<double> mean(outputs, 0.0);
  for (std::size_t i = 0; i < train.y.size(); ++i) mean[i % outputs] += train.y[i];
  for (double& m : mean) m /= static_cast<double>(train.y.size() / outputs);
  std::vector<float> constant(train.y.size());
  for (std::size_t i = 0; i < constant.size(); ++i) {
    constant[i] = static_cast<float>(mean[i % outputs]);
  }
  const double base =
      reference_loss<float>(cfg.loss, constant.data(), train.y.data(),
                            static_cast<long>(constant.size()), nullptr, static_cast<int>(outputs));
  for (const RunResult& r : results) {
    if (!(r.train_loss > 2 * base)) continue;
    std::cerr << "rnnattn train: warning: " << r.model << " seed " << r.seed
              << " ends with a train " << loss_name(cfg.loss) << " of " << sci(r.train_loss)
              << ", more than twice the " << sci(base)
              << " of a constant output (the mean training "
              << (cfg.loss == Loss::kMse ? "target" : "label")
              << "): training most likely diverged to a saturated output; a smaller --lr (this "
                 "run's: "
              << lr << ") usually helps" << std::endl;
  }
}

}  // namespace

void check_results(const TrainSetup& s, const TrainData& d, const std::vector<RunResult>& results) {
  std::fflush(stdout);
  // A diverged run is an error, not a result: nothing is written.
  for (const RunResult& r : results) {
    if (!std::isfinite(r.train_mse) || !std::isfinite(r.test_mse)) {
      throw Error(r.model + " seed " + std::to_string(r.seed) +
                  " gave non-finite results (train MSE " + sci(r.train_mse) + ", test MSE " +
                  sci(r.test_mse) + "): training diverged; try a smaller --lr. No output written");
    }
  }
  warn_if_worse_than_constant(results, d.train, s.cfg, s.adam.learning_rate);
}

std::string results_json(const TrainSetup& s, const TrainData& d, const std::string& device,
                         const std::vector<RunResult>& results) {
  Json j;
  j.begin_object();
  j.value("data", d.data.source);
  if (!d.data.column.empty()) j.value("column", d.data.column);
  j.value("device", device);
  j.value("task", s.classify ? "classification" : "regression");
  j.begin_object("config")
      .value("hidden", s.cfg.hidden_size)
      .value("steps", s.cfg.steps)
      .value("head", to_string(s.cfg.head))
      .value("loss", to_string(s.cfg.loss))
      .value("epochs", s.opt.epochs)
      .value("batch", s.opt.batch_size)
      .value("lr", s.adam.learning_rate)
      .value("train_windows", d.train.count)
      .value("validation_windows", d.validation.count)
      .value("test_windows", d.data.test.count)
      .value("early_stopping", s.opt.early_stopping)
      .value("input_size", s.cfg.input_size)
      .value("layers", s.cfg.layers)
      .value("bidirectional", s.cfg.bidirectional)
      .value("scale", scaling_name(d.data.series.scaling))
      .value("difference", d.data.series.difference)
      .value("missing", missing_name(d.data.series.missing))
      .value("vocab_size", s.cfg.vocab_size)
      .value("embedding", s.embedding)
      .end_object();
  j.begin_array("features");
  for (const std::string& f : d.data.features) j.value(nullptr, f);
  j.end_array();
  // The test part in original units, labelled by the target's row: what the plots draw.
  j.begin_object("test").value("label_name", d.data.label_name);
  j.begin_array("labels");
  for (int i : d.data.test.index) j.value(nullptr, d.data.labels[d.data.target_row(i)]);
  j.end_array().begin_array("target");
  // A classifier's: the true class.
  const std::vector<int> truth =
      s.classify ? classes_of(d.data.test.y, s.cfg.output_size) : std::vector<int>{};
  for (int i = 0; i < d.data.test.count; ++i) {
    j.value(nullptr, s.classify ? truth[i] : original_target(d.data, d.data.test, i));
  }
  j.end_array();
  if (s.classify) {
    j.begin_array("classes");
    for (const std::string& k : class_names(d.data.classes, class_count(s.cfg.output_size)))
      j.value(nullptr, k);
    j.end_array();
  }
  j.end_object();
  j.begin_array("runs");
  for (const RunResult& r : results) {
    j.begin_object()
        .value("model", r.model)
        .value("seed", static_cast<long long>(r.seed))
        .value("epochs", s.opt.epochs)
        .value("initial_epoch", s.opt.initial_epoch)
        .value("epochs_run", static_cast<int>(r.history.epoch_loss.size()))
        .value("best_epoch", r.history.best_epoch)
        .value("stopped_early", r.history.stopped_early)
        .value("final_loss", r.final_loss)
        .value("train_mse", r.train_mse)
        .value("test_mse", r.test_mse)
        .value("test_rmse", r.test_rmse)
        .value("seconds", r.seconds);
    if (s.classify) {
      j.value("train_accuracy", r.train_accuracy)
          .value("test_accuracy", r.test_accuracy)
          .value("test_loss", r.test_loss);
      confusion_json(j, r.test_confusion, class_names(d.data.classes, r.test_confusion.classes));
    }
    j.begin_array("history");
    for (std::size_t e = 0; e < r.history.epoch_loss.size(); ++e) {
      j.begin_object()
          .value("epoch", static_cast<int>(s.opt.initial_epoch + e + 1))
          .value("loss", r.history.epoch_loss[e]);
      if (e < r.history.val_loss.size()) j.value("val_loss", r.history.val_loss[e]);
      if (e < r.history.val_accuracy.size()) {
        j.value("val_accuracy", r.history.val_accuracy[e]);
      }
      j.value("seconds", r.history.epoch_seconds[e]).end_object();
    }
    j.end_array();
    j.numbers("test_predictions", r.test_pred);
    if (!r.test_attention.empty()) {
      j.begin_array("test_attention");
      for (int i = 0; i < d.data.test.count; ++i) {
        j.numbers(nullptr,
                  std::vector<float>(
                      r.test_attention.begin() + static_cast<std::size_t>(i) * s.cfg.steps,
                      r.test_attention.begin() + static_cast<std::size_t>(i + 1) * s.cfg.steps));
      }
      j.end_array();
    }
    j.end_object();
  }
  j.end_array();
  j.begin_array("baselines");
  for (const Baseline& base : d.baselines) {
    j.begin_object()
        .value("name", base.name)
        .value("train_mse", base.train_mse)
        .value("test_mse", base.test_mse)
        .value("test_rmse", base.test_rmse)
        .end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

Checkpoint trained_checkpoint(const TrainSetup& s, const SplitData& data, const Model& model) {
  Checkpoint ck;
  ck.model = model;
  record_data(ck, data);
  ck.training.recorded = true;
  ck.training.seed = static_cast<std::uint64_t>(s.first_seed);
  ck.training.batch_size = s.opt.batch_size;
  ck.training.validation_split = s.val_split;
  return ck;
}

}  // namespace rnnattn::cli
