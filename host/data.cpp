// Datasets: Fibonacci windows (the tutorial's data, reproduced exactly) and CSV series.
#include "rnnattn/data.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>

#include "io.hpp"
#include "rnnattn/error.hpp"

namespace rnnattn {

Scaler Scaler::fit(const double* v, std::size_t n) {
  if (n == 0) throw DataError("cannot fit a scaler on no values");
  Scaler s{v[0], v[0]};
  for (std::size_t i = 1; i < n; ++i) {
    s.min = std::min(s.min, v[i]);
    s.max = std::max(s.max, v[i]);
  }
  if (!(s.max > s.min)) {
    throw DataError("cannot scale a constant series (every value is " + std::to_string(s.min) +
                    ")");
  }
  return s;
}

std::vector<double> fibonacci_sequence(int n) {
  std::vector<double> s;
  s.reserve(n);
  double a = 0, b = 1;  // 0 and 1 are the seeds, not part of the data
  for (int i = 0; i < n; ++i) {
    const double c = a + b;
    s.push_back(c);
    a = b;
    b = c;
  }
  return s;
}

std::vector<int> numpy_permutation(int n, std::uint32_t seed) {
  // RandomState(seed).permutation(n): a Fisher-Yates shuffle of 0..n-1 from the top, each index
  // drawn by NumPy's masked rejection sampling on 32-bit Mersenne Twister outputs.
  std::mt19937 mt(seed);
  std::vector<int> a(n);
  for (int i = 0; i < n; ++i) a[i] = i;
  for (int i = n - 1; i >= 1; --i) {
    std::uint32_t mask = static_cast<std::uint32_t>(i);
    for (int shift = 1; shift < 32; shift <<= 1) mask |= mask >> shift;
    std::uint32_t v;
    do {
      v = static_cast<std::uint32_t>(mt()) & mask;
    } while (v > static_cast<std::uint32_t>(i));
    std::swap(a[i], a[v]);
  }
  return a;
}

namespace {

// Windows x = s[i .. i+T-1], y = s[i+T] (already scaled) for the given start positions.
WindowSet make_windows(const std::vector<double>& scaled, int steps,
                       const std::vector<int>& starts) {
  WindowSet w;
  w.count = static_cast<int>(starts.size());
  w.steps = steps;
  w.x.reserve(starts.size() * steps);
  for (int i : starts) {
    for (int t = 0; t < steps; ++t) w.x.push_back(static_cast<float>(scaled[i + t]));
    w.y.push_back(static_cast<float>(scaled[i + steps]));
    w.index.push_back(i);
  }
  return w;
}

void check_steps(int steps) {
  if (steps < 1)
    throw InvalidArgument("window length (T) must be >= 1, got " + std::to_string(steps));
}

}  // namespace

SplitData fibonacci_data(int steps) {
  constexpr int kValues = 1200;
  check_steps(steps);
  if (steps > kValues - 2) {
    throw InvalidArgument("window length (T) " + std::to_string(steps) +
                          " leaves fewer than 2 Fibonacci windows (1200 values)");
  }
  const std::vector<double> s = fibonacci_sequence(kValues);
  SplitData d;
  d.source = "fib";
  d.scaler = Scaler::fit(s.data(), s.size());  // the seed fits on the whole sequence
  std::vector<double> scaled(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) scaled[i] = d.scaler.scale(s[i]);
  const int n = kValues - steps;
  const std::vector<int> perm = numpy_permutation(n, 13);
  const int n_train = static_cast<int>(0.7 * n);
  d.train = make_windows(scaled, steps, std::vector<int>(perm.begin(), perm.begin() + n_train));
  d.test = make_windows(scaled, steps, std::vector<int>(perm.begin() + n_train, perm.end()));
  return d;
}

namespace {

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  std::string t = s.substr(b, e - b);
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
  return t;
}

std::vector<std::string> split_row(const std::string& line) {
  std::vector<std::string> f;
  std::string cur;
  for (char ch : line) {
    if (ch == ',') {
      f.push_back(trim(cur));
      cur.clear();
    } else {
      cur.push_back(ch);
    }
  }
  f.push_back(trim(cur));
  return f;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

}  // namespace

std::vector<double> read_csv_column(const std::string& path, const std::string& column,
                                    std::string* chosen_column) {
  std::string text = read_file(path);
  // Spreadsheet programs often save "UTF-8 with BOM": the mark is not part of the first name.
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  std::vector<std::string> lines;
  {
    std::string line;
    std::istringstream in(text);
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(line);
    }
  }
  while (!lines.empty() && trim(lines.back()).empty()) lines.pop_back();  // trailing blank lines
  if (lines.empty()) throw DataError(path + ": the file is empty (expected a header row)");
  const std::vector<std::string> header = split_row(lines[0]);

  int col = -1;
  if (!column.empty()) {
    for (std::size_t i = 0; i < header.size() && col < 0; ++i) {
      if (header[i] == column) col = static_cast<int>(i);
    }
    for (std::size_t i = 0; i < header.size() && col < 0; ++i) {
      if (lower(header[i]) == lower(column)) col = static_cast<int>(i);
    }
    if (col < 0) {
      throw DataError(path + ":1: no column named '" + column + "' (columns: " + join(header) +
                      ")");
    }
  } else if (header.size() == 1) {
    col = 0;
  } else {
    const std::string first = lower(header[0]);
    if (header.size() == 2 && (first == "year" || first == "date" || first == "time")) {
      col = 1;
    } else {
      throw DataError(path + ": several columns (" + join(header) +
                      "); choose one with --column NAME");
    }
  }
  if (chosen_column) *chosen_column = header[col];
  if (lines.size() < 2) throw DataError(path + ": no data rows after the header");

  std::vector<double> values;
  values.reserve(lines.size() - 1);
  for (std::size_t ln = 1; ln < lines.size(); ++ln) {
    const std::string where = path + ":" + std::to_string(ln + 1) + ": ";
    if (trim(lines[ln]).empty()) throw DataError(where + "empty row");
    const std::vector<std::string> fields = split_row(lines[ln]);
    if (fields.size() != header.size()) {
      throw DataError(where + "ragged row: " + std::to_string(fields.size()) +
                      " fields, the header has " + std::to_string(header.size()));
    }
    const std::string& f = fields[col];
    const std::string what = "column " + std::to_string(col + 1) + " ('" + header[col] + "')";
    if (f.empty()) throw DataError(where + what + ": missing value");
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(f.c_str(), &end);
    if (end == f.c_str() || *end != '\0') {
      throw DataError(where + what + ": '" + f + "' is not a number");
    }
    if (!std::isfinite(v)) throw DataError(where + what + ": '" + f + "' is not a finite number");
    values.push_back(v);
  }
  return values;
}

SplitData series_data(const std::vector<double>& series, int steps, double train_fraction) {
  check_steps(steps);
  if (!(train_fraction > 0.0 && train_fraction < 1.0)) {
    throw InvalidArgument("train fraction must be in (0, 1), got " +
                          std::to_string(train_fraction));
  }
  const long n_values = static_cast<long>(series.size());
  if (n_values < steps + 2L) {
    throw DataError("series of " + std::to_string(n_values) +
                    " values is too short for windows of " + std::to_string(steps) +
                    " steps: need at least T + 2 = " + std::to_string(steps + 2) +
                    " (one training and one test window)");
  }
  const int n = static_cast<int>(n_values - steps);
  const int n_train = std::clamp(static_cast<int>(train_fraction * n), 1, n - 1);
  SplitData d;
  // Fit on the values the training windows touch (inputs and targets), never on the test part.
  d.scaler = Scaler::fit(series.data(), static_cast<std::size_t>(n_train) + steps);
  std::vector<double> scaled(series.size());
  for (std::size_t i = 0; i < series.size(); ++i) scaled[i] = d.scaler.scale(series[i]);
  std::vector<int> train(n_train), test(n - n_train);
  for (int i = 0; i < n_train; ++i) train[i] = i;
  for (int i = n_train; i < n; ++i) test[i - n_train] = i;
  d.train = make_windows(scaled, steps, train);
  d.test = make_windows(scaled, steps, test);
  return d;
}

}  // namespace rnnattn
