// Datasets: the Fibonacci windows and split exactly as SPEC.md describes; CSV parsing and its
// errors; chronological windows with the scaler fit on the training part only.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>

#include "rnnattn/data.hpp"
#include "rnnattn/error.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

TEST(Fibonacci, PermutationMatchesNumpyRandomState13) {
  const std::vector<int> p = numpy_permutation(1180, 13);
  const int head[] = {662, 346, 642, 631, 133, 384, 997, 801, 613, 912};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(p[i], head[i]) << "position " << i;
  std::vector<int> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 1180; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_EQ(numpy_permutation(1, 13), std::vector<int>{0});
}

TEST(Fibonacci, SequenceAndScaling) {
  const std::vector<double> s = fibonacci_sequence(1200);
  EXPECT_EQ(s[0], 1);
  EXPECT_EQ(s[1], 2);
  EXPECT_EQ(s[2], 3);
  EXPECT_EQ(s[3], 5);
  for (int i = 2; i < 1200; ++i) ASSERT_EQ(s[i], s[i - 1] + s[i - 2]);
  EXPECT_GT(s.back(), 1e249);
  EXPECT_LT(s.back(), 1e251);

  const SplitData d = fibonacci_data(20);
  EXPECT_EQ(d.train.count, 826);
  EXPECT_EQ(d.test.count, 354);
  EXPECT_EQ(d.scaler.min, 1.0);
  EXPECT_EQ(d.scaler.max, s.back());
  // Each window is s[i..i+19] scaled, target s[i+20]; the split follows the permutation.
  const std::vector<int> perm = numpy_permutation(1180, 13);
  for (int k : {0, 1, 500, 825}) {
    const int i = d.train.index[k];
    EXPECT_EQ(i, perm[k]);
    for (int t = 0; t < 20; ++t) {
      EXPECT_EQ(d.train.x[k * 20 + t], static_cast<float>((s[i + t] - 1.0) / (s.back() - 1.0)));
    }
    EXPECT_EQ(d.train.y[k], static_cast<float>((s[i + 20] - 1.0) / (s.back() - 1.0)));
  }
  EXPECT_EQ(d.test.index[0], perm[826]);
  // What SPEC.md says the data is like.
  int big_train = 0, big_test = 0;
  double zero_train = 0, zero_test = 0;
  for (float v : d.train.y) big_train += v > 1e-6f, zero_train += double(v) * v;
  for (float v : d.test.y) big_test += v > 1e-6f, zero_test += double(v) * v;
  EXPECT_EQ(big_train, 21);
  EXPECT_EQ(big_test, 8);
  EXPECT_NEAR(zero_train / 826, 1.42e-3, 0.005e-3);
  EXPECT_NEAR(zero_test / 354, 1.26e-3, 0.005e-3);
}

TEST(Fibonacci, OtherWindowLengths) {
  EXPECT_EQ(fibonacci_data(1).train.count + fibonacci_data(1).test.count, 1199);
  EXPECT_EQ(fibonacci_data(1198).train.count, 1);
  EXPECT_THROW(fibonacci_data(1199), InvalidArgument);
  EXPECT_THROW(fibonacci_data(0), InvalidArgument);
}

class CsvTest : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    path_ = dir_.file("series.csv");
    std::ofstream(path_) << text;
    return path_;
  }
  // Expects DataError whose message contains every fragment.
  void expect_error(const std::string& text, const std::string& column,
                    std::vector<std::string> fragments) {
    const std::string p = write(text);
    try {
      read_csv_column(p, column);
      FAIL() << "accepted: " << text;
    } catch (const DataError& e) {
      fragments.push_back(p);
      for (const auto& f : fragments) {
        EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what() << " lacks " << f;
      }
    }
  }
  test::ScratchDir dir_{"rnnattn_csv"};
  std::string path_;
};

TEST_F(CsvTest, ReadsTheNamedColumn) {
  std::string chosen;
  const auto v = read_csv_column(write("\"YEAR\",\"V\"\r\n1,2.5\r\n2,-3e1\r\n\n"), "", &chosen);
  EXPECT_EQ(chosen, "V");
  EXPECT_EQ(v, (std::vector<double>{2.5, -30.0}));
  EXPECT_EQ(read_csv_column(write("a,b,c\n1,2,3\n4,5,6\n"), "b"), (std::vector<double>{2, 5}));
  EXPECT_EQ(read_csv_column(write("a,b,c\n1,2,3\n4,5,6\n"), "C"), (std::vector<double>{3, 6}));
}

TEST_F(CsvTest, BadInputNamesFileLineAndColumn) {
  expect_error("year,v\n1,2\n2,abc\n", "v", {":3:", "column 2", "'abc' is not a number"});
  expect_error("year,v\n1,2\n2,\n", "v", {":3:", "column 2", "missing value"});
  expect_error("year,v\n1,nan\n", "v", {":2:", "missing value"});
  expect_error("year,v\n1,inf\n", "v", {":2:", "not a finite number"});
  expect_error("year,v\n1,2\n2,3,4\n", "v", {":3:", "ragged row", "3 fields"});
  expect_error("year,v\n1,2\n", "w", {"no column named 'w'", "year, v"});
  expect_error("", "", {"empty"});
  expect_error("year,v\n", "", {"no data rows"});
  expect_error("a,b,c\n1,2,3\n", "", {"--column"});
  expect_error("year,v\n1,2\n\n2,3\n", "v", {":3:", "empty row"});
  expect_error("year,v\n1,2x\n", "v", {":2:", "'2x' is not a number"});
  EXPECT_THROW(read_csv_column("/nonexistent/rnnattn.csv", ""), DataError);
}

// A field's NUL and escape bytes are quoted visibly: the message goes on past them to the closing
// quote, and no raw control byte reaches the terminal.
TEST_F(CsvTest, ControlBytesInAFieldAreQuotedVisibly) {
  const std::string text("year,v\n1,2\n2,a\0b\x1b[31m\n", 22);
  expect_error(text, "v", {":3:", "'a\\x00b\\x1b[31m' is not a number"});
  try {
    read_csv_column(write(text), "v");
  } catch (const DataError& e) {
    for (const char c : std::string(e.what())) EXPECT_FALSE(c == 0 || c == 0x1b) << e.what();
  }
}

TEST_F(CsvTest, SeveralColumnsLabelsAndPrecision) {
  const std::string p =
      write("DATE,a,b,note\n2001-01,1.5,10,x\n2001-02,2.25,20,y\n2001-03,3,30,z\n");
  const CsvSeries s = read_csv_series(p, {"a", "B"}, "b");
  EXPECT_EQ(s.features, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.values[0], (std::vector<double>{1.5, 2.25, 3}));
  EXPECT_EQ(s.target, "b");
  EXPECT_EQ(s.target_values, (std::vector<double>{10, 20, 30}));
  EXPECT_EQ(s.label_name, "DATE");
  EXPECT_EQ(s.labels, (std::vector<std::string>{"2001-01", "2001-02", "2001-03"}));
  EXPECT_EQ(s.precision, 0);
  EXPECT_EQ(read_csv_series(p, {"a"}, "").precision, 2);  // "2.25"
  // A target alone is also the only input; no index column: the line numbers label the rows.
  const CsvSeries t = read_csv_series(write("v,w\n1,2\n3,4\n"), {}, "w");
  EXPECT_EQ(t.features, (std::vector<std::string>{"w"}));
  EXPECT_EQ(t.label_name, "line");
  EXPECT_EQ(t.labels, (std::vector<std::string>{"2", "3"}));
  expect_error("a,b\n1,2\n", "", {"choose one with --column"});
  try {
    read_csv_series(write("a,b\n1,2\n"), {"a", "b"}, "");
    FAIL() << "several inputs without a target";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("--target"), std::string::npos) << e.what();
  }
  // Only the chosen columns must be numbers.
  EXPECT_THROW(read_csv_series(write("a,b\n1,x\n"), {"a", "b"}, "a"), DataError);
  EXPECT_EQ(read_csv_series(write("a,b\n1,x\n"), {"a"}, "").target_values,
            (std::vector<double>{1}));
}

TEST(Series, SeveralFeaturesAreScaledEachOnTheTrainingPart) {
  CsvSeries cs;
  cs.path = "mem";
  cs.features = {"up", "down"};
  cs.target = "up";
  for (int i = 0; i < 30; ++i) {
    cs.values.resize(2);
    cs.values[0].push_back(i);
    cs.values[1].push_back(100 - 2 * i);
    cs.target_values.push_back(i);
    cs.labels.push_back(std::to_string(1990 + i));
  }
  const SplitData d = series_data(cs, 4);
  ASSERT_EQ(d.train.features, 2);
  ASSERT_EQ(d.feature_scalers.size(), 2u);
  // 26 windows: 18 train; the scalings see rows 0 .. 18 + 4 - 1 = 21 only.
  EXPECT_EQ(d.train.count, 18);
  EXPECT_EQ(d.feature_scalers[0].max, 21);
  EXPECT_EQ(d.feature_scalers[1].min, 100 - 42);
  // x of the first window, step 1, both features; y its target (row 4) scaled.
  EXPECT_FLOAT_EQ(d.train.x[0], 0.f);
  EXPECT_FLOAT_EQ(d.train.x[1], 1.f);
  EXPECT_FLOAT_EQ(d.train.x[2], 1.f / 21);
  EXPECT_FLOAT_EQ(d.train.y[0], 4.f / 21);
  EXPECT_EQ(d.labels[d.test.index[0] + 4], "2012");
}

TEST_F(CsvTest, ByteOrderMarkIsNotPartOfTheFirstName) {
  std::string chosen;
  const auto v = read_csv_column(write("\xEF\xBB\xBFYEAR,V\n1,2\n2,3\n"), "", &chosen);
  EXPECT_EQ(chosen, "V");  // YEAR was recognised as the index column
  EXPECT_EQ(v, (std::vector<double>{2, 3}));
  EXPECT_EQ(read_csv_column(write("\xEF\xBB\xBFv\n1\n2\n"), "v"), (std::vector<double>{1, 2}));
}

TEST_F(CsvTest, ADirectoryIsNamedAsSuch) {
  try {
    read_csv_column(dir_.path(), "");
    FAIL() << "a directory was read as a CSV file";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
}

TEST(Series, SunspotsWindowsSplitAndPersistence) {
  std::string col;
  const auto s = read_csv_column(RNNATTN_SOURCE_DIR "/data/sunspots.csv", "SUNACTIVITY", &col);
  ASSERT_EQ(s.size(), 309u);
  const SplitData d = series_data(s, 20);
  EXPECT_EQ(d.train.count, 202);
  EXPECT_EQ(d.test.count, 87);
  // The scaler saw only the values the training windows touch: s[0 .. 221].
  const double mn = *std::min_element(s.begin(), s.begin() + 222);
  const double mx = *std::max_element(s.begin(), s.begin() + 222);
  EXPECT_EQ(d.scaler.min, mn);
  EXPECT_EQ(d.scaler.max, mx);
  EXPECT_EQ(d.test.index.front(), 202);  // chronological
  // Persistence (next = last) on the test part, original units: SPEC.md says RMSE 30.6.
  double se = 0;
  for (int i = 0; i < d.test.count; ++i) {
    const double last = d.scaler.unscale(d.test.x[i * 20 + 19]);
    const double target = d.scaler.unscale(d.test.y[i]);
    EXPECT_NEAR(target, s[d.test.index[i] + 20], 1e-4 * (1 + std::fabs(target)));
    se += (target - last) * (target - last);
  }
  EXPECT_NEAR(std::sqrt(se / d.test.count), 30.6, 0.05);
}

// RFC 4180: quoted commas, doubled quotes and line breaks inside quotes; the line numbers of
// later rows count the line break.
TEST_F(CsvTest, QuotedFieldsFollowRfc4180) {
  const CsvSeries s = read_csv_series(write("YEAR,\"NOTE, long\",V\r\n1,\"a, b\",1\r\n2,\"x "
                                            "\"\"y\"\"\",2\n3,\"two\nlines\",3\n4, plain ,4\n"),
                                      {"V"}, "");
  EXPECT_EQ(s.target_values, (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(s.labels, (std::vector<std::string>{"1", "2", "3", "4"}));
  expect_error("v,w\n1,\"a\n2,3\n", "v", {":2:", "never closed"});
  expect_error("v,w\n1,\"a\"b\n", "v", {":2:", "after the closing quote"});
  expect_error("v,n\n1,\"q\nq\"\nbad,x\n", "v", {":4:", "'bad' is not a number"});
  for (const char* bad : {"0x10", "1e", "--1", "1.2.3", "infinity", ".e1"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(read_csv_column(write(std::string("v\n") + bad + "\n"), "v"), DataError);
  }
  EXPECT_EQ(read_csv_column(write("v\n+1.5\n-.25\n3.\n1E2\n"), "v"),
            (std::vector<double>{1.5, -0.25, 3, 100}));
  EXPECT_THROW(read_csv_series(write("a,b\n1,2\n"), {"a", "A"}, "a"), InvalidArgument);
}

TEST_F(CsvTest, MissingValuesDroppedOrInterpolated) {
  const std::string p = write("t,a,b\n1,,10\n2,2,NA\n3,,null\n4,8,40\n5,.,50\n");
  EXPECT_THROW(read_csv_series(p, {"a", "b"}, "b"), DataError);
  const CsvSeries drop = read_csv_series(p, {"a", "b"}, "b", Missing::kDrop);
  EXPECT_EQ(drop.missing, 5);
  EXPECT_EQ(drop.dropped_rows, 4);
  EXPECT_EQ(drop.target_values, (std::vector<double>{40}));
  EXPECT_EQ(drop.labels, (std::vector<std::string>{"5"}));  // the line of the row kept
  const CsvSeries fill = read_csv_series(p, {"a", "b"}, "b", Missing::kInterpolate);
  // a: 1 leading gap (the first value, 2), 3 between 2 and 8 (5), 5 trailing (8).
  EXPECT_EQ(fill.values[0], (std::vector<double>{2, 2, 5, 8, 8}));
  // b: rows 2 and 3 between 10 and 40.
  EXPECT_EQ(fill.target_values, (std::vector<double>{10, 20, 30, 40, 50}));
  // Only the chosen columns count.
  EXPECT_EQ(read_csv_series(p, {"t"}, "").missing, 0);
  EXPECT_THROW(read_csv_series(write("v\nNA\n\"\"\n"), {"v"}, "", Missing::kInterpolate),
               DataError);
}

// --difference windows the changes and reports levels; --scale standard scales to mean 0, sd 1
// over the training part; persistence is the last level either way.
TEST(Series, DifferencesAndStandardScaling) {
  std::vector<double> s;
  for (int i = 0; i < 40; ++i) s.push_back(100 + 2.0 * i + (i % 3));
  const SplitData lv = series_data(s, 5);
  CsvSeries cs;
  cs.path = "mem";
  cs.features = {"v"};
  cs.values = {s};
  cs.target = "v";
  cs.target_values = s;
  for (int i = 0; i < 40; ++i) cs.labels.push_back(std::to_string(i));
  const SplitData d = series_data(cs, 5, 0.7, {Scaling::kStandard, true, Missing::kError});
  EXPECT_EQ(d.row_offset, 1);
  EXPECT_EQ(d.train.count + d.test.count, 39 - 5);
  for (int i = 0; i < d.test.count; ++i) {
    const int row = d.target_row(d.test.index[i]);
    // The target is the change into `row`; to_original gives back the level.
    EXPECT_NEAR(d.scaler.unscale(d.test.y[i]), s[row] - s[row - 1], 1e-5);
    EXPECT_NEAR(d.to_original(d.test.y[i], d.test.index[i]), s[row], 1e-4);
    EXPECT_NEAR(d.scaler.unscale(d.persistence(d.test.index[i])), 0.0, 1e-9);
  }
  for (int i = 0; i < lv.test.count; ++i) {
    const int row = lv.target_row(lv.test.index[i]);
    EXPECT_NEAR(lv.scaler.unscale(lv.persistence(lv.test.index[i])), s[row - 1], 1e-9);
  }
  // Standard scaling: the training part's changes have mean 0 and standard deviation 1.
  const std::size_t n = static_cast<std::size_t>(d.train.count) + 5;
  double mean = 0, sq = 0;
  for (std::size_t k = 0; k < n; ++k) mean += d.scaler.scale(s[k + 1] - s[k]);
  mean /= n;
  for (std::size_t k = 0; k < n; ++k) sq += std::pow(d.scaler.scale(s[k + 1] - s[k]) - mean, 2);
  EXPECT_NEAR(mean, 0, 1e-12);
  EXPECT_NEAR(std::sqrt(sq / n), 1, 1e-12);
}

// Values whose range (or mean and spread) overflows a double would scale to NaN, and training would
// report a divergence: refused when the scaler is fitted, naming the range.
TEST(Series, RangesBeyondADoubleAreRefused) {
  const std::vector<double> wide = {-1e308, 0, 1e308};
  try {
    Scaler::fit(wide.data(), wide.size());
    ADD_FAILURE() << "a range beyond a double was scaled";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("values from -1e+308 to 1e+308 span more than a double"),
              std::string::npos)
        << e.what();
  }
  const std::vector<double> big = {1.5e308, 1.6e308, 1.7e308};
  EXPECT_THROW(Scaler::fit_standard(big.data(), big.size()), DataError);  // the sum overflows
  const std::vector<double> fine = {-1e307, 1e307};
  EXPECT_TRUE(std::isfinite(Scaler::fit(fine.data(), fine.size()).range()));
}

TEST(Series, EdgeLengths) {
  std::vector<double> s = {1, 2, 3, 4, 5};
  EXPECT_THROW(series_data(s, 4), DataError);  // 5 < T + 2
  const SplitData d = series_data(s, 3);       // exactly T + 2: one window each side
  EXPECT_EQ(d.train.count, 1);
  EXPECT_EQ(d.test.count, 1);
  EXPECT_THROW(series_data(std::vector<double>(10, 3.0), 3), DataError);  // constant
}

// A softmax head's targets: class numbers become one-hot rows; anything but a class 0..K-1 is
// refused, naming the source and the window.
TEST(OneHotTargets, MakesRowsAndRefusesNonClasses) {
  WindowSet w;
  w.count = 3;
  w.y = {2, 0, 1};
  one_hot_targets(w, 3, "t.csv");
  EXPECT_EQ(w.y, (std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0}));
  for (float bad : {3.f, -1.f, 0.5f, NAN}) {
    WindowSet v;
    v.count = 2;
    v.y = {0.f, bad};
    try {
      one_hot_targets(v, 3, "t.csv");
      ADD_FAILURE() << bad << " was taken for a class";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("t.csv: window 2's target"), std::string::npos)
          << e.what();
    }
  }
  WindowSet done = w;  // already [N, K]: refused, not expanded twice
  EXPECT_THROW(one_hot_targets(done, 3, "t.csv"), InvalidArgument);
}

}  // namespace
}  // namespace rnnattn
