// A small, portable random number generator. std::mt19937_64's output is fixed by the C++
// standard, but std::*_distribution are not, so the conversions to uniform and normal numbers are
// written here: the same seed gives the same numbers with every compiler and library.
#pragma once

#include <cstdint>
#include <random>

namespace rnnattn {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal (Box-Muller; one value per call, so the stream position is simple to reason
  // about).
  double normal();
  // Uniform integer in [0, n), unbiased (rejection sampling). n must be >= 1.
  std::uint64_t below(std::uint64_t n);

 private:
  std::mt19937_64 engine_;
};

}  // namespace rnnattn
