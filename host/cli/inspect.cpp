// rnnattn inspect: a checkpoint's configuration, training state and parameter tensors.
#include <iostream>
#include <sstream>

#include "cli/common.hpp"
#include "cli/json.hpp"
#include "io.hpp"

namespace rnnattn::cli {
namespace {

constexpr const char* kInspectHelp = R"(usage: rnnattn inspect --model FILE [--json]

Print a checkpoint's configuration, training state and every parameter tensor.

  --model FILE   a checkpoint written by 'rnnattn train --save'
  --json         print JSON instead of text
)";

}  // namespace

int cmd_inspect(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << kInspectHelp;
    return 0;
  }
  const Args a("inspect", argv, {"--model"}, {"--json"});
  if (!a.has("--model"))
    throw UsageError("--model FILE is required (see 'rnnattn inspect --help')");
  const Checkpoint ck = load_checkpoint(a.get("--model", ""));
  const Model& m = ck.model;
  const ParamLayout layout(m.config);
  if (a.has("--json")) {
    Json j;
    j.begin_object().value("format_version", static_cast<int>(ck.format_version));
    j.begin_object("config")
        .value("model", m.config.attention ? "attention" : "plain")
        .value("input_size", m.config.input_size)
        .value("hidden_size", m.config.hidden_size)
        .value("steps", m.config.steps)
        .value("output_size", m.config.output_size)
        .value("head", to_string(m.config.head))
        .value("loss", to_string(m.config.loss))
        .end_object();
    j.value("parameters", static_cast<long long>(layout.size()))
        .value("epochs_trained", static_cast<long long>(m.epochs_trained))
        .value("adam_step", static_cast<long long>(m.adam.step))
        .value("learning_rate", static_cast<double>(m.adam_config.learning_rate))
        .value("data", ck.data_source)
        .value("column", ck.column)
        .value("scaler_min", ck.scaler.min)
        .value("scaler_max", ck.scaler.max);
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
    std::cout << j.str();
    return 0;
  }
  std::printf("checkpoint %s (format version %u)\nmodel: %s, %zu parameters\n",
              a.get("--model", "").c_str(), ck.format_version, describe(m.config).c_str(),
              layout.size());
  std::printf("trained: %lld epochs, %lld Adam steps, lr %g\ndata: %s%s%s, scaler [%.17g, %.17g]\n",
              static_cast<long long>(m.epochs_trained), static_cast<long long>(m.adam.step),
              m.adam_config.learning_rate, ck.data_source.c_str(),
              ck.column.empty() ? "" : " column ", ck.column.c_str(), ck.scaler.min, ck.scaler.max);
  for (std::size_t i = 0; i < ck.features.size(); ++i) {
    std::printf("input %zu: %s, scaler [%.17g, %.17g]\n", i + 1, ck.features[i].c_str(),
                ck.feature_scalers[i].min, ck.feature_scalers[i].max);
  }
  for (const TensorInfo& t : layout.tensors()) {
    std::printf("%s [%d,%d]\n", t.name.c_str(), t.rows, t.cols);
    for (int r = 0; r < t.rows; ++r) {
      std::printf("  ");
      for (int c = 0; c < t.cols; ++c) std::printf(" % .8e", m.params[t.offset + r * t.cols + c]);
      std::printf("\n");
    }
  }
  return 0;
}

}  // namespace rnnattn::cli
