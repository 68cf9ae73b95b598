// What the libFuzzer targets share: the input written to a file of this process's own (the readers
// take paths), and the rule for exceptions: rnnattn's own errors (bad data, bad checkpoint, bad
// usage) are the expected answer to bad input; anything else escapes to libFuzzer and is a finding.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace rnnattn::fuzz {

// A file in TMPDIR (or /tmp) unique to this process, rewritten with every input.
inline const std::string& input_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string p = std::string(dir && *dir ? dir : "/tmp") + "/rnnattn-fuzz-XXXXXX";
    const int fd = ::mkstemp(p.data());
    if (fd < 0) {
      std::perror("rnnattn fuzz: mkstemp");
      std::abort();
    }
    ::close(fd);
    return p;
  }();
  return path;
}

inline const std::string& write_input(const std::uint8_t* data, std::size_t size) {
  const std::string& p = input_path();
  std::FILE* f = std::fopen(p.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror("rnnattn fuzz: writing the input file");
    std::abort();
  }
  return p;
}

}  // namespace rnnattn::fuzz
