// File helpers shared by the checkpoint writer and the command line (internal header).
#pragma once

#include <string>
#include <vector>

namespace rnnattn {

// Reads a whole file; throws DataError naming the file when it cannot be opened or read.
std::string read_file(const std::string& path);

// Writes `bytes` to a temporary file in the same directory, flushes it to disk and renames it over
// `path`. On any failure the temporary file is removed, `path` is left as it was, and Error is
// thrown naming the file and the failed call.
void write_file_atomic(const std::string& path, const std::string& bytes);

// Several outputs of one run, all or none: every file is first written in full to a temporary
// file beside its target (any failure there removes them all and leaves every target untouched),
// then each is renamed over its target; should a rename fail, the targets already replaced get
// their earlier contents back (kept through a hard link) and Error is thrown.
struct OutputFile {
  std::string path;
  std::string bytes;
};
void write_files_atomic(const std::vector<OutputFile>& files);

// Checks, before any long work, that `path` can take an output file: it is not a directory, and
// its folder exists and accepts a new file (tried with a temporary file, then removed). Throws
// Error naming `what` (e.g. "--json") and the path.
void check_output_path(const std::string& what, const std::string& path);

// The shortest decimal text that reads back to v (std::to_chars): a float as a float (0.001f is
// "0.001"), a double as a double.
std::string shortest_text(double v);
std::string shortest_text(float v);

// True when a and b name the same file (the same inode when both exist, else the same normalised
// absolute path).
bool same_file(const std::string& a, const std::string& b);

}  // namespace rnnattn
