// The simulator tests' fixture (simulator build only): a non-blocking stream, uploads and
// downloads on it, a check that a planted bug is caught with the fragments its message must hold,
// and one training pass through the device API with the kernels it launched recorded. TearDown
// puts back whatever a test changed of the simulator's settings.
#pragma once

#include <cublas_v2.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "cuda/backend_cuda.hpp"
#include "cuda/plan.hpp"
#include "kernels/cuda_utils.hpp"
#include "kernels/kernels.hpp"
#include "rnnattn/cuda.hpp"
#include "rnnattn/rnnattn.hpp"
#include "rnnattn_sim/sim.hpp"
#include "test_util.hpp"

namespace rnnattn::sim_test {

// One forward_training and backward through the device API; returns y and the gradient, and the
// kernels that ran.
struct PassResult {
  std::vector<float> y, grad;
  std::vector<std::string> kernels;
  std::vector<std::size_t> persistent_smem;  // dynamic shared memory of persistent launches
};

class Simulator : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::clear_sticky_error();
    RNNATTN_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking));
  }
  void TearDown() override {
    // Whatever a failed test left set: no observer of a finished test's locals, the
    // environment's schedule, one device, cooperative launches allowed.
    sim::set_launch_observer(nullptr);
    sim::set_counting(false);
    sim::set_schedule("");
    sim::set_refuse_cooperative(false);
    sim::set_device_layout("");
    (void)cudaSetDevice(0);
    sim::set_device_count(1);
    sim::clear_sticky_error();
    cudaStreamDestroy(s_);
  }
  DeviceBuffer<float> upload(const std::vector<float>& h) {
    DeviceBuffer<float> d(h.size(), "test input");
    RNNATTN_CUDA_CHECK(
        cudaMemcpyAsync(d.get(), h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice, s_));
    return d;
  }
  std::vector<float> download(const DeviceBuffer<float>& d) {
    std::vector<float> h(d.size());
    RNNATTN_CUDA_CHECK(
        cudaMemcpyAsync(h.data(), d.get(), d.size() * sizeof(float), cudaMemcpyDeviceToHost, s_));
    return h;
  }
  // Runs `work`, expects the stream to fail with a violation whose message holds every fragment,
  // and clears the (sticky) error. Prints the message: it is the evidence.
  void expect_caught(const std::function<void()>& work, const std::vector<std::string>& fragments) {
    try {
      work();
      const cudaError_t e = cudaStreamSynchronize(s_);
      EXPECT_NE(e, cudaSuccess) << "the planted bug was not caught";
    } catch (const CudaError&) {
    }
    const std::string msg = sim::last_violation();
    std::cout << "caught: " << msg << '\n';
    for (const std::string& f : fragments) {
      EXPECT_NE(msg.find(f), std::string::npos) << "message lacks '" << f << "': " << msg;
    }
    sim::clear_sticky_error();
  }

  PassResult run_pass(cuda::Handle& h, const ModelConfig& cfg, int batch) {
    const auto p = upload(init_parameters(cfg, 7));
    const auto x = upload(test::random_vector<float>(
        static_cast<std::size_t>(batch) * cfg.steps * cfg.input_size, 8));
    const auto dy = upload(test::random_vector<float>(batch * cfg.output_size, 9));
    DeviceBuffer<float> y(batch * cfg.output_size), g(p.size());
    DeviceBuffer<unsigned char> work(h.workspace_size(batch)), reserve(h.reserve_size(batch));
    PassResult r;
    // Uninstalled on every way out (a failing pass throws): the observer refers to `r`.
    struct ObserverGuard {
      ~ObserverGuard() {
        sim::set_counting(false);
        sim::set_launch_observer(nullptr);
      }
    } guard;
    sim::set_launch_observer([&](const sim::LaunchStats& st) {
      r.kernels.push_back(st.kernel);
      if (st.kernel.rfind("persistent_", 0) == 0)
        r.persistent_smem.push_back(st.dynamic_smem_bytes);
    });
    sim::set_counting(true);
    h.forward_training(p.get(), x.get(), batch, y.get(), nullptr, nullptr, reserve.get(),
                       reserve.size(), work.get(), work.size());
    h.backward(p.get(), x.get(), batch, y.get(), dy.get(), reserve.get(), reserve.size(), g.get(),
               nullptr, cuda::GradMode::kOverwrite, work.get(), work.size());
    RNNATTN_CUDA_CHECK(cudaStreamSynchronize(h.stream()));
    r.y = download(y);
    r.grad = download(g);
    return r;
  }
  static long count(const PassResult& r, const char* kernel) {
    return std::count(r.kernels.begin(), r.kernels.end(), kernel);
  }
  cudaStream_t s_ = nullptr;
};

}  // namespace rnnattn::sim_test
