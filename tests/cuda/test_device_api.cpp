// The device API (include/rnnattn/cuda.hpp) beyond the sweep in test_gpu_recurrence.cpp: its
// contracts (sizes, argument errors), a training step captured into the caller's own CUDA graph
// (which also proves that no call allocates or synchronises: a thread-local capture forbids both),
// and a caller-supplied cuBLAS handle. Every test skips where no GPU exists (and runs in the
// simulator build).
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>

#include "cuda/cuda_test_util.hpp"
#include "kernels/cuda_utils.hpp"
#include "rnnattn/cuda.hpp"
#include "rnnattn/rnnattn.hpp"
#include "test_util.hpp"

namespace rnnattn {
namespace {

using test::all_close;
using test::random_vector;

using test::to_device;
using test::to_host;

ModelConfig small_config() {
  ModelConfig c;
  c.input_size = 3;
  c.hidden_size = 9;
  c.steps = 7;
  c.output_size = 2;
  return c;
}

void expect_invalid(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "accepted";
  } catch (const InvalidArgument& e) {
    for (const auto& frag : fragments) {
      EXPECT_NE(std::string(e.what()).find(frag), std::string::npos) << e.what();
    }
  }
}

TEST(DeviceApi, SizesAndArgumentErrors) {
  SKIP_WITHOUT_GPU();
  CudaStream stream;
  const ModelConfig cfg = small_config();
  cuda::Handle h(cfg, stream.get());
  EXPECT_EQ(h.parameter_count(), ParamLayout(cfg).size());
  const int B = 5;
  const std::size_t ws = h.workspace_size(B), rs = h.reserve_size(B);
  EXPECT_GT(ws, 0u);
  EXPECT_GE(rs, sizeof(float) * B * cfg.steps * cfg.hidden_size);  // the hidden states at least
  EXPECT_LE(h.workspace_size(B, cuda::Pass::kInference), ws);

  // Inference on the fused path holds the input projection of every step, B T H floats, and
  // nothing else that grows with T, whichever design runs (H = 9: segment; H = 256 at B = 5:
  // cluster where the device has clusters, and forced to segment).
  for (int hidden : {9, 256}) {
    for (bool segment : {false, true}) {
      ModelConfig a = cfg, b = cfg;
      a.hidden_size = b.hidden_size = hidden;
      a.steps = 3;
      b.steps = 3000;
      cuda::Handle ha(a, stream.get()), hb(b, stream.get());
      if (segment) {
        ha.set_recurrence(cuda::Recurrence::kSegment);
        hb.set_recurrence(cuda::Recurrence::kSegment);
      }
      const std::size_t wa = ha.workspace_size(B, cuda::Pass::kInference),
                        wb = hb.workspace_size(B, cuda::Pass::kInference);
      SCOPED_TRACE("H = " + std::to_string(hidden) + (segment ? ", segment" : ""));
      const std::size_t grown = sizeof(float) * B * (b.steps - a.steps) * hidden;
      EXPECT_GE(wb - wa, grown);
      EXPECT_LE(wb - wa, grown + 256);  // alignment
    }
  }

  const auto p = to_device(init_parameters(cfg, 1), stream.get());
  const auto x = to_device(random_vector<float>(B * 7 * 3, 2), stream.get());
  DeviceBuffer<float> y(B * 2), g(p.size());
  DeviceBuffer<unsigned char> work(ws), reserve(rs);
  expect_invalid(
      [&] {
        h.forward_training(p.get(), x.get(), B, y.get(), nullptr, nullptr, reserve.get(), rs,
                           work.get(), ws - 1);
      },
      {"forward_training", "workspace of", "needs " + std::to_string(ws), "workspace_size"});
  expect_invalid(
      [&] {
        h.forward_training(p.get(), x.get(), B, y.get(), nullptr, nullptr, nullptr, rs, work.get(),
                           ws);
      },
      {"forward_training", "reserve is null"});
  expect_invalid(
      [&] { h.forward_inference(p.get(), x.get(), B, y.get(), nullptr, work.get() + 4, ws - 4); },
      {"forward_inference", "aligned to 256 bytes"});
  expect_invalid(
      [&] { h.forward_inference(p.get(), x.get(), 0, y.get(), nullptr, work.get(), ws); },
      {"batch (B) must be >= 1"});
  expect_invalid(
      [&] {
        h.backward(p.get(), x.get(), B, y.get(), nullptr, reserve.get(), rs, g.get(), nullptr,
                   cuda::GradMode::kOverwrite, work.get(), ws);
      },
      {"dy [B,O] is null"});
  ModelConfig wide = cfg;
  wide.hidden_size = 1025;
  expect_invalid([&] { cuda::Handle(wide, stream.get()); }, {"H <= 1024"});
}

// The caller's training step (forward, loss, backward, Adam) captured into the caller's own graph
// and replayed matches the same steps run eagerly, and the CPU reference + CPU Adam.
TEST(DeviceApi, TrainingStepInTheCallersGraph) {
  SKIP_WITHOUT_GPU();
  const ModelConfig cfg = small_config();
  const int B = 6, steps = 4;
  const std::vector<float> p0 = init_parameters(cfg, 3);
  const std::vector<float> hx = random_vector<float>(B * 7 * 3, 4);
  const std::vector<float> ht = random_vector<float>(B * 2, 5);

  auto run = [&](bool captured) {
    CudaStream stream;
    const cudaStream_t s = stream.get();
    cuda::Handle h(cfg, s);
    auto params = to_device(p0, s), x = to_device(hx, s), target = to_device(ht, s);
    auto m = to_device(std::vector<float>(p0.size(), 0.f), s);
    auto v = to_device(std::vector<float>(p0.size(), 0.f), s);
    DeviceBuffer<float> y(B * 2), dy(B * 2), grads(p0.size());
    DeviceBuffer<std::int64_t> step(1);
    DeviceBuffer<double> loss(1);
    DeviceBuffer<unsigned char> work(h.workspace_size(B)), reserve(h.reserve_size(B));
    RNNATTN_CUDA_CHECK(cudaMemsetAsync(step.get(), 0, sizeof(std::int64_t), s));
    RNNATTN_CUDA_CHECK(cudaMemsetAsync(loss.get(), 0, sizeof(double), s));
    RNNATTN_CUDA_CHECK(cudaStreamSynchronize(s));
    auto one_step = [&] {
      h.forward_training(params.get(), x.get(), B, y.get(), nullptr, nullptr, reserve.get(),
                         reserve.size(), work.get(), work.size());
      h.loss_gradient(y.get(), target.get(), B, dy.get(), loss.get());
      h.backward(params.get(), x.get(), B, y.get(), dy.get(), reserve.get(), reserve.size(),
                 grads.get(), nullptr, cuda::GradMode::kOverwrite, work.get(), work.size());
      h.adam_update(AdamConfig{}, params.get(), grads.get(), m.get(), v.get(), step.get());
    };
    if (captured) {
      RNNATTN_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
      one_step();
      CudaGraphExec graph;
      graph.end_capture(s);
      for (int i = 0; i < steps; ++i) graph.launch(s);
    } else {
      for (int i = 0; i < steps; ++i) one_step();
    }
    return std::make_pair(to_host(params, s), to_host(step, s)[0]);
  };
  const auto [eager, eager_steps] = run(false);
  const auto [graphed, graphed_steps] = run(true);
  EXPECT_EQ(eager_steps, steps);
  EXPECT_EQ(graphed_steps, steps);
  EXPECT_EQ(eager, graphed);  // the same work in the same order: the same bits

  // The CPU: reference forward, MSE gradient, reference backward, Adam.
  std::vector<float> p = p0, y(B * 2), dy(B * 2), g(p0.size());
  AdamState st;
  st.reset(p.size());
  for (int i = 0; i < steps; ++i) {
    reference_forward<float>(cfg, p.data(), hx.data(), B, y.data());
    reference_loss<float>(Loss::kMse, y.data(), ht.data(), B * 2, dy.data());
    reference_backward<float>(cfg, p.data(), hx.data(), B, dy.data(), g.data());
    adam_update(AdamConfig{}, st, p.data(), g.data(), p.size());
  }
  EXPECT_TRUE(all_close("params after 4 Adam steps", graphed, p, 1e-5, 1e-4));
}

// The Adam kernel against the CPU Adam over 60 steps, each with fresh gradients (some zero, some
// large, both signs), compared after every step: params, m, v and the step counter. The first
// steps are where bias correction matters most (at t = 1 the step is lr * g / (|g| + eps) in
// effect, sqrt(1 - b2) / (1 - b1) = 0.316 times the uncorrected one), so an error in it shows
// there; b1 = 0.8, b2 = 0.95 make the correction move over the run. P = 1041 (several blocks, a
// partial last one). Tolerance: 2e-6 relative + 1e-7 absolute per element (the GPU and the
// host may round sqrt, pow and the division differently by an ulp or two per step).
TEST(DeviceApi, AdamKernelFollowsTheCpuAdamStepByStep) {
  SKIP_WITHOUT_GPU();
  CudaStream stream;
  const cudaStream_t s = stream.get();
  ModelConfig cfg;
  cfg.hidden_size = 30;
  cuda::Handle h(cfg, s);
  const std::size_t n = h.parameter_count();  // 1041 = D H + H H + 3 H + T + H O + O
  ASSERT_EQ(n, 1041u);
  const AdamConfig adam{0.01f, 0.8f, 0.95f, 1e-7f};
  std::vector<float> p = random_vector<float>(n, 31);
  AdamState st;
  st.reset(n);
  auto params = to_device(p, s);
  auto m = to_device(std::vector<float>(n, 0.f), s), v = to_device(std::vector<float>(n, 0.f), s);
  DeviceBuffer<std::int64_t> step(1);
  RNNATTN_CUDA_CHECK(cudaMemsetAsync(step.get(), 0, sizeof(std::int64_t), s));
  for (int t = 1; t <= 60; ++t) {
    std::vector<float> g = random_vector<float>(n, 100 + t, -1.0, 1.0);
    for (std::size_t i = 0; i < n; i += 7) g[i] = 0.f;
    for (std::size_t i = 3; i < n; i += 11) g[i] *= 1e3f;
    auto dg = to_device(g, s);
    h.adam_update(adam, params.get(), dg.get(), m.get(), v.get(), step.get());
    adam_update(adam, st, p.data(), g.data(), n);
    SCOPED_TRACE("step " + std::to_string(t));
    ASSERT_EQ(to_host(step, s)[0], t);
    ASSERT_TRUE(all_close("m", to_host(m, s), st.m, 1e-7, 2e-6));
    ASSERT_TRUE(all_close("v", to_host(v, s), st.v, 1e-7, 2e-6));
    ASSERT_TRUE(all_close("params", to_host(params, s), p, 1e-7, 2e-6));
  }
}

// Inference forms the input projection of every step with one GEMM before the recurrence on every
// design, in one workspace whose size does not depend on the design: each matches the CPU
// reference, with and without lengths.
TEST(DeviceApi, InferenceRunsEveryDesignInOneWorkspace) {
  SKIP_WITHOUT_GPU();
  CudaStream stream;
  const cudaStream_t s = stream.get();
  ModelConfig cfg;
  cfg.input_size = 5;
  cfg.hidden_size = 40;
  cfg.steps = 6;
  cfg.output_size = 2;
  const int B = 7;
  const std::vector<float> hp = init_parameters(cfg, 11);
  const std::vector<float> hx = random_vector<float>(B * cfg.steps * cfg.input_size, 12);
  const std::vector<int> hl = {6, 1, 3, 6, 2, 5, 4};
  const auto p = to_device(hp, s), x = to_device(hx, s);
  const auto lengths = to_device(hl, s);
  cuda::Handle sized(cfg, s);
  const std::size_t bytes = sized.workspace_size(B, cuda::Pass::kInference);
  EXPECT_GE(bytes, sizeof(float) * B * cfg.steps * cfg.hidden_size);
  for (auto rec :
       {cuda::Recurrence::kSegment, cuda::Recurrence::kPersistent, cuda::Recurrence::kCluster}) {
    if (test::design_run_for(rec) != rec) continue;  // no clusters on this device
    cuda::Handle h(cfg, s);
    h.set_recurrence(rec);
    ASSERT_EQ(h.recurrence_for(B), rec);
    EXPECT_EQ(h.workspace_size(B, cuda::Pass::kInference), bytes);
    for (bool with_lengths : {false, true}) {
      SCOPED_TRACE(std::string(rec == cuda::Recurrence::kCluster      ? "cluster"
                               : rec == cuda::Recurrence::kPersistent ? "persistent"
                                                                      : "segment") +
                   (with_lengths ? ", lengths" : ""));
      std::vector<float> want(B * 2), want_a(B * cfg.steps);
      reference_forward<float>(cfg, hp.data(), hx.data(), B, want.data(), want_a.data(), nullptr,
                               nullptr, with_lengths ? hl.data() : nullptr);
      DeviceBuffer<float> y = test::poisoned(B * 2, s), a = test::poisoned(B * cfg.steps, s);
      DeviceBuffer<unsigned char> work(bytes);
      h.forward_inference(p.get(), x.get(), B, y.get(), a.get(), work.get(), bytes,
                          with_lengths ? lengths.get() : nullptr);
      EXPECT_TRUE(all_close("y", to_host(y, s), want, 1e-5, 1e-5));
      EXPECT_TRUE(all_close("attention", to_host(a, s), want_a, 1e-5, 1e-5));
    }
  }
}

// A caller's cuBLAS handle: the handle sets its stream and leaves the rest to the caller.
TEST(DeviceApi, CallersCublasHandle) {
  SKIP_WITHOUT_GPU();
  CudaStream stream;
  CublasHandle cublas;
  const ModelConfig cfg = small_config();
  cuda::Handle h(cfg, stream.get(), cublas.get(), cuda::Path::kUnfused);
  EXPECT_EQ(h.path(), cuda::Path::kUnfused);
  const int B = 3;
  const std::vector<float> hp = init_parameters(cfg, 8), hx = random_vector<float>(B * 21, 9);
  auto p = to_device(hp, stream.get()), x = to_device(hx, stream.get());
  DeviceBuffer<float> y(B * 2), a(B * 7);
  DeviceBuffer<unsigned char> work(h.workspace_size(B, cuda::Pass::kInference));
  h.forward_inference(p.get(), x.get(), B, y.get(), a.get(), work.get(), work.size());
  std::vector<float> want(B * 2), want_a(B * 7);
  reference_forward<float>(cfg, hp.data(), hx.data(), B, want.data(), want_a.data());
  EXPECT_TRUE(all_close("y", to_host(y, stream.get()), want, 1e-5, 1e-5));
  EXPECT_TRUE(all_close("attention", to_host(a, stream.get()), want_a, 1e-5, 1e-5));
  cudaStream_t bound = nullptr;
  RNNATTN_CUBLAS_CHECK(cublasGetStream(cublas.get(), &bound));
  EXPECT_EQ(bound, stream.get());
}

}  // namespace
}  // namespace rnnattn
