// rnnattn predict: a saved model's predictions on the test part of a data set.
#include <iostream>
#include <sstream>

#include "cli/common.hpp"
#include "cli/json.hpp"
#include "io.hpp"

namespace rnnattn::cli {
namespace {

// A model trained on texts: for each text (--text, or every row of --data FILE.csv), read with the
// checkpoint's tokenizer and vocabulary, the probability of class 1 (a binary model) or of the
// predicted class (a softmax over K classes), and the predicted class.
int predict_texts(const Args& a, const Checkpoint& ck) {
  const Model& model = ck.model;
  const ModelConfig& c = model.config;
  const std::string json_path = a.get("--json", ""), source = a.get("--data", "");
  if (a.has("--text") == a.has("--data")) {
    throw UsageError(
        "a text model classifies --text \"TEXT\" or the texts of --data FILE.csv: "
        "give one of them");
  }
  if (a.has("--column")) throw UsageError("--column: a text model reads its text column");
  if (a.has("--attention") && !c.attention) {
    throw UsageError("--attention: this is a plain model, it has no attention weights");
  }
  const Vocabulary vocab(ck.text.vocabulary);
  TextTable table;
  if (a.has("--text")) {
    table.texts = {a.get("--text", "")};
    table.labels = {-1};
    table.lines = {0};
  } else {
    table = read_csv_texts(source, ck.text.column, ck.column, ck.text.classes, text_encoding(a));
  }
  WindowSet w = encode_texts(table.texts, vocab, c.steps, ck.text.layout);
  w.y.assign(static_cast<std::size_t>(w.count) * c.output_size, 0.f);  // no targets needed
  const std::unique_ptr<Backend> backend = open_backend(a);
  std::vector<float> attn;
  const std::vector<float> p = predict(*backend, model, w, a.has("--attention") ? &attn : nullptr);
  const auto shown = [](const std::string& t) {
    std::string one;
    for (char ch : t) one.push_back(ch == '\n' || ch == '\r' ? ' ' : ch);
    return one.size() > 60 ? one.substr(0, 57) + "..." : one;
  };
  const int O = c.output_size;
  const std::vector<int> said = classes_of(p, O);
  // The probability shown: of class 1 for a binary model, else of the predicted class.
  const auto probability = [&](int i) {
    return O == 1 ? p[i] : p[static_cast<std::size_t>(i) * O + said[i]];
  };
  Confusion cm(class_count(O));  // the rows with a label of the model's classes
  std::printf(
      "# %s: %s, the predicted class%s, the text\n", a.has("--text") ? "text" : source.c_str(),
      O == 1 ? ("P(class 1 '" + ck.text.classes[1] + "')").c_str() : "P(the predicted class)",
      a.has("--text") ? "" : ", the file's label (- for none), by line");
  for (int i = 0; i < w.count; ++i) {
    const std::string& cls = ck.text.classes[said[i]];
    if (a.has("--text")) {
      std::printf("%.6f  %s  %s\n", probability(i), cls.c_str(), shown(table.texts[i]).c_str());
    } else {
      const int l = table.labels[i];
      std::printf("%d  %.6f  %s  %s  %s\n", table.lines[i], probability(i), cls.c_str(),
                  l < 0 ? "-" : ck.text.classes[l].c_str(), shown(table.texts[i]).c_str());
      if (l >= 0) cm.add(l, said[i]);
    }
    if (!attn.empty()) {
      // The words the model read, each with its step's weight (pre padding: the padding's weights
      // are not shown).
      const std::vector<std::string> words = tokenize(table.texts[i]);
      const Placement at = place_words(static_cast<int>(words.size()), c.steps, ck.text.layout);
      std::printf("#  attention:");
      for (int k = 0; k < at.count; ++k) {
        std::printf(" %s %.4f", words[at.word0 + k].c_str(),
                    attn[static_cast<std::size_t>(i) * c.steps + at.step0 + k]);
      }
      std::printf("\n");
    }
  }
  if (cm.total() > 0) {
    std::printf("# accuracy %.4f (%ld of %ld labelled rows)\n", cm.accuracy(), cm.correct(),
                cm.total());
    print_confusion(cm, ck.text.classes);
  }
  if (!json_path.empty()) {
    Json j;
    j.begin_object().value("model", a.get("--model", "")).value("task", "text classification");
    j.begin_array("classes");
    for (const std::string& k : ck.text.classes) j.value(nullptr, k);
    j.end_array();
    if (cm.total() > 0) {
      j.value("accuracy", cm.accuracy()).value("labelled", static_cast<long long>(cm.total()));
      confusion_json(j, cm, ck.text.classes);
    }
    j.begin_array("predictions");
    for (int i = 0; i < w.count; ++i) {
      j.begin_object();
      if (!a.has("--text")) j.value("line", table.lines[i]);
      j.value("probability", static_cast<double>(probability(i)))
          .value("class", ck.text.classes[said[i]]);
      if (O > 1) {
        j.numbers("probabilities",
                  std::vector<float>(p.begin() + static_cast<std::size_t>(i) * O,
                                     p.begin() + static_cast<std::size_t>(i + 1) * O));
      }
      if (table.labels[i] >= 0) j.value("label", ck.text.classes[table.labels[i]]);
      j.value("tokens", w.lengths[i]);
      j.end_object();
    }
    j.end_array().end_object();
    write_file_atomic(json_path, j.str());
  }
  return 0;
}

// The test part's predictions, in the model's units and in the data's, with their scores.
struct Scored {
  std::vector<float> pred, attention;
  // Original units (double: targets may exceed float's range); a classifier's classes.
  std::vector<double> target, value;
  double mse = 0, loss = 0;
  bool classify = false;
  Confusion cm;
  std::vector<int> truth, said;  // a classifier's true and predicted class per window
};

Scored score(Backend& backend, const Checkpoint& ck, const SplitData& data, bool want_attention) {
  const Model& model = ck.model;
  Scored s;
  s.pred = predict(backend, model, data.test, want_attention ? &s.attention : nullptr);
  const long bad =
      std::count_if(s.pred.begin(), s.pred.end(), [](float v) { return !std::isfinite(v); });
  s.mse = mean_squared_error(s.pred, data.test);
  if (bad > 0 || !std::isfinite(s.mse)) {
    throw Error(std::to_string(bad) + " of " + std::to_string(s.pred.size()) +
                " predictions are not finite: the data lies far outside the scaling the model was "
                "trained with [" +
                sci(ck.scaler.min) + ", " + sci(ck.scaler.max) + "]. No output written");
  }
  // The levels, also for a model of differences.
  const int O = model.config.output_size;
  s.target.resize(data.test.count);
  s.value.resize(data.test.count);
  for (int i = 0; i < data.test.count; ++i) {
    s.target[i] = original_target(data, data.test, i);
    s.value[i] = data.to_original(s.pred[static_cast<std::size_t>(i) * O], data.test.index[i]);
  }
  s.classify = model.config.loss != Loss::kMse;
  if (s.classify) {
    s.cm = confusion(s.pred, data.test.y, O);
    s.truth = classes_of(data.test.y, O);
    s.said = classes_of(s.pred, O);
    for (int i = 0; i < data.test.count; ++i) s.target[i] = s.truth[i];
  }
  s.loss = reference_loss<float>(model.config.loss, s.pred.data(), data.test.y.data(),
                                 static_cast<long>(s.pred.size()), nullptr, O);
  return s;
}

// A row per test window (its label, target and prediction, and the attention weights when
// asked), then the scores.
void print_scored(const std::string& source, const Checkpoint& ck, const SplitData& data,
                  const Scored& s, bool want_attention) {
  const int T = ck.model.config.steps, O = ck.model.config.output_size;
  const bool softmax = s.classify && O > 1;
  std::printf(
      "# test windows of %s (%d); %s, each row labelled by its target's %s\n# %s  target  "
      "%s%s\n",
      source.c_str(), data.test.count,
      softmax      ? "true and predicted classes, the predicted class's probability"
      : s.classify ? "0/1 labels and predicted probabilities"
                   : "values in original units",
      data.label_name.c_str(), data.label_name.c_str(),
      softmax      ? "predicted  probability"
      : s.classify ? "probability"
                   : "prediction",
      want_attention ? "  attention weights a_1..a_T" : "");
  for (int i = 0; i < data.test.count; ++i) {
    std::printf("%s  %s  %s%s", target_label(data, i).c_str(),
                format_value(s.target[i], s.classify ? 0 : data.precision).c_str(),
                softmax ? (std::to_string(s.said[i]) + "  ").c_str() : "",
                softmax      ? number_text(s.pred[i * O + s.said[i]]).c_str()
                : s.classify ? number_text(s.pred[i * O]).c_str()
                             : format_value(s.value[i], data.precision).c_str());
    if (want_attention) {
      for (int t = 0; t < T; ++t) {
        std::printf(" %.5f", s.attention[static_cast<std::size_t>(i) * T + t]);
      }
    }
    std::printf("\n");
  }
  if (s.classify) {
    std::printf("# test accuracy %.4f (%ld of %ld); %s %s\n", s.cm.accuracy(), s.cm.correct(),
                s.cm.total(), to_string(ck.model.config.loss), sci(s.loss).c_str());
    print_confusion(s.cm, class_names(ck.text.classes, s.cm.classes));
  } else {
    std::printf("# test MSE %s (scaled), RMSE %s (original units)\n", sci(s.mse).c_str(),
                sci(std::sqrt(s.mse) * ck.scaler.range()).c_str());
  }
}

std::string scored_json(const std::string& model_path, const std::string& source,
                        const Checkpoint& ck, const SplitData& data, const Scored& s,
                        bool want_attention) {
  const int T = ck.model.config.steps, O = ck.model.config.output_size;
  Json j;
  j.begin_object().value("model", model_path).value("data", source);
  j.value("task", s.classify ? "classification" : "regression");
  if (s.classify) {
    j.value("test_accuracy", s.cm.accuracy()).value("test_loss", s.loss);
    confusion_json(j, s.cm, class_names(ck.text.classes, s.cm.classes));
  } else {
    j.value("test_mse", s.mse).value("test_rmse", std::sqrt(s.mse) * ck.scaler.range());
  }
  j.begin_array("predictions");
  for (int i = 0; i < data.test.count; ++i) {
    j.begin_object()
        .value("start", data.test.index[i])
        .value(data.label_name.c_str(), target_label(data, i))
        .value("target", s.target[i])
        .value("prediction", !s.classify ? s.value[i]
                             : O == 1    ? static_cast<double>(s.pred[i * O])
                                         : static_cast<double>(s.pred[i * O + s.said[i]]));
    if (s.classify && O > 1) {
      j.value("class", s.said[i]);
      j.numbers("probabilities",
                std::vector<float>(s.pred.begin() + static_cast<std::size_t>(i) * O,
                                   s.pred.begin() + static_cast<std::size_t>(i + 1) * O));
    }
    if (want_attention) {
      j.numbers("attention",
                std::vector<float>(s.attention.begin() + static_cast<std::size_t>(i) * T,
                                   s.attention.begin() + static_cast<std::size_t>(i + 1) * T));
    }
    j.end_object();
  }
  j.end_array().end_object();
  return j.str();
}

}  // namespace

int cmd_predict(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << help_text(kPredict);
    return 0;
  }
  const Args a(kPredict, argv);
  if (!a.has("--model"))
    throw UsageError("--model FILE is required (see 'rnnattn predict --help')");
  if (a.has("--text") || a.has("--data")) {
    const std::string data = a.get("--data", "");
    const bool csv = a.has("--data") && data != "fib" && data != "sentiment";
    if (a.has("--text") || csv) {
      check_outputs({{"--json", a.get("--json", "")}},
                    {{"--model", a.get("--model", "")}, {"--data", csv ? data : ""}});
      const Checkpoint ck = load_checkpoint(a.get("--model", ""));
      if (!ck.text.column.empty()) return predict_texts(a, ck);
      if (a.has("--text")) {
        throw UsageError("--text: " + a.get("--model", "") +
                         " was not trained on texts (train one with --text-column)");
      }
    }
  }
  if (!a.has("--data")) throw UsageError("--data is required (see 'rnnattn predict --help')");
  const std::string json_path = a.get("--json", "");
  const std::string source = a.get("--data", "");
  check_outputs({{"--json", json_path}},
                {{"--model", a.get("--model", "")},
                 {"--data", source == "fib" || source == "sentiment" ? "" : source}});
  const Checkpoint ck = load_checkpoint(a.get("--model", ""));
  if (a.has("--encoding")) {
    throw UsageError("--encoding applies to texts; " + a.get("--model", "") +
                     " was not trained on texts");
  }
  SplitData data = load_for_checkpoint(source, a.get("--column", ""), ck);
  check_model_inputs("predict", data.test.x, data.test.y, ck.scaler, ck.series.scaling,
                     model_series(data));
  const bool want_attention = a.has("--attention");
  if (want_attention && !ck.model.config.attention) {
    throw UsageError("--attention: this is a plain model, it has no attention weights");
  }
  const std::unique_ptr<Backend> backend = open_backend(a);
  const Scored s = score(*backend, ck, data, want_attention);
  print_scored(source, ck, data, s, want_attention);
  if (!json_path.empty()) {
    write_file_atomic(json_path,
                      scored_json(a.get("--model", ""), source, ck, data, s, want_attention));
  }
  return 0;
}

}  // namespace rnnattn::cli
