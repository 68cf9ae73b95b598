// The CUDA backend beyond the recurrence sweep (test_gpu_recurrence.cpp): two runs give the same
// bits, inference agrees with training, the host API and its refusals, and the GPU trainers
// (captured steps, the small-model epoch kernel, lengths and two directions) against the CPU
// trainer. Every test skips, saying why, where no GPU exists; the simulator build runs them all.
//
// Outputs are poisoned (all bits set: NaN) before each run, so an unwritten element fails.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "cuda/backend_cuda.hpp"
#include "cuda/cuda_test_util.hpp"
#include "rnnattn/rnnattn.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

using test::all_close;
using test::random_vector;

using test::poisoned;
using test::scratch;
using test::to_device;
using test::to_host;

struct Case {
  int b, t, d, h, o;
  bool attention;
  Activation head;
};

ModelConfig config_of(const Case& c) {
  ModelConfig cfg;
  cfg.input_size = c.d;
  cfg.hidden_size = c.h;
  cfg.steps = c.t;
  cfg.output_size = c.o;
  cfg.attention = c.attention;
  cfg.head = c.head;
  return cfg;
}

struct ForwardOut {
  std::vector<float> y, attention, hidden;
};

// The device API on the test's buffers: training mode fills a reserve (and, on request, copies
// the hidden states out); inference keeps nothing.
ForwardOut gpu_forward(cuda::Handle& h, const Case& c, const std::vector<float>& p,
                       const std::vector<float>& x, bool training, bool want_hidden) {
  const cudaStream_t s = h.stream();
  const auto dp = to_device(p, s), dx = to_device(x, s);
  auto dy = poisoned(static_cast<std::size_t>(c.b) * c.o, s);
  DeviceBuffer<float> da, dh;
  if (c.attention) da = poisoned(static_cast<std::size_t>(c.b) * c.t, s);
  if (want_hidden) dh = poisoned(static_cast<std::size_t>(c.b) * c.t * c.h, s);
  if (training) {
    auto ws = scratch(h.workspace_size(c.b, cuda::Pass::kTraining), s);
    auto rs = scratch(h.reserve_size(c.b), s);
    h.forward_training(dp.get(), dx.get(), c.b, dy.get(), da.get(), dh.get(), rs.get(), rs.size(),
                       ws.get(), ws.size());
  } else {
    auto ws = scratch(h.workspace_size(c.b, cuda::Pass::kInference), s);
    h.forward_inference(dp.get(), dx.get(), c.b, dy.get(), da.get(), ws.get(), ws.size());
  }
  ForwardOut o;
  o.y = to_host(dy, s);
  if (c.attention) o.attention = to_host(da, s);
  if (want_hidden) o.hidden = to_host(dh, s);
  return o;
}

struct Grads {
  std::vector<float> dparams, dx;
};

// forward_training then backward.
Grads gpu_backward(cuda::Handle& h, const Case& c, const std::vector<float>& p,
                   const std::vector<float>& x, const std::vector<float>& dy) {
  const cudaStream_t s = h.stream();
  const auto dp = to_device(p, s), dx = to_device(x, s), ddy = to_device(dy, s);
  auto g = poisoned(p.size(), s), gx = poisoned(x.size(), s);
  auto y = poisoned(static_cast<std::size_t>(c.b) * c.o, s);
  auto ws = scratch(h.workspace_size(c.b), s);
  auto rs = scratch(h.reserve_size(c.b), s);
  h.forward_training(dp.get(), dx.get(), c.b, y.get(), nullptr, nullptr, rs.get(), rs.size(),
                     ws.get(), ws.size());
  h.backward(dp.get(), dx.get(), c.b, y.get(), ddy.get(), rs.get(), rs.size(), g.get(), gx.get(),
             cuda::GradMode::kOverwrite, ws.get(), ws.size());
  return {to_host(g, s), to_host(gx, s)};
}

struct Inputs {
  std::vector<float> p, x, dy;
};

Inputs make_inputs(const Case& c, std::uint64_t seed) {
  const ModelConfig cfg = config_of(c);
  Inputs in;
  in.p = random_vector<float>(ParamLayout(cfg).size(), seed, -0.5, 0.5);
  in.x = random_vector<float>(static_cast<std::size_t>(c.b) * c.t * c.d, seed + 1);
  in.dy = random_vector<float>(static_cast<std::size_t>(c.b) * c.o, seed + 2);
  // Keep the recurrence stable over long T: scale Wh down so h does not saturate everywhere.
  const ParamLayout l(cfg);
  const float s = 1.f / std::sqrt(static_cast<float>(c.h));
  for (std::size_t i = 0; i < static_cast<std::size_t>(c.h) * c.h; ++i) in.p[l.wh + i] *= s;
  return in;
}

TEST(Cuda, TwoRunsAreBitwiseIdentical) {
  SKIP_WITHOUT_GPU();
  const Case c{96, 30, 3, 48, 2, true, Activation::kTanh};
  const Inputs in = make_inputs(c, 77);
  CudaStream stream;
  cuda::Handle be(config_of(c), stream.get());
  const Grads a = gpu_backward(be, c, in.p, in.x, in.dy);
  const Grads b = gpu_backward(be, c, in.p, in.x, in.dy);
  EXPECT_EQ(a.dparams, b.dparams);
  EXPECT_EQ(a.dx, b.dx);
  const ForwardOut fa = gpu_forward(be, c, in.p, in.x, false, false);
  const ForwardOut fb = gpu_forward(be, c, in.p, in.x, false, false);
  EXPECT_EQ(fa.y, fb.y);
}

// Training computes x_t Wx for every step with one cuBLAS GEMM and adds it to bh; inference
// forms the same products in the kernel and adds them in the same association:
// z = (bh + x_t Wx) + h_{t-1} Wh. Everything else (h Wh, tanhf, expf, the softmax, the head) is
// the same code on the same inputs. So:
// - D = 1: x_t Wx is one product, which a GEMM rounds once as the kernel does: bitwise equal,
//   here and on a GPU (alpha = 1, beta = 0, CUBLAS_PEDANTIC_MATH: no TF32, no split-K at K = 1).
// - D = 2: in the simulator the GEMM is the same k-ordered loop: bitwise equal. On a GPU cuBLAS may
//   sum the two products in another order or fuse them: x_t Wx then differs by at most one
//   rounding (|x| <= 1, |Wx| <= 1 here: <= 6e-8) per step; through T = 40 steps of a recurrence
//   whose pre-activations tanh compresses (|tanh'| <= 1) the states differ by at most 40 such
//   roundings when the recurrence does not expand errors (at initialisation Wh is orthogonal), so
//   y (sigmoid, |sigmoid'| <= 1/4, |Wd| row sum < 4) and the attention weights (softmax of
//   tanh(h . wa)) stay within 1e-5; tolerances of 1e-5 for both.
TEST(Cuda, InferenceMatchesTraining) {
  SKIP_WITHOUT_GPU();
  for (const int d : {1, 2}) {
    SCOPED_TRACE("D = " + std::to_string(d));
    const Case c{33, 40, d, 20, 1, true, Activation::kSigmoid};
    const Inputs in = make_inputs(c, 78);
    CudaStream stream;
    cuda::Handle be(config_of(c), stream.get());
    const ForwardOut tr = gpu_forward(be, c, in.p, in.x, true, false);
    const ForwardOut inf = gpu_forward(be, c, in.p, in.x, false, false);
#ifdef RNNATTN_GPU_SIMULATOR
    const bool bitwise = true;
#else
    const bool bitwise = d == 1;
#endif
    const double tol = bitwise ? 0.0 : 1e-5;
    EXPECT_TRUE(all_close("y", inf.y, tr.y, tol, tol));
    EXPECT_TRUE(all_close("attention", inf.attention, tr.attention, tol, tol));
  }
}

TEST(Cuda, HostApiAndRefusals) {
  SKIP_WITHOUT_GPU();
  auto be = make_backend(Device::kCuda);
  EXPECT_EQ(be->name(), "cuda");
  ModelConfig cfg;
  const auto p = init_parameters(cfg, 3);
  const auto x = random_vector<float>(20 * 4, 4);
  std::vector<float> y(4, NAN), want(4);
  be->forward(cfg, p.data(), x.data(), 4, y.data(), nullptr, nullptr);
  reference_forward<float>(cfg, p.data(), x.data(), 4, want.data());
  EXPECT_TRUE(all_close("y", y, want, 1e-5, 1e-5));
  cfg.hidden_size = 1025;
  const auto p2 = init_parameters(cfg, 3);
  try {
    be->forward(cfg, p2.data(), x.data(), 4, y.data(), nullptr, nullptr);
    FAIL() << "H = 1025 accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("H <= 1024"), std::string::npos) << e.what();
  }
}

// The recurrent layers' dropout trains on the CPU only (the recurrences draw no masks): the CUDA
// training sessions, the device API's training passes and check_device_supports refuse it by
// name; a model with it predicts on the GPU as on the CPU (inference draws no masks).
TEST(Cuda, LayerDropoutTrainsOnlyOnTheCpu) {
  ModelConfig cfg;
  cfg.hidden_size = 5;
  cfg.cell = Cell::kLstm;
  cfg.recurrent_dropout = 0.3f;
  for (Device d : {Device::kCuda, Device::kCudaUnfused}) {
    try {
      check_device_supports(d, cfg);
      ADD_FAILURE() << "check_device_supports took the layers' dropout";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("--recurrent-dropout"), std::string::npos) << e.what();
    }
  }
  SKIP_WITHOUT_GPU();
  const auto p = init_parameters(cfg, 3);
  const auto x = random_vector<float>(20 * 4, 4);
  std::vector<float> y(4, NAN), want(4);
  make_backend(Device::kCuda)->forward(cfg, p.data(), x.data(), 4, y.data(), nullptr, nullptr);
  reference_forward<float>(cfg, p.data(), x.data(), 4, want.data());
  EXPECT_TRUE(all_close("y (inference)", y, want, 1e-5, 1e-5));
  for (Device d : {Device::kCuda, Device::kCudaUnfused}) {
    try {
      make_backend(d)->start_training(cfg, AdamConfig{}, p, AdamState{});
      FAIL() << "a CUDA session took the layers' dropout";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("recurrent layers' dropout"), std::string::npos)
          << e.what();
    }
  }
  CudaStream stream;
  cuda::Handle h(cfg, stream.get());
  EXPECT_THROW(
      h.forward_training(nullptr, nullptr, 4, nullptr, nullptr, nullptr, nullptr, 0, nullptr, 0),
      InvalidArgument);
}

// A training session on the GPU against one on the CPU doing the same steps: two datasets (the
// second set_dataset makes new buffers) and several batch sizes, tails included; losses and the
// final parameters must agree.
void expect_session_follows_the_cpu(const ModelConfig& cfg, std::uint64_t seed = 0) {
  const std::vector<float> params = init_parameters(cfg, 21);
  const std::size_t row = static_cast<std::size_t>(cfg.steps) * cfg.input_size;
  const auto xa = random_vector<float>(23 * row, 22);
  const auto xb = random_vector<float>(41 * row, 24);
  const double lo = cfg.loss == Loss::kMse ? -1.0 : 0.0;
  const auto ya = random_vector<float>(23 * cfg.output_size, 23, lo, 1.0);
  const auto yb = random_vector<float>(41 * cfg.output_size, 25, lo, 1.0);
  std::vector<int> order_a(23), order_b(41);
  for (int i = 0; i < 23; ++i) order_a[i] = (i * 7) % 23;
  for (int i = 0; i < 41; ++i) order_b[i] = (i * 5) % 41;
  const std::vector<int> part_b(order_b.begin(), order_b.begin() + 30);

  auto run = [&](Backend& be, std::vector<double>& losses) {
    auto session = be.start_training(cfg, AdamConfig{}, params, AdamState{});
    session->set_seed(seed);  // the dropout masks' key
    session->set_dataset(xa.data(), ya.data(), 23);
    losses.push_back(session->train_epoch(order_a, 4));  // batches of 4, a tail of 3
    losses.push_back(session->train_epoch(order_a, 7));  // another batch size
    session->set_dataset(xb.data(), yb.data(), 41);      // new buffers
    losses.push_back(session->train_epoch(order_b, 7));  // same batch size: must not replay
    losses.push_back(session->train_epoch(part_b, 4));
    losses.push_back(session->train_epoch(order_b, 50));  // one batch of all
    losses.push_back(session->train_epoch(order_b, 4));
    losses.push_back(session->train_epoch(order_b, 1));
    return session->parameters();
  };
  std::vector<double> cpu_losses, gpu_losses;
  auto cpu_be = make_backend(Device::kCpu);
  CudaBackend gpu_be(cuda::Path::kFused);
  const std::vector<float> cpu_params = run(*cpu_be, cpu_losses);
  const std::vector<float> gpu_params = run(gpu_be, gpu_losses);
  ASSERT_EQ(gpu_losses.size(), cpu_losses.size());
  for (std::size_t i = 0; i < cpu_losses.size(); ++i) {
    EXPECT_NEAR(gpu_losses[i], cpu_losses[i], 1e-4 * cpu_losses[i] + 1e-9) << "epoch " << i;
  }
  EXPECT_TRUE(all_close("params", gpu_params, cpu_params, 1e-5, 1e-4));
}

// A softmax head over K classes with categorical cross-entropy trains on the GPU as on the CPU
// (its loss kernel averaging over the rows, the head's backward the softmax's Jacobian product):
// the one-layer Elman model (which the softmax moves to the layered passes) and a bidirectional
// LSTM with the dot-product attention.
TEST(Cuda, SoftmaxHeadWithCrossEntropyFollowsTheCpu) {
  SKIP_WITHOUT_GPU();
  ModelConfig elman;
  elman.steps = 6;
  elman.hidden_size = 5;
  elman.output_size = 3;
  elman.head = Activation::kSoftmax;
  elman.loss = Loss::kCce;
  ModelConfig lstm = elman;
  lstm.cell = Cell::kLstm;
  lstm.bidirectional = true;
  lstm.score = AttentionScore::kDot;
  lstm.output_size = 4;
  for (const ModelConfig& cfg : {elman, lstm}) {
    SCOPED_TRACE(describe(cfg));
    expect_session_follows_the_cpu(cfg);
  }
}

// H = 40 takes the step-by-step path (a CUDA graph per batch size): new datasets and changes of
// batch size must never replay a graph that points at freed or stale buffers.
TEST(Cuda, CapturedStepFollowsNewDatasetsAndBatchSizes) {
  SKIP_WITHOUT_GPU();
  ModelConfig cfg;
  cfg.steps = 6;
  cfg.hidden_size = 40;
  expect_session_follows_the_cpu(cfg);
}

// Dropout on the context trains on the GPU with the CPU's masks (the same seed, Adam step, batch
// row and element): the same losses and parameters, through captured graphs replayed with a new
// step each time, new datasets and batch sizes; with the notebook's dot-product attention and
// bidirectional LSTM, and the one-layer Elman model (which dropout moves off the small-epoch and
// one-layer kernels). A model with dropout predicts without masks, as the CPU does.
TEST(Cuda, DropoutTrainsWithTheCpusMasks) {
  SKIP_WITHOUT_GPU();
  ModelConfig elman;
  elman.steps = 6;
  elman.hidden_size = 5;
  elman.dropout = 0.5f;
  ModelConfig notebook = elman;
  notebook.cell = Cell::kLstm;
  notebook.bidirectional = true;
  notebook.score = AttentionScore::kDot;
  notebook.head = Activation::kSigmoid;
  notebook.loss = Loss::kBce;
  notebook.dropout = 0.3f;
  for (const ModelConfig& cfg : {elman, notebook}) {
    SCOPED_TRACE(describe(cfg));
    expect_session_follows_the_cpu(cfg, 99);
    const auto p = init_parameters(cfg, 3);
    const auto x = random_vector<float>(static_cast<std::size_t>(4) * cfg.steps, 4);
    std::vector<float> y(4, NAN), want(4);
    make_backend(Device::kCuda)->forward(cfg, p.data(), x.data(), 4, y.data(), nullptr, nullptr);
    reference_forward<float>(cfg, p.data(), x.data(), 4, want.data());
    EXPECT_TRUE(all_close("y (inference)", y, want, 1e-5, 1e-5));
  }
}

// Models with H <= 32 train whole epochs in one launch (rnn_train_small.cu): both models, every
// head and loss, several inputs and outputs, H at the warp's edge, T over twice the lanes.
TEST(Cuda, SmallModelEpochKernelFollowsTheCpu) {
  SKIP_WITHOUT_GPU();
  struct Variant {
    int d, h, o;
    bool attention;
    Activation head;
    Loss loss;
    int steps = 6;  // 70: lanes taking 2 or 3 steps each in the scores and du
  };
  for (const Variant& v : {Variant{1, 2, 1, true, Activation::kTanh, Loss::kMse},
                           Variant{3, 7, 1, false, Activation::kSigmoid, Loss::kBce},
                           Variant{2, 32, 3, true, Activation::kLinear, Loss::kMse},
                           Variant{1, 1, 1, true, Activation::kSigmoid, Loss::kBce},
                           Variant{2, 5, 2, true, Activation::kTanh, Loss::kMse, 70}}) {
    ModelConfig cfg;
    cfg.input_size = v.d;
    cfg.hidden_size = v.h;
    cfg.output_size = v.o;
    cfg.steps = v.steps;
    cfg.attention = v.attention;
    cfg.head = v.head;
    cfg.loss = v.loss;
    SCOPED_TRACE(describe(cfg));
    expect_session_follows_the_cpu(cfg);
  }
}

// The GPU trainer (CUDA Graph replay, tail batch included) follows the CPU trainer.
TEST(Cuda, TrainerFollowsTheCpuTrainer) {
  SKIP_WITHOUT_GPU();
  const SplitData d = fibonacci_data(20);
  for (int batch : {1, 5}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    TrainOptions opt;
    opt.epochs = 3;
    opt.batch_size = batch;
    opt.seed = 11;
    Model cpu = make_model(ModelConfig{}, 5), gpu = cpu;
    auto cpu_be = make_backend(Device::kCpu);
    auto gpu_be = make_backend(Device::kCuda);
    const TrainHistory hc = fit(*cpu_be, cpu, d.train, opt);
    const TrainHistory hg = fit(*gpu_be, gpu, d.train, opt);
    ASSERT_EQ(hg.epoch_loss.size(), hc.epoch_loss.size());
    for (std::size_t e = 0; e < hc.epoch_loss.size(); ++e) {
      EXPECT_NEAR(hg.epoch_loss[e], hc.epoch_loss[e], 1e-3 * hc.epoch_loss[e] + 1e-9)
          << "epoch " << e;
    }
    EXPECT_EQ(gpu.adam.step, cpu.adam.step);
    EXPECT_TRUE(all_close("params", gpu.params, cpu.params, 1e-4, 1e-3));
  }
  // Full tutorial run: the same quality as the CPU.
  TrainOptions opt;
  opt.seed = 3;
  Model cpu = make_model(ModelConfig{}, 3), gpu = cpu;
  auto cpu_be = make_backend(Device::kCpu);
  auto gpu_be = make_backend(Device::kCuda);
  fit(*cpu_be, cpu, d.train, opt);
  fit(*gpu_be, gpu, d.train, opt);
  const double mc = mean_squared_error(predict(*cpu_be, cpu, d.test), d.test);
  const double mg = mean_squared_error(predict(*gpu_be, gpu, d.test), d.test);
  EXPECT_LT(mg, 2 * mc + 1e-6);
  EXPECT_GT(mg, 0.5 * mc - 1e-6);
}

// The GPU trainer (captured step with gathered lengths) follows the CPU trainer on a
// bidirectional two-layer model with lengths, and on a one-layer model with lengths (which must
// leave the small-model epoch kernel for the captured step); and so do the gated cells, a
// one-layer LSTM and a bidirectional two-layer GRU (Cli.TrainsOnTheGpuLikeOnTheCpu trains them
// without lengths, where the small-model kernel, Elman only, must not take them).
TEST(CudaSequenceTraining, FollowsTheCpuTrainerWithLengths) {
  SKIP_WITHOUT_GPU();
  SentimentOptions o;
  o.train = 23;
  o.test = 1;
  o.dim = 3;
  o.min_length = 7;
  o.max_length = 12;
  o.neutral_tokens = 10;
  o.sentiment_tokens = 2;
  const SplitData d = sentiment_data(o);
  const std::pair<bool, Cell> models[] = {
      {true, Cell::kElman}, {false, Cell::kElman}, {false, Cell::kLstm}, {true, Cell::kGru}};
  for (const auto& [deep, cell] : models) {
    ModelConfig cfg;
    cfg.cell = cell;
    cfg.input_size = 3;
    cfg.hidden_size = 6;
    cfg.steps = 12;
    cfg.layers = deep ? 2 : 1;
    cfg.bidirectional = deep;
    cfg.head = Activation::kSigmoid;
    cfg.loss = Loss::kBce;
    for (cuda::Path path : {cuda::Path::kFused, cuda::Path::kUnfused}) {
      SCOPED_TRACE(describe(cfg) + (path == cuda::Path::kFused ? " fused" : " unfused"));
      auto cpu = make_backend(Device::kCpu);
      CudaBackend gpu(path);
      Model mc = make_model(cfg, 5, AdamConfig{0.01f}), mg = mc;
      const TrainOptions opt{.epochs = 3, .batch_size = 4, .seed = 2};
      const TrainHistory hc = fit(*cpu, mc, d.train, opt);
      const TrainHistory hg = fit(gpu, mg, d.train, opt);
      for (int e = 0; e < 3; ++e) {
        EXPECT_NEAR(hg.epoch_loss[e], hc.epoch_loss[e], 1e-4 * (1 + std::fabs(hc.epoch_loss[e])))
            << "epoch " << e + 1;
      }
      EXPECT_TRUE(all_close("params after training", mg.params, mc.params, 1e-4, 1e-3));
    }
  }
}

// What the GPU cannot take is refused by name before anything runs.
TEST(CudaSequence, WideBidirectionalModelsAreRefusedByName) {
  SKIP_WITHOUT_GPU();
  ModelConfig cfg;
  cfg.hidden_size = 600;
  cfg.bidirectional = true;
  try {
    cuda::Handle h(cfg);
    FAIL() << "C = 1200 was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("C = 1200"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rnnattn
