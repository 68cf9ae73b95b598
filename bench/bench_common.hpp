// Shared by the benchmark families: the shapes, the FLOP count (in one place), random inputs and
// the timing helpers. Benchmarks are named  op/impl/shape/model  so tools/bench_table.py can pair
// implementations: op in {forward_inference, forward_training, backward, train_step}; impl in
// {cpu, unfused, fused, cudnn_standard, cudnn_persist_small_h} (+ "_rnn_only" for cuDNN without the
// attention and head).
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "rnnattn/rnnattn.hpp"

namespace rnnattn::bench {

struct BenchShape {
  const char* name;
  int b, t, d, h, o;
  Activation head;
  bool both_models;  // also run the plain model
};

// SPEC.md's shapes and issue 4's: the tutorial at batch 1 and at the whole training set, a medium
// model, the sentiment-classifier size, a wide one and a long one.
inline const std::vector<BenchShape>& shapes() {
  static const std::vector<BenchShape> s = {
      {"seed-1", 1, 20, 1, 2, 1, Activation::kTanh, true},
      {"seed-batch", 826, 20, 1, 2, 1, Activation::kTanh, true},
      {"medium", 64, 100, 32, 128, 1, Activation::kTanh, true},
      {"large", 128, 200, 100, 256, 1, Activation::kSigmoid, false},
      {"wide", 32, 100, 256, 1024, 1, Activation::kTanh, false},
      {"long", 16, 4000, 8, 64, 1, Activation::kTanh, false},
  };
  return s;
}

inline ModelConfig config_of(const BenchShape& s, bool attention) {
  ModelConfig c;
  c.input_size = s.d;
  c.hidden_size = s.h;
  c.steps = s.t;
  c.output_size = s.o;
  c.attention = attention;
  c.head = s.head;
  return c;
}

// FLOPs of one forward pass (a multiply-add counts 2). Backward counts 2x forward (the weight and
// the input gradients); a training step 3x. Every family reports against these.
inline double forward_flops(const ModelConfig& c, int batch) {
  const double per_step = 2.0 * c.hidden_size * (c.input_size + c.hidden_size) +
                          (c.attention ? 4.0 * c.hidden_size : 0.0);
  return batch * (c.steps * per_step + 2.0 * c.hidden_size * c.output_size);
}
inline double op_flops(const std::string& op, const ModelConfig& c, int batch) {
  const double f = forward_flops(c, batch);
  if (op == "backward") return 2 * f;
  if (op == "train_step") return 3 * f;
  return f;
}

inline std::vector<float> random_floats(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(scale * rng.uniform(-1, 1));
  return v;
}

inline void set_counters(benchmark::State& st, const std::string& op, const ModelConfig& c,
                         int batch) {
  st.SetItemsProcessed(st.iterations() * batch);  // sequences per second
  st.counters["GFLOP/s"] = benchmark::Counter(op_flops(op, c, batch) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

inline std::string bench_name(const std::string& op, const std::string& impl, const BenchShape& s,
                              bool attention) {
  return op + "/" + impl + "/" + s.name + "/" + (attention ? "attention" : "plain");
}

void register_cpu_benchmarks();
void register_gpu_benchmarks();    // bench_gpu.cpp
void register_cudnn_benchmarks();  // bench_cudnn.cpp (built when cuDNN is found)

}  // namespace rnnattn::bench
