// rnnattn train: train models (with --compare, each model and baseline; with --seeds, several
// runs) and report train and test scores; --save, --json write the results, all or none.
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/common.hpp"
#include "cli/json.hpp"
#include "io.hpp"

namespace rnnattn::cli {
namespace {

struct RunResult {
  std::string model;
  long seed;
  double train_mse, test_mse, test_rmse, seconds, final_loss;
  TrainHistory history;
  std::vector<double> test_pred;                                      // original units
  std::vector<float> test_attention;                                  // [N, T] (attention model)
  double train_accuracy = NAN, test_accuracy = NAN, test_loss = NAN;  // classification
  double train_loss = NAN;  // the configured loss on the windows trained on, after training
};

// --classes A,B: two different labels, class 0 then class 1; empty without the option.
std::vector<std::string> parse_classes(const Args& a) {
  if (!a.has("--classes")) return {};
  const std::vector<std::string> c = split_list(a.get("--classes", ""));
  if (c.size() != 2 || c[0].empty() || c[1].empty() || c[0] == c[1]) {
    throw UsageError(
        "--classes takes two different labels, class 0 then class 1 (e.g. --classes "
        "negative,positive), got '" +
        a.get("--classes", "") + "'");
  }
  return c;
}

// The checkpoint --resume names, with the options that would contradict it refused: the model,
// its data columns and (for a version 5 file) its training settings come from the file. Files
// older than version 5 do not record the seed and the batch size: they must be given.
Checkpoint resume_checkpoint(const Args& a, const std::string& path) {
  for (const Option& o : options()) {
    if ((o.commands & kTrain) && o.on_resume == OnResume::kFromCheckpoint && a.has(o.name)) {
      throw UsageError(std::string(o.name) +
                       ": with --resume the model and its data come from the checkpoint; drop " +
                       o.name);
    }
  }
  if (!a.has("--epochs")) {
    throw UsageError("--resume needs --epochs: the total number of epochs to reach");
  }
  Checkpoint ck = load_checkpoint(path);
  const TrainingRecord& t = ck.training;
  for (const Option& o : options()) {
    if ((o.commands & kTrain) && o.on_resume == OnResume::kFromRecord && t.recorded &&
        a.has(o.name)) {
      throw UsageError(std::string(o.name) + ": " + path +
                       " records the run's seed, batch size and validation split; drop " + o.name);
    }
  }
  if (!t.recorded && (!a.has("--seed") || !a.has("--batch"))) {
    throw UsageError(path + " (checkpoint format version " + std::to_string(ck.format_version) +
                     ") does not record the run's seed and batch size: give --seed and --batch "
                     "(and --validation-split) as the first run had them");
  }
  const long epochs = a.get_int("--epochs", 30);
  if (ck.model.epochs_trained >= epochs) {
    throw UsageError("--epochs " + std::to_string(epochs) + ": " + path + " has already trained " +
                     std::to_string(ck.model.epochs_trained) +
                     " epochs, and --epochs counts them (the total to reach): give more than " +
                     std::to_string(ck.model.epochs_trained));
  }
  return ck;
}

// Warnings a user needs before training: too few windows to learn or to score on, and test
// targets beyond what a bounded head can reach.
void warn_about_data(const SplitData& d, const WindowSet& train, const WindowSet& validation,
                     const ModelConfig& cfg) {
  constexpr int kFew = 5;
  for (const auto& [what, n] : {std::pair<const char*, int>{"training", train.count},
                                {"validation", validation.count},
                                {"test", d.test.count}}) {
    if (n > 0 && n < kFew) {
      std::cerr << "rnnattn train: warning: only " << n << " " << what << " window"
                << (n > 1 ? "s" : "") << " (T = " << cfg.steps
                << "): too few for a score that means anything; a smaller --steps or a longer "
                   "series gives more"
                << std::endl;
    }
  }
  if (cfg.head == Activation::kLinear || cfg.loss == Loss::kBce || train.y.empty()) return;
  // A tanh or sigmoid head saturates: it cannot follow targets far past the training range.
  const auto [lo, hi] = std::minmax_element(train.y.begin(), train.y.end());
  const double margin = 0.1 * (*hi - *lo);
  int outside = 0;
  double worst = 0;
  for (float v : d.test.y) {
    const double past = std::max(*lo - margin - v, v - (*hi + margin));
    if (past > 0) ++outside, worst = std::max(worst, past);
  }
  if (outside > 0) {
    std::cerr << "rnnattn train: warning: " << outside << " of " << d.test.count
              << " test targets lie beyond the training targets' range by more than 10% (up to "
              << sci(worst * d.scaler.range()) << " in original units): a " << to_string(cfg.head)
              << " head cannot follow a series past the range it was trained on; "
              << (d.row_offset ? "--head linear"
                               : "--difference (model the changes) or --head linear")
              << " can" << std::endl;
  }
}

// A run whose training loss ends at more than twice that of a constant output (each output's mean
// training target: for a classification, the class frequency) has not merely learned little (a
// short run ends just above it, as the baseline rows show) but was thrown to a saturated output,
// most often by the learning rate. Its results stand, as the user asked for them, but the user
// hears it, with the learning rate that is the usual cause.
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
  const double base = reference_loss<float>(cfg.loss, constant.data(), train.y.data(),
                                            static_cast<long>(constant.size()));
  for (const RunResult& r : results) {
    if (!(r.train_loss > 2 * base)) continue;
    std::cerr << "rnnattn train: warning: " << r.model << " seed " << r.seed
              << " ends with a train " << (cfg.loss == Loss::kBce ? "BCE" : "MSE") << " of "
              << sci(r.train_loss) << ", more than twice the " << sci(base)
              << " of a constant output (the mean training "
              << (cfg.loss == Loss::kBce ? "label" : "target")
              << "): training most likely diverged to a saturated output; a smaller --lr (this "
                 "run's: "
              << lr << ") usually helps" << std::endl;
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

int cmd_train(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << help_text(kTrain);
    return 0;
  }
  const Args a(kTrain, argv);
  // --resume: the model, its data and its training settings come from the checkpoint.
  const std::string resume_path = a.get("--resume", "");
  std::optional<Checkpoint> resumed;
  if (!resume_path.empty()) resumed = resume_checkpoint(a, resume_path);
  if (resumed && !resumed->data_source.empty() && a.has("--data")) {
    throw UsageError("--data: with --resume the data come from the checkpoint (" +
                     resumed->data_source + "); drop --data");
  }
  const TrainingRecord* record = resumed ? &resumed->training : nullptr;

  const std::string data_arg =
      resumed ? a.get("--data", resumed->data_source) : a.get("--data", "fib");
  if (data_arg.empty()) {
    throw UsageError("--resume: " + resume_path + " does not name its training data: give --data");
  }
  const bool sentiment = data_arg == "sentiment";
  // Labelled texts: a CSV read through its text column, into a model with an embedding.
  const bool text = resumed ? !resumed->text.column.empty() : a.has("--text-column");
  if (!text) {
    for (const char* flag :
         {"--label-column", "--drop-other-labels", "--classes", "--vocab", "--encoding"}) {
      if (a.has(flag)) throw UsageError(std::string(flag) + " applies to texts (--text-column)");
    }
  } else if (!resumed) {
    if (sentiment || data_arg == "fib") {
      throw UsageError("--text-column reads a CSV file of texts: give --data FILE.csv");
    }
    if (!a.has("--label-column")) throw UsageError("texts need --label-column NAME");
    for (const char* flag : {"--column", "--target", "--scale", "--missing", "--difference"}) {
      if (a.has(flag)) throw UsageError(std::string(flag) + " applies to CSV series, not texts");
    }
  }
  // The embedding's width, for texts and for the sentiment task as token ids (0: none).
  const int embedding =
      resumed ? (resumed->model.config.embedded() ? resumed->model.config.input_size : 0)
              : static_cast<int>(a.get_int("--embedding", text ? 100 : 0));
  if (!resumed && a.has("--embedding") && !text && !sentiment) {
    throw UsageError("--embedding applies to texts (--text-column) and --data sentiment");
  }
  const bool sequences = sentiment || text;  // classification defaults
  ModelConfig cfg = resumed ? resumed->model.config : ModelConfig{};
  if (!resumed) {
    cfg.hidden_size = static_cast<int>(a.get_int("--hidden", 2));
    cfg.steps = static_cast<int>(a.get_int("--steps", sequences ? 200 : 20));
    cfg.head = parse_activation(a.get("--head", sequences ? "sigmoid" : "tanh"));
    cfg.loss = parse_loss(a.get("--loss", sequences ? "bce" : "mse"));
    cfg.layers = static_cast<int>(a.get_int("--layers", 1));
    cfg.bidirectional = a.has("--bidirectional");
    cfg.cell = parse_cell(a.get("--cell", "elman"));
  }
  const bool recorded = record && record->recorded;
  const int sentiment_train = recorded && record->sentiment_train > 0
                                  ? record->sentiment_train
                                  : static_cast<int>(a.get_int("--train-sequences", 2000));
  const int sentiment_test = recorded && record->sentiment_test > 0
                                 ? record->sentiment_test
                                 : static_cast<int>(a.get_int("--test-sequences", 1000));
  if (!sentiment && (a.has("--train-sequences") || a.has("--test-sequences"))) {
    throw UsageError("--train-sequences and --test-sequences apply to --data sentiment");
  }
  const bool classify = cfg.loss == Loss::kBce;
  const std::string model_name =
      resumed ? (cfg.attention ? "attention" : "plain") : a.get("--model", "attention");
  if (model_name != "attention" && model_name != "plain") {
    throw UsageError("--model must be attention or plain, got '" + model_name + "'");
  }
  const bool compare = a.has("--compare");
  const long seeds = a.get_int("--seeds", 1);
  const long first_seed = recorded ? static_cast<long>(record->seed) : a.get_int("--seed", 1);
  TrainOptions opt;
  opt.epochs = static_cast<int>(a.get_int("--epochs", 30));
  opt.initial_epoch = resumed ? static_cast<int>(resumed->model.epochs_trained) : 0;
  opt.batch_size = recorded ? record->batch_size : static_cast<int>(a.get_int("--batch", 1));
  opt.early_stopping = static_cast<int>(a.get_int("--early-stopping", 0));
  const double val_split =
      recorded ? record->validation_split : a.get_double("--validation-split", 0.0);
  if (a.has("--validation-split") && !(val_split > 0 && val_split < 1)) {
    throw UsageError("--validation-split must be in (0, 1), got " +
                     a.get("--validation-split", ""));
  }
  AdamConfig adam = resumed ? resumed->model.adam_config : AdamConfig{};
  if (!resumed) {
    const double lr = a.get_double("--lr", 1e-3);
    if (!(lr > 0)) throw UsageError("--lr must be positive, got " + a.get("--lr", ""));
    adam.learning_rate = static_cast<float>(lr);
  }
  adam.validate();
  cfg.validate();
  // Each path's own limit, before any data is read (the widest model --compare trains).
  ModelConfig widest = cfg;
  widest.bidirectional = cfg.bidirectional || (compare && sequences);
  if (embedding > 0 && !widest.embedded()) widest.vocab_size = 1;  // its size comes with the data
  check_device_supports(parse_device(a.get("--device", "auto")), widest);
  const std::string save = a.get("--save", "");
  const std::string json_path = a.get("--json", "");
  if (!save.empty() && (compare || seeds > 1)) {
    throw UsageError("--save writes one model: drop --compare and --seeds to use it");
  }
  if (resumed && !json_path.empty() && same_file(json_path, resume_path)) {
    throw UsageError("--json '" + json_path +
                     "' is the --resume checkpoint; writing it would "
                     "destroy the checkpoint");
  }

  // Everything that can fail on the input or the outputs fails here, before any training.
  check_outputs({{"--json", json_path}, {"--save", save}},
                {{"--data", data_arg == "fib" || sentiment ? "" : data_arg}});
  SeriesOptions series;
  if (!resumed) {
    series.scaling = parse_scaling(a.get("--scale", "minmax"));
    series.missing = parse_missing(a.get("--missing", "error"));
    series.difference = a.has("--difference");
  }
  // Resuming reads the data as the checkpoint's model saw it: its columns, its scalings.
  const SplitData data =
      resumed ? load_for_checkpoint(data_arg, "", *resumed, text_encoding(a))
      : text
          ? load_text(data_arg, a.get("--text-column", ""), a.get("--label-column", ""),
                      a.has("--drop-other-labels"), static_cast<int>(a.get_int("--vocab", 10000)),
                      cfg.steps, nullptr, parse_classes(a), text_encoding(a))
          : load_data(data_arg, split_list(a.get("--column", "")), a.get("--target", ""), cfg.steps,
                      sentiment_train, sentiment_test, series, embedding > 0);
  if (resumed && resumed->data_stamp.recorded() && data.stamp != resumed->data_stamp) {
    throw DataError(data.source + " has changed since the model in " + resume_path +
                    " was trained on it (" + std::to_string(resumed->data_stamp.bytes) +
                    " bytes then, " + std::to_string(data.stamp.bytes) +
                    " now, or other bytes of the same size): resuming would go on training on "
                    "other data. Restore the file, or train a new model on it without --resume");
  }
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
  if (embedding > 0) {
    // Token ids through an embedding: V from the data (the vocabulary's words, or the task's).
    cfg.input_size = embedding;
    if (!resumed) {
      cfg.vocab_size = text ? static_cast<int>(data.vocabulary.size()) + 2
                            : sentiment_vocab_size(sentiment_options(cfg.steps, 1, 1));
    }
  } else {
    cfg.input_size = data.train.features;
  }
  WindowSet train = data.train, validation;
  if (val_split > 0) {
    validation = split_validation(train, val_split);
    opt.validation = &validation;
  }
  widest.input_size = cfg.input_size;
  widest.vocab_size = cfg.vocab_size;
  const std::unique_ptr<Backend> backend = open_backend(a, &widest);
  const std::vector<Baseline> bases = baselines_for(data);
  const bool fib = data.source == "fib";

  std::string inputs;
  if (data.features.size() > 1 || (data.features.size() == 1 && data.features[0] != data.column)) {
    inputs = ", inputs";
    for (const std::string& f : data.features) inputs += " " + f;
  }
  if (text) {
    inputs = ", texts in column " + data.text_column + " (classes 0 '" + data.classes[0] +
             "', 1 '" + data.classes[1] + "'; " + std::to_string(data.vocabulary.size()) +
             " words + padding and out-of-vocabulary ids)";
  }
  std::cout << "data: " << data.source
            << (data.column.empty() ? "" : (text ? " label column " : " column ") + data.column)
            << inputs << ", " << data.train.count + data.test.count << " windows of T=" << cfg.steps
            << " (" << train.count << " train, "
            << (validation.count ? std::to_string(validation.count) + " validation, " : "")
            << data.test.count << " test, "
            << (fib ? std::string("split by RandomState(13)")
                : sentiment
                    ? "generated, lengths " +
                          std::to_string(sentiment_options(cfg.steps, 1, 1).min_length) + ".." +
                          std::to_string(cfg.steps) + (embedding > 0 ? ", as token ids" : "")
                : text ? std::string("split by RandomState(1), texts padded or truncated")
                       : std::string("chronological split"))
            << ")" << (data.note.empty() ? "" : "; " + data.note)
            << (data.row_offset ? "; modelling first differences" : "")
            << (data.series.scaling == Scaling::kStandard ? "; standard scaling" : "") << std::endl;
  warn_about_data(data, train, validation, cfg);
  if (opt.batch_size > train.count) {
    std::cerr << "rnnattn train: warning: --batch " << opt.batch_size << " is larger than the "
              << train.count << " training windows: each epoch is one batch of " << train.count
              << std::endl;
  }

  // The models to train: name, attention, bidirectional (--layers applies to each).
  struct ModelSpec {
    std::string name;
    bool attention, bidirectional;
    Cell cell;
  };
  std::vector<ModelSpec> specs;
  if (compare && sequences) {
    specs = {{"plain", false, false, cfg.cell},
             {"attention", true, false, cfg.cell},
             {"bi-attention", true, true, cfg.cell}};
    // The notebook's best model: a bidirectional LSTM with attention.
    if (cfg.cell == Cell::kElman) specs.push_back({"bi-lstm-attn", true, true, Cell::kLstm});
  } else if (compare) {
    specs = {{"attention", true, cfg.bidirectional, cfg.cell},
             {"plain", false, cfg.bidirectional, cfg.cell}};
  } else {
    specs = {{model_name, model_name == "attention", cfg.bidirectional, cfg.cell}};
  }
  std::vector<std::string> models;
  for (const ModelSpec& m : specs) models.push_back(m.name);
  const bool verbose = a.has("--verbose") || (!a.has("--quiet") && !compare && seeds == 1);
  // Every run (model, seed) is independent: on the CPU with several threads they run side by side,
  // one thread each (each run's bits are then those of --threads 1), and are reported in order.
  struct Job {
    std::size_t spec;
    long seed;
  };
  std::vector<Job> jobs;
  for (std::size_t m = 0; m < specs.size(); ++m) {
    for (long s = first_seed; s < first_seed + seeds; ++s) jobs.push_back({m, s});
  }
  struct Outcome {
    RunResult result;
    Model model;
    std::string log;  // the run's epoch lines, when it ran beside others with --verbose
  };
  const auto run_one = [&](Backend& be, const Job& job, std::ostream* log, bool progress) {
    const ModelSpec& spec = specs[job.spec];
    ModelConfig mc = cfg;
    mc.attention = spec.attention;
    mc.bidirectional = spec.bidirectional;
    mc.cell = spec.cell;
    Outcome out;
    out.model =
        resumed ? resumed->model : make_model(mc, static_cast<std::uint64_t>(job.seed), adam);
    TrainOptions o = opt;
    o.seed = static_cast<std::uint64_t>(job.seed);  // shuffles as fit() documents
    o.log = log;
    o.progress = progress;
    const TrainHistory h = fit(be, out.model, train, o);
    RunResult& r = out.result;
    r = {spec.name, job.seed, 0, 0, 0, h.seconds, h.epoch_loss.empty() ? NAN : h.epoch_loss.back(),
         h,         {},       {}};
    const std::vector<float> fit_pred = predict(be, out.model, train);
    r.train_mse = mean_squared_error(fit_pred, train);
    r.train_loss = reference_loss<float>(mc.loss, fit_pred.data(), train.y.data(),
                                         static_cast<long>(fit_pred.size()));
    const std::vector<float> pred =
        predict(be, out.model, data.test, mc.attention ? &r.test_attention : nullptr);
    r.test_mse = mean_squared_error(pred, data.test);
    r.test_rmse = std::sqrt(r.test_mse) * data.scaler.range();
    for (int i = 0; i < data.test.count; ++i) {
      r.test_pred.push_back(
          data.to_original(pred[static_cast<std::size_t>(i) * mc.output_size], data.test.index[i]));
    }
    if (classify) {
      r.train_accuracy = accuracy(fit_pred, train);
      r.test_accuracy = accuracy(pred, data.test);
      r.test_loss = reference_loss<float>(mc.loss, pred.data(), data.test.y.data(),
                                          static_cast<long>(pred.size()));
    }
    return out;
  };
  // On the GPU too: each run its own backend, stream and cuBLAS handle on a
  // host thread of its own, so that the GPU runs their (tiny) kernels side by side, the small
  // model's whole epochs included (one block each), and the experiment costs about one run's
  // time; as many at once as --threads allows (at most kGpuSideBySide).
  constexpr std::size_t kGpuSideBySide = 32;
  const bool cpu = backend->name() == "cpu" || backend->name() == "reference";
  const bool gpu = backend->name() == "cuda" || backend->name() == "cuda-unfused";
  const std::size_t threads_allowed = static_cast<std::size_t>(std::max(1, cpu_threads()));
  const int side_by_side =
      cpu   ? static_cast<int>(std::min(jobs.size(), threads_allowed))
      : gpu ? static_cast<int>(std::min({jobs.size(), threads_allowed, kGpuSideBySide}))
            : 1;
  std::vector<std::optional<Outcome>> done(jobs.size());
  std::vector<std::exception_ptr> failed(jobs.size());
  std::mutex mutex;
  std::condition_variable finished;
  std::vector<std::thread> workers;
  const int threads_before = cpu_threads();
  std::atomic<std::size_t> next{0};  // the next job a worker takes
  if (side_by_side > 1) {
    set_cpu_threads(1);
    for (int w = 0; w < side_by_side; ++w) {
      workers.emplace_back([&] {
        const std::unique_ptr<Backend> be = make_backend(parse_device(backend->name()));
        for (std::size_t i; (i = next++) < jobs.size();) {
          std::ostringstream log;
          std::optional<Outcome> out;
          std::exception_ptr error;
          try {
            out = run_one(*be, jobs[i], a.has("--verbose") ? &log : nullptr, false);
            out->log = log.str();
          } catch (...) {
            error = std::current_exception();
          }
          const std::lock_guard<std::mutex> lock(mutex);
          done[i] = std::move(out);
          failed[i] = error;
          finished.notify_all();
        }
      });
    }
  }
  // Joins the workers however this scope is left (an error in one run is reported once all stop).
  struct Joiner {
    std::vector<std::thread>& t;
    int threads;
    ~Joiner() {
      for (std::thread& w : t) w.join();
      if (!t.empty()) set_cpu_threads(threads);
    }
  } joiner{workers, threads_before};

  std::vector<RunResult> results;
  Model last_model;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const ModelSpec& spec = specs[jobs[i].spec];
    if (i == 0 || jobs[i - 1].spec != jobs[i].spec) {
      ModelConfig mc = cfg;
      mc.attention = spec.attention;
      mc.bidirectional = spec.bidirectional;
      mc.cell = spec.cell;
      const std::size_t n_params = ParamLayout(mc).size();
      // The embedding's rows are trained only by the texts that hold their word: the warning
      // counts the other parameters.
      const std::size_t dense = ParamLayout(mc.recurrent_part()).size();
      std::cout << "model: " << describe(mc) << ", " << n_params << " parameters"
                << (mc.embedded()
                        ? " (" + std::to_string(n_params - dense) + " of them the embedding's)"
                        : std::string())
                << std::endl;
      if (dense > static_cast<std::size_t>(train.count)) {
        std::cerr << "rnnattn train: warning: " << dense << " parameters for " << train.count
                  << " training windows: the model can memorise them rather than learn; expect "
                     "test scores well below the training ones (a smaller --hidden, or more data)"
                  << std::endl;
      }
      if (resumed) {
        std::cout << "resumed: " << resume_path << " after " << opt.initial_epoch
                  << " epochs; epochs " << opt.initial_epoch + 1 << ".." << opt.epochs << std::endl;
      }
    }
    Outcome out;
    if (side_by_side > 1) {
      std::unique_lock<std::mutex> lock(mutex);
      finished.wait(lock, [&] { return done[i].has_value() || failed[i]; });
      if (failed[i]) std::rethrow_exception(failed[i]);
      out = std::move(*done[i]);
      done[i].reset();
    } else {
      out = run_one(*backend, jobs[i], verbose ? &std::cout : nullptr,
                    verbose && ::isatty(STDOUT_FILENO));
    }
    std::cout << out.log << std::flush;
    const RunResult& r = out.result;
    std::string kept;
    if (opt.early_stopping > 0) {
      kept = "  epoch kept " + std::to_string(r.history.best_epoch) + "/" +
             std::to_string(opt.initial_epoch + r.history.epoch_loss.size());
    }
    if (classify) {
      std::printf("%-12s seed %-4ld train accuracy %.4f  test accuracy %.4f  test %s %s%s  %.1fs\n",
                  r.model.c_str(), r.seed, r.train_accuracy, r.test_accuracy, to_string(cfg.loss),
                  sci(r.test_loss).c_str(), kept.c_str(), r.seconds);
    } else {
      std::printf(
          "%-9s seed %-4ld train MSE %s  test MSE %s  test RMSE %s (original units)%s  %.1fs\n",
          r.model.c_str(), r.seed, sci(r.train_mse).c_str(), sci(r.test_mse).c_str(),
          sci(r.test_rmse).c_str(), kept.c_str(), r.seconds);
    }
    std::fflush(stdout);
    results.push_back(std::move(out.result));
    last_model = std::move(out.model);
  }

  // Summary table: per model, one column of values over its runs (seeds), and the kept epochs.
  const bool es = opt.early_stopping > 0;
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
  if (classify) {
    std::printf(
        "\n| model | runs | train accuracy min / median / max | test accuracy min / median / max | "
        "test %s median |%s\n|---|---|---|---|---|%s\n",
        to_string(cfg.loss), es ? " epoch kept (per seed) |" : "", es ? "---|" : "");
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
    int ones = 0;
    for (float v : data.test.y) ones += v > 0.5f;
    const double majority =
        std::max(ones, data.test.count - ones) / static_cast<double>(data.test.count);
    std::printf("| majority class (baseline) | - | - | %.4f | - |%s\n", majority, es ? " - |" : "");
    if (sequences) {  // the notebook's rows beside a classification of sequences
      std::printf(
          "| notebook, IMDB (B128 T200 D100 H256): SimpleRNN | 1 | - | 0.556 | - |%s\n"
          "| notebook, IMDB: bidirectional LSTM with attention | 1 | - | 0.823 | - |%s\n",
          es ? " - |" : "", es ? " - |" : "");
    }
  }
  if (!classify) {
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
  warn_if_worse_than_constant(results, train, cfg, adam.learning_rate);

  std::vector<OutputFile> outputs;
  if (!json_path.empty()) {
    Json j;
    j.begin_object();
    j.value("data", data.source);
    if (!data.column.empty()) j.value("column", data.column);
    j.value("device", backend->name());
    j.value("task", classify ? "classification" : "regression");
    j.begin_object("config")
        .value("hidden", cfg.hidden_size)
        .value("steps", cfg.steps)
        .value("head", to_string(cfg.head))
        .value("loss", to_string(cfg.loss))
        .value("epochs", opt.epochs)
        .value("batch", opt.batch_size)
        .value("lr", adam.learning_rate)
        .value("train_windows", train.count)
        .value("validation_windows", validation.count)
        .value("test_windows", data.test.count)
        .value("early_stopping", opt.early_stopping)
        .value("input_size", cfg.input_size)
        .value("layers", cfg.layers)
        .value("bidirectional", cfg.bidirectional)
        .value("scale", scaling_name(data.series.scaling))
        .value("difference", data.series.difference)
        .value("missing", missing_name(data.series.missing))
        .value("vocab_size", cfg.vocab_size)
        .value("embedding", embedding)
        .end_object();
    j.begin_array("features");
    for (const std::string& f : data.features) j.value(nullptr, f);
    j.end_array();
    // The test part in original units, labelled by the target's row: what the plots draw.
    j.begin_object("test").value("label_name", data.label_name);
    j.begin_array("labels");
    for (int i : data.test.index) j.value(nullptr, data.labels[data.target_row(i)]);
    j.end_array().begin_array("target");
    for (int i = 0; i < data.test.count; ++i) j.value(nullptr, original_target(data, data.test, i));
    j.end_array().end_object();
    j.begin_array("runs");
    for (const RunResult& r : results) {
      j.begin_object()
          .value("model", r.model)
          .value("seed", static_cast<long long>(r.seed))
          .value("epochs", opt.epochs)
          .value("initial_epoch", opt.initial_epoch)
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
            .value("epoch", static_cast<int>(opt.initial_epoch + e + 1))
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
    Checkpoint ck;
    ck.model = last_model;
    ck.scaler = data.scaler;
    ck.data_source = data.source;
    ck.data_stamp = data.stamp;
    ck.column = data.column;
    if (!fib) {
      ck.features = data.features;
      ck.feature_scalers = data.feature_scalers;
    }
    ck.series = data.series;
    ck.text.column = data.text_column;
    ck.text.classes = data.classes;
    ck.text.vocabulary = data.vocabulary;
    ck.training.recorded = true;
    ck.training.seed = static_cast<std::uint64_t>(first_seed);
    ck.training.batch_size = opt.batch_size;
    ck.training.validation_split = val_split;
    if (sentiment) {
      ck.training.sentiment_train = sentiment_train;
      ck.training.sentiment_test = sentiment_test;
    }
    outputs.push_back({save, checkpoint_bytes(ck)});
  }
  write_files_atomic(outputs);  // all or none
  for (const OutputFile& f : outputs) std::cout << "wrote " << f.path << '\n';
  return 0;
}

}  // namespace rnnattn::cli
