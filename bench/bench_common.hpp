// Shared by the benchmark families: the shapes, the FLOP count (in one place), random inputs and
// the timing helpers. Benchmarks are named  op/impl/shape/model  so tools/bench_table.py can pair
// implementations: op in {forward_inference, forward_training, backward, train_step}; impl in
// {cpu, unfused, fused, cudnn_standard, cudnn_persist_small_h} (+ "_rnn_only" for cuDNN without the
// attention and head).
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "rnnattn/rnnattn.hpp"

namespace rnnattn::bench {

struct BenchShape {
  const char* name;
  int b, t, d, h, o;
  Activation head;
  bool both_models;            // also run the plain model
  bool bidirectional = false;  // two directions (the notebook's shape)
  bool lengths = false;        // variable lengths: T/4..T, deterministic per sequence
};

// SPEC.md's shapes: the tutorial at batch 1 and at the whole training set, a medium
// model, the sentiment-classifier size, a wide one and a long one.
inline const std::vector<BenchShape>& shapes() {
  static const std::vector<BenchShape> s = {
      {"seed-1", 1, 20, 1, 2, 1, Activation::kTanh, true},
      {"seed-batch", 826, 20, 1, 2, 1, Activation::kTanh, true},
      {"small", 32, 50, 16, 64, 1, Activation::kTanh, false},  // the smallest CPU target
      {"medium", 64, 100, 32, 128, 1, Activation::kTanh, true},
      {"large", 128, 200, 100, 256, 1, Activation::kSigmoid, false},
      {"wide", 32, 100, 256, 1024, 1, Activation::kTanh, false},
      {"long", 16, 4000, 8, 64, 1, Activation::kTanh, false},
      // The sentiment notebook's classifier: bidirectional, attention, variable lengths.
      {"notebook", 128, 200, 100, 256, 1, Activation::kSigmoid, false, true, true},
  };
  return s;
}

// The shape's sequence lengths (empty: all T): spread over T/4..T.
inline std::vector<int> lengths_of(const BenchShape& s) {
  std::vector<int> l;
  if (!s.lengths) return l;
  for (int b = 0; b < s.b; ++b) l.push_back(s.t / 4 + (b * 37) % (s.t - s.t / 4 + 1));
  return l;
}
inline const int* or_null(const std::vector<int>& v) { return v.empty() ? nullptr : v.data(); }

inline ModelConfig config_of(const BenchShape& s, bool attention) {
  ModelConfig c;
  c.input_size = s.d;
  c.hidden_size = s.h;
  c.steps = s.t;
  c.output_size = s.o;
  c.attention = attention;
  c.head = s.head;
  c.bidirectional = s.bidirectional;
  return c;
}

// FLOPs of one forward pass (a multiply-add counts 2). Backward counts 2x forward (the weight and
// the input gradients); a training step 3x. Every family reports against these.
// (Padding is counted as work: the kernels step through it.)
inline double forward_flops(const ModelConfig& c, int batch) {
  double per_step = c.attention ? 4.0 * c.context_size() : 0.0;
  for (int l = 0; l < c.layers; ++l) {
    const int in = l == 0 ? c.input_size : c.context_size();
    per_step += c.directions() * 2.0 * gates_of(c.cell) * c.hidden_size * (in + c.hidden_size);
  }
  return batch * (c.steps * per_step + 2.0 * c.context_size() * c.output_size);
}
inline double op_flops(const std::string& op, const ModelConfig& c, int batch) {
  const double f = forward_flops(c, batch);
  if (op == "backward") return 2 * f;
  if (op == "train_step" || op == "train_step_embedding") return 3 * f;  // the table: ~0
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
                              bool attention, Cell cell = Cell::kElman) {
  return op + "/" + impl + "/" + s.name + "/" + (attention ? "attention" : "plain") +
         (cell == Cell::kElman ? "" : std::string("-") + to_string(cell));
}

// The notebook's vocabulary (num_words = 10000) for train_step_embedding: the model reads token
// ids through emb [V, D], the table's gather and gradient inside the timed step.
constexpr int kBenchVocab = 10000;
inline ModelConfig with_embedding(ModelConfig c) {
  c.vocab_size = kBenchVocab;
  return c;
}
// Token ids [B, T] of the shape: Zipf-like (id ~ 2 + V^u - 1 for uniform u), so that a few ids
// repeat often, as words do; 0 on padding.
inline std::vector<int> random_tokens(const BenchShape& s, const std::vector<int>& lengths) {
  Rng rng(4);
  std::vector<int> t(static_cast<std::size_t>(s.b) * s.t, 0);
  for (int b = 0; b < s.b; ++b) {
    const int len = lengths.empty() ? s.t : lengths[b];
    for (int i = 0; i < len; ++i) {
      const double u = rng.uniform();
      t[static_cast<std::size_t>(b) * s.t + i] =
          std::min(kBenchVocab - 1, 1 + static_cast<int>(std::pow(kBenchVocab - 1.0, u)));
    }
  }
  return t;
}
// One training step of a token model on `be` (its session, the whole batch), timed by the host
// clock as manual time (the session synchronises to read the loss back).
inline void time_token_train_step(benchmark::State& st, Backend& be, const ModelConfig& cfg,
                                  const BenchShape& s) {
  const Model m = make_model(cfg, 1);
  auto session = be.start_training(cfg, m.adam_config, m.params, m.adam);
  const std::vector<int> len = lengths_of(s);
  const std::vector<int> tokens = random_tokens(s, len);
  const auto y = random_floats(static_cast<std::size_t>(s.b) * s.o, 3, 0.5);
  session->set_token_dataset(tokens.data(), y.data(), s.b, or_null(len));
  std::vector<int> order(s.b);
  for (int i = 0; i < s.b; ++i) order[i] = i;
  session->train_epoch(order, s.b);  // warm-up (the GPU: captures the graph)
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(session->train_epoch(order, s.b));
    st.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  set_counters(st, "train_step_embedding", cfg, s.b);
}

void register_cpu_benchmarks();
void register_gpu_benchmarks();    // bench_gpu.cpp
void register_cudnn_benchmarks();  // bench_cudnn.cpp (built when cuDNN is found)

}  // namespace rnnattn::bench
