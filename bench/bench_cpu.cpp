// CPU benchmarks, side by side in one run: "cpu", the fast path (Device::kCpu: batched, BLAS
// GEMMs, the reference for shapes too small to gain), and "reference", the plain per-sequence
// oracle (Device::kReference). Threads: RNNATTN_BENCH_THREADS (default 1) for the fast path's
// GEMMs; the reference is single-threaded. bench/bench_torch.py --device cpu times PyTorch at the
// same shapes, and tools/bench_table.py puts them in one table with the ratios.
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace rnnattn::bench {
namespace {

// The reference at the big shapes takes seconds a call: one iteration (after the warm-up call
// every case makes) is enough there.
bool slow_on_the_reference(const BenchShape& s) {
  return static_cast<double>(s.b) * s.t * s.h * (s.h + s.d) > 4e8;
}

}  // namespace

void register_cpu_benchmarks() {
  const char* env = std::getenv("RNNATTN_BENCH_THREADS");
  set_cpu_threads(env ? std::atoi(env) : 1);
  struct Case {
    bool attention;
    Cell cell;
  };
  for (const BenchShape& s : shapes()) {
    // The gated cells at the three training shapes, on the fast path only: the
    // reference's relation to it is the Elman cell's.
    const std::string n = s.name;
    const bool gated = n == "small" || n == "medium" || n == "large";
    std::vector<Case> cases = {{true, Cell::kElman}};
    if (s.both_models) cases.push_back({false, Cell::kElman});
    if (gated) cases.insert(cases.end(), {{true, Cell::kLstm}, {true, Cell::kGru}});
    for (const Case& k : cases) {
      const bool attention = k.attention;
      ModelConfig cfg = config_of(s, attention);
      cfg.cell = k.cell;
      for (const Device dev : {Device::kCpu, Device::kReference}) {
        if (k.cell != Cell::kElman && dev == Device::kReference) continue;
        const char* impl = dev == Device::kCpu ? "cpu" : "reference";
        auto* fwd = benchmark::RegisterBenchmark(
            bench_name("forward_inference", impl, s, attention, k.cell).c_str(),
            [cfg, s, dev](benchmark::State& st) {
              auto be = make_backend(dev);
              const auto p = init_parameters(cfg, 1);
              const auto x = random_floats(static_cast<std::size_t>(s.b) * s.t * s.d, 2);
              std::vector<float> y(static_cast<std::size_t>(s.b) * s.o);
              const std::vector<int> len = lengths_of(s);
              // Warm-up, as bench_torch.py does: the first call faults in the workspace's pages.
              be->forward(cfg, p.data(), x.data(), s.b, y.data(), nullptr, nullptr, or_null(len));
              for (auto _ : st) {
                be->forward(cfg, p.data(), x.data(), s.b, y.data(), nullptr, nullptr, or_null(len));
                benchmark::DoNotOptimize(y.data());
              }
              set_counters(st, "forward_inference", cfg, s.b);
            });
        auto* train = benchmark::RegisterBenchmark(
            bench_name("train_step", impl, s, attention, k.cell).c_str(),
            [cfg, s, dev](benchmark::State& st) {
              auto be = make_backend(dev);
              const Model m = make_model(cfg, 1);
              auto session = be->start_training(cfg, m.adam_config, m.params, m.adam);
              const auto x = random_floats(static_cast<std::size_t>(s.b) * s.t * s.d, 2);
              const auto y = random_floats(static_cast<std::size_t>(s.b) * s.o, 3, 0.5);
              const std::vector<int> len = lengths_of(s);
              session->set_dataset(x.data(), y.data(), s.b, or_null(len));
              std::vector<int> order(s.b);
              for (int i = 0; i < s.b; ++i) order[i] = i;
              session->train_epoch(order, s.b);  // warm-up (it also takes one Adam step)
              for (auto _ : st) benchmark::DoNotOptimize(session->train_epoch(order, s.b));
              set_counters(st, "train_step", cfg, s.b);
            });
        if (n == "notebook" && dev == Device::kCpu) {
          // The notebook's whole model: token ids through Embedding(10000, 100).
          benchmark::RegisterBenchmark(
              bench_name("train_step_embedding", impl, s, attention, k.cell).c_str(),
              [cfg, s](benchmark::State& st) {
                auto be = make_backend(Device::kCpu);
                time_token_train_step(st, *be, with_embedding(cfg), s);
              })
              ->UseManualTime()
              ->Unit(benchmark::kMillisecond);
        }
        for (auto* b : {fwd, train}) {
          b->Unit(benchmark::kMillisecond);
          if (dev == Device::kReference && slow_on_the_reference(s)) b->Iterations(1);
        }
      }
    }
  }
}

}  // namespace rnnattn::bench
