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
#include "io.hpp"
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
// Data: "fib" or a CSV path.
SplitData load_data(const std::string& data, const std::string& column, int steps) {
  if (data == "fib") {
    if (!column.empty()) throw UsageError("--column applies to CSV data, not to --data fib");
    return fibonacci_data(steps);
  }
  std::string chosen;
  const std::vector<double> series = read_csv_column(data, column, &chosen);
  SplitData d;
  try {
    d = series_data(series, steps);
  } catch (const DataError& e) {
    throw DataError(data + ": " + e.what());
  }
  d.source = data;
  d.column = chosen;
  return d;
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

Train an Elman RNN (tanh) with additive attention, or the plain RNN, and report train and test MSE.

  --data fib|FILE.csv      the tutorial's Fibonacci windows (default) or a CSV series
  --column NAME            the CSV column (default: the only one, or the one after YEAR/DATE/TIME)
  --model attention|plain  which model (default attention)
  --compare                train both models and print the tutorial's comparison table
  --seeds N                repeat every run for seeds S..S+N-1; report min / median / max (default 1)
  --hidden H               hidden units (default 2)
  --steps T                window length (default 20)
  --epochs N               epochs (default 30)
  --batch B                mini-batch size (default 1, as the tutorial)
  --lr X                   Adam learning rate (default 0.001)
  --head tanh|linear|sigmoid   head activation (default tanh)
  --loss mse|bce           loss (default mse; bce needs --head sigmoid)
  --seed S                 first seed: initialisation and shuffling (default 1)
  --device cpu|cuda|cuda-unfused|auto
                           where to train (default auto: the GPU when there is one and the CUDA
                           kernels are verified on it, else the CPU); cuda-unfused is the classic
                           one-launch-per-operation GPU path
  --save FILE              write the trained model (one run only) as a checkpoint
  --json FILE              write the results as JSON
  --quiet / --verbose      no per-epoch lines / per-epoch lines even for several runs

MSE is reported in scaled units ([0, 1] over the scaling data), RMSE in the data's original units.
)";

struct RunResult {
  std::string model;
  long seed;
  double train_mse, test_mse, test_rmse, seconds, final_loss;
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
               {"--data", "--column", "--model", "--seeds", "--hidden", "--steps", "--epochs",
                "--batch", "--lr", "--head", "--loss", "--seed", "--device", "--save", "--json"},
               {"--compare", "--quiet", "--verbose"});
  ModelConfig cfg;
  cfg.hidden_size = static_cast<int>(a.get_int("--hidden", 2, 1, 1 << 14));
  cfg.steps = static_cast<int>(a.get_int("--steps", 20, 1, 1 << 20));
  cfg.head = parse_activation(a.get("--head", "tanh"));
  cfg.loss = parse_loss(a.get("--loss", "mse"));
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
  const std::string data_arg = a.get("--data", "fib");
  check_outputs({{"--json", json_path}, {"--save", save}},
                {{"--data", data_arg == "fib" ? "" : data_arg}});
  const SplitData data = load_data(data_arg, a.get("--column", ""), cfg.steps);
  const std::unique_ptr<Backend> backend = open_backend(a.get("--device", "auto"));
  const std::vector<Baseline> bases = baselines_for(data);
  const bool fib = data.source == "fib";

  std::cout << "data: " << data.source << (data.column.empty() ? "" : " column " + data.column)
            << ", " << data.train.count + data.test.count << " windows of T=" << cfg.steps << " ("
            << data.train.count << " train, " << data.test.count << " test, "
            << (fib ? "split by RandomState(13)" : "chronological split") << ")" << std::endl;
  if (opt.batch_size > data.train.count) {
    std::cerr << "rnnattn train: warning: --batch " << opt.batch_size << " is larger than the "
              << data.train.count << " training windows: each epoch is one batch of "
              << data.train.count << std::endl;
  }

  std::vector<std::string> models;
  if (compare) {
    models = {"attention", "plain"};
  } else {
    models = {model_name};
  }
  const bool verbose = a.has("--verbose") || (!a.has("--quiet") && !compare && seeds == 1);
  std::vector<RunResult> results;
  Model last_model;
  for (const std::string& m : models) {
    ModelConfig mc = cfg;
    mc.attention = m == "attention";
    std::cout << "model: " << describe(mc) << ", " << ParamLayout(mc).size() << " parameters"
              << std::endl;
    for (long s = first_seed; s < first_seed + seeds; ++s) {
      Model model = make_model(mc, static_cast<std::uint64_t>(s), adam);
      opt.seed = static_cast<std::uint64_t>(s);  // shuffles as fit() documents
      opt.log = verbose ? &std::cout : nullptr;
      opt.progress = verbose && ::isatty(STDOUT_FILENO);
      const TrainHistory h = fit(*backend, model, data.train, opt);
      RunResult r{m, s, 0, 0, 0, h.seconds, h.epoch_loss.empty() ? NAN : h.epoch_loss.back()};
      r.train_mse = mean_squared_error(predict(*backend, model, data.train), data.train);
      r.test_mse = mean_squared_error(predict(*backend, model, data.test), data.test);
      r.test_rmse = std::sqrt(r.test_mse) * data.scaler.range();
      std::printf(
          "%-9s seed %-4ld train MSE %s  test MSE %s  test RMSE %s (original units)  %.1fs\n",
          m.c_str(), s, sci(r.train_mse).c_str(), sci(r.test_mse).c_str(), sci(r.test_rmse).c_str(),
          r.seconds);
      std::fflush(stdout);
      results.push_back(r);
      last_model = std::move(model);
    }
  }

  // Summary table.
  std::printf(
      "\n| model | runs | train MSE min / median / max | test MSE min / median / max | "
      "test RMSE median (original units) |\n|---|---|---|---|---|\n");
  for (const std::string& m : models) {
    std::vector<double> tr, te, rm;
    for (const RunResult& r : results) {
      if (r.model != m) continue;
      tr.push_back(r.train_mse);
      te.push_back(r.test_mse);
      rm.push_back(r.test_rmse);
    }
    std::printf("| %s | %zu | %s / %s / %s | %s / %s / %s | %s |\n", m.c_str(), tr.size(),
                sci(*std::min_element(tr.begin(), tr.end())).c_str(), sci(median(tr)).c_str(),
                sci(*std::max_element(tr.begin(), tr.end())).c_str(),
                sci(*std::min_element(te.begin(), te.end())).c_str(), sci(median(te)).c_str(),
                sci(*std::max_element(te.begin(), te.end())).c_str(), sci(median(rm)).c_str());
  }
  for (const Baseline& base : bases) {
    std::printf("| %s (baseline) | - | %s | %s | %s |\n", base.name.c_str(),
                sci(base.train_mse).c_str(), sci(base.test_mse).c_str(),
                sci(base.test_rmse).c_str());
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
        .value("train_windows", data.train.count)
        .value("test_windows", data.test.count)
        .end_object();
    j.begin_array("runs");
    for (const RunResult& r : results) {
      j.begin_object()
          .value("model", r.model)
          .value("seed", static_cast<long long>(r.seed))
          .value("epochs", opt.epochs)
          .value("final_loss", r.final_loss)
          .value("train_mse", r.train_mse)
          .value("test_mse", r.test_mse)
          .value("test_rmse", r.test_rmse)
          .value("seconds", r.seconds)
          .end_object();
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
    outputs.push_back(
        {save, checkpoint_bytes(Checkpoint{last_model, data.scaler, data.source, data.column})});
  }
  write_files_atomic(outputs);  // all or none
  for (const OutputFile& f : outputs) std::cout << "wrote " << f.path << '\n';
  return 0;
}

// ---------------------------------------------------------------------------------------------
constexpr const char* kPredictHelp =
    R"(usage: rnnattn predict --model FILE --data fib|FILE.csv [options]

Print the model's predictions for the test part of the data, in original units.

  --model FILE             a checkpoint written by 'rnnattn train --save'
  --data fib|FILE.csv      the data (windows of the model's T; scaled as at training time)
  --column NAME            the CSV column (default: the one the model was trained on)
  --attention              also print the attention weights of each window
  --device cpu|cuda|cuda-unfused|auto   where to run (default auto)
  --json FILE              write predictions (and weights) as JSON
)";

void rescale(WindowSet& w, const Scaler& from, const Scaler& to) {
  for (float& v : w.x) v = static_cast<float>(to.scale(from.unscale(v)));
  for (float& v : w.y) v = static_cast<float>(to.scale(from.unscale(v)));
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
                {{"--model", a.get("--model", "")}, {"--data", source == "fib" ? "" : source}});
  const Checkpoint ck = load_checkpoint(a.get("--model", ""));
  const Model& model = ck.model;
  const std::string column = a.get("--column", source == "fib" ? "" : ck.column);
  SplitData data = load_data(source, column, model.config.steps);
  // Use the scaling the model was trained with, whatever the data's own split would give.
  rescale(data.test, data.scaler, ck.scaler);
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
      "# test windows of %s (%d); values in original units\n# start  target  prediction%s\n",
      source.c_str(), data.test.count, want_attention ? "  attention weights a_1..a_T" : "");
  for (int i = 0; i < data.test.count; ++i) {
    std::printf("%d  %.9g  %.9g", data.test.index[i], ck.scaler.unscale(data.test.y[i]),
                ck.scaler.unscale(pred[static_cast<std::size_t>(i) * O]));
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
    if (cmd == "inspect") return cmd_inspect(args);
    std::cerr << "rnnattn: unknown command '" << cmd << "' (expected train, predict or inspect)\n";
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
