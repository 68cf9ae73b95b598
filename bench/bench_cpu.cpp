// CPU reference benchmarks: the CPU column of the comparison. Single-threaded plain loops.
// backward is reference_backward, which recomputes the forward pass (so it counts forward too).
#include <memory>

#include "bench_common.hpp"

namespace rnnattn::bench {

void register_cpu_benchmarks() {
  for (const BenchShape& s : shapes()) {
    for (bool attention : {true, false}) {
      if (!attention && !s.both_models) continue;
      const ModelConfig cfg = config_of(s, attention);
      benchmark::RegisterBenchmark(
          bench_name("forward_inference", "cpu", s, attention).c_str(),
          [cfg, s](benchmark::State& st) {
            const auto p = init_parameters(cfg, 1);
            const auto x = random_floats(static_cast<std::size_t>(s.b) * s.t * s.d, 2);
            std::vector<float> y(static_cast<std::size_t>(s.b) * s.o);
            const std::vector<int> len = lengths_of(s);
            for (auto _ : st) {
              reference_forward<float>(cfg, p.data(), x.data(), s.b, y.data(), nullptr, nullptr,
                                       nullptr, or_null(len));
              benchmark::DoNotOptimize(y.data());
            }
            set_counters(st, "forward_inference", cfg, s.b);
          })
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(
          bench_name("backward", "cpu", s, attention).c_str(),
          [cfg, s](benchmark::State& st) {
            const auto p = init_parameters(cfg, 1);
            const auto x = random_floats(static_cast<std::size_t>(s.b) * s.t * s.d, 2);
            const auto dy = random_floats(static_cast<std::size_t>(s.b) * s.o, 3);
            std::vector<float> g(p.size());
            const std::vector<int> len = lengths_of(s);
            for (auto _ : st) {
              reference_backward<float>(cfg, p.data(), x.data(), s.b, dy.data(), g.data(), nullptr,
                                        or_null(len));
              benchmark::DoNotOptimize(g.data());
            }
            set_counters(st, "backward", cfg, s.b);
          })
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(
          bench_name("train_step", "cpu", s, attention).c_str(),
          [cfg, s](benchmark::State& st) {
            auto be = make_backend(Device::kCpu);
            const Model m = make_model(cfg, 1);
            auto session = be->start_training(cfg, m.adam_config, m.params, m.adam);
            const auto x = random_floats(static_cast<std::size_t>(s.b) * s.t * s.d, 2);
            const auto y = random_floats(static_cast<std::size_t>(s.b) * s.o, 3, 0.5);
            const std::vector<int> len = lengths_of(s);
            session->set_dataset(x.data(), y.data(), s.b, or_null(len));
            std::vector<int> order(s.b);
            for (int i = 0; i < s.b; ++i) order[i] = i;
            for (auto _ : st) benchmark::DoNotOptimize(session->train_epoch(order, s.b));
            set_counters(st, "train_step", cfg, s.b);
          })
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace rnnattn::bench
