// File helpers shared by the checkpoint writer and the command line (internal header).
#pragma once

#include <string>

namespace rnnattn {

// Reads a whole file; throws DataError naming the file when it cannot be opened or read.
std::string read_file(const std::string& path);

// Writes `bytes` to a temporary file in the same directory, flushes it to disk and renames it over
// `path`. On any failure the temporary file is removed, `path` is left as it was, and Error is
// thrown naming the file and the failed call.
void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace rnnattn
