// GPU benchmarks of rnnattn's own paths: fused kernels and the unfused (one launch per operation)
// path. Timed with CUDA events around each iteration (manual time) after one warm-up run; inputs
// random; buffers and backends created outside the timed region; CUDA errors become SkipWithError.
// train_step is one training step of the backend's TrainingSession (a replayed CUDA Graph), timed
// by the host clock because the session synchronises to read the loss back.
#include <cuda_runtime_api.h>

#include <chrono>
#include <exception>

#include "bench_common.hpp"
#include "cuda/backend_cuda.hpp"
#include "gpu_timing.hpp"

namespace rnnattn::bench {
namespace {

void run_case(benchmark::State& st, const std::string& op, cuda::Path path, const BenchShape& s,
              bool attention, cuda::Recurrence rec, Cell cell) {
  ModelConfig cfg = config_of(s, attention);
  cfg.cell = cell;
  try {
    const MemoryProbe mem;
    CudaBackend be(path);
    const std::size_t nx = static_cast<std::size_t>(s.b) * s.t * s.d;
    const auto p = upload(init_parameters(cfg, 1));
    const auto x = upload(random_floats(nx, 2));
    const auto dy = upload(random_floats(static_cast<std::size_t>(s.b) * s.o, 3));
    DeviceBuffer<float> y(static_cast<std::size_t>(s.b) * s.o, "y");
    DeviceBuffer<float> g(ParamLayout(cfg).size(), "dparams");
    const std::vector<int> hlen = lengths_of(s);
    DeviceBuffer<int> len;
    if (!hlen.empty()) {
      len.resize(hlen.size(), "lengths");
      RNNATTN_CUDA_CHECK(
          cudaMemcpy(len.get(), hlen.data(), hlen.size() * sizeof(int), cudaMemcpyHostToDevice));
    }
    if (op == "train_step") {
      const Model m = make_model(cfg, 1);
      auto session = be.start_training(cfg, m.adam_config, m.params, m.adam);
      const auto hx = random_floats(nx, 2);
      const auto hy = random_floats(static_cast<std::size_t>(s.b) * s.o, 3, 0.5);
      session->set_dataset(hx.data(), hy.data(), s.b, or_null(hlen));
      std::vector<int> order(s.b);
      for (int i = 0; i < s.b; ++i) order[i] = i;
      session->train_epoch(order, s.b);  // warm-up: captures the graph
      st.counters["device_MiB"] = mem.used_mib();
      for (auto _ : st) {
        const auto t0 = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(session->train_epoch(order, s.b));
        st.SetIterationTime(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    } else {
      // The device API on buffers made here, outside the timed region.
      cuda::Handle h = be.handle(cfg);
      h.set_recurrence(rec);
      // Which recurrence ran (persistent / cluster: 1), so that a table shows the model's choice.
      if (path == cuda::Path::kFused && cell == Cell::kElman) {  // one layer, or the layer kernels
        st.counters["persistent"] = h.recurrence_for(s.b) == cuda::Recurrence::kPersistent;
        st.counters["cluster"] = h.recurrence_for(s.b) == cuda::Recurrence::kCluster;
      }
      const bool inference = op == "forward_inference";
      DeviceBuffer<unsigned char> work(
          h.workspace_size(s.b, inference ? cuda::Pass::kInference : cuda::Pass::kTraining),
          "workspace");
      DeviceBuffer<unsigned char> reserve(inference ? 0 : h.reserve_size(s.b), "reserve");
      auto forward = [&] {
        if (inference) {
          h.forward_inference(p.get(), x.get(), s.b, y.get(), nullptr, work.get(), work.size(),
                              len.get());
        } else {
          h.forward_training(p.get(), x.get(), s.b, y.get(), nullptr, nullptr, reserve.get(),
                             reserve.size(), work.get(), work.size(), len.get());
        }
      };
      if (op == "backward") {
        forward();
        auto run = [&] {
          h.backward(p.get(), x.get(), s.b, y.get(), dy.get(), reserve.get(), reserve.size(),
                     g.get(), nullptr, cuda::GradMode::kOverwrite, work.get(), work.size(),
                     len.get());
        };
        time_gpu(st, be.stream(), run, mem);
      } else {
        time_gpu(st, be.stream(), forward, mem);
      }
    }
    set_counters(st, op, cfg, s.b);
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

}  // namespace

void register_gpu_benchmarks() {
  for (const char* op : {"forward_inference", "forward_training", "backward", "train_step"}) {
    for (const BenchShape& s : shapes()) {
      // The gated cells (rnn_segment.cu, rnn_persistent.cu) at the training shapes and the
      // notebook's (a bidirectional LSTM), attention models, fused (the model's choice, and each
      // recurrence forced) and unfused.
      const std::string n = s.name;
      const bool gated = n == "small" || n == "medium" || n == "large" || n == "notebook";
      for (Cell cell : {Cell::kElman, Cell::kLstm, Cell::kGru}) {
        if (cell != Cell::kElman && !gated) continue;
        for (bool attention : {true, false}) {
          if (!attention && (!s.both_models || cell != Cell::kElman)) continue;
          struct Impl {
            const char* name;
            cuda::Path path;
            cuda::Recurrence rec;
          };
          for (const Impl& i :
               {Impl{"unfused", cuda::Path::kUnfused, cuda::Recurrence::kAuto},
                Impl{"fused", cuda::Path::kFused, cuda::Recurrence::kAuto},
                Impl{"fused-segment", cuda::Path::kFused, cuda::Recurrence::kSegment},
                Impl{"fused-persistent", cuda::Path::kFused, cuda::Recurrence::kPersistent},
                Impl{"fused-cluster", cuda::Path::kFused, cuda::Recurrence::kCluster}}) {
            // Every recurrence side by side (what calibrates docs/performance.md's model): the
            // device-API passes of the attention models: the persistent kernels run every block
            // of any cell (a bidirectional layer's directions in one grid where it is
            // co-resident), the cluster kernels the Elman cell's, H <= 512.
            const bool forced = i.rec != cuda::Recurrence::kAuto;
            if (forced && (op == std::string("train_step") || !attention)) continue;
            if (i.rec == cuda::Recurrence::kCluster && (cell != Cell::kElman || s.h > 512)) {
              continue;
            }
            const std::string o = op;
            const Impl impl = i;
            if (o == "train_step" && n == "notebook" && attention && !forced) {
              // The notebook's whole model: token ids through Embedding(10000, 100); for the
              // LSTM also as written ("dot-lstm", as bench_cpu.cpp's row of that name): Keras'
              // dot-product attention and Dropout(0.5).
              for (bool dot : {false, true}) {
                if (dot && cell != Cell::kLstm) continue;
                const std::string name =
                    dot ? std::string("train_step_embedding/") + impl.name + "/notebook/dot-lstm"
                        : bench_name("train_step_embedding", impl.name, s, attention, cell);
                benchmark::RegisterBenchmark(
                    name.c_str(),
                    [impl, s, attention, cell, dot](benchmark::State& st) {
                      try {
                        ModelConfig cfg = with_embedding(config_of(s, attention));
                        cfg.cell = cell;
                        if (dot) {
                          cfg.score = AttentionScore::kDot;
                          cfg.dropout = 0.5f;
                        }
                        CudaBackend be(impl.path);
                        time_token_train_step(st, be, cfg, s);
                      } catch (const std::exception& e) {
                        st.SkipWithError(e.what());
                      }
                    })
                    ->UseManualTime()
                    ->Unit(benchmark::kMicrosecond);
              }
            }
            benchmark::RegisterBenchmark(bench_name(o, impl.name, s, attention, cell).c_str(),
                                         [o, impl, s, attention, cell](benchmark::State& st) {
                                           run_case(st, o, impl.path, s, attention, impl.rec, cell);
                                         })
                ->UseManualTime()
                ->Unit(benchmark::kMicrosecond);
          }
        }
      }
    }
  }
}

}  // namespace rnnattn::bench
