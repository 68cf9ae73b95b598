// The command line on labelled texts: train from a CSV of texts, save, inspect, export
// and import, resume, predict new texts from the checkpoint; the sentiment task as token ids; bad
// input refused with one clear message before any work.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_test.hpp"

namespace rnnattn::test {
namespace {

// A small corpus whose label is carried by a few words among neutral ones; quoted fields hold
// commas and line breaks, as RFC 4180 allows.
std::string corpus(int rows) {
  const char* pos[] = {"great", "wonderful", "loved", "superb"};
  const char* neg[] = {"awful", "boring", "hated", "dull"};
  const char* neutral[] = {"the", "film", "plot", "actor", "was", "and", "it", "story"};
  Rng rng(3);
  std::string s = "id,review,sentiment\n";
  for (int i = 0; i < rows; ++i) {
    const bool good = i % 2;
    std::string text;
    const int n = 4 + static_cast<int>(rng.below(8));
    const int at = static_cast<int>(rng.below(n));
    for (int k = 0; k < n; ++k) {
      text += std::string(k ? " " : "") + neutral[rng.below(8)];
      if (k == at) text += std::string(" ") + (good ? pos : neg)[rng.below(4)];
    }
    if (i % 5 == 0) text = "\"" + text + ", really.\nYes!\"";
    s += std::to_string(i) + "," + text + "," + (good ? "pos" : "neg") + "\n";
  }
  return s;
}

const char* kTrain =
    "train --data texts.csv --text-column review --label-column sentiment --steps 16 --hidden 6 "
    "--embedding 5 --epochs 12 --batch 16 --lr 0.02 --device cpu";

TEST_F(Cli, TextsTrainSaveInspectAndPredict) {
  file("texts.csv", corpus(200));
  const Result t = run(std::string(kTrain) + " --save m.bin --json r.json");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("texts in column review (classes 0 'neg', 1 'pos'"), std::string::npos)
      << t.out;
  EXPECT_NE(t.out.find("vocab="), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("200 windows of T=16 (140 train, 60 test"), std::string::npos) << t.out;
  const Result i = run("inspect --model m.bin");
  ASSERT_EQ(i.code, 0) << i.err;
  EXPECT_NE(i.out.find("text: column review, classes 0 'neg' and 1 'pos'"), std::string::npos)
      << i.out;
  EXPECT_NE(i.out.find("emb ["), std::string::npos) << i.out;
  // New texts: the words decide.
  const Result good = run("predict --model m.bin --text \"The plot, it was SUPERB!\" --device cpu");
  ASSERT_EQ(good.code, 0) << good.err;
  EXPECT_NE(good.out.find("  pos  The plot"), std::string::npos) << good.out;
  const Result bad = run("predict --model m.bin --text \"an awful, dull film\" --device cpu");
  EXPECT_NE(bad.out.find("  neg  an awful"), std::string::npos) << bad.out;
  // Every row of a file, with the accuracy where it has labels (here: all but one).
  file("new.csv",
       "review,sentiment\n\"loved it, the story\",pos\nboring plot,neg\n\"great\nactor\",\n");
  const Result f = run("predict --model m.bin --data new.csv --device cpu --json p.json");
  ASSERT_EQ(f.code, 0) << f.err;
  EXPECT_NE(f.out.find("(2 of 2 labelled rows)"), std::string::npos) << f.out;
  EXPECT_NE(f.out.find("4  "), std::string::npos) << f.out;  // the third row starts on line 4
  EXPECT_NE(slurp(dir_ + "/p.json").find("\"probability\""), std::string::npos);
  // Export and import keep the vocabulary: the imported model predicts the same.
  ASSERT_EQ(run("export --model m.bin --output m.safetensors").code, 0);
  const Result im = run("import --input m.safetensors --save m2.bin");
  ASSERT_EQ(im.code, 0) << im.err;
  const Result again =
      run("predict --model m2.bin --text \"The plot, it was SUPERB!\" --device cpu");
  EXPECT_EQ(again.out, good.out);
  // Resuming 12 -> 14 epochs gives the bits of one 14-epoch run.
  const Result r = run("train --resume m.bin --epochs 14 --device cpu --json resumed.json");
  ASSERT_EQ(r.code, 0) << r.err;
  std::string once = kTrain;
  once.replace(once.find("--epochs 12"), 11, "--epochs 14");
  const Result o = run(once + " --json once.json");
  ASSERT_EQ(o.code, 0) << o.err;
  const auto accuracy_line = [](const std::string& out) {
    const auto at = out.find("attention    seed");
    return out.substr(at, out.find("  ", out.find("test bce", at) + 9) - at);
  };
  EXPECT_EQ(accuracy_line(r.out), accuracy_line(o.out));
  // The GPU (where there is one, or the simulator) trains the same model: the same scores.
  if (cuda_device_count() > 0) {
    std::string gpu = kTrain;
    gpu.replace(gpu.find("--device cpu"), 12, "--device cuda");
    const Result g = run(gpu);
    ASSERT_EQ(g.code, 0) << g.err;
    EXPECT_EQ(accuracy_line(g.out).substr(0, 60), accuracy_line(t.out).substr(0, 60));
  }
  // A model without texts refuses --text; a text model refuses what it cannot read.
  ASSERT_EQ(run("train --epochs 1 --device cpu --save fib.bin").code, 0);
  EXPECT_NE(run("predict --model fib.bin --text hello").err.find("was not trained on texts"),
            std::string::npos);
  EXPECT_NE(run("predict --model m.bin --text \"?!\" --device cpu").err.find("has no words"),
            std::string::npos);
  EXPECT_NE(run("predict --model m.bin --data fib").err.find("reads token ids"), std::string::npos);
}

// --padding and --truncating pre (Keras' pad_sequences defaults): the checkpoint keeps them,
// inspect shows them, predict reads new texts with them (every step: the padding is read as
// tokens) and shows the attention on the words; --resume takes them from the checkpoint.
TEST_F(Cli, TextsPaddedAndTruncatedAtTheStart) {
  file("texts.csv", corpus(60));
  std::string two = kTrain;  // two epochs: the layout, not the accuracy, is under test
  two.replace(two.find("--epochs 12"), 11, "--epochs 2");
  const std::string train = two + " --padding pre --truncating pre";
  const Result t = run(train + " --save pre.bin");
  ASSERT_EQ(t.code, 0) << t.err;
  const Result i = run("inspect --model pre.bin");
  EXPECT_NE(i.out.find("padding pre, truncating pre"), std::string::npos) << i.out;
  const Result p = run(
      "predict --model pre.bin --text \"a b c d e f g h i j k l m n o p q superb\" --device cpu "
      "--attention --json p.json");
  ASSERT_EQ(p.code, 0) << p.err;
  // 18 words in 16 steps, truncated at the start: the first word shown is "c", the last "superb".
  EXPECT_NE(p.out.find("#  attention: c "), std::string::npos) << p.out;
  EXPECT_NE(p.out.find(" superb "), std::string::npos) << p.out;
  const Result s =
      run("predict --model pre.bin --text \"superb film\" --device cpu --json s.json --attention");
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_NE(slurp(dir_ + "/s.json").find("\"tokens\":16"), std::string::npos)
      << slurp(dir_ + "/s.json");  // pre padding: all 16 steps read
  EXPECT_NE(s.out.find("#  attention: superb "), std::string::npos) << s.out;
  // The default (post) model reads the text's own 2 steps.
  ASSERT_EQ(run(two + " --save post.bin").code, 0);
  const Result q =
      run("predict --model post.bin --text \"superb film\" --device cpu --json q.json");
  ASSERT_EQ(q.code, 0) << q.err;
  EXPECT_NE(slurp(dir_ + "/q.json").find("\"tokens\":2"), std::string::npos);
  // Resuming keeps the layout (the option with --resume is refused by the table's test).
  const Result r = run("train --resume pre.bin --epochs 3 --device cpu --save pre3.bin");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(run("inspect --model pre3.bin").out.find("padding pre, truncating pre"),
            std::string::npos);
  // A bad side is a usage error naming the option.
  const Result bad = run(two + " --padding middle");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--padding: 'middle' is not pre or post"), std::string::npos) << bad.err;
}

TEST_F(Cli, TextInputIsCheckedBeforeAnyWork) {
  file("texts.csv", corpus(20));
  const std::string base =
      "train --data texts.csv --text-column review --label-column sentiment --epochs 1 --device "
      "cpu";
  expect_refused("train --data texts.csv --text-column review", {"--label-column NAME"});
  expect_refused("train --data sentiment --text-column review --label-column s",
                 {"--text-column reads a CSV file of texts"});
  expect_refused("train --data texts.csv --text-column nope --label-column sentiment",
                 {"texts.csv:1: no column named 'nope' (columns: id, review, sentiment)"});
  expect_refused(base + " --column id", {"--column applies to CSV series, not texts"});
  expect_refused("train --vocab 10", {"--vocab applies to texts"});
  expect_refused("train --embedding 4", {"--embedding applies to texts"});
  file("numbers.csv", "review,sentiment\n1,0\n2.5,1\n");
  expect_refused("train --data numbers.csv --text-column review --label-column sentiment",
                 {"holds numbers only, not text"});
  // Three labels (as a corpus of negative, neutral and positive tweets) train a softmax over
  // them (three_classes_train_and_predict); two named ones the binary model, the others refused
  // or dropped.
  file("three.csv", "review,sentiment\ngood,pos\nbad,neg\nso so,mixed\nfine,pos\nugly,neg\n");
  const std::string three = "train --data three.csv --text-column review --label-column sentiment";
  expect_refused(three + " --loss bce",
                 {"--loss bce is binary; column 'sentiment' of three.csv has 3 classes (mixed, "
                  "neg, pos)",
                  "--classes A,B --drop-other-labels"});
  expect_refused(three + " --head sigmoid", {"--head sigmoid is binary"});
  expect_refused(
      three + " --classes pos,neg",
      {"three.csv:4: 1 row has a label other than 'pos' and 'neg'", "--drop-other-labels"});
  expect_refused(three + " --classes pos,happy --drop-other-labels",
                 {"no row has the label 'happy' in column 'sentiment'"});
  expect_refused(three + " --classes pos", {"--classes takes two or more different labels"});
  expect_refused(three + " --classes pos,pos", {"--classes takes two or more different labels"});
  expect_refused("train --classes a,b", {"--classes applies to texts"});
  const Result dropped =
      run(three +
          " --classes pos,neg --drop-other-labels --epochs 1 --embedding 2 --hidden 2 "
          "--device cpu --save three.bin");
  EXPECT_EQ(dropped.code, 0) << dropped.err;
  EXPECT_NE(dropped.out.find("dropped 1 row with another label"), std::string::npos) << dropped.out;
  EXPECT_NE(dropped.out.find("(classes 0 'pos', 1 'neg'"), std::string::npos) << dropped.out;
  // The model predicts the file's rows with its two classes, the third label's row unlabelled.
  const Result predicted = run("predict --model three.bin --data three.csv --device cpu");
  EXPECT_EQ(predicted.code, 0) << predicted.err;
  // forecast continues series: a text model is refused as one (not by its embedding's width).
  const Result forecast = run("forecast --model three.bin --data three.csv --horizon 2");
  EXPECT_EQ(forecast.code, 2);
  EXPECT_NE(forecast.err.find("three.bin classifies token sequences (texts, column review): use "
                              "predict"),
            std::string::npos)
      << forecast.err;
  expect_refused("train --resume three.bin --epochs 2 --classes neg,pos",
                 {"--classes: with --resume the model and its data come from the checkpoint"});
  // Texts in Latin-1 (as many real tweets are): refused as UTF-8, naming --encoding; read with it.
  std::string latin1 = "review,sentiment\n";
  for (int i = 0; i < 12; ++i) latin1 += i % 2 ? "tr\xE8s bien,1\n" : "tr\xE8s mauvais,0\n";
  file("latin1.csv", latin1);
  const std::string latin = "train --data latin1.csv --text-column review --label-column sentiment";
  expect_refused(latin, {"latin1.csv:2: invalid UTF-8 (byte 0xE8)", "--encoding latin-1"});
  expect_refused(latin + " --encoding ebcdic",
                 {"--encoding: unknown text encoding 'ebcdic' (utf-8, latin-1 or windows-1252)"});
  expect_refused("train --encoding latin-1", {"--encoding applies to texts"});
  const Result read = run(latin +
                          " --encoding latin-1 --epochs 1 --embedding 2 --hidden 2 "
                          "--device cpu --save latin1.bin");
  EXPECT_EQ(read.code, 0) << read.err;
  const Result latin_predicted =
      run("predict --model latin1.bin --data latin1.csv --encoding latin-1 --device cpu");
  EXPECT_EQ(latin_predicted.code, 0) << latin_predicted.err;
  EXPECT_NE(latin_predicted.out.find("tr\xC3\xA8s bien"), std::string::npos) << latin_predicted.out;
  EXPECT_NE(run("predict --model latin1.bin --data latin1.csv --device cpu")
                .err.find("--encoding latin-1"),
            std::string::npos);
  file("utf8.csv", "review,sentiment\ngood,1\n\"bad\n\xFF\",0\n");
  expect_refused("train --data utf8.csv --text-column review --label-column sentiment",
                 {"utf8.csv:4: invalid UTF-8 (byte 0xFF)"});
}

// A corpus of three topics, each row's carried by two of its words among neutral ones.
std::string topics(int rows) {
  const char* words[3][4] = {{"bread", "soup", "spice", "cake"},
                             {"goal", "match", "team", "score"},
                             {"code", "chip", "cloud", "data"}};
  const char* names[3] = {"food", "sport", "tech"};
  const char* neutral[] = {"the", "a", "and", "it", "was", "very", "today", "we"};
  Rng rng(5);
  std::string s = "text,topic\n";
  for (int i = 0; i < rows; ++i) {
    const int k = static_cast<int>(rng.below(3));
    std::string text;
    const int n = 3 + static_cast<int>(rng.below(6));
    for (int j = 0; j < n; ++j) {
      text += std::string(j ? " " : "") + neutral[rng.below(8)];
      if (j == 1 || j == n - 1) text += std::string(" ") + words[k][rng.below(4)];
    }
    s += text + "," + names[k] + "\n";
  }
  return s;
}

// The scores a --json file gives for a confusion matrix, checked against the matrix itself: the
// counts sum to `total`, accuracy is the diagonal's share, each class's precision, recall and F1
// follow from its column and row.
void expect_consistent_confusion(const nlohmann::json& cm, double accuracy, long total,
                                 const std::vector<std::string>& classes) {
  ASSERT_EQ(cm["classes"].get<std::vector<std::string>>(), classes) << cm.dump();
  const auto m = cm["matrix"].get<std::vector<std::vector<long>>>();
  const std::size_t K = classes.size();
  ASSERT_EQ(m.size(), K);
  long sum = 0, diagonal = 0;
  for (std::size_t t = 0; t < K; ++t) {
    ASSERT_EQ(m[t].size(), K);
    for (std::size_t p = 0; p < K; ++p) sum += m[t][p];
    diagonal += m[t][t];
  }
  EXPECT_EQ(sum, total) << cm.dump();
  EXPECT_NEAR(accuracy, static_cast<double>(diagonal) / total, 1e-12) << cm.dump();
  for (std::size_t k = 0; k < K; ++k) {
    long column = 0, row = 0;
    for (std::size_t j = 0; j < K; ++j) column += m[j][k], row += m[k][j];
    const nlohmann::json& c = cm["per_class"][k];
    EXPECT_EQ(c["class"], classes[k]);
    EXPECT_EQ(c["support"].get<long>(), row);
    if (column > 0) {
      EXPECT_NEAR(c["precision"].get<double>(), static_cast<double>(m[k][k]) / column, 1e-12);
    } else {
      EXPECT_TRUE(c["precision"].is_null()) << "no row predicted as " << classes[k];
    }
    if (row > 0 && column > 0) {
      const double p = c["precision"], r = c["recall"];
      EXPECT_NEAR(r, static_cast<double>(m[k][k]) / row, 1e-12);
      EXPECT_NEAR(c["f1"].get<double>(), p + r > 0 ? 2 * p * r / (p + r) : 0.0, 1e-12);
    }
  }
}

// A text CSV of three labels trains a softmax over them with categorical cross-entropy; train and
// predict report the accuracy, the confusion matrix and each class's precision, recall and F1;
// the checkpoint names the classes, so that predict, inspect and --resume read them back.
TEST_F(Cli, TextsOfThreeClassesTrainASoftmaxAndPredict) {
  file("topics.csv", topics(300));
  const Result t = run(
      "train --data topics.csv --text-column text --label-column topic --steps 12 --hidden 8 "
      "--embedding 6 --epochs 12 --batch 16 --lr 0.02 --validation-split 0.2 --device cpu --save "
      "m.bin --json r.json");
  ASSERT_EQ(t.code, 0) << t.err;
  for (const char* want :
       {"(classes 0 'food', 1 'sport', 2 'tech'", "O=3 head=softmax loss=cce", "test cce",
        "# confusion (rows: true class, columns: predicted)", "# macro avg"}) {
    EXPECT_NE(t.out.find(want), std::string::npos) << want << "\n" << t.out;
  }
  EXPECT_EQ(t.out.find("notebook, IMDB"), std::string::npos) << "a binary task's rows\n" << t.out;
  const nlohmann::json r = nlohmann::json::parse(slurp(dir_ + "/r.json"));
  const std::vector<std::string> classes = {"food", "sport", "tech"};
  const nlohmann::json& run0 = r["runs"][0];
  EXPECT_GT(run0["test_accuracy"].get<double>(), 0.9) << run0.dump();
  EXPECT_GT(run0["history"].back()["val_accuracy"].get<double>(), 0.9) << run0.dump();
  expect_consistent_confusion(run0["confusion"], run0["test_accuracy"], r["config"]["test_windows"],
                              classes);
  EXPECT_EQ(r["test"]["classes"].get<std::vector<std::string>>(), classes);
  for (int c : r["test"]["target"].get<std::vector<int>>()) EXPECT_TRUE(c >= 0 && c < 3) << c;

  const Result i = run("inspect --model m.bin");
  EXPECT_NE(i.out.find("classes 0 'food', 1 'sport' and 2 'tech'"), std::string::npos) << i.out;
  const Result one = run("predict --model m.bin --text \"we saw the goal and the team\"");
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_NE(one.out.find("  sport  we saw"), std::string::npos) << one.out;
  // Every row of the file: the probabilities of the three classes, the predicted one the most
  // probable, and the file's scores.
  const Result p = run("predict --model m.bin --data topics.csv --json p.json");
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_NE(p.out.find("# accuracy "), std::string::npos) << p.out;
  const nlohmann::json pj = nlohmann::json::parse(slurp(dir_ + "/p.json"));
  expect_consistent_confusion(pj["confusion"], pj["accuracy"], 300, classes);
  for (const nlohmann::json& row : pj["predictions"]) {
    const auto probs = row["probabilities"].get<std::vector<double>>();
    ASSERT_EQ(probs.size(), 3u);
    const auto top = std::max_element(probs.begin(), probs.end());
    EXPECT_NEAR(probs[0] + probs[1] + probs[2], 1.0, 1e-5);
    EXPECT_EQ(row["class"], classes[top - probs.begin()]);
    EXPECT_DOUBLE_EQ(row["probability"].get<double>(),
                     static_cast<double>(static_cast<float>(*top)));
  }
  // A file whose labels are not the model's: each row predicted, the others unlabelled.
  file("other.csv", "text,topic\nthe soup,food\nthe goal,music\n");
  const Result o = run("predict --model m.bin --data other.csv");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("# accuracy 1.0000 (1 of 1 labelled rows)"), std::string::npos) << o.out;
  const Result resumed = run("train --resume m.bin --epochs 13 --save m2.bin");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("O=3 head=softmax loss=cce"), std::string::npos) << resumed.out;
}

// --compare on texts trains the notebook's models side by side, with the notebook's rows.
TEST_F(Cli, TextsCompareTheNotebooksModels) {
  file("texts.csv", corpus(60));
  const Result r = run(
      "train --data texts.csv --text-column review --label-column sentiment --compare --steps 8 "
      "--hidden 2 --embedding 3 --epochs 1 --batch 16 --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* row :
       {"| plain | 1 |", "| attention | 1 |", "| bi-attention | 1 |", "| bi-lstm-attn | 1 |",
        "| majority class (baseline)", "notebook, IMDB: bidirectional LSTM with attention"}) {
    EXPECT_NE(r.out.find(row), std::string::npos) << row << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("of them the embedding's"), std::string::npos) << r.out;
}

// The generated sentiment task as token ids through a trainable embedding.
TEST_F(Cli, SentimentTokensTrainAnEmbedding) {
  const Result t =
      run("train --data sentiment --embedding 6 --hidden 4 --steps 30 --epochs 1 --batch 32 "
          "--train-sequences 64 --test-sequences 32 --device cpu --save s.bin");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("as token ids"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("D=6 H=4 T=30 O=1 head=sigmoid loss=bce vocab=212"), std::string::npos)
      << t.out;
  const Result p = run("predict --model s.bin --data sentiment --device cpu");
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_NE(p.out.find("# test accuracy"), std::string::npos) << p.out;
}

}  // namespace
}  // namespace rnnattn::test
