// Checkpoints: a versioned binary file holding a model (configuration, parameters, optimiser
// state) and the data scaling it was trained with. Format: docs/checkpoint-format.md.
// Files are written to a temporary file beside the target and renamed over it, so an interrupted
// write never leaves a half-written model nor destroys the previous one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "rnnattn/data.hpp"
#include "rnnattn/trainer.hpp"

namespace rnnattn {

// Version written: 4 (layers, directions, cell). Versions 1 (another checksum start), 2 (one
// column) and 3 (one forward layer) are still read.
constexpr std::uint32_t kCheckpointVersion = 4;

struct Checkpoint {
  Model model;
  Scaler scaler;            // scaling of the data the model was trained on
  std::string data_source;  // "fib" or the CSV path it was trained on
  std::string column;       // the predicted CSV column ("" for fib)
  // The input columns and their scalings (D of them); empty when the only input is the predicted
  // series itself (fib, or one CSV column).
  std::vector<std::string> features;
  std::vector<Scaler> feature_scalers;
  std::uint32_t format_version = kCheckpointVersion;  // as read (save writes the current one)
};

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// The bytes save_checkpoint writes (for callers that stage several outputs before writing any).
// Throws InvalidArgument when the model's buffers do not match its configuration.
std::string checkpoint_bytes(const Checkpoint& checkpoint);

// FNV-1a 64 (offset basis 14695981039346656037, prime 1099511628211): the checkpoint checksum.
std::uint64_t fnv1a64(const void* data, std::size_t n);

// Throws CheckpointError (naming the file) for a missing, truncated, corrupted (checksum), foreign
// (magic) or newer-version file, or one whose contents are inconsistent.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace rnnattn
