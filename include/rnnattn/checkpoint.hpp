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

// Version written: 10 (the attention's score). Versions 1 (another checksum start), 2 (one
// column), 3 (one forward layer), 4 (no training record), 5 (the Elman cell only), 6 (no
// embedding), 7 (no data file stamp), 8 (texts padded and truncated at the end) and 9 (additive
// attention only) are read.
constexpr std::uint32_t kCheckpointVersion = 12;

// How the model was trained: what `rnnattn train --resume` needs to continue the run exactly.
struct TrainingRecord {
  // False for a file older than version 5, or one saved without a record (a library user's).
  bool recorded = false;
  std::uint64_t seed = 1;       // the run's seed (initialisation and the shuffle stream)
  int batch_size = 1;           // mini-batch size
  double validation_split = 0;  // the held-out fraction of the training windows (0: none)
  int sentiment_train = 0;      // --data sentiment: sequences trained and tested on (else 0)
  int sentiment_test = 0;
};

// What a model trained on text needs to read new texts (version 7): the tokenizer is text.hpp's.
struct TextRecord {
  std::string column;                   // the text column it was trained on ("" : not text data)
  std::vector<std::string> classes;     // the label names of class 0, 1, ... (empty, or K >= 2)
  std::vector<std::string> vocabulary;  // the words of ids 2, 3, ... (at most V - 2)
  TextLayout layout;                    // padding and truncating (version 9; before: post, post)
};

struct Checkpoint {
  Model model;
  Scaler scaler;            // scaling of the data the model was trained on
  std::string data_source;  // "fib" or the CSV path it was trained on
  FileStamp data_stamp;     // that CSV file's size and hash as trained on (version 8; else none)
  std::string column;       // the predicted CSV column ("" for fib)
  // The input columns and their scalings (D of them); empty when the only input is the predicted
  // series itself (fib, or one CSV column).
  std::vector<std::string> features;
  std::vector<Scaler> feature_scalers;
  SeriesOptions series;     // how the CSV series was prepared (scaling, differences, gaps)
  TrainingRecord training;  // how it was trained (version 5)
  TextRecord text;          // the text it reads (version 7)
  std::uint32_t format_version = kCheckpointVersion;  // as read (save writes the current one)
};

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Fills a checkpoint's record of the data its model was trained on from that data: the source (and
// the file's size and hash), the columns and their scalings, how the series was prepared, the
// sentiment task's sizes, and a text model's column, classes and vocabulary: what `predict --data`
// and `train --resume` read the data back with.
void record_data(Checkpoint& checkpoint, const SplitData& data);

// The checks save_checkpoint makes before writing: the buffers match the configuration, the
// numbers are usable (finite parameters and moments, finite non-empty scalings), the column table
// and the training record are consistent. Throws InvalidArgument naming what is wrong.
void check_checkpoint(const Checkpoint& checkpoint);

// The bytes save_checkpoint writes (for callers that stage several outputs before writing any).
// Throws InvalidArgument when the model's buffers do not match its configuration.
std::string checkpoint_bytes(const Checkpoint& checkpoint);

// FNV-1a 64 (offset basis 14695981039346656037, prime 1099511628211): the checkpoint checksum.
std::uint64_t fnv1a64(const void* data, std::size_t n);

// Throws CheckpointError (naming the file) for a missing, truncated, corrupted (checksum), foreign
// (magic) or newer-version file, or one whose contents are inconsistent.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace rnnattn
