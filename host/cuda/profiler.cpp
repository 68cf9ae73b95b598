// The per-kernel profiler (profiler.hpp). GPU: one event pair per launch, read after a device
// synchronisation. Simulator: the simulator's per-launch counters through its launch observer.
#include "cuda/profiler.hpp"

#include <algorithm>
#include <map>
#include <memory>

#include "kernels/cuda_utils.hpp"
#include "kernels/launch_hooks.hpp"
#include "rnnattn/error.hpp"

#ifdef RNNATTN_GPU_SIMULATOR
#include "rnnattn_sim/sim.hpp"
#endif

namespace rnnattn::cuda {

double KernelProfile::global_load_efficiency() const {
  return global_load_sectors ? static_cast<double>(global_load_bytes) / (32.0 * global_load_sectors)
                             : 0.0;
}
double KernelProfile::global_store_efficiency() const {
  return global_store_sectors
             ? static_cast<double>(global_store_bytes) / (32.0 * global_store_sectors)
             : 0.0;
}
double KernelProfile::shared_wavefronts_per_request() const {
  return shared_requests ? static_cast<double>(shared_wavefronts) / shared_requests : 0.0;
}
double KernelProfile::shared_wavefronts_per_ideal() const {
  return shared_ideal_wavefronts ? static_cast<double>(shared_wavefronts) / shared_ideal_wavefronts
                                 : 0.0;
}

struct Profiler::Impl {
  std::vector<KernelProfile> kernels;
  std::map<std::string, std::size_t> index;
  struct Timed {
    std::size_t kernel;
    cudaEvent_t start, stop;
  };
  std::vector<Timed> timed;
  KernelProfile& entry(const std::string& name) {
    auto it = index.find(name);
    if (it != index.end()) return kernels[it->second];
    index[name] = kernels.size();
    kernels.push_back(KernelProfile{name});
    return kernels.back();
  }
  ~Impl() {
    for (Timed& t : timed) {
      cudaEventDestroy(t.start);
      cudaEventDestroy(t.stop);
    }
  }
};

namespace {
Profiler::Impl* g_active = nullptr;
}  // namespace

Profiler::Profiler() : impl_(new Impl) {
  if (g_active) {
    delete impl_;
    throw Error("a profiler is already active");
  }
  g_active = impl_;
  kernels::launch_hooks() = kernels::LaunchHooks{&Profiler::before, &Profiler::after};
#ifdef RNNATTN_GPU_SIMULATOR
  sim::set_counting(true);
  sim::set_launch_observer([](const sim::LaunchStats& s) {
    if (!g_active) return;
    KernelProfile& k = g_active->entry(s.kernel);
    ++k.launches;
    k.global_load_requests += s.global_load_requests;
    k.global_load_sectors += s.global_load_sectors;
    k.global_load_bytes += s.global_load_bytes;
    k.global_store_requests += s.global_store_requests;
    k.global_store_sectors += s.global_store_sectors;
    k.global_store_bytes += s.global_store_bytes;
    k.shared_requests += s.shared_requests;
    k.shared_wavefronts += s.shared_wavefronts;
    k.shared_ideal_wavefronts += s.shared_ideal_wavefronts;
  });
#endif
}

Profiler::~Profiler() {
#ifdef RNNATTN_GPU_SIMULATOR
  sim::set_launch_observer(nullptr);
  sim::set_counting(false);
#endif
  kernels::launch_hooks() = kernels::LaunchHooks{};
  g_active = nullptr;
  delete impl_;
}

bool Profiler::simulated() {
#ifdef RNNATTN_GPU_SIMULATOR
  return true;
#else
  return false;
#endif
}

void Profiler::before(const char* name, cudaStream_t stream) {
  if (!g_active || simulated()) return;
  Impl::Timed t{};
  g_active->entry(name);
  t.kernel = g_active->index.at(name);
  RNNATTN_CUDA_CHECK(cudaEventCreate(&t.start));
  RNNATTN_CUDA_CHECK(cudaEventCreate(&t.stop));
  RNNATTN_CUDA_CHECK(cudaEventRecord(t.start, stream));
  g_active->timed.push_back(t);
}

void Profiler::after(const char* name, cudaStream_t stream) {
  if (!g_active || simulated()) return;
  (void)name;
  RNNATTN_CUDA_CHECK(cudaEventRecord(g_active->timed.back().stop, stream));
}

std::vector<KernelProfile> Profiler::results() {
  RNNATTN_CUDA_CHECK(cudaDeviceSynchronize());
  for (const Impl::Timed& t : impl_->timed) {
    float ms = 0;
    RNNATTN_CUDA_CHECK(cudaEventElapsedTime(&ms, t.start, t.stop));
    KernelProfile& k = impl_->kernels[t.kernel];
    ++k.launches;
    k.ms += ms;
  }
  for (Impl::Timed& t : impl_->timed) {
    cudaEventDestroy(t.start);
    cudaEventDestroy(t.stop);
  }
  impl_->timed.clear();
  return impl_->kernels;
}

}  // namespace rnnattn::cuda
