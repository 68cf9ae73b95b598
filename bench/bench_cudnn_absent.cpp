// Built when cuDNN is not found: the cuDNN families are absent, and the run says so.
#include <cstdio>

#include "bench_common.hpp"

namespace rnnattn::bench {
void register_cudnn_benchmarks() {
  std::fprintf(stderr, "rnnattn_bench: built without cuDNN: the cuDNN cases are skipped\n");
}
}  // namespace rnnattn::bench
