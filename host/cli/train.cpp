// rnnattn train: train models (with --compare, each model and baseline; with --seeds, several
// runs) and report train and test scores; --save, --json write the results, all or none.
#include "cli/train.hpp"

#include <iostream>
#include <optional>

#include "csv.hpp"
#include "io.hpp"

namespace rnnattn::cli {
namespace {

// --classes A,B[,C...]: two or more different labels, class 0, 1, ... in order; empty without the
// option.
std::vector<std::string> parse_classes(const Args& a) {
  if (!a.has("--classes")) return {};
  const std::vector<std::string> c = split_list(a.get("--classes", ""));
  if (!distinct_labels(c)) {
    throw UsageError(
        "--classes takes two or more different labels, class 0, 1, ... in order (e.g. --classes "
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
  if (cfg.head == Activation::kLinear || cfg.loss != Loss::kMse || train.y.empty()) return;
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

// The options that apply to texts only, or to CSV series only (the option table's marks), refused
// where they do not apply.
void check_text_options(const Args& a, const TrainSetup& s) {
  if (s.text && !s.resumed) {
    if (s.sentiment || s.data_arg == "fib") {
      throw UsageError("--text-column reads a CSV file of texts: give --data FILE.csv");
    }
    if (!a.has("--label-column")) throw UsageError("texts need --label-column NAME");
  }
  for (const Option& o : options()) {
    if (!(o.commands & kTrain) || !a.has(o.name)) continue;
    if (o.applies_to == AppliesTo::kTexts && !s.text) {
      throw UsageError(std::string(o.name) + " applies to texts (--text-column)");
    }
    if (o.applies_to == AppliesTo::kSeries && s.text && !s.resumed) {
      throw UsageError(std::string(o.name) + " applies to CSV series, not texts");
    }
  }
}

// The data and the model: from the options, or with --resume from the checkpoint.
void parse_data_and_model(const Args& a, TrainSetup& s) {
  s.resume_path = a.get("--resume", "");
  if (!s.resume_path.empty()) s.resumed = resume_checkpoint(a, s.resume_path);
  const std::optional<Checkpoint>& resumed = s.resumed;
  if (resumed && !resumed->data_source.empty() && a.has("--data")) {
    throw UsageError("--data: with --resume the data come from the checkpoint (" +
                     resumed->data_source + "); drop --data");
  }
  s.data_arg = resumed ? a.get("--data", resumed->data_source) : a.get("--data", "fib");
  if (s.data_arg.empty()) {
    throw UsageError("--resume: " + s.resume_path +
                     " does not name its training data: give --data");
  }
  s.sentiment = s.data_arg == "sentiment";
  // Labelled texts: a CSV read through its text column, into a model with an embedding.
  s.text = resumed ? !resumed->text.column.empty() : a.has("--text-column");
  check_text_options(a, s);
  // The embedding's width, for texts and for the sentiment task as token ids (0: none).
  s.embedding = resumed ? (resumed->model.config.embedded() ? resumed->model.config.input_size : 0)
                        : static_cast<int>(a.get_int("--embedding", s.text ? 100 : 0));
  if (!resumed && a.has("--embedding") && !s.text && !s.sentiment) {
    throw UsageError("--embedding applies to texts (--text-column) and --data sentiment");
  }
  s.sequences = s.sentiment || s.text;  // classification defaults
  s.cfg = resumed ? resumed->model.config : ModelConfig{};
  if (!resumed) {
    s.cfg.hidden_size = static_cast<int>(a.get_int("--hidden", 2));
    s.cfg.steps = static_cast<int>(a.get_int("--steps", s.sequences ? 200 : 20));
    s.cfg.loss = parse_loss(a.get("--loss", s.sequences ? "bce" : "mse"));
    s.cfg.head = parse_activation(a.get("--head", s.cfg.loss == Loss::kCce ? "softmax"
                                                  : s.sequences            ? "sigmoid"
                                                                           : "tanh"));
    if (s.cfg.loss == Loss::kCce) {
      if (!s.sequences) {
        throw UsageError(
            "--loss cce classifies texts (--text-column) and --data sentiment; a series' target "
            "is a number (--loss mse)");
      }
      s.cfg.output_size = 2;  // the sentiment task's; a text file's labels say how many
    }
    s.cfg.layers = static_cast<int>(a.get_int("--layers", 1));
    s.cfg.bidirectional = a.has("--bidirectional");
    s.cfg.cell = parse_cell(a.get("--cell", "elman"));
    s.cfg.score = parse_score(a.get("--attention", "additive"));
    for (const auto& [flag, rate] : {std::pair<const char*, float*>{"--dropout", &s.cfg.dropout},
                                     {"--input-dropout", &s.cfg.input_dropout},
                                     {"--recurrent-dropout", &s.cfg.recurrent_dropout}}) {
      *rate = static_cast<float>(a.get_double(flag, 0.0));
      if (!(*rate >= 0.f && *rate < 1.f)) {
        throw UsageError(std::string(flag) + " must be in [0, 1), got " + a.get(flag, ""));
      }
    }
  }
  const TrainingRecord* record = resumed ? &resumed->training : nullptr;
  const bool recorded = record && record->recorded;
  s.sentiment_train = recorded && record->sentiment_train > 0
                          ? record->sentiment_train
                          : static_cast<int>(a.get_int("--train-sequences", 2000));
  s.sentiment_test = recorded && record->sentiment_test > 0
                         ? record->sentiment_test
                         : static_cast<int>(a.get_int("--test-sequences", 1000));
  if (!s.sentiment && (a.has("--train-sequences") || a.has("--test-sequences"))) {
    throw UsageError("--train-sequences and --test-sequences apply to --data sentiment");
  }
  s.classify = s.cfg.loss != Loss::kMse;
  s.model_name =
      resumed ? (s.cfg.attention ? "attention" : "plain") : a.get("--model", "attention");
  if (s.model_name != "attention" && s.model_name != "plain") {
    throw UsageError("--model must be attention or plain, got '" + s.model_name + "'");
  }
  s.compare = a.has("--compare");
  if (a.has("--attention") && (resumed || (s.model_name == "plain" && !s.compare))) {
    throw UsageError(resumed ? "--attention: a resumed model keeps its attention"
                             : "--attention applies to attention models, not --model plain");
  }
}

// The runs and their training: seeds, epochs, batch, validation, Adam.
void parse_training(const Args& a, TrainSetup& s) {
  const TrainingRecord* record = s.resumed ? &s.resumed->training : nullptr;
  const bool recorded = record && record->recorded;
  s.seeds = a.get_int("--seeds", 1);
  s.first_seed = recorded ? static_cast<long>(record->seed) : a.get_int("--seed", 1);
  s.opt.epochs = static_cast<int>(a.get_int("--epochs", 30));
  s.opt.initial_epoch = s.resumed ? static_cast<int>(s.resumed->model.epochs_trained) : 0;
  s.opt.batch_size = recorded ? record->batch_size : static_cast<int>(a.get_int("--batch", 1));
  s.opt.early_stopping = static_cast<int>(a.get_int("--early-stopping", 0));
  s.val_split = recorded ? record->validation_split : a.get_double("--validation-split", 0.0);
  if (a.has("--validation-split") && !(s.val_split > 0 && s.val_split < 1)) {
    throw UsageError("--validation-split must be in (0, 1), got " +
                     a.get("--validation-split", ""));
  }
  s.adam = s.resumed ? s.resumed->model.adam_config : AdamConfig{};
  if (!s.resumed) {
    const double lr = a.get_double("--lr", 1e-3);
    if (!(lr > 0)) throw UsageError("--lr must be positive, got " + a.get("--lr", ""));
    s.adam.learning_rate = static_cast<float>(lr);
  }
  s.adam.validate();
  s.cfg.validate();
  s.log_each = a.has("--verbose");
  s.verbose = a.has("--verbose") || (!a.has("--quiet") && !s.compare && s.seeds == 1);
}

// Everything the options say, checked (with each path's limits and the outputs) before any data
// is read.
TrainSetup parse_train(const Args& a) {
  TrainSetup s;
  parse_data_and_model(a, s);
  parse_training(a, s);
  // Each path's own limit, before any data is read (the widest model --compare trains).
  s.widest = s.cfg;
  s.widest.bidirectional = s.cfg.bidirectional || (s.compare && s.sequences);
  if (s.embedding > 0 && !s.widest.embedded()) s.widest.vocab_size = 1;  // set by the data
  check_device_supports(parse_device(a.get("--device", "auto")), s.widest);
  s.save = a.get("--save", "");
  s.json_path = a.get("--json", "");
  if (!s.save.empty() && (s.compare || s.seeds > 1)) {
    throw UsageError("--save writes one model: drop --compare and --seeds to use it");
  }
  if (s.resumed && !s.json_path.empty() && same_file(s.json_path, s.resume_path)) {
    throw UsageError("--json '" + s.json_path +
                     "' is the --resume checkpoint; writing it would "
                     "destroy the checkpoint");
  }
  // Everything that can fail on the input or the outputs fails here, before any training.
  check_outputs({{"--json", s.json_path}, {"--save", s.save}},
                {{"--data", s.data_arg == "fib" || s.sentiment ? "" : s.data_arg}});
  if (!s.resumed) {
    s.series.scaling = parse_scaling(a.get("--scale", "minmax"));
    s.series.missing = parse_missing(a.get("--missing", "error"));
    s.series.difference = a.has("--difference");
  }
  return s;
}

// A text file's classes decide the head: two train the binary model (a sigmoid and BCE, or with
// --loss cce a softmax over two), more train a softmax over K with CCE, the loss Keras would need.
// The device's limits are checked again for the head the data chose.
void choose_classes(const Args& a, TrainSetup& s, const SplitData& data) {
  const int K = static_cast<int>(data.classes.size());
  if (K > 2 && s.cfg.loss == Loss::kBce) {
    if (a.has("--loss") || a.has("--head")) {
      throw UsageError(std::string(a.has("--loss") ? "--loss bce" : "--head ") +
                       (a.has("--loss") ? "" : to_string(s.cfg.head)) + " is binary; column '" +
                       data.column + "' of " + data.source + " has " + std::to_string(K) +
                       " classes (" + join(data.classes) +
                       "): drop it to train a softmax over them (--loss cce), or name two with "
                       "--classes A,B --drop-other-labels");
    }
    s.cfg.loss = Loss::kCce;
    s.cfg.head = Activation::kSoftmax;
  }
  if (s.cfg.loss == Loss::kCce) s.cfg.output_size = K;
  s.cfg.validate();
  s.widest.loss = s.cfg.loss;
  s.widest.head = s.cfg.head;
  s.widest.output_size = s.cfg.output_size;
  check_device_supports(parse_device(a.get("--device", "auto")), s.widest);
}

// The data, read as the options (or the checkpoint) say, checked against the model, and split
// into the windows trained on and any validation ones.
TrainData load_train_data(const Args& a, TrainSetup& s) {
  TrainData d;
  // Resuming reads the data as the checkpoint's model saw it: its columns, its scalings.
  d.data =
      s.resumed ? load_for_checkpoint(s.data_arg, "", *s.resumed, text_encoding(a))
      : s.text
          ? load_text(s.data_arg, a.get("--text-column", ""), a.get("--label-column", ""),
                      a.has("--drop-other-labels"), static_cast<int>(a.get_int("--vocab", 10000)),
                      s.cfg.steps, nullptr, parse_classes(a), text_encoding(a), text_layout(a))
          : load_data(s.data_arg, split_list(a.get("--column", "")), a.get("--target", ""),
                      s.cfg.steps, s.sentiment_train, s.sentiment_test, s.series, s.embedding > 0);
  if (s.text && !s.resumed) choose_classes(a, s, d.data);
  // A softmax head's targets: one-hot rows (resuming: load_for_checkpoint made them so).
  if (s.cfg.loss == Loss::kCce && !s.resumed) {
    for (WindowSet* w : {&d.data.train, &d.data.test}) {
      one_hot_targets(*w, s.cfg.output_size, d.data.source);
    }
  }
  const SplitData& data = d.data;
  if (s.resumed && s.resumed->data_stamp.recorded() && data.stamp != s.resumed->data_stamp) {
    throw DataError(data.source + " has changed since the model in " + s.resume_path +
                    " was trained on it (" + std::to_string(s.resumed->data_stamp.bytes) +
                    " bytes then, " + std::to_string(data.stamp.bytes) +
                    " now, or other bytes of the same size): resuming would go on training on "
                    "other data. Restore the file, or train a new model on it without --resume");
  }
  if (s.cfg.loss == Loss::kBce) {
    for (const WindowSet* w : {&data.train, &data.test}) {
      for (float v : w->y) {
        if (v != 0.f && v != 1.f) {
          throw UsageError("--loss bce trains a classifier on 0/1 labels; the targets of " +
                           data.source + " are not 0/1 (use --loss mse)");
        }
      }
    }
  }
  if (s.embedding > 0) {
    // Token ids through an embedding: V from the data (the vocabulary's words, or the task's).
    s.cfg.input_size = s.embedding;
    if (!s.resumed) {
      s.cfg.vocab_size = s.text ? static_cast<int>(data.vocabulary.size()) + 2
                                : sentiment_vocab_size(sentiment_options(s.cfg.steps, 1, 1));
    }
  } else {
    s.cfg.input_size = data.train.features;
  }
  d.train = data.train;
  if (s.val_split > 0) d.validation = split_validation(d.train, s.val_split);
  s.widest.input_size = s.cfg.input_size;
  s.widest.vocab_size = s.cfg.vocab_size;
  d.baselines = baselines_for(data);
  return d;
}

// The data line: what was read, how it was split and prepared.
void print_data_line(const TrainSetup& s, const TrainData& d) {
  const SplitData& data = d.data;
  std::string inputs;
  if (data.features.size() > 1 || (data.features.size() == 1 && data.features[0] != data.column)) {
    inputs = ", inputs";
    for (const std::string& f : data.features) inputs += " " + f;
  }
  if (s.text) {
    std::string classes;
    for (std::size_t k = 0; k < data.classes.size(); ++k) {
      classes += (k ? ", " : "") + std::to_string(k) + " '" + data.classes[k] + "'";
    }
    inputs = ", texts in column " + data.text_column + " (classes " + classes + "; " +
             std::to_string(data.vocabulary.size()) + " words + padding and out-of-vocabulary ids)";
  }
  const std::string split =
      data.source == "fib" ? std::string("split by RandomState(13)")
      : s.sentiment        ? "generated, lengths " +
                          std::to_string(sentiment_options(s.cfg.steps, 1, 1).min_length) + ".." +
                          std::to_string(s.cfg.steps) + (s.embedding > 0 ? ", as token ids" : "")
      : s.text ? std::string("split by RandomState(1), texts padded or truncated")
               : std::string("chronological split");
  std::cout << "data: " << data.source
            << (data.column.empty() ? "" : (s.text ? " label column " : " column ") + data.column)
            << inputs << ", " << data.train.count + data.test.count
            << " windows of T=" << s.cfg.steps << " (" << d.train.count << " train, "
            << (d.validation.count ? std::to_string(d.validation.count) + " validation, " : "")
            << data.test.count << " test, " << split << ")"
            << (data.note.empty() ? "" : "; " + data.note)
            << (data.row_offset ? "; modelling first differences" : "")
            << (data.series.scaling == Scaling::kStandard ? "; standard scaling" : "") << std::endl;
}

// The models to train: one, the two of --compare, or for sequences --compare's four.
std::vector<ModelSpec> model_specs(const TrainSetup& s) {
  const Cell cell = s.cfg.cell;
  if (s.compare && s.sequences) {
    std::vector<ModelSpec> specs = {{"plain", false, false, cell},
                                    {"attention", true, false, cell},
                                    {"bi-attention", true, true, cell}};
    // The notebook's best model: a bidirectional LSTM with attention.
    if (cell == Cell::kElman) specs.push_back({"bi-lstm-attn", true, true, Cell::kLstm});
    return specs;
  }
  if (s.compare) {
    return {{"attention", true, s.cfg.bidirectional, cell},
            {"plain", false, s.cfg.bidirectional, cell}};
  }
  return {{s.model_name, s.model_name == "attention", s.cfg.bidirectional, cell}};
}

}  // namespace

int cmd_train(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << help_text(kTrain);
    return 0;
  }
  const Args a(kTrain, argv);
  TrainSetup s = parse_train(a);
  const TrainData d = load_train_data(a, s);
  const std::unique_ptr<Backend> backend = open_backend(a, &s.widest);
  print_data_line(s, d);
  warn_about_data(d.data, d.train, d.validation, s.cfg);
  if (s.opt.batch_size > d.train.count) {
    std::cerr << "rnnattn train: warning: --batch " << s.opt.batch_size << " is larger than the "
              << d.train.count << " training windows: each epoch is one batch of " << d.train.count
              << std::endl;
  }
  const std::vector<ModelSpec> specs = model_specs(s);
  Model last_model;
  const std::vector<RunResult> results = run_all(s, d, specs, *backend, &last_model);
  std::vector<std::string> models;
  for (const ModelSpec& m : specs) models.push_back(m.name);
  print_summary(s, d, models, results);
  check_results(s, d, results);
  std::vector<OutputFile> outputs;
  if (!s.json_path.empty()) {
    outputs.push_back({s.json_path, results_json(s, d, backend->name(), results)});
  }
  if (!s.save.empty()) {
    outputs.push_back({s.save, checkpoint_bytes(trained_checkpoint(s, d.data, last_model))});
  }
  write_files_atomic(outputs);  // all or none
  for (const OutputFile& f : outputs) std::cout << "wrote " << f.path << '\n';
  return 0;
}

}  // namespace rnnattn::cli
