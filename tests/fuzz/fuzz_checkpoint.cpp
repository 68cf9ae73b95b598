// libFuzzer target: the checkpoint reader over every format version (the corpus holds files of
// versions 1 to 5). Mutated files mostly fail the checksum, so an input whose first byte is odd has
// its checksum repaired first (FNV-1a 64 over everything before the last 8 bytes, from the basis
// its version uses), which lets mutations reach every field behind it. A file that loads is written
// out again with checkpoint_bytes and must load to the same parameters.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "rnnattn/checkpoint.hpp"
#include "rnnattn/error.hpp"

namespace {

std::uint64_t fnv1a(std::uint64_t h, const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::vector<std::uint8_t> file(data + 1, data + size);
  if ((data[0] & 1) && file.size() >= 8 + 12) {
    std::uint32_t version = 0;
    std::memcpy(&version, file.data() + 8, 4);
    // Version 1 used a basis a digit short of the published one (host/checkpoint.cpp).
    const std::uint64_t basis = version == 1 ? 1469598103934665603ull : 14695981039346656037ull;
    const std::uint64_t sum = fnv1a(basis, file.data(), file.size() - 8);
    std::memcpy(file.data() + file.size() - 8, &sum, 8);
  }
  const std::string& path = rnnattn::fuzz::write_input(file.data(), file.size());
  rnnattn::Checkpoint ck;
  try {
    ck = rnnattn::load_checkpoint(path);
  } catch (const rnnattn::Error&) {
    return 0;
  }
  const std::string again = rnnattn::checkpoint_bytes(ck);
  rnnattn::fuzz::write_input(reinterpret_cast<const std::uint8_t*>(again.data()), again.size());
  const rnnattn::Checkpoint back = rnnattn::load_checkpoint(path);  // must not throw
  if (back.model.params != ck.model.params) __builtin_trap();
  return 0;
}
