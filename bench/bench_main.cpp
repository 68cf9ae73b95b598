// rnnattn_bench: every implementation side by side in one run. CPU cases always run; GPU cases
// (fused, unfused, cuDNN) are registered only where a CUDA GPU exists, and the run says so.
#include <cstdio>

#include "bench_common.hpp"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  using namespace rnnattn::bench;
  register_cpu_benchmarks();
  if (rnnattn::cuda_device_count() > 0) {
    register_gpu_benchmarks();
    register_cudnn_benchmarks();
  } else {
    std::fprintf(stderr,
                 "rnnattn_bench: no CUDA GPU on this machine: the GPU cases (fused, unfused, "
                 "cuDNN) are skipped; running the CPU cases only\n");
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
