// The CSV reader (csv.hpp).
#include "csv.hpp"

#include <cctype>

#include "io.hpp"
#include "rnnattn/checkpoint.hpp"
#include "rnnattn/error.hpp"

namespace rnnattn {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

namespace {
bool is_space(char c) { return c == ' ' || c == '\t'; }
}  // namespace

std::vector<Record> parse_csv(const std::string& path, const std::string& text) {
  std::vector<Record> records;
  std::size_t i = 0;
  int line = 1;
  const std::size_t n = text.size();
  while (i < n) {
    Record r;
    r.line = line;
    for (;;) {  // one field
      while (i < n && is_space(text[i])) ++i;
      std::string f;
      if (i < n && text[i] == '"') {
        const int opened = line;
        ++i;
        for (;;) {
          if (i >= n) {
            throw DataError(path + ":" + std::to_string(opened) +
                            ": a quoted field opened here is never closed");
          }
          if (text[i] == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              f.push_back('"');
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          f.push_back(text[i++]);
        }
        while (i < n && (is_space(text[i]) || text[i] == '\r')) ++i;
        if (i < n && text[i] != ',' && text[i] != '\n') {
          throw DataError(path + ":" + std::to_string(line) +
                          ": text after the closing quote of a field");
        }
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n') f.push_back(text[i++]);
        if (!f.empty() && f.back() == '\r') f.pop_back();
        while (!f.empty() && is_space(f.back())) f.pop_back();
      }
      r.fields.push_back(std::move(f));
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < n && text[i] == '\n') {
        ++i;
        ++line;
      }
      break;
    }
    records.push_back(std::move(r));
  }
  while (!records.empty() && records.back().blank()) records.pop_back();  // trailing blank lines
  return records;
}

std::vector<Record> read_csv_file(const std::string& path, std::string* text_out,
                                  FileStamp* stamp) {
  std::string text = read_file(path);
  if (stamp) *stamp = {text.size(), fnv1a64(text.data(), text.size())};
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  std::vector<Record> records = parse_csv(path, text);
  if (records.empty()) throw DataError(path + ": the file is empty (expected a header row)");
  if (text_out) *text_out = std::move(text);
  return records;
}

int find_column(const std::vector<std::string>& header, const std::string& name) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (lower(header[i]) == lower(name)) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace rnnattn
