// Datasets: the tutorial's Fibonacci windows and univariate series read from CSV files.
// A dataset is a set of windows x_i = s[i .. i+T-1] (one feature, D = 1) with target y_i = s[i+T],
// in scaled units; the Scaler maps back to the original units.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rnnattn {

// Min-max scaling: scaled = (v - min) / (max - min). Computed in double.
struct Scaler {
  double min = 0.0;
  double max = 1.0;
  double range() const { return max - min; }
  double scale(double v) const { return (v - min) / range(); }
  double unscale(double s) const { return s * range() + min; }
  static Scaler fit(const double* v, std::size_t n);  // throws DataError when n == 0 or constant
};

struct WindowSet {
  int count = 0;           // N windows
  int steps = 0;           // T
  std::vector<float> x;    // [N, T, 1]
  std::vector<float> y;    // [N, 1]
  std::vector<int> index;  // the window's start position in the series (for reports)
};

struct SplitData {
  std::string source;  // "fib" or the CSV path
  std::string column;  // the CSV column ("" for fib)
  Scaler scaler;
  WindowSet train;
  WindowSet test;
};

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

}  // namespace rnnattn
