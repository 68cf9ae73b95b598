// libFuzzer target: the command line's option parser (host/cli/common.hpp's Args) and its typed
// getters. The input is split into arguments at NUL bytes and newlines, and parsed as train's
// options (the option table's valued, numeric and boolean ones).
#include <cstdint>
#include <string>
#include <vector>

#include "cli/common.hpp"
#include "rnnattn/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> argv(1);
  for (std::size_t i = 0; i < size; ++i) {
    const char c = static_cast<char>(data[i]);
    if (c == '\0' || c == '\n') {
      argv.emplace_back();
    } else {
      argv.back().push_back(c);
    }
  }
  if (argv.back().empty()) argv.pop_back();
  try {
    (void)rnnattn::cli::wants_help(argv);
    const rnnattn::cli::Args a(rnnattn::cli::kTrain, argv);
    (void)a.get("--data", "fib");
    (void)a.get_int("--epochs", 30);
    (void)a.get_int("--seed", 1);
    (void)a.get_double("--lr", 1e-3);
    (void)rnnattn::cli::split_list(a.get("--column", ""));
    (void)a.has("--compare");
  } catch (const rnnattn::Error&) {
  }
  return 0;
}
