// The CUDA backend's entry point as the host code sees it (internal, no CUDA headers):
// host/cuda/backend_cuda.cpp defines it in builds with CUDA, host/backend_no_cuda.cpp in CPU-only
// builds (where it refuses, saying that this build has no CUDA).
#pragma once

#include <memory>

#include "rnnattn/backend.hpp"

namespace rnnattn {

// fused: the fused kernels (--device cuda); else the unfused path (--device cuda-unfused).
std::unique_ptr<Backend> make_gpu_backend(bool fused);

}  // namespace rnnattn
