// CPU reference benchmarks: forward, backward and a whole training step (forward, loss,
// backward, Adam) at the tutorial's shapes. These are the CPU column of the comparison the GPU
// benchmarks (fused, unfused, cuDNN) will be measured against; they run anywhere.
//
// Counters: sequences per second (items) and GFLOP/s of the model's multiply-adds.
#include <benchmark/benchmark.h>

#include <vector>

#include "rnnattn/rnnattn.hpp"

namespace {

using rnnattn::ModelConfig;

struct Case {
  int b, t, d, h, o;
};

ModelConfig config_of(const Case& c, bool attention) {
  ModelConfig cfg;
  cfg.input_size = c.d;
  cfg.hidden_size = c.h;
  cfg.steps = c.t;
  cfg.output_size = c.o;
  cfg.attention = attention;
  return cfg;
}

// FLOPs of one forward pass (multiply-add = 2), counted in one place.
double forward_flops(const ModelConfig& c, int batch) {
  const double per_step = 2.0 * c.hidden_size * (c.input_size + c.hidden_size) +
                          (c.attention ? 4.0 * c.hidden_size : 0.0);
  return batch * (c.steps * per_step + 2.0 * c.hidden_size * c.output_size);
}

std::vector<float> random_floats(std::size_t n, std::uint64_t seed) {
  rnnattn::Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.uniform(-1, 1));
  return v;
}

// Shapes: seed-1 (1,20,1,2,1), seed-batch (826,20,1,2,1), medium (64,100,32,128,1).
const Case kCases[] = {{1, 20, 1, 2, 1}, {826, 20, 1, 2, 1}, {64, 100, 32, 128, 1}};

void BM_CpuForward(benchmark::State& state) {
  const Case c = kCases[state.range(0)];
  const ModelConfig cfg = config_of(c, state.range(1) != 0);
  const auto params = rnnattn::init_parameters(cfg, 1);
  const auto x = random_floats(static_cast<std::size_t>(c.b) * c.t * c.d, 2);
  std::vector<float> y(static_cast<std::size_t>(c.b) * c.o);
  for (auto _ : state) {
    rnnattn::reference_forward<float>(cfg, params.data(), x.data(), c.b, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * c.b);
  state.counters["GFLOP/s"] = benchmark::Counter(forward_flops(cfg, c.b) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_CpuBackward(benchmark::State& state) {
  const Case c = kCases[state.range(0)];
  const ModelConfig cfg = config_of(c, state.range(1) != 0);
  const auto params = rnnattn::init_parameters(cfg, 1);
  const auto x = random_floats(static_cast<std::size_t>(c.b) * c.t * c.d, 2);
  const auto dy = random_floats(static_cast<std::size_t>(c.b) * c.o, 3);
  std::vector<float> dparams(params.size());
  for (auto _ : state) {
    rnnattn::reference_backward<float>(cfg, params.data(), x.data(), c.b, dy.data(),
                                       dparams.data());
    benchmark::DoNotOptimize(dparams.data());
  }
  state.SetItemsProcessed(state.iterations() * c.b);
  // Backward recomputes the forward pass, then does about twice its work.
  state.counters["GFLOP/s"] = benchmark::Counter(3 * forward_flops(cfg, c.b) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void BM_CpuTrainEpoch(benchmark::State& state) {
  // One epoch of the tutorial's training (batch 1) over the 826 Fibonacci training windows.
  const bool attention = state.range(0) != 0;
  const rnnattn::SplitData data = rnnattn::fibonacci_data(20);
  ModelConfig cfg;
  cfg.attention = attention;
  auto backend = rnnattn::make_backend(rnnattn::Device::kCpu);
  rnnattn::Model model = rnnattn::make_model(cfg, 1);
  rnnattn::TrainOptions opt;
  opt.epochs = 1;
  for (auto _ : state) rnnattn::fit(*backend, model, data.train, opt);
  state.SetItemsProcessed(state.iterations() * data.train.count);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "attention"});
  for (int s = 0; s < 3; ++s) {
    for (int a : {1, 0}) b->Args({s, a});
  }
}

BENCHMARK(BM_CpuForward)->Apply(shapes)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CpuBackward)->Apply(shapes)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CpuTrainEpoch)->ArgName("attention")->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
