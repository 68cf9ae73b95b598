// Text in, sentiment out: the embedding in the reference (finite differences) and the
// CPU backends, its training, the tokenizer and vocabulary, labelled texts from CSV, checkpoints
// that carry the vocabulary.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "rnnattn/backend.hpp"
#include "rnnattn/checkpoint.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/params.hpp"
#include "rnnattn/reference.hpp"
#include "rnnattn/text.hpp"
#include "rnnattn/trainer.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

using test::all_close;
using test::random_vector;

// Token ids [B, T] in [0, V), drawn from a few ids so that ids repeat within and across
// sequences; padding steps get -1 (any value is ignored there).
std::vector<int> random_tokens(int batch, int steps, int vocab, const int* lengths,
                               std::uint64_t seed, int distinct) {
  Rng rng(seed);
  std::vector<int> t(static_cast<std::size_t>(batch) * steps);
  for (int b = 0; b < batch; ++b) {
    for (int s = 0; s < steps; ++s) {
      const bool pad = lengths && s >= lengths[b];
      t[b * steps + s] = pad ? -1 : static_cast<int>(rng.below(std::min(distinct, vocab)));
    }
  }
  return t;
}

struct EmbedCase {
  Cell cell;
  bool attention, bidirectional;
  int layers, vocab, dim, hidden, steps, batch;
  bool lengths;
};

std::string embed_name(const ::testing::TestParamInfo<EmbedCase>& info) {
  const EmbedCase& c = info.param;
  return std::string(to_string(c.cell)) + (c.attention ? "_attn" : "_plain") +
         (c.bidirectional ? "_bidir" : "") + "_L" + std::to_string(c.layers) + "_V" +
         std::to_string(c.vocab) + "_D" + std::to_string(c.dim) + "_T" + std::to_string(c.steps) +
         "_B" + std::to_string(c.batch) + (c.lengths ? "_lengths" : "");
}

ModelConfig embed_config(const EmbedCase& c) {
  ModelConfig cfg;
  cfg.cell = c.cell;
  cfg.attention = c.attention;
  cfg.bidirectional = c.bidirectional;
  cfg.layers = c.layers;
  cfg.vocab_size = c.vocab;
  cfg.input_size = c.dim;
  cfg.hidden_size = c.hidden;
  cfg.steps = c.steps;
  cfg.head = Activation::kSigmoid;
  return cfg;
}

std::vector<int> case_lengths(const EmbedCase& c) {
  std::vector<int> l;
  for (int b = 0; b < c.batch; ++b) l.push_back(c.lengths ? 1 + (3 * b + 1) % c.steps : c.steps);
  return l;
}

class EmbeddingGradient : public ::testing::TestWithParam<EmbedCase> {};

// L = sum r_i y_i; dL/dparams by central differences in double, every tensor (the table included).
TEST_P(EmbeddingGradient, MatchesCentralFiniteDifferences) {
  const EmbedCase& c = GetParam();
  const ModelConfig cfg = embed_config(c);
  const ParamLayout layout(cfg);
  const std::size_t P = layout.size();
  const std::vector<int> lengths = case_lengths(c);
  const int* len = c.lengths ? lengths.data() : nullptr;
  // Fewer distinct ids than V: repeated ids, and rows that occur nowhere (their gradient is 0).
  const std::vector<int> tokens =
      random_tokens(c.batch, c.steps, c.vocab, len, 11, std::max(1, c.vocab - 1));
  const std::vector<double> params = random_vector<double>(P, 21, -0.8, 0.8);
  const std::vector<double> r = random_vector<double>(c.batch, 31);
  auto loss = [&](const std::vector<double>& p) {
    std::vector<double> y(c.batch);
    reference_forward_tokens<double>(cfg, p.data(), tokens.data(), c.batch, y.data(), nullptr,
                                     nullptr, nullptr, len);
    double l = 0;
    for (int i = 0; i < c.batch; ++i) l += r[i] * y[i];
    return l;
  };
  std::vector<double> dparams(P, 12345.0);  // poisoned
  reference_backward_tokens<double>(cfg, params.data(), tokens.data(), c.batch, r.data(),
                                    dparams.data(), len);
  constexpr double kEps = 1e-6;
  std::vector<double> num(P);
  for (std::size_t i = 0; i < P; ++i) {
    std::vector<double> p = params;
    p[i] = params[i] + kEps;
    const double lp = loss(p);
    p[i] = params[i] - kEps;
    num[i] = (lp - loss(p)) / (2 * kEps);
  }
  for (const TensorInfo& t : layout.tensors()) {
    std::vector<double> got(dparams.begin() + t.offset, dparams.begin() + t.offset + t.size());
    std::vector<double> want(num.begin() + t.offset, num.begin() + t.offset + t.size());
    EXPECT_TRUE(all_close("d" + t.name, got, want, 1e-7, 1e-6));
  }
  // The rows of ids that occur nowhere on a valid step are exactly zero.
  std::set<int> seen;
  for (int b = 0; b < c.batch; ++b) {
    for (int s = 0; s < lengths[b]; ++s) seen.insert(tokens[b * c.steps + s]);
  }
  for (int v = 0; v < c.vocab; ++v) {
    if (seen.count(v)) continue;
    for (int k = 0; k < c.dim; ++k) EXPECT_EQ(dparams[layout.emb + v * c.dim + k], 0.0) << v;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Reference, EmbeddingGradient,
    ::testing::Values(EmbedCase{Cell::kElman, true, false, 1, 5, 3, 4, 6, 3, false},
                      EmbedCase{Cell::kElman, true, false, 1, 7, 2, 3, 5, 4, true},
                      EmbedCase{Cell::kLstm, true, true, 1, 6, 2, 2, 4, 3, true},
                      EmbedCase{Cell::kGru, false, false, 2, 4, 1, 2, 3, 2, false},
                      EmbedCase{Cell::kElman, false, true, 1, 1, 2, 2, 1, 1, false}),
    embed_name);

TEST(Embedding, LooksUpRowsAndZeroesPadding) {
  ModelConfig cfg;
  cfg.vocab_size = 4;
  cfg.input_size = 3;
  cfg.steps = 3;
  const ParamLayout layout(cfg);
  ASSERT_EQ(layout.tensors().back().name, "emb");
  ASSERT_EQ(layout.emb + 12, layout.size());
  // The table comes last: the other tensors sit where the model without it has them.
  EXPECT_EQ(layout.emb, ParamLayout(cfg.recurrent_part()).size());
  std::vector<float> p = random_vector<float>(layout.size(), 5);
  const int tokens[] = {2, 0, 3, 1, -7, 99};
  const int lengths[] = {3, 1};
  std::vector<float> x(2 * 3 * 3, 42.f);
  embedding_forward<float>(cfg, p.data(), tokens, 2, x.data(), lengths);
  for (int i = 0; i < 4; ++i) {
    for (int k = 0; k < 3; ++k) EXPECT_EQ(x[i * 3 + k], p[layout.emb + tokens[i] * 3 + k]);
  }
  for (int i = 4 * 3; i < 18; ++i) EXPECT_EQ(x[i], 0.f);
  // Without lengths every step is valid, and -7 is refused by position.
  try {
    embedding_forward<float>(cfg, p.data(), tokens, 2, x.data());
    FAIL() << "a token outside [0, V) was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("tokens[1][1] = -7 is outside [0, V = 4)"),
              std::string::npos)
        << e.what();
  }
}

TEST(Embedding, PlainEntryPointsRefuseTokenModels) {
  ModelConfig cfg;
  cfg.vocab_size = 10;
  const std::vector<float> p = init_parameters(cfg, 1);
  std::vector<float> x(cfg.steps), y(1);
  EXPECT_THROW(reference_forward<float>(cfg, p.data(), x.data(), 1, y.data()), InvalidArgument);
  const int tokens[20] = {};
  ModelConfig plain;
  EXPECT_THROW(reference_forward_tokens<float>(plain, p.data(), tokens, 1, y.data()),
               InvalidArgument);
  ModelConfig too_big = cfg;
  too_big.vocab_size = (1 << 22) + 1;
  EXPECT_THROW(too_big.validate(), InvalidArgument);
}

TEST(Embedding, InitIsKerasUniformAndKeepsTheRestOfTheModel) {
  ModelConfig cfg;
  cfg.vocab_size = 50;
  cfg.input_size = 8;
  cfg.hidden_size = 5;
  const std::vector<float> p = init_parameters(cfg, 3);
  const std::vector<float> inner = init_parameters(cfg.recurrent_part(), 3);
  ASSERT_LT(inner.size(), p.size());
  EXPECT_TRUE(std::equal(inner.begin(), inner.end(), p.begin()));
  float lo = 1, hi = -1;
  for (std::size_t i = inner.size(); i < p.size(); ++i) {
    lo = std::min(lo, p[i]);
    hi = std::max(hi, p[i]);
  }
  EXPECT_GE(lo, -0.05f);
  EXPECT_LE(hi, 0.05f);
  EXPECT_LT(lo, -0.03f);  // spread over the range, not all zero
  EXPECT_GT(hi, 0.03f);
}

// The CPU backends (the fast path at a batch where it runs, and the reference) against the double
// reference, forward and backward.
TEST(Embedding, CpuBackendsMatchTheReference) {
  ModelConfig cfg;
  cfg.vocab_size = 37;
  cfg.input_size = 6;
  cfg.hidden_size = 16;
  cfg.steps = 9;
  cfg.bidirectional = true;
  cfg.head = Activation::kSigmoid;
  cfg.loss = Loss::kBce;
  const int B = 48;
  std::vector<int> lengths(B);
  for (int b = 0; b < B; ++b) lengths[b] = 1 + b % cfg.steps;
  const std::vector<int> tokens =
      random_tokens(B, cfg.steps, cfg.vocab_size, lengths.data(), 3, 20);
  const std::vector<float> pf = init_parameters(cfg, 9);
  const std::vector<double> pd(pf.begin(), pf.end());
  const std::vector<double> dyd = random_vector<double>(B, 4);
  const std::vector<float> dyf(dyd.begin(), dyd.end());
  std::vector<double> y_ref(B), a_ref(B * cfg.steps), g_ref(pd.size());
  reference_forward_tokens<double>(cfg, pd.data(), tokens.data(), B, y_ref.data(), a_ref.data(),
                                   nullptr, nullptr, lengths.data());
  reference_backward_tokens<double>(cfg, pd.data(), tokens.data(), B, dyd.data(), g_ref.data(),
                                    lengths.data());
  for (Device d : {Device::kCpu, Device::kReference}) {
    SCOPED_TRACE(to_string(d));
    auto be = make_backend(d);
    std::vector<float> y(B, -9.f), a(B * cfg.steps, -9.f), g(pf.size(), -9.f);
    be->forward_tokens(cfg, pf.data(), tokens.data(), B, y.data(), a.data(), nullptr,
                       lengths.data());
    be->backward_tokens(cfg, pf.data(), tokens.data(), B, dyf.data(), g.data(), lengths.data());
    EXPECT_TRUE(all_close("y", y, y_ref, 1e-5, 1e-4));
    EXPECT_TRUE(all_close("attention", a, a_ref, 1e-5, 1e-4));
    const ParamLayout layout(cfg);
    for (const TensorInfo& t : layout.tensors()) {
      std::vector<float> got(g.begin() + t.offset, g.begin() + t.offset + t.size());
      std::vector<double> want(g_ref.begin() + t.offset, g_ref.begin() + t.offset + t.size());
      EXPECT_TRUE(all_close("d" + t.name, got, want, 1e-5, 1e-3));
    }
  }
}

// Training a token model: the loss falls; rows of ids that never occur never move (zero
// gradient, zero moments), rows that occurred keep moving on Adam's momentum in a step where they
// do not occur, as Keras' Adam on a dense embedding gradient does.
TEST(Embedding, TrainsAndLeavesUnseenRowsAlone) {
  ModelConfig cfg;
  cfg.vocab_size = 12;
  cfg.input_size = 4;
  cfg.hidden_size = 6;
  cfg.steps = 5;
  cfg.head = Activation::kSigmoid;
  cfg.loss = Loss::kBce;
  // Ids 2..5 decide the label (2, 3 positive), 6..8 are noise, 9..11 never occur.
  WindowSet w;
  w.steps = cfg.steps;
  w.count = 64;
  Rng rng(5);
  for (int i = 0; i < w.count; ++i) {
    const int len = 2 + static_cast<int>(rng.below(4));
    const int key = 2 + static_cast<int>(rng.below(4));
    for (int t = 0; t < cfg.steps; ++t) {
      w.tokens.push_back(t >= len ? 0 : t == 0 ? key : 6 + static_cast<int>(rng.below(3)));
    }
    w.lengths.push_back(len);
    w.y.push_back(key < 4 ? 1.f : 0.f);
    w.index.push_back(i);
  }
  auto be = make_backend(Device::kCpu);
  Model m = make_model(cfg, 2, AdamConfig{0.02f});
  const std::vector<float> before = m.params;
  const double loss0 = evaluate_loss(*be, m, w);
  TrainOptions opt;
  opt.epochs = 30;
  opt.batch_size = 16;
  fit(*be, m, w, opt);
  EXPECT_LT(evaluate_loss(*be, m, w), 0.5 * loss0);
  EXPECT_GT(accuracy(predict(*be, m, w), w), 0.95);
  const std::size_t emb = ParamLayout(cfg).emb;
  for (int v = 0; v < cfg.vocab_size; ++v) {
    const bool occurs = v >= 2 && v <= 8;
    for (int k = 0; k < cfg.input_size; ++k) {
      const std::size_t i = emb + v * cfg.input_size + k;
      if (occurs) {
        EXPECT_NE(m.params[i], before[i]) << "row " << v;
      } else {
        EXPECT_EQ(m.params[i], before[i]) << "row " << v;
        EXPECT_EQ(m.adam.m[i], 0.f);
      }
    }
  }
  // Momentum: one batch with id 2, then one without it; row 2 moves in the second step too.
  auto session = be->start_training(cfg, m.adam_config, m.params, m.adam);
  session->set_token_dataset(w.tokens.data(), w.y.data(), w.count, w.lengths.data());
  int with = -1, without = -1;
  for (int i = 0; i < w.count; ++i) {
    const auto first = w.tokens.begin() + i * cfg.steps, last = first + w.lengths[i];
    const bool has = std::find(first, last, 2) != last;
    if (has && with < 0) with = i;
    if (!has && without < 0) without = i;
  }
  ASSERT_GE(with, 0);
  ASSERT_GE(without, 0);
  session->train_epoch({with}, 1);
  const std::vector<float> p1 = session->parameters();
  session->train_epoch({without}, 1);
  const std::vector<float> p2 = session->parameters();
  EXPECT_NE(p2[emb + 2 * cfg.input_size], p1[emb + 2 * cfg.input_size]);
  // A plain dataset is refused for a token model.
  std::vector<float> x(w.count * cfg.steps * cfg.input_size);
  EXPECT_THROW(session->set_dataset(x.data(), w.y.data(), w.count), InvalidArgument);
}

// ---- the tokenizer and the vocabulary ---------------------------------------------------------

TEST(Tokenizer, LowersSplitsAndStripsPunctuationAsKeras) {
  EXPECT_EQ(tokenize("Hello, World!  It's a\tgreat\nfilm..."),
            (std::vector<std::string>{"hello", "world", "it's", "a", "great", "film"}));
  EXPECT_EQ(tokenize(""), std::vector<std::string>{});
  EXPECT_EQ(tokenize(" ,.;!? "), std::vector<std::string>{});
  // UTF-8 passes through untouched (only ASCII letters are lowered).
  EXPECT_EQ(tokenize("Caf\xC3\xA9 \xC3\x89T\xC3\x89"),
            (std::vector<std::string>{"caf\xC3\xA9", "\xC3\x89t\xC3\x89"}));
  EXPECT_EQ(tokenize("a-b/c_d"), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(Tokenizer, VocabularyByFrequencyTiesInFirstOccurrence) {
  const std::vector<std::vector<std::string>> texts = {
      {"b", "a", "c"}, {"c", "d", "a"}, {"e", "a", "d"}};
  // Counts: a 3, c 2, d 2, b 1, e 1; ties (c before d, b before e) by first occurrence.
  const Vocabulary all = Vocabulary::build(texts, 100);
  EXPECT_EQ(all.words(), (std::vector<std::string>{"a", "c", "d", "b", "e"}));
  EXPECT_EQ(all.size(), 7);
  const Vocabulary top = Vocabulary::build(texts, 4);  // two words besides padding and OOV
  EXPECT_EQ(top.words(), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(top.id("a"), 2);
  EXPECT_EQ(top.id("c"), 3);
  EXPECT_EQ(top.id("d"), kOovToken);
  int len = 0;
  EXPECT_EQ(top.encode({"c", "zzz", "a"}, 5, &len), (std::vector<int>{3, 1, 2, 0, 0}));
  EXPECT_EQ(len, 3);
  EXPECT_EQ(top.encode({"c", "a", "c", "a"}, 2, &len), (std::vector<int>{3, 2}));  // truncated
  EXPECT_EQ(len, 2);
  EXPECT_THROW(Vocabulary::build(texts, 2), InvalidArgument);
  EXPECT_THROW(Vocabulary({"a", "b", "a"}), InvalidArgument);
}

// Keras' pad_sequences: padding at either end, truncation at either end; with pre padding the
// recurrence reads every step (the padding as tokens), with post padding the text's own.
TEST(Tokenizer, PlacesTokensAsKerasPadSequences) {
  const Vocabulary v({"a", "b", "c", "d"});  // ids 2, 3, 4, 5
  const std::vector<std::string> short_text = {"a", "b"}, long_text = {"a", "b", "c", "d"};
  struct Want {
    PadSide padding, truncating;
    std::vector<int> short_ids, long_ids;
    int short_len;
  };
  const PadSide pre = PadSide::kPre, post = PadSide::kPost;
  for (const Want& w :
       {Want{post, post, {2, 3, 0}, {2, 3, 4}, 2},  //
        Want{pre, post, {0, 2, 3}, {2, 3, 4}, 3}, Want{post, pre, {2, 3, 0}, {3, 4, 5}, 2},
        Want{pre, pre, {0, 2, 3}, {3, 4, 5}, 3}}) {
    const TextLayout layout{w.padding, w.truncating};
    SCOPED_TRACE(std::string("padding ") + to_string(w.padding) + ", truncating " +
                 to_string(w.truncating));
    int len = -1;
    EXPECT_EQ(v.encode(short_text, 3, &len, layout), w.short_ids);
    EXPECT_EQ(len, w.short_len);
    EXPECT_EQ(v.encode(long_text, 3, &len, layout), w.long_ids);
    EXPECT_EQ(len, 3);
    // place_words says where encode put them (predict shows the attention by it).
    const Placement p = place_words(4, 3, layout);
    EXPECT_EQ(p.count, 3);
    EXPECT_EQ(p.word0, w.truncating == pre ? 1 : 0);
    EXPECT_EQ(p.step0, 0);
    EXPECT_EQ(place_words(2, 3, layout).step0, w.padding == pre ? 1 : 0);
  }
  EXPECT_EQ(parse_pad_side("pre", "--padding"), pre);
  try {
    parse_pad_side("both", "--padding");
    ADD_FAILURE() << "'both' was taken";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("--padding: 'both' is not pre or post"), std::string::npos)
        << e.what();
  }
}

TEST(Tokenizer, FindsInvalidUtf8) {
  EXPECT_EQ(invalid_utf8("plain ascii"), std::string_view::npos);
  EXPECT_EQ(invalid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), std::string_view::npos);
  EXPECT_EQ(invalid_utf8("ab\xFF"), 2u);            // never valid
  EXPECT_EQ(invalid_utf8("a\x80"), 1u);             // a lone continuation byte
  EXPECT_EQ(invalid_utf8("a\xC3"), 1u);             // truncated
  EXPECT_EQ(invalid_utf8("\xC0\xAF"), 0u);          // overlong
  EXPECT_EQ(invalid_utf8("x\xED\xA0\x80"), 1u);     // a surrogate
  EXPECT_EQ(invalid_utf8("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
}

// ---- labelled texts from CSV ------------------------------------------------------------------

class TextCsv : public ::testing::Test {
 protected:
  test::ScratchDir dir_{"rnnattn_text"};
  std::string write(const std::string& body) {
    const std::string p = dir_.file("texts.csv");
    test::spit(p, body);
    return p;
  }
  std::string error_of(const std::string& body, bool drop = false) {
    try {
      read_csv_text(write(body), "review", "sentiment", drop);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
};

TEST_F(TextCsv, ReadsQuotedTextsAndNamesClassesInSortedOrder) {
  const std::string p = write(
      "id,review,sentiment\n"
      "1,\"Great film, really\",positive\n"
      "2,\"Dull.\nTwo lines, \"\"quoted\"\"\",negative\n"
      "3,Fine,positive\n");
  const TextTable t = read_csv_text(p, "review", "SENTIMENT");
  EXPECT_EQ(t.classes, (std::vector<std::string>{"negative", "positive"}));
  EXPECT_EQ(t.texts[1], "Dull.\nTwo lines, \"quoted\"");
  EXPECT_EQ(t.labels, (std::vector<int>{1, 0, 1}));
  EXPECT_EQ(t.lines, (std::vector<int>{2, 3, 5}));
  EXPECT_EQ(t.label_column, "sentiment");
}

// Every label is a class, in numeric order where all are numbers (so that labels 0..K-1 are their
// own classes, "10" after "9"), else in sorted order; a row without one is refused or dropped.
// Named classes (two or more) keep the order named, class 0 first, and the others are refused or
// dropped.
TEST_F(TextCsv, EveryLabelIsAClassUnlessTheClassesAreNamed) {
  const std::string body =
      "review,sentiment\n"
      "good,1\nbad,0\nmeh,2\nok,1\nawful,\n";
  EXPECT_NE(error_of(body, false)
                .find(":6: 1 row has a label other than '0', '1' and '2' in column 'sentiment'"),
            std::string::npos)
      << error_of(body, false);
  const std::string p = write(body);
  TextTable all = read_csv_text(p, "review", "sentiment", true);
  EXPECT_EQ(all.classes, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(all.labels, (std::vector<int>{1, 0, 2, 1}));
  EXPECT_EQ(all.dropped, 1);
  all = read_csv_text(write("t,k\na b,10\nc d,9\ne f,2\ng h,9\n"), "t", "k");
  EXPECT_EQ(all.classes, (std::vector<std::string>{"2", "9", "10"}));
  EXPECT_EQ(all.labels, (std::vector<int>{2, 1, 0, 1}));
  all = read_csv_text(write("t,k\na b,pos\nc d,neg\ne f,mixed\n"), "t", "k");
  EXPECT_EQ(all.classes, (std::vector<std::string>{"mixed", "neg", "pos"}));
  EXPECT_EQ(all.labels, (std::vector<int>{2, 1, 0}));
  // (write() reuses one file: `p` holds `body` again from here on.)
  all = read_csv_text(write(body), "review", "sentiment", true, {"2", "0", "1"});  // as named
  EXPECT_EQ(all.labels, (std::vector<int>{2, 1, 0, 2}));
  const auto error_with = [&](bool drop, const std::vector<std::string>& classes) {
    try {
      read_csv_text(p, "review", "sentiment", drop, classes);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  // The others (and the row without a label) refused with their count and first line, or dropped.
  EXPECT_NE(error_with(false, {"0", "1"}).find(":4: 2 rows have a label other than '0' and '1'"),
            std::string::npos)
      << error_with(false, {"0", "1"});
  TextTable t = read_csv_text(p, "review", "sentiment", true, {"0", "1"});
  EXPECT_EQ(t.classes, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(t.labels, (std::vector<int>{1, 0, 1}));
  EXPECT_EQ(t.dropped, 2);
  t = read_csv_text(p, "review", "sentiment", true, {"2", "0"});  // class 0 is the first named
  EXPECT_EQ(t.classes, (std::vector<std::string>{"2", "0"}));
  EXPECT_EQ(t.labels, (std::vector<int>{1, 0}));
  EXPECT_EQ(t.texts, (std::vector<std::string>{"bad", "meh"}));
  EXPECT_EQ(t.dropped, 3);
  EXPECT_NE(error_with(true, {"0", "maybe"})
                .find("no row has the label 'maybe' in column 'sentiment' (its labels: '0', '1' "
                      "and '2')"),
            std::string::npos)
      << error_with(true, {"0", "maybe"});
  EXPECT_THROW(read_csv_text(p, "review", "sentiment", true, {"1", "1"}), InvalidArgument);
  EXPECT_THROW(read_csv_text(p, "review", "sentiment", true, {"1"}), InvalidArgument);
  // Two labels and rows without one: the two are the classes, the others refused or dropped.
  const std::string two = write("review,sentiment\ngood,1\nbad,0\nawful,\n");
  t = read_csv_text(two, "review", "sentiment", true);
  EXPECT_EQ(t.classes, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(t.dropped, 1);
}

// Latin-1 and Windows-1252 bytes become UTF-8; Windows-1252's undefined bytes are found; the
// names are read in any case, with or without hyphens.
TEST(TextEncodings, ReadLatin1AndWindows1252AsUtf8) {
  std::size_t bad = 0;
  EXPECT_EQ(to_utf8("caf\xE9 na\xEFve \xFF", TextEncoding::kLatin1, &bad),
            "caf\xC3\xA9 na\xC3\xAFve \xC3\xBF");
  EXPECT_EQ(bad, std::string_view::npos);
  EXPECT_EQ(to_utf8("\x93quoted\x94 \x80 \xE9", TextEncoding::kWindows1252, &bad),
            "\xE2\x80\x9Cquoted\xE2\x80\x9D \xE2\x82\xAC \xC3\xA9");
  EXPECT_EQ(bad, std::string_view::npos);
  // Latin-1 reads 0x93 as the control character U+0093.
  EXPECT_EQ(to_utf8("\x93", TextEncoding::kLatin1, &bad), "\xC2\x93");
  (void)to_utf8("ok \x81", TextEncoding::kWindows1252, &bad);
  EXPECT_EQ(bad, 3u);
  (void)to_utf8("ok \xE9", TextEncoding::kUtf8, &bad);
  EXPECT_EQ(bad, 3u);
  EXPECT_EQ(parse_text_encoding("UTF-8"), TextEncoding::kUtf8);
  EXPECT_EQ(parse_text_encoding("latin1"), TextEncoding::kLatin1);
  EXPECT_EQ(parse_text_encoding("ISO-8859-1"), TextEncoding::kLatin1);
  EXPECT_EQ(parse_text_encoding("cp1252"), TextEncoding::kWindows1252);
  EXPECT_EQ(parse_text_encoding("Windows-1252"), TextEncoding::kWindows1252);
  EXPECT_THROW(parse_text_encoding("ebcdic"), InvalidArgument);
}

TEST_F(TextCsv, ReadsTextsInTheEncodingNamed) {
  const std::string body =
      "review,sentiment\ncaf\xE9 cr\xE8me,pos\n\x93"
      "bad\x94 film,neg\n";
  EXPECT_NE(error_of(body).find(":2: invalid UTF-8 (byte 0xE9); texts are read as UTF-8 unless "
                                "--encoding latin-1 or windows-1252"),
            std::string::npos)
      << error_of(body);
  const std::string p = write(body);
  TextTable t = read_csv_text(p, "review", "sentiment", false, {}, TextEncoding::kWindows1252);
  EXPECT_EQ(t.texts, (std::vector<std::string>{"caf\xC3\xA9 cr\xC3\xA8me",
                                               "\xE2\x80\x9C"
                                               "bad\xE2\x80\x9D film"}));
  EXPECT_EQ(t.classes, (std::vector<std::string>{"neg", "pos"}));
  const std::string undefined = write("review,sentiment\ngood,pos\nbad \x81,neg\n");
  try {
    read_csv_text(undefined, "review", "sentiment", false, {}, TextEncoding::kWindows1252);
    ADD_FAILURE() << "an undefined Windows-1252 byte was read";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(":3: byte 0x81 is no windows-1252 character"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(TextCsv, BadInputGetsAClearError) {
  auto has = [&](const std::string& body, const std::string& want) {
    const std::string e = error_of(body);
    EXPECT_NE(e.find(want), std::string::npos) << "error: " << e << "\nwanted: " << want;
  };
  has("review,sentiment\ngood,pos\nbad,pos\n", "one label only ('pos')");
  has("review,sentiment\ngood,1\nbad,1\nugly,\n", "one label only ('1')");
  has("review,sentiment\n12,1\n3.5,0\n", "holds numbers only, not text");
  has("review,sentiment\ngood,1\n\"...\",0\n", ":3: the text in column 'review' is empty");
  has("review,sentiment\ngood,1\nbad \xC3(,0\n", ":3: invalid UTF-8 (byte 0xC3)");
  has("text,label\ngood,1\n", ":1: no column named 'review' (columns: text, label)");
  has("review,sentiment\ngood,1,extra\n", ":2: 3 fields, the header has 2");
  has("", "the file is empty");
}

TEST_F(TextCsv, SplitsAndBuildsTheVocabularyFromTheTrainingTextsOnly) {
  std::string body = "review,sentiment\n";
  for (int i = 0; i < 40; ++i) {
    body += (i % 2 ? "a fine good film " : "a bad dull film ") + std::string("w") +
            std::to_string(i) + "," + std::to_string(i % 2) + "\n";
  }
  const TextTable t = read_csv_text(write(body), "review", "sentiment");
  TextOptions o;
  o.vocab = 1000;
  o.steps = 4;
  o.seed = 3;
  const SplitData d = text_data(t, o);
  EXPECT_EQ(d.train.count, 28);
  EXPECT_EQ(d.test.count, 12);
  EXPECT_EQ(d.train.tokens.size(), 28u * 4);
  const Vocabulary v(d.vocabulary);
  // Each row's own word w<i> is in the vocabulary exactly when the row trains.
  for (int k = 0; k < d.test.count; ++k) {
    EXPECT_EQ(v.id("w" + std::to_string(d.test.index[k])), kOovToken);
  }
  for (int k = 0; k < d.train.count; ++k) {
    EXPECT_NE(v.id("w" + std::to_string(d.train.index[k])), kOovToken);
    EXPECT_EQ(d.train.lengths[k], 4);  // five words, truncated to T = 4 (post)
    EXPECT_EQ(d.train.y[k], static_cast<float>(d.train.index[k] % 2));
  }
  EXPECT_EQ(v.words()[0], "a");  // the most frequent word (ties: first occurrence)
  // The same seed gives the same split; another seed another.
  EXPECT_EQ(text_data(t, o).train.index, d.train.index);
  o.seed = 4;
  EXPECT_NE(text_data(t, o).train.index, d.train.index);
  // New texts with the vocabulary.
  const WindowSet w = encode_texts({"A GOOD film", "zzz"}, v, 5);
  EXPECT_EQ(w.tokens[0], v.id("a"));
  EXPECT_EQ(w.tokens[5], kOovToken);
  EXPECT_EQ(w.lengths, (std::vector<int>{3, 1}));
  EXPECT_THROW(encode_texts({"fine", "?!"}, v, 5), DataError);
}

TEST(SentimentTokens, AreTheTaskShiftedPastPaddingAndOov) {
  SentimentOptions o;
  o.train = 20;
  o.test = 10;
  o.dim = 3;
  o.min_length = 7;
  o.max_length = 12;
  std::vector<int> ids;
  const SplitData plain = sentiment_data(o, &ids);
  const SplitData tok = sentiment_token_data(o);
  EXPECT_EQ(sentiment_vocab_size(o), o.neutral_tokens + 2 * o.sentiment_tokens + 2);
  ASSERT_EQ(tok.train.tokens.size(), 20u * 12);
  EXPECT_TRUE(tok.train.x.empty());
  EXPECT_EQ(tok.train.y, plain.train.y);
  EXPECT_EQ(tok.test.lengths, plain.test.lengths);
  for (std::size_t k = 0; k < tok.test.tokens.size(); ++k) {
    const int id = ids[20 * 12 + k];
    EXPECT_EQ(tok.test.tokens[k], id < 0 ? 0 : id + 2);
  }
}

// ---- checkpoints ------------------------------------------------------------------------------

TEST(TextCheckpoint, RoundTripsTheEmbeddingAndVocabulary) {
  test::ScratchDir dir("rnnattn_textck");
  ModelConfig cfg;
  cfg.vocab_size = 6;
  cfg.input_size = 3;
  cfg.head = Activation::kSigmoid;
  cfg.loss = Loss::kBce;
  Checkpoint ck;
  ck.model = make_model(cfg, 4);
  ck.data_source = "texts.csv";
  ck.column = "label";
  ck.text.column = "review";
  ck.text.classes = {"neg", "pos"};
  ck.text.vocabulary = {"the", "caf\xC3\xA9", "film"};
  const std::string path = dir.file("m.ckpt");
  save_checkpoint(path, ck);
  const Checkpoint r = load_checkpoint(path);
  EXPECT_EQ(r.model.config, cfg);
  EXPECT_EQ(r.model.params, ck.model.params);
  EXPECT_EQ(r.text.column, "review");
  EXPECT_EQ(r.text.classes, ck.text.classes);
  EXPECT_EQ(r.text.vocabulary, ck.text.vocabulary);
  // Inconsistent text records are refused before anything is written.
  Checkpoint bad = ck;
  bad.text.vocabulary = {"a", "b", "c", "d", "e"};  // 5 words + 2 reserved ids > V = 6
  EXPECT_THROW(save_checkpoint(path, bad), InvalidArgument);
  bad.text.vocabulary = {"a", "a"};
  EXPECT_THROW(save_checkpoint(path, bad), InvalidArgument);
  bad = ck;
  bad.text.classes = {"only"};
  EXPECT_THROW(save_checkpoint(path, bad), InvalidArgument);
  bad = ck;
  bad.model = make_model(cfg.recurrent_part(), 4);
  EXPECT_THROW(save_checkpoint(path, bad), InvalidArgument);       // words without an embedding
  EXPECT_EQ(load_checkpoint(path).model.params, ck.model.params);  // the file is intact
}

}  // namespace
}  // namespace rnnattn
