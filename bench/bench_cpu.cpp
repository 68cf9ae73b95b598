// CPU benchmarks, side by side in one run: "cpu", the fast path (Device::kCpu: batched, BLAS
// GEMMs, the reference for shapes too small to gain), and "reference", the plain per-sequence
// oracle (Device::kReference). Threads: RNNATTN_BENCH_THREADS (default 1) for the fast path's
// GEMMs; the reference is single-threaded. bench/bench_torch.py --device cpu times PyTorch at the
// same shapes, and tools/bench_table.py puts them in one table with the ratios. Every row also
// gives its fraction of the cores' FP32 peak, measured in the same run by an FMA loop
// ("peak/fma_loop/core/fp32").
#include <immintrin.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "cpu_fast.hpp"

namespace rnnattn::bench {
namespace {

// FP32 operations a second one core sustains: kChains independent chains of fused multiply-adds
// (8 lanes, AVX2) or of multiplies and adds (4 lanes, SSE2, without FMA), enough chains to hide
// the FMA latency on two pipes (Zen and recent Intel cores: 4-5 cycles), over `seconds`.
constexpr int kChains = 12;

__attribute__((target("avx2,fma"))) double fma_gflops(double seconds) {
  __m256 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm256_set1_ps(1.0f + 1e-3f * k);
  const __m256 a = _mm256_set1_ps(0.9999999f), b = _mm256_set1_ps(1e-7f);
  const auto t0 = std::chrono::steady_clock::now();
  long rounds = 0;
  double elapsed = 0;
  do {
    for (int r = 0; r < 4096; ++r) {
      for (int k = 0; k < kChains; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
    }
    rounds += 4096;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (elapsed < seconds);
  __m256 sum = acc[0];
  for (int k = 1; k < kChains; ++k) sum = _mm256_add_ps(sum, acc[k]);
  benchmark::DoNotOptimize(sum);
  return rounds * kChains * 8 * 2 / elapsed * 1e-9;
}

// The same with 16-lane FMAs (AVX-512), where the core has them: on a core with two 512-bit FMA
// pipes twice the AVX2 loop's rate, on one with one the same (the peak takes the better).
__attribute__((target("avx512f"))) double fma512_gflops(double seconds) {
  __m512 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm512_set1_ps(1.0f + 1e-3f * k);
  const __m512 a = _mm512_set1_ps(0.9999999f), b = _mm512_set1_ps(1e-7f);
  const auto t0 = std::chrono::steady_clock::now();
  long rounds = 0;
  double elapsed = 0;
  do {
    for (int r = 0; r < 4096; ++r) {
      for (int k = 0; k < kChains; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
    }
    rounds += 4096;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (elapsed < seconds);
  __m512 sum = acc[0];
  for (int k = 1; k < kChains; ++k) sum = _mm512_add_ps(sum, acc[k]);
  benchmark::DoNotOptimize(sum);
  return rounds * kChains * 16 * 2 / elapsed * 1e-9;
}

bool has_avx512() { return __builtin_cpu_supports("avx512f"); }

double mul_add_gflops(double seconds) {
  __m128 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm_set1_ps(1.0f + 1e-3f * k);
  const __m128 a = _mm_set1_ps(0.9999999f), b = _mm_set1_ps(1e-7f);
  const auto t0 = std::chrono::steady_clock::now();
  long rounds = 0;
  double elapsed = 0;
  do {
    for (int r = 0; r < 4096; ++r) {
      for (int k = 0; k < kChains; ++k) acc[k] = _mm_add_ps(_mm_mul_ps(acc[k], a), b);
    }
    rounds += 4096;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (elapsed < seconds);
  __m128 sum = acc[0];
  for (int k = 1; k < kChains; ++k) sum = _mm_add_ps(sum, acc[k]);
  benchmark::DoNotOptimize(sum);
  return rounds * kChains * 4 * 2 / elapsed * 1e-9;
}

double peak_gflops(double seconds) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    return mul_add_gflops(seconds);
  const double avx2 = fma_gflops(seconds);
  return has_avx512() ? std::max(avx2, fma512_gflops(seconds)) : avx2;
}

// One core's measured FP32 peak, taken once (the best of three 0.2 s runs, so that a moment of
// another process's load does not lower it).
double core_peak_gflops() {
  static const double peak = [] {
    double best = 0;
    for (int i = 0; i < 3; ++i) best = std::max(best, peak_gflops(0.2));
    return best;
  }();
  return peak;
}

// The row's GFLOP/s as a fraction of the peak of the cores it runs on.
void set_peak_fraction(benchmark::State& st, const std::string& op, const ModelConfig& c, int batch,
                       int threads) {
  st.counters["of_peak"] =
      benchmark::Counter(op_flops(op, c, batch) * 1e-9 / (core_peak_gflops() * threads),
                         benchmark::Counter::kIsIterationInvariantRate);
}

// The reference at the big shapes takes seconds a call: one iteration (after the warm-up call
// every case makes) is enough there.
bool slow_on_the_reference(const BenchShape& s) {
  return static_cast<double>(s.b) * s.t * s.h * (s.h + s.d) > 4e8;
}

}  // namespace

void register_cpu_benchmarks() {
  const char* env = std::getenv("RNNATTN_BENCH_THREADS");
  set_cpu_threads(env ? std::atoi(env) : 1);
  benchmark::AddCustomContext("fp32_peak_gflops_per_core",
                              std::to_string(core_peak_gflops()) + " (measured: " +
                                  std::to_string(kChains) + " independent chains of " +
                                  (!__builtin_cpu_supports("fma") ? "4-lane multiplies and adds"
                                   : has_avx512() ? "8-lane FMAs and of 16-lane FMAs, the better,"
                                                  : "8-lane FMAs") +
                                  " on one thread, best of three 0.2 s runs)");
  benchmark::AddCustomContext("openblas_kernels", fast::blas_core());
  // The peak as a row of its own, timed as the others are.
  benchmark::RegisterBenchmark("peak/fma_loop/core/fp32", [](benchmark::State& st) {
    double g = 0;
    for (auto _ : st) g = peak_gflops(0.05);
    st.counters["GFLOP/s"] = g;
    st.counters["of_peak"] = g / core_peak_gflops();
  })->Unit(benchmark::kMillisecond);
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
              set_peak_fraction(st, "forward_inference", cfg, s.b,
                                dev == Device::kCpu ? std::max(1, cpu_threads()) : 1);
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
              set_peak_fraction(st, "train_step", cfg, s.b,
                                dev == Device::kCpu ? std::max(1, cpu_threads()) : 1);
            });
        if (n == "notebook" && dev == Device::kCpu && attention) {
          // The notebook's whole model: token ids through Embedding(10000, 100), with the Elman
          // cell and the additive attention, the notebook's LSTM with it, and the notebook's
          // model as written (bench_torch.py's "dot-lstm"): the LSTM, Keras' dot-product
          // Attention with the context sum_t o_t * h_t, and Dropout(0.5).
          ModelConfig lstm = cfg, exact = cfg;
          lstm.cell = exact.cell = Cell::kLstm;
          exact.score = AttentionScore::kDot;
          exact.dropout = 0.5f;
          const std::pair<std::string, ModelConfig> models[] = {
              {bench_name("train_step_embedding", impl, s, true, k.cell), cfg},
              {bench_name("train_step_embedding", impl, s, true, Cell::kLstm), lstm},
              {std::string("train_step_embedding/") + impl + "/notebook/dot-lstm", exact}};
          for (const auto& [name, c] : models) {
            benchmark::RegisterBenchmark(name.c_str(),
                                         [c, s](benchmark::State& st) {
                                           auto be = make_backend(Device::kCpu);
                                           time_token_train_step(st, *be, with_embedding(c), s);
                                         })
                ->UseManualTime()
                ->Unit(benchmark::kMillisecond);
          }
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
