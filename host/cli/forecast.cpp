// rnnattn forecast: a saved model run past the end of a series, each prediction fed back.
#include <iostream>
#include <sstream>

#include "cli/common.hpp"
#include "cli/json.hpp"
#include "io.hpp"

namespace rnnattn::cli {
namespace {

// ---- dates: days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithms).
long days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const long era = (y >= 0 ? y : y - 399) / 400;
  const long yoe = y - era * 400;
  const long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}
void civil_from_days(long z, int& y, int& m, int& d) {
  z += 719468;
  const long era = (z >= 0 ? z : z - 146096) / 146097;
  const long doe = z - era * 146097;
  const long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const long mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(yoe + era * 400 + (m <= 2));
}
int days_in_month(int y, int m) {
  static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : n[m - 1];
}

// The date formats a label column may hold.
enum class DateForm { kNone, kDay, kCompactDay, kMonth };  // YYYY-MM-DD, YYYYMMDD, YYYY-MM
struct Date {
  int y = 0, m = 0, d = 1;
};

bool digits(const std::string& s, std::size_t at, std::size_t n, int& v) {
  if (at + n > s.size()) return false;
  v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  return true;
}

DateForm parse_date(const std::string& s, Date& out) {
  DateForm form = DateForm::kNone;
  if (s.size() == 10 && s[4] == '-' && s[7] == '-' && digits(s, 0, 4, out.y) &&
      digits(s, 5, 2, out.m) && digits(s, 8, 2, out.d)) {
    form = DateForm::kDay;
  } else if (s.size() == 8 && digits(s, 0, 4, out.y) && digits(s, 4, 2, out.m) &&
             digits(s, 6, 2, out.d)) {
    form = DateForm::kCompactDay;
  } else if (s.size() == 7 && s[4] == '-' && digits(s, 0, 4, out.y) && digits(s, 5, 2, out.m)) {
    out.d = 1;
    form = DateForm::kMonth;
  }
  if (form == DateForm::kNone || out.m < 1 || out.m > 12 || out.d < 1 ||
      out.d > days_in_month(out.y, out.m)) {
    return DateForm::kNone;
  }
  return form;
}

std::string format_date(DateForm form, const Date& t) {
  char buf[32];
  if (form == DateForm::kDay) std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", t.y, t.m, t.d);
  if (form == DateForm::kCompactDay) std::snprintf(buf, sizeof buf, "%04d%02d%02d", t.y, t.m, t.d);
  if (form == DateForm::kMonth) std::snprintf(buf, sizeof buf, "%04d-%02d", t.y, t.m);
  return buf;
}

// Dates after the last label, by the series' own calendar step: the last interval, when the last
// (up to) three intervals agree, in whole months (same day of the month: monthly, quarterly,
// yearly data) or else in days (daily, weekly). Empty when the labels are not such dates.
std::vector<std::string> dates_after(const std::vector<std::string>& labels, int n) {
  const std::size_t k = std::min<std::size_t>(labels.size(), 4);
  if (k < 2) return {};
  std::vector<Date> last(k);
  const DateForm form = parse_date(labels[labels.size() - k], last[0]);
  if (form == DateForm::kNone) return {};
  for (std::size_t i = 1; i < k; ++i) {
    if (parse_date(labels[labels.size() - k + i], last[i]) != form) return {};
  }
  bool same_day = true;
  for (const Date& t : last) same_day = same_day && t.d == last[0].d;
  std::vector<long> at;
  for (const Date& t : last) {
    at.push_back(same_day ? t.y * 12L + t.m - 1 : days_from_civil(t.y, t.m, t.d));
  }
  const long step = at[k - 1] - at[k - 2];
  for (std::size_t i = 1; i < k; ++i) {
    if (at[i] - at[i - 1] != step) return {};  // irregular
  }
  if (step <= 0) return {};
  std::vector<std::string> out;
  for (int j = 1; j <= n; ++j) {
    Date t = last[k - 1];
    if (same_day) {
      const long months = at[k - 1] + j * step;
      t.y = static_cast<int>(months / 12);
      t.m = static_cast<int>(months % 12) + 1;
      t.d = std::min(last[k - 1].d, days_in_month(t.y, t.m));
    } else {
      civil_from_days(at[k - 1] + j * step, t.y, t.m, t.d);
    }
    out.push_back(format_date(form, t));
  }
  return out;
}

// Labels past the end of a series: dates continue by their calendar step; a numeric label column
// (a year, a time) by its last step; anything else counts on from the last label (+k).
std::vector<std::string> labels_after(const std::vector<std::string>& labels, int n) {
  if (std::vector<std::string> dates = dates_after(labels, n); !dates.empty()) return dates;
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
    std::cout << help_text(kForecast);
    return 0;
  }
  const Args a(kForecast, argv);
  if (!a.has("--model"))
    throw UsageError("--model FILE is required (see 'rnnattn forecast --help')");
  if (!a.has("--data")) throw UsageError("--data is required (see 'rnnattn forecast --help')");
  if (!a.has("--horizon"))
    throw UsageError("--horizon N is required (see 'rnnattn forecast --help')");
  const int horizon = static_cast<int>(a.get_int("--horizon", 1));
  const std::string source = a.get("--data", ""), json_path = a.get("--json", "");
  if (source == "sentiment") {
    throw UsageError(
        "forecast continues a series; --data sentiment is a set of labelled sequences");
  }
  check_outputs({{"--json", json_path}},
                {{"--model", a.get("--model", "")}, {"--data", source == "fib" ? "" : source}});
  const Checkpoint ck = load_checkpoint(a.get("--model", ""));
  const ModelConfig& c = ck.model.config;
  if (c.embedded()) {  // its input_size is the embedding's width, not a column count
    throw UsageError("forecast continues a series; " + a.get("--model", "") +
                     " classifies token sequences (" +
                     (ck.text.column.empty() ? std::string("the sentiment task")
                                             : "texts, column " + ck.text.column) +
                     "): use predict");
  }
  if (c.input_size != 1 || (ck.features.size() == 1 && ck.features[0] != ck.column)) {
    throw UsageError(
        "forecast feeds each prediction back as the next input: it needs a model whose "
        "only input is the column it predicts (this one reads " +
        std::to_string(c.input_size) + " column(s))");
  }
  // The whole series (after its missing values were handled as in training), the labels and the
  // precision, from the same loader as training.
  const SplitData data = load_for_checkpoint(source, a.get("--column", ""), ck);
  const std::vector<double>& series = data.target_levels;
  const int offset = data.row_offset;  // 1: the model predicts changes
  if (static_cast<int>(series.size()) < c.steps + offset) {
    throw DataError(source + ": " + std::to_string(series.size()) + " values, fewer than the " +
                    std::to_string(c.steps + offset) + " the model reads (T = " +
                    std::to_string(c.steps) + (offset ? " changes" : " values") + ")");
  }
  // The last T inputs: values, or the changes between the last T + 1 values.
  std::vector<float> window;
  for (std::size_t i = series.size() - c.steps; i < series.size(); ++i) {
    const double v = offset ? series[i] - series[i - 1] : series[i];
    window.push_back(static_cast<float>(ck.scaler.scale(v)));
  }
  // The checks predict makes: overflow is an error, values far outside the training range a
  // warning.
  check_model_inputs("forecast", window, {}, ck.scaler, ck.series.scaling, model_series(data));
  const std::unique_ptr<Backend> backend = open_backend(a);
  const std::vector<std::string> labels = labels_after(data.labels, horizon);
  std::vector<double> values;
  double level = series.back();
  float y = 0;
  for (int k = 0; k < horizon; ++k) {
    backend->forward(c, ck.model.params.data(), window.data(), 1, &y, nullptr, nullptr);
    const double v = ck.scaler.unscale(y);
    level = offset ? level + v : v;  // a model of changes: their cumulative sum
    if (!std::isfinite(y) || !std::isfinite(level)) {
      throw Error("the forecast became non-finite at step " + std::to_string(k + 1) +
                  ". No output written");
    }
    values.push_back(level);
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
