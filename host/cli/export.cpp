// rnnattn export: a checkpoint's weights as a safetensors file under PyTorch's names
// (include/rnnattn/safetensors.hpp, docs/safetensors.md).
#include <iostream>

#include "cli/common.hpp"
#include "rnnattn/safetensors.hpp"

namespace rnnattn::cli {
namespace {

constexpr const char* kExportHelp =
    R"(usage: rnnattn export --model FILE --output FILE.safetensors [--format safetensors]

Write a checkpoint's weights in the safetensors layout, under PyTorch's names for the recurrent
layers (weight_ih_l0 [H, D], weight_hh_l0 [H, H], bias_ih_l0, bias_hh_l0, ..._reverse for the
backward direction), attention.weight [C], attention.bias [T], head.weight [O, C] and head.bias
[O], with the configuration and scalings in the header's metadata. Load them in PyTorch with
safetensors.torch.load_file and nn.RNN.load_state_dict (docs/safetensors.md). Adam's moments stay
in the checkpoint.

  --model FILE       a checkpoint written by 'rnnattn train --save'
  --output FILE      the safetensors file to write (replaced atomically)
  --format NAME      safetensors (the only format, and the default)
)";

}  // namespace

int cmd_export(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << kExportHelp;
    return 0;
  }
  const Args a("export", argv, {"--model", "--output", "--format"}, {});
  if (!a.has("--model")) throw UsageError("--model FILE is required (see 'rnnattn export --help')");
  if (!a.has("--output")) {
    throw UsageError("--output FILE is required (see 'rnnattn export --help')");
  }
  const std::string format = a.get("--format", "safetensors");
  if (format != "safetensors") {
    throw UsageError("--format must be safetensors, got '" + format + "'");
  }
  const std::string out = a.get("--output", "");
  check_outputs({{"--output", out}}, {{"--model", a.get("--model", "")}});
  const Checkpoint ck = load_checkpoint(a.get("--model", ""));
  export_safetensors(out, ck);
  std::cout << "wrote " << out << ": " << describe(ck.model.config) << ", "
            << ck.model.params.size() << " parameters (safetensors, float32)\n";
  return 0;
}

}  // namespace rnnattn::cli
