// cuDNN as the peer a user would pick: CUDNN_RNN_TANH (single input bias, like Keras' SimpleRNN),
// and for the gated cells CUDNN_LSTM (single input bias, like Keras' LSTM) and CUDNN_GRU (double
// bias: cuDNN's GRU is Keras' reset_after variant) through cudnnRNNForward /
// cudnnRNNBackwardData_v8 / cudnnRNNBackwardWeights_v8, with the STANDARD, PERSIST_STATIC (the peer
// of rnnattn's persistent kernels) and PERSIST_STATIC_SMALL_H algorithms where cuDNN accepts the
// shape (a shape it refuses is reported as a skipped benchmark with cuDNN's error, which
// tools/bench_table.py shows as "refused"). Math: CUDNN_FMA_MATH, plain FP32 as rnnattn and the
// PyTorch peer compute (CUDNN_DEFAULT_MATH would let cuDNN use TF32 tensor cores on Hopper); the
// "cudnn_standard_tf32" rows allow TF32 (CUDNN_TENSOR_OP_MATH) and are labelled so: not an FP32
// comparison. cuDNN has no additive attention, so the "cudnn_*" families add the attention and the
// head with separate kernels and cuBLAS, the way a cuDNN user would (kernels/rnn_unfused.cu);
// "cudnn_*_rnn_only" time the recurrence alone; at the notebook's shape (bidirectional, variable
// lengths through the padded data layout) only those rows, for the Elman cell and the LSTM.
// Timing as in bench_gpu.cpp (events, manual time, warm-up first).
#include <cudnn.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "cuda/backend_cuda.hpp"
#include "cuda/gemm.hpp"
#include "gpu_timing.hpp"
#include "kernels/kernels.hpp"

namespace rnnattn::bench {
namespace {

#define CUDNN_CHECK(call)                                                       \
  do {                                                                          \
    const cudnnStatus_t st_ = (call);                                           \
    if (st_ != CUDNN_STATUS_SUCCESS)                                            \
      throw Error(std::string(#call) + " failed: " + cudnnGetErrorString(st_)); \
  } while (0)

// Everything one cuDNN RNN case needs, created outside the timed region.
struct CudnnRnn {
  cudnnHandle_t handle = nullptr;
  cudnnDropoutDescriptor_t dropout = nullptr;
  cudnnRNNDescriptor_t rnn = nullptr;
  cudnnRNNDataDescriptor_t x_desc = nullptr, y_desc = nullptr;
  cudnnTensorDescriptor_t h_desc = nullptr;
  DeviceBuffer<int> seq_lengths;
  DeviceBuffer<float> weights, dweights, work, reserve;
  std::size_t weight_bytes = 0, work_bytes = 0, reserve_bytes = 0;

  int directions = 1;

  // `lengths` (host, [batch], each in 1..steps) or empty: every sequence at full length. Variable
  // lengths go through the padded data layout (CUDNN_RNN_PADDED_IO_ENABLED: batch-major rows of
  // `steps`, zeros past each length), as a cuDNN user with padded batches passes them.
  CudnnRnn(cudaStream_t stream, cudnnRNNAlgo_t algo, cudnnMathType_t math, Cell cell, int batch,
           int steps, int input, int hidden, bool bidirectional = false,
           std::vector<int> lengths = {}) {
    directions = bidirectional ? 2 : 1;
    const bool padded = !lengths.empty();
    if (!padded) lengths.assign(batch, steps);
    const cudnnRNNMode_t mode = cell == Cell::kLstm  ? CUDNN_LSTM
                                : cell == Cell::kGru ? CUDNN_GRU
                                                     : CUDNN_RNN_TANH;
    const cudnnRNNBiasMode_t bias =
        cell == Cell::kGru ? CUDNN_RNN_DOUBLE_BIAS : CUDNN_RNN_SINGLE_INP_BIAS;
    CUDNN_CHECK(cudnnCreate(&handle));
    CUDNN_CHECK(cudnnSetStream(handle, stream));
    CUDNN_CHECK(cudnnCreateDropoutDescriptor(&dropout));
    CUDNN_CHECK(cudnnSetDropoutDescriptor(dropout, handle, 0.f, nullptr, 0, 0));
    CUDNN_CHECK(cudnnCreateRNNDescriptor(&rnn));
    CUDNN_CHECK(cudnnSetRNNDescriptor_v8(
        rnn, algo, mode, bias, bidirectional ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL,
        CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, math, input, hidden, hidden, 1,
        dropout, padded ? CUDNN_RNN_PADDED_IO_ENABLED : CUDNN_RNN_PADDED_IO_DISABLED));
    seq_lengths.resize(batch, "cuDNN sequence lengths");
    RNNATTN_CUDA_CHECK(
        cudaMemcpy(seq_lengths.get(), lengths.data(), batch * sizeof(int), cudaMemcpyHostToDevice));
    CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&x_desc));
    CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&y_desc));
    float fill = 0.f;
    CUDNN_CHECK(cudnnSetRNNDataDescriptor(x_desc, CUDNN_DATA_FLOAT,
                                          CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, steps, batch,
                                          input, lengths.data(), &fill));
    CUDNN_CHECK(cudnnSetRNNDataDescriptor(y_desc, CUDNN_DATA_FLOAT,
                                          CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, steps, batch,
                                          hidden * directions, lengths.data(), &fill));
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&h_desc));
    const int dims[3] = {directions, batch, hidden}, strides[3] = {batch * hidden, hidden, 1};
    CUDNN_CHECK(cudnnSetTensorNdDescriptor(h_desc, CUDNN_DATA_FLOAT, 3, dims, strides));
    CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(handle, rnn, &weight_bytes));
    CUDNN_CHECK(cudnnGetRNNTempSpaceSizes(handle, rnn, CUDNN_FWD_MODE_TRAINING, x_desc, &work_bytes,
                                          &reserve_bytes));
    weights = upload(random_floats(weight_bytes / sizeof(float), 7, 0.3));
    dweights.resize(weight_bytes / sizeof(float), "cuDNN weight gradients");
    work.resize(work_bytes / sizeof(float) + 1, "cuDNN workspace");
    reserve.resize(reserve_bytes / sizeof(float) + 1, "cuDNN reserve space");
  }
  ~CudnnRnn() {
    if (h_desc) cudnnDestroyTensorDescriptor(h_desc);
    if (y_desc) cudnnDestroyRNNDataDescriptor(y_desc);
    if (x_desc) cudnnDestroyRNNDataDescriptor(x_desc);
    if (rnn) cudnnDestroyRNNDescriptor(rnn);
    if (dropout) cudnnDestroyDropoutDescriptor(dropout);
    if (handle) cudnnDestroy(handle);
  }
  CudnnRnn(const CudnnRnn&) = delete;
  CudnnRnn& operator=(const CudnnRnn&) = delete;

  // The LSTM's cell state has the hidden state's shape (h_desc as cDesc; no initial or final
  // states: zeros in, nothing out).
  void forward(bool training, const float* x, float* y) {
    CUDNN_CHECK(cudnnRNNForward(
        handle, rnn, training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
        seq_lengths.get(), x_desc, x, y_desc, y, h_desc, nullptr, nullptr, h_desc, nullptr, nullptr,
        weight_bytes, weights.get(), work_bytes, work.get(), reserve_bytes, reserve.get()));
  }
  // dy: dL/dh_t for every step [B,T,H]; dx [B,T,D]; weight gradients into dweights.
  void backward(cudaStream_t stream, const float* x, const float* y, const float* dy, float* dx) {
    CUDNN_CHECK(cudnnRNNBackwardData_v8(handle, rnn, seq_lengths.get(), y_desc, y, dy, x_desc, dx,
                                        h_desc, nullptr, nullptr, nullptr, h_desc, nullptr, nullptr,
                                        nullptr, weight_bytes, weights.get(), work_bytes,
                                        work.get(), reserve_bytes, reserve.get()));
    RNNATTN_CUDA_CHECK(cudaMemsetAsync(dweights.get(), 0, weight_bytes, stream));
    CUDNN_CHECK(cudnnRNNBackwardWeights_v8(
        handle, rnn, CUDNN_WGRAD_MODE_ADD, seq_lengths.get(), x_desc, x, h_desc, nullptr, y_desc, y,
        weight_bytes, dweights.get(), work_bytes, work.get(), reserve_bytes, reserve.get()));
  }
};

void run_case(benchmark::State& st, const std::string& op, cudnnRNNAlgo_t algo,
              cudnnMathType_t math, bool rnn_only, const BenchShape& s, Cell cell) {
  ModelConfig cfg = config_of(s, /*attention=*/true);
  cfg.cell = cell;
  try {
    const MemoryProbe mem;
    CudaBackend be(cuda::Path::kUnfused);  // its stream and cuBLAS handle; the RNN is cuDNN's
    const cudaStream_t stream = be.stream();
    CudnnRnn rnn(stream, algo, math, cell, s.b, s.t, s.d, s.h);
    const std::size_t bt = static_cast<std::size_t>(s.b) * s.t, H = s.h;
    const auto x = upload(random_floats(bt * s.d, 2));
    // Attention and head parameters (the RNN's own live in cuDNN's weight space).
    const auto params = upload(init_parameters(cfg, 1));
    const ParamLayout l(cfg);
    const kernels::Weights w{nullptr,
                             nullptr,
                             nullptr,
                             params.get() + l.wa,
                             params.get() + l.ba,
                             params.get() + l.wd,
                             params.get() + l.bd};
    const kernels::Shape shape{s.b, s.t, s.d, s.h, s.o, true, static_cast<int>(s.head)};
    DeviceBuffer<float> hs(bt * H, "hidden"), scores(bt, "scores"), ex(bt, "exp"),
        sums(s.b, "sums"), attn(bt, "attention"), ctx(s.b * H, "context"),
        y(static_cast<std::size_t>(s.b) * s.o, "y"),
        dpre(static_cast<std::size_t>(s.b) * s.o, "dpre"), dc(s.b * H, "dc"), gdc(s.b, "g.c"),
        du(bt, "du"), dh(bt * H, "dh"), dx(bt * s.d, "dx"),
        grads(l.size(), "attention/head gradients"), ones(std::max<std::size_t>(bt, s.b), "ones");
    kernels::fill(ones.get(), ones.size(), 1.f, stream);
    const auto dy = upload(random_floats(static_cast<std::size_t>(s.b) * s.o, 3));
    const auto dh_rand = upload(random_floats(bt * H, 4));  // rnn_only backward: random dL/dh_t
    std::size_t temp_bytes = 0;
    kernels::unfused_row_sums(nullptr, s.b, s.t, nullptr, nullptr, &temp_bytes, stream);
    DeviceBuffer<unsigned char> temp(temp_bytes + 1, "CUB temp");
    cublasHandle_t cb = be.cublas();

    auto attention_forward = [&] {
      kernels::unfused_scores(hs.get(), w.wa, w.ba, s.b, s.t, s.h, nullptr, scores.get(), ex.get(),
                              stream);
      std::size_t tb = temp.size();
      kernels::unfused_row_sums(ex.get(), s.b, s.t, sums.get(), temp.get(), &tb, stream);
      kernels::unfused_normalise(ex.get(), sums.get(), s.b, s.t, attn.get(), stream);
      kernels::unfused_context(hs.get(), attn.get(), s.b, s.t, s.h, ctx.get(), stream);
      gemm_row_major(cb, false, false, s.b, s.o, s.h, 1.f, ctx.get(), s.h, w.wd, s.o, 0.f, y.get(),
                     s.o);
      kernels::unfused_bias_act(y.get(), w.bd, s.b, s.o, static_cast<int>(s.head), stream);
    };
    auto attention_backward = [&] {
      kernels::unfused_attention_backward(shape, w, hs.get(), scores.get(), attn.get(), ctx.get(),
                                          y.get(), dy.get(), dpre.get(), dc.get(), gdc.get(),
                                          du.get(), dh.get(), stream);
      const int n = static_cast<int>(bt);
      float* g = grads.get();
      gemm_row_major(cb, false, false, 1, s.h, n, 1.f, du.get(), n, hs.get(), s.h, 0.f, g + l.wa,
                     s.h);
      gemm_row_major(cb, false, false, 1, s.t, s.b, 1.f, ones.get(), s.b, du.get(), s.t, 0.f,
                     g + l.ba, s.t);
      gemm_row_major(cb, true, false, s.h, s.o, s.b, 1.f, ctx.get(), s.h, dpre.get(), s.o, 0.f,
                     g + l.wd, s.o);
      gemm_row_major(cb, false, false, 1, s.o, s.b, 1.f, ones.get(), s.b, dpre.get(), s.o, 0.f,
                     g + l.bd, s.o);
    };

    std::function<void()> run;
    if (op == "forward_inference" || op == "forward_training") {
      const bool training = op == "forward_training";
      run = [&, training] {
        rnn.forward(training, x.get(), hs.get());
        if (!rnn_only) attention_forward();
      };
    } else if (op == "backward") {
      rnn.forward(true, x.get(), hs.get());
      if (!rnn_only) attention_forward();
      run = [&] {
        if (!rnn_only) attention_backward();
        rnn.backward(stream, x.get(), hs.get(), rnn_only ? dh_rand.get() : dh.get(), dx.get());
      };
    } else {  // train_step: forward, loss, backward, Adam over both weight sets
      DeviceBuffer<double> loss(1, "loss");
      DeviceBuffer<long long> step(1, "step");
      RNNATTN_CUDA_CHECK(cudaMemsetAsync(step.get(), 0, sizeof(long long), stream));
      const auto target = upload(random_floats(static_cast<std::size_t>(s.b) * s.o, 5, 0.5));
      DeviceBuffer<float> dyl(static_cast<std::size_t>(s.b) * s.o, "dL/dy");
      const std::size_t nw = rnn.weight_bytes / sizeof(float);
      DeviceBuffer<float> mw(nw, "m"), vw(nw, "v"), ma(l.size(), "m"), va(l.size(), "v");
      auto mutable_params = upload(init_parameters(cfg, 1));
      run = [&, nw] {
        rnn.forward(true, x.get(), hs.get());
        attention_forward();
        kernels::loss_forward_backward(static_cast<int>(cfg.loss), y.get(), target.get(), s.b * s.o,
                                       s.o, dyl.get(), loss.get(), stream);
        attention_backward();
        rnn.backward(stream, x.get(), hs.get(), dh.get(), dx.get());
        kernels::advance_counters(step.get(), nullptr, 0, stream);
        kernels::adam_update(rnn.weights.get(), rnn.dweights.get(), mw.get(), vw.get(),
                             static_cast<int>(nw), 1e-3f, 0.9f, 0.999f, 1e-7f, step.get(), stream);
        kernels::adam_update(mutable_params.get(), grads.get(), ma.get(), va.get(),
                             static_cast<int>(l.size()), 1e-3f, 0.9f, 0.999f, 1e-7f, step.get(),
                             stream);
      };
      time_gpu(st, stream, run, mem);
      set_counters(st, op, cfg, s.b);
      return;
    }
    time_gpu(st, stream, run, mem);
    set_counters(st, op, cfg, s.b);
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

// The notebook's recurrence (bidirectional, variable lengths through the padded layout) in cuDNN
// alone: forward_training, or backward (dL/dh_t random) after one forward. cuDNN has no attention;
// these rows compare with rnnattn's recurrence at the same shape, not its whole model.
void run_bidirectional_case(benchmark::State& st, const std::string& op, cudnnRNNAlgo_t algo,
                            const BenchShape& s, Cell cell) {
  ModelConfig cfg = config_of(s, /*attention=*/true);
  cfg.cell = cell;
  try {
    const MemoryProbe mem;
    CudaStream owned;
    const cudaStream_t stream = owned.get();
    CudnnRnn rnn(stream, algo, CUDNN_FMA_MATH, cell, s.b, s.t, s.d, s.h, s.bidirectional,
                 s.lengths ? lengths_of(s) : std::vector<int>{});
    const std::size_t bt = static_cast<std::size_t>(s.b) * s.t;
    const std::size_t c = static_cast<std::size_t>(s.h) * rnn.directions;
    const auto x = upload(random_floats(bt * s.d, 2));
    const auto dh = upload(random_floats(bt * c, 4));
    DeviceBuffer<float> hs(bt * c, "hidden"), dx(bt * s.d, "dx");
    std::function<void()> run;
    if (op == "forward_training") {
      run = [&] { rnn.forward(true, x.get(), hs.get()); };
    } else {
      rnn.forward(true, x.get(), hs.get());
      run = [&] { rnn.backward(stream, x.get(), hs.get(), dh.get(), dx.get()); };
    }
    time_gpu(st, stream, run, mem);
    set_counters(st, op, cfg, s.b);
  } catch (const std::exception& e) {
    st.SkipWithError(e.what());
  }
}

}  // namespace

void register_cudnn_benchmarks() {
  struct Algo {
    const char* name;
    cudnnRNNAlgo_t algo;
    cudnnMathType_t math;
  };
  const Algo algos[] = {
      {"cudnn_standard", CUDNN_RNN_ALGO_STANDARD, CUDNN_FMA_MATH},
      {"cudnn_persist", CUDNN_RNN_ALGO_PERSIST_STATIC, CUDNN_FMA_MATH},
      {"cudnn_persist_small_h", CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H, CUDNN_FMA_MATH},
      {"cudnn_standard_tf32", CUDNN_RNN_ALGO_STANDARD, CUDNN_TENSOR_OP_MATH}};
  for (const char* op : {"forward_inference", "forward_training", "backward", "train_step"}) {
    for (const BenchShape& s : shapes()) {
      // The notebook's shape (bidirectional, variable lengths): cuDNN's recurrence alone, the
      // Elman cell and the notebook's LSTM, with the FP32 algorithms.
      if (s.bidirectional || s.lengths) {
        const std::string o = op;
        if (o != "forward_training" && o != "backward") continue;
        for (Cell cell : {Cell::kElman, Cell::kLstm}) {
          for (const Algo& a : algos) {
            const std::string an = a.name;
            if (an != "cudnn_standard" && an != "cudnn_persist") continue;
            const cudnnRNNAlgo_t algo = a.algo;
            benchmark::RegisterBenchmark(bench_name(o, an + "_rnn_only", s, true, cell).c_str(),
                                         [o, algo, s, cell](benchmark::State& st) {
                                           run_bidirectional_case(st, o, algo, s, cell);
                                         })
                ->UseManualTime()
                ->Unit(benchmark::kMicrosecond);
          }
        }
        continue;
      }
      // The gated cells at the training shapes, with the FP32 algorithms of bench_gpu.cpp's
      // gated rows (STANDARD and PERSIST_STATIC).
      const std::string n = s.name;
      const bool gated = n == "small" || n == "medium" || n == "large";
      for (Cell cell : {Cell::kElman, Cell::kLstm, Cell::kGru}) {
        if (cell != Cell::kElman && !gated) continue;
        for (const Algo& a : algos) {
          const std::string an = a.name;
          if (cell != Cell::kElman && an != "cudnn_standard" && an != "cudnn_persist") continue;
          for (bool rnn_only : {false, true}) {
            if (rnn_only && std::string(op) == "train_step") continue;
            const std::string impl = an + (rnn_only ? "_rnn_only" : "");
            const std::string o = op;
            const cudnnRNNAlgo_t algo = a.algo;
            const cudnnMathType_t math = a.math;
            benchmark::RegisterBenchmark(bench_name(o, impl, s, true, cell).c_str(),
                                         [o, algo, math, rnn_only, s, cell](benchmark::State& st) {
                                           run_case(st, o, algo, math, rnn_only, s, cell);
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
