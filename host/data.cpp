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
  d.label_name = "n";  // the n-th Fibonacci number
  for (int i = 0; i < kValues; ++i) d.labels.push_back(std::to_string(i + 1));
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

namespace {

int find_column(const std::vector<std::string>& header, const std::string& name) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (lower(header[i]) == lower(name)) return static_cast<int>(i);
  }
  return -1;
}

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

}  // namespace

CsvSeries read_csv_series(const std::string& path, const std::vector<std::string>& columns,
                          const std::string& target) {
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

  auto column_index = [&](const std::string& name) {
    const int c = find_column(header, name);
    if (c < 0) {
      throw DataError(path + ":1: no column named '" + name + "' (columns: " + join(header) + ")");
    }
    return c;
  };
  std::vector<int> feature_cols;
  for (const std::string& name : columns) feature_cols.push_back(column_index(name));
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
  if (lines.size() < 2) throw DataError(path + ": no data rows after the header");

  CsvSeries out;
  out.path = path;
  for (int c : feature_cols) out.features.push_back(header[c]);
  out.values.assign(feature_cols.size(), {});
  out.target = header[target_col];
  out.label_name = label_col >= 0 ? header[label_col] : "line";
  auto parse = [&](const std::vector<std::string>& fields, int col, const std::string& where) {
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
    return v;
  };
  for (std::size_t ln = 1; ln < lines.size(); ++ln) {
    const std::string where = path + ":" + std::to_string(ln + 1) + ": ";
    if (trim(lines[ln]).empty()) throw DataError(where + "empty row");
    const std::vector<std::string> fields = split_row(lines[ln]);
    if (fields.size() != header.size()) {
      throw DataError(where + "ragged row: " + std::to_string(fields.size()) +
                      " fields, the header has " + std::to_string(header.size()));
    }
    for (std::size_t k = 0; k < feature_cols.size(); ++k) {
      out.values[k].push_back(parse(fields, feature_cols[k], where));
    }
    out.target_values.push_back(parse(fields, target_col, where));
    out.precision = std::max(out.precision, decimals(fields[target_col]));
    out.labels.push_back(label_col >= 0 ? fields[label_col] : std::to_string(ln + 1));
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

Scaler fit_named(const std::vector<double>& v, std::size_t n, const std::string& name) {
  try {
    return Scaler::fit(v.data(), n);
  } catch (const DataError& e) {
    throw DataError("column '" + name + "' on the training part: " + e.what());
  }
}

}  // namespace

SplitData series_data(const CsvSeries& cs, int steps, double train_fraction) {
  const long n_values = static_cast<long>(cs.target_values.size());
  check_split(n_values, steps, train_fraction);
  const int n = static_cast<int>(n_values - steps);
  const int n_train = std::clamp(static_cast<int>(train_fraction * n), 1, n - 1);
  const std::size_t fit_n = static_cast<std::size_t>(n_train) + steps;  // what training touches
  const int D = static_cast<int>(cs.features.size());
  SplitData d;
  d.source = cs.path;
  d.column = cs.target;
  d.features = cs.features;
  d.label_name = cs.label_name;
  d.labels = cs.labels;
  d.precision = cs.precision;
  d.scaler = fit_named(cs.target_values, fit_n, cs.target);
  std::vector<std::vector<float>> scaled(D);
  for (int f = 0; f < D; ++f) {
    d.feature_scalers.push_back(fit_named(cs.values[f], fit_n, cs.features[f]));
    for (double v : cs.values[f])
      scaled[f].push_back(static_cast<float>(d.feature_scalers[f].scale(v)));
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
      w.y.push_back(static_cast<float>(d.scaler.scale(cs.target_values[i + steps])));
      w.index.push_back(i);
    }
    return w;
  };
  d.train = windows(0, n_train);
  d.test = windows(n_train, n);
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
  const std::size_t row = static_cast<std::size_t>(train.steps) * train.features;
  auto take = [&](int first, int last) {
    WindowSet w;
    w.count = last - first;
    w.steps = train.steps;
    w.features = train.features;
    for (int k = first; k < last; ++k) {
      const int i = order[k];
      w.x.insert(w.x.end(), train.x.begin() + i * row, train.x.begin() + (i + 1) * row);
      w.y.push_back(train.y[i]);
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
    kept.x.insert(kept.x.end(), train.x.begin() + i * row, train.x.begin() + (i + 1) * row);
    kept.y.push_back(train.y[i]);
    kept.index.push_back(train.index[i]);
    if (!train.lengths.empty()) kept.lengths.push_back(train.lengths[i]);
    ++kept.count;
  }
  train = std::move(kept);
  return val;
}

}  // namespace rnnattn
