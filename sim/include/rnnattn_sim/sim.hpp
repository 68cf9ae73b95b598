// rnnattn GPU simulator, host side: kernel launches, host operations on streams (the simulated
// cuBLAS and CUB), checks of library accesses to device memory, per-launch counters, and the
// controls the simulator's own tests use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cuda_runtime_api.h"

namespace rnnattn::sim {

struct LaunchConfig {
  const char* name;  // the kernel's name, used in every message and in the counters
  const void* func;  // the kernel's address (for cudaFuncSetAttribute limits)
  dim3 grid;
  dim3 block;
  std::size_t dynamic_smem;
  cudaStream_t stream;
  bool cooperative;  // all blocks co-resident; cooperative_groups::this_grid().sync() allowed
  // Blocks per thread-block cluster along x (sm_90; 0: a launch without clusters). The blocks of
  // a cluster are resident together and may use cooperative_groups::this_cluster(): its
  // cluster.sync() and each other's shared memory (map_shared_rank).
  unsigned cluster = 0;
};

// Validates the configuration (as the driver would: block size, shared memory limits, the
// cooperative grid fitting on the device) and enqueues the launch on its stream; `body` runs once
// per simulated thread. Configuration errors are returned (and kept for cudaGetLastError); errors
// raised while the kernel runs are sticky and surface at the next synchronising call.
cudaError_t launch(const LaunchConfig& config, std::function<void()> body);
// Clusters of `cluster` blocks of `threads` threads with `dynamic_smem` bytes each that the
// simulated device holds at once (cudaOccupancyMaxActiveClusters): the blocks an SM holds of
// `func` (its registers and static shared memory from the resource table), summed over the
// device's GPCs (a cluster lies within one); 0 where one cluster does not fit, the size is above
// 8 (16 with cudaFuncAttributeNonPortableClusterSizeAllowed) or the device has no clusters.
int max_active_clusters(const void* func, int cluster, int threads, std::size_t dynamic_smem);

// Kernel identity: the kernel launch helpers (kernels/cuda_compat.cuh) register each kernel's
// address with its signature (as c++filt prints the nvcc build's symbol, return type dropped),
// computed from the mangled name of a tag type that holds the kernel: signature_from_tag. The
// resource table (sim/kernel_resources.tsv) gives the library's kernels their registers and
// static shared memory; a library kernel missing from it cannot be launched. Tests declare the
// resources of their own kernels (or of a stand-in) with declare_kernel_resources.
std::string signature_from_tag(const char* tag_type_name);
void register_kernel(const void* func, const std::string& signature);
void declare_kernel_resources(const void* func, int registers, std::size_t static_smem);
// Every kernel signature in the resource table (the library's kernels as the nvcc build has them).
std::vector<std::string> table_signatures();

// The simulated device's layout (SM count, GPCs, clusters): RNNATTN_SIM_DEVICE names it for a
// whole program (default "h100-sxm"); set_device_layout overrides it ("" returns to the
// environment's) and returns false for an unknown name. device_layouts() lists the names.
bool set_device_layout(const std::string& name);
std::vector<std::string> device_layouts();
std::string device_description();

// Enqueues work done by a simulated library (cuBLAS, CUB) on `stream` (captured into a graph when
// the stream is capturing). `what` names it in messages.
cudaError_t enqueue_host_op(cudaStream_t stream, const char* what, std::function<void()> op);

// Checks a library's access to [p, p + bytes) as the hardware would fault: the range must lie in
// one live device allocation; a read must find every byte written before. On failure the
// operation's error becomes the sticky error; returns false so the caller can stop.
bool check_library_access(const void* p, std::size_t bytes, bool write, const char* what);
bool is_device_pointer(const void* p);

// Per-launch counters (as Nsight Compute defines them; see docs/simulator.md). Counting costs
// time: it is on when RNNATTN_SIM_STATS names a file (one JSON object per launch is appended) or
// after set_counting(true).
struct LaunchStats {
  std::string kernel;
  std::string signature;  // the kernel's, as registered (sim/kernel_resources.tsv's key)
  dim3 grid, block;
  std::size_t dynamic_smem_bytes = 0;
  // Rounds of resident blocks the grid takes on the simulated device (clusters for a launch in
  // clusters): 1 where every block (cluster) is resident at once.
  std::uint64_t waves = 0;
  std::uint64_t barriers = 0;
  std::uint64_t global_load_requests = 0, global_load_sectors = 0, global_load_bytes = 0;
  std::uint64_t global_store_requests = 0, global_store_sectors = 0, global_store_bytes = 0;
  std::uint64_t shared_requests = 0, shared_wavefronts = 0;
  // The least wavefronts those requests could take: a request's distinct words over 32 banks
  // (one for a broadcast; 4 for a warp's 16-byte accesses of 512 different bytes), so that
  // wavefronts / ideal is 1 without bank conflicts whatever the access width.
  std::uint64_t shared_ideal_wavefronts = 0;
};
void set_counting(bool on);

// The schedule: the order in which blocks (one after another) and the warps of the resident
// blocks (between barriers) run: "index", "reverse", "shuffle" or "shuffle:SEED" (a new order
// for every launch and every pass, reproducible from the seed). RNNATTN_SIM_ORDER sets it for a
// whole program; set_schedule overrides it ("" returns to the environment's) and returns false
// for an unknown order. schedule() names the one in force (read at the last launch).
bool set_schedule(const std::string& order);
std::string schedule();
// Called after every finished launch, e.g. by `rnnattn profile`; the counters are zero unless
// counting is on (the kernel, its signature, grid, block and shared memory always hold).
void set_launch_observer(std::function<void(const LaunchStats&)> observer);

// Devices the simulator presents (1 by default; all alike, one address space): for tests of
// per-device state such as kernel attributes.
void set_device_count(int n);
// Makes every cooperative launch fail with cudaErrorCooperativeLaunchTooLarge although the grid
// fits, as a GPU can under MPS thread limits, green contexts or another carve-out.
void set_refuse_cooperative(bool refuse);

// cuBLAS calls made on a handle without a workspace of the caller's (none given, or reset by
// cublasSetStream, as cuBLAS does): each may allocate from cuBLAS's default pool.
std::uint64_t cublas_default_workspace_calls();

// The message of the last violation a kernel or library call raised ("" if none).
std::string last_violation();
// Forgets the sticky error (the simulator's own tests provoke errors on purpose).
void clear_sticky_error();

}  // namespace rnnattn::sim
