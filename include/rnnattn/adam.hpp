// Adam in the Keras form (the optimiser the tutorial used).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rnnattn {

struct AdamConfig {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-7f;
  void validate() const;  // throws InvalidArgument naming the bad field
};

struct AdamState {
  std::int64_t step = 0;  // number of updates applied
  std::vector<float> m;   // first moment, same layout as the parameters
  std::vector<float> v;   // second moment
  void reset(std::size_t n) {
    step = 0;
    m.assign(n, 0.f);
    v.assign(n, 0.f);
  }
};

// One update of n parameters:
//   t += 1;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//   step = lr sqrt(1 - b2^t) / (1 - b1^t);  p -= step m / (sqrt(v) + epsilon)
void adam_update(const AdamConfig& config, AdamState& state, float* params, const float* grads,
                 std::size_t n);

}  // namespace rnnattn
