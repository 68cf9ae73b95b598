// Checkpoint writer and reader. Layout (little-endian), documented in docs/checkpoint-format.md:
//   magic "RNNATTN\0" | u32 version | config | adam config | counters | scaler | strings |
//   u64 n | f32 params[n] | f32 m[n] | f32 v[n] | u64 FNV-1a 64 checksum of every byte before it
// (version 1 files used a non-standard offset basis and are still read).
#include "rnnattn/checkpoint.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "io.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/text.hpp"

namespace rnnattn {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "checkpoints assume a little-endian host");

constexpr char kMagic[8] = {'R', 'N', 'N', 'A', 'T', 'T', 'N', '\0'};
constexpr std::uint32_t kMaxString = 4096;

// Format version 1 started FNV-1a from 1469598103934665603, a digit short of the published offset
// basis; version 2 uses the standard one. Version 1 files are still read, with the basis they used.
constexpr std::uint64_t kFnvOffsetBasis = 14695981039346656037ull;
constexpr std::uint64_t kVersion1Basis = 1469598103934665603ull;

std::uint64_t fnv1a_from(std::uint64_t h, const char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 1099511628211ull;  // the FNV 64-bit prime
  }
  return h;
}

class Writer {
 public:
  template <typename T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    buf.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put_string(const std::string& s) {
    put(static_cast<std::uint32_t>(s.size()));
    buf += s;
  }
  void put_floats(const std::vector<float>& v) {
    buf.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  }
  std::string buf;
};

class Reader {
 public:
  Reader(const std::string& path, const std::string& buf, std::size_t end)
      : path_(path), buf_(buf), end_(end) {}
  template <typename T>
  T get() {
    T v;
    need(sizeof v);
    std::memcpy(&v, buf_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string get_string(const char* what) {
    const std::uint32_t n = get<std::uint32_t>();
    if (n > kMaxString) {
      throw CheckpointError(path_ + ": corrupted checkpoint: " + what + " length " +
                            std::to_string(n));
    }
    need(n);
    std::string s = buf_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  void get_floats(std::vector<float>& v, std::size_t n) {
    need(n * sizeof(float));
    v.resize(n);
    std::memcpy(v.data(), buf_.data() + pos_, n * sizeof(float));
    pos_ += n * sizeof(float);
  }
  std::size_t pos() const { return pos_; }

 private:
  void need(std::size_t n) {
    if (pos_ + n > end_) {
      throw CheckpointError(path_ + ": truncated checkpoint (" + std::to_string(buf_.size()) +
                            " bytes; the data stops in the middle of a field)");
    }
  }
  const std::string& path_;
  const std::string& buf_;
  std::size_t pos_ = 0, end_;
};

}  // namespace

std::uint64_t fnv1a64(const void* data, std::size_t n) {
  return fnv1a_from(kFnvOffsetBasis, static_cast<const char*>(data), n);
}

namespace {

// What makes a checkpoint's numbers unusable, or "": a parameter or Adam moment that is not
// finite (or a negative second moment, whose square root Adam takes), a scaling that is not a
// finite, non-empty range, a negative step or epoch count. Loading refuses such a file (a NaN
// weight would make every prediction NaN, silently), and saving refuses to write one (a run that
// diverged): found by fuzzing load_checkpoint.
std::string unusable_numbers(const Checkpoint& ck) {
  const Model& m = ck.model;
  const auto at = [](const char* what, std::size_t i, std::size_t n, float v) {
    return std::string(what) + " " + std::to_string(i) + " of " + std::to_string(n) + " is " +
           std::to_string(v);
  };
  for (std::size_t i = 0; i < m.params.size(); ++i) {
    if (!std::isfinite(m.params[i])) return at("parameter", i, m.params.size(), m.params[i]);
  }
  for (std::size_t i = 0; i < m.adam.m.size(); ++i) {
    if (!std::isfinite(m.adam.m[i]))
      return at("Adam's first moment", i, m.adam.m.size(), m.adam.m[i]);
  }
  for (std::size_t i = 0; i < m.adam.v.size(); ++i) {
    if (!std::isfinite(m.adam.v[i]) || m.adam.v[i] < 0.f) {
      return at("Adam's second moment", i, m.adam.v.size(), m.adam.v[i]) +
             " (must be finite and >= 0)";
    }
  }
  const auto bad_range = [](const Scaler& sc) {
    return !std::isfinite(sc.min) || !std::isfinite(sc.max) || !(sc.max > sc.min);
  };
  if (bad_range(ck.scaler)) return "the target's scaling range is not a finite, non-empty range";
  for (const Scaler& sc : ck.feature_scalers) {
    if (bad_range(sc)) return "an input column's scaling range is not a finite, non-empty range";
  }
  if (m.adam.step < 0) return "the Adam step count is negative";
  if (m.epochs_trained < 0) return "the epoch count is negative";
  return "";
}

// What makes the version 5 fields inconsistent, or "".
std::string unusable_record(const Checkpoint& ck) {
  const TrainingRecord& t = ck.training;
  if (static_cast<std::uint8_t>(ck.series.scaling) > 1) return "an unknown scaling";
  if (static_cast<std::uint8_t>(ck.series.missing) > 2) return "an unknown missing-value policy";
  if (t.batch_size < 1) return "the batch size " + std::to_string(t.batch_size) + " is below 1";
  if (!(t.validation_split >= 0 && t.validation_split < 1)) {
    return "the validation split is not in [0, 1)";
  }
  if (t.sentiment_train < 0 || t.sentiment_test < 0) return "a negative number of sequences";
  if (ck.data_stamp.recorded() &&
      (ck.data_source.empty() || ck.data_source == "fib" || ck.data_source == "sentiment")) {
    return "a data file's size and hash without a data file";
  }
  const TextRecord& x = ck.text;
  if (x.classes.size() == 1) return "the text record names one class";
  if (x.classes.size() > 2 &&
      x.classes.size() != static_cast<std::size_t>(ck.model.config.output_size)) {
    return std::to_string(x.classes.size()) + " class names for a head of " +
           std::to_string(ck.model.config.output_size) + " outputs";
  }
  if (!x.vocabulary.empty()) {
    if (!ck.model.config.embedded()) return "a vocabulary for a model without an embedding";
    if (x.vocabulary.size() + 2 > static_cast<std::size_t>(ck.model.config.vocab_size)) {
      return std::to_string(x.vocabulary.size()) +
             " words for a vocabulary of V = " + std::to_string(ck.model.config.vocab_size) +
             " ids (ids 0 and 1 are reserved)";
    }
    try {
      Vocabulary check(x.vocabulary);
    } catch (const InvalidArgument& e) {
      return e.what();
    }
  }
  auto long_string = [](const std::string& s) { return s.size() > kMaxString; };
  if (long_string(x.column) || std::any_of(x.classes.begin(), x.classes.end(), long_string) ||
      std::any_of(x.vocabulary.begin(), x.vocabulary.end(), long_string)) {
    return "a text column, class name or word longer than 4096 bytes";
  }
  return "";
}

}  // namespace

void check_checkpoint(const Checkpoint& ck) {
  const Model& m = ck.model;
  const std::size_t n = ParamLayout(m.config).size();
  if (m.params.size() != n) {
    throw InvalidArgument("checkpoint: params holds " + std::to_string(m.params.size()) +
                          " values, the model has " + std::to_string(n));
  }
  if (m.adam.m.size() != n || m.adam.v.size() != n) {
    throw InvalidArgument("checkpoint: optimiser state does not match the " + std::to_string(n) +
                          " parameters");
  }
  if (ck.data_source.size() > kMaxString || ck.column.size() > kMaxString) {
    throw InvalidArgument("checkpoint: data source or column name longer than 4096 bytes");
  }
  if (const std::string bad = unusable_numbers(ck); !bad.empty()) {
    throw InvalidArgument("checkpoint: " + bad + "; nothing was written");
  }
  if (ck.features.size() != ck.feature_scalers.size() ||
      (!ck.features.empty() && static_cast<int>(ck.features.size()) != m.config.input_size)) {
    throw InvalidArgument("checkpoint: " + std::to_string(ck.features.size()) +
                          " input columns with " + std::to_string(ck.feature_scalers.size()) +
                          " scalings for a model with D = " + std::to_string(m.config.input_size));
  }
  for (const std::string& f : ck.features) {
    if (f.size() > kMaxString) throw InvalidArgument("checkpoint: a column name is too long");
  }
  if (const std::string bad = unusable_record(ck); !bad.empty()) {
    throw InvalidArgument("checkpoint: " + bad + "; nothing was written");
  }
}

std::string checkpoint_bytes(const Checkpoint& ck) {
  check_checkpoint(ck);
  const Model& m = ck.model;
  const std::size_t n = m.params.size();
  Writer w;
  w.buf.append(kMagic, sizeof kMagic);
  w.put<std::uint32_t>(kCheckpointVersion);
  const ModelConfig& c = m.config;
  w.put<std::uint32_t>(c.input_size);
  w.put<std::uint32_t>(c.hidden_size);
  w.put<std::uint32_t>(c.steps);
  w.put<std::uint32_t>(c.output_size);
  // 0 plain; 1 additive attention; version 10: 2 dot-product, 3 dot-product with use_scale
  w.put<std::uint8_t>(c.attention ? 1 + static_cast<std::uint8_t>(c.score) : 0);
  // 0 tanh, 1 linear, 2 sigmoid; version 11: 3 softmax
  w.put<std::uint8_t>(static_cast<std::uint8_t>(c.head));
  w.put<std::uint8_t>(static_cast<std::uint8_t>(c.loss));  // 0 MSE, 1 BCE; version 11: 2 CCE
  w.put<std::uint8_t>(0);                                  // reserved
  w.put<std::uint32_t>(c.layers);                          // version 4: the recurrent structure
  w.put<std::uint8_t>(c.bidirectional ? 1 : 0);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(c.cell));  // 0 Elman, 1 LSTM, 2 GRU (version 6)
  w.put<std::uint16_t>(0);                                 // reserved
  w.put<std::uint32_t>(c.vocab_size);                      // version 7: V, 0 without an embedding
  w.put<float>(c.dropout);                                 // version 10: the context's dropout
  w.put<float>(c.input_dropout);      // version 12: the recurrent layers' input dropout
  w.put<float>(c.recurrent_dropout);  // and recurrent dropout
  w.put<float>(m.adam_config.learning_rate);
  w.put<float>(m.adam_config.beta1);
  w.put<float>(m.adam_config.beta2);
  w.put<float>(m.adam_config.epsilon);
  w.put<std::int64_t>(m.adam.step);
  w.put<std::int64_t>(m.epochs_trained);
  w.put<double>(ck.scaler.min);
  w.put<double>(ck.scaler.max);
  w.put_string(ck.data_source);
  w.put_string(ck.column);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(ck.features.size()));
  for (std::size_t i = 0; i < ck.features.size(); ++i) {
    w.put_string(ck.features[i]);
    w.put<double>(ck.feature_scalers[i].min);
    w.put<double>(ck.feature_scalers[i].max);
  }
  // Version 5: the training record and how the series was prepared.
  const TrainingRecord& t = ck.training;
  w.put<std::uint8_t>(t.recorded ? 1 : 0);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(ck.series.scaling));
  w.put<std::uint8_t>(ck.series.difference ? 1 : 0);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(ck.series.missing));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(t.batch_size));
  w.put<std::uint64_t>(t.seed);
  w.put<double>(t.validation_split);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(t.sentiment_train));
  w.put<std::uint32_t>(static_cast<std::uint32_t>(t.sentiment_test));
  // Version 7: the text the model reads.
  w.put_string(ck.text.column);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(ck.text.classes.size()));
  for (const std::string& s : ck.text.classes) w.put_string(s);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(ck.text.vocabulary.size()));
  for (const std::string& s : ck.text.vocabulary) w.put_string(s);
  // Version 8: the data file as trained on.
  w.put<std::uint64_t>(ck.data_stamp.bytes);
  w.put<std::uint64_t>(ck.data_stamp.hash);
  // Version 9: where the texts' tokens go (0 post, 1 pre).
  w.put<std::uint8_t>(static_cast<std::uint8_t>(ck.text.layout.padding));
  w.put<std::uint8_t>(static_cast<std::uint8_t>(ck.text.layout.truncating));
  w.put<std::uint64_t>(n);
  w.put_floats(m.params);
  w.put_floats(m.adam.m);
  w.put_floats(m.adam.v);
  w.put<std::uint64_t>(fnv1a64(w.buf.data(), w.buf.size()));
  return std::move(w.buf);
}

void record_data(Checkpoint& ck, const SplitData& d) {
  ck.scaler = d.scaler;
  ck.data_source = d.source;
  ck.data_stamp = d.stamp;
  ck.column = d.column;
  if (d.source != "fib") {
    ck.features = d.features;
    ck.feature_scalers = d.feature_scalers;
  }
  ck.series = d.series;
  if (d.source == "sentiment") {
    ck.training.sentiment_train = d.train.count;
    ck.training.sentiment_test = d.test.count;
  }
  ck.text.column = d.text_column;
  ck.text.classes = d.classes;
  ck.text.vocabulary = d.vocabulary;
  ck.text.layout = d.text_layout;
}

void save_checkpoint(const std::string& path, const Checkpoint& ck) {
  const std::string bytes = checkpoint_bytes(ck);
  try {
    write_file_atomic(path, bytes);
  } catch (const CheckpointError&) {
    throw;
  } catch (const Error& e) {  // the file system's refusal is the checkpoint's error, as documented
    throw CheckpointError(e.what());
  }
}

namespace {

// The input-column table (version 3 on): each column's name and scaling.
void read_input_columns(Reader& r, const std::string& path, Checkpoint& ck) {
  const std::uint32_t f = r.get<std::uint32_t>();
  if (f > 4096)
    throw CheckpointError(path + ": corrupted checkpoint: " + std::to_string(f) + " columns");
  for (std::uint32_t i = 0; i < f; ++i) {
    ck.features.push_back(r.get_string("input column name"));
    Scaler sc;
    sc.min = r.get<double>();
    sc.max = r.get<double>();
    ck.feature_scalers.push_back(sc);
  }
}

// The text record (version 7 on): the text column, the class names (none or two; version 11: up
// to the head's largest O) and the vocabulary.
void read_text_record(Reader& r, const std::string& path, std::uint32_t version, TextRecord& x) {
  x.column = r.get_string("text column");
  const std::uint32_t k = r.get<std::uint32_t>();
  if (k == 1 || (version < 11 && k > 2) || k > (1u << 16)) {
    throw CheckpointError(path + ": corrupted checkpoint: " + std::to_string(k) + " class names");
  }
  for (std::uint32_t i = 0; i < k; ++i) x.classes.push_back(r.get_string("class name"));
  const std::uint32_t w = r.get<std::uint32_t>();
  if (w > (1u << 22)) {
    throw CheckpointError(path + ": corrupted checkpoint: " + std::to_string(w) + " words");
  }
  for (std::uint32_t i = 0; i < w; ++i) x.vocabulary.push_back(r.get_string("vocabulary word"));
}

// The magic bytes, and a file long enough to hold them and the version.
void check_magic(const std::string& path, const std::string& buf) {
  if (buf.size() < sizeof kMagic + 4) {
    if (buf.size() >= sizeof kMagic && std::memcmp(buf.data(), kMagic, sizeof kMagic) != 0) {
      throw CheckpointError(path + ": not an rnnattn checkpoint (wrong magic bytes)");
    }
    throw CheckpointError(path + ": truncated checkpoint (" + std::to_string(buf.size()) +
                          " bytes)");
  }
  if (std::memcmp(buf.data(), kMagic, sizeof kMagic) != 0) {
    throw CheckpointError(path + ": not an rnnattn checkpoint (wrong magic bytes)");
  }
}

void check_version(const std::string& path, std::uint32_t version) {
  if (version > kCheckpointVersion) {
    throw CheckpointError(path + ": checkpoint format version " + std::to_string(version) +
                          " is newer than this rnnattn reads (up to " +
                          std::to_string(kCheckpointVersion) + "); upgrade rnnattn");
  }
  if (version == 0) throw CheckpointError(path + ": corrupted checkpoint: format version 0");
}

// The file's size against what its header describes (n parameters after the header's `pos`
// bytes, three arrays of them and the checksum), then the checksum. A damaged header could send
// the reader anywhere: the sizes are checked before they are trusted.
void check_extent_and_checksum(const std::string& path, const std::string& buf, std::size_t pos,
                               std::uint64_t n, std::uint32_t version) {
  const std::uint64_t expected = pos + 3 * n * sizeof(float) + 8;
  if (n > (std::uint64_t{1} << 40) || buf.size() < expected) {
    throw CheckpointError(path + ": truncated checkpoint (" + std::to_string(buf.size()) +
                          " bytes; its header describes " +
                          (n > (std::uint64_t{1} << 40) ? std::string("an impossible size")
                                                        : std::to_string(expected) + " bytes") +
                          ")");
  }
  if (buf.size() > expected) {
    throw CheckpointError(path + ": corrupted checkpoint (" +
                          std::to_string(buf.size() - expected) +
                          " unexpected bytes after the data)");
  }
  const std::size_t body = buf.size() - 8;
  std::uint64_t stored;
  std::memcpy(&stored, buf.data() + body, sizeof stored);
  const std::uint64_t basis = version == 1 ? kVersion1Basis : kFnvOffsetBasis;
  if (stored != fnv1a_from(basis, buf.data(), body)) {
    throw CheckpointError(path + ": corrupted checkpoint (checksum mismatch)");
  }
}

}  // namespace

Checkpoint load_checkpoint(const std::string& path) {
  std::string buf;
  try {
    buf = read_file(path);
  } catch (const DataError& e) {
    throw CheckpointError(e.what());
  }
  check_magic(path, buf);
  // The checksum occupies the last 8 bytes; fields are read from what precedes it.
  const std::size_t body = buf.size() >= 8 ? buf.size() - 8 : 0;
  Reader r(path, buf, body);
  (void)r.get<std::array<char, 8>>();
  const std::uint32_t version = r.get<std::uint32_t>();
  check_version(path, version);

  Checkpoint ck;
  ck.format_version = version;
  Model& m = ck.model;
  ModelConfig& c = m.config;
  // A dimension as stored (unsigned): one past int's range is named as it is, not as a negative.
  const auto dimension = [&](const char* name) {
    const std::uint32_t v = r.get<std::uint32_t>();
    if (v > static_cast<std::uint32_t>(std::numeric_limits<int>::max())) {
      throw CheckpointError(path + ": invalid checkpoint: " + name + " = " + std::to_string(v));
    }
    return static_cast<int>(v);
  };
  c.input_size = dimension("D");
  c.hidden_size = dimension("H");
  c.steps = dimension("T");
  c.output_size = dimension("O");
  const auto attention = r.get<std::uint8_t>();
  const auto head = r.get<std::uint8_t>();
  const auto loss = r.get<std::uint8_t>();
  (void)r.get<std::uint8_t>();
  std::uint32_t layers = 1;
  std::uint8_t bidirectional = 0, cell = 0;
  if (version >= 4) {
    layers = r.get<std::uint32_t>();
    bidirectional = r.get<std::uint8_t>();
    cell = r.get<std::uint8_t>();
    (void)r.get<std::uint16_t>();
  }
  std::uint32_t vocab = 0;
  if (version >= 7) vocab = r.get<std::uint32_t>();
  const float dropout = version >= 10 ? r.get<float>() : 0.f;
  const float input_dropout = version >= 12 ? r.get<float>() : 0.f;
  const float recurrent_dropout = version >= 12 ? r.get<float>() : 0.f;
  m.adam_config.learning_rate = r.get<float>();
  m.adam_config.beta1 = r.get<float>();
  m.adam_config.beta2 = r.get<float>();
  m.adam_config.epsilon = r.get<float>();
  m.adam.step = r.get<std::int64_t>();
  m.epochs_trained = r.get<std::int64_t>();
  ck.scaler.min = r.get<double>();
  ck.scaler.max = r.get<double>();
  ck.data_source = r.get_string("data source");
  ck.column = r.get_string("column name");
  if (version >= 3) read_input_columns(r, path, ck);
  std::uint8_t recorded = 0, scaling = 0, difference = 0, missing = 0;
  if (version >= 5) {
    recorded = r.get<std::uint8_t>();
    scaling = r.get<std::uint8_t>();
    difference = r.get<std::uint8_t>();
    missing = r.get<std::uint8_t>();
    TrainingRecord& t = ck.training;
    t.batch_size = static_cast<int>(std::min<std::uint32_t>(r.get<std::uint32_t>(), 1u << 30));
    t.seed = r.get<std::uint64_t>();
    t.validation_split = r.get<double>();
    t.sentiment_train = static_cast<int>(std::min<std::uint32_t>(r.get<std::uint32_t>(), 1u << 30));
    t.sentiment_test = static_cast<int>(std::min<std::uint32_t>(r.get<std::uint32_t>(), 1u << 30));
  }
  if (version >= 7) read_text_record(r, path, version, ck.text);
  if (version >= 8) {
    ck.data_stamp.bytes = r.get<std::uint64_t>();
    ck.data_stamp.hash = r.get<std::uint64_t>();
  }
  std::uint8_t padding = 0, truncating = 0;
  if (version >= 9) {
    padding = r.get<std::uint8_t>();
    truncating = r.get<std::uint8_t>();
  }
  const std::uint64_t n = r.get<std::uint64_t>();
  check_extent_and_checksum(path, buf, r.pos(), n, version);
  if (attention > (version >= 10 ? 3 : 1) || head > (version >= 11 ? 3 : 2) ||
      loss > (version >= 11 ? 2 : 1) || bidirectional > 1 || recorded > 1 || scaling > 1 ||
      difference > 1 || missing > 2 || padding > 1 || truncating > 1) {
    throw CheckpointError(path + ": corrupted checkpoint (bad model flags)");
  }
  if (cell > 2 || (version < 6 && cell != 0)) {
    throw CheckpointError(path + ": invalid checkpoint: recurrent cell " + std::to_string(cell) +
                          " is not one format version " + std::to_string(version) +
                          " knows (0: Elman" + (version >= 6 ? ", 1: LSTM, 2: GRU)" : ")"));
  }
  c.cell = static_cast<Cell>(cell);
  c.vocab_size = static_cast<int>(std::min<std::uint32_t>(vocab, 1u << 30));
  ck.training.recorded = recorded == 1;
  ck.series.scaling = static_cast<Scaling>(scaling);
  ck.series.difference = difference == 1;
  ck.series.missing = static_cast<Missing>(missing);
  ck.text.layout.padding = static_cast<PadSide>(padding);
  ck.text.layout.truncating = static_cast<PadSide>(truncating);
  if (const std::string bad = unusable_record(ck); !bad.empty()) {
    throw CheckpointError(path + ": invalid checkpoint: " + bad);
  }
  c.layers = static_cast<int>(std::min<std::uint32_t>(layers, 1u << 20));
  c.bidirectional = bidirectional == 1;
  c.dropout = dropout;  // validate() below refuses a rate outside [0, 1)
  c.input_dropout = input_dropout;
  c.recurrent_dropout = recurrent_dropout;
  c.attention = attention >= 1;
  if (c.attention) c.score = static_cast<AttentionScore>(attention - 1);
  c.head = static_cast<Activation>(head);
  c.loss = static_cast<Loss>(loss);
  try {
    c.validate();
    m.adam_config.validate();
  } catch (const InvalidArgument& e) {
    throw CheckpointError(path + ": invalid checkpoint: " + e.what());
  }
  const std::size_t want = ParamLayout(c).size();
  if (n != want) {
    throw CheckpointError(path + ": invalid checkpoint: " + std::to_string(n) +
                          " parameters stored, the model " + describe(c) + " has " +
                          std::to_string(want));
  }
  if (!ck.features.empty() && static_cast<int>(ck.features.size()) != c.input_size) {
    throw CheckpointError(path + ": invalid checkpoint: " + std::to_string(ck.features.size()) +
                          " input columns for D = " + std::to_string(c.input_size));
  }
  r.get_floats(m.params, n);
  r.get_floats(m.adam.m, n);
  r.get_floats(m.adam.v, n);
  if (const std::string bad = unusable_numbers(ck); !bad.empty()) {
    throw CheckpointError(path + ": invalid checkpoint: " + bad);
  }
  return ck;
}

}  // namespace rnnattn
