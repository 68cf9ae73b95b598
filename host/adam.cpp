// Adam (Keras' update, bias-corrected) over a flat parameter buffer: rnnattn/adam.hpp.
#include "rnnattn/adam.hpp"

#include <cmath>
#include <string>

#include "rnnattn/error.hpp"

namespace rnnattn {

void AdamConfig::validate() const {
  auto fail = [](const char* what, float v) {
    throw InvalidArgument(std::string("adam: ") + what + ", got " + std::to_string(v));
  };
  if (!(learning_rate > 0.f) || !std::isfinite(learning_rate)) {
    fail("learning rate must be a positive finite number", learning_rate);
  }
  if (!(beta1 >= 0.f && beta1 < 1.f)) fail("beta1 must be in [0, 1)", beta1);
  if (!(beta2 >= 0.f && beta2 < 1.f)) fail("beta2 must be in [0, 1)", beta2);
  if (!(epsilon > 0.f) || !std::isfinite(epsilon)) fail("epsilon must be positive", epsilon);
}

void adam_update(const AdamConfig& cfg, AdamState& s, float* params, const float* grads,
                 std::size_t n) {
  if (s.m.size() != n || s.v.size() != n) {
    throw InvalidArgument("adam: optimiser state holds " + std::to_string(s.m.size()) + "/" +
                          std::to_string(s.v.size()) + " moments for " + std::to_string(n) +
                          " parameters");
  }
  s.step += 1;
  const double t = static_cast<double>(s.step);
  // The bias corrections are folded into the step size (Keras' form), computed in double.
  const float step = static_cast<float>(
      cfg.learning_rate * std::sqrt(1.0 - std::pow(cfg.beta2, t)) / (1.0 - std::pow(cfg.beta1, t)));
  const float b1 = cfg.beta1, b2 = cfg.beta2;
  for (std::size_t i = 0; i < n; ++i) {
    const float g = grads[i];
    s.m[i] = b1 * s.m[i] + (1.f - b1) * g;
    s.v[i] = b2 * s.v[i] + (1.f - b2) * g * g;
    params[i] -= step * s.m[i] / (std::sqrt(s.v[i]) + cfg.epsilon);
  }
}

}  // namespace rnnattn
