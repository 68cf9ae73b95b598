// Trains the tutorial's attention model for one epoch through the public API and checks that the
// predictions are finite and the attention weights sum to 1.
#include <cmath>
#include <cstdio>

#include "rnnattn/rnnattn.hpp"

int main() {
  rnnattn::SplitData data = rnnattn::fibonacci_data(20);
  rnnattn::ModelConfig config;  // the tutorial's shapes: D=1, H=2, T=20, O=1, attention, tanh
  rnnattn::Model model = rnnattn::make_model(config, /*seed=*/7);
  auto backend = rnnattn::make_backend(rnnattn::Device::kCpu);
  rnnattn::fit(*backend, model, data.train, {.epochs = 1, .batch_size = 1, .seed = 7});
  std::vector<float> attention;
  const std::vector<float> pred = rnnattn::predict(*backend, model, data.test, &attention);
  for (int i = 0; i < data.test.count; ++i) {
    double sum = 0;
    for (int t = 0; t < config.steps; ++t) sum += attention[i * config.steps + t];
    if (!std::isfinite(pred[i]) || std::fabs(sum - 1.0) > 1e-5) {
      std::printf("consumer: bad output for window %d\n", i);
      return 1;
    }
  }
  std::printf("consumer: test MSE %.3e over %d windows\n",
              rnnattn::mean_squared_error(pred, data.test), data.test.count);
  return 0;
}
