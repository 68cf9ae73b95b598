// rnnattn error types. Every failure the library reports is an exception derived from
// rnnattn::Error whose message says what was wrong: which tensor, which shape, which value,
// which file and line. Destructors never throw.
#pragma once

#include <stdexcept>
#include <string>

namespace rnnattn {

// `what` with its control bytes other than line breaks and tabs written as \xNN: a message quotes
// the user's data, and a NUL in a CSV field would otherwise end the message there (what() is a C
// string), an escape sequence would drive the terminal.
inline std::string printable_message(const std::string& what) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(what.size());
  for (const char ch : what) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(printable_message(what)) {}
  explicit Error(const char* what) : Error(std::string(what)) {}
};

// A caller passed a bad argument: a wrong shape, a value out of range, an unknown name.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// An input file is malformed: the message names the file, and the line and column where known.
class DataError : public Error {
 public:
  using Error::Error;
};

// A checkpoint file is truncated, corrupted, foreign or from a newer version.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

// A CUDA runtime or cuBLAS call failed: the message names the call, its error and where it was
// made (a kernel's launch names the kernel).
class CudaError : public Error {
 public:
  using Error::Error;
};

// A requested backend or device is not available on this machine or in this build.
class Unavailable : public Error {
 public:
  using Error::Error;
};

}  // namespace rnnattn
