// Results a user can trust: baselines from the target column, the same checks in every
// command that runs a model, full-precision predictions, shortest numbers, differences and
// standard scaling, missing values, RFC 4180 CSV, dates continued by the calendar, classifiers
// scored as classifiers, and the warnings a user needs. Each test fails without its fix.
#include <cmath>
#include <sstream>

#include "cli/cli_test.hpp"

namespace {

using rnnattn::test::Cli;
using rnnattn::test::exists;
using rnnattn::test::kSun;
using rnnattn::test::Result;
using rnnattn::test::slurp;

// The number after `key` in a JSON text (the first element of an array), searching from `from`.
double json_number(const std::string& json, const std::string& key, std::size_t from = 0) {
  auto at = json.find("\"" + key + "\":", from);
  EXPECT_NE(at, std::string::npos) << key << " missing";
  if (at == std::string::npos) return NAN;
  at += key.size() + 3;
  if (json[at] == '[') ++at;
  return std::atof(json.c_str() + at);
}

// The test RMSE of persistence (next = the target's previous value) over the test windows of a
// series of n rows at T steps, split as series_data splits it.
double persistence_rmse(const std::vector<double>& target, int steps) {
  const int n = static_cast<int>(target.size()) - steps, n_train = static_cast<int>(0.7 * n);
  double s = 0;
  for (int i = n_train; i < n; ++i) {
    const double d = target[i + steps] - target[i + steps - 1];
    s += d * d;
  }
  return std::sqrt(s / (n - n_train));
}

// Three columns of very different scales, the target B in the middle.
std::string three_columns(std::vector<double>& b) {
  std::ostringstream csv;
  csv << "A,B,C\n";
  for (int i = 0; i < 60; ++i) {
    b.push_back(10 + 5 * std::sin(0.4 * i) + 0.1 * i);
    csv << 1000 + 50 * std::cos(0.3 * i) << "," << b.back() << "," << -0.01 * i << "\n";
  }
  return csv.str();
}

// 1. The persistence baseline comes from the target column for any D and any target position
// (it used to read the last input of the window, another column's value).
TEST_F(Cli, PersistenceComesFromTheTargetColumn) {
  std::vector<double> b;
  file("abc.csv", three_columns(b));
  const double want = persistence_rmse(b, 4);
  for (const char* columns : {"A,B,C", "B,C,A", "A,C"}) {  // target in the middle, first, absent
    SCOPED_TRACE(columns);
    const Result r = run(std::string("train --data abc.csv --column ") + columns +
                         " --target B --steps 4 --epochs 1 --quiet --json j.json");
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string json = slurp(dir_ + "/j.json");
    const auto base = json.find("\"name\":\"persistence\"");
    ASSERT_NE(base, std::string::npos) << json;
    EXPECT_NEAR(json_number(json, "test_rmse", base), want, 1e-4 * want);
  }
}

// 2. forecast makes predict's checks: data that overflows the model's scaling is an error, data
// far outside it a warning (it used to print a number and exit 0).
TEST_F(Cli, ForecastChecksItsDataAsPredictDoes) {
  ASSERT_EQ(run("train --data " + kSun + " --epochs 1 --quiet --save sun.bin").code, 0);
  Result r = run("forecast --model sun.bin --data fib --horizon 2");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.err.find("rnnattn forecast: warning: the data spans"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("overflows float32"), std::string::npos) << r.err;
  std::string big = "YEAR,SUNACTIVITY\n";
  for (int y = 0; y < 30; ++y)
    big += std::to_string(2000 + y) + "," + std::to_string(900 + y) + "\n";
  file("big.csv", big);
  r = run("forecast --model sun.bin --data big.csv --horizon 2");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("rnnattn forecast: warning: the data spans"), std::string::npos) << r.err;
}

// 3 and 4. Predictions in original units are doubles (Fibonacci targets reach 1e250: as floats
// they were all null), and numbers print as the shortest text that reads back.
TEST_F(Cli, PredictionsAreDoublesAndNumbersAreShortest) {
  Result r = run("train --data fib --epochs 1 --quiet --json f.json --save f.bin");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string json = slurp(dir_ + "/f.json");
  const auto preds = json.find("\"test_predictions\":[");
  ASSERT_NE(preds, std::string::npos);
  EXPECT_EQ(json.find("null", preds), std::string::npos) << "a finite prediction became null";
  EXPECT_NE(json.find("\"lr\":0.001,"), std::string::npos) << "lr with representation noise";
  r = run("inspect --model f.bin");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("lr 0.001\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("00000000"), std::string::npos) << r.out;
  r = run("train --data " + kSun + " --epochs 1 --quiet --save s.bin");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("inspect --model s.bin --json");
  EXPECT_NE(r.out.find("\"scaler_max\":154.4,"), std::string::npos) << r.out;
}

// 5. A trending series: the bounded head is warned about; --difference models the changes and
// reports levels (the file's own values as targets, last value + change as predictions), and
// forecast sums the changes; --scale standard is recorded and read back.
TEST_F(Cli, DifferencesAndStandardScaling) {
  const std::string trend = std::string(RNNATTN_SOURCE_DIR) + "/data/trend.csv";
  Result r = run("train --data " + trend + " --steps 8 --epochs 1 --quiet --json levels.json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("test targets lie beyond the training targets' range"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--difference"), std::string::npos) << r.err;

  r = run("train --data " + trend +
          " --steps 8 --epochs 2 --difference --scale standard --quiet --json d.json --save d.bin");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("modelling first differences; standard scaling"), std::string::npos)
      << r.out;
  const std::string levels = slurp(dir_ + "/levels.json"), diffs = slurp(dir_ + "/d.json");
  // The first test target is the file's level in both runs (one window fewer with differences,
  // so the differenced run's first test target is a later row), and persistence scores the same.
  const double first_target = json_number(diffs, "target");
  EXPECT_GT(first_target, 300) << "a level, not a change";
  const double p_levels = json_number(levels, "test_rmse", levels.find("\"persistence\""));
  const double p_diffs = json_number(diffs, "test_rmse", diffs.find("\"persistence\""));
  EXPECT_GT(p_levels, 0.1);
  EXPECT_NEAR(p_diffs, p_levels, 0.1 * p_levels);  // the same last-value forecast, scored alike
  const double first_prediction = json_number(diffs, "test_predictions");
  EXPECT_NEAR(first_prediction, first_target, 5.0) << "last level + a predicted change";

  r = run("inspect --model d.bin");
  EXPECT_NE(r.out.find("series: standard scaling, first differences"), std::string::npos) << r.out;
  r = run("forecast --model d.bin --data " + trend + " --horizon 3");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2011-07-03  3"), std::string::npos) << r.out;  // a level near 390
  r = run("predict --model d.bin --data " + trend);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("# test MSE"), std::string::npos);
  expect_refused("train --data fib --difference", {"apply to CSV series"});
  expect_refused("train --data " + trend + " --scale zscore", {"minmax or standard"});
}

// 6. Missing values: counted and located; dropped (saying how many windows that cost) or
// interpolated on request.
TEST_F(Cli, MissingValuesAreCountedDroppedOrFilled) {
  std::string csv = "YEAR,V\n";
  for (int i = 0; i < 30; ++i) {
    csv += std::to_string(1900 + i) + "," +
           (i == 3 || i == 9 || i == 10 ? std::string(i == 9 ? "NA" : "") : std::to_string(i % 7)) +
           "\n";
  }
  file("gaps.csv", csv);
  expect_refused("train --data gaps.csv --steps 3",
                 {"gaps.csv:5: missing value", "3 missing values in all, on 3 lines: 5, 11, 12",
                  "--missing drop"});
  Result r = run("train --data gaps.csv --steps 3 --epochs 1 --quiet --missing drop");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("24 windows of T=3"), std::string::npos) << r.out;  // 27 rows - 3
  EXPECT_NE(r.out.find("3 missing values: dropped 3 rows, 3 windows fewer"), std::string::npos)
      << r.out;
  r = run("train --data gaps.csv --steps 3 --epochs 1 --quiet --missing interpolate --save i.bin");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("27 windows of T=3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 missing values filled by linear interpolation"), std::string::npos);
  // predict reads the data by the model's own policy.
  r = run("predict --model i.bin --data gaps.csv");
  EXPECT_EQ(r.code, 0) << r.err;
  expect_refused("train --data gaps.csv --missing guess", {"error, drop or interpolate"});
}

// 7. RFC 4180: a quoted comma, doubled quotes and a quoted line break in a column that is not
// used; decimal numbers only; a column named twice is refused.
TEST_F(Cli, CsvQuotesHexAndRepeatedColumns) {
  std::string csv = "YEAR,NOTE,V\n";
  for (int i = 0; i < 12; ++i) {
    const std::string note = i == 2   ? "\"a, b\""
                             : i == 5 ? "\"said \"\"hi\"\"\""
                             : i == 7 ? "\"two\nlines\""
                                      : "x";
    csv += std::to_string(2000 + i) + "," + note + "," + std::to_string(i * i % 11) + "\n";
  }
  file("quoted.csv", csv);
  Result r = run("train --data quoted.csv --column V --steps 2 --epochs 1 --quiet");
  EXPECT_EQ(r.code, 0) << r.err;
  // A bad value after the quoted line break is reported on its true line (14: one line more).
  file("quoted_bad.csv", csv + "2012,x,oops\n");
  expect_refused("train --data quoted_bad.csv --column V --steps 2",
                 {"quoted_bad.csv:15:", "'oops'"});
  file("hex.csv", "v\n1\n0x10\n3\n");
  expect_refused("train --data hex.csv --steps 1",
                 {"hex.csv:3:", "'0x10' is not a number", "decimal"});
  file("open.csv", "v,w\n1,\"never closed\n2,3\n");
  expect_refused("train --data open.csv --column v --steps 1", {"open.csv:2:", "never closed"});
  expect_refused("train --data quoted.csv --column V,V --target V", {"named twice"});
}

// 8. forecast continues dates by the series' own calendar step.
TEST_F(Cli, ForecastContinuesDates) {
  struct Case {
    std::string first_labels, want;
  };
  const auto series = [](const std::vector<std::string>& labels) {
    std::string csv = "DATE,V\n";
    for (std::size_t i = 0; i < labels.size(); ++i) {
      csv += labels[i] + "," + std::to_string(i % 5) + "\n";
    }
    return csv;
  };
  std::vector<std::string> weekly, daily, monthly, irregular, month_end;
  for (int i = 0; i < 12; ++i) {
    char b[16];
    const int day = 1 + 7 * i;  // 2001-10-01, weekly, across month ends
    const int m = day <= 31   ? 10
                  : day <= 61 ? 11
                              : 12,
              d = day <= 31   ? day
                  : day <= 61 ? day - 31
                              : day - 61;
    std::snprintf(b, sizeof b, "2001-%02d-%02d", m, d);
    weekly.push_back(b);
    std::snprintf(b, sizeof b, "200112%02d", 18 + i);  // daily, 20011218 .. 20011229
    daily.push_back(b);
    std::snprintf(b, sizeof b, "2001-%02d", 1 + i);  // monthly, 2001-01 .. 2001-12
    monthly.push_back(b);
    irregular.push_back("2001-01-" + std::string(i < 9 ? "0" : "") +
                        std::to_string(1 + i + (i > 9)));
    std::snprintf(b, sizeof b, "2001-%02d-28", 1 + i);
    month_end.push_back(b);
  }
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {weekly, "2001-12-24\n2001-12-31\n2002-01-07"},
      {daily, "20011230\n20011231\n20020101"},
      {monthly, "2002-01\n2002-02\n2002-03"},
      {month_end, "2002-01-28\n2002-02-28\n2002-03-28"},
      {irregular, "2001-01-13+1\n2001-01-13+2\n2001-01-13+3"}};
  for (const auto& [labels, want] : cases) {
    SCOPED_TRACE(labels.back());
    file("d.csv", series(labels));
    ASSERT_EQ(run("train --data d.csv --steps 3 --epochs 1 --quiet --save d.bin").code, 0);
    const Result r = run("forecast --model d.bin --data d.csv --horizon 3");
    ASSERT_EQ(r.code, 0) << r.err;
    std::string got;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty() || line[0] == '#' || line.rfind("device", 0) == 0) continue;
      if (!got.empty()) got += '\n';  // (a char, not "\n" + string: GCC 12's -Wrestrict misfires)
      got += line.substr(0, line.find(' '));
    }
    EXPECT_EQ(got, want) << r.out;
  }
}

// 9. predict on a classifier: accuracy and confusion counts, on the sizes it was trained with; a
// sigmoid with BCE, and a softmax over the two classes with CCE (--loss cce).
TEST_F(Cli, PredictScoresAClassifier) {
  for (const std::string loss : {"", " --loss cce"}) {
    SCOPED_TRACE(loss);
    Result r =
        run("train --data sentiment --steps 12 --train-sequences 50 --test-sequences 24 --hidden 3 "
            "--epochs 1 --batch 8 --quiet --json t.json --save c.bin" +
            loss);
    ASSERT_EQ(r.code, 0) << r.err;
    const double trained_accuracy = json_number(slurp(dir_ + "/t.json"), "test_accuracy");
    r = run("predict --model c.bin --data sentiment --json p.json");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("test windows of sentiment (24)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("# test accuracy "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(loss.empty() ? "; bce " : "; cce "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("# confusion (rows: true class"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("MSE"), std::string::npos) << r.out;
    const std::string json = slurp(dir_ + "/p.json");
    EXPECT_NEAR(json_number(json, "test_accuracy"), trained_accuracy, 1e-12);
    const int counts =
        static_cast<int>(json_number(json, "true_negative") + json_number(json, "false_positive") +
                         json_number(json, "false_negative") + json_number(json, "true_positive"));
    EXPECT_EQ(counts, 24);
  }
}

// 10 and 11. Warnings a user needs, and each path's own limit.
TEST_F(Cli, WarningsAndLimits) {
  std::string csv = "v\n";
  for (int i = 0; i < 100; ++i) csv += std::to_string((i * 37) % 17) + "\n";
  file("hundred.csv", csv);
  Result r = run("train --data hundred.csv --steps 98 --epochs 1 --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("only 1 training window"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("only 1 test window"), std::string::npos) << r.err;
  r = run("train --data hundred.csv --steps 5 --hidden 16 --epochs 1 --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("parameters for 66 training windows"), std::string::npos) << r.err;
  r = run("train --data hundred.csv --steps 5 --hidden 2 --epochs 1 --quiet");
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
  expect_refused("train --hidden 2000 --device cuda", {"supports H <= 1024", "--device cpu"});
  expect_refused("train --hidden 600 --bidirectional --device cuda-unfused", {"C = 1200"});
  if (rnnattn::built_with_cuda()) {
    r = run("profile --plan --batch 8 --steps 4 --input 1 --hidden 2000");
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.err.find("supports H <= 1024"), std::string::npos) << r.err;
  }
}

}  // namespace
