// rnnattn forecast: a saved model run past the end of a series, each prediction fed back.
#include <iostream>
#include <sstream>

#include "cli/common.hpp"
#include "cli/json.hpp"
#include "io.hpp"

namespace rnnattn::cli {
namespace {

constexpr const char* kForecastHelp =
    R"(usage: rnnattn forecast --model FILE --data fib|FILE.csv --horizon N [options]

Forecast N steps past the end of the series: the model predicts the next value from the last T,
which is then fed back as an input for the step after, and so on. Each step is printed with its
label (the YEAR or TIME column continued when it is numeric, else +k after the last row) and its
value in original units at the data's precision.

  --model FILE             a checkpoint of a one-column model ('rnnattn train --save')
  --data fib|FILE.csv      the series (default column: the one the model was trained on)
  --column NAME            another column of the same meaning
  --horizon N              steps to forecast (1 to 100000)
  --device cpu|cuda|cuda-unfused|auto   where to run (default auto)
  --json FILE              write the forecast as JSON
)";

// Labels past the end of a series: a numeric label column continues by its last step; anything
// else counts on from the last label.
std::vector<std::string> labels_after(const std::vector<std::string>& labels, int n) {
  std::vector<std::string> out;
  double last = 0, prev = 0;
  bool numeric = labels.size() >= 2;
  if (numeric) {
    char* end = nullptr;
    last = std::strtod(labels.back().c_str(), &end);
    numeric = end && *end == '\0' && !labels.back().empty();
    prev = std::strtod(labels[labels.size() - 2].c_str(), &end);
    numeric = numeric && end && *end == '\0' && last != prev;
  }
  for (int k = 1; k <= n; ++k) {
    if (numeric) {
      const double v = last + k * (last - prev);
      char buf[64];
      std::snprintf(buf, sizeof buf, v == std::floor(v) && std::fabs(v) < 1e15 ? "%.0f" : "%g", v);
      out.push_back(buf);
    } else {
      out.push_back((labels.empty() ? std::string("end") : labels.back()) + "+" +
                    std::to_string(k));
    }
  }
  return out;
}

}  // namespace

int cmd_forecast(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << kForecastHelp;
    return 0;
  }
  const Args a("forecast", argv,
               {"--model", "--data", "--column", "--horizon", "--device", "--json"}, {});
  if (!a.has("--model"))
    throw UsageError("--model FILE is required (see 'rnnattn forecast --help')");
  if (!a.has("--data")) throw UsageError("--data is required (see 'rnnattn forecast --help')");
  if (!a.has("--horizon"))
    throw UsageError("--horizon N is required (see 'rnnattn forecast --help')");
  const int horizon = static_cast<int>(a.get_int("--horizon", 1, 1, 100000));
  const std::string source = a.get("--data", ""), json_path = a.get("--json", "");
  if (source == "sentiment") {
    throw UsageError(
        "forecast continues a series; --data sentiment is a set of labelled sequences");
  }
  check_outputs({{"--json", json_path}},
                {{"--model", a.get("--model", "")}, {"--data", source == "fib" ? "" : source}});
  const Checkpoint ck = load_checkpoint(a.get("--model", ""));
  const ModelConfig& c = ck.model.config;
  if (c.input_size != 1 || (ck.features.size() == 1 && ck.features[0] != ck.column)) {
    throw UsageError(
        "forecast feeds each prediction back as the next input: it needs a model whose "
        "only input is the column it predicts (this one reads " +
        std::to_string(c.input_size) + " column(s))");
  }
  // The whole series, the labels and the precision, from the same loader as training.
  const SplitData data = load_for_checkpoint(source, a.get("--column", ""), ck);
  std::vector<double> series;
  if (source == "fib") {
    series = fibonacci_sequence(static_cast<int>(data.labels.size()));
  } else {
    const std::string col = a.get("--column", ck.column);
    series = read_csv_series(source, {col}, "").target_values;
  }
  if (static_cast<int>(series.size()) < c.steps) {
    throw DataError(source + ": " + std::to_string(series.size()) +
                    " values, fewer than the model's T = " + std::to_string(c.steps));
  }
  std::vector<float> window;
  for (std::size_t i = series.size() - c.steps; i < series.size(); ++i) {
    window.push_back(static_cast<float>(ck.scaler.scale(series[i])));
  }
  const std::unique_ptr<Backend> backend = open_backend(a.get("--device", "auto"));
  const std::vector<std::string> labels = labels_after(data.labels, horizon);
  std::vector<double> values;
  float y = 0;
  for (int k = 0; k < horizon; ++k) {
    backend->forward(c, ck.model.params.data(), window.data(), 1, &y, nullptr, nullptr);
    if (!std::isfinite(y)) {
      throw Error("the forecast became non-finite at step " + std::to_string(k + 1) +
                  ". No output written");
    }
    values.push_back(ck.scaler.unscale(y));
    window.erase(window.begin());
    window.push_back(y);
  }
  std::printf("# forecast of %s%s from %s, %d steps past %s %s (original units)\n# %s  value\n",
              ck.column.empty() ? "the series" : ck.column.c_str(), "", source.c_str(), horizon,
              data.label_name.c_str(), data.labels.back().c_str(), data.label_name.c_str());
  for (int k = 0; k < horizon; ++k) {
    std::printf("%s  %s\n", labels[k].c_str(), format_value(values[k], data.precision).c_str());
  }
  if (!json_path.empty()) {
    Json j;
    j.begin_object().value("model", a.get("--model", "")).value("data", source);
    j.value("label_name", data.label_name).begin_array("forecast");
    for (int k = 0; k < horizon; ++k) {
      j.begin_object().value("label", labels[k]).value("value", values[k]).end_object();
    }
    j.end_array().end_object();
    write_file_atomic(json_path, j.str());
  }
  return 0;
}

}  // namespace rnnattn::cli
