// The shared layer of the rnnattn commands (cli/common.hpp).
#include "cli/common.hpp"

#include <iostream>
#include <stdexcept>

#include "csv.hpp"
#include "io.hpp"

namespace rnnattn::cli {

Args::Args(Command command, const std::vector<std::string>& args) : command_(command) {
  const std::string name = command_name(command);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const Option* o = a.rfind("--", 0) == 0 ? find_option(command, a) : nullptr;
    if (!o) {
      throw UsageError((a.rfind("--", 0) == 0 ? "unknown option '" : "unexpected argument '") + a +
                       "' for 'rnnattn " + name + "'" + hint());
    }
    if (has(a)) throw UsageError(a + " is given twice; give it once" + hint());
    if (!o->value) {
      values_[a] = "1";
      continue;
    }
    if (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0) {
      throw UsageError(a + " needs a value" + hint());
    }
    values_[a] = args[++i];
  }
}

std::string Args::hint() const {
  return std::string(" (see 'rnnattn ") + command_name(command_) + " --help')";
}

long Args::get_int(const std::string& k, long dflt) const {
  const Option* o = find_option(command_, k);
  if (!o || o->lo == o->hi) throw std::logic_error(k + " is not an integer option");
  if (!has(k)) return dflt;
  const std::string s = get(k, "");
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE) {
    throw UsageError(k + " expects an integer, got '" + s + "'");
  }
  if (v < o->lo || v > o->hi) {
    throw UsageError(k + " must be in [" + std::to_string(o->lo) + ", " + std::to_string(o->hi) +
                     "], got " + s);
  }
  return v;
}

double Args::get_double(const std::string& k, double dflt) const {
  if (!has(k)) return dflt;
  const std::string s = get(k, "");
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v)) {
    throw UsageError(k + " expects a finite number, got '" + s + "'");
  }
  return v;
}

bool wants_help(const std::vector<std::string>& a) {
  return std::find(a.begin(), a.end(), "--help") != a.end() ||
         std::find(a.begin(), a.end(), "-h") != a.end();
}

std::string sci(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*e", digits - 1, v);
  return buf;
}

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

SentimentOptions sentiment_options(int steps, int train, int test) {
  SentimentOptions o;
  o.max_length = steps;
  o.min_length = std::max(7, steps / 4);
  o.train = train;
  o.test = test;
  return o;
}

SplitData load_data(const std::string& data, const std::vector<std::string>& columns,
                    const std::string& target, int steps, int sentiment_train, int sentiment_test,
                    const SeriesOptions& series, bool sentiment_tokens) {
  if ((data == "fib" || data == "sentiment") &&
      (series.difference || series.scaling != Scaling::kMinMax ||
       series.missing != Missing::kError)) {
    throw UsageError("--difference, --scale and --missing apply to CSV series, not to --data " +
                     data);
  }
  if (data == "sentiment") {
    if (!columns.empty() || !target.empty()) {
      throw UsageError("--column and --target apply to CSV data, not to --data sentiment");
    }
    if (steps < 7)
      throw UsageError("--data sentiment needs --steps >= 7, got " + std::to_string(steps));
    const SentimentOptions o = sentiment_options(steps, sentiment_train, sentiment_test);
    return sentiment_tokens ? sentiment_token_data(o) : sentiment_data(o);
  }
  if (sentiment_tokens)
    throw UsageError("--embedding applies to --data sentiment and to text data");
  if (data == "fib") {
    if (!columns.empty() || !target.empty()) {
      throw UsageError("--column and --target apply to CSV data, not to --data fib");
    }
    return fibonacci_data(steps);
  }
  const CsvSeries csv = read_csv_series(data, columns, target, series.missing);
  try {
    return series_data(csv, steps, 0.7, series);
  } catch (const DataError& e) {
    throw DataError(data + ": " + e.what());
  }
}

SplitData load_text(const std::string& path, const std::string& text_column,
                    const std::string& label_column, bool drop_other_labels, int vocab, int steps,
                    const Vocabulary* vocabulary, const std::vector<std::string>& classes,
                    TextEncoding encoding, const TextLayout& layout) {
  const TextTable table =
      read_csv_text(path, text_column, label_column, drop_other_labels, classes, encoding);
  TextOptions o;
  o.vocab = vocab;
  o.steps = steps;
  o.layout = layout;
  o.seed = 1;
  return text_data(table, o, vocabulary);
}

std::vector<Baseline> baselines_for(const SplitData& d) {
  const bool fib = d.source == "fib";
  if (d.sequences()) return {};  // a classification: the chance row is printed instead
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
    // The target's own last value, from the target column (not the windows' inputs: with D > 1
    // the last input of a window is another column's, and the target need not be an input).
    out.push_back(score("persistence", [&d](const WindowSet& w) {
      std::vector<float> p(w.count);
      for (int i = 0; i < w.count; ++i) p[i] = static_cast<float>(d.persistence(w.index[i]));
      return p;
    }));
  }
  out.push_back(score("train_mean", [mean](const WindowSet& w) {
    return std::vector<float>(w.count, static_cast<float>(mean));
  }));
  return out;
}

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
    // An output that cannot be written is bad usage like the cases above (exit 2, before any
    // work); only a failure while writing at the end is a run-time error.
    try {
      check_output_path(flag, path);
    } catch (const Error& e) {
      throw UsageError(e.what());
    }
  }
}

std::unique_ptr<Backend> open_backend(const Args& a, const ModelConfig* model) {
  set_cpu_threads(static_cast<int>(a.get_int("--threads", 0)));
  const Device dev = parse_device(a.get("--device", "auto"));
  std::unique_ptr<Backend> b = make_backend(dev);
  if (dev == Device::kAuto && model && b->name() != "cpu" &&
      model->context_size() > kCudaMaxContext) {
    std::cout << "device: cpu (auto: C = " << model->context_size() << " exceeds the CUDA path's "
              << kCudaMaxContext << ")" << std::endl;
    return make_backend(Device::kCpu);
  }
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

TextEncoding text_encoding(const Args& a) {
  try {
    return parse_text_encoding(a.get("--encoding", "utf-8"));
  } catch (const InvalidArgument& e) {
    throw UsageError(std::string("--encoding: ") + e.what());
  }
}

TextLayout text_layout(const Args& a) {
  try {
    TextLayout l;
    l.padding = parse_pad_side(a.get("--padding", "post"), "--padding");
    l.truncating = parse_pad_side(a.get("--truncating", "post"), "--truncating");
    return l;
  } catch (const InvalidArgument& e) {
    throw UsageError(e.what());
  }
}

namespace {

// load_for_checkpoint before a softmax head's targets are made one-hot.
SplitData read_for_checkpoint(const std::string& source, const std::string& column_arg,
                              const Checkpoint& ck, TextEncoding encoding) {
  const int T = ck.model.config.steps;
  const TrainingRecord& t = ck.training;
  if (ck.model.config.embedded()) {
    // A model that reads token ids: the sentiment task's ids, or texts with its vocabulary.
    const int V = ck.model.config.vocab_size;
    if (source == "sentiment") {
      const SentimentOptions o =
          sentiment_options(T, t.sentiment_train > 0 ? t.sentiment_train : 2000,
                            t.sentiment_test > 0 ? t.sentiment_test : 1000);
      if (sentiment_vocab_size(o) != V) {
        throw UsageError("the model's vocabulary has V = " + std::to_string(V) +
                         " ids; the sentiment task has " + std::to_string(sentiment_vocab_size(o)));
      }
      return sentiment_token_data(o);
    }
    if (ck.text.column.empty() || source == "fib") {
      throw UsageError("this model reads token ids (V = " + std::to_string(V) +
                       "): give it --data sentiment or a CSV of texts");
    }
    if (!column_arg.empty()) throw UsageError("--column: a text model reads its text column");
    const Vocabulary vocab(ck.text.vocabulary);
    SplitData d = load_text(source, ck.text.column, ck.column, true, V, T, &vocab, ck.text.classes,
                            encoding, ck.text.layout);
    if (d.classes != ck.text.classes) {
      throw UsageError(source + ": the labels of column '" + ck.column + "' are " +
                       join(d.classes) + "; the model was trained on " + join(ck.text.classes));
    }
    return d;
  }
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
  // The sentiment task at the sizes it was trained with (the defaults for older files).
  SplitData d =
      load_data(source, columns, target, T, t.sentiment_train > 0 ? t.sentiment_train : 2000,
                t.sentiment_test > 0 ? t.sentiment_test : 1000,
                source == "fib" || source == "sentiment" ? SeriesOptions{} : ck.series);
  if (d.train.features != ck.model.config.input_size) {
    throw UsageError("the model takes D = " + std::to_string(ck.model.config.input_size) +
                     " inputs per step; the data gives " + std::to_string(d.train.features));
  }
  const std::vector<Scaler> from =
      d.feature_scalers.empty() ? std::vector<Scaler>{d.scaler} : d.feature_scalers;
  const std::vector<Scaler> to =
      ck.features.empty() ? std::vector<Scaler>{ck.scaler} : ck.feature_scalers;
  // Rescaled only where the scalings differ: the training data itself then reads back bit for
  // bit as training saw it (what --resume needs), with no double rounding through the original
  // units.
  const auto same = [](const Scaler& a, const Scaler& b) {
    return a.min == b.min && a.max == b.max;
  };
  for (WindowSet* w : {&d.train, &d.test}) {
    for (std::size_t k = 0; k < w->x.size(); ++k) {
      const std::size_t f = k % from.size();
      if (!same(from[f], to[f]))
        w->x[k] = static_cast<float>(to[f].scale(from[f].unscale(w->x[k])));
    }
    if (same(d.scaler, ck.scaler)) continue;
    for (float& v : w->y) v = static_cast<float>(ck.scaler.scale(d.scaler.unscale(v)));
  }
  d.scaler = ck.scaler;
  if (!d.feature_scalers.empty()) d.feature_scalers = to;  // none for sentiment's token vectors
  return d;
}

}  // namespace

SplitData load_for_checkpoint(const std::string& source, const std::string& column_arg,
                              const Checkpoint& ck, TextEncoding encoding) {
  SplitData d = read_for_checkpoint(source, column_arg, ck, encoding);
  if (ck.model.config.loss == Loss::kCce) {
    for (WindowSet* w : {&d.train, &d.test}) {
      one_hot_targets(*w, ck.model.config.output_size, d.source);
    }
  }
  return d;
}

const std::string& target_label(const SplitData& d, int i) {
  return d.labels[d.target_row(d.test.index[i])];
}

std::string format_value(double v, int precision) {
  char buf[64];
  if (precision >= 0 && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  return buf;
}

double original_target(const SplitData& d, const WindowSet& w, int i) {
  return d.target_levels.empty() ? d.scaler.unscale(w.y[i])
                                 : d.target_levels[d.target_row(w.index[i])];
}

std::vector<double> model_series(const SplitData& d) {
  std::vector<double> v = d.target_levels;
  if (d.row_offset == 0 || v.size() < 2) return v;
  for (std::size_t i = v.size() - 1; i > 0; --i) v[i] -= v[i - 1];
  v.erase(v.begin());
  return v;
}

void check_model_inputs(const char* command, const std::vector<float>& x,
                        const std::vector<float>& y, const Scaler& s, Scaling scaling,
                        const std::vector<double>& series) {
  if (series.size() > 1) {
    // The training data spans s.range() (min-max) or a few of it (s.range() is the standard
    // deviation): a series spanning a thousandth of that, or a thousand times it, is another
    // series (a model of Fibonacci numbers on river flows: its predictions mean nothing).
    const auto [lo, hi] = std::minmax_element(series.begin(), series.end());
    const double ratio = (*hi - *lo) / s.range();
    if (std::isfinite(ratio) && *hi > *lo && (ratio < 1e-3 || ratio > 1e3)) {
      std::cerr << "rnnattn " << command << ": warning: the data's values span " << sci(*hi - *lo)
                << " ([" << sci(*lo) << ", " << sci(*hi) << "]), " << sci(ratio, 2)
                << " times the range the model was trained on ([" << sci(s.min) << ", "
                << sci(s.max) << "]): it was trained on other data, its predictions mean nothing "
                << "here" << std::endl;
    }
  }
  const auto not_finite = [](float v) { return !std::isfinite(v); };
  if (!x.empty()) {
    const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
    // Min-max scaling maps the training range to [0, 1]; standard scaling puts it within a few
    // standard deviations of 0.
    const float low = scaling == Scaling::kStandard ? -6.f : -1.f;
    const float high = scaling == Scaling::kStandard ? 6.f : 2.f;
    if (*lo < low || *hi > high || not_finite(*lo) || not_finite(*hi)) {
      std::cerr << "rnnattn " << command << ": warning: the data spans [" << sci(s.unscale(*lo))
                << ", " << sci(s.unscale(*hi))
                << "], far outside the range the model was trained on [" << sci(s.min) << ", "
                << sci(s.max) << "]: its predictions are extrapolations" << std::endl;
    }
  }
  if (std::any_of(x.begin(), x.end(), not_finite) || std::any_of(y.begin(), y.end(), not_finite)) {
    throw Error("the data overflows float32 in the model's scaling [" + sci(s.min) + ", " +
                sci(s.max) +
                "]: it lies far outside what the model was trained on. No output written");
  }
}

}  // namespace rnnattn::cli
