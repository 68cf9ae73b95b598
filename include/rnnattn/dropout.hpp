// Dropout masks from a counter-based generator, so that every backend draws the same masks and a
// run's masks depend only on what keys them, never on the order or the thread that draws them.
//
// The generator is Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011; the generator of cuRAND's device API and of PyTorch's CUDA dropout), checked against
// Random123's known-answer vectors (tests/cpu/test_dropout.cpp). Written for host and device alike:
// plain 32- and 64-bit integer arithmetic.
#pragma once

#include <cstdint>

#ifdef __CUDACC__
#define RNNATTN_HOST_DEVICE __host__ __device__
#else
#define RNNATTN_HOST_DEVICE
#endif

namespace rnnattn {

struct Philox4x32 {
  std::uint32_t v[4];
};

// Philox4x32-10 of `counter` under `key`.
RNNATTN_HOST_DEVICE inline Philox4x32 philox4x32_10(Philox4x32 counter, std::uint32_t key0,
                                                    std::uint32_t key1) {
  constexpr std::uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr std::uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  Philox4x32 c = counter;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += kW0;
      key1 += kW1;
    }
    const std::uint64_t p0 = static_cast<std::uint64_t>(kM0) * c.v[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(kM1) * c.v[2];
    c = Philox4x32{
        {static_cast<std::uint32_t>(p1 >> 32) ^ c.v[1] ^ key0, static_cast<std::uint32_t>(p1),
         static_cast<std::uint32_t>(p0 >> 32) ^ c.v[3] ^ key1, static_cast<std::uint32_t>(p0)}};
  }
  return c;
}

// Keras' Dropout(rate) on the context, inverted: element j of batch row `row` at the optimiser's
// step `step` (the batches trained before this one, Adam's step: a resumed run continues the
// stream) of the run seeded `seed` is kept with probability 1 - rate and then scaled by
// 1 / (1 - rate). Returns that factor: 0 or 1 / (1 - rate). The uniform is the first output
// word's top 24 bits over 2^24, in [0, 1); the element is kept when it is >= rate.
RNNATTN_HOST_DEVICE inline float dropout_factor(std::uint64_t seed, std::int64_t step, int row,
                                                int j, float rate) {
  if (!(rate > 0.f)) return 1.f;
  const auto s = static_cast<std::uint64_t>(step);
  const Philox4x32 r = philox4x32_10(
      Philox4x32{{static_cast<std::uint32_t>(j), static_cast<std::uint32_t>(row),
                  static_cast<std::uint32_t>(s), static_cast<std::uint32_t>(s >> 32)}},
      static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  const float u = static_cast<float>(r.v[0] >> 8) * (1.f / 16777216.f);
  return u >= rate ? 1.f / (1.f - rate) : 0.f;
}

// What keys a training step's dropout masks: the run's seed and the optimiser's step.
// The recurrent layers' dropout (ModelConfig::input_dropout, recurrent_dropout): the factor of
// element j of the mask of (layer, direction) on its input (recurrent: false) or on its previous
// state (true), for batch row `row`, the same at every step of the sequence. Drawn as
// dropout_factor's with the element counted as site * 2^20 + j, site = 1 + 2 (2 layer +
// direction) + recurrent, so that no two masks (nor the context's, site 0) share a counter; j is
// below 2^20 (D <= 2^16, C <= 2^15).
RNNATTN_HOST_DEVICE inline float layer_dropout_factor(std::uint64_t seed, std::int64_t step,
                                                      int row, int layer, int direction,
                                                      bool recurrent, int j, float rate) {
  const int site = 1 + 2 * (2 * layer + direction) + (recurrent ? 1 : 0);
  return dropout_factor(seed, step, row, (site << 20) | j, rate);
}

struct DropoutKey {
  std::uint64_t seed = 0;
  std::int64_t step = 0;
};

}  // namespace rnnattn
