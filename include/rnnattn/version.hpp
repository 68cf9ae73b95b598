// The library's version (written into exported files' metadata).
#pragma once

namespace rnnattn {
constexpr int kVersionMajor = 0;
constexpr int kVersionMinor = 1;
constexpr int kVersionPatch = 0;
}  // namespace rnnattn
