// rnnattn GPU simulator internals shared by runtime.cpp (memory, streams, launches, the fiber
// scheduler), checks.cpp (the memory-access hooks: checks and counters) and cublas.cpp.
// None of these translation units is instrumented: only kernel code reports its accesses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda_runtime_api.h"
#include "rnnattn_sim/device.hpp"
#include "rnnattn_sim/sim.hpp"

namespace rnnattn::sim {

// What every simulated device shares: an sm_90 part (H100 or H200), whose shared memory, register
// file and thread limits are the same whatever its SM count and GPC layout (device.cpp).
constexpr std::size_t kSmemPerSm = 228 * 1024;
constexpr std::size_t kSmemPerBlockOptin = 227 * 1024;
constexpr std::size_t kSmemPerBlockDefault = 48 * 1024;
constexpr std::size_t kSmemReservedPerBlock = 1024;
constexpr int kMaxThreadsPerSm = 2048;
constexpr int kMaxBlocksPerSm = 32;
constexpr int kRegistersPerSm = 65536;
constexpr int kRegistersPerBlock = 65536;
constexpr int kRegisterAllocationUnit = 256;  // registers are given to a warp in units of 256
constexpr int kPortableClusterBlocks = 8;
constexpr int kNonPortableClusterBlocks = 16;

// The device the simulator presents (device.cpp): set by RNNATTN_SIM_DEVICE or
// set_device_layout, see sim.hpp.
struct DeviceLayout {
  const char* name;
  const char* description;
  std::vector<int> gpcs;  // SMs in each GPC: a thread-block cluster lies within one
  std::size_t global_memory;
  bool clusters;  // cudaDevAttrClusterLaunch
  int sms() const;
};
const DeviceLayout& device_layout();

// What the compiled code of a kernel needs (device.cpp): from the resource table of the nvcc build
// (sim/kernel_resources.tsv) for the library's kernels, by their signature.
struct KernelResources {
  std::string signature;  // "" where the kernel never registered
  bool listed = false;    // found in the table (or declared by a test)
  int registers = 0;      // a thread's; 0: unknown (the simulator's own tests' kernels)
  std::size_t static_smem = 0;
  std::size_t local_bytes = 0;
  bool non_portable_clusters = false;  // cudaFuncAttributeNonPortableClusterSizeAllowed
};
KernelResources& kernel_resources(const void* func);
// Why a launch of `func` with this configuration is refused, as CUDA refuses it (cudaSuccess and
// "" where it is not): block and register limits, shared memory, clusters, co-residency.
cudaError_t check_launch_rules(const LaunchConfig& c, std::size_t dynamic_limit, std::string* why);
// Blocks of `func` an SM holds at once (threads, registers, shared memory with the reserve).
int max_blocks_per_sm(const void* func, int threads, std::size_t dynamic_smem);
// Rounds of resident blocks (or clusters) a launch of this configuration takes: 1 where the whole
// grid is resident at once.
std::uint64_t launch_waves(const LaunchConfig& c);

// ---- device memory -------------------------------------------------------------------------
// ---- race detection ------------------------------------------------------------------------
// Who made an access: the operation (a kernel launch or a library call, numbered as they run,
// from 1), and inside a launch the grid-sync interval, the block's thread-block cluster and that
// cluster's cluster.sync() interval (every block of a launch without clusters is in cluster 0,
// interval 0: no cluster barrier orders anything there), the block, the block's barrier interval,
// the thread and its warp's count of completed __syncwarp rendezvous at the time.
struct Accessor {
  std::uint32_t op = 0;  // 0: nobody yet
  std::uint32_t grid = 0;
  std::uint32_t cluster = 0;
  std::uint32_t cepoch = 0;
  std::uint32_t block = 0;  // linear block index, or kLibraryBlock for library work
  std::uint32_t bepoch = 0;
  std::uint32_t tid = 0;
  std::uint32_t wstamp = 0;
};
constexpr std::uint32_t kLibraryBlock = 0xFFFFFFFFu;

// What is known of the reads of a word since its last write: who made the latest one, and how
// far the readers in that reader's interval spread.
// kSeveralBlocks: blocks of one cluster (any blocks, without clusters); kSeveralClusters: blocks of
// several clusters of one launch.
enum class ReadScope : std::uint8_t {
  kNone,
  kOneThread,
  kOneWarp,
  kOneBlock,
  kSeveralBlocks,
  kSeveralClusters
};

// The race shadow of one 4-byte word of device or shared memory.
struct Shadow {
  Accessor w;  // the last write (or atomic)
  Accessor r;  // the latest read
  // ReadScope::kOneWarp: the lanes of r's warp that read, at r's __syncwarp stamp (r.wstamp),
  // and lanes whose reads came at an earlier stamp (r_old_stamp, the latest of theirs): a lane
  // that synchronised with the earlier readers after their reads is ordered after them, whatever
  // a later reader did.
  std::uint32_t r_mask = 0;
  std::uint32_t r_old_mask = 0;
  std::uint32_t r_old_stamp = 0;
  ReadScope r_scope = ReadScope::kNone;
  bool w_atomic = false;
};

// Shadows of a range of words, allocated in chunks when first touched (most of a large
// allocation, such as cuBLAS's workspace, never is).
class ShadowMap {
 public:
  void reset(std::size_t words) {
    chunks_.clear();
    chunks_.resize((words + kChunk - 1) / kChunk);
  }
  void grow(std::size_t words) { chunks_.resize((words + kChunk - 1) / kChunk); }
  Shadow& at(std::size_t word) {
    auto& c = chunks_[word / kChunk];
    if (!c) c.reset(new Shadow[kChunk]);
    return c[word % kChunk];
  }

 private:
  static constexpr std::size_t kChunk = 256;
  std::vector<std::unique_ptr<Shadow[]>> chunks_;
};

// The operation running now (0: none) and whether an earlier one, by serial, is ordered before
// it by stream order, events or host synchronisation (runtime.cpp).
extern std::uint32_t g_current_op;
bool op_ordered_before_current(std::uint32_t earlier);
const char* op_name(std::uint32_t op);

struct Alloc {
  std::uintptr_t begin = 0;
  std::size_t size = 0;
  std::vector<std::uint8_t> written;  // one flag per byte: written since cudaMalloc
  ShadowMap shadow;                   // one per 4-byte word: the race checks
};

// The device-memory arena: one reserved range, so that "is this a device address" is two
// compares. Allocations are page aligned with an unmapped guard page after each, and addresses are
// never reused, so a stale pointer is recognised as one.
bool in_device_range(std::uintptr_t a);
Alloc* find_alloc(std::uintptr_t a);  // the live allocation holding a, or null
// A description of what lies at `a`: past the end of which allocation, in a freed one, ...
std::string describe_device_address(std::uintptr_t a, std::size_t bytes);

// ---- the running kernel ----------------------------------------------------------------------
enum class State : std::uint8_t { kRunnable, kBarrier, kWarpSync, kGridSync, kClusterSync, kDone };

// One warp-wide memory instruction as the lanes executed it: lanes are matched by the access
// site (return address in kernel code) and the how-many-th execution of that site it is for
// the lane, which is how a converged warp executes it.
struct Request {
  std::uint8_t kind;  // 0 global load, 1 global store, 2 shared
  std::vector<std::pair<std::uintptr_t, std::uint32_t>> lanes;  // address, bytes
};
struct SiteKey {
  std::uintptr_t site;
  std::uint32_t occurrence;
  bool operator==(const SiteKey& o) const { return site == o.site && occurrence == o.occurrence; }
};
struct SiteKeyHash {
  std::size_t operator()(const SiteKey& k) const {
    return std::hash<std::uintptr_t>()(k.site * 0x9E3779B97F4A7C15ull ^ k.occurrence);
  }
};

struct Block;
struct Launch;

struct ThreadState {
  ThreadIds ids;  // first member: device.hpp reads it through t_current
  Block* block = nullptr;
  Launch* launch = nullptr;
  int tid = 0;  // linear index in the block
  int lane = 0;
  int warp = 0;
  State state = State::kRunnable;
  void* sp = nullptr;  // saved stack pointer while switched out
  char* stack = nullptr;
  std::unordered_map<std::uintptr_t, std::uint32_t> site_counts;  // counting only
};

// Lanes of a warp waiting for the others that a shuffle's or __syncwarp's mask names. Lanes of
// one warp with disjoint masks (divergent branches) rendezvous separately.
struct Rendezvous {
  std::uint32_t mask = 0;
  std::uint32_t arrived = 0;
  const char* file = nullptr;
  int line = 0;
  bool is_shuffle = false;
};

struct Warp {
  std::uint32_t exists = 0;  // lanes that exist (a block's last warp may be partial)
  std::uint32_t exited = 0;
  std::vector<Rendezvous> pending;
  // __syncwarp's memory ordering: rendezvous completed so far, and for each pair of lanes the
  // number of the last one both took part in (32 x 32, allocated at the first __syncwarp).
  std::uint32_t syncs = 0;
  std::unique_ptr<std::uint32_t[]> pairs;
  std::uint32_t values[32] = {};
  int src[32] = {};
  std::uint32_t results[32] = {};
  std::unordered_map<SiteKey, Request, SiteKeyHash> requests;  // counting only
};

struct Block {
  uint3 idx{};
  std::uint32_t linear = 0;        // idx as one number
  std::uint32_t cluster = 0;       // its cluster (linear / cluster size; 0 without clusters)
  std::uint32_t cluster_rank = 0;  // its rank in the cluster (blockIdx.x % cluster size)
  // The cluster interval of the latest access to its shared memory by another block (0: none):
  // the block must not exit in that interval (its shared memory would go while in use).
  std::uint32_t remote_cepoch = 0;
  Launch* launch = nullptr;
  std::vector<ThreadState> threads;
  std::vector<Warp> warps;
  unsigned char* smem = nullptr;  // this block's slot in the shared-memory region
  std::size_t dynamic_bytes = 0;
  std::size_t total_bytes = 0;   // dynamic + static allocated so far
  std::size_t static_bytes = 0;  // the static arrays' bytes
  std::vector<std::pair<const void*, std::size_t>> static_arrays;  // tag -> offset
  ShadowMap shadow;  // one per 4-byte word: the race checks
  std::uint32_t epoch = 1;
  int arrived = 0;
  int exited = 0;
  int first_at_barrier = -1;
  const char* barrier_file = nullptr;
  int barrier_line = 0;
};

struct Launch {
  LaunchConfig config;
  std::string name;
  std::function<void()> body;
  std::vector<Block*> resident;
  bool failed = false;
  bool counting = false;
  std::uint32_t op = 0;          // the operation serial this run has
  std::uint32_t grid_epoch = 1;  // grid-sync intervals so far
  int grid_arrived = 0;
  int grid_threads = 0;
  int grid_exited = 0;
  // A launch with clusters runs one cluster at a time, all its blocks resident (in rank order
  // here), with its own cluster.sync() intervals.
  std::vector<Block*> cluster_blocks;
  std::uint32_t cluster_epoch = 0;
  int cluster_arrived = 0;
  int cluster_threads = 0;
  void* scheduler_sp = nullptr;
  LaunchStats stats;
};

bool in_shared_range(std::uintptr_t a);
// The resident block whose shared memory holds `a` (in_shared_range), or null.
Block* shared_owner(std::uintptr_t a);

// Set while a hook runs (checks.cpp); a violation leaves its hook without returning, so the
// scheduler clears it.
extern __thread bool t_in_hook;

// Stops the running kernel with a message naming kernel, block, thread and what went wrong; the
// error becomes sticky. From a kernel thread it never returns.
[[noreturn]] void kernel_violation(cudaError_t code, const std::string& what);
// A violation outside a kernel thread (a library call, the scheduler): sticky error, message.
void raise_violation(cudaError_t code, const std::string& what);
std::string thread_name(const ThreadState& t);

// Counting (checks.cpp): folds a warp's requests into the launch's counters.
void flush_requests(Launch& l, Warp& w);

// scheduler.cpp: runs a launch's grid to the end (or to its first violation); how many blocks of
// a configuration one SM holds (threads and shared memory; registers are not simulated).
void run_launch(const std::shared_ptr<Launch>& launch);

// checks.cpp: the race checks of a library operation's access to [a, a + n) of `al` (reports and
// returns false on a race).
bool check_library_races(Alloc& al, std::uintptr_t a, std::size_t n, bool write, const char* what);

// runtime.cpp: makes `code` the sticky error with `message` (unless an error is already sticky).
void set_sticky_error(cudaError_t code, const std::string& message);

}  // namespace rnnattn::sim
