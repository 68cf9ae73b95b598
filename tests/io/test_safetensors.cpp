// safetensors export and import: an exported model imports back to the same bits; the file holds
// PyTorch's layout (transposed weights, PyTorch's names); a file written by PyTorch imports into
// a model whose forward pass is PyTorch's; malformed files are refused, naming file and tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "rnnattn/backend.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/reference.hpp"
#include "rnnattn/safetensors.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

using test::slurp;
using test::spit;

// A safetensors file from parts: each tensor's header entry is written as given (so a test can
// damage it), its bytes appended in order.
struct Part {
  std::string name, dtype, shape;  // shape as JSON, e.g. "[3,2]"
  std::string bytes;
  std::string offsets;  // "" : the true [begin,end]
};
std::string make_file(const std::vector<Part>& parts, const std::string& metadata = "") {
  std::string header = "{", data;
  for (const Part& p : parts) {
    const std::string offsets = p.offsets.empty()
                                    ? "[" + std::to_string(data.size()) + "," +
                                          std::to_string(data.size() + p.bytes.size()) + "]"
                                    : p.offsets;
    header += "\"" + p.name + "\":{\"dtype\":\"" + p.dtype + "\",\"shape\":" + p.shape +
              ",\"data_offsets\":" + offsets + "},";
    data += p.bytes;
  }
  header += metadata.empty() ? "\"__metadata__\":{\"format\":\"pt\"}}" : metadata + "}";
  const std::uint64_t n = header.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + header + data;
}
std::string f32(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), 4 * v.size());
}

// A checkpoint with distinct, non-symmetric values everywhere (a transposition shows).
Checkpoint sample(const ModelConfig& c) {
  Checkpoint ck;
  ck.model = make_model(c, 5);
  for (std::size_t i = 0; i < ck.model.params.size(); ++i) {
    ck.model.params[i] = 0.01f * static_cast<float>(i) - 0.3f;
  }
  ck.model.epochs_trained = 12;
  ck.model.adam_config.learning_rate = 0.003f;
  ck.scaler = {-2.5, 1e250};
  ck.data_source = "data/x.csv";
  ck.data_stamp = {4321, 0xfedcba9876543210ull};  // past a double's 53 bits: kept as hex text
  ck.column = "b";
  return ck;
}

class Safetensors : public ::testing::Test {
 protected:
  void expect_refused(const std::string& bytes, const std::string& fragment,
                      const SafetensorsImport& options = {}) {
    spit(path_, bytes);
    try {
      import_safetensors(path_, options);
      FAIL() << "accepted a bad file (expected: " << fragment << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
    }
  }
  test::ScratchDir dir_{"rnnattn_st"};
  std::string path_ = dir_.file("m.safetensors");
};

TEST_F(Safetensors, ExportImportRoundTripIsExact) {
  std::vector<ModelConfig> configs(7);
  configs[1].layers = 2;
  configs[1].bidirectional = true;
  configs[1].hidden_size = 3;
  configs[2].attention = false;
  configs[2].input_size = 3;
  configs[2].output_size = 2;
  configs[2].head = Activation::kLinear;
  configs[3].head = Activation::kSigmoid;
  configs[3].loss = Loss::kBce;
  configs[3].steps = 7;
  configs[3].hidden_size = 1;
  // Keras' dot-product attention: no tensor (the metadata says it), and use_scale's scale.
  configs[4].score = AttentionScore::kDot;
  configs[4].cell = Cell::kLstm;
  configs[4].bidirectional = true;
  configs[4].dropout = 0.5f;  // and every dropout rate travels in the metadata
  configs[4].input_dropout = 0.25f;
  configs[4].recurrent_dropout = 0.125f;
  configs[5].score = AttentionScore::kDotScaled;
  // A softmax over four classes with categorical cross-entropy.
  configs[6].output_size = 4;
  configs[6].head = Activation::kSoftmax;
  configs[6].loss = Loss::kCce;
  for (const ModelConfig& c : configs) {
    SCOPED_TRACE(describe(c));
    Checkpoint ck = sample(c);
    if (c.input_size == 3) {
      ck.features = {"a", "b", "c"};
      ck.feature_scalers = {{0, 1}, {-2, 5.5}, {1, 200}};
      ck.series.scaling = Scaling::kStandard;
    }
    export_safetensors(path_, ck);
    const std::string bytes = slurp(path_);
    std::uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    EXPECT_EQ((8 + n) % 8, 0u) << "the data starts 8-byte aligned";
    const Checkpoint back = import_safetensors(path_);
    EXPECT_EQ(back.model.config, c);
    EXPECT_EQ(back.model.params, ck.model.params);
    EXPECT_EQ(back.model.epochs_trained, 12);
    EXPECT_EQ(back.model.adam_config.learning_rate, 0.003f);
    EXPECT_EQ(back.model.adam.step, 0);
    EXPECT_EQ(back.model.adam.m, std::vector<float>(ck.model.params.size(), 0.f));
    EXPECT_EQ(back.scaler.min, -2.5);
    EXPECT_EQ(back.scaler.max, 1e250);
    EXPECT_EQ(back.data_source, "data/x.csv");
    EXPECT_EQ(back.data_stamp, ck.data_stamp);
    EXPECT_EQ(back.column, "b");
    EXPECT_EQ(back.features, ck.features);
    EXPECT_EQ(back.series.scaling, ck.series.scaling);
    ASSERT_EQ(back.feature_scalers.size(), ck.feature_scalers.size());
    for (std::size_t f = 0; f < ck.feature_scalers.size(); ++f) {
      EXPECT_EQ(back.feature_scalers[f].max, ck.feature_scalers[f].max);
    }
    EXPECT_FALSE(back.training.recorded);
    // The same model exports to the same bytes.
    export_safetensors(path_, back);
    EXPECT_EQ(slurp(path_), bytes);
  }
}

// A text model's layout (where its tokens go) travels in the metadata; a file without it (written
// before it was recorded) reads as post, post; a value other than pre or post is refused.
TEST_F(Safetensors, TextLayoutTravelsInTheMetadata) {
  ModelConfig c;
  c.vocab_size = 6;
  c.input_size = 3;
  Checkpoint ck = sample(c);
  ck.text.column = "review";
  ck.text.classes = {"neg", "pos"};
  ck.text.vocabulary = {"a", "b", "c", "d"};
  ck.text.layout = {PadSide::kPre, PadSide::kPost};
  export_safetensors(path_, ck);
  EXPECT_EQ(import_safetensors(path_).text.layout, ck.text.layout);
  {  // K classes' names travel with a softmax head of K outputs
    Checkpoint k3 = ck;
    ModelConfig c3 = c;
    c3.output_size = 3;
    c3.head = Activation::kSoftmax;
    c3.loss = Loss::kCce;
    k3.model = make_model(c3, 2);
    k3.text.classes = {"food", "sport", "tech"};
    export_safetensors(path_, k3);
    EXPECT_EQ(import_safetensors(path_).text.classes, k3.text.classes);
    export_safetensors(path_, ck);
  }
  const std::string bytes = slurp(path_);
  const auto edited = [&](const std::string& from, const std::string& to) {
    std::string b = bytes;
    const std::size_t at = b.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) b.replace(at, from.size(), to);  // same length: same offsets
    return b;
  };
  // rnnattn's metadata is a JSON string inside the header's: its quotes are escaped there.
  spit(path_, edited(R"(\"padding\":\"pre\")", R"(\"paddinq\":\"pre\")"));
  EXPECT_EQ(import_safetensors(path_).text.layout, TextLayout{});
  expect_refused(edited(R"(\"padding\":\"pre\")", R"(\"padding\":\"mid\")"),
                 "text.padding: 'mid' is not pre or post");
}

// The file is PyTorch's layout, not rnnattn's: weight_ih_l0 [H, D] holds Wx [D, H] transposed,
// head.weight [O, C] holds Wd [C, O] transposed, bias_hh is zero (a round trip alone would not
// see a transposition made twice).
TEST_F(Safetensors, TheFileHoldsPyTorchsLayout) {
  ModelConfig c;
  c.input_size = 2;
  c.hidden_size = 3;
  c.output_size = 2;
  c.bidirectional = true;
  const Checkpoint ck = sample(c);
  const std::string bytes = safetensors_bytes(ck);
  std::uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  const std::string header = bytes.substr(8, n);
  const char* data = bytes.data() + 8 + n;
  // The offsets of a tensor, read from the header text.
  const auto at = [&](const std::string& name, const std::string& shape) {
    const auto k = header.find("\"" + name + "\":");
    EXPECT_NE(k, std::string::npos) << name;
    const auto entry = header.substr(k, header.find('}', k) - k);
    EXPECT_NE(entry.find("\"shape\":" + shape), std::string::npos) << entry;
    EXPECT_NE(entry.find("\"dtype\":\"F32\""), std::string::npos) << entry;
    return std::stoul(entry.substr(entry.find("[", entry.find("data_offsets")) + 1));
  };
  const auto value = [&](std::size_t offset, std::size_t i) {
    float v;
    std::memcpy(&v, data + offset + 4 * i, 4);
    return v;
  };
  const ParamLayout layout(c);
  const ParamLayout::Block& rev = layout.block(0, 1);
  const std::size_t ih = at("weight_ih_l0_reverse", "[3,2]");
  for (int h = 0; h < 3; ++h) {
    for (int d = 0; d < 2; ++d)
      EXPECT_EQ(value(ih, h * 2 + d), ck.model.params[rev.wx + d * 3 + h]);
  }
  const std::size_t hh = at("weight_hh_l0", "[3,3]");
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      EXPECT_EQ(value(hh, i * 3 + j), ck.model.params[layout.wh + j * 3 + i]);
    }
  }
  const std::size_t hw = at("head.weight", "[2,6]");
  for (int o = 0; o < 2; ++o) {
    for (int k = 0; k < 6; ++k)
      EXPECT_EQ(value(hw, o * 6 + k), ck.model.params[layout.wd + k * 2 + o]);
  }
  const std::size_t bh = at("bias_hh_l0", "[3]"), bi = at("bias_ih_l0", "[3]");
  for (int h = 0; h < 3; ++h) {
    EXPECT_EQ(value(bh, h), 0.f);
    EXPECT_EQ(value(bi, h), ck.model.params[layout.bh + h]);
  }
  EXPECT_EQ(value(at("attention.bias", "[20]"), 19), ck.model.params[layout.ba + 19]);
  EXPECT_NE(header.find("\"format\":\"pt\""), std::string::npos);
}

// tests/fixtures/torch_{rnn,lstm,gru}.safetensors: nn.RNN / nn.LSTM / nn.GRU(2, 3, num_layers=2,
// bidirectional=True) with attention and a tanh head, saved by safetensors.torch.save_file;
// torch_*_expected.txt holds a seeded input and PyTorch's output for it (tools/torch_safetensors.py
// fixture regenerates them). The gated files check the equations and the gate orders (PyTorch's
// LSTM i, f, g, o; GRU r, z, n, mapped to Keras' z, r, h) against PyTorch itself.
TEST_F(Safetensors, ReadsFilesWrittenByPyTorch) {
  const std::string dir = std::string(RNNATTN_SOURCE_DIR) + "/tests/fixtures/";
  for (const auto& [name, cell] : {std::pair<std::string, Cell>{"rnn", Cell::kElman},
                                   {"lstm", Cell::kLstm},
                                   {"gru", Cell::kGru}}) {
    SCOPED_TRACE(name);
    const Checkpoint ck = import_safetensors(dir + "torch_" + name + ".safetensors");
    const ModelConfig& c = ck.model.config;
    EXPECT_EQ(c.cell, cell);
    EXPECT_EQ(c.layers, 2);
    EXPECT_TRUE(c.bidirectional);
    EXPECT_EQ(c.input_size, 2);
    EXPECT_EQ(c.hidden_size, 3);
    EXPECT_EQ(c.steps, 5);
    EXPECT_TRUE(c.attention);
    EXPECT_EQ(c.head, Activation::kTanh);
    EXPECT_TRUE(ck.data_source.empty());
    EXPECT_EQ(ck.scaler.min, 0.0);
    EXPECT_EQ(ck.scaler.max, 1.0);

    std::ifstream in(dir + "torch_" + name + "_expected.txt");
    std::string line;
    while (in.peek() == '#') std::getline(in, line);
    int B, T, D;
    in >> B >> T >> D;
    ASSERT_EQ(T, 5);
    std::vector<float> x(static_cast<std::size_t>(B) * T * D), want(B);
    for (float& v : x) in >> v;
    for (float& v : want) in >> v;
    ASSERT_TRUE(in) << "could not read torch_" << name << "_expected.txt";
    std::vector<float> y(B, NAN);
    make_backend(Device::kCpu)
        ->forward(c, ck.model.params.data(), x.data(), B, y.data(), nullptr, nullptr);
    // float32 on both sides, different orders of summation (PyTorch adds its two biases inside
    // the step): a few ulps of a value near 0.5.
    EXPECT_TRUE(test::all_close("y", y, want, 1e-5, 1e-5));
    std::vector<double> xd(x.begin(), x.end()), pd(ck.model.params.begin(), ck.model.params.end()),
        yd(B);
    reference_forward<double>(c, pd.data(), xd.data(), B, yd.data());
    EXPECT_TRUE(test::all_close("y (double reference)", std::vector<float>(yd.begin(), yd.end()),
                                want, 1e-5, 1e-5));
    // Exported again, the file holds PyTorch's tensors, bit for bit.
    const std::string again = path_ + "." + name;
    export_safetensors(again, ck);
    const Checkpoint back = import_safetensors(again);
    EXPECT_EQ(back.model.params, ck.model.params);
    EXPECT_EQ(back.model.config, c);
  }
}

TEST_F(Safetensors, PyTorchFilesTakeOptionsForWhatTheyCannotSay) {
  const std::vector<float> w(2 * 2, 0.5f), b(2, 0.1f), head(2, 0.25f), one(1, 0.f);
  const std::vector<Part> plain = {{"weight_ih_l0", "F32", "[2,1]", f32({0.1f, 0.2f}), ""},
                                   {"weight_hh_l0", "F32", "[2,2]", f32(w), ""},
                                   {"bias_ih_l0", "F32", "[2]", f32(b), ""},
                                   {"head.weight", "F32", "[1,2]", f32(head), ""},
                                   {"head.bias", "F32", "[1]", f32(one), ""}};
  expect_refused(make_file(plain), "give T");
  spit(path_, make_file(plain));
  SafetensorsImport o;
  o.steps = 9;
  o.head = Activation::kSigmoid;
  o.loss = Loss::kBce;
  const Checkpoint ck = import_safetensors(path_, o);
  EXPECT_EQ(ck.model.config.steps, 9);
  EXPECT_FALSE(ck.model.config.attention);
  EXPECT_EQ(ck.model.config.head, Activation::kSigmoid);
  // No bias_hh (nn.RNN(bias=True) writes one; a hand-made file may not): bh = bias_ih alone.
  EXPECT_EQ(ck.model.params[ParamLayout(ck.model.config).bh], 0.1f);
  // A file with rnnattn's metadata says these itself: a contradicting option is refused.
  export_safetensors(path_, sample(ModelConfig{}));
  SafetensorsImport wrong;
  wrong.head = Activation::kLinear;
  expect_refused(slurp(path_), "records its head, tanh", wrong);
  wrong = {};
  wrong.steps = 21;
  expect_refused(slurp(path_), "T = 20", wrong);
}

TEST_F(Safetensors, OtherFloatTypesAreConverted) {
  // bias_ih_l0 as F64, F16 and BF16 (1.5 and -0.25 are exact in all three).
  const double d[2] = {1.5, -0.25};
  const std::uint16_t half[2] = {0x3e00, 0xb400}, bf[2] = {0x3fc0, 0xbe80};
  for (const auto& [dtype, bytes] : std::map<std::string, std::string>{
           {"F64", std::string(reinterpret_cast<const char*>(d), 16)},
           {"F16", std::string(reinterpret_cast<const char*>(half), 4)},
           {"BF16", std::string(reinterpret_cast<const char*>(bf), 4)}}) {
    SCOPED_TRACE(dtype);
    spit(path_, make_file({{"weight_ih_l0", "F32", "[2,1]", f32({0.1f, 0.2f}), ""},
                           {"weight_hh_l0", "F32", "[2,2]", f32({1, 2, 3, 4}), ""},
                           {"bias_ih_l0", dtype, "[2]", bytes, ""},
                           {"head.weight", "F32", "[1,2]", f32({1, 1}), ""},
                           {"head.bias", "F32", "[1]", f32({0}), ""}}));
    SafetensorsImport o;
    o.steps = 3;
    const Checkpoint ck = import_safetensors(path_, o);
    const std::size_t bh = ParamLayout(ck.model.config).bh;
    EXPECT_EQ(ck.model.params[bh], 1.5f);
    EXPECT_EQ(ck.model.params[bh + 1], -0.25f);
  }
}

TEST_F(Safetensors, MalformedFilesAreRefused) {
  SafetensorsImport o;
  o.steps = 3;
  const auto parts = [] {
    return std::vector<Part>{{"weight_ih_l0", "F32", "[2,1]", f32({0.1f, 0.2f}), ""},
                             {"weight_hh_l0", "F32", "[2,2]", f32({1, 2, 3, 4}), ""},
                             {"bias_ih_l0", "F32", "[2]", f32({0, 0}), ""},
                             {"head.weight", "F32", "[1,2]", f32({1, 1}), ""},
                             {"head.bias", "F32", "[1]", f32({0}), ""}};
  };
  spit(path_, make_file(parts()));
  ASSERT_NO_THROW(import_safetensors(path_, o));  // the base file is good
  const std::string good = make_file(parts());

  expect_refused("", "too short", o);
  expect_refused(good.substr(0, good.size() - 3), "outside the 41 data bytes", o);
  std::string huge = good;
  huge[7] = 0x7f;
  expect_refused(huge, "header length", o);
  std::string not_json = good;
  not_json[8 + 5] = '\x01';
  expect_refused(not_json, "not valid JSON", o);
  expect_refused("PK\x03\x04 a zip file, not safetensors at all", "header length", o);

  auto p = parts();
  p[1].shape = "[2,3]";
  expect_refused(make_file(p), "weight_hh_l0", o);
  p = parts();
  p[1].bytes = f32({1, 2, 3, 4, 5, 6});
  p[1].shape = "[2,3]";
  expect_refused(make_file(p), "weight_hh_l0: shape [2,3], expected [G*H, H]", o);
  p = parts();  // 3 gates (a GRU's weight_hh) beside an RNN's weight_ih: the shapes disagree
  p[1].bytes = f32(std::vector<float>(12, 0.5f));
  p[1].shape = "[6,2]";
  expect_refused(make_file(p), "weight_ih_l0: shape [2,1], expected [6,1]", o);
  p = parts();  // 2 gates: no such cell
  p[1].bytes = f32(std::vector<float>(8, 0.5f));
  p[1].shape = "[4,2]";
  expect_refused(make_file(p), "has 2 gates", o);
  p = parts();
  p[2].dtype = "I64";
  p[2].bytes += std::string(8, '\0');
  expect_refused(make_file(p), "dtype I64", o);
  p = parts();
  p.erase(p.begin() + 3);
  expect_refused(make_file(p), "'head.weight' is missing", o);
  p = parts();
  p.push_back({"encoder.weight", "F32", "[1]", f32({1}), ""});
  expect_refused(make_file(p), "'encoder.weight' is not part of the model", o);
  p.back() = {"embedding.weight", "F32", "[1]", f32({1}), ""};  // an embedding's table is [V, D]
  expect_refused(make_file(p), "embedding.weight: shape [1], expected [V, D = 1]", o);
  p = parts();
  p[2].offsets = "[16,24]";  // bias_ih_l0 over weight_hh_l0's bytes: an overlap and a hole
  expect_refused(make_file(p), "hole or overlap", o);
  p = parts();
  p[1].bytes = f32({1, NAN, 3, 4});
  expect_refused(make_file(p), "weight_hh_l0: value 1 is nan", o);
  p = parts();
  expect_refused(make_file(p, "\"__metadata__\":{\"rnnattn\":\"{\\\"cell\\\":\\\"lstm\\\"}\"}"),
                 "the metadata's cell (lstm) is not the tensors' (elman", o);
  // With the metadata's H, a weight_hh_l0 of another shape is named as such.
  expect_refused(
      make_file(
          p,
          "\"__metadata__\":{\"rnnattn\":\"{\\\"cell\\\":\\\"lstm\\\",\\\"hidden_size\\\":2}\"}"),
      "weight_hh_l0: shape [2,2], expected [8,2] for the metadata's lstm cell of H = 2 (it is the "
      "shape of the elman cell)",
      o);
  // A tensor missing from the header whose bytes stay in the file: named, not counted in bytes.
  p = parts();
  p.pop_back();
  expect_refused(make_file(p) + f32({0}), "tensor 'head.bias' is missing", o);
}

}  // namespace
}  // namespace rnnattn
