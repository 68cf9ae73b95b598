// Checkpoints: a versioned binary file holding a model (configuration, parameters, optimiser
// state) and the data scaling it was trained with. Format: docs/checkpoint-format.md.
// Files are written to a temporary file beside the target and renamed over it, so an interrupted
// write never leaves a half-written model nor destroys the previous one.
#pragma once

#include <cstdint>
#include <string>

#include "rnnattn/data.hpp"
#include "rnnattn/trainer.hpp"

namespace rnnattn {

constexpr std::uint32_t kCheckpointVersion = 1;

struct Checkpoint {
  Model model;
  Scaler scaler;            // scaling of the data the model was trained on
  std::string data_source;  // "fib" or the CSV path it was trained on
  std::string column;       // CSV column ("" for fib)
};

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Throws CheckpointError (naming the file) for a missing, truncated, corrupted (checksum), foreign
// (magic) or newer-version file, or one whose contents are inconsistent.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace rnnattn
