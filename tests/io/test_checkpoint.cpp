// Checkpoints: exact round trip; truncated, corrupted, foreign and newer files refused; atomic.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "rnnattn/checkpoint.hpp"
#include "rnnattn/error.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

using test::slurp;
using test::spit;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("model.bin");
    ModelConfig cfg;
    cfg.hidden_size = 5;
    cfg.output_size = 2;
    cfg.head = Activation::kSigmoid;
    cfg.loss = Loss::kBce;
    ck_.model = make_model(cfg, 17);
    ck_.model.adam.step = 41;
    for (std::size_t i = 0; i < ck_.model.adam.m.size(); ++i) {
      ck_.model.adam.m[i] = 0.001f * i;
      ck_.model.adam.v[i] = 0.5f / (i + 1);
    }
    ck_.model.epochs_trained = 7;
    ck_.scaler = {-3.25, 1e250};
    ck_.data_source = "data/x.csv";
    ck_.data_stamp = {1234, 0xfeedfacecafebeefull};
    ck_.column = "SUNACTIVITY";
    ck_.series = {Scaling::kStandard, true, Missing::kInterpolate};
    ck_.training = {true, 0x123456789abcdefull, 33, 0.25, 0, 0};
    save_checkpoint(path_, ck_);
  }
  void expect_refused(const std::string& bytes, const std::string& fragment) {
    spit(path_, bytes);
    try {
      load_checkpoint(path_);
      FAIL() << "accepted a bad checkpoint (expected: " << fragment << ")";
    } catch (const CheckpointError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
    }
  }
  test::ScratchDir dir_{"rnnattn_ck"};
  std::string path_;
  Checkpoint ck_;
};

TEST_F(CheckpointTest, RoundTripIsExact) {
  const Checkpoint r = load_checkpoint(path_);
  EXPECT_EQ(r.model.config, ck_.model.config);
  EXPECT_EQ(r.model.params, ck_.model.params);
  EXPECT_EQ(r.model.adam.m, ck_.model.adam.m);
  EXPECT_EQ(r.model.adam.v, ck_.model.adam.v);
  EXPECT_EQ(r.model.adam.step, 41);
  EXPECT_EQ(r.model.epochs_trained, 7);
  EXPECT_EQ(r.model.adam_config.learning_rate, ck_.model.adam_config.learning_rate);
  EXPECT_EQ(r.scaler.min, -3.25);
  EXPECT_EQ(r.scaler.max, 1e250);
  EXPECT_EQ(r.data_source, "data/x.csv");
  EXPECT_EQ(r.data_stamp.bytes, 1234u);
  EXPECT_EQ(r.data_stamp.hash, 0xfeedfacecafebeefull);
  EXPECT_EQ(r.column, "SUNACTIVITY");
  EXPECT_EQ(r.series.scaling, Scaling::kStandard);
  EXPECT_TRUE(r.series.difference);
  EXPECT_EQ(r.series.missing, Missing::kInterpolate);
  EXPECT_TRUE(r.training.recorded);
  EXPECT_EQ(r.training.seed, 0x123456789abcdefull);
  EXPECT_EQ(r.training.batch_size, 33);
  EXPECT_EQ(r.training.validation_split, 0.25);
  // Saving what was loaded reproduces the file byte for byte.
  const std::string first = slurp(path_);
  save_checkpoint(path_, r);
  EXPECT_EQ(slurp(path_), first);
}

TEST_F(CheckpointTest, TruncatedFilesAreRefused) {
  const std::string good = slurp(path_);
  for (std::size_t keep : {std::size_t{0}, std::size_t{5}, std::size_t{12}, std::size_t{40},
                           good.size() / 2, good.size() - 1}) {
    SCOPED_TRACE(keep);
    expect_refused(good.substr(0, keep), "truncated");
  }
}

TEST_F(CheckpointTest, CorruptedFilesAreRefused) {
  const std::string good = slurp(path_);
  // Flip one bit in the parameters, in the moments, and in the checksum itself.
  for (std::size_t at : {good.size() - 200, good.size() - 20, good.size() - 3}) {
    std::string bad = good;
    bad[at] ^= 0x10;
    SCOPED_TRACE(at);
    expect_refused(bad, "checksum");
  }
  expect_refused(good + "x", "corrupted");
}

TEST_F(CheckpointTest, ForeignAndNewerFilesAreRefused) {
  std::string good = slurp(path_);
  expect_refused("PK\x03\x04 this is a zip file, not a model at all", "not an rnnattn checkpoint");
  std::string newer = good;
  newer[8] = static_cast<char>(kCheckpointVersion + 1);  // the version follows the 8-byte magic
  expect_refused(newer, "newer");
  std::remove(path_.c_str());
  EXPECT_THROW(load_checkpoint(path_), CheckpointError);
}

// The published FNV-1a 64 test vectors (Fowler, Noll, Vo): a reader written from
// docs/checkpoint-format.md computes the same checksum.
TEST(Fnv1a64, PublishedTestVectors) {
  EXPECT_EQ(fnv1a64("", 0), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar", 6), 0x85944171f73967e8ull);
}

TEST_F(CheckpointTest, ChecksumIsStandardFnv1aOfTheBody) {
  const std::string good = slurp(path_);
  std::uint32_t version = 0;
  std::memcpy(&version, good.data() + 8, 4);
  EXPECT_EQ(version, kCheckpointVersion);
  std::uint64_t stored = 0;
  std::memcpy(&stored, good.data() + good.size() - 8, 8);
  EXPECT_EQ(stored, fnv1a64(good.data(), good.size() - 8));
}

// The checksum of a file whose bytes a test has changed, recomputed.
void refix_checksum(std::string& f) {
  const std::uint64_t h = fnv1a64(f.data(), f.size() - 8);
  std::memcpy(&f[f.size() - 8], &h, 8);
}

// A file of an older version made from a current (version 12) file of a one-layer model without
// input columns or text: version 11 has no recurrent layers' dropout rates (8 bytes after the
// context's); version 9 no dropout rate either (4 bytes after V); version 8 has no text
// layout (2 bytes before n); version 7 no data file stamp either (16 bytes before that); version 6
// has no V (4 bytes after the structure fields) and no text record (12 bytes before the stamp when
// it is empty) either; version 5 has version 6's layout; version 4 has no training record (32 bytes
// before n, after the input-column count F); version 3 no structure fields either (8 bytes after
// the model flags); versions 1 and 2 no input-column table (F, 4 bytes, after the column name: 80
// fixed header bytes, then two length-prefixed strings); version 1 also started its checksum from
// another basis.
std::string older_file(std::string v3, std::uint32_t version, const Checkpoint& ck) {
  if (version <= 11) v3.erase(48, 8);  // the layers' dropout rates, after the context's
  if (version <= 9) v3.erase(44, 4);   // the dropout rate, after V
  std::size_t n_at = v3.size() - 8 - 3 * ck.model.params.size() * sizeof(float) - 8;
  if (version <= 8) {  // the text layout's two bytes
    v3.erase(n_at - 2, 2);
    n_at -= 2;
  }
  if (version <= 7) v3.erase(n_at - 16, 16);
  if (version <= 6) {
    v3.erase(n_at - 16 - 12, 12);
    v3.erase(40, 4);
  }
  const std::size_t f_at = 88 + 4 + ck.data_source.size() + 4 + ck.column.size();
  if (version <= 4) v3.erase(f_at + 4, 32);
  if (version <= 3) v3.erase(32, 8);
  if (version <= 2) v3.erase(f_at - 8, 4);
  std::memcpy(&v3[8], &version, 4);
  std::uint64_t h = version == 1 ? 1469598103934665603ull : 14695981039346656037ull;
  for (std::size_t i = 0; i + 8 < v3.size(); ++i) {
    h ^= static_cast<unsigned char>(v3[i]);
    h *= 1099511628211ull;
  }
  std::memcpy(&v3[v3.size() - 8], &h, 8);
  return v3;
}

// The attention's score travels (version 10: the attention byte 0 to 3), with its parameters
// (the dot-product attention has no wa and ba; use_scale's one scale); a version 9 file, whose
// byte is 0 or 1, cannot say dot-product: one that does is refused.
TEST_F(CheckpointTest, AttentionScoreRoundTrips) {
  for (AttentionScore score :
       {AttentionScore::kAdditive, AttentionScore::kDot, AttentionScore::kDotScaled}) {
    SCOPED_TRACE(to_string(score));
    Checkpoint ck = ck_;
    ModelConfig cfg = ck.model.config;
    cfg.score = score;
    ck.model = make_model(cfg, 5);
    save_checkpoint(path_, ck);
    const Checkpoint r = load_checkpoint(path_);
    EXPECT_EQ(r.model.config.score, score);
    EXPECT_EQ(r.model.config, cfg);
    EXPECT_EQ(r.model.params, ck.model.params);
  }
  std::string f = slurp(path_);  // the last: dot-scaled
  f.erase(44, 12);               // version 9 has no dropout rates
  const std::uint32_t nine = 9;
  std::memcpy(&f[8], &nine, 4);
  refix_checksum(f);
  expect_refused(f, "bad model flags");
}

// A softmax head over K classes travels with the classes' names (version 11: head 3, loss 2, K
// names); a version 10 file cannot say softmax, and K names for a head of another width are
// neither written nor read.
TEST_F(CheckpointTest, SoftmaxHeadAndItsClassesRoundTrip) {
  Checkpoint ck = ck_;
  ModelConfig cfg = ck.model.config;
  cfg.output_size = 3;
  cfg.head = Activation::kSoftmax;
  cfg.loss = Loss::kCce;
  cfg.vocab_size = 6;
  cfg.input_size = 2;
  ck.model = make_model(cfg, 5);
  ck.text.column = "review";
  ck.text.classes = {"food", "sport", "tech"};
  ck.text.vocabulary = {"the", "goal"};
  save_checkpoint(path_, ck);
  const Checkpoint r = load_checkpoint(path_);
  EXPECT_EQ(r.model.config, cfg);
  EXPECT_EQ(r.text.classes, ck.text.classes);
  EXPECT_EQ(r.model.params, ck.model.params);
  std::string ten = slurp(path_);
  ten.erase(48, 8);  // version 10: no recurrent layers' dropout rates
  const std::uint32_t v10 = 10;
  std::memcpy(&ten[8], &v10, 4);  // else the same layout, but no softmax yet
  refix_checksum(ten);
  expect_refused(ten, "corrupted checkpoint");  // (its three class names, or the head)
  ck.text.classes = {"food", "sport", "tech", "music"};
  try {
    save_checkpoint(path_, ck);
    FAIL() << "four class names for three outputs were written";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4 class names for a head of 3 outputs"),
              std::string::npos)
        << e.what();
  }
}

// The dropout rates travel (the context's: version 10; the recurrent layers': 12); one outside
// [0, 1) is refused by name.
TEST_F(CheckpointTest, DropoutRoundTripsAndABadRateIsRefused) {
  Checkpoint ck = ck_;
  ck.model.config.dropout = 0.5f;
  ck.model.config.input_dropout = 0.25f;
  ck.model.config.recurrent_dropout = 0.125f;
  save_checkpoint(path_, ck);
  EXPECT_EQ(load_checkpoint(path_).model.config, ck.model.config);
  const std::string good = slurp(path_);
  const float bad = 1.5f;
  for (const auto& [at, name] : {std::pair<int, const char*>{44, "dropout must be in [0, 1)"},
                                 {48, "input_dropout must be in [0, 1)"},
                                 {52, "recurrent_dropout must be in [0, 1)"}}) {
    std::string f = good;
    std::memcpy(&f[at], &bad, 4);  // after V
    refix_checksum(f);
    expect_refused(f, name);
  }
}

// A dimension past int's range (D = 0xFFFFFFFF, checksum repaired) is named as stored, not as -1.
TEST_F(CheckpointTest, HugeDimensionsAreNamedAsStored) {
  std::string f = slurp(path_);
  const std::uint32_t huge = 0xFFFFFFFFu;
  std::memcpy(&f[12], &huge, 4);  // D follows the magic and the version
  refix_checksum(f);
  expect_refused(f, "invalid checkpoint: D = 4294967295");
}

TEST_F(CheckpointTest, OlderVersionsAreStillRead) {
  const std::string v3 = slurp(path_);
  for (std::uint32_t version : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 9u, 10u, 11u}) {
    SCOPED_TRACE(version);
    spit(path_, older_file(v3, version, ck_));
    const Checkpoint r = load_checkpoint(path_);
    EXPECT_EQ(r.text.layout, TextLayout{});  // before version 9: texts were placed post, post
    EXPECT_EQ(r.format_version, version);
    EXPECT_EQ(r.model.params, ck_.model.params);
    EXPECT_EQ(r.column, "SUNACTIVITY");
    EXPECT_TRUE(r.features.empty());
    EXPECT_EQ(r.model.config, ck_.model.config);  // one forward layer
    EXPECT_EQ(r.training.recorded, version >= 5 && ck_.training.recorded);
    if (version <= 7) {
      EXPECT_FALSE(r.data_stamp.recorded());  // the data file is not known
    }
  }
  // Version 5 knew the Elman cell only: a cell byte of 1 there is refused; version 6 reads it.
  std::string v5 = older_file(v3, 5, ck_);
  v5[8 + 4 + 16 + 4 + 4 + 1] = 1;  // the cell byte, after D H T O, the flags, L, bidirectional
  refix_checksum(v5);
  expect_refused(v5, "recurrent cell 1 is not one format version 5 knows");
  std::string v6 = older_file(v3, 6, ck_);
  v6[8 + 4 + 16 + 4 + 4 + 1] = 7;
  refix_checksum(v6);
  expect_refused(v6, "recurrent cell 7");
  // A version 1 header with a version 2 checksum is refused.
  std::string mixed = older_file(v3, 2, ck_);
  mixed[8] = 1;
  expect_refused(mixed, "checksum");
}

// Version 9: where a text's tokens go, both ends of it, and a byte out of range is refused.
TEST_F(CheckpointTest, TextLayoutRoundTrips) {
  for (PadSide padding : {PadSide::kPost, PadSide::kPre}) {
    for (PadSide truncating : {PadSide::kPost, PadSide::kPre}) {
      Checkpoint ck = ck_;
      ck.text.layout = {padding, truncating};
      save_checkpoint(path_, ck);
      EXPECT_EQ(load_checkpoint(path_).text.layout, ck.text.layout);
    }
  }
  std::string f = slurp(path_);
  const std::size_t n_at = f.size() - 8 - 3 * ck_.model.params.size() * sizeof(float) - 8;
  f[n_at - 1] = 2;  // truncating
  refix_checksum(f);
  expect_refused(f, "bad model flags");
}

TEST_F(CheckpointTest, InputColumnsRoundTrip) {
  Checkpoint ck = ck_;
  ck.model = make_model(
      [] {
        ModelConfig c;
        c.input_size = 3;
        return c;
      }(),
      4);
  ck.features = {"a", "b", "SUNACTIVITY"};
  ck.feature_scalers = {{0, 1}, {-2, 5.5}, {1, 200}};
  save_checkpoint(path_, ck);
  const Checkpoint r = load_checkpoint(path_);
  EXPECT_EQ(r.features, ck.features);
  ASSERT_EQ(r.feature_scalers.size(), 3u);
  EXPECT_EQ(r.feature_scalers[1].min, -2);
  EXPECT_EQ(r.feature_scalers[1].max, 5.5);
  ck.features.pop_back();  // two names for D = 3: refused before writing
  EXPECT_THROW(save_checkpoint(path_, ck), InvalidArgument);
}

TEST_F(CheckpointTest, FailedWriteLeavesThePreviousFile) {
  const std::string good = slurp(path_);
  Checkpoint bad = ck_;
  bad.model.params.pop_back();  // inconsistent: refused before anything is written
  EXPECT_THROW(save_checkpoint(path_, bad), InvalidArgument);
  EXPECT_EQ(slurp(path_), good);
  EXPECT_THROW(save_checkpoint("/nonexistent-dir/model.bin", ck_), Error);
}

}  // namespace
}  // namespace rnnattn

namespace rnnattn {
namespace {

// Found by fuzzing load_checkpoint (tests/fuzz/fuzz_checkpoint.cpp, 2026-12-02): a file whose
// checksum is right but which holds a NaN parameter loaded without complaint, and every prediction
// of it was NaN. Numbers a model cannot use are refused when loading, naming what is wrong, and
// never written. `poke` replaces float i of the params/m/v block (0 = params[0]) and fixes the
// checksum, as a damaged file with a recomputed checksum would be.
std::string poke(std::string bytes, std::size_t n, std::size_t i, float v) {
  const std::size_t floats_at = bytes.size() - 8 - 3 * n * sizeof(float);
  std::memcpy(&bytes[floats_at + i * sizeof(float)], &v, sizeof v);
  const std::uint64_t sum = fnv1a64(bytes.data(), bytes.size() - 8);
  std::memcpy(&bytes[bytes.size() - 8], &sum, 8);
  return bytes;
}

TEST_F(CheckpointTest, NonFiniteNumbersAreRefused) {
  const std::string good = slurp(path_);
  const std::size_t n = ck_.model.params.size();
  expect_refused(poke(good, n, 5, NAN), "parameter 5 of " + std::to_string(n) + " is nan");
  expect_refused(poke(good, n, n - 1, INFINITY), "parameter " + std::to_string(n - 1));
  expect_refused(poke(good, n, n + 2, -INFINITY), "Adam's first moment 2");
  expect_refused(poke(good, n, 2 * n + 3, -0.5f), "Adam's second moment 3");
  expect_refused(poke(good, n, 2 * n + 3, -0.5f), "must be finite and >= 0");
  // The unpoked file still loads (the test's bytes are right).
  spit(path_, poke(good, n, 5, ck_.model.params[5]));
  EXPECT_EQ(load_checkpoint(path_).model.params, ck_.model.params);

  // Saving refuses them too, writing nothing.
  const std::string other = dir_.file("diverged.bin");
  Checkpoint bad = ck_;
  bad.model.params[3] = NAN;
  EXPECT_THROW(save_checkpoint(other, bad), InvalidArgument);
  bad = ck_;
  bad.scaler.max = INFINITY;
  try {
    save_checkpoint(other, bad);
    FAIL() << "an infinite scaling range was written";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("scaling range"), std::string::npos) << e.what();
  }
  bad = ck_;
  bad.model.adam.step = -1;
  EXPECT_THROW(save_checkpoint(other, bad), InvalidArgument);
  bad = ck_;
  bad.data_source = "fib";  // a data file's stamp on the built-in series
  EXPECT_THROW(save_checkpoint(other, bad), InvalidArgument);
  EXPECT_FALSE(std::ifstream(other).good()) << "a refused checkpoint left a file";
}

}  // namespace
}  // namespace rnnattn

namespace rnnattn {
namespace {

// The documents describe what is written: the format document's title and the README name the
// version save_checkpoint writes (they once said 2 and 3 while 4 was written).
TEST(CheckpointDocs, NameTheVersionWritten) {
  const std::string v = "version " + std::to_string(kCheckpointVersion);
  const std::string doc = slurp(std::string(RNNATTN_SOURCE_DIR) + "/docs/checkpoint-format.md");
  EXPECT_EQ(doc.substr(0, doc.find('\n')), "# rnnattn checkpoint format, " + v);
  const std::string readme = slurp(std::string(RNNATTN_SOURCE_DIR) + "/README.md");
  EXPECT_NE(readme.find("format " + v), std::string::npos);
}

}  // namespace
}  // namespace rnnattn
