// What the rnnattn commands share (internal): the usage error, the option parser, data loading,
// baselines, output checks, the backend, and the helpers of the commands that run a saved model.
// Each command lives in its own file: train.cpp, predict.cpp, forecast.cpp, profile.cpp (the CUDA
// build's; profile_unavailable.cpp without CUDA), inspect.cpp, export.cpp, import.cpp; main.cpp
// dispatches.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cli/options.hpp"
#include "rnnattn/rnnattn.hpp"

namespace rnnattn::cli {

struct UsageError : Error {
  using Error::Error;
};

// ---------------------------------------------------------------------------------------------
// Argument parsing: --flag VALUE and boolean --flag, as the command's rows of the option table
// (options.hpp) declare them. An unknown option, a missing value and an option given twice are
// usage errors naming it.
class Args {
 public:
  Args(Command command, const std::vector<std::string>& args);
  Command command() const { return command_; }
  bool has(const std::string& k) const { return values_.count(k) != 0; }
  std::string get(const std::string& k, const std::string& dflt) const {
    auto it = values_.find(k);
    return it == values_.end() ? dflt : it->second;
  }
  // An integer option, in the range its row declares (`dflt` where it is not given).
  long get_int(const std::string& k, long dflt) const;
  double get_double(const std::string& k, double dflt) const;

 private:
  std::string hint() const;
  Command command_;
  std::map<std::string, std::string> values_;
};

bool wants_help(const std::vector<std::string>& a);
std::string sci(double v, int digits = 3);

// ---- data: "fib", "sentiment" or a CSV path --------------------------------------------------
// The comma-separated list of --column.
std::vector<std::string> split_list(const std::string& s);
// The generated sentiment task at T = steps (docs/sentiment.md): sequences of max(7, T/4) to T
// tokens, data seed fixed, so every model and seed of a run sees the same sequences.
SentimentOptions sentiment_options(int steps, int train, int test);
// `columns`: the input columns; `target`: the predicted one.
// `series`: how a CSV series is prepared (refused for fib and sentiment unless the defaults).
// `sentiment_tokens`: the sentiment task as token ids (sentiment_token_data), for a model with an
// embedding.
SplitData load_data(const std::string& data, const std::vector<std::string>& columns,
                    const std::string& target, int steps, int sentiment_train = 2000,
                    int sentiment_test = 1000, const SeriesOptions& series = {},
                    bool sentiment_tokens = false);
// Labelled texts from a CSV file (text.hpp): split by NumPy's permutation with the fixed seed 1
// (70% train, so every model and seed of a run sees the same split), the vocabulary of `vocab`
// ids from the training texts, or `vocabulary` (a trained model's) when given; `classes` as
// read_csv_text takes them (empty: the file's two labels); `layout` where the tokens go.
SplitData load_text(const std::string& path, const std::string& text_column,
                    const std::string& label_column, bool drop_other_labels, int vocab, int steps,
                    const Vocabulary* vocabulary = nullptr,
                    const std::vector<std::string>& classes = {},
                    TextEncoding encoding = TextEncoding::kUtf8, const TextLayout& layout = {});
// --encoding NAME: the text file's encoding (UTF-8 without the option).
TextEncoding text_encoding(const Args& a);
// --padding and --truncating pre|post (post without them).
TextLayout text_layout(const Args& a);

struct Baseline {
  std::string name;  // "predict_zero", "persistence" or "train_mean"
  double train_mse, test_mse, test_rmse;
};
// The rows a model must beat. Fibonacci: predicting 0 everywhere; a series: persistence (the
// target column's last value before the one predicted, whichever columns the model reads). Both:
// predicting the mean of the training targets, which on a real series is often harder to beat
// than it looks.
std::vector<Baseline> baselines_for(const SplitData& d);

// Every output file is checked before any work: a writable place, not a directory, not one of the
// inputs, not another output. `outputs` pairs each flag with its path (empty: not asked for).
void check_outputs(const std::vector<std::pair<std::string, std::string>>& outputs,
                   const std::vector<std::pair<std::string, std::string>>& inputs);

// The backend --device names, announced on stdout ("device: cpu (auto: ...)").
// With `model`: auto stays on the CPU for a model the CUDA paths cannot run (an explicit device is
// checked by the caller, with check_device_supports, before any data is read).
// --threads N sets the fast CPU path's threads (0, the default: one per core).
std::unique_ptr<Backend> open_backend(const Args& a, const ModelConfig* model = nullptr);

// ---- running a saved model (predict, forecast) ---------------------------------------------
// The data as the checkpoint's model saw its training data: the same input columns and target,
// scaled with the checkpoint's scalings (whatever the data's own split would fit).
SplitData load_for_checkpoint(const std::string& source, const std::string& column_arg,
                              const Checkpoint& ck, TextEncoding encoding = TextEncoding::kUtf8);
// The label of test window i's target: the row of the value it predicts (a series), or the
// sequence's number (sentiment).
const std::string& target_label(const SplitData& d, int i);
// A value in the data's original units, written at the data's precision.
std::string format_value(double v, int precision);
// The checks of every command that runs a saved model on data (predict, forecast): values that
// scale far outside the training range are extrapolation, and a target series (`series`: its
// values as the model reads them, differences for a model of differences) whose own spread is
// orders of magnitude off the training range's is other data than the model's (warnings on stderr
// naming the command); values that overflow float32 in the model's scaling are an error.
void check_model_inputs(const char* command, const std::vector<float>& x,
                        const std::vector<float>& y, const Scaler& s, Scaling scaling,
                        const std::vector<double>& series = {});
// The target series of `d` as a model reads it: its levels, or their differences.
std::vector<double> model_series(const SplitData& d);

// The target of window i of `w` in original units: the file's value (so a model of differences
// is scored against the true level), or the unscaled label.
double original_target(const SplitData& d, const WindowSet& w, int i);

// ---- a classifier's scores (confusion.cpp) -----------------------------------------------
class Json;
// The names of a classifier's K classes: a text model's labels, else "0", "1", ...
std::vector<std::string> class_names(const std::vector<std::string>& labels, int classes);
// The confusion matrix as "# " lines (rows the true class, columns the predicted one, each named),
// then each class's precision, recall and F1, and their macro average.
void print_confusion(const Confusion& cm, const std::vector<std::string>& names);
// The same as the JSON object "confusion": the class names, the matrix, per-class precision,
// recall, F1 and support; for two classes also the binary counts (true_negative .. true_positive,
// class 1 the positive one).
void confusion_json(Json& j, const Confusion& cm, const std::vector<std::string>& names);

// ---- the commands: argv without the command's name; the exit status ------------------------
int cmd_train(const std::vector<std::string>& argv);
int cmd_predict(const std::vector<std::string>& argv);
int cmd_forecast(const std::vector<std::string>& argv);
int cmd_profile(const std::vector<std::string>& argv);
int cmd_inspect(const std::vector<std::string>& argv);
int cmd_export(const std::vector<std::string>& argv);
int cmd_import(const std::vector<std::string>& argv);

}  // namespace rnnattn::cli
