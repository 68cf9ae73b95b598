// The random number generator's conversions written out (rnnattn/random.hpp): normals by
// Box-Muller and unbiased integers by rejection, the same with every compiler.
#include "rnnattn/random.hpp"

#include <cmath>

namespace rnnattn {

double Rng::normal() {
  // Box-Muller; 1 - uniform() lies in (0, 1], so the log is finite.
  const double u1 = 1.0 - uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

std::uint64_t Rng::below(std::uint64_t n) {
  // Reject the top partial block so every residue is equally likely.
  const std::uint64_t limit = ~std::uint64_t{0} - (~std::uint64_t{0} % n);
  std::uint64_t v;
  do {
    v = engine_();
  } while (v >= limit);
  return v % n;
}

}  // namespace rnnattn
