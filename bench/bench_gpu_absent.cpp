// Built in a CPU-only build (no CUDA backend): the GPU and cuDNN families are absent. main() asks
// for them only where a GPU exists, which it never does in such a build.
#include "bench_common.hpp"

namespace rnnattn::bench {
void register_gpu_benchmarks() {}
void register_cudnn_benchmarks() {}
}  // namespace rnnattn::bench
