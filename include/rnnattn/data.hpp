// Datasets: the tutorial's Fibonacci windows and univariate series read from CSV files.
// A dataset is a set of windows x_i = s[i .. i+T-1] (one feature, D = 1) with target y_i = s[i+T],
// in scaled units; the Scaler maps back to the original units.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rnnattn {

// How a CSV series is prepared before windowing (recorded in checkpoints, version 5).
enum class Scaling : std::uint8_t {
  kMinMax = 0,    // scaled = (v - min) / (max - min) over the training part
  kStandard = 1,  // scaled = (v - mean) / std over the training part (a Scaler with
                  // min = mean, max = mean + std)
};
enum class Missing : std::uint8_t {
  kError = 0,        // a missing value is an error naming how many there are and where
  kDrop = 1,         // rows with a missing value in a used column are removed
  kInterpolate = 2,  // filled linearly in row order from the nearest values on each side
};
const char* scaling_name(Scaling s);          // "minmax" | "standard"
const char* missing_name(Missing m);          // "error" | "drop" | "interpolate"
Scaling parse_scaling(const std::string& s);  // throws InvalidArgument
Missing parse_missing(const std::string& s);

struct SeriesOptions {
  Scaling scaling = Scaling::kMinMax;
  bool difference = false;  // model first differences; report in original units
  Missing missing = Missing::kError;
};

// Min-max scaling: scaled = (v - min) / (max - min). Computed in double.
struct Scaler {
  double min = 0.0;
  double max = 1.0;
  double range() const { return max - min; }
  double scale(double v) const { return (v - min) / range(); }
  double unscale(double s) const { return s * range() + min; }
  static Scaler fit(const double* v, std::size_t n);  // throws DataError when n == 0 or constant
  // Standard scaling as a Scaler: min = mean, max = mean + standard deviation (population), so
  // that scaled = (v - mean) / std. Throws DataError when n == 0 or constant.
  static Scaler fit_standard(const double* v, std::size_t n);
  static Scaler fit(Scaling kind, const double* v, std::size_t n);
};

struct WindowSet {
  int count = 0;         // N windows
  int steps = 0;         // T
  int features = 1;      // D
  std::vector<float> x;  // [N, T, D] (empty for token data)
  // Token data (a model with an embedding, config.vocab_size > 0): the ids [N, T] instead of x,
  // 0 on padding (reference.hpp); empty otherwise.
  std::vector<int> tokens;
  std::vector<float> y;    // [N, O] (O = 1 for series)
  std::vector<int> index;  // the window's start position in the series; its target is at index + T
  // Valid steps per window, each in [1, T] (reference.hpp: padding follows them), or empty: all
  // windows have T steps.
  std::vector<int> lengths;
  const int* lengths_or_null() const { return lengths.empty() ? nullptr : lengths.data(); }
};

// What a data file held when it was read: its size and the FNV-1a 64 hash of its bytes, so that a
// checkpoint can tell the file it was trained on from a file changed since (both 0: not a file).
struct FileStamp {
  std::uint64_t bytes = 0;
  std::uint64_t hash = 0;
  bool recorded() const { return bytes != 0 || hash != 0; }
  bool operator==(const FileStamp& o) const { return bytes == o.bytes && hash == o.hash; }
  bool operator!=(const FileStamp& o) const { return !(*this == o); }
};

// Where a text's tokens go in its T steps (Keras' pad_sequences): `padding` is the end the
// padding goes to, `truncating` the end a longer text loses. Post padding keeps the texts' lengths
// (the recurrence stops at each text's end, reference.hpp); pre padding, as Keras pads by default,
// puts the padding first, where the model reads it as tokens (id 0) at every step.
enum class PadSide : std::uint8_t { kPost = 0, kPre = 1 };
struct TextLayout {
  PadSide padding = PadSide::kPost;
  PadSide truncating = PadSide::kPost;
  bool operator==(const TextLayout& o) const {
    return padding == o.padding && truncating == o.truncating;
  }
  bool operator!=(const TextLayout& o) const { return !(*this == o); }
};
const char* to_string(PadSide side);  // "post" or "pre"
// "pre" or "post"; throws InvalidArgument naming `what` and the choices.
PadSide parse_pad_side(const std::string& name, const char* what);

struct SplitData {
  std::string source;  // "fib" or the CSV path
  FileStamp stamp;     // the CSV file's, as read (fib and sentiment: none)
  std::string column;  // the predicted (target) column ("" for fib)
  Scaler scaler;       // the target's scaling
  // The input columns, one per feature (D of them), with their scalings; for fib and for a single
  // column that is also the target, {column} and {scaler}.
  std::vector<std::string> features;
  std::vector<Scaler> feature_scalers;
  // A label per series value, for reports: the index column's text (YEAR, DATE or TIME) when the
  // file has one, else the CSV line number; for fib, the value's position (1-based).
  std::string label_name;
  std::vector<std::string> labels;
  int precision = -1;  // digits after the decimal point of the target in the file (-1: not known)
  WindowSet train;
  WindowSet test;
  SeriesOptions series;  // how a CSV series was prepared
  // The target in original units, one value per row of `labels` (a CSV series after its missing
  // values were handled, or the Fibonacci sequence); empty for sentiment.
  std::vector<double> target_levels;
  // 1 when the windows run over first differences (their row k is the change from row k to row
  // k + 1 of the file), else 0.
  int row_offset = 0;
  std::string note;  // what preparing the data did that a user should hear (rows dropped, filled)
  // Text data (text.hpp): the vocabulary's words (ids 2, 3, ...), the label names of class 0 and
  // 1, and the text column; empty otherwise.
  std::vector<std::string> vocabulary;
  std::vector<std::string> classes;
  std::string text_column;
  TextLayout text_layout;  // how the texts were placed in their T steps

  // True for classification data with one sequence per row (sentiment, text): `labels` and the
  // windows' `index` count sequences, there is no series behind them.
  bool sequences() const { return source == "sentiment" || !text_column.empty(); }
  // The row of `labels` and `target_levels` whose value the window starting at `index` predicts.
  int target_row(int index) const;
  // A scaled prediction of that window in original units: with differences, the level before
  // plus the predicted change.
  double to_original(double scaled, int index) const;
  // The persistence forecast (the last level) for that window, in the targets' scaled units.
  double persistence(int index) const;
};

// Several columns of a CSV file (see read_csv_column for the format), as series_data reads them.
struct CsvSeries {
  std::string path;
  FileStamp stamp;
  std::vector<std::string> features;        // the input columns
  std::vector<std::vector<double>> values;  // [feature][row]
  std::string target;                       // the predicted column
  std::vector<double> target_values;        // [row]
  std::string label_name;                   // the index column's name, or "line"
  std::vector<std::string> labels;          // [row]
  int precision = 0;  // the most digits after the decimal point among the target's values
  // Missing values (empty, NA, N/A, NaN, null, None, "."), as SeriesOptions::missing handled them:
  // how many cells there were, and how many rows were dropped (kDrop) or cells filled
  // (kInterpolate).
  int missing = 0;
  int dropped_rows = 0;
};

// Reads `columns` (the input features; empty: see below) and `target` (the predicted column;
// empty: the only input column) from a CSV file. With both empty: the file's only column, or the
// second of two when the first is named YEAR, DATE or TIME. Several input columns need a target.
// Names match exactly, else case-insensitively. Only the chosen columns must be numeric. Throws
// DataError naming the file, line and column of any bad value.
// The file is RFC 4180 CSV: fields in double quotes may hold commas, doubled quotes and line
// breaks; numbers are decimal only ("0x10" is refused); a column named twice is refused. Missing
// values in the chosen columns follow `missing`: kError names how many there are and the first
// lines; kDrop removes those rows; kInterpolate fills them linearly in row order (the nearest
// value before the first or after the last one).
CsvSeries read_csv_series(const std::string& path, const std::vector<std::string>& columns,
                          const std::string& target, Missing missing = Missing::kError);

// The seed's Fibonacci numbers 1, 2, 3, 5, 8, ... (n values, computed in double).
std::vector<double> fibonacci_sequence(int n);

// NumPy's RandomState(seed).permutation(n), reproduced exactly (mt19937 + masked rejection).
std::vector<int> numpy_permutation(int n, std::uint32_t seed);

// The tutorial's data: 1200 Fibonacci values min-max scaled over the whole sequence, windows of
// length `steps`, split by RandomState(13).permutation: the first int(0.7 n) train, the rest test.
SplitData fibonacci_data(int steps);

// A column of a CSV file with a header row. `column` empty: the only column, or the last one when
// the first is a year/date-like index column named YEAR, DATE or TIME (case-insensitive); else an
// error asking for --column. Throws DataError naming the file, line and column of any bad value
// (empty, non-numeric, NaN, Inf), a ragged row, a missing column or an empty file.
std::vector<double> read_csv_column(const std::string& path, const std::string& column,
                                    std::string* chosen_column = nullptr);

// Windows over a series with a chronological split: the first int(train_fraction * n) windows
// train, the rest test. The scaler is fit on the values the training windows touch only.
// Throws DataError when the series is shorter than steps + 2 (fewer than one window each side).
SplitData series_data(const std::vector<double>& series, int steps, double train_fraction = 0.7);

// The same over several input columns: x_i[t][f] = feature f at row i + t, y_i = the target at
// row i + T, each scaled by a min-max scaling fit on the training part only. Labels and precision
// come from the file.
// `options.scaling` picks min-max or standard scaling; `options.difference` windows the first
// differences of every column (the target's too), one row fewer (SplitData::row_offset = 1).
SplitData series_data(const CsvSeries& series, int steps, double train_fraction = 0.7,
                      const SeriesOptions& options = {});

// The generated sentiment task (docs/sentiment.md): every token of a fixed vocabulary has a fixed
// random D-dimensional vector (normal, variance 1/D); a sequence of min_length..max_length tokens
// (uniform) is mostly neutral tokens with an odd number (1, 3, 5 or 7) of "positive" and
// "negative" tokens scattered at random positions; its label y = 1 when positive tokens are in the
// majority, else 0. Labels alternate, so the classes are balanced. Sequences are padded with zeros
// to T = max_length and carry their lengths. Everything follows from `seed`.
struct SentimentOptions {
  int train = 2000;  // sequences
  int test = 1000;
  int dim = 100;  // D
  int min_length = 50;
  int max_length = 200;  // T
  int neutral_tokens = 200;
  int sentiment_tokens = 5;  // of each polarity
  std::uint64_t seed = 7;
};
// tokens, when not null, receives the token ids [train + test, T] (-1 on padding): ids below
// neutral_tokens are neutral, then sentiment_tokens positive ones, then as many negative ones.
SplitData sentiment_data(const SentimentOptions& options, std::vector<int>* tokens = nullptr);

// A classifier's targets for a softmax head over K classes: y [N], each window's class number
// 0..K-1, becomes one-hot rows y [N, K]. Throws DataError naming `source` and the window whose y
// is no such class (a fraction, a negative number, K or more).
void one_hot_targets(WindowSet& w, int classes, const std::string& source);

// Moves the last `fraction` of `train`'s windows in time order (the latest start positions) into
// a validation set, which it returns, each window with its O targets; at least one window stays
// on each side. Throws
// InvalidArgument for a fraction outside (0, 1) or fewer than two windows.
WindowSet split_validation(WindowSet& train, double fraction);

}  // namespace rnnattn
