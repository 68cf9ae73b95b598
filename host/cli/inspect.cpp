// rnnattn inspect: a checkpoint's configuration, training state and parameter tensors.
#include <iostream>
#include <sstream>

#include "cli/common.hpp"
#include "cli/json.hpp"
#include "io.hpp"

namespace rnnattn::cli {
namespace {

// The checkpoint as one JSON object: its configuration, record and every tensor's values.
std::string inspect_json(const Checkpoint& ck) {
  const Model& m = ck.model;
  const ParamLayout layout(m.config);
  Json j;
  j.begin_object().value("format_version", static_cast<int>(ck.format_version));
  j.begin_object("config")
      .value("model", m.config.attention ? "attention" : "plain")
      .value("attention", m.config.attention ? to_string(m.config.score) : "none")
      .value("input_size", m.config.input_size)
      .value("hidden_size", m.config.hidden_size)
      .value("steps", m.config.steps)
      .value("output_size", m.config.output_size)
      .value("head", to_string(m.config.head))
      .value("loss", to_string(m.config.loss))
      .value("vocab_size", m.config.vocab_size)
      .end_object();
  if (!ck.text.column.empty()) {
    j.begin_object("text").value("column", ck.text.column);
    j.begin_array("classes");
    for (const std::string& k : ck.text.classes) j.value(nullptr, k);
    j.end_array().begin_array("vocabulary");
    for (const std::string& w : ck.text.vocabulary) j.value(nullptr, w);
    j.end_array()
        .value("padding", to_string(ck.text.layout.padding))
        .value("truncating", to_string(ck.text.layout.truncating))
        .end_object();
  }
  j.value("parameters", static_cast<long long>(layout.size()))
      .value("epochs_trained", static_cast<long long>(m.epochs_trained))
      .value("adam_step", static_cast<long long>(m.adam.step))
      .value("learning_rate", m.adam_config.learning_rate)
      .value("data", ck.data_source);
  if (ck.data_stamp.recorded()) {
    char hash[19];
    std::snprintf(hash, sizeof hash, "0x%016llx",
                  static_cast<unsigned long long>(ck.data_stamp.hash));
    j.value("data_bytes", static_cast<long long>(ck.data_stamp.bytes)).value("data_fnv1a64", hash);
  }
  j.value("column", ck.column)
      .value("scaler_min", ck.scaler.min)
      .value("scaler_max", ck.scaler.max);
  j.begin_object("series")
      .value("scaling", scaling_name(ck.series.scaling))
      .value("difference", ck.series.difference)
      .value("missing", missing_name(ck.series.missing))
      .end_object();
  if (ck.training.recorded) {
    j.begin_object("run")
        .value("seed", static_cast<long long>(ck.training.seed))
        .value("batch", ck.training.batch_size)
        .value("validation_split", ck.training.validation_split)
        .value("sentiment_train", ck.training.sentiment_train)
        .value("sentiment_test", ck.training.sentiment_test)
        .end_object();
  }
  j.begin_array("inputs");
  for (std::size_t i = 0; i < ck.features.size(); ++i) {
    j.begin_object()
        .value("column", ck.features[i])
        .value("scaler_min", ck.feature_scalers[i].min)
        .value("scaler_max", ck.feature_scalers[i].max)
        .end_object();
  }
  j.end_array();
  j.begin_object("tensors");
  for (const TensorInfo& t : layout.tensors()) {
    j.begin_object(t.name.c_str()).value("rows", t.rows).value("cols", t.cols);
    j.numbers("values", std::vector<float>(m.params.begin() + t.offset,
                                           m.params.begin() + t.offset + t.size()));
    j.end_object();
  }
  j.end_object().end_object();
  return j.str();
}

// Every tensor, a row a line.
void print_tensors(const std::vector<float>& params, const ParamLayout& layout) {
  for (const TensorInfo& t : layout.tensors()) {
    std::printf("%s [%d,%d]\n", t.name.c_str(), t.rows, t.cols);
    for (int r = 0; r < t.rows; ++r) {
      std::printf("  ");
      for (int c = 0; c < t.cols; ++c) {
        std::printf(" %15s", number_text(params[t.offset + r * t.cols + c]).c_str());
      }
      std::printf("\n");
    }
  }
}

// The checkpoint as text: its configuration and record, a line each, then every tensor.
void print_checkpoint(const std::string& path, const Checkpoint& ck) {
  const Model& m = ck.model;
  const ParamLayout layout(m.config);
  std::printf("checkpoint %s (format version %u)\nmodel: %s, %zu parameters\n", path.c_str(),
              ck.format_version, describe(m.config).c_str(), layout.size());
  std::printf("trained: %lld epochs, %lld Adam steps, lr %s\ndata: %s%s%s, scaler [%s, %s]\n",
              static_cast<long long>(m.epochs_trained), static_cast<long long>(m.adam.step),
              number_text(m.adam_config.learning_rate).c_str(), ck.data_source.c_str(),
              ck.column.empty() ? "" : " column ", ck.column.c_str(),
              number_text(ck.scaler.min).c_str(), number_text(ck.scaler.max).c_str());
  if (ck.data_stamp.recorded()) {
    std::printf("data file: %llu bytes, FNV-1a 64 0x%016llx (--resume refuses another)\n",
                static_cast<unsigned long long>(ck.data_stamp.bytes),
                static_cast<unsigned long long>(ck.data_stamp.hash));
  }
  for (std::size_t i = 0; i < ck.features.size(); ++i) {
    std::printf("input %zu: %s, scaler [%s, %s]\n", i + 1, ck.features[i].c_str(),
                number_text(ck.feature_scalers[i].min).c_str(),
                number_text(ck.feature_scalers[i].max).c_str());
  }
  std::printf("series: %s scaling, %s, missing values %s\n", scaling_name(ck.series.scaling),
              ck.series.difference ? "first differences" : "levels",
              missing_name(ck.series.missing));
  if (!ck.text.column.empty() && ck.text.classes.size() >= 2) {
    std::string top, classes;
    for (std::size_t i = 0; i < ck.text.vocabulary.size() && i < 10; ++i) {
      top += (i ? " " : "") + ck.text.vocabulary[i];
    }
    for (std::size_t k = 0; k < ck.text.classes.size(); ++k) {
      classes += (k == 0                            ? ""
                  : k + 1 == ck.text.classes.size() ? " and "
                                                    : ", ") +
                 std::to_string(k) + " '" + ck.text.classes[k] + "'";
    }
    std::printf(
        "text: column %s, classes %s, %zu words (ids 2..; 0 padding, 1 out-of-vocabulary), most "
        "frequent: %s; padding %s, truncating %s\n",
        ck.text.column.c_str(), classes.c_str(), ck.text.vocabulary.size(), top.c_str(),
        to_string(ck.text.layout.padding), to_string(ck.text.layout.truncating));
  }
  const TrainingRecord& t = ck.training;
  if (t.recorded) {
    std::printf("run: seed %llu, batch %d, validation split %s%s\n",
                static_cast<unsigned long long>(t.seed), t.batch_size,
                number_text(t.validation_split).c_str(),
                t.sentiment_train > 0 ? (", " + std::to_string(t.sentiment_train) + " / " +
                                         std::to_string(t.sentiment_test) + " sequences")
                                            .c_str()
                                      : "");
  } else {
    std::printf("run: not recorded (resuming needs --seed and --batch)\n");
  }
  print_tensors(m.params, layout);
}

}  // namespace

int cmd_inspect(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << help_text(kInspect);
    return 0;
  }
  const Args a(kInspect, argv);
  if (!a.has("--model"))
    throw UsageError("--model FILE is required (see 'rnnattn inspect --help')");
  const Checkpoint ck = load_checkpoint(a.get("--model", ""));
  if (a.has("--json")) {
    std::cout << inspect_json(ck);
  } else {
    print_checkpoint(a.get("--model", ""), ck);
  }
  return 0;
}

}  // namespace rnnattn::cli
