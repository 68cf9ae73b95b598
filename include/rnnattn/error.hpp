// rnnattn error types. Every failure the library reports is an exception derived from
// rnnattn::Error whose message says what was wrong: which tensor, which shape, which value,
// which file and line. Destructors never throw.
#pragma once

#include <stdexcept>
#include <string>

namespace rnnattn {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
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
