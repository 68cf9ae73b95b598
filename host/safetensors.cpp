// safetensors export and import (include/rnnattn/safetensors.hpp, docs/safetensors.md). The JSON
// header is read and written with nlohmann/json; everything in it is checked before a byte of the
// data is trusted, as the safetensors reference reader does: the header's length, that it is one
// JSON object, each tensor's dtype, shape and byte range, and that the ranges cover the data
// without holes or overlaps.
#include "rnnattn/safetensors.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "io.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/version.hpp"

namespace rnnattn {
namespace {

using nlohmann::json;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors is little-endian");

// The reference implementation's limit on the header (100 MB): a larger length is a damaged file.
constexpr std::uint64_t kMaxHeader = 100'000'000;

// One tensor of the file: a name, a row-major [rows, cols] matrix (cols = 0: a vector [rows]), and
// where its values live in the flat parameter buffer, transposed or not.
struct Slot {
  std::string name;
  int rows = 0, cols = 0;
  std::size_t offset = ParamLayout::kAbsent;  // ParamLayout::kAbsent: written as zeros, read as
                                              // an addend to `add_to` (bias_hh)
  bool transposed = false;                    // file [rows, cols] = buffer [cols, rows]^T
  std::size_t add_to = ParamLayout::kAbsent;
  // The GRU's gates: the file's rows are PyTorch's gates r, z, n, the buffer's columns Keras'
  // z, r, h; gate_size = H there (0: rows map one to one).
  int gate_size = 0;
  std::size_t size() const { return static_cast<std::size_t>(rows) * std::max(cols, 1); }
  // The buffer's index (from offset) of file element [row][k].
  std::size_t index(int row, int k) const {
    if (gate_size) {
      static constexpr int kSwap[3] = {1, 0, 2};  // r <-> z; its own inverse
      row = kSwap[row / gate_size] * gate_size + row % gate_size;
    }
    return transposed ? static_cast<std::size_t>(k) * rows + row
                      : static_cast<std::size_t>(row) * std::max(cols, 1) + k;
  }
  std::vector<std::int64_t> shape() const {
    return cols ? std::vector<std::int64_t>{rows, cols} : std::vector<std::int64_t>{rows};
  }
};

std::string suffix(const ParamLayout::Block& b) {
  return "_l" + std::to_string(b.layer) + (b.direction ? "_reverse" : "");
}

// The file's tensors for a configuration, in the flat buffer's order.
std::vector<Slot> slots(const ModelConfig& c) {
  const ParamLayout layout(c);
  const int H = c.hidden_size, C = c.context_size();
  std::vector<Slot> out;
  // PyTorch's nn.RNN / nn.LSTM / nn.GRU names; LSTM gates i, f, g, o are Keras' i, f, c, o.
  const int gru = c.cell == Cell::kGru ? H : 0;
  for (const ParamLayout::Block& b : layout.blocks()) {
    const std::string s = suffix(b);
    const int GH = b.gates * H;
    out.push_back({"weight_ih" + s, GH, b.input, b.wx, true, ParamLayout::kAbsent, gru});
    out.push_back({"weight_hh" + s, GH, H, b.wh, true, ParamLayout::kAbsent, gru});
    out.push_back({"bias_ih" + s, GH, 0, b.bh, false, ParamLayout::kAbsent, gru});
    if (gru) {  // the GRU's recurrent bias is its own tensor (reset_after)
      out.push_back({"bias_hh" + s, GH, 0, b.bh + GH, false, ParamLayout::kAbsent, gru});
    } else {
      out.push_back({"bias_hh" + s, GH, 0, ParamLayout::kAbsent, false, b.bh});
    }
  }
  if (c.additive()) {
    out.push_back({"attention.weight", C, 0, layout.wa, false});
    out.push_back({"attention.bias", c.steps, 0, layout.ba, false});
  }
  if (layout.scale != ParamLayout::kAbsent) {  // Keras' Attention(use_scale=True): its scale
    out.push_back({"attention.scale", 1, 0, layout.scale, false});
  }
  out.push_back({"head.weight", c.output_size, C, layout.wd, true});
  out.push_back({"head.bias", c.output_size, 0, layout.bd, false});
  // nn.Embedding's weight is [V, D], the table's own layout.
  if (c.embedded())
    out.push_back({"embedding.weight", c.vocab_size, c.input_size, layout.emb, false});
  return out;
}

// The values of `slot` in the file's layout.
std::vector<float> gather(const Slot& s, const std::vector<float>& params) {
  std::vector<float> v(s.size(), 0.f);
  if (s.offset == ParamLayout::kAbsent) return v;
  const float* p = params.data() + s.offset;
  for (int r = 0; r < s.rows; ++r) {
    for (int k = 0; k < std::max(s.cols, 1); ++k) {
      // file[r][k] = buffer[k][r] for a transposed matrix (the buffer is [cols, rows]).
      v[static_cast<std::size_t>(r) * std::max(s.cols, 1) + k] = p[s.index(r, k)];
    }
  }
  return v;
}

// A float as the double of its shortest decimal text (0.001f as 0.001, not 0.0010000000474974513):
// it reads back to the same float.
double shortest(float v) { return std::strtod(shortest_text(v).c_str(), nullptr); }

json metadata_of(const Checkpoint& ck) {
  const ModelConfig& c = ck.model.config;
  json m = {
      {"rnnattn_version", std::to_string(kVersionMajor) + "." + std::to_string(kVersionMinor) +
                              "." + std::to_string(kVersionPatch)},
      {"cell", to_string(c.cell)},
      {"nonlinearity", "tanh"},
      {"input_size", c.input_size},
      {"hidden_size", c.hidden_size},
      {"steps", c.steps},
      {"output_size", c.output_size},
      {"layers", c.layers},
      {"bidirectional", c.bidirectional},
      {"attention", c.attention},
      {"attention_score", to_string(c.score)},
      {"dropout", shortest(c.dropout)},
      {"input_dropout", shortest(c.input_dropout)},
      {"recurrent_dropout", shortest(c.recurrent_dropout)},
      {"head", to_string(c.head)},
      {"loss", to_string(c.loss)},
      {"learning_rate", shortest(ck.model.adam_config.learning_rate)},
      {"epochs_trained", ck.model.epochs_trained},
      {"scaling", ck.series.scaling == Scaling::kStandard ? "standard" : "minmax"},
      {"difference", ck.series.difference},
      {"missing", static_cast<int>(ck.series.missing)},
      {"scaler", {ck.scaler.min, ck.scaler.max}},
      {"data_source", ck.data_source},
      {"column", ck.column}};
  json features = json::array();
  for (std::size_t i = 0; i < ck.features.size(); ++i) {
    features.push_back({{"name", ck.features[i]},
                        {"scaler", {ck.feature_scalers[i].min, ck.feature_scalers[i].max}}});
  }
  m["features"] = features;
  if (ck.data_stamp.recorded()) {
    // The hash as 16 hex digits: JSON readers that hold numbers as doubles would round a u64.
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx",
                  static_cast<unsigned long long>(ck.data_stamp.hash));
    m["data_file"] = {{"bytes", ck.data_stamp.bytes}, {"fnv1a64", hash}};
  }
  if (!ck.text.column.empty() || !ck.text.vocabulary.empty()) {
    m["text"] = {{"column", ck.text.column},
                 {"classes", ck.text.classes},
                 {"vocabulary", ck.text.vocabulary},
                 {"padding", to_string(ck.text.layout.padding)},
                 {"truncating", to_string(ck.text.layout.truncating)}};
  }
  if (ck.training.sentiment_train > 0) {
    m["sentiment_sequences"] = {ck.training.sentiment_train, ck.training.sentiment_test};
  }
  return m;
}

// Compact JSON; text that is not UTF-8 (a CSV column name in Latin-1) is replaced, not refused.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// ---- reading -------------------------------------------------------------------------------

struct Tensor {
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  std::uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);  // inf, nan
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {  // subnormal: value man * 2^-24
    const float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path) {
    try {
      buf_ = read_file(path);
    } catch (const DataError& e) {
      throw CheckpointError(e.what());
    }
    if (buf_.size() < 8)
      fail("too short for a safetensors file (" + std::to_string(buf_.size()) +
           " bytes; the header length alone takes 8)");
    std::uint64_t n;
    std::memcpy(&n, buf_.data(), 8);
    if (n > kMaxHeader || n > buf_.size() - 8) {
      fail("the header length " + std::to_string(n) + " exceeds the file's " +
           std::to_string(buf_.size() - 8) + " bytes after it (not a safetensors file, or a " +
           "truncated one)");
    }
    const std::string header = buf_.substr(8, n);
    if (header.empty() || header[0] != '{') fail("the header is not a JSON object");
    json h = json::parse(header, nullptr, /*allow_exceptions=*/false);
    if (h.is_discarded() || !h.is_object()) fail("the header is not valid JSON");
    data_ = 8 + n;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    for (auto& [name, t] : h.items()) {
      if (name == "__metadata__") {
        if (!t.is_object()) fail("__metadata__ is not an object of strings");
        for (auto& [k, v] : t.items()) {
          if (!v.is_string()) fail("__metadata__ '" + k + "' is not a string");
          metadata_[k] = v.get<std::string>();
        }
        continue;
      }
      tensors_[name] = parse_tensor(name, t);
      ranges.push_back({tensors_[name].begin, tensors_[name].end});
    }
    // The ranges tile the data exactly: no holes, no overlaps (as the reference reader demands).
    // An overlap is refused now; bytes no tensor covers are said after the model's tensors were
    // looked up (check_covered): they are most often a tensor missing from the header, which is
    // then named.
    std::sort(ranges.begin(), ranges.end());
    std::uint64_t at = 0;
    for (const auto& [b, e] : ranges) {
      if (b < at) fail("tensor data ranges leave a hole or overlap at byte " + std::to_string(b));
      if (b > at && uncovered_.empty()) {
        uncovered_ = "tensor data ranges leave a hole or overlap at byte " + std::to_string(at);
      }
      at = e;
    }
    if (at != buf_.size() - data_ && uncovered_.empty()) {
      uncovered_ = "the tensors cover " + std::to_string(at) + " of the " +
                   std::to_string(buf_.size() - data_) + " data bytes";
    }
  }

  void check_covered() const {
    if (!uncovered_.empty()) fail(uncovered_);
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw CheckpointError(path_ + ": " + what);
  }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const std::map<std::string, Tensor>& tensors() const { return tensors_; }
  const Tensor& tensor(const std::string& name) const {
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) fail("tensor '" + name + "' is missing");
    return it->second;
  }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The tensor's values as float32, its shape checked against `want`.
  std::vector<float> values(const std::string& name, const std::vector<std::int64_t>& want) const {
    const Tensor& t = tensor(name);
    if (t.shape != want)
      fail(name + ": shape " + shape_text(t.shape) + ", expected " + shape_text(want));
    std::size_t n = 1;
    for (std::int64_t d : t.shape) n *= static_cast<std::size_t>(d);
    std::vector<float> v(n);
    const char* p = buf_.data() + data_ + t.begin;
    for (std::size_t i = 0; i < n; ++i) {
      if (t.dtype == "F32") {
        std::memcpy(&v[i], p + 4 * i, 4);
      } else if (t.dtype == "F64") {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        v[i] = static_cast<float>(d);
      } else {
        std::uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        if (t.dtype == "F16") {
          v[i] = half_to_float(h);
        } else {  // BF16: the upper half of a float32
          const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
          std::memcpy(&v[i], &bits, 4);
        }
      }
      if (!std::isfinite(v[i])) {
        fail(name + ": value " + std::to_string(i) + " is " + std::to_string(v[i]) +
             " (as float32)");
      }
    }
    return v;
  }

  static std::string shape_text(const std::vector<std::int64_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
    return out + "]";
  }

 private:
  Tensor parse_tensor(const std::string& name, const json& t) const {
    const auto bad = [&](const std::string& what) { fail("tensor '" + name + "': " + what); };
    if (!t.is_object()) bad("not an object with dtype, shape and data_offsets");
    Tensor out;
    const auto dt = t.find("dtype");
    if (dt == t.end() || !dt->is_string()) bad("no dtype");
    out.dtype = dt->get<std::string>();
    std::uint64_t size = 0;
    if (out.dtype == "F32") size = 4;
    if (out.dtype == "F64") size = 8;
    if (out.dtype == "F16" || out.dtype == "BF16") size = 2;
    if (size == 0) bad("dtype " + out.dtype + " (rnnattn reads F32, F64, F16 and BF16)");
    const auto sh = t.find("shape");
    if (sh == t.end() || !sh->is_array() || sh->size() > 8) bad("no shape of at most 8 sizes");
    std::uint64_t count = 1;
    for (const json& d : *sh) {
      if (!d.is_number_unsigned() || d.get<std::uint64_t>() > (1ull << 32)) bad("a bad size");
      out.shape.push_back(d.get<std::int64_t>());
      count *= d.get<std::uint64_t>();
      if (count > (1ull << 40)) bad("too many values");
    }
    const auto off = t.find("data_offsets");
    if (off == t.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned()) {
      bad("no data_offsets [begin, end]");
    }
    out.begin = (*off)[0].get<std::uint64_t>();
    out.end = (*off)[1].get<std::uint64_t>();
    if (out.begin > out.end || out.end > buf_.size() - data_) {
      bad("data_offsets [" + std::to_string(out.begin) + ", " + std::to_string(out.end) +
          "] outside the " + std::to_string(buf_.size() - data_) + " data bytes");
    }
    if (out.end - out.begin != count * size) {
      bad(std::to_string(out.end - out.begin) + " bytes for " + std::to_string(count) + " " +
          out.dtype + " values");
    }
    return out;
  }

  std::string path_, buf_;
  std::uint64_t data_ = 0;
  std::map<std::string, Tensor> tensors_;
  std::string uncovered_;  // data bytes no tensor covers ("" : none), said by check_covered
  std::map<std::string, std::string> metadata_;
};

// A field of rnnattn's metadata, or a clear error.
template <typename T>
T field(const Reader& r, const json& m, const char* key) {
  const auto it = m.find(key);
  try {
    if (it == m.end()) throw std::runtime_error("missing");
    return it->get<T>();
  } catch (const std::exception&) {
    r.fail(std::string("rnnattn metadata: '") + key + "' is missing or of the wrong type");
  }
}

Scaler scaler_field(const Reader& r, const json& j) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_number() || !j[1].is_number()) {
    r.fail("rnnattn metadata: a scaler is not [min, max]");
  }
  return {j[0].get<double>(), j[1].get<double>()};
}

// Where the metadata gives H, weight_hh_l0's shape against the metadata's cell: a wrong shape is
// named, with the cell it would be (`tensors_cell`), rather than reported as a cell mismatch.
void check_recurrent_shape(const Reader& r, const json& m, const Tensor& hh0, Cell tensors_cell) {
  const auto h_it = m.find("hidden_size");
  if (h_it == m.end() || !h_it->is_number_integer()) return;
  Cell meta_cell = Cell::kElman;
  try {
    meta_cell = parse_cell(field<std::string>(r, m, "cell"));
  } catch (const InvalidArgument& e) {
    r.fail(std::string("rnnattn metadata: ") + e.what());
  }
  const std::int64_t meta_h = h_it->get<std::int64_t>();
  const std::vector<std::int64_t> meta_shape = {gates_of(meta_cell) * meta_h, meta_h};
  if (hh0.shape != meta_shape) {
    r.fail("weight_hh_l0: shape " + Reader::shape_text(hh0.shape) + ", expected " +
           Reader::shape_text(meta_shape) + " for the metadata's " + to_string(meta_cell) +
           " cell of H = " + std::to_string(meta_h) + " (it is the shape of the " +
           to_string(tensors_cell) + " cell)");
  }
}

// The record of the data the model was trained on, from rnnattn's metadata: how the series was
// prepared, the scalings, the source (and its file's stamp), the columns, the text record and the
// sentiment task's sizes.
void read_data_record(const Reader& r, const json& m, Checkpoint& ck) {
  ck.series.scaling =
      field<std::string>(r, m, "scaling") == "standard" ? Scaling::kStandard : Scaling::kMinMax;
  ck.series.difference = field<bool>(r, m, "difference");
  const int missing = field<int>(r, m, "missing");
  if (missing < 0 || missing > 2) r.fail("rnnattn metadata: unknown missing-value policy");
  ck.series.missing = static_cast<Missing>(missing);
  ck.scaler = scaler_field(r, m.value("scaler", json()));
  ck.data_source = field<std::string>(r, m, "data_source");
  ck.column = field<std::string>(r, m, "column");
  const json features = m.value("features", json::array());
  if (!features.is_array()) r.fail("rnnattn metadata: features is not an array");
  for (const json& f : features) {
    if (!f.is_object()) r.fail("rnnattn metadata: a feature is not {name, scaler}");
    ck.features.push_back(field<std::string>(r, f, "name"));
    ck.feature_scalers.push_back(scaler_field(r, f.value("scaler", json())));
  }
  const json stamp = m.value("data_file", json());
  if (!stamp.is_null()) {
    const std::string hash = stamp.is_object() ? field<std::string>(r, stamp, "fnv1a64") : "";
    if (hash.size() != 16 || !std::all_of(hash.begin(), hash.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) != 0;
        })) {
      r.fail("rnnattn metadata: data_file is not {bytes, fnv1a64 as 16 hex digits}");
    }
    ck.data_stamp.hash = std::strtoull(hash.c_str(), nullptr, 16);
    ck.data_stamp.bytes = field<std::uint64_t>(r, stamp, "bytes");
  }
  const json text = m.value("text", json());
  if (!text.is_null()) {
    const auto strings = [&](const json& v, const char* what) {
      std::vector<std::string> out;
      if (!v.is_array()) r.fail(std::string("rnnattn metadata: text.") + what + " is not an array");
      for (const json& x : v) {
        if (!x.is_string())
          r.fail(std::string("rnnattn metadata: text.") + what + " holds a non-string");
        out.push_back(x.get<std::string>());
      }
      return out;
    };
    if (!text.is_object()) r.fail("rnnattn metadata: text is not an object");
    ck.text.column = field<std::string>(r, text, "column");
    ck.text.classes = strings(text.value("classes", json::array()), "classes");
    ck.text.vocabulary = strings(text.value("vocabulary", json::array()), "vocabulary");
    // Absent in files written before the layout was recorded: post, as those models read texts.
    const auto side = [&](const char* what) {
      const json v = text.value(what, json("post"));
      if (!v.is_string())
        r.fail(std::string("rnnattn metadata: text.") + what + " is not a string");
      try {
        return parse_pad_side(v.get<std::string>(), (std::string("text.") + what).c_str());
      } catch (const InvalidArgument& e) {
        r.fail(std::string("rnnattn metadata: ") + e.what());
      }
    };
    ck.text.layout.padding = side("padding");
    ck.text.layout.truncating = side("truncating");
  }
  const json seq = m.value("sentiment_sequences", json());
  if (seq.is_array() && seq.size() == 2 && seq[0].is_number_unsigned() &&
      seq[1].is_number_unsigned()) {
    ck.training.sentiment_train =
        static_cast<int>(std::min<std::uint64_t>(seq[0].get<std::uint64_t>(), 1u << 30));
    ck.training.sentiment_test =
        static_cast<int>(std::min<std::uint64_t>(seq[1].get<std::uint64_t>(), 1u << 30));
  }
}

}  // namespace

std::string safetensors_bytes(const Checkpoint& ck) {
  const ModelConfig& c = ck.model.config;
  c.validate();
  if (ck.model.params.size() != ParamLayout(c).size()) {
    throw InvalidArgument("safetensors: params holds " + std::to_string(ck.model.params.size()) +
                          " values, the model has " + std::to_string(ParamLayout(c).size()));
  }
  if (ck.features.size() != ck.feature_scalers.size()) {
    throw InvalidArgument("safetensors: " + std::to_string(ck.features.size()) +
                          " input columns with " + std::to_string(ck.feature_scalers.size()) +
                          " scalings");
  }
  json header = json::object();
  std::string data;
  for (const Slot& s : slots(c)) {
    const std::vector<float> v = gather(s, ck.model.params);
    header[s.name] = {{"dtype", "F32"},
                      {"shape", s.shape()},
                      {"data_offsets", {data.size(), data.size() + 4 * v.size()}}};
    data.append(reinterpret_cast<const char*>(v.data()), 4 * v.size());
  }
  header["__metadata__"] = {{"format", "pt"}, {"rnnattn", dump(metadata_of(ck))}};
  std::string text = dump(header);
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  const std::uint64_t n = text.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  return out + text + data;
}

void export_safetensors(const std::string& path, const Checkpoint& ck) {
  write_file_atomic(path, safetensors_bytes(ck));
}

Checkpoint import_safetensors(const std::string& path, const SafetensorsImport& options) {
  const Reader r(path);
  Checkpoint ck;
  ModelConfig& c = ck.model.config;

  // The structure, from the tensors' names and shapes: weight_hh_l0 is [G*H, H], G the gates
  // (1 nn.RNN, 4 nn.LSTM, 3 nn.GRU).
  const Tensor& ih0 = r.tensor("weight_ih_l0");
  const Tensor& hh0 = r.tensor("weight_hh_l0");
  if (ih0.shape.size() != 2)
    r.fail("weight_ih_l0: shape " + Reader::shape_text(ih0.shape) + ", expected [G*H, D]");
  if (hh0.shape.size() != 2 || hh0.shape[1] < 1 || hh0.shape[0] % hh0.shape[1] != 0) {
    r.fail("weight_hh_l0: shape " + Reader::shape_text(hh0.shape) + ", expected [G*H, H]");
  }
  const std::int64_t gates = hh0.shape[0] / hh0.shape[1];
  if (gates != 1 && gates != 3 && gates != 4) {
    r.fail("weight_hh_l0: shape " + Reader::shape_text(hh0.shape) + " has " +
           std::to_string(gates) + " gates: 1 (RNN), 4 (LSTM) or 3 (GRU) expected");
  }
  c.cell = gates == 4 ? Cell::kLstm : gates == 3 ? Cell::kGru : Cell::kElman;
  c.hidden_size = static_cast<int>(std::min<std::int64_t>(hh0.shape[1], 1 << 20));
  c.input_size = static_cast<int>(std::min<std::int64_t>(ih0.shape[1], 1 << 20));
  c.layers = 0;
  while (c.layers < 64 && r.has("weight_ih_l" + std::to_string(c.layers))) ++c.layers;
  c.bidirectional = r.has("weight_ih_l0_reverse");
  // Without rnnattn's metadata the tensors say additive attention (attention.weight) or the
  // scaled dot-product one (attention.scale); the unscaled one has no tensor: the metadata says it.
  c.attention = r.has("attention.weight") || r.has("attention.scale");
  if (r.has("attention.scale")) c.score = AttentionScore::kDotScaled;
  const Tensor& hw = r.tensor("head.weight");
  if (hw.shape.size() != 2)
    r.fail("head.weight: shape " + Reader::shape_text(hw.shape) + ", expected [O, C]");
  c.output_size = static_cast<int>(std::min<std::int64_t>(hw.shape[0], 1 << 20));
  if (r.has("embedding.weight")) {
    const Tensor& e = r.tensor("embedding.weight");
    if (e.shape.size() != 2 || e.shape[1] != ih0.shape[1]) {
      r.fail("embedding.weight: shape " + Reader::shape_text(e.shape) +
             ", expected [V, D = " + std::to_string(ih0.shape[1]) + "]");
    }
    c.vocab_size = static_cast<int>(std::min<std::int64_t>(e.shape[0], 1 << 30));
  }

  // The rest: rnnattn's metadata, else the options (and their defaults).
  const auto meta_it = r.metadata().find("rnnattn");
  const bool described = meta_it != r.metadata().end();
  json m;
  if (described) {
    m = json::parse(meta_it->second, nullptr, false);
    if (m.is_discarded() || !m.is_object()) r.fail("the rnnattn metadata is not a JSON object");
    check_recurrent_shape(r, m, hh0, c.cell);
    if (field<std::string>(r, m, "cell") != to_string(c.cell) ||
        field<std::string>(r, m, "nonlinearity") != "tanh") {
      r.fail("the metadata's cell (" + field<std::string>(r, m, "cell") +
             ") is not the tensors' (" + to_string(c.cell) + ", with tanh)");
    }
    c.steps = field<int>(r, m, "steps");
    // Rates written since each dropout came (absent: none).
    if (m.contains("dropout")) c.dropout = field<float>(r, m, "dropout");
    if (m.contains("input_dropout")) c.input_dropout = field<float>(r, m, "input_dropout");
    if (m.contains("recurrent_dropout")) {
      c.recurrent_dropout = field<float>(r, m, "recurrent_dropout");
    }
    if (m.contains("attention_score")) {  // written since the dot-product attention
      c.attention = field<bool>(r, m, "attention");
      try {
        c.score = parse_score(field<std::string>(r, m, "attention_score"));
      } catch (const InvalidArgument& e) {
        r.fail(std::string("rnnattn metadata: ") + e.what());
      }
    }
    try {
      c.head = parse_activation(field<std::string>(r, m, "head"));
      c.loss = parse_loss(field<std::string>(r, m, "loss"));
    } catch (const InvalidArgument& e) {
      r.fail(std::string("rnnattn metadata: ") + e.what());
    }
    const auto agree = [&](bool given, bool same, const std::string& what) {
      if (given && !same) {
        throw InvalidArgument(path + " records its " + what + "; the option given contradicts it");
      }
    };
    agree(options.head.has_value(), options.head == c.head,
          std::string("head, ") + to_string(c.head));
    agree(options.loss.has_value(), options.loss == c.loss,
          std::string("loss, ") + to_string(c.loss));
    agree(options.steps.has_value(), options.steps == c.steps, "T = " + std::to_string(c.steps));
    ck.model.adam_config.learning_rate = field<float>(r, m, "learning_rate");
    ck.model.epochs_trained = field<std::int64_t>(r, m, "epochs_trained");
    read_data_record(r, m, ck);
  } else {
    c.head = options.head.value_or(Activation::kTanh);
    c.loss = options.loss.value_or(Loss::kMse);
    if (c.additive()) {
      const Tensor& ab = r.tensor("attention.bias");
      if (ab.shape.size() != 1)
        r.fail("attention.bias: shape " + Reader::shape_text(ab.shape) + ", expected [T]");
      c.steps = static_cast<int>(std::min<std::int64_t>(ab.shape[0], 1 << 20));
      if (options.steps && *options.steps != c.steps) {
        throw InvalidArgument(path + ": attention.bias gives T = " + std::to_string(c.steps) +
                              "; the option given contradicts it");
      }
    } else if (options.steps) {
      c.steps = *options.steps;
    } else {
      throw InvalidArgument(path +
                            ": a model without additive attention does not say its window length: "
                            "give T (--steps)");
    }
  }
  try {
    c.validate();
    ck.model.adam_config.validate();
  } catch (const InvalidArgument& e) {
    r.fail(std::string("not a model rnnattn can run: ") + e.what());
  }

  // Every tensor of the layout, each checked for its shape; nothing else may be in the file.
  ck.model.params.assign(ParamLayout(c).size(), 0.f);
  std::vector<std::string> expected;
  for (const Slot& s : slots(c)) {
    expected.push_back(s.name);
    if (s.offset == ParamLayout::kAbsent && !r.has(s.name)) continue;  // bias_hh is optional
    const std::vector<float> v = r.values(s.name, s.shape());
    const int cols = std::max(s.cols, 1);
    const std::size_t to = s.offset == ParamLayout::kAbsent ? s.add_to : s.offset;
    for (int row = 0; row < s.rows; ++row) {
      for (int k = 0; k < cols; ++k) {
        const float x = v[static_cast<std::size_t>(row) * cols + k];
        float& p = ck.model.params[to + s.index(row, k)];
        p = s.offset == ParamLayout::kAbsent ? p + x : x;  // bias_hh adds to bias_ih
      }
    }
  }
  for (const auto& [name, t] : r.tensors()) {
    if (std::find(expected.begin(), expected.end(), name) == expected.end()) {
      r.fail("tensor '" + name + "' is not part of the model " + describe(c) +
             " (rnnattn's names: docs/safetensors.md)");
    }
  }
  r.check_covered();
  ck.model.adam.reset(ck.model.params.size());
  // The checkpoint's own checks (scalings, column tables) before anything is written from it.
  try {
    check_checkpoint(ck);
  } catch (const InvalidArgument& e) {
    r.fail(e.what());
  }
  return ck;
}

}  // namespace rnnattn
