// Text data: a tokenizer and vocabulary as Keras' Tokenizer builds them by default, labelled texts
// read from CSV, and the token-id datasets a model with an embedding (config.vocab_size) trains on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rnnattn/data.hpp"

namespace rnnattn {

// Keras' Tokenizer defaults: ASCII letters lower-cased (other characters, UTF-8 included, are kept
// as they are), the characters !"#$%&()*+,-./:;<=>?@[\]^_`{|}~ and ASCII whitespace separate
// words (the apostrophe does not: "don't" is one word), empty words dropped.
std::vector<std::string> tokenize(std::string_view text);

// Token ids: 0 is padding, 1 out-of-vocabulary, the vocabulary's words 2, 3, ... in order of
// frequency (Keras' Tokenizer(num_words=V, oov_token=...) with the same V).
constexpr int kPadToken = 0;
constexpr int kOovToken = 1;

// Where `layout` puts a text of `words` tokens in `steps` steps: its tokens
// [word0, word0 + count) at the steps [step0, step0 + count).
struct Placement {
  int word0, step0, count;
};
Placement place_words(int words, int steps, const TextLayout& layout);

class Vocabulary {
 public:
  Vocabulary() = default;
  // words[i] gets id i + 2; a word given twice or an empty word is refused (InvalidArgument).
  explicit Vocabulary(std::vector<std::string> words);
  // The (size - 2) most frequent words of the tokenized texts, ties in order of first occurrence
  // (as Keras' Tokenizer, whose counts keep insertion order and sort stably). size >= 3.
  static Vocabulary build(const std::vector<std::vector<std::string>>& texts, int size);

  int size() const { return static_cast<int>(words_.size()) + 2; }  // V, the ids 0 and 1 included
  const std::vector<std::string>& words() const { return words_; }
  int id(const std::string& word) const;  // kOovToken when not in the vocabulary
  // Ids of `words` in `steps` steps as `layout` places them (place_words), the other steps
  // kPadToken; *length gets the steps the recurrence reads: the text's with post padding, all of
  // them with pre padding. An empty text is refused by the callers (it has no steps to attend to).
  std::vector<int> encode(const std::vector<std::string>& words, int steps, int* length,
                          const TextLayout& layout = {}) const;

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, int> ids_;
};

// The byte offset of the first invalid UTF-8 sequence in `text` (overlong forms, surrogates and
// code points above U+10FFFF are invalid), or npos when it is all valid.
std::size_t invalid_utf8(std::string_view text);

// The encodings texts are read in (their bytes become UTF-8 before anything else).
enum class TextEncoding { kUtf8, kLatin1, kWindows1252 };
// "utf-8", "latin-1" (ISO-8859-1) or "windows-1252" (cp1252), in any case, with or without the
// hyphen; throws InvalidArgument naming the choices.
TextEncoding parse_text_encoding(const std::string& name);
const char* to_string(TextEncoding e);
// `bytes` read in `encoding`, as UTF-8. *bad: the offset of the first byte the encoding does not
// define (Windows-1252's 0x81, 0x8D, 0x8F, 0x90 and 0x9D; invalid UTF-8 for kUtf8), else npos.
std::string to_utf8(std::string_view bytes, TextEncoding encoding, std::size_t* bad);

// Labelled texts from a CSV file with a header row (RFC 4180, as read_csv_series).
struct TextTable {
  std::string path;
  FileStamp stamp;
  std::string text_column, label_column;  // as named in the header
  std::vector<std::string> texts;
  // The class of each row, 0..K-1 (read_csv_texts: -1 where a row has another label or none).
  std::vector<int> labels;
  std::vector<int> lines;  // the line each row starts on
  // The labels of class 0, 1, ..., K-1: as named, or the file's labels (sorted_labels' order).
  std::vector<std::string> classes;
  int dropped = 0;  // rows with another label (drop_other_labels)
};

// True for two or more labels, none empty, no two the same: the classes a model can name.
bool distinct_labels(const std::vector<std::string>& labels);

// Reads a text column and a label column. The classes: `classes` (two or more labels, class 0, 1,
// ... in that order), or where it is empty each label of the column, in numeric order where every
// label is a number (so that labels 0..K-1 are their own classes), else in sorted order. Rows with
// another label (or none) are refused with their count and first line, or dropped with
// `drop_other_labels`. Throws DataError naming the file (and the line where there is one) for
// invalid UTF-8, a missing column, an empty text, a text column that holds only numbers, labels of
// one class only, a named class no row has.
// `encoding`: the file's (UTF-8 by default; invalid UTF-8 is refused with its line, naming the
// other encodings).
TextTable read_csv_text(const std::string& path, const std::string& text_column,
                        const std::string& label_column, bool drop_other_labels = false,
                        const std::vector<std::string>& classes = {},
                        TextEncoding encoding = TextEncoding::kUtf8);

// The texts a trained model classifies: every row's text, and where the file has `label_column`
// (optional here), the labels of `classes` (the model's, as its checkpoint names them) as their
// class 0..K-1, -1 for any other label. The same checks of the file and its texts as
// read_csv_text.
TextTable read_csv_texts(const std::string& path, const std::string& text_column,
                         const std::string& label_column, const std::vector<std::string>& classes,
                         TextEncoding encoding = TextEncoding::kUtf8);

struct TextOptions {
  int vocab = 10000;  // V: the vocabulary's size, ids 0 and 1 included (Keras' num_words)
  int steps = 200;    // T: texts are padded or truncated to this many tokens
  TextLayout layout;  // at which end (default post for both; Keras pads and truncates pre)
  double train_fraction = 0.7;
  std::uint64_t seed = 1;  // the shuffle that splits the rows into train and test
};

// The rows shuffled (NumPy's permutation of the seed's low 32 bits), the first train_fraction of
// them to train, the rest to test; the vocabulary built from the training texts only. The windows
// hold token ids (WindowSet::tokens) and lengths, y each row's class 0..K-1 (one_hot_targets makes
// them a softmax head's targets); SplitData::vocabulary the words and ::classes the label names.
// `vocabulary` given (a trained model's): that one instead, with the same split. Throws DataError
// when a split would be empty.
SplitData text_data(const TextTable& table, const TextOptions& options,
                    const Vocabulary* vocabulary = nullptr);

// Texts as token windows with the vocabulary of a trained model (predict): tokens [N, steps] and
// lengths. Throws DataError naming the text (its position, from 1) that has no words.
WindowSet encode_texts(const std::vector<std::string>& texts, const Vocabulary& vocabulary,
                       int steps, const TextLayout& layout = {});

// The generated sentiment task (sentiment_data) as token ids for a model with an embedding: id
// k + 2 for the task's token k (0 padding, 1 unused), V = neutral + 2 x sentiment tokens + 2.
SplitData sentiment_token_data(const SentimentOptions& options);
int sentiment_vocab_size(const SentimentOptions& options);

}  // namespace rnnattn
