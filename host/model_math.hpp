// The small pieces of the model's math that the CPU reference (host/reference.cpp) and the fast
// CPU path (host/cpu_fast.cpp) share (internal header).
#pragma once

#include <cmath>

#include "rnnattn/config.hpp"

namespace rnnattn {

// The head's activation y = act(pre).
template <typename Real>
Real activate(Activation a, Real v) {
  switch (a) {
    case Activation::kTanh:
      return std::tanh(v);
    case Activation::kSigmoid:
      return Real(1) / (Real(1) + std::exp(-v));
    case Activation::kLinear:
      break;
  }
  return v;
}

// d act / d pre, written in terms of the output y = act(pre).
template <typename Real>
Real activate_grad(Activation a, Real y) {
  switch (a) {
    case Activation::kTanh:
      return Real(1) - y * y;
    case Activation::kSigmoid:
      return y * (Real(1) - y);
    case Activation::kLinear:
      break;
  }
  return Real(1);
}

// Step t of direction `dir` follows step prev_step(t) (-1: it is the first, from h = 0).
inline int prev_step(int dir, int t, int T) { return dir == 0 ? t - 1 : (t + 1 < T ? t + 1 : -1); }

}  // namespace rnnattn
