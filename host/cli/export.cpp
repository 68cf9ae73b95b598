// rnnattn export: a checkpoint's weights as a safetensors file under PyTorch's names
// (include/rnnattn/safetensors.hpp, docs/safetensors.md).
#include <iostream>

#include "cli/common.hpp"
#include "rnnattn/safetensors.hpp"

namespace rnnattn::cli {
namespace {}  // namespace

int cmd_export(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << help_text(kExport);
    return 0;
  }
  const Args a(kExport, argv);
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
