// The rnnattn command line: train, predict, forecast, profile, inspect, export, import (one file
// each, over the shared layer of cli/common.hpp).
// Exit status: 0 success, 1 a run-time error (bad data, bad checkpoint, no device), 2 bad usage.
// Every output file is written atomically at the end, so a failed run leaves none behind.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli/common.hpp"

namespace rnnattn::cli {
namespace {

constexpr const char* kMainHelp = R"(usage: rnnattn <command> [options]

An Elman RNN with additive attention (the Keras tutorial's model), trained on the CPU or the GPU.

commands:
  train     train a model and report train/test MSE (try: rnnattn train --data fib --compare)
  predict   predictions of a saved model on the test part of a data set
  forecast  forecast a series past its end with a saved model
  profile   per-kernel launches and times (GPU) or memory counters (GPU simulator)
  inspect   print a saved model's configuration and parameters
  export    write a saved model's weights as safetensors, under PyTorch's names
  import    make a checkpoint from a safetensors file (rnnattn's export, or PyTorch's)

'rnnattn <command> --help' describes each command's options.
)";

}  // namespace
}  // namespace rnnattn::cli

int main(int argc, char** argv) {
  using namespace rnnattn::cli;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kMainHelp;
    return args.empty() ? 2 : 0;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "train") return cmd_train(args);
    if (cmd == "predict") return cmd_predict(args);
    if (cmd == "forecast") return cmd_forecast(args);
    if (cmd == "profile") return cmd_profile(args);
    if (cmd == "inspect") return cmd_inspect(args);
    if (cmd == "export") return cmd_export(args);
    if (cmd == "import") return cmd_import(args);
    std::cerr << "rnnattn: unknown command '" << rnnattn::printable_message(cmd)
              << "' (expected train, predict, forecast, profile, inspect, export or import)\n";
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "rnnattn " << cmd << ": " << e.what() << '\n';
    return 2;
  } catch (const rnnattn::InvalidArgument& e) {
    std::cerr << "rnnattn " << cmd << ": " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "rnnattn " << cmd << ": error: " << e.what() << '\n';
    return 1;
  }
}
