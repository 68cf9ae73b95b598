// The CPU backends behind the Backend interface: fast = false, the reference ("reference");
// fast = true, the batched BLAS path where it wins for the shape ("cpu").
#pragma once

#include <memory>

#include "rnnattn/backend.hpp"

namespace rnnattn {
std::unique_ptr<Backend> make_cpu_backend(bool fast);
}  // namespace rnnattn
