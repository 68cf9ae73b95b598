// What code outside the GPU runtime (the CLI's `profile`, the GPU tests and benchmarks) may use of
// it besides the device API (include/rnnattn/cuda.hpp): the planner and its performance model,
// and the per-kernel profiler. The one header they include for it.
#pragma once

#include "cuda/plan.hpp"
#include "cuda/profiler.hpp"
#include "kernels/cuda_utils.hpp"
