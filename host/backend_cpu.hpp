// The CPU backend: the reference implementation behind the Backend interface.
#pragma once

#include <memory>

#include "rnnattn/backend.hpp"

namespace rnnattn {
std::unique_ptr<Backend> make_cpu_backend();
}  // namespace rnnattn
