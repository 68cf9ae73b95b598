// The rnnattn command line: train, predict, inspect.
// Exit status: 0 success, 1 a run-time error (bad data, bad checkpoint, no device), 2 bad usage.
// Every output file is written atomically at the end, so a failed run leaves none behind.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli/json.hpp"
#include "cuda_utils.hpp"
#include "io.hpp"
#include "plan.hpp"
#include "profiler.hpp"
#include "rnnattn/cuda.hpp"
#include "rnnattn/rnnattn.hpp"

namespace rnnattn::cli {
namespace {

struct UsageError : Error {
  using Error::Error;
};

// ---------------------------------------------------------------------------------------------
// Argument parsing: --flag VALUE and boolean --flag, each subcommand declaring what it takes.
class Args {
 public:
  Args(std::string command, std::vector<std::string> args, std::vector<std::string> valued,
       std::vector<std::string> flags)
      : command_(std::move(command)) {
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (std::find(flags.begin(), flags.end(), a) != flags.end()) {
        values_[a] = "1";
      } else if (std::find(valued.begin(), valued.end(), a) != valued.end()) {
        if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0) {
          throw UsageError(a + " needs a value" + hint());
        }
        values_[a] = args[++i];
      } else if (a.rfind("--", 0) == 0) {
        throw UsageError("unknown option '" + a + "' for 'rnnattn " + command_ + "'" + hint());
      } else {
        throw UsageError("unexpected argument '" + a + "' for 'rnnattn " + command_ + "'" + hint());
      }
    }
  }
  bool has(const std::string& k) const { return values_.count(k) != 0; }
  std::string get(const std::string& k, const std::string& dflt) const {
    auto it = values_.find(k);
    return it == values_.end() ? dflt : it->second;
  }
  long get_int(const std::string& k, long dflt, long lo, long hi) const {
    if (!has(k)) return dflt;
    const std::string s = get(k, "");
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno == ERANGE) {
      throw UsageError(k + " expects an integer, got '" + s + "'");
    }
    if (v < lo || v > hi) {
      throw UsageError(k + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                       "], got " + s);
    }
    return v;
  }
  double get_double(const std::string& k, double dflt) const {
    if (!has(k)) return dflt;
    const std::string s = get(k, "");
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !std::isfinite(v)) {
      throw UsageError(k + " expects a finite number, got '" + s + "'");
    }
    return v;
  }

 private:
  std::string hint() const { return " (see 'rnnattn " + command_ + " --help')"; }
  std::string command_;
  std::map<std::string, std::string> values_;
};

bool wants_help(const std::vector<std::string>& a) {
  return std::find(a.begin(), a.end(), "--help") != a.end() ||
         std::find(a.begin(), a.end(), "-h") != a.end();
}

std::string sci(double v, int digits = 3) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*e", digits - 1, v);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Data: "fib" or a CSV path. `columns`: the input columns (comma-separated on the command line);
// `target`: the predicted one.
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  return out;
}

// The generated sentiment task at T = steps (docs/sentiment.md): sequences of max(7, T/4) to T
// tokens, data seed fixed, so every model and seed of a run sees the same sequences.
SentimentOptions sentiment_options(int steps, int train, int test) {
  SentimentOptions o;
  o.max_length = steps;
  o.min_length = std::max(7, steps / 4);
  o.train = train;
  o.test = test;
  return o;
}

SplitData load_data(const std::string& data, const std::vector<std::string>& columns,
                    const std::string& target, int steps, int sentiment_train = 2000,
                    int sentiment_test = 1000) {
  if (data == "sentiment") {
    if (!columns.empty() || !target.empty()) {
      throw UsageError("--column and --target apply to CSV data, not to --data sentiment");
    }
    if (steps < 7)
      throw UsageError("--data sentiment needs --steps >= 7, got " + std::to_string(steps));
    return sentiment_data(sentiment_options(steps, sentiment_train, sentiment_test));
  }
  if (data == "fib") {
    if (!columns.empty() || !target.empty()) {
      throw UsageError("--column and --target apply to CSV data, not to --data fib");
    }
    return fibonacci_data(steps);
  }
  const CsvSeries series = read_csv_series(data, columns, target);
  try {
    return series_data(series, steps);
  } catch (const DataError& e) {
    throw DataError(data + ": " + e.what());
  }
}

struct Baseline {
  std::string name;  // "predict_zero", "persistence" or "train_mean"
  double train_mse, test_mse, test_rmse;
};

// The rows a model must beat. Fibonacci: predicting 0 everywhere; a series: persistence (next =
// last value of the window). Both: predicting the mean of the training targets, which on a real
// series is often harder to beat than it looks.
std::vector<Baseline> baselines_for(const SplitData& d) {
  const bool fib = d.source == "fib";
  if (d.source == "sentiment") return {};  // a classification: the chance row is printed instead
  double mean = 0;
  for (float v : d.train.y) mean += v;
  mean /= static_cast<double>(d.train.y.size());
  auto score = [&](const std::string& name, auto predict) {
    Baseline b{name, mean_squared_error(predict(d.train), d.train),
               mean_squared_error(predict(d.test), d.test), 0};
    b.test_rmse = std::sqrt(b.test_mse) * d.scaler.range();
    return b;
  };
  std::vector<Baseline> out;
  if (fib) {
    out.push_back(
        score("predict_zero", [](const WindowSet& w) { return std::vector<float>(w.count, 0.f); }));
  } else {
    out.push_back(score("persistence", [](const WindowSet& w) {
      std::vector<float> p(w.count);
      for (int i = 0; i < w.count; ++i)
        p[i] = w.x[static_cast<std::size_t>(i) * w.steps + w.steps - 1];
      return p;
    }));
  }
  out.push_back(score("train_mean", [mean](const WindowSet& w) {
    return std::vector<float>(w.count, static_cast<float>(mean));
  }));
  return out;
}

// Every output file is checked before any work: a writable place, not a directory, not one of the
// inputs, not another output. `outputs` pairs each flag with its path (empty: not asked for).
void check_outputs(const std::vector<std::pair<std::string, std::string>>& outputs,
                   const std::vector<std::pair<std::string, std::string>>& inputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const auto& [flag, path] = outputs[i];
    if (path.empty()) continue;
    for (const auto& [in_flag, in_path] : inputs) {
      if (!in_path.empty() && same_file(path, in_path)) {
        throw UsageError(flag + " '" + path + "' is the " + in_flag +
                         " input file; writing it would destroy the input");
      }
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (!outputs[j].second.empty() && same_file(path, outputs[j].second)) {
        throw UsageError(outputs[j].first + " and " + flag + " name the same file '" + path + "'");
      }
    }
    check_output_path(flag, path);
  }
}

std::unique_ptr<Backend> open_backend(const std::string& name) {
  const Device dev = parse_device(name);
  std::unique_ptr<Backend> b = make_backend(dev);
  if (dev == Device::kAuto) {
    std::cout << "device: " << b->name()
              << (b->name() == "cpu"
                      ? (cuda_device_count() > 0
                             ? " (auto: a GPU is present, but the CUDA kernels have not yet passed "
                               "the GPU suite on hardware; --device cuda runs them)"
                             : " (auto: no CUDA GPU found)")
                      : " (auto)")
              << '\n';
  } else {
    std::cout << "device: " << b->name() << '\n';
  }
  std::cout << std::flush;
  return b;
}

// ---------------------------------------------------------------------------------------------
constexpr const char* kTrainHelp = R"(usage: rnnattn train [options]

Train an Elman RNN (tanh) with additive attention, or the plain RNN, and report train and test MSE
(accuracy for classification: --loss bce).

  --data fib|FILE.csv|sentiment
                           the tutorial's Fibonacci windows (default), a CSV series, or the
                           generated sentiment task (docs/sentiment.md: 100-d token vectors,
                           sequences of T/4..T steps, label = majority polarity; sigmoid head,
                           BCE and T = 200 by default)
  --column NAME[,NAME...]  the CSV input column(s) (default: the only one, or the one after
                           YEAR/DATE/TIME); several give D > 1 features per step
  --target NAME            the column to predict (default: the only input column)
  --model attention|plain  which model (default attention)
  --compare                train both models and print the tutorial's comparison table (sentiment:
                           plain, attention and bidirectional attention)
  --layers L               stacked recurrent layers (default 1)
  --bidirectional          two directions per layer (Keras' Bidirectional), states concatenated
  --train-sequences N      sentiment: training sequences (default 2000)
  --test-sequences N       sentiment: test sequences (default 1000)
  --seeds N                repeat every run for seeds S..S+N-1; report min / median / max (default 1)
  --hidden H               hidden units (default 2)
  --steps T                window length (default 20)
  --epochs N               epochs (default 30)
  --batch B                mini-batch size (default 1, as the tutorial)
  --lr X                   Adam learning rate (default 0.001)
  --head tanh|linear|sigmoid   head activation (default tanh)
  --loss mse|bce           loss (default mse; bce needs --head sigmoid)
  --seed S                 first seed: initialisation and shuffling (default 1)
  --validation-split F     hold out the last F of the training windows (in time order) and
                           report val_loss after every epoch
  --early-stopping P       stop once the val_loss (else the loss) has not improved for P epochs,
                           and keep the best epoch's weights (reported as "epoch kept")
  --device cpu|cuda|cuda-unfused|auto
                           where to train (default auto: the GPU when there is one and the CUDA
                           kernels are verified on it, else the CPU); cuda-unfused is the classic
                           one-launch-per-operation GPU path
  --save FILE              write the trained model (one run only) as a checkpoint
  --json FILE              write the results as JSON
  --quiet / --verbose      no per-epoch lines / per-epoch lines even for several runs

MSE is reported in scaled units ([0, 1] over the scaling data), RMSE in the data's original units.
With --loss bce the targets are 0/1 labels, and accuracy (prediction >= 0.5) is reported.
)";

struct RunResult {
  std::string model;
  long seed;
  double train_mse, test_mse, test_rmse, seconds, final_loss;
  TrainHistory history;
  std::vector<float> test_pred;                                       // original units
  std::vector<float> test_attention;                                  // [N, T] (attention model)
  double train_accuracy = NAN, test_accuracy = NAN, test_loss = NAN;  // classification
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int cmd_train(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << kTrainHelp;
    return 0;
  }
  const Args a("train", argv,
               {"--data",
                "--column",
                "--target",
                "--model",
                "--seeds",
                "--hidden",
                "--steps",
                "--epochs",
                "--batch",
                "--lr",
                "--head",
                "--loss",
                "--seed",
                "--device",
                "--save",
                "--json",
                "--validation-split",
                "--early-stopping",
                "--layers",
                "--train-sequences",
                "--test-sequences"},
               {"--compare", "--quiet", "--verbose", "--bidirectional"});
  const std::string data_arg = a.get("--data", "fib");
  const bool sentiment = data_arg == "sentiment";
  ModelConfig cfg;
  cfg.hidden_size = static_cast<int>(a.get_int("--hidden", 2, 1, 1 << 14));
  cfg.steps = static_cast<int>(a.get_int("--steps", sentiment ? 200 : 20, 1, 1 << 20));
  cfg.head = parse_activation(a.get("--head", sentiment ? "sigmoid" : "tanh"));
  cfg.loss = parse_loss(a.get("--loss", sentiment ? "bce" : "mse"));
  cfg.layers = static_cast<int>(a.get_int("--layers", 1, 1, 16));
  cfg.bidirectional = a.has("--bidirectional");
  const int sentiment_train = static_cast<int>(a.get_int("--train-sequences", 2000, 1, 1 << 20));
  const int sentiment_test = static_cast<int>(a.get_int("--test-sequences", 1000, 1, 1 << 20));
  if (!sentiment && (a.has("--train-sequences") || a.has("--test-sequences"))) {
    throw UsageError("--train-sequences and --test-sequences apply to --data sentiment");
  }
  const bool classify = cfg.loss == Loss::kBce;
  const std::string model_name = a.get("--model", "attention");
  if (model_name != "attention" && model_name != "plain") {
    throw UsageError("--model must be attention or plain, got '" + model_name + "'");
  }
  const bool compare = a.has("--compare");
  const long seeds = a.get_int("--seeds", 1, 1, 1000);
  const long first_seed = a.get_int("--seed", 1, 0, 1L << 40);
  TrainOptions opt;
  opt.epochs = static_cast<int>(a.get_int("--epochs", 30, 1, 1000000));
  opt.batch_size = static_cast<int>(a.get_int("--batch", 1, 1, 1 << 24));
  opt.early_stopping = static_cast<int>(a.get_int("--early-stopping", 0, 0, 1000000));
  const double val_split = a.get_double("--validation-split", 0.0);
  if (a.has("--validation-split") && !(val_split > 0 && val_split < 1)) {
    throw UsageError("--validation-split must be in (0, 1), got " +
                     a.get("--validation-split", ""));
  }
  AdamConfig adam;
  const double lr = a.get_double("--lr", 1e-3);
  if (!(lr > 0)) throw UsageError("--lr must be positive, got " + a.get("--lr", ""));
  adam.learning_rate = static_cast<float>(lr);
  adam.validate();
  cfg.validate();
  const std::string save = a.get("--save", "");
  const std::string json_path = a.get("--json", "");
  if (!save.empty() && (compare || seeds > 1)) {
    throw UsageError("--save writes one model: drop --compare and --seeds to use it");
  }

  // Everything that can fail on the input or the outputs fails here, before any training.
  check_outputs({{"--json", json_path}, {"--save", save}},
                {{"--data", data_arg == "fib" || sentiment ? "" : data_arg}});
  const SplitData data =
      load_data(data_arg, split_list(a.get("--column", "")), a.get("--target", ""), cfg.steps,
                sentiment_train, sentiment_test);
  if (classify) {
    for (const WindowSet* w : {&data.train, &data.test}) {
      for (float v : w->y) {
        if (v != 0.f && v != 1.f) {
          throw UsageError("--loss bce trains a classifier on 0/1 labels; the targets of " +
                           data.source + " are not 0/1 (use --loss mse)");
        }
      }
    }
  }
  cfg.input_size = data.train.features;
  WindowSet train = data.train, validation;
  if (val_split > 0) {
    validation = split_validation(train, val_split);
    opt.validation = &validation;
  }
  const std::unique_ptr<Backend> backend = open_backend(a.get("--device", "auto"));
  const std::vector<Baseline> bases = baselines_for(data);
  const bool fib = data.source == "fib";

  std::string inputs;
  if (data.features.size() > 1 || (data.features.size() == 1 && data.features[0] != data.column)) {
    inputs = ", inputs";
    for (const std::string& f : data.features) inputs += " " + f;
  }
  std::cout << "data: " << data.source << (data.column.empty() ? "" : " column " + data.column)
            << inputs << ", " << data.train.count + data.test.count << " windows of T=" << cfg.steps
            << " (" << train.count << " train, "
            << (validation.count ? std::to_string(validation.count) + " validation, " : "")
            << data.test.count << " test, "
            << (fib         ? std::string("split by RandomState(13)")
                : sentiment ? "generated, lengths " +
                                  std::to_string(sentiment_options(cfg.steps, 1, 1).min_length) +
                                  ".." + std::to_string(cfg.steps)
                            : std::string("chronological split"))
            << ")" << std::endl;
  if (opt.batch_size > train.count) {
    std::cerr << "rnnattn train: warning: --batch " << opt.batch_size << " is larger than the "
              << train.count << " training windows: each epoch is one batch of " << train.count
              << std::endl;
  }

  // The models to train: name, attention, bidirectional (--layers applies to each).
  struct ModelSpec {
    std::string name;
    bool attention, bidirectional;
  };
  std::vector<ModelSpec> specs;
  if (compare && sentiment) {
    specs = {{"plain", false, false}, {"attention", true, false}, {"bi-attention", true, true}};
  } else if (compare) {
    specs = {{"attention", true, cfg.bidirectional}, {"plain", false, cfg.bidirectional}};
  } else {
    specs = {{model_name, model_name == "attention", cfg.bidirectional}};
  }
  std::vector<std::string> models;
  for (const ModelSpec& m : specs) models.push_back(m.name);
  const bool verbose = a.has("--verbose") || (!a.has("--quiet") && !compare && seeds == 1);
  std::vector<RunResult> results;
  Model last_model;
  for (const ModelSpec& spec : specs) {
    const std::string& m = spec.name;
    ModelConfig mc = cfg;
    mc.attention = spec.attention;
    mc.bidirectional = spec.bidirectional;
    std::cout << "model: " << describe(mc) << ", " << ParamLayout(mc).size() << " parameters"
              << std::endl;
    for (long s = first_seed; s < first_seed + seeds; ++s) {
      Model model = make_model(mc, static_cast<std::uint64_t>(s), adam);
      opt.seed = static_cast<std::uint64_t>(s);  // shuffles as fit() documents
      opt.log = verbose ? &std::cout : nullptr;
      opt.progress = verbose && ::isatty(STDOUT_FILENO);
      const TrainHistory h = fit(*backend, model, train, opt);
      RunResult r{m, s,  0, 0, 0, h.seconds, h.epoch_loss.empty() ? NAN : h.epoch_loss.back(),
                  h, {}, {}};
      r.train_mse = mean_squared_error(predict(*backend, model, train), train);
      const std::vector<float> pred =
          predict(*backend, model, data.test, mc.attention ? &r.test_attention : nullptr);
      r.test_mse = mean_squared_error(pred, data.test);
      r.test_rmse = std::sqrt(r.test_mse) * data.scaler.range();
      for (float v : pred) r.test_pred.push_back(static_cast<float>(data.scaler.unscale(v)));
      std::string kept;
      if (opt.early_stopping > 0) {
        kept = "  epoch kept " + std::to_string(h.best_epoch) + "/" +
               std::to_string(h.epoch_loss.size());
      }
      if (classify) {
        r.train_accuracy = accuracy(predict(*backend, model, train), train);
        r.test_accuracy = accuracy(pred, data.test);
        r.test_loss = reference_loss<float>(mc.loss, pred.data(), data.test.y.data(),
                                            static_cast<long>(pred.size()));
        std::printf(
            "%-12s seed %-4ld train accuracy %.4f  test accuracy %.4f  test %s %s%s  %.1fs\n",
            m.c_str(), s, r.train_accuracy, r.test_accuracy, to_string(mc.loss),
            sci(r.test_loss).c_str(), kept.c_str(), r.seconds);
      } else {
        std::printf(
            "%-9s seed %-4ld train MSE %s  test MSE %s  test RMSE %s (original units)%s  %.1fs\n",
            m.c_str(), s, sci(r.train_mse).c_str(), sci(r.test_mse).c_str(),
            sci(r.test_rmse).c_str(), kept.c_str(), r.seconds);
      }
      std::fflush(stdout);
      results.push_back(r);
      last_model = std::move(model);
    }
  }

  // Summary table.
  const bool es = opt.early_stopping > 0;
  if (classify) {
    std::printf(
        "\n| model | runs | train accuracy min / median / max | test accuracy min / median / max | "
        "test %s median |%s\n|---|---|---|---|---|%s\n",
        to_string(cfg.loss), es ? " epoch kept (per seed) |" : "", es ? "---|" : "");
    for (const std::string& m : models) {
      std::vector<double> tr, te, tl;
      std::string kept;
      for (const RunResult& r : results) {
        if (r.model != m) continue;
        tr.push_back(r.train_accuracy);
        te.push_back(r.test_accuracy);
        tl.push_back(r.test_loss);
        kept += (kept.empty() ? "" : ", ") + std::to_string(r.history.best_epoch);
      }
      std::printf("| %s | %zu | %.4f / %.4f / %.4f | %.4f / %.4f / %.4f | %s |%s\n", m.c_str(),
                  tr.size(), *std::min_element(tr.begin(), tr.end()), median(tr),
                  *std::max_element(tr.begin(), tr.end()), *std::min_element(te.begin(), te.end()),
                  median(te), *std::max_element(te.begin(), te.end()), sci(median(tl)).c_str(),
                  es ? (" " + kept + " |").c_str() : "");
    }
    int ones = 0;
    for (float v : data.test.y) ones += v > 0.5f;
    const double majority =
        std::max(ones, data.test.count - ones) / static_cast<double>(data.test.count);
    std::printf("| majority class (baseline) | - | - | %.4f | - |%s\n", majority, es ? " - |" : "");
    if (sentiment) {
      std::printf(
          "| notebook, IMDB (B128 T200 D100 H256): SimpleRNN | 1 | - | 0.556 | - |%s\n"
          "| notebook, IMDB: bidirectional RNN with attention | 1 | - | 0.823 | - |%s\n",
          es ? " - |" : "", es ? " - |" : "");
    }
  }
  if (!classify) {
    std::printf(
        "\n| model | runs | train MSE min / median / max | test MSE min / median / max | "
        "test RMSE median (original units) |%s\n|---|---|---|---|---|%s\n",
        es ? " epoch kept (per seed) |" : "", es ? "---|" : "");
    for (const std::string& m : models) {
      std::vector<double> tr, te, rm;
      std::string kept;
      for (const RunResult& r : results) {
        if (r.model != m) continue;
        tr.push_back(r.train_mse);
        te.push_back(r.test_mse);
        rm.push_back(r.test_rmse);
        kept += (kept.empty() ? "" : ", ") + std::to_string(r.history.best_epoch);
      }
      std::printf("| %s | %zu | %s / %s / %s | %s / %s / %s | %s |%s\n", m.c_str(), tr.size(),
                  sci(*std::min_element(tr.begin(), tr.end())).c_str(), sci(median(tr)).c_str(),
                  sci(*std::max_element(tr.begin(), tr.end())).c_str(),
                  sci(*std::min_element(te.begin(), te.end())).c_str(), sci(median(te)).c_str(),
                  sci(*std::max_element(te.begin(), te.end())).c_str(), sci(median(rm)).c_str(),
                  es ? (" " + kept + " |").c_str() : "");
    }
    for (const Baseline& base : bases) {
      std::printf("| %s (baseline) | - | %s | %s | %s |%s\n", base.name.c_str(),
                  sci(base.train_mse).c_str(), sci(base.test_mse).c_str(),
                  sci(base.test_rmse).c_str(), es ? " - |" : "");
    }
    if (fib) {
      std::printf(
          "| tutorial, Keras 2.15 (one run): attention | 1 | 5.63e-05 | 5.90e-07 | - |\n"
          "| tutorial, Keras 2.15 (one run): plain | 1 | 6.29e-04 (another run 5.63e-05) | "
          "5.40e-04 (another run 2.62e-05) | - |\n");
      int big_train = 0, big_test = 0;
      for (float v : data.train.y) big_train += v > 1e-6f;
      for (float v : data.test.y) big_test += v > 1e-6f;
      std::printf(
          "\nNote: the scale is set by the last, huge Fibonacci numbers: only %d train and %d "
          "test targets exceed 1e-6,\nso predicting 0 everywhere already scores the "
          "baseline row above. One run says little; use --seeds.\n",
          big_train, big_test);
    }
  }  // !classify

  std::fflush(stdout);
  // A diverged run is an error, not a result: nothing is written.
  for (const RunResult& r : results) {
    if (!std::isfinite(r.train_mse) || !std::isfinite(r.test_mse)) {
      throw Error(r.model + " seed " + std::to_string(r.seed) +
                  " gave non-finite results (train MSE " + sci(r.train_mse) + ", test MSE " +
                  sci(r.test_mse) + "): training diverged; try a smaller --lr. No output written");
    }
  }

  std::vector<OutputFile> outputs;
  if (!json_path.empty()) {
    Json j;
    j.begin_object();
    j.value("data", data.source);
    if (!data.column.empty()) j.value("column", data.column);
    j.value("device", backend->name());
    j.begin_object("config")
        .value("hidden", cfg.hidden_size)
        .value("steps", cfg.steps)
        .value("head", to_string(cfg.head))
        .value("loss", to_string(cfg.loss))
        .value("epochs", opt.epochs)
        .value("batch", opt.batch_size)
        .value("lr", static_cast<double>(adam.learning_rate))
        .value("train_windows", train.count)
        .value("validation_windows", validation.count)
        .value("test_windows", data.test.count)
        .value("early_stopping", opt.early_stopping)
        .value("input_size", cfg.input_size)
        .value("layers", cfg.layers)
        .value("bidirectional", cfg.bidirectional)
        .end_object();
    j.begin_array("features");
    for (const std::string& f : data.features) j.value(nullptr, f);
    j.end_array();
    // The test part in original units, labelled by the target's row: what the plots draw.
    j.begin_object("test").value("label_name", data.label_name);
    j.begin_array("labels");
    for (int i : data.test.index) j.value(nullptr, data.labels[sentiment ? i : i + cfg.steps]);
    j.end_array().begin_array("target");
    for (float v : data.test.y) j.value(nullptr, data.scaler.unscale(v));
    j.end_array().end_object();
    j.begin_array("runs");
    for (const RunResult& r : results) {
      j.begin_object()
          .value("model", r.model)
          .value("seed", static_cast<long long>(r.seed))
          .value("epochs", opt.epochs)
          .value("epochs_run", static_cast<int>(r.history.epoch_loss.size()))
          .value("best_epoch", r.history.best_epoch)
          .value("stopped_early", r.history.stopped_early)
          .value("final_loss", r.final_loss)
          .value("train_mse", r.train_mse)
          .value("test_mse", r.test_mse)
          .value("test_rmse", r.test_rmse)
          .value("seconds", r.seconds);
      if (classify) {
        j.value("train_accuracy", r.train_accuracy)
            .value("test_accuracy", r.test_accuracy)
            .value("test_loss", r.test_loss);
      }
      j.begin_array("history");
      for (std::size_t e = 0; e < r.history.epoch_loss.size(); ++e) {
        j.begin_object()
            .value("epoch", static_cast<int>(e + 1))
            .value("loss", r.history.epoch_loss[e]);
        if (e < r.history.val_loss.size()) j.value("val_loss", r.history.val_loss[e]);
        j.value("seconds", r.history.epoch_seconds[e]).end_object();
      }
      j.end_array();
      j.numbers("test_predictions", r.test_pred);
      if (!r.test_attention.empty()) {
        j.begin_array("test_attention");
        for (int i = 0; i < data.test.count; ++i) {
          j.numbers(nullptr,
                    std::vector<float>(
                        r.test_attention.begin() + static_cast<std::size_t>(i) * cfg.steps,
                        r.test_attention.begin() + static_cast<std::size_t>(i + 1) * cfg.steps));
        }
        j.end_array();
      }
      j.end_object();
    }
    j.end_array();
    j.begin_array("baselines");
    for (const Baseline& base : bases) {
      j.begin_object()
          .value("name", base.name)
          .value("train_mse", base.train_mse)
          .value("test_mse", base.test_mse)
          .value("test_rmse", base.test_rmse)
          .end_object();
    }
    j.end_array();
    j.end_object();
    outputs.push_back({json_path, j.str()});
  }
  if (!save.empty()) {
    Checkpoint ck{last_model, data.scaler, data.source, data.column, {}, {}};
    if (!fib) {
      ck.features = data.features;
      ck.feature_scalers = data.feature_scalers;
    }
    outputs.push_back({save, checkpoint_bytes(ck)});
  }
  write_files_atomic(outputs);  // all or none
  for (const OutputFile& f : outputs) std::cout << "wrote " << f.path << '\n';
  return 0;
}

// ---------------------------------------------------------------------------------------------
constexpr const char* kPredictHelp =
    R"(usage: rnnattn predict --model FILE --data fib|FILE.csv [options]

Print the model's predictions for the test part of the data, in original units and at the data's
precision, each labelled by its target's row (the YEAR, DATE or TIME column, else the line).

  --model FILE             a checkpoint written by 'rnnattn train --save'
  --data fib|FILE.csv      the data (windows of the model's T; scaled as at training time)
  --column NAME            for a one-column model: read this column instead of the one it was
                           trained on (default: the checkpoint's columns)
  --attention              also print the attention weights of each window
  --device cpu|cuda|cuda-unfused|auto   where to run (default auto)
  --json FILE              write predictions (and weights) as JSON
)";

// The data as the checkpoint's model saw its training data: the same input columns and target,
// scaled with the checkpoint's scalings (whatever the data's own split would fit).
SplitData load_for_checkpoint(const std::string& source, const std::string& column_arg,
                              const Checkpoint& ck) {
  const int T = ck.model.config.steps;
  std::vector<std::string> columns = ck.features;
  std::string target = ck.column;
  if (source == "fib" || source == "sentiment") {
    columns.clear();
    target.clear();
  } else if (!column_arg.empty()) {  // another column of the same meaning (a one-input model only)
    if (ck.features.size() > 1) {
      throw UsageError("--column: this model reads " + std::to_string(ck.features.size()) +
                       " columns, named in the checkpoint");
    }
    columns = {column_arg};
    target = column_arg;
  }
  SplitData d = load_data(source, columns, target, T);
  if (d.train.features != ck.model.config.input_size) {
    throw UsageError("the model takes D = " + std::to_string(ck.model.config.input_size) +
                     " inputs per step; the data gives " + std::to_string(d.train.features));
  }
  const std::vector<Scaler> from =
      d.feature_scalers.empty() ? std::vector<Scaler>{d.scaler} : d.feature_scalers;
  const std::vector<Scaler> to =
      ck.features.empty() ? std::vector<Scaler>{ck.scaler} : ck.feature_scalers;
  for (WindowSet* w : {&d.train, &d.test}) {
    for (std::size_t k = 0; k < w->x.size(); ++k) {
      const std::size_t f = k % from.size();
      w->x[k] = static_cast<float>(to[f].scale(from[f].unscale(w->x[k])));
    }
    for (float& v : w->y) v = static_cast<float>(ck.scaler.scale(d.scaler.unscale(v)));
  }
  d.scaler = ck.scaler;
  d.feature_scalers = to;
  return d;
}

// The label of test window i's target: the row of the value it predicts (a series), or the
// sequence's number (sentiment).
const std::string& target_label(const SplitData& d, int i, int steps) {
  return d.labels[d.test.index[i] + (d.source == "sentiment" ? 0 : steps)];
}

// A value in the data's original units, written at the data's precision.
std::string format_value(double v, int precision) {
  char buf[64];
  if (precision >= 0 && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  return buf;
}

// Values that scale far outside [0, 1] lie outside what the model saw in training: its
// predictions there are extrapolation (and, far enough out, overflow). Says so on stderr.
void warn_if_outside_scaling(const WindowSet& w, const Scaler& s) {
  if (w.x.empty()) return;
  const auto [lo, hi] = std::minmax_element(w.x.begin(), w.x.end());
  if (*lo < -1.f || *hi > 2.f || !std::isfinite(*lo) || !std::isfinite(*hi)) {
    std::cerr << "rnnattn predict: warning: the data spans [" << sci(s.unscale(*lo)) << ", "
              << sci(s.unscale(*hi)) << "], far outside the range the model was trained on ["
              << sci(s.min) << ", " << sci(s.max) << "]: its predictions are extrapolations"
              << std::endl;
  }
}

int cmd_predict(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << kPredictHelp;
    return 0;
  }
  const Args a("predict", argv, {"--model", "--data", "--column", "--device", "--json"},
               {"--attention"});
  if (!a.has("--model"))
    throw UsageError("--model FILE is required (see 'rnnattn predict --help')");
  if (!a.has("--data")) throw UsageError("--data is required (see 'rnnattn predict --help')");
  const std::string json_path = a.get("--json", "");
  const std::string source = a.get("--data", "");
  check_outputs({{"--json", json_path}},
                {{"--model", a.get("--model", "")},
                 {"--data", source == "fib" || source == "sentiment" ? "" : source}});
  const Checkpoint ck = load_checkpoint(a.get("--model", ""));
  const Model& model = ck.model;
  SplitData data = load_for_checkpoint(source, a.get("--column", ""), ck);
  warn_if_outside_scaling(data.test, ck.scaler);
  const auto not_finite = [](float v) { return !std::isfinite(v); };
  if (std::any_of(data.test.x.begin(), data.test.x.end(), not_finite) ||
      std::any_of(data.test.y.begin(), data.test.y.end(), not_finite)) {
    throw Error("the data overflows float32 in the model's scaling [" + sci(ck.scaler.min) + ", " +
                sci(ck.scaler.max) +
                "]: it lies far outside what the model was trained on. No "
                "output written");
  }
  const bool want_attention = a.has("--attention");
  if (want_attention && !model.config.attention) {
    throw UsageError("--attention: this is a plain model, it has no attention weights");
  }
  const std::unique_ptr<Backend> backend = open_backend(a.get("--device", "auto"));
  std::vector<float> attn;
  const std::vector<float> pred =
      predict(*backend, model, data.test, want_attention ? &attn : nullptr);
  const int T = model.config.steps, O = model.config.output_size;
  const long bad = std::count_if(pred.begin(), pred.end(), not_finite);
  const double mse = mean_squared_error(pred, data.test);
  if (bad > 0 || !std::isfinite(mse)) {
    throw Error(std::to_string(bad) + " of " + std::to_string(pred.size()) +
                " predictions are not finite: the data lies far outside the scaling the model was "
                "trained with [" +
                sci(ck.scaler.min) + ", " + sci(ck.scaler.max) + "]. No output written");
  }

  std::printf(
      "# test windows of %s (%d); values in original units, each row labelled by its target's "
      "%s\n# %s  target  prediction%s\n",
      source.c_str(), data.test.count, data.label_name.c_str(), data.label_name.c_str(),
      want_attention ? "  attention weights a_1..a_T" : "");
  for (int i = 0; i < data.test.count; ++i) {
    std::printf(
        "%s  %s  %s", target_label(data, i, T).c_str(),
        format_value(ck.scaler.unscale(data.test.y[i]), data.precision).c_str(),
        format_value(ck.scaler.unscale(pred[static_cast<std::size_t>(i) * O]), data.precision)
            .c_str());
    if (want_attention) {
      for (int t = 0; t < T; ++t) std::printf(" %.5f", attn[static_cast<std::size_t>(i) * T + t]);
    }
    std::printf("\n");
  }
  std::printf("# test MSE %s (scaled), RMSE %s (original units)\n", sci(mse).c_str(),
              sci(std::sqrt(mse) * ck.scaler.range()).c_str());
  if (!json_path.empty()) {
    Json j;
    j.begin_object().value("model", a.get("--model", "")).value("data", source);
    j.value("test_mse", mse).value("test_rmse", std::sqrt(mse) * ck.scaler.range());
    j.begin_array("predictions");
    for (int i = 0; i < data.test.count; ++i) {
      j.begin_object()
          .value("start", data.test.index[i])
          .value(data.label_name.c_str(), target_label(data, i, T))
          .value("target", ck.scaler.unscale(data.test.y[i]))
          .value("prediction", ck.scaler.unscale(pred[static_cast<std::size_t>(i) * O]));
      if (want_attention) {
        j.numbers("attention",
                  std::vector<float>(attn.begin() + static_cast<std::size_t>(i) * T,
                                     attn.begin() + static_cast<std::size_t>(i + 1) * T));
      }
      j.end_object();
    }
    j.end_array().end_object();
    write_file_atomic(json_path, j.str());
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
constexpr const char* kForecastHelp =
    R"(usage: rnnattn forecast --model FILE --data fib|FILE.csv --horizon N [options]

Forecast N steps past the end of the series: the model predicts the next value from the last T,
which is then fed back as an input for the step after, and so on. Each step is printed with its
label (the YEAR or TIME column continued when it is numeric, else +k after the last row) and its
value in original units at the data's precision.

  --model FILE             a checkpoint of a one-column model ('rnnattn train --save')
  --data fib|FILE.csv      the series (default column: the one the model was trained on)
  --column NAME            another column of the same meaning
  --horizon N              steps to forecast (1 to 100000)
  --device cpu|cuda|cuda-unfused|auto   where to run (default auto)
  --json FILE              write the forecast as JSON
)";

// Labels past the end of a series: a numeric label column continues by its last step; anything
// else counts on from the last label.
std::vector<std::string> labels_after(const std::vector<std::string>& labels, int n) {
  std::vector<std::string> out;
  double last = 0, prev = 0;
  bool numeric = labels.size() >= 2;
  if (numeric) {
    char* end = nullptr;
    last = std::strtod(labels.back().c_str(), &end);
    numeric = end && *end == '\0' && !labels.back().empty();
    prev = std::strtod(labels[labels.size() - 2].c_str(), &end);
    numeric = numeric && end && *end == '\0' && last != prev;
  }
  for (int k = 1; k <= n; ++k) {
    if (numeric) {
      const double v = last + k * (last - prev);
      char buf[64];
      std::snprintf(buf, sizeof buf, v == std::floor(v) && std::fabs(v) < 1e15 ? "%.0f" : "%g", v);
      out.push_back(buf);
    } else {
      out.push_back((labels.empty() ? std::string("end") : labels.back()) + "+" +
                    std::to_string(k));
    }
  }
  return out;
}

int cmd_forecast(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << kForecastHelp;
    return 0;
  }
  const Args a("forecast", argv,
               {"--model", "--data", "--column", "--horizon", "--device", "--json"}, {});
  if (!a.has("--model"))
    throw UsageError("--model FILE is required (see 'rnnattn forecast --help')");
  if (!a.has("--data")) throw UsageError("--data is required (see 'rnnattn forecast --help')");
  if (!a.has("--horizon"))
    throw UsageError("--horizon N is required (see 'rnnattn forecast --help')");
  const int horizon = static_cast<int>(a.get_int("--horizon", 1, 1, 100000));
  const std::string source = a.get("--data", ""), json_path = a.get("--json", "");
  if (source == "sentiment") {
    throw UsageError(
        "forecast continues a series; --data sentiment is a set of labelled sequences");
  }
  check_outputs({{"--json", json_path}},
                {{"--model", a.get("--model", "")}, {"--data", source == "fib" ? "" : source}});
  const Checkpoint ck = load_checkpoint(a.get("--model", ""));
  const ModelConfig& c = ck.model.config;
  if (c.input_size != 1 || (ck.features.size() == 1 && ck.features[0] != ck.column)) {
    throw UsageError(
        "forecast feeds each prediction back as the next input: it needs a model whose "
        "only input is the column it predicts (this one reads " +
        std::to_string(c.input_size) + " column(s))");
  }
  // The whole series, the labels and the precision, from the same loader as training.
  const SplitData data = load_for_checkpoint(source, a.get("--column", ""), ck);
  std::vector<double> series;
  if (source == "fib") {
    series = fibonacci_sequence(static_cast<int>(data.labels.size()));
  } else {
    const std::string col = a.get("--column", ck.column);
    series = read_csv_series(source, {col}, "").target_values;
  }
  if (static_cast<int>(series.size()) < c.steps) {
    throw DataError(source + ": " + std::to_string(series.size()) +
                    " values, fewer than the model's T = " + std::to_string(c.steps));
  }
  std::vector<float> window;
  for (std::size_t i = series.size() - c.steps; i < series.size(); ++i) {
    window.push_back(static_cast<float>(ck.scaler.scale(series[i])));
  }
  const std::unique_ptr<Backend> backend = open_backend(a.get("--device", "auto"));
  const std::vector<std::string> labels = labels_after(data.labels, horizon);
  std::vector<double> values;
  float y = 0;
  for (int k = 0; k < horizon; ++k) {
    backend->forward(c, ck.model.params.data(), window.data(), 1, &y, nullptr, nullptr);
    if (!std::isfinite(y)) {
      throw Error("the forecast became non-finite at step " + std::to_string(k + 1) +
                  ". No output written");
    }
    values.push_back(ck.scaler.unscale(y));
    window.erase(window.begin());
    window.push_back(y);
  }
  std::printf("# forecast of %s%s from %s, %d steps past %s %s (original units)\n# %s  value\n",
              ck.column.empty() ? "the series" : ck.column.c_str(), "", source.c_str(), horizon,
              data.label_name.c_str(), data.labels.back().c_str(), data.label_name.c_str());
  for (int k = 0; k < horizon; ++k) {
    std::printf("%s  %s\n", labels[k].c_str(), format_value(values[k], data.precision).c_str());
  }
  if (!json_path.empty()) {
    Json j;
    j.begin_object().value("model", a.get("--model", "")).value("data", source);
    j.value("label_name", data.label_name).begin_array("forecast");
    for (int k = 0; k < horizon; ++k) {
      j.begin_object().value("label", labels[k]).value("value", values[k]).end_object();
    }
    j.end_array().end_object();
    write_file_atomic(json_path, j.str());
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
constexpr const char* kProfileHelp =
    R"(usage: rnnattn profile --batch B --steps T --input D --hidden H [options]

Run one pass of the CUDA backend on random data (after one unrecorded warm-up pass) and print, per
kernel, its launches and: on a GPU, the time from CUDA events (cuBLAS GEMMs included, as
cublasSgemm); in the GPU simulator build, the memory counters as global load and store efficiency
(bytes asked for / (sectors x 32); above 1 when lanes share words) and shared-memory wavefronts per
request (1 is conflict-free).

  --batch B --steps T --input D --hidden H   the shape (required)
  --model attention|plain  (default attention)
  --pass forward|backward|train   forward: inference; backward: the training forward and backward;
                           train: a whole training step (forward, loss, backward, Adam)
  --device cuda|cuda-unfused   (default cuda)
  --recurrence auto|segment|persistent   how the fused path runs the recurrence (default auto:
                           the performance model's choice for this B and H, docs/performance.md)
  --plan                   print the model's choice and predicted step times, run nothing (no GPU
                           needed: without one, an H100's limits)
  --json FILE              one object per kernel: kernel, launches, and ms or the counters
)";

int cmd_profile(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << kProfileHelp;
    return 0;
  }
  const Args a("profile", argv,
               {"--batch", "--steps", "--input", "--hidden", "--model", "--pass", "--device",
                "--recurrence", "--json"},
               {"--plan"});
  for (const char* need : {"--batch", "--steps", "--input", "--hidden"}) {
    if (!a.has(need))
      throw UsageError(std::string(need) + " is required (see 'rnnattn profile --help')");
  }
  ModelConfig cfg;
  const int B = static_cast<int>(a.get_int("--batch", 1, 1, 1 << 20));
  cfg.steps = static_cast<int>(a.get_int("--steps", 1, 1, 1 << 20));
  cfg.input_size = static_cast<int>(a.get_int("--input", 1, 1, 1 << 16));
  cfg.hidden_size = static_cast<int>(a.get_int("--hidden", 1, 1, 1 << 14));
  const std::string model = a.get("--model", "attention");
  if (model != "attention" && model != "plain") {
    throw UsageError("--model must be attention or plain, got '" + model + "'");
  }
  cfg.attention = model == "attention";
  cfg.validate();
  const std::string pass = a.get("--pass", "forward");
  if (pass != "forward" && pass != "backward" && pass != "train") {
    throw UsageError("--pass must be forward, backward or train, got '" + pass + "'");
  }
  const std::string device = a.get("--device", "cuda");
  if (device != "cuda" && device != "cuda-unfused") {
    throw UsageError("--device must be cuda or cuda-unfused, got '" + device + "'");
  }
  const std::string rec_name = a.get("--recurrence", "auto");
  if (rec_name != "auto" && rec_name != "segment" && rec_name != "persistent") {
    throw UsageError("--recurrence must be auto, segment or persistent, got '" + rec_name + "'");
  }
  const cuda::Recurrence rec = rec_name == "segment"      ? cuda::Recurrence::kSegment
                               : rec_name == "persistent" ? cuda::Recurrence::kPersistent
                                                          : cuda::Recurrence::kAuto;
  if (a.has("--plan")) {
    const bool gpu = cuda_backend_available();
    const kernels::GpuLimits limits = gpu ? kernels::current_gpu_limits() : kernels::GpuLimits{};
    std::printf("plan: B=%d H=%d on %s: %s\n", B, cfg.hidden_size,
                gpu ? "this GPU" : "an H100 (no GPU visible)",
                kernels::plan_recurrence(B, cfg.hidden_size, limits).describe().c_str());
    return 0;
  }
  const std::string json_path = a.get("--json", "");
  check_outputs({{"--json", json_path}}, {});
  if (!cuda_backend_available()) {
    throw Unavailable(
        "profile: no CUDA GPU is visible on this machine (the GPU simulator build "
        "profiles without one)");
  }

  // Random inputs on the device, through the device API with its own buffers.
  CudaStream stream;
  const cudaStream_t st = stream.get();
  cuda::Handle h(cfg, st, nullptr, device == "cuda" ? cuda::Path::kFused : cuda::Path::kUnfused);
  h.set_recurrence(rec);
  const std::size_t P = h.parameter_count();
  const std::size_t nx = static_cast<std::size_t>(B) * cfg.steps * cfg.input_size;
  Rng rng(1);
  auto upload = [&](const std::vector<float>& v) {
    DeviceBuffer<float> d(v.size(), "profile input");
    RNNATTN_CUDA_CHECK(
        cudaMemcpyAsync(d.get(), v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice, st));
    return d;
  };
  auto random = [&](std::size_t n, double lo, double hi) {
    std::vector<float> v(n);
    for (float& f : v) f = static_cast<float>(rng.uniform(lo, hi));
    return upload(v);
  };
  DeviceBuffer<float> params = upload(init_parameters(cfg, 1)), x = random(nx, -1, 1),
                      target = random(B, -0.5, 0.5), m = upload(std::vector<float>(P, 0.f)),
                      v = upload(std::vector<float>(P, 0.f));
  DeviceBuffer<float> y(B, "y"), dy(B, "dy"), grads(P, "grads");
  DeviceBuffer<unsigned char> work(
      h.workspace_size(B, pass == "forward" ? cuda::Pass::kInference : cuda::Pass::kTraining),
      "workspace");
  DeviceBuffer<unsigned char> reserve(pass == "forward" ? 0 : h.reserve_size(B), "reserve");
  DeviceBuffer<std::int64_t> step(1, "adam step");
  RNNATTN_CUDA_CHECK(cudaMemsetAsync(step.get(), 0, sizeof(std::int64_t), st));
  auto run = [&] {
    if (pass == "forward") {
      h.forward_inference(params.get(), x.get(), B, y.get(), nullptr, work.get(), work.size());
      return;
    }
    h.forward_training(params.get(), x.get(), B, y.get(), nullptr, nullptr, reserve.get(),
                       reserve.size(), work.get(), work.size());
    if (pass == "train") h.loss_gradient(y.get(), target.get(), B, dy.get(), nullptr);
    h.backward(params.get(), x.get(), B, y.get(), pass == "train" ? dy.get() : target.get(),
               reserve.get(), reserve.size(), grads.get(), nullptr, cuda::GradMode::kOverwrite,
               work.get(), work.size());
    if (pass == "train") {
      h.adam_update(AdamConfig{}, params.get(), grads.get(), m.get(), v.get(), step.get());
    }
  };
  run();  // warm-up: module loading, first-use attribute calls
  RNNATTN_CUDA_CHECK(cudaStreamSynchronize(st));
  std::vector<kernels::KernelProfile> prof;
  {
    kernels::Profiler profiler;
    run();
    prof = profiler.results();
  }

  const bool sim = kernels::Profiler::simulated();
  std::printf("profile: %s, %s pass, B=%d, device %s%s\n", describe(cfg).c_str(), pass.c_str(), B,
              device.c_str(), sim ? " (GPU simulator: memory counters, no times)" : "");
  if (device == "cuda") {
    std::printf("recurrence: %s (--recurrence %s); the model: %s\n",
                h.recurrence_for(B) == cuda::Recurrence::kPersistent ? "persistent" : "segment",
                rec_name.c_str(),
                kernels::plan_recurrence(B, cfg.hidden_size, kernels::current_gpu_limits())
                    .describe()
                    .c_str());
  }
  if (sim) {
    std::printf(
        "| kernel | launches | global load efficiency | global store efficiency | "
        "shared wavefronts / request |\n|---|---|---|---|---|\n");
  } else {
    std::printf("| kernel | launches | ms |\n|---|---|---|\n");
  }
  Json j;
  j.begin_array();
  for (const kernels::KernelProfile& k : prof) {
    j.begin_object().value("kernel", k.kernel).value("launches", k.launches);
    if (sim) {
      std::printf("| %s | %d | %.3f | %.3f | %.3f |\n", k.kernel.c_str(), k.launches,
                  k.global_load_efficiency(), k.global_store_efficiency(),
                  k.shared_wavefronts_per_request());
      j.value("global_load_efficiency", k.global_load_efficiency())
          .value("global_store_efficiency", k.global_store_efficiency())
          .value("shared_wavefronts_per_request", k.shared_wavefronts_per_request());
    } else {
      std::printf("| %s | %d | %.4f |\n", k.kernel.c_str(), k.launches, k.ms);
      j.value("ms", k.ms);
    }
    j.end_object();
  }
  j.end_array();
  if (!json_path.empty()) write_file_atomic(json_path, j.str());
  return 0;
}

// ---------------------------------------------------------------------------------------------
constexpr const char* kInspectHelp = R"(usage: rnnattn inspect --model FILE [--json]

Print a checkpoint's configuration, training state and every parameter tensor.

  --model FILE   a checkpoint written by 'rnnattn train --save'
  --json         print JSON instead of text
)";

int cmd_inspect(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << kInspectHelp;
    return 0;
  }
  const Args a("inspect", argv, {"--model"}, {"--json"});
  if (!a.has("--model"))
    throw UsageError("--model FILE is required (see 'rnnattn inspect --help')");
  const Checkpoint ck = load_checkpoint(a.get("--model", ""));
  const Model& m = ck.model;
  const ParamLayout layout(m.config);
  if (a.has("--json")) {
    Json j;
    j.begin_object().value("format_version", static_cast<int>(ck.format_version));
    j.begin_object("config")
        .value("model", m.config.attention ? "attention" : "plain")
        .value("input_size", m.config.input_size)
        .value("hidden_size", m.config.hidden_size)
        .value("steps", m.config.steps)
        .value("output_size", m.config.output_size)
        .value("head", to_string(m.config.head))
        .value("loss", to_string(m.config.loss))
        .end_object();
    j.value("parameters", static_cast<long long>(layout.size()))
        .value("epochs_trained", static_cast<long long>(m.epochs_trained))
        .value("adam_step", static_cast<long long>(m.adam.step))
        .value("learning_rate", static_cast<double>(m.adam_config.learning_rate))
        .value("data", ck.data_source)
        .value("column", ck.column)
        .value("scaler_min", ck.scaler.min)
        .value("scaler_max", ck.scaler.max);
    j.begin_array("inputs");
    for (std::size_t i = 0; i < ck.features.size(); ++i) {
      j.begin_object()
          .value("column", ck.features[i])
          .value("scaler_min", ck.feature_scalers[i].min)
          .value("scaler_max", ck.feature_scalers[i].max)
          .end_object();
    }
    j.end_array();
    j.begin_object("tensors");
    for (const TensorInfo& t : layout.tensors()) {
      j.begin_object(t.name.c_str()).value("rows", t.rows).value("cols", t.cols);
      j.numbers("values", std::vector<float>(m.params.begin() + t.offset,
                                             m.params.begin() + t.offset + t.size()));
      j.end_object();
    }
    j.end_object().end_object();
    std::cout << j.str();
    return 0;
  }
  std::printf("checkpoint %s (format version %u)\nmodel: %s, %zu parameters\n",
              a.get("--model", "").c_str(), ck.format_version, describe(m.config).c_str(),
              layout.size());
  std::printf("trained: %lld epochs, %lld Adam steps, lr %g\ndata: %s%s%s, scaler [%.17g, %.17g]\n",
              static_cast<long long>(m.epochs_trained), static_cast<long long>(m.adam.step),
              m.adam_config.learning_rate, ck.data_source.c_str(),
              ck.column.empty() ? "" : " column ", ck.column.c_str(), ck.scaler.min, ck.scaler.max);
  for (std::size_t i = 0; i < ck.features.size(); ++i) {
    std::printf("input %zu: %s, scaler [%.17g, %.17g]\n", i + 1, ck.features[i].c_str(),
                ck.feature_scalers[i].min, ck.feature_scalers[i].max);
  }
  for (const TensorInfo& t : layout.tensors()) {
    std::printf("%s [%d,%d]\n", t.name.c_str(), t.rows, t.cols);
    for (int r = 0; r < t.rows; ++r) {
      std::printf("  ");
      for (int c = 0; c < t.cols; ++c) std::printf(" % .8e", m.params[t.offset + r * t.cols + c]);
      std::printf("\n");
    }
  }
  return 0;
}

constexpr const char* kMainHelp = R"(usage: rnnattn <command> [options]

An Elman RNN with additive attention (the Keras tutorial's model), trained on the CPU or the GPU.

commands:
  train     train a model and report train/test MSE (try: rnnattn train --data fib --compare)
  predict   predictions of a saved model on the test part of a data set
  forecast  forecast a series past its end with a saved model
  profile   per-kernel launches and times (GPU) or memory counters (GPU simulator)
  inspect   print a saved model's configuration and parameters

'rnnattn <command> --help' describes each command's options.
)";

}  // namespace
}  // namespace rnnattn::cli

int main(int argc, char** argv) {
  using namespace rnnattn::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kMainHelp;
    return args.empty() ? 2 : 0;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "train") return cmd_train(args);
    if (cmd == "predict") return cmd_predict(args);
    if (cmd == "forecast") return cmd_forecast(args);
    if (cmd == "profile") return cmd_profile(args);
    if (cmd == "inspect") return cmd_inspect(args);
    std::cerr << "rnnattn: unknown command '" << cmd
              << "' (expected train, predict, forecast, profile or inspect)\n";
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "rnnattn " << cmd << ": " << e.what() << '\n';
    return 2;
  } catch (const rnnattn::InvalidArgument& e) {
    std::cerr << "rnnattn " << cmd << ": " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "rnnattn " << cmd << ": error: " << e.what() << '\n';
    return 1;
  }
}
