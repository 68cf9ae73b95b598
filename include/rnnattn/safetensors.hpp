// Weights that travel: a model's parameters in the safetensors layout (a u64 little-endian header
// length, a JSON header naming each tensor's dtype, shape and byte range, then the tensors' bytes),
// under PyTorch's names, so that a PyTorch user loads them into nn.RNN and a model trained in
// PyTorch comes into rnnattn. docs/safetensors.md has the names and what each holds.
//
//   weight_ih_l{l}[_reverse]  [H, I]  Wx transposed (PyTorch: x W_ih^T)
//   weight_hh_l{l}[_reverse]  [H, H]  Wh transposed
//   bias_ih_l{l}[_reverse]    [H]     bh
//   bias_hh_l{l}[_reverse]    [H]     zeros (rnnattn has one bias; importing adds the two)
//   attention.weight          [C]     wa      (attention model only)
//   attention.bias            [T]     ba      (attention model only)
//   head.weight               [O, C]  Wd transposed (nn.Linear's layout)
//   head.bias                 [O]     bd
//   embedding.weight          [V, D]  emb     (a model with an embedding only; nn.Embedding's)
//
// The header's __metadata__ carries "format": "pt" and "rnnattn": a JSON text with the
// configuration, the scalings, the data settings and a text model's vocabulary, so that an exported
// file imports back to the same checkpoint (less Adam's moments, which stay behind: an imported
// model starts them afresh).
#pragma once

#include <optional>
#include <string>

#include "rnnattn/checkpoint.hpp"
#include "rnnattn/config.hpp"

namespace rnnattn {

// The file's bytes (all tensors float32, in the layout's order; the header padded with spaces to
// 8 bytes). Throws InvalidArgument when the model's buffers do not match its configuration.
std::string safetensors_bytes(const Checkpoint& checkpoint);

// Writes safetensors_bytes atomically (a temporary file renamed over `path`).
void export_safetensors(const std::string& path, const Checkpoint& checkpoint);

// What a file without rnnattn's metadata (one written by PyTorch) cannot say. For a file with it,
// a value given here must agree with the file's.
struct SafetensorsImport {
  std::optional<Activation> head;  // default tanh (Keras' SimpleRNN tutorial)
  std::optional<Loss> loss;        // default mse
  std::optional<int> steps;        // T: needed for a plain model (an attention model has ba[T])
};

// Reads a safetensors file into a checkpoint: the structure (layers, directions, D, H, O, T) from
// the tensors' names and shapes; the configuration's remaining fields, the scalings and the data
// settings from rnnattn's metadata, else from `options` (scaling: the identity, [0, 1]). Float32,
// float64, float16 and bfloat16 tensors are read (converted to float32). Throws CheckpointError
// naming the file and the tensor for a malformed file, an unknown or missing tensor, a wrong
// shape, a non-finite value, or options that contradict the file.
Checkpoint import_safetensors(const std::string& path, const SafetensorsImport& options = {});

}  // namespace rnnattn
