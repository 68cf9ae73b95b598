// Datasets: Fibonacci windows (the tutorial's data, reproduced exactly) and CSV series.
#include "rnnattn/data.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>

#include "csv.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/random.hpp"

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
  if (!std::isfinite(s.max - s.min)) {  // else every scaled value is NaN and training "diverges"
    char range[64];
    std::snprintf(range, sizeof range, "%g to %g", s.min, s.max);
    throw DataError(std::string("values from ") + range +
                    " span more than a double holds; rescale the data");
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
  d.target_levels = s;
  std::vector<double> scaled(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) scaled[i] = d.scaler.scale(s[i]);
  const int n = kValues - steps;
  const std::vector<int> perm = numpy_permutation(n, 13);
  const int n_train = static_cast<int>(0.7 * n);
  d.train = make_windows(scaled, steps, std::vector<int>(perm.begin(), perm.begin() + n_train));
  d.test = make_windows(scaled, steps, std::vector<int>(perm.begin() + n_train, perm.end()));
  d.label_name = "n";  // the n-th Fibonacci number
  for (int i = 0; i < kValues; ++i) d.labels.push_back(std::to_string(i + 1));
  return d;
}

const char* scaling_name(Scaling s) { return s == Scaling::kStandard ? "standard" : "minmax"; }
const char* missing_name(Missing m) {
  return m == Missing::kDrop ? "drop" : m == Missing::kInterpolate ? "interpolate" : "error";
}
Scaling parse_scaling(const std::string& s) {
  if (s == "minmax") return Scaling::kMinMax;
  if (s == "standard") return Scaling::kStandard;
  throw InvalidArgument("scaling must be minmax or standard, got '" + s + "'");
}
Missing parse_missing(const std::string& s) {
  if (s == "error") return Missing::kError;
  if (s == "drop") return Missing::kDrop;
  if (s == "interpolate") return Missing::kInterpolate;
  throw InvalidArgument("missing values: expected error, drop or interpolate, got '" + s + "'");
}

Scaler Scaler::fit_standard(const double* v, std::size_t n) {
  if (n == 0) throw DataError("cannot fit a scaler on no values");
  double mean = 0;
  for (std::size_t i = 0; i < n; ++i) mean += v[i];
  mean /= static_cast<double>(n);
  double var = 0;
  for (std::size_t i = 0; i < n; ++i) var += (v[i] - mean) * (v[i] - mean);
  const double sd = std::sqrt(var / static_cast<double>(n));
  if (!std::isfinite(mean) || !std::isfinite(sd)) {
    throw DataError(
        "values whose mean or spread overflows a double (standard scaling); rescale "
        "the data");
  }
  if (!(sd > 0) || !(mean + sd > mean)) {
    throw DataError("cannot scale a constant series (every value is " + std::to_string(v[0]) + ")");
  }
  return Scaler{mean, mean + sd};
}

Scaler Scaler::fit(Scaling kind, const double* v, std::size_t n) {
  return kind == Scaling::kStandard ? fit_standard(v, n) : fit(v, n);
}

int SplitData::target_row(int index) const {
  return sequences() ? index : index + train.steps + row_offset;
}

double SplitData::to_original(double scaled, int index) const {
  const double v = scaler.unscale(scaled);
  return row_offset ? target_levels[target_row(index) - 1] + v : v;
}

double SplitData::persistence(int index) const {
  return scaler.scale(row_offset ? 0.0 : target_levels[target_row(index) - 1]);
}

namespace {

bool is_index_name(const std::string& name) {
  const std::string l = lower(name);
  return l == "year" || l == "date" || l == "time";
}

// Digits after the decimal point as written ("12.50" -> 2, "3e-2" -> 0: exponents say nothing).
int decimals(const std::string& f) {
  const auto dot = f.find('.');
  if (dot == std::string::npos) return 0;
  int n = 0;
  for (std::size_t i = dot + 1; i < f.size() && std::isdigit(static_cast<unsigned char>(f[i]));
       ++i) {
    ++n;
  }
  return n;
}

// What spreadsheets, pandas and statistics offices write for "no value".
bool is_missing(const std::string& f) {
  const std::string l = lower(f);
  return l.empty() || l == "na" || l == "n/a" || l == "#n/a" || l == "nan" || l == "-nan" ||
         l == "null" || l == "none" || l == ".";
}

// A decimal number: [+-] digits [. digits] [e [+-] digits] (or .digits); not hex, inf or nan.
bool is_decimal(const std::string& f) {
  std::size_t i = 0, n = f.size();
  if (i < n && (f[i] == '+' || f[i] == '-')) ++i;
  std::size_t digits = 0;
  while (i < n && std::isdigit(static_cast<unsigned char>(f[i]))) ++i, ++digits;
  if (i < n && f[i] == '.') {
    ++i;
    while (i < n && std::isdigit(static_cast<unsigned char>(f[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < n && (f[i] == 'e' || f[i] == 'E')) {
    ++i;
    if (i < n && (f[i] == '+' || f[i] == '-')) ++i;
    std::size_t e = 0;
    while (i < n && std::isdigit(static_cast<unsigned char>(f[i]))) ++i, ++e;
    if (e == 0) return false;
  }
  return i == n;
}

// Fills the NaN cells of `v` linearly in row order between the nearest values on each side, and
// with the nearest value before the first or after the last value. Returns false when there is
// no value at all.
bool interpolate(std::vector<double>& v) {
  std::size_t prev = v.size();  // the last row with a value
  for (std::size_t k = 0; k < v.size(); ++k) {
    if (std::isnan(v[k])) continue;
    if (prev == v.size()) {
      for (std::size_t j = 0; j < k; ++j) v[j] = v[k];
    } else {
      for (std::size_t j = prev + 1; j < k; ++j) {
        v[j] = v[prev] +
               (v[k] - v[prev]) * static_cast<double>(j - prev) / static_cast<double>(k - prev);
      }
    }
    prev = k;
  }
  if (prev == v.size()) return false;
  for (std::size_t j = prev + 1; j < v.size(); ++j) v[j] = v[prev];
  return true;
}

}  // namespace

CsvSeries read_csv_series(const std::string& path, const std::vector<std::string>& columns,
                          const std::string& target, Missing missing) {
  FileStamp stamp;
  const std::vector<Record> records = read_csv_file(path, nullptr, &stamp);
  const std::vector<std::string>& header = records[0].fields;

  auto column_index = [&](const std::string& name) {
    const int c = find_column(header, name);
    if (c < 0) {
      throw DataError(path + ":1: no column named '" + name + "' (columns: " + join(header) + ")");
    }
    return c;
  };
  std::vector<int> feature_cols;
  for (const std::string& name : columns) {
    const int c = column_index(name);
    if (std::find(feature_cols.begin(), feature_cols.end(), c) != feature_cols.end()) {
      throw InvalidArgument("column '" + header[c] + "' is named twice among the input columns");
    }
    feature_cols.push_back(c);
  }
  int target_col = target.empty() ? -1 : column_index(target);
  if (feature_cols.empty() && target_col >= 0) feature_cols.push_back(target_col);
  if (feature_cols.empty()) {
    if (header.size() == 1) {
      feature_cols.push_back(0);
    } else if (header.size() == 2 && is_index_name(header[0])) {
      feature_cols.push_back(1);
    } else {
      throw DataError(path + ": several columns (" + join(header) +
                      "); choose one with --column NAME");
    }
  }
  if (target_col < 0) {
    if (feature_cols.size() > 1) {
      throw DataError(path + ": several input columns; name the one to predict with --target NAME");
    }
    target_col = feature_cols[0];
  }
  int label_col = -1;
  for (std::size_t i = 0; i < header.size() && label_col < 0; ++i) {
    if (is_index_name(header[i])) label_col = static_cast<int>(i);
  }
  if (records.size() < 2) throw DataError(path + ": no data rows after the header");

  CsvSeries out;
  out.path = path;
  out.stamp = stamp;
  for (int c : feature_cols) out.features.push_back(header[c]);
  out.values.assign(feature_cols.size(), {});
  out.target = header[target_col];
  out.label_name = label_col >= 0 ? header[label_col] : "line";
  // A cell's value; NaN for a missing one (counted, and its line kept for the message).
  std::vector<int> missing_lines;
  std::string first_missing;
  // Most cells are decimal numbers: they are read without building any text; the messages are
  // made only for the cells that need one.
  auto parse = [&](const Record& r, int col) {
    const std::string& f = r.fields[col];
    if (is_decimal(f)) {
      const double v = std::strtod(f.c_str(), nullptr);
      if (std::isfinite(v)) return v;
    }
    const std::string at = path + ":" + std::to_string(r.line) + ": column " +
                           std::to_string(col + 1) + " ('" + header[col] + "')";
    if (is_missing(f)) {
      if (missing_lines.empty()) {
        first_missing = path + ":" + std::to_string(r.line) + ": missing value in column " +
                        std::to_string(col + 1) + " ('" + header[col] + "')";
      }
      if (missing_lines.empty() || missing_lines.back() != r.line) missing_lines.push_back(r.line);
      ++out.missing;
      return std::nan("");
    }
    const std::string l = lower(f);
    if (is_decimal(f) || l == "inf" || l == "+inf" || l == "-inf" || l == "infinity" ||
        l == "-infinity") {  // 1e400, or inf
      throw DataError(at + ": '" + f + "' is not a finite number");
    }
    char* end = nullptr;
    (void)std::strtod(f.c_str(), &end);  // hex and other forms strtod would take
    throw DataError(at + ": '" + f + "' is not a number" +
                    (end && *end == '\0' ? " (decimal numbers only)" : ""));
  };
  std::vector<char> has_gap;  // per row: a missing value in a used column
  for (std::size_t ln = 1; ln < records.size(); ++ln) {
    const Record& r = records[ln];
    const auto where = [&] { return path + ":" + std::to_string(r.line) + ": "; };
    if (r.blank()) throw DataError(where() + "empty row");
    if (r.fields.size() != header.size()) {
      throw DataError(where() + "ragged row: " + std::to_string(r.fields.size()) +
                      " fields, the header has " + std::to_string(header.size()));
    }
    const int before = out.missing;
    for (std::size_t k = 0; k < feature_cols.size(); ++k) {
      out.values[k].push_back(parse(r, feature_cols[k]));
    }
    // The target is often one of the inputs: its cell is read (and a gap counted) once.
    const auto as_input = std::find(feature_cols.begin(), feature_cols.end(), target_col);
    out.target_values.push_back(as_input != feature_cols.end()
                                    ? out.values[as_input - feature_cols.begin()].back()
                                    : parse(r, target_col));
    has_gap.push_back(out.missing > before);
    if (!std::isnan(out.target_values.back())) {  // a missing cell says nothing of precision
      out.precision = std::max(out.precision, decimals(r.fields[target_col]));
    }
    out.labels.push_back(label_col >= 0 ? r.fields[label_col] : std::to_string(r.line));
  }
  if (out.missing == 0) return out;
  if (missing == Missing::kError) {
    std::string lines;
    for (std::size_t k = 0; k < std::min<std::size_t>(missing_lines.size(), 5); ++k) {
      lines += (k ? ", " : "") + std::to_string(missing_lines[k]);
    }
    throw DataError(first_missing + " (" + std::to_string(out.missing) + " missing value" +
                    (out.missing > 1 ? "s" : "") + " in all, on " +
                    std::to_string(missing_lines.size()) + " line" +
                    (missing_lines.size() > 1 ? "s" : "") + ": " + lines +
                    (missing_lines.size() > 5 ? ", ..." : "") +
                    "); --missing drop removes those rows, --missing interpolate fills them");
  }
  if (missing == Missing::kDrop) {
    CsvSeries kept;  // the same columns, the rows without a gap
    kept.path = out.path;
    kept.features = out.features;
    kept.values.resize(out.values.size());
    kept.target = out.target;
    kept.label_name = out.label_name;
    kept.precision = out.precision;
    kept.missing = out.missing;
    for (std::size_t row = 0; row < has_gap.size(); ++row) {
      if (has_gap[row]) {
        ++kept.dropped_rows;
        continue;
      }
      for (std::size_t k = 0; k < out.values.size(); ++k)
        kept.values[k].push_back(out.values[k][row]);
      kept.target_values.push_back(out.target_values[row]);
      kept.labels.push_back(out.labels[row]);
    }
    return kept;
  }
  for (std::size_t k = 0; k < out.values.size(); ++k) {
    if (!interpolate(out.values[k])) {
      throw DataError(path + ": column '" + out.features[k] +
                      "' has no values to interpolate from");
    }
  }
  if (!interpolate(out.target_values)) {
    throw DataError(path + ": column '" + out.target + "' has no values to interpolate from");
  }
  return out;
}

std::vector<double> read_csv_column(const std::string& path, const std::string& column,
                                    std::string* chosen_column) {
  CsvSeries s = read_csv_series(
      path, column.empty() ? std::vector<std::string>{} : std::vector<std::string>{column}, "");
  if (chosen_column) *chosen_column = s.target;
  return std::move(s.target_values);
}

namespace {

void check_split(long n_values, int steps, double train_fraction) {
  check_steps(steps);
  if (!(train_fraction > 0.0 && train_fraction < 1.0)) {
    throw InvalidArgument("train fraction must be in (0, 1), got " +
                          std::to_string(train_fraction));
  }
  if (n_values < steps + 2L) {
    throw DataError("series of " + std::to_string(n_values) +
                    " values is too short for windows of " + std::to_string(steps) +
                    " steps: need at least T + 2 = " + std::to_string(steps + 2) +
                    " (one training and one test window)");
  }
}

Scaler fit_named(Scaling kind, const std::vector<double>& v, std::size_t n,
                 const std::string& name) {
  try {
    return Scaler::fit(kind, v.data(), n);
  } catch (const DataError& e) {
    throw DataError("column '" + name + "' on the training part: " + e.what());
  }
}

}  // namespace

SplitData series_data(const CsvSeries& cs, int steps, double train_fraction,
                      const SeriesOptions& options) {
  // With differences the windows run over the changes between rows: one value fewer.
  const int offset = options.difference ? 1 : 0;
  const auto prepared = [&](const std::vector<double>& v) {
    if (!offset) return v;
    std::vector<double> d;
    for (std::size_t k = 1; k < v.size(); ++k) d.push_back(v[k] - v[k - 1]);
    return d;
  };
  const std::vector<double> target = prepared(cs.target_values);
  const long n_values = static_cast<long>(target.size());
  check_split(n_values, steps, train_fraction);
  const int n = static_cast<int>(n_values - steps);
  const int n_train = std::clamp(static_cast<int>(train_fraction * n), 1, n - 1);
  const std::size_t fit_n = static_cast<std::size_t>(n_train) + steps;  // what training touches
  const int D = static_cast<int>(cs.features.size());
  SplitData d;
  d.source = cs.path;
  d.stamp = cs.stamp;
  d.column = cs.target;
  d.features = cs.features;
  d.label_name = cs.label_name;
  d.labels = cs.labels;
  d.precision = cs.precision;
  d.series = options;
  d.target_levels = cs.target_values;
  d.row_offset = offset;
  d.scaler = fit_named(options.scaling, target, fit_n, cs.target);
  std::vector<std::vector<float>> scaled(D);
  for (int f = 0; f < D; ++f) {
    const std::vector<double> v = prepared(cs.values[f]);
    d.feature_scalers.push_back(fit_named(options.scaling, v, fit_n, cs.features[f]));
    for (double x : v) scaled[f].push_back(static_cast<float>(d.feature_scalers[f].scale(x)));
  }
  auto windows = [&](int first, int last) {
    WindowSet w;
    w.count = last - first;
    w.steps = steps;
    w.features = D;
    for (int i = first; i < last; ++i) {
      for (int t = 0; t < steps; ++t) {
        for (int f = 0; f < D; ++f) w.x.push_back(scaled[f][i + t]);
      }
      w.y.push_back(static_cast<float>(d.scaler.scale(target[i + steps])));
      w.index.push_back(i);
    }
    return w;
  };
  d.train = windows(0, n_train);
  d.test = windows(n_train, n);
  if (cs.dropped_rows > 0) {
    d.note = std::to_string(cs.missing) + " missing value" + (cs.missing > 1 ? "s" : "") +
             ": dropped " + std::to_string(cs.dropped_rows) + " row" +
             (cs.dropped_rows > 1 ? "s" : "") + ", " + std::to_string(cs.dropped_rows) + " window" +
             (cs.dropped_rows > 1 ? "s" : "") + " fewer";
  } else if (cs.missing > 0) {
    d.note = std::to_string(cs.missing) + " missing value" + (cs.missing > 1 ? "s" : "") +
             " filled by linear interpolation";
  }
  return d;
}

SplitData series_data(const std::vector<double>& series, int steps, double train_fraction) {
  CsvSeries cs;
  cs.features = {"value"};
  cs.values = {series};
  cs.target_values = series;
  cs.label_name = "position";
  for (std::size_t i = 0; i < series.size(); ++i) cs.labels.push_back(std::to_string(i + 1));
  cs.precision = -1;
  return series_data(cs, steps, train_fraction);
}

SplitData sentiment_data(const SentimentOptions& o, std::vector<int>* token_ids) {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw InvalidArgument("sentiment data: " + what);
  };
  need(o.train >= 1 && o.test >= 1, "train and test need at least one sequence each");
  need(o.dim >= 1, "dim must be >= 1");
  need(o.min_length >= 7 && o.min_length <= o.max_length,
       "lengths must satisfy 7 <= min_length <= max_length (7 sentiment tokens must fit)");
  need(o.neutral_tokens >= 1 && o.sentiment_tokens >= 1,
       "the vocabulary needs tokens of each kind");
  Rng rng(o.seed);
  // Vocabulary: neutral tokens, then positive, then negative, each a fixed random vector.
  const int vocab = o.neutral_tokens + 2 * o.sentiment_tokens;
  std::vector<float> vectors(static_cast<std::size_t>(vocab) * o.dim);
  const double sd = 1.0 / std::sqrt(static_cast<double>(o.dim));
  for (float& v : vectors) v = static_cast<float>(sd * rng.normal());

  if (token_ids) token_ids->clear();
  SplitData d;
  d.source = "sentiment";
  d.label_name = "sequence";
  auto make = [&](int n, int first) {
    WindowSet w;
    w.count = n;
    w.steps = o.max_length;
    w.features = o.dim;
    w.x.assign(static_cast<std::size_t>(n) * o.max_length * o.dim, 0.f);
    std::vector<int> tokens;
    for (int i = 0; i < n; ++i) {
      const int label = (first + i) % 2;  // alternating: balanced classes
      const int len = o.min_length + static_cast<int>(rng.below(o.max_length - o.min_length + 1));
      const int k = 1 + 2 * static_cast<int>(rng.below(4));  // 1, 3, 5 or 7 sentiment tokens
      const int major = k / 2 + 1 + static_cast<int>(rng.below(k - k / 2));  // > k/2
      tokens.assign(len, -1);
      for (int m = 0; m < k; ++m) {
        int pos;
        do {
          pos = static_cast<int>(rng.below(len));
        } while (tokens[pos] >= 0);
        const bool positive = (m < major) == (label == 1);
        tokens[pos] = o.neutral_tokens + (positive ? 0 : o.sentiment_tokens) +
                      static_cast<int>(rng.below(o.sentiment_tokens));
      }
      for (int t = 0; t < len; ++t) {
        if (tokens[t] < 0) tokens[t] = static_cast<int>(rng.below(o.neutral_tokens));
        const int tok = tokens[t];
        std::copy_n(&vectors[static_cast<std::size_t>(tok) * o.dim], o.dim,
                    &w.x[(static_cast<std::size_t>(i) * o.max_length + t) * o.dim]);
      }
      if (token_ids) {
        token_ids->insert(token_ids->end(), tokens.begin(), tokens.end());
        token_ids->insert(token_ids->end(), o.max_length - len, -1);
      }
      w.y.push_back(static_cast<float>(label));
      w.index.push_back(first + i);
      w.lengths.push_back(len);
    }
    return w;
  };
  d.train = make(o.train, 0);
  d.test = make(o.test, o.train);
  for (int i = 0; i < o.train + o.test; ++i) d.labels.push_back(std::to_string(i + 1));
  return d;
}

void one_hot_targets(WindowSet& w, int classes, const std::string& source) {
  if (classes < 2) throw InvalidArgument("one_hot_targets: need K >= 2 classes");
  if (w.y.size() != static_cast<std::size_t>(w.count)) {
    throw InvalidArgument("one_hot_targets: " + std::to_string(w.y.size()) + " targets for " +
                          std::to_string(w.count) + " windows (one class number each)");
  }
  std::vector<float> y(static_cast<std::size_t>(w.count) * classes, 0.f);
  for (int i = 0; i < w.count; ++i) {
    const float c = w.y[i];
    if (!(c >= 0.f && c < static_cast<float>(classes)) || c != std::floor(c)) {
      throw DataError(source + ": window " + std::to_string(i + 1) + "'s target " +
                      std::to_string(c) + " is not one of the " + std::to_string(classes) +
                      " classes 0.." + std::to_string(classes - 1));
    }
    y[static_cast<std::size_t>(i) * classes + static_cast<int>(c)] = 1.f;
  }
  w.y = std::move(y);
}

WindowSet split_validation(WindowSet& train, double fraction) {
  if (!(fraction > 0.0 && fraction < 1.0)) {
    throw InvalidArgument("validation split must be in (0, 1), got " + std::to_string(fraction));
  }
  if (train.count < 2) {
    throw InvalidArgument("validation split: the training set has " + std::to_string(train.count) +
                          " window(s); it needs at least 2");
  }
  std::vector<int> order(train.count);
  for (int i = 0; i < train.count; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return train.index[a] < train.index[b]; });
  const int n_val = std::clamp(static_cast<int>(fraction * train.count), 1, train.count - 1);
  const std::size_t row =
      train.x.empty() ? 0 : static_cast<std::size_t>(train.steps) * train.features;
  const std::size_t trow = train.tokens.empty() ? 0 : static_cast<std::size_t>(train.steps);
  const std::size_t outputs = train.y.size() / train.count;  // O targets per window
  // Window i's inputs (features or token ids) and targets appended to w.
  auto copy_window = [&](WindowSet& w, int i) {
    w.x.insert(w.x.end(), train.x.begin() + i * row, train.x.begin() + (i + 1) * row);
    w.tokens.insert(w.tokens.end(), train.tokens.begin() + i * trow,
                    train.tokens.begin() + (i + 1) * trow);
    w.y.insert(w.y.end(), train.y.begin() + i * outputs, train.y.begin() + (i + 1) * outputs);
  };
  auto take = [&](int first, int last) {
    WindowSet w;
    w.count = last - first;
    w.steps = train.steps;
    w.features = train.features;
    for (int k = first; k < last; ++k) {
      const int i = order[k];
      copy_window(w, i);
      w.index.push_back(train.index[i]);
      if (!train.lengths.empty()) w.lengths.push_back(train.lengths[i]);
    }
    return w;
  };
  // The training part keeps its own order (for fib, the tutorial's permutation).
  std::vector<char> is_val(train.count, 0);
  for (int k = train.count - n_val; k < train.count; ++k) is_val[order[k]] = 1;
  WindowSet val = take(train.count - n_val, train.count);
  WindowSet kept;
  kept.steps = train.steps;
  kept.features = train.features;
  for (int i = 0; i < train.count; ++i) {
    if (is_val[i]) continue;
    copy_window(kept, i);
    kept.index.push_back(train.index[i]);
    if (!train.lengths.empty()) kept.lengths.push_back(train.lengths[i]);
    ++kept.count;
  }
  train = std::move(kept);
  return val;
}

const char* to_string(PadSide side) { return side == PadSide::kPre ? "pre" : "post"; }

PadSide parse_pad_side(const std::string& name, const char* what) {
  if (name == "post") return PadSide::kPost;
  if (name == "pre") return PadSide::kPre;
  throw InvalidArgument(std::string(what) + ": '" + name + "' is not pre or post");
}

}  // namespace rnnattn
