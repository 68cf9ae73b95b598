// rnnattn import: a checkpoint from a safetensors file, one exported by rnnattn or written by
// PyTorch (include/rnnattn/safetensors.hpp, docs/safetensors.md).
#include <iostream>

#include "cli/common.hpp"
#include "rnnattn/safetensors.hpp"

namespace rnnattn::cli {
namespace {

constexpr const char* kImportHelp =
    R"(usage: rnnattn import --input FILE.safetensors --save FILE [options]

Build a checkpoint from a safetensors file: one written by 'rnnattn export', or a PyTorch state
dict saved with safetensors (nn.RNN's weight_ih_l0 etc., attention.weight, attention.bias,
head.weight, head.bias; docs/safetensors.md). The structure (layers, directions, D, H, O and T)
comes from the tensors; the rest from rnnattn's metadata in the file, or, for a file without it,
from the options below. Adam's moments start afresh.

  --input FILE             the safetensors file
  --save FILE              the checkpoint to write
  --head tanh|linear|sigmoid   the head's activation (default tanh)
  --loss mse|bce           the loss (default mse)
  --steps T                the window length of a model without attention
A file without rnnattn's metadata carries no scaling: the model then reads values as they are
(the identity scaling, [0, 1]).
)";

}  // namespace

int cmd_import(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << kImportHelp;
    return 0;
  }
  const Args a("import", argv, {"--input", "--save", "--head", "--loss", "--steps"}, {});
  if (!a.has("--input")) throw UsageError("--input FILE is required (see 'rnnattn import --help')");
  if (!a.has("--save")) throw UsageError("--save FILE is required (see 'rnnattn import --help')");
  const std::string in = a.get("--input", ""), save = a.get("--save", "");
  check_outputs({{"--save", save}}, {{"--input", in}});
  SafetensorsImport options;
  if (a.has("--head")) options.head = parse_activation(a.get("--head", ""));
  if (a.has("--loss")) options.loss = parse_loss(a.get("--loss", ""));
  if (a.has("--steps")) options.steps = static_cast<int>(a.get_int("--steps", 0, 1, 1 << 20));
  const Checkpoint ck = import_safetensors(in, options);
  save_checkpoint(save, ck);
  std::cout << "wrote " << save << ": " << describe(ck.model.config) << ", "
            << ck.model.params.size() << " parameters"
            << (ck.data_source.empty() ? " (no data source recorded; scaling [" +
                                             sci(ck.scaler.min) + ", " + sci(ck.scaler.max) + "])"
                                       : ", trained on " + ck.data_source)
            << '\n';
  return 0;
}

}  // namespace rnnattn::cli
