// rnnattn's device API from a CUDA program's point of view: the program allocates its own device
// buffers with cudaMalloc and its own stream, runs inference, a forward and backward for training
// and an Adam update there, then captures a whole training step into its own CUDA graph and
// replays it. Every result is checked against rnnattn's CPU reference. Exit status 0 when all
// agree; with no CUDA GPU it says so and exits 0 without running anything.
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "rnnattn/cuda.hpp"
#include "rnnattn/rnnattn.hpp"

#define CHECK_CUDA(call)                                                      \
  do {                                                                        \
    const cudaError_t e_ = (call);                                            \
    if (e_ != cudaSuccess) {                                                  \
      std::fprintf(stderr, "%s failed: %s\n", #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                           \
    }                                                                         \
  } while (0)

namespace {

// A device buffer of n values of T, owned by the program (freed at exit by the OS: an example).
template <typename T>
T* device(std::size_t n) {
  void* p = nullptr;
  CHECK_CUDA(cudaMalloc(&p, n * sizeof(T)));
  return static_cast<T*>(p);
}
template <typename T>
void put(T* d, const std::vector<T>& h, cudaStream_t s) {
  CHECK_CUDA(cudaMemcpyAsync(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice, s));
}
template <typename T>
std::vector<T> get(const T* d, std::size_t n, cudaStream_t s) {
  std::vector<T> h(n);
  CHECK_CUDA(cudaMemcpyAsync(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost, s));
  CHECK_CUDA(cudaStreamSynchronize(s));
  return h;
}

int failures = 0;
void compare(const char* what, const std::vector<float>& got, const std::vector<float>& want,
             double tol) {
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    worst = std::fmax(worst, std::fabs(got[i] - want[i]) / (1.0 + std::fabs(want[i])));
  }
  const bool ok = got.size() == want.size() && worst <= tol;
  std::printf("%-34s %s (worst relative difference %.2e)\n", what, ok ? "ok" : "MISMATCH", worst);
  failures += ok ? 0 : 1;
}

}  // namespace

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("device_api: no CUDA GPU on this machine; nothing run\n");
    return 0;
  }
  rnnattn::ModelConfig cfg;
  cfg.input_size = 2;
  cfg.hidden_size = 16;
  cfg.steps = 12;
  const int B = 8;
  const std::size_t P = rnnattn::ParamLayout(cfg).size(), nx = B * cfg.steps * cfg.input_size;
  const std::vector<float> params0 = rnnattn::init_parameters(cfg, 1);
  rnnattn::Rng rng(2);
  std::vector<float> hx(nx), target(B);
  for (float& v : hx) v = static_cast<float>(rng.uniform(-1, 1));
  for (float& v : target) v = static_cast<float>(rng.uniform(-0.5, 0.5));

  cudaStream_t stream = nullptr;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  rnnattn::cuda::Handle handle(cfg, stream);

  // The program's own buffers.
  float* params = device<float>(P);
  float* x = device<float>(nx);
  float* t = device<float>(B);
  float* y = device<float>(B);
  float* dy = device<float>(B);
  float* attention = device<float>(B * cfg.steps);
  float* grads = device<float>(P);
  float* m = device<float>(P);
  float* v = device<float>(P);
  std::int64_t* step = device<std::int64_t>(1);
  const std::size_t ws_bytes = handle.workspace_size(B), rs_bytes = handle.reserve_size(B);
  void* workspace = device<unsigned char>(ws_bytes);
  void* reserve = device<unsigned char>(rs_bytes);
  put(params, params0, stream);
  put(x, hx, stream);
  put(t, target, stream);
  CHECK_CUDA(cudaMemsetAsync(m, 0, P * sizeof(float), stream));
  CHECK_CUDA(cudaMemsetAsync(v, 0, P * sizeof(float), stream));
  CHECK_CUDA(cudaMemsetAsync(step, 0, sizeof(std::int64_t), stream));
  std::printf("workspace %zu bytes, reserve %zu bytes at B = %d\n", ws_bytes, rs_bytes, B);

  // 1. Inference.
  handle.forward_inference(params, x, B, y, attention, workspace, ws_bytes);
  std::vector<float> want_y(B), want_a(B * cfg.steps);
  rnnattn::reference_forward<float>(cfg, params0.data(), hx.data(), B, want_y.data(),
                                    want_a.data());
  compare("forward_inference y", get(y, B, stream), want_y, 1e-5);
  compare("forward_inference attention", get(attention, B * cfg.steps, stream), want_a, 1e-5);

  // 2. Forward for training, the MSE gradient, backward.
  handle.forward_training(params, x, B, y, nullptr, nullptr, reserve, rs_bytes, workspace,
                          ws_bytes);
  handle.loss_gradient(y, t, B, dy, nullptr);
  handle.backward(params, x, B, y, dy, reserve, rs_bytes, grads, nullptr,
                  rnnattn::cuda::GradMode::kOverwrite, workspace, ws_bytes);
  std::vector<float> want_dy(B), want_g(P);
  rnnattn::reference_loss<float>(cfg.loss, want_y.data(), target.data(), B, want_dy.data());
  rnnattn::reference_backward<float>(cfg, params0.data(), hx.data(), B, want_dy.data(),
                                     want_g.data());
  compare("backward dparams", get(grads, P, stream), want_g, 1e-4);

  // 3. A whole training step captured into the program's own graph, replayed five times.
  CHECK_CUDA(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  handle.forward_training(params, x, B, y, nullptr, nullptr, reserve, rs_bytes, workspace,
                          ws_bytes);
  handle.loss_gradient(y, t, B, dy, nullptr);
  handle.backward(params, x, B, y, dy, reserve, rs_bytes, grads, nullptr,
                  rnnattn::cuda::GradMode::kOverwrite, workspace, ws_bytes);
  handle.adam_update(rnnattn::AdamConfig{}, params, grads, m, v, step);
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  CHECK_CUDA(cudaStreamEndCapture(stream, &graph));
  CHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  for (int i = 0; i < 5; ++i) CHECK_CUDA(cudaGraphLaunch(exec, stream));

  std::vector<float> p = params0, py(B), pdy(B), pg(P);
  rnnattn::AdamState adam;
  adam.reset(P);
  for (int i = 0; i < 5; ++i) {
    rnnattn::reference_forward<float>(cfg, p.data(), hx.data(), B, py.data());
    rnnattn::reference_loss<float>(cfg.loss, py.data(), target.data(), B, pdy.data());
    rnnattn::reference_backward<float>(cfg, p.data(), hx.data(), B, pdy.data(), pg.data());
    rnnattn::adam_update(rnnattn::AdamConfig{}, adam, p.data(), pg.data(), P);
  }
  compare("5 graph-replayed Adam steps", get(params, P, stream), p, 1e-4);
  const std::int64_t steps = get(step, 1, stream)[0];
  std::printf("Adam step counter %lld\n", static_cast<long long>(steps));
  failures += steps == 5 ? 0 : 1;

  CHECK_CUDA(cudaGraphExecDestroy(exec));
  CHECK_CUDA(cudaGraphDestroy(graph));
  for (void* b : {static_cast<void*>(params), static_cast<void*>(x), static_cast<void*>(t),
                  static_cast<void*>(y), static_cast<void*>(dy), static_cast<void*>(attention),
                  static_cast<void*>(grads), static_cast<void*>(m), static_cast<void*>(v),
                  static_cast<void*>(step), workspace, reserve}) {
    CHECK_CUDA(cudaFree(b));
  }
  CHECK_CUDA(cudaStreamDestroy(stream));
  std::printf("device_api: %s\n", failures ? "FAILED" : "all results match the CPU reference");
  return failures ? 1 : 0;
}
