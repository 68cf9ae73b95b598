// rnnattn profile in a CPU-only build: profiling runs the CUDA backend, which this build lacks.
#include <iostream>

#include "cli/common.hpp"

namespace rnnattn::cli {

int cmd_profile(const std::vector<std::string>& argv) {
  if (wants_help(argv)) {
    std::cout << "usage: rnnattn profile ... (profiles the CUDA backend: not in this build, which "
                 "has no CUDA)\n";
    return 0;
  }
  throw Unavailable(
      "profile runs the CUDA backend, and this build of rnnattn has no CUDA (it was configured "
      "without a CUDA compiler, or with -DRNNATTN_CUDA=OFF); rebuild with the CUDA toolkit");
}

}  // namespace rnnattn::cli
