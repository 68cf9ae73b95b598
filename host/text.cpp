// Text data (include/rnnattn/text.hpp): the tokenizer, the vocabulary, labelled texts from CSV.
#include "rnnattn/text.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <numeric>
#include <set>

#include "csv.hpp"
#include "rnnattn/error.hpp"

namespace rnnattn {
namespace {

// Keras' Tokenizer filters ('!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n') and every ASCII space.
bool separates(unsigned char c) {
  static constexpr std::string_view kFilters = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~";
  return c == ' ' || (c >= '\t' && c <= '\r') ||
         kFilters.find(static_cast<char>(c)) != kFilters.npos;
}

bool is_number(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

int line_at(std::string_view text, std::size_t offset) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + offset, '\n'));
}

}  // namespace

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> words;
  std::string w;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (separates(c)) {
      if (!w.empty()) words.push_back(std::move(w));
      w.clear();
    } else {
      w.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : ch);
    }
  }
  if (!w.empty()) words.push_back(std::move(w));
  return words;
}

Vocabulary::Vocabulary(std::vector<std::string> words) : words_(std::move(words)) {
  for (std::size_t i = 0; i < words_.size(); ++i) {
    if (words_[i].empty())
      throw InvalidArgument("vocabulary: word " + std::to_string(i) + " is empty");
    if (!ids_.emplace(words_[i], static_cast<int>(i) + 2).second) {
      throw InvalidArgument("vocabulary: the word '" + words_[i] + "' is listed twice");
    }
  }
}

Vocabulary Vocabulary::build(const std::vector<std::vector<std::string>>& texts, int size) {
  if (size < 3) {
    throw InvalidArgument(
        "vocabulary size must be >= 3 (padding, out-of-vocabulary and a word), got " +
        std::to_string(size));
  }
  // Counts in order of first occurrence, then a stable sort by count: Keras' order.
  std::unordered_map<std::string, std::size_t> slot;
  std::vector<std::pair<std::string, long>> counts;
  for (const auto& words : texts) {
    for (const std::string& w : words) {
      const auto [it, fresh] = slot.emplace(w, counts.size());
      if (fresh) counts.emplace_back(w, 0);
      ++counts[it->second].second;
    }
  }
  std::stable_sort(counts.begin(), counts.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> words;
  for (std::size_t i = 0; i < counts.size() && static_cast<int>(i) < size - 2; ++i) {
    words.push_back(std::move(counts[i].first));
  }
  return Vocabulary(std::move(words));
}

int Vocabulary::id(const std::string& word) const {
  const auto it = ids_.find(word);
  return it == ids_.end() ? kOovToken : it->second;
}

Placement place_words(int words, int steps, const TextLayout& layout) {
  Placement p;
  p.count = std::min(words, steps);
  p.word0 = layout.truncating == PadSide::kPre ? words - p.count : 0;
  p.step0 = layout.padding == PadSide::kPre ? steps - p.count : 0;
  return p;
}

std::vector<int> Vocabulary::encode(const std::vector<std::string>& words, int steps, int* length,
                                    const TextLayout& layout) const {
  std::vector<int> ids(steps, kPadToken);
  const Placement p = place_words(static_cast<int>(words.size()), steps, layout);
  for (int k = 0; k < p.count; ++k) ids[p.step0 + k] = id(words[p.word0 + k]);
  if (length) *length = layout.padding == PadSide::kPre ? steps : p.count;
  return ids;
}

std::size_t invalid_utf8(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = byte(i);
    int extra = 0;
    unsigned cp = 0, min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return i;  // a continuation byte without a lead, or 0xF8..0xFF
    }
    if (i + extra >= s.size()) return i;  // truncated
    for (int k = 1; k <= extra; ++k) {
      if ((byte(i + k) & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += extra + 1;
  }
  return std::string_view::npos;
}

TextEncoding parse_text_encoding(const std::string& name) {
  std::string n;
  for (char c : name) {
    if (c != '-' && c != '_')
      n.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (n == "utf8") return TextEncoding::kUtf8;
  if (n == "latin1" || n == "iso88591") return TextEncoding::kLatin1;
  if (n == "windows1252" || n == "cp1252") return TextEncoding::kWindows1252;
  throw InvalidArgument("unknown text encoding '" + name + "' (utf-8, latin-1 or windows-1252)");
}

const char* to_string(TextEncoding e) {
  switch (e) {
    case TextEncoding::kLatin1:
      return "latin-1";
    case TextEncoding::kWindows1252:
      return "windows-1252";
    case TextEncoding::kUtf8:
      break;
  }
  return "utf-8";
}

namespace {

// Windows-1252's 0x80..0x9F (0: undefined); the rest of both encodings is Latin-1: U+00XX.
constexpr unsigned short kCp1252[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

bool undefined_in(TextEncoding encoding, unsigned char c) {
  return encoding == TextEncoding::kWindows1252 && c >= 0x80 && c <= 0x9F && kCp1252[c - 0x80] == 0;
}

// The offset of the first byte `encoding` does not define (invalid UTF-8 for kUtf8), or npos;
// nothing is copied.
std::size_t first_undefined(std::string_view bytes, TextEncoding encoding) {
  if (encoding == TextEncoding::kUtf8) return invalid_utf8(bytes);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (undefined_in(encoding, static_cast<unsigned char>(bytes[i]))) return i;
  }
  return std::string_view::npos;
}

}  // namespace

std::string to_utf8(std::string_view bytes, TextEncoding encoding, std::size_t* bad) {
  *bad = first_undefined(bytes, encoding);
  if (encoding == TextEncoding::kUtf8) return std::string(bytes);
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 8);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    unsigned cp = c;
    if (undefined_in(encoding, c)) continue;  // *bad says where the first one is
    if (encoding == TextEncoding::kWindows1252 && c >= 0x80 && c <= 0x9F) cp = kCp1252[c - 0x80];
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

namespace {

// "'a', 'b' and 'c'" of the first `most` labels ("... and N more" past them).
std::string quoted_labels(const std::map<std::string, long>& counts, std::size_t most = 8) {
  std::string s;
  std::size_t i = 0;
  for (const auto& [label, n] : counts) {
    if (i == most) return s + " and " + std::to_string(counts.size() - most) + " more";
    s += (i == 0 ? "'" : i + 1 == counts.size() ? " and '" : ", '") + label + "'";
    ++i;
  }
  return s;
}

// The labels as classes 0, 1, ...: in numeric order where every label is a number ("2" before
// "10", so that numeric labels 0..K-1 are their own classes), else in sorted (byte) order.
std::vector<std::string> sorted_labels(const std::map<std::string, long>& counts) {
  std::vector<std::pair<double, std::string>> labels;
  bool numbers = true;
  for (const auto& entry : counts) {
    const double v = std::strtod(entry.first.c_str(), nullptr);
    labels.emplace_back(v, entry.first);
    numbers = numbers && is_number(entry.first) && std::isfinite(v);
  }
  // Equal values ("1" and "1.0") keep their byte order: the sort is stable.
  if (numbers) {
    std::stable_sort(labels.begin(), labels.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  std::vector<std::string> names;
  for (auto& l : labels) names.push_back(std::move(l.second));
  return names;
}

// read_csv_text (classes empty: inferred; other labels refused or dropped) and read_csv_texts
// (keep_others: classes given, the label column optional, other labels kept as -1).
TextTable read_texts(const std::string& path, const std::string& text_column,
                     const std::string& label_column, bool drop_other_labels,
                     const std::vector<std::string>& named, bool keep_others,
                     TextEncoding encoding) {
  std::string text;
  FileStamp stamp;
  std::vector<Record> records = read_csv_file(path, &text, &stamp);
  // Both other encodings are ASCII's superset, as the CSV's commas, quotes and line breaks are:
  // the fields are parsed from the file's bytes, then made UTF-8.
  std::size_t bad = first_undefined(text, encoding);
  if (bad != std::string_view::npos) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(text[bad]));
    const std::string where = path + ":" + std::to_string(line_at(text, bad)) + ": ";
    if (encoding == TextEncoding::kUtf8) {
      throw DataError(where + "invalid UTF-8 (byte " + hex +
                      "); texts are read as UTF-8 unless --encoding latin-1 or windows-1252 says "
                      "otherwise");
    }
    throw DataError(where + "byte " + hex + " is no " + to_string(encoding) + " character");
  }
  if (encoding != TextEncoding::kUtf8) {
    for (Record& rec : records) {
      for (std::string& f : rec.fields) f = to_utf8(f, encoding, &bad);
    }
  }
  const std::vector<std::string>& header = records[0].fields;
  const auto column = [&](const std::string& name, const char* flag) {
    if (name.empty()) throw InvalidArgument(std::string("text data needs ") + flag + " NAME");
    const int c = find_column(header, name);
    if (c < 0) {
      throw DataError(path + ":1: no column named '" + name + "' (columns: " + join(header) + ")");
    }
    return c;
  };
  const int tc = column(text_column, "--text-column");
  int lc = -1;
  if (!keep_others) {
    lc = column(label_column, "--label-column");
  } else if (!label_column.empty()) {
    lc = find_column(header, label_column);  // optional: new texts need no labels
  }
  if (tc == lc) throw InvalidArgument("the text and label columns are the same column");
  TextTable t;
  t.path = path;
  t.stamp = stamp;
  t.text_column = header[tc];
  if (lc >= 0) t.label_column = header[lc];

  // The rows, and the labels' counts.
  std::vector<const Record*> rows;
  std::map<std::string, long> label_counts;  // sorted by label
  for (std::size_t r = 1; r < records.size(); ++r) {
    const Record& rec = records[r];
    if (rec.blank()) continue;
    if (rec.fields.size() != header.size()) {
      throw DataError(path + ":" + std::to_string(rec.line) + ": " +
                      std::to_string(rec.fields.size()) + " fields, the header has " +
                      std::to_string(header.size()));
    }
    rows.push_back(&rec);
    if (lc >= 0) ++label_counts[rec.fields[lc]];
  }
  if (rows.empty()) throw DataError(path + ": no rows after the header");
  label_counts.erase("");  // a row without a label has another label
  if (!named.empty()) {
    t.classes = named;
    for (const std::string& c : named) {
      if (!keep_others && !label_counts.count(c)) {
        throw DataError(path + ": no row has the label '" + c + "' in column '" + t.label_column +
                        "' (its labels: " + quoted_labels(label_counts) + ")");
      }
    }
  } else if (label_counts.size() < 2) {
    throw DataError(path + ": column '" + t.label_column + "' has " +
                    (label_counts.empty()
                         ? std::string("no labels")
                         : "one label only ('" + label_counts.begin()->first + "')") +
                    "; a classifier needs two classes or more");
  } else {
    t.classes = sorted_labels(label_counts);
  }
  std::map<std::string, int> class_of;
  for (std::size_t k = 0; k < t.classes.size(); ++k) class_of[t.classes[k]] = static_cast<int>(k);
  int others = 0, first_other = 0;
  bool all_numbers = true;
  for (const Record* rec : rows) {
    int cls = -1;
    if (lc >= 0) {
      const auto it = class_of.find(rec->fields[lc]);
      if (it != class_of.end()) cls = it->second;
    }
    if (cls < 0 && !keep_others) {
      if (others++ == 0) first_other = rec->line;
      continue;
    }
    const std::string& body = rec->fields[tc];
    if (tokenize(body).empty()) {
      throw DataError(path + ":" + std::to_string(rec->line) + ": the text in column '" +
                      t.text_column + "' is empty (no words)");
    }
    all_numbers = all_numbers && is_number(body);
    t.texts.push_back(body);
    t.labels.push_back(cls);
    t.lines.push_back(rec->line);
  }
  if (others > 0 && !drop_other_labels) {
    std::string named_classes;  // in class order
    for (std::size_t k = 0; k < t.classes.size(); ++k) {
      named_classes += (k == 0                      ? "'"
                        : k + 1 == t.classes.size() ? " and '"
                                                    : ", '") +
                       t.classes[k] + "'";
    }
    throw DataError(path + ":" + std::to_string(first_other) + ": " + std::to_string(others) +
                    " row" + (others > 1 ? "s have" : " has") + " a label other than " +
                    named_classes + " in column '" + t.label_column +
                    "' (first here); --drop-other-labels drops them");
  }
  t.dropped = others;
  if (t.texts.empty()) throw DataError(path + ": no rows with any of the classes' labels");
  if (all_numbers) {
    throw DataError(path + ": column '" + t.text_column +
                    "' holds numbers only, not text; is it the right --text-column?");
  }
  return t;
}

}  // namespace

bool distinct_labels(const std::vector<std::string>& labels) {
  std::set<std::string> seen;
  for (const std::string& l : labels) {
    if (l.empty() || !seen.insert(l).second) return false;
  }
  return labels.size() >= 2;
}

TextTable read_csv_text(const std::string& path, const std::string& text_column,
                        const std::string& label_column, bool drop_other_labels,
                        const std::vector<std::string>& classes, TextEncoding encoding) {
  if (!classes.empty() && !distinct_labels(classes)) {
    throw InvalidArgument(
        "the classes to train on are two or more different labels, class 0, 1, ... in order");
  }
  return read_texts(path, text_column, label_column, drop_other_labels, classes, false, encoding);
}

TextTable read_csv_texts(const std::string& path, const std::string& text_column,
                         const std::string& label_column, const std::vector<std::string>& classes,
                         TextEncoding encoding) {
  if (!distinct_labels(classes)) {
    throw InvalidArgument(
        "read_csv_texts: the model's class names (two or more, different) are needed");
  }
  return read_texts(path, text_column, label_column, false, classes, true, encoding);
}

namespace {

WindowSet token_windows(const std::vector<std::vector<std::string>>& words,
                        const std::vector<int>& rows, const Vocabulary& vocab, int steps,
                        const TextLayout& layout) {
  WindowSet w;
  w.count = static_cast<int>(rows.size());
  w.steps = steps;
  w.features = 0;  // token ids, no features
  for (const int r : rows) {
    int len = 0;
    const std::vector<int> ids = vocab.encode(words[r], steps, &len, layout);
    w.tokens.insert(w.tokens.end(), ids.begin(), ids.end());
    w.lengths.push_back(len);
    w.index.push_back(r);
  }
  return w;
}

}  // namespace

SplitData text_data(const TextTable& table, const TextOptions& o, const Vocabulary* given) {
  if (o.steps < 1) throw InvalidArgument("steps (T) must be >= 1, got " + std::to_string(o.steps));
  if (!(o.train_fraction > 0.0 && o.train_fraction < 1.0)) {
    throw InvalidArgument("train fraction must be in (0, 1), got " +
                          std::to_string(o.train_fraction));
  }
  const int n = static_cast<int>(table.texts.size());
  if (n < 2) {
    throw DataError(table.path + ": " + std::to_string(n) +
                    " labelled text(s); training and testing need at least 2");
  }
  std::vector<std::vector<std::string>> words;
  for (const std::string& s : table.texts) words.push_back(tokenize(s));
  const std::vector<int> perm = numpy_permutation(n, static_cast<std::uint32_t>(o.seed));
  const int n_train = std::clamp(static_cast<int>(o.train_fraction * n), 1, n - 1);
  std::vector<int> train(perm.begin(), perm.begin() + n_train),
      test(perm.begin() + n_train, perm.end());
  std::vector<std::vector<std::string>> train_words;
  for (const int r : train) train_words.push_back(words[r]);
  const Vocabulary vocab = given ? *given : Vocabulary::build(train_words, o.vocab);

  SplitData d;
  d.source = table.path;
  d.stamp = table.stamp;
  d.column = table.label_column;
  d.text_column = table.text_column;
  d.classes = table.classes;
  d.vocabulary = vocab.words();
  d.label_name = "line";
  for (const int line : table.lines) d.labels.push_back(std::to_string(line));
  d.text_layout = o.layout;
  d.train = token_windows(words, train, vocab, o.steps, o.layout);
  d.test = token_windows(words, test, vocab, o.steps, o.layout);
  for (const int r : train) d.train.y.push_back(static_cast<float>(table.labels[r]));
  for (const int r : test) d.test.y.push_back(static_cast<float>(table.labels[r]));
  if (table.dropped > 0) {
    d.note = "dropped " + std::to_string(table.dropped) + " row" + (table.dropped > 1 ? "s" : "") +
             " with another label";
  }
  return d;
}

WindowSet encode_texts(const std::vector<std::string>& texts, const Vocabulary& vocab, int steps,
                       const TextLayout& layout) {
  std::vector<std::vector<std::string>> words;
  std::vector<int> rows;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (const std::size_t bad = invalid_utf8(texts[i]); bad != std::string_view::npos) {
      throw DataError("text " + std::to_string(i + 1) + ": invalid UTF-8 at byte " +
                      std::to_string(bad));
    }
    words.push_back(tokenize(texts[i]));
    if (words.back().empty()) throw DataError("text " + std::to_string(i + 1) + " has no words");
    rows.push_back(static_cast<int>(i));
  }
  return token_windows(words, rows, vocab, steps, layout);
}

int sentiment_vocab_size(const SentimentOptions& o) {
  return o.neutral_tokens + 2 * o.sentiment_tokens + 2;
}

SplitData sentiment_token_data(const SentimentOptions& o) {
  std::vector<int> ids;  // [train + test, T], -1 on padding
  SplitData d = sentiment_data(o, &ids);
  const std::size_t T = o.max_length;
  auto to_tokens = [&](WindowSet& w, std::size_t first) {
    w.x.clear();
    w.x.shrink_to_fit();
    w.features = 0;
    w.tokens.resize(static_cast<std::size_t>(w.count) * T);
    for (std::size_t k = 0; k < w.tokens.size(); ++k) {
      const int id = ids[first * T + k];
      w.tokens[k] = id < 0 ? kPadToken : id + 2;
    }
  };
  to_tokens(d.train, 0);
  to_tokens(d.test, static_cast<std::size_t>(o.train));
  return d;
}

}  // namespace rnnattn
