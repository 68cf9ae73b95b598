// rnnattn import: a checkpoint from a safetensors file, one exported by rnnattn or written by
// PyTorch (include/rnnattn/safetensors.hpp, docs/safetensors.md).
#include <iostream>

#include "cli/common.hpp"
#include "rnnattn/safetensors.hpp"

namespace rnnattn::cli {
namespace {}  // namespace

int cmd_import(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << help_text(kImport);
    return 0;
  }
  const Args a(kImport, argv);
  if (!a.has("--input")) throw UsageError("--input FILE is required (see 'rnnattn import --help')");
  if (!a.has("--save")) throw UsageError("--save FILE is required (see 'rnnattn import --help')");
  const std::string in = a.get("--input", ""), save = a.get("--save", "");
  check_outputs({{"--save", save}}, {{"--input", in}});
  SafetensorsImport options;
  if (a.has("--head")) options.head = parse_activation(a.get("--head", ""));
  if (a.has("--loss")) options.loss = parse_loss(a.get("--loss", ""));
  if (a.has("--steps")) options.steps = static_cast<int>(a.get_int("--steps", 0));
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
