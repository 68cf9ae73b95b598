// libFuzzer target: the safetensors reader (import_safetensors) on arbitrary bytes. The first byte
// picks the options a PyTorch file needs (bit 0: --steps 5; bits 1-2: the head), so mutations reach
// both the metadata and the no-metadata paths. A file that imports is exported again and must
// import to the same parameters.
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "rnnattn/error.hpp"
#include "rnnattn/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  rnnattn::SafetensorsImport options;
  if (data[0] & 1) options.steps = 5;
  if ((data[0] >> 1) & 3) options.head = static_cast<rnnattn::Activation>(((data[0] >> 1) & 3) - 1);
  const std::string& path = rnnattn::fuzz::write_input(data + 1, size - 1);
  rnnattn::Checkpoint ck;
  try {
    ck = rnnattn::import_safetensors(path, options);
  } catch (const rnnattn::Error&) {
    return 0;
  }
  const std::string again = rnnattn::safetensors_bytes(ck);
  rnnattn::fuzz::write_input(reinterpret_cast<const std::uint8_t*>(again.data()), again.size());
  const rnnattn::Checkpoint back = rnnattn::import_safetensors(path);  // must not throw
  if (back.model.params != ck.model.params) __builtin_trap();
  return 0;
}
