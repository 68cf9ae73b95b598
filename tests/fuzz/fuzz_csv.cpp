// libFuzzer target: the CSV reader (read_csv_series, read_csv_column) and what reads its result
// (series_data), with every option that changes parsing: no column (the only one, or the one after
// YEAR/DATE/TIME), one named column, several columns with a target, a case-insensitive name, each
// missing-value policy, differences and standard scaling; and the text reader (read_csv_text,
// read_csv_texts) with the tokenizer and text_data. The first input byte picks the columns, the
// target and the window length, the second the series options; the rest is the file.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "rnnattn/data.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t mode = data[0], prep = data[1];
  const std::string& path = rnnattn::fuzz::write_input(data + 2, size - 2);
  rnnattn::SeriesOptions options;
  options.missing = static_cast<rnnattn::Missing>(prep % 3);
  options.difference = (prep / 3) % 2;
  options.scaling = static_cast<rnnattn::Scaling>((prep / 6) % 2);
  static const std::vector<std::vector<std::string>> column_sets = {
      {}, {"a"}, {"A", "b"}, {"b", "c", "a"}, {"value"}, {"YEAR"}};
  static const std::vector<std::string> targets = {"", "a", "b", "value"};
  const auto& columns = column_sets[mode % column_sets.size()];
  const std::string& target = targets[(mode / 8) % targets.size()];
  const int steps = 1 + (mode / 32) % 8;
  try {
    const rnnattn::CsvSeries s = rnnattn::read_csv_series(path, columns, target, options.missing);
    const rnnattn::SplitData d = rnnattn::series_data(s, steps, 0.7, options);
    for (int i = 0; i < d.test.count; ++i) {  // every window's row and level must be in range
      (void)d.to_original(d.test.y[i], d.test.index[i]);
      (void)d.persistence(d.test.index[i]);
      if (d.labels.at(d.target_row(d.test.index[i])).size() > (1u << 30)) __builtin_trap();
    }
  } catch (const rnnattn::Error&) {
  }
  try {
    std::string chosen;
    const std::vector<double> v =
        rnnattn::read_csv_column(path, columns.empty() ? "" : columns[0], &chosen);
    (void)rnnattn::series_data(v, steps);
  } catch (const rnnattn::Error&) {
  }
  try {  // texts: every id within the vocabulary, every length in [1, T]
    static const char* names[] = {"a", "b", "text", "label"};
    const rnnattn::TextTable t =
        rnnattn::read_csv_text(path, names[mode % 4], names[(mode / 4) % 4], prep % 2);
    rnnattn::TextOptions o;
    o.vocab = 3 + mode % 50;
    o.steps = steps;
    const rnnattn::SplitData d = rnnattn::text_data(t, o);
    const int v = rnnattn::Vocabulary(d.vocabulary).size();
    if (v > o.vocab) __builtin_trap();
    for (const rnnattn::WindowSet* w : {&d.train, &d.test}) {
      for (int id : w->tokens) {
        if (id < 0 || id >= v) __builtin_trap();
      }
      for (int l : w->lengths) {
        if (l < 1 || l > steps) __builtin_trap();
      }
    }
    (void)rnnattn::read_csv_texts(path, names[mode % 4], names[(mode / 4) % 4], t.classes);
  } catch (const rnnattn::Error&) {
  }
  return 0;
}
