// rnnattn GPU simulator: the CUDA runtime on the CPU (kernels run in scheduler.cpp).
//
// Memory: one reserved address range for device memory (page-aligned allocations, a guard page
// after each, addresses never reused, contents poisoned with 0xFF and every byte's "written" flag
// kept).
// Streams: each stream is a queue that runs only when something waits for it (a synchronising
// call, a copy to the host, an event the host waits on, an operation that depends on it), in
// order, with the legacy default stream's implicit synchronisation with blocking streams. So work
// that the host code forgot to order runs in the wrong order here, as it may on a GPU.
// Graphs: a capturing stream records its operations; a launched graph enqueues them in order.
// Launches are checked against the simulated H100's limits here, then enqueued.
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>

#include "internal.hpp"

namespace rnnattn::sim {

namespace {

std::recursive_mutex g_mutex;  // one host thread in the simulator at a time
using Lock = std::lock_guard<std::recursive_mutex>;

// ---- errors ----------------------------------------------------------------------------------
cudaError_t g_last_error = cudaSuccess;    // non-sticky, cleared by cudaGetLastError
cudaError_t g_sticky_error = cudaSuccess;  // raised by a kernel or a library call
std::string g_violation;                   // its message
std::map<int, std::string> g_error_text;   // what cudaGetErrorString returns, with details

cudaError_t set_error(cudaError_t e, const std::string& detail = {}) {
  if (e != cudaSuccess) {
    g_last_error = e;
    if (!detail.empty()) g_error_text[e] = detail;
  }
  return e;
}

// Every API call: a sticky error is returned from then on, as on a GPU.
#define RNNATTN_SIM_STICKY()                                  \
  do {                                                        \
    if (g_sticky_error != cudaSuccess) return g_sticky_error; \
  } while (0)

// ---- device memory arena -----------------------------------------------------------------------
constexpr std::size_t kPage = 4096;
constexpr std::size_t kDeviceReserve = 1ull << 40;  // address space only

std::uintptr_t g_device_base = 0, g_device_next = 0;
std::map<std::uintptr_t, Alloc> g_live;
std::map<std::uintptr_t, std::size_t> g_freed;

std::uintptr_t align_up(std::uintptr_t v, std::size_t a) { return (v + a - 1) / a * a; }

void init_arenas() {
  if (g_device_base) return;
  void* d = ::mmap(nullptr, kDeviceReserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
  if (d == MAP_FAILED) {
    std::fprintf(stderr, "rnnattn-sim: cannot reserve address space for the simulated GPU\n");
    std::abort();
  }
  g_device_base = g_device_next = reinterpret_cast<std::uintptr_t>(d);
}

// ---- streams, events, graphs -------------------------------------------------------------------
// Happens-before between operations, for the race checks: a vector clock (stream id -> the
// last sequence number of that stream known to come before) per operation, built when it is
// enqueued from its stream's previous operation, the events it waits for, the legacy stream's
// implicit synchronisation and what the host has waited for.
using Clock = std::vector<std::pair<std::uint32_t, std::uint64_t>>;  // sorted by stream id

void join(Clock& into, const Clock& other) {
  Clock out;
  out.reserve(into.size() + other.size());
  Clock::const_iterator a = into.cbegin(), b = other.cbegin();
  while (a != into.cend() || b != other.cend()) {
    if (b == other.cend() || (a != into.cend() && a->first < b->first)) {
      out.push_back(*a++);
    } else if (a == into.cend() || b->first < a->first) {
      out.push_back(*b++);
    } else {
      out.emplace_back(a->first, std::max(a->second, b->second));
      ++a;
      ++b;
    }
  }
  into.swap(out);
}
void set_entry(Clock& c, std::uint32_t id, std::uint64_t seq) {
  auto it = std::lower_bound(c.begin(), c.end(), std::make_pair(id, std::uint64_t{0}));
  if (it != c.end() && it->first == id) {
    it->second = std::max(it->second, seq);
  } else {
    c.insert(it, {id, seq});
  }
}
std::uint64_t entry(const Clock& c, std::uint32_t id) {
  auto it = std::lower_bound(c.begin(), c.end(), std::make_pair(id, std::uint64_t{0}));
  return it != c.end() && it->first == id ? it->second : 0;
}

struct Op {
  std::uint64_t seq = 0;
  std::uint64_t enq = 0;  // global enqueue count when it was enqueued
  const char* name = "";
  std::shared_ptr<const Clock> clock;
  std::vector<std::pair<CUstream_st*, std::uint64_t>> deps;
  std::function<void()> fn;
};

struct GraphNode {
  const char* name;
  std::function<void()> fn;
};

}  // namespace
}  // namespace rnnattn::sim

struct CUgraph_st {
  std::vector<rnnattn::sim::GraphNode> nodes;
};
struct CUgraphExec_st {
  std::vector<rnnattn::sim::GraphNode> nodes;
};
struct CUstream_st {
  unsigned flags = 0;
  bool legacy = false;
  std::uint32_t id = 0;  // for the clocks: 0 the legacy stream, then 1, 2, ... never reused
  std::shared_ptr<const rnnattn::sim::Clock> clock = std::make_shared<rnnattn::sim::Clock>();
  std::deque<rnnattn::sim::Op> queue;
  std::uint64_t enqueued = 0, completed = 0;
  CUgraph_st* capture = nullptr;
  cudaStreamCaptureMode capture_mode = cudaStreamCaptureModeGlobal;
  bool capture_invalidated = false;
};
struct CUevent_st {
  CUstream_st* stream = nullptr;
  std::uint64_t seq = 0;
  std::shared_ptr<const rnnattn::sim::Clock> clock;
  bool recorded = false;
  std::chrono::steady_clock::time_point when{};
};
struct cublasContext;

namespace rnnattn::sim {
namespace {

CUstream_st make_legacy_stream() {
  CUstream_st s;
  s.legacy = true;
  return s;
}
CUstream_st g_legacy_stream = make_legacy_stream();
std::set<CUstream_st*> g_streams;  // created streams
std::uint32_t g_next_stream_id = 1;
thread_local int t_strict_captures = 0;  // this thread's non-relaxed captures

// What the host has waited for: every operation enqueued later comes after it.
Clock g_host_clock;
std::uint64_t g_enqueued = 0;  // operations enqueued, all streams
// Destroyed streams: id -> g_enqueued at the destruction (their work had completed and the host
// had waited for it, so operations enqueued later come after all of it).
std::map<std::uint32_t, std::uint64_t> g_retired;

// The operations that have run, by serial - 1: their stream, sequence number and name.
struct OpRecord {
  std::uint32_t stream;
  std::uint64_t seq;
  const char* name;
};
std::vector<OpRecord> g_ops;
const Op* g_running = nullptr;  // the operation running now

CUstream_st* stream_of(cudaStream_t s) { return s ? s : &g_legacy_stream; }

void host_waited_for(const Clock& c) { join(g_host_clock, c); }

void flush(CUstream_st* s, std::uint64_t upto = UINT64_MAX) {
  while (!s->queue.empty() && s->queue.front().seq <= upto) {
    Op op = std::move(s->queue.front());
    s->queue.pop_front();
    for (auto& [dep, seq] : op.deps) flush(dep, seq);
    if (g_sticky_error == cudaSuccess) {
      g_ops.push_back({s->id, op.seq, op.name});
      const std::uint32_t outer_op = g_current_op;
      const Op* outer = g_running;
      g_current_op = static_cast<std::uint32_t>(g_ops.size());
      g_running = &op;
      op.fn();
      g_current_op = outer_op;
      g_running = outer;
    }
    s->completed = op.seq;
  }
}

// Runs everything queued; the host has then waited for all of it.
void flush_all() {
  flush(&g_legacy_stream);
  for (CUstream_st* s : g_streams) flush(s);
  host_waited_for(*g_legacy_stream.clock);
  for (CUstream_st* s : g_streams) host_waited_for(*s->clock);
}

// Enqueues (or records, while capturing) an operation; returns the sequence number it got.
// `after`: the clock of an event it waits for, if any.
std::uint64_t enqueue(CUstream_st* s, const char* name, std::function<void()> fn,
                      const Clock* after = nullptr) {
  if (s->capture) {
    s->capture->nodes.push_back({name, std::move(fn)});
    return 0;
  }
  Op op;
  op.seq = ++s->enqueued;
  op.enq = ++g_enqueued;
  op.name = name;
  op.fn = std::move(fn);
  Clock clock = *s->clock;
  join(clock, g_host_clock);
  if (after) join(clock, *after);
  if (s->legacy) {
    for (CUstream_st* b : g_streams) {
      if (b->flags & cudaStreamNonBlocking) continue;
      join(clock, *b->clock);
      if (b->enqueued > b->completed) op.deps.emplace_back(b, b->enqueued);
    }
  } else if (!(s->flags & cudaStreamNonBlocking)) {
    join(clock, *g_legacy_stream.clock);
    if (g_legacy_stream.enqueued > g_legacy_stream.completed) {
      op.deps.emplace_back(&g_legacy_stream, g_legacy_stream.enqueued);
    }
  }
  set_entry(clock, s->id, op.seq);
  op.clock = s->clock = std::make_shared<const Clock>(std::move(clock));
  s->queue.push_back(std::move(op));
  return s->enqueued;
}

// A call that must not happen while this thread captures a graph in global or thread-local mode
// (it would synchronise or allocate): the capture is invalidated, as CUDA does.
bool forbidden_during_capture(const char* call) {
  if (t_strict_captures == 0) return false;
  for (CUstream_st* s : g_streams) {
    if (s->capture && s->capture_mode != cudaStreamCaptureModeRelaxed)
      s->capture_invalidated = true;
  }
  set_error(cudaErrorStreamCaptureUnsupported,
            std::string(call) + " is not allowed while this thread captures a CUDA graph");
  return true;
}

bool validate_stream(cudaStream_t s) { return !s || g_streams.count(s) != 0; }

// Devices: one unless a test asks for more (set_device_count); every device is the same H100 and
// they share one address space. The current device is per host thread, as in CUDA.
int g_device_count = 1;
thread_local int t_device = 0;
// cudaFuncAttributeMaxDynamicSharedMemorySize, per (device, kernel): the attribute is set on the
// current device only, as on a GPU.
std::map<std::pair<int, const void*>, int> g_max_dynamic_smem;
bool g_refuse_cooperative = false;
bool valid_device(int device) { return device >= 0 && device < g_device_count; }
// The dynamic shared memory a launch of `func` may ask for on the current device: what
// cudaFuncSetAttribute(MaxDynamicSharedMemorySize) set, else 48 KB less its static bytes.
std::size_t dynamic_smem_limit(const void* func) {
  auto it = g_max_dynamic_smem.find({t_device, func});
  if (it != g_max_dynamic_smem.end()) return static_cast<std::size_t>(it->second);
  const std::size_t fixed = kernel_resources(func).static_smem;
  return fixed < kSmemPerBlockDefault ? kSmemPerBlockDefault - fixed : 0;
}

}  // namespace

std::uint32_t g_current_op = 0;

bool op_ordered_before_current(std::uint32_t earlier) {
  if (earlier == 0 || earlier == g_current_op) return true;
  if (!g_running || earlier > g_ops.size()) return false;
  const OpRecord& p = g_ops[earlier - 1];
  if (p.stream == g_ops[g_current_op - 1].stream) return true;  // in-order stream, ran before
  if (entry(*g_running->clock, p.stream) >= p.seq) return true;
  auto r = g_retired.find(p.stream);
  return r != g_retired.end() && g_running->enq > r->second;
}

const char* op_name(std::uint32_t op) {
  return op >= 1 && op <= g_ops.size() ? g_ops[op - 1].name : "?";
}

// ---- memory ------------------------------------------------------------------------------------
bool in_device_range(std::uintptr_t a) {
  return a >= g_device_base && a < g_device_base + kDeviceReserve;
}

namespace {
Alloc* g_last_alloc = nullptr;  // most accesses hit the allocation the previous one did
}  // namespace

Alloc* find_alloc(std::uintptr_t a) {
  if (g_last_alloc && a >= g_last_alloc->begin && a < g_last_alloc->begin + g_last_alloc->size) {
    return g_last_alloc;
  }
  auto it = g_live.upper_bound(a);
  if (it == g_live.begin()) return nullptr;
  --it;
  Alloc& al = it->second;
  if (a >= al.begin + al.size) return nullptr;
  g_last_alloc = &al;
  return &al;
}

std::string describe_device_address(std::uintptr_t a, std::size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "0x%" PRIxPTR, a);
  std::string s = std::to_string(bytes) + " bytes at " + buf;
  auto it = g_live.upper_bound(a);
  if (it != g_live.begin()) {
    const Alloc& al = std::prev(it)->second;
    if (a < al.begin + al.size) {
      return s + ", which run " + std::to_string(a + bytes - (al.begin + al.size)) +
             " bytes past the end of a " + std::to_string(al.size) + "-byte allocation (offset " +
             std::to_string(a - al.begin) + ")";
    }
    if (a < al.begin + align_up(al.size, kPage) + kPage) {
      return s + ", starting " + std::to_string(a - (al.begin + al.size)) +
             " bytes after the end of a " + std::to_string(al.size) +
             "-byte allocation (float index " + std::to_string((a - al.begin) / 4) + " of " +
             std::to_string(al.size / 4) + ")";
    }
  }
  auto f = g_freed.upper_bound(a);
  if (f != g_freed.begin()) {
    --f;
    if (a < f->first + f->second) {
      return s + ", inside a " + std::to_string(f->second) +
             "-byte allocation that was freed (use after free)";
    }
  }
  return s + ", which is in no allocation";
}

bool check_library_access(const void* p, std::size_t bytes, bool write, const char* what) {
  if (bytes == 0) return true;
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  Alloc* al = in_device_range(a) ? find_alloc(a) : nullptr;
  if (!al || a + bytes > al->begin + al->size) {
    raise_violation(cudaErrorIllegalAddress,
                    std::string(what) + ": " + (write ? "write of " : "read of ") +
                        (in_device_range(a)
                             ? describe_device_address(a, bytes)
                             : std::to_string(bytes) + " bytes of host memory as device memory"));
    return false;
  }
  if (!check_library_races(*al, a, bytes, write, what)) return false;
  std::uint8_t* w = al->written.data() + (a - al->begin);
  if (write) {
    std::memset(w, 1, bytes);
  } else {
    const void* hole = std::memchr(w, 0, bytes);
    if (hole) {
      raise_violation(
          cudaErrorIllegalAddress,
          std::string(what) + ": read of device memory never written: byte " +
              std::to_string(static_cast<const std::uint8_t*>(hole) - al->written.data()) +
              " of a " + std::to_string(al->size) + "-byte allocation");
      return false;
    }
  }
  return true;
}

bool is_device_pointer(const void* p) {
  return find_alloc(reinterpret_cast<std::uintptr_t>(p)) != nullptr;
}

// ---- host API helpers (sim.hpp)
// ------------------------------------------------------------------
cudaError_t launch(const LaunchConfig& c, std::function<void()> body) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  init_arenas();
  const dim3 b = c.block, g = c.grid;
  const std::uint64_t threads = static_cast<std::uint64_t>(b.x) * b.y * b.z;
  const std::string k = std::string("launch of ") + c.name + ": ";
  if (threads == 0 || threads > 1024 || b.x > 1024 || b.y > 1024 || b.z > 64) {
    return set_error(cudaErrorInvalidConfiguration,
                     k + "a block of " + std::to_string(b.x) + "x" + std::to_string(b.y) + "x" +
                         std::to_string(b.z) + " threads (at most 1024)");
  }
  if (g.x == 0 || g.y == 0 || g.z == 0 || g.x > 2147483647u || g.y > 65535 || g.z > 65535) {
    return set_error(cudaErrorInvalidConfiguration, k + "an empty or oversized grid");
  }
  if (c.cooperative && g_refuse_cooperative) {
    return set_error(cudaErrorCooperativeLaunchTooLarge,
                     k + "refused although the grid fits (the simulator was told to refuse "
                         "cooperative launches, as MPS limits or green contexts can)");
  }
  std::string why;
  const cudaError_t rule = check_launch_rules(c, dynamic_smem_limit(c.func), &why);
  if (rule != cudaSuccess) return set_error(rule, k + why);
  CUstream_st* s = stream_of(c.stream);
  if (!validate_stream(c.stream)) return set_error(cudaErrorInvalidResourceHandle);
  auto l = std::make_shared<Launch>();
  l->config = c;
  l->name = c.name;
  l->body = std::move(body);
  enqueue(s, c.name, [l] { run_launch(l); });
  return cudaSuccess;
}

cudaError_t enqueue_host_op(cudaStream_t stream, const char* what, std::function<void()> op) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (!validate_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  enqueue(stream_of(stream), what, std::move(op));
  return cudaSuccess;
}

void set_sticky_error(cudaError_t code, const std::string& message) {
  if (g_sticky_error != cudaSuccess) return;  // the first failure is the one kept
  g_sticky_error = code;
  g_violation = message;
  g_error_text[code] = message;
}
std::string last_violation() { return g_violation; }
void set_device_count(int n) {
  Lock lock(g_mutex);
  g_device_count = std::max(1, n);
  if (t_device >= g_device_count) t_device = 0;
}
void set_refuse_cooperative(bool refuse) {
  Lock lock(g_mutex);
  g_refuse_cooperative = refuse;
}
void clear_sticky_error() {
  Lock lock(g_mutex);
  g_sticky_error = cudaSuccess;
  g_last_error = cudaSuccess;
  g_violation.clear();
  // Work queued behind the failure is dropped, as a reset device would.
  g_legacy_stream.queue.clear();
  g_legacy_stream.completed = g_legacy_stream.enqueued;
  for (CUstream_st* s : g_streams) {
    s->queue.clear();
    s->completed = s->enqueued;
  }
}

}  // namespace rnnattn::sim

// ---- the CUDA runtime API
// ------------------------------------------------------------------------
using namespace rnnattn::sim;

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorNoDevice:
      return "cudaErrorNoDevice";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorIllegalState:
      return "cudaErrorIllegalState";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    case cudaErrorIllegalAddress:
      return "cudaErrorIllegalAddress";
    case cudaErrorLaunchOutOfResources:
      return "cudaErrorLaunchOutOfResources";
    case cudaErrorAssert:
      return "cudaErrorAssert";
    case cudaErrorMisalignedAddress:
      return "cudaErrorMisalignedAddress";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
    case cudaErrorCooperativeLaunchTooLarge:
      return "cudaErrorCooperativeLaunchTooLarge";
    case cudaErrorStreamCaptureUnsupported:
      return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
      return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureImplicit:
      return "cudaErrorStreamCaptureImplicit";
    case cudaErrorInvalidClusterSize:
      return "cudaErrorInvalidClusterSize";
    case cudaErrorInvalidDeviceFunction:
      return "cudaErrorInvalidDeviceFunction";
    case cudaErrorNotSupported:
      return "cudaErrorNotSupported";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t e) {
  Lock lock(g_mutex);
  auto it = g_error_text.find(e);
  if (it != g_error_text.end()) return it->second.c_str();
  switch (e) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorIllegalAddress:
      return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure:
      return "unspecified launch failure";
    case cudaErrorStreamCaptureUnsupported:
      return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
      return "operation failed due to a previous error during capture";
    default:
      return cudaGetErrorName(e);
  }
}

cudaError_t cudaGetLastError() {
  Lock lock(g_mutex);
  if (g_sticky_error != cudaSuccess) return g_sticky_error;
  const cudaError_t e = g_last_error;
  g_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() {
  Lock lock(g_mutex);
  return g_sticky_error != cudaSuccess ? g_sticky_error : g_last_error;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = g_device_count;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = t_device;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  Lock lock(g_mutex);
  if (!valid_device(device)) return set_error(cudaErrorInvalidDevice);
  t_device = device;
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = 13000;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (!valid_device(device)) return set_error(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock:
      *value = 1024;
      break;
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *value = static_cast<int>(kSmemPerBlockDefault);
      break;
    case cudaDevAttrWarpSize:
      *value = 32;
      break;
    case cudaDevAttrMaxRegistersPerBlock:
      *value = kRegistersPerSm;
      break;
    case cudaDevAttrMultiProcessorCount:
      *value = device_layout().sms();
      break;
    case cudaDevAttrMaxThreadsPerMultiProcessor:
      *value = kMaxThreadsPerSm;
      break;
    case cudaDevAttrComputeCapabilityMajor:
      *value = 9;
      break;
    case cudaDevAttrComputeCapabilityMinor:
      *value = 0;
      break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
      *value = static_cast<int>(kSmemPerSm);
      break;
    case cudaDevAttrMaxRegistersPerMultiprocessor:
      *value = kRegistersPerSm;
      break;
    case cudaDevAttrCooperativeLaunch:
      *value = 1;
      break;
    case cudaDevAttrClusterLaunch:
      *value = device_layout().clusters ? 1 : 0;
      break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = static_cast<int>(kSmemPerBlockOptin);
      break;
    case cudaDevAttrReservedSharedMemoryPerBlock:
      *value = static_cast<int>(kSmemReservedPerBlock);
      break;
    default:
      return set_error(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (!valid_device(device)) return set_error(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "rnnattn simulated %s (CPU)", device_layout().name);
  p->totalGlobalMem = device_layout().global_memory;
  p->sharedMemPerBlock = kSmemPerBlockDefault;
  p->sharedMemPerBlockOptin = kSmemPerBlockOptin;
  p->sharedMemPerMultiprocessor = kSmemPerSm;
  p->regsPerBlock = p->regsPerMultiprocessor = kRegistersPerSm;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsPerMultiProcessor = kMaxThreadsPerSm;
  p->multiProcessorCount = device_layout().sms();
  p->major = 9;
  p->cooperativeLaunch = 1;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  Lock lock(g_mutex);
  if (forbidden_during_capture("cudaDeviceSynchronize")) return cudaErrorStreamCaptureUnsupported;
  flush_all();
  return g_sticky_error;
}
cudaError_t cudaDeviceReset() {
  Lock lock(g_mutex);
  flush_all();
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** ptr, std::size_t bytes) {
  Lock lock(g_mutex);
  *ptr = nullptr;
  RNNATTN_SIM_STICKY();
  if (forbidden_during_capture("cudaMalloc")) return cudaErrorStreamCaptureUnsupported;
  init_arenas();
  if (bytes == 0) return cudaSuccess;
  const std::uintptr_t begin = align_up(g_device_next, kPage);
  const std::size_t mapped = align_up(bytes, kPage);
  if (bytes > device_layout().global_memory ||
      begin + mapped + kPage > g_device_base + kDeviceReserve) {
    return set_error(cudaErrorMemoryAllocation);
  }
  if (::mprotect(reinterpret_cast<void*>(begin), mapped, PROT_READ | PROT_WRITE) != 0) {
    return set_error(cudaErrorMemoryAllocation);
  }
  g_device_next = begin + mapped + kPage;  // the next page stays unmapped: a guard
  std::memset(reinterpret_cast<void*>(begin), 0xFF, bytes);  // poison: NaN as floats
  Alloc& a = g_live[begin];
  a.begin = begin;
  a.size = bytes;
  a.written.assign(bytes, 0);
  a.shadow.reset((bytes + 3) / 4);
  *ptr = reinterpret_cast<void*>(begin);
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  Lock lock(g_mutex);
  if (!ptr) return cudaSuccess;
  if (forbidden_during_capture("cudaFree")) return cudaErrorStreamCaptureUnsupported;
  flush_all();  // cudaFree waits for the device
  auto it = g_live.find(reinterpret_cast<std::uintptr_t>(ptr));
  if (it == g_live.end())
    return set_error(cudaErrorInvalidValue, "cudaFree of a pointer that cudaMalloc did not return");
  const std::size_t mapped = align_up(it->second.size, kPage);
  ::madvise(ptr, mapped, MADV_DONTNEED);
  ::mprotect(ptr, mapped, PROT_NONE);
  g_freed[it->first] = it->second.size;
  if (g_last_alloc == &it->second) g_last_alloc = nullptr;
  g_live.erase(it);
  return g_sticky_error;
}

namespace {

cudaMemcpyKind resolve(cudaMemcpyKind kind, const void* dst, const void* src) {
  if (kind != cudaMemcpyDefault) return kind;
  const bool d = in_device_range(reinterpret_cast<std::uintptr_t>(dst));
  const bool s = in_device_range(reinterpret_cast<std::uintptr_t>(src));
  return d ? (s ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
           : (s ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
}

// Enqueues a copy; host sources are read now (pageable memory is staged at the call), host
// destinations are written when the stream reaches the copy.
cudaError_t enqueue_copy(CUstream_st* s, void* dst, const void* src, std::size_t bytes,
                         cudaMemcpyKind kind) {
  if (bytes == 0) return cudaSuccess;
  kind = resolve(kind, dst, src);
  switch (kind) {
    case cudaMemcpyHostToDevice: {
      auto staged = std::make_shared<std::vector<char>>(static_cast<const char*>(src),
                                                        static_cast<const char*>(src) + bytes);
      enqueue(s, "cudaMemcpy (host to device)", [dst, staged] {
        if (check_library_access(dst, staged->size(), true,
                                 "cudaMemcpy (host to device) destination"))
          std::memcpy(dst, staged->data(), staged->size());
      });
      return cudaSuccess;
    }
    case cudaMemcpyDeviceToHost:
      if (s->capture) {
        return set_error(cudaErrorStreamCaptureUnsupported,
                         "a copy to pageable host memory cannot be captured in a graph");
      }
      enqueue(s, "cudaMemcpy (device to host)", [dst, src, bytes] {
        if (check_library_access(src, bytes, false, "cudaMemcpy (device to host) source"))
          std::memcpy(dst, src, bytes);
      });
      flush(s);  // to pageable memory: returns once the copy is done
      host_waited_for(*s->clock);
      return g_sticky_error;
    case cudaMemcpyDeviceToDevice:
      enqueue(s, "cudaMemcpy (device to device)", [dst, src, bytes] {
        if (check_library_access(src, bytes, false, "cudaMemcpy (device to device) source") &&
            check_library_access(dst, bytes, true, "cudaMemcpy (device to device) destination"))
          std::memmove(dst, src, bytes);
      });
      return cudaSuccess;
    default:
      std::memmove(dst, src, bytes);
      return cudaSuccess;
  }
}

}  // namespace

cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (forbidden_during_capture("cudaMemcpy")) return cudaErrorStreamCaptureUnsupported;
  const cudaMemcpyKind k = resolve(kind, dst, src);
  // The legacy stream: a host-to-device copy first waits for the stream's earlier work;
  // a copy to the host returns when done; device-to-device copies are asynchronous.
  if (k == cudaMemcpyHostToDevice) {
    flush(&g_legacy_stream);
    host_waited_for(*g_legacy_stream.clock);
  }
  const cudaError_t e = enqueue_copy(&g_legacy_stream, dst, src, bytes, k);
  return e != cudaSuccess ? e : g_sticky_error;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (!validate_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  return enqueue_copy(stream_of(stream), dst, src, bytes, kind);
}

cudaError_t cudaMemcpy2DAsync(void* dst, std::size_t dpitch, const void* src, std::size_t spitch,
                              std::size_t width, std::size_t height, cudaMemcpyKind kind,
                              cudaStream_t stream) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (!validate_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  if (width > dpitch || width > spitch)
    return set_error(cudaErrorInvalidValue, "cudaMemcpy2DAsync: width exceeds a pitch");
  for (std::size_t r = 0; r < height; ++r) {
    const cudaError_t e = enqueue_copy(stream_of(stream), static_cast<char*>(dst) + r * dpitch,
                                       static_cast<const char*>(src) + r * spitch, width, kind);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

namespace {
cudaError_t enqueue_memset(CUstream_st* s, void* p, int value, std::size_t bytes) {
  if (bytes == 0) return cudaSuccess;
  enqueue(s, "cudaMemset", [p, value, bytes] {
    if (check_library_access(p, bytes, true, "cudaMemset")) std::memset(p, value, bytes);
  });
  return cudaSuccess;
}
}  // namespace

cudaError_t cudaMemset(void* p, int value, std::size_t bytes) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  return enqueue_memset(&g_legacy_stream, p, value, bytes);  // asynchronous, legacy stream
}

cudaError_t cudaMemsetAsync(void* p, int value, std::size_t bytes, cudaStream_t stream) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (!validate_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  return enqueue_memset(stream_of(stream), p, value, bytes);
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  auto* s = new CUstream_st;
  s->flags = flags;
  s->id = g_next_stream_id++;
  g_streams.insert(s);
  *stream = s;
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  Lock lock(g_mutex);
  if (!stream || !g_streams.count(stream)) return set_error(cudaErrorInvalidResourceHandle);
  flush(stream);  // pending work completes
  host_waited_for(*stream->clock);
  g_retired[stream->id] = g_enqueued;
  g_host_clock.erase(std::remove_if(g_host_clock.begin(), g_host_clock.end(),
                                    [&](const std::pair<std::uint32_t, std::uint64_t>& e) {
                                      return e.first == stream->id;
                                    }),
                     g_host_clock.end());
  g_streams.erase(stream);
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (!validate_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  if (forbidden_during_capture("cudaStreamSynchronize")) return cudaErrorStreamCaptureUnsupported;
  flush(stream_of(stream));
  host_waited_for(*stream_of(stream)->clock);
  return g_sticky_error;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (!validate_stream(stream) || !event) return set_error(cudaErrorInvalidResourceHandle);
  if (!event->recorded) return cudaSuccess;
  CUstream_st* from = event->stream;
  const std::uint64_t seq = event->seq;
  CUstream_st* s = stream_of(stream);
  enqueue(
      s, "cudaStreamWaitEvent", [] {}, event->clock.get());
  if (!s->capture) s->queue.back().deps.emplace_back(from, seq);
  return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (!stream || !g_streams.count(stream)) {
    return set_error(cudaErrorStreamCaptureUnsupported, "the legacy stream cannot be captured");
  }
  if (stream->capture) return set_error(cudaErrorIllegalState, "the stream is already capturing");
  stream->capture = new CUgraph_st;
  stream->capture_mode = mode;
  stream->capture_invalidated = false;
  if (mode != cudaStreamCaptureModeRelaxed) ++t_strict_captures;
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  Lock lock(g_mutex);
  if (!validate_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  const CUstream_st* s = stream_of(stream);
  *status = !s->capture              ? cudaStreamCaptureStatusNone
            : s->capture_invalidated ? cudaStreamCaptureStatusInvalidated
                                     : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  Lock lock(g_mutex);
  *graph = nullptr;
  if (!stream || !g_streams.count(stream) || !stream->capture) {
    return set_error(cudaErrorIllegalState, "the stream is not capturing");
  }
  CUgraph_st* g = stream->capture;
  stream->capture = nullptr;
  if (stream->capture_mode != cudaStreamCaptureModeRelaxed) --t_strict_captures;
  if (stream->capture_invalidated) {
    delete g;
    return set_error(cudaErrorStreamCaptureInvalidated);
  }
  *graph = g;
  return g_sticky_error;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, 0); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  *event = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (!event || !validate_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  CUstream_st* s = stream_of(stream);
  event->stream = s;
  event->recorded = true;
  event->seq =
      enqueue(s, "cudaEventRecord", [event] { event->when = std::chrono::steady_clock::now(); });
  event->clock = s->capture ? std::make_shared<const Clock>() : s->clock;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (!event) return set_error(cudaErrorInvalidResourceHandle);
  if (event->recorded) {
    flush(event->stream, event->seq);
    if (event->clock) host_waited_for(*event->clock);
  }
  return g_sticky_error;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  Lock lock(g_mutex);
  if (!start || !end || !start->recorded || !end->recorded)
    return set_error(cudaErrorInvalidResourceHandle);
  if (start->stream->completed < start->seq || end->stream->completed < end->seq) {
    return set_error(cudaErrorNotReady);
  }
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (!graph) return set_error(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->nodes};
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (!exec || !validate_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  CUstream_st* s = stream_of(stream);
  for (const auto& node : exec->nodes) enqueue(s, node.name, node.fn);
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

cudaError_t rnnattn_sim_func_set_attribute(const void* func, cudaFuncAttribute attr, int value) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  KernelResources& k = kernel_resources(func);
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    // The attribute plus the kernel's static shared memory may not exceed the opt-in maximum.
    if (value < 0 || static_cast<std::size_t>(value) + k.static_smem > kSmemPerBlockOptin) {
      return set_error(cudaErrorInvalidValue,
                       "cudaFuncSetAttribute(MaxDynamicSharedMemorySize): " +
                           std::to_string(value) + " bytes of dynamic shared memory and the " +
                           std::to_string(k.static_smem) + " static bytes of " +
                           (k.signature.empty() ? std::string("the kernel") : k.signature) +
                           " exceed the opt-in limit of " + std::to_string(kSmemPerBlockOptin));
    }
    g_max_dynamic_smem[{t_device, func}] = value;
  } else if (attr == cudaFuncAttributeNonPortableClusterSizeAllowed) {
    k.non_portable_clusters = value != 0;
  }
  return cudaSuccess;
}

cudaError_t rnnattn_sim_func_get_attributes(cudaFuncAttributes* attr, const void* func) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  const KernelResources& k = kernel_resources(func);
  *attr = cudaFuncAttributes{};
  attr->sharedSizeBytes = k.static_smem;
  attr->localSizeBytes = k.local_bytes;
  attr->numRegs = k.registers;
  attr->maxThreadsPerBlock = 1024;
  attr->maxDynamicSharedSizeBytes = static_cast<int>(dynamic_smem_limit(func));
  return cudaSuccess;
}

cudaError_t rnnattn_sim_occupancy(int* blocks, const void* func, int block_size,
                                  std::size_t dynamic_smem) {
  if (block_size < 1 || block_size > 1024) return set_error(cudaErrorInvalidValue);
  *blocks = max_blocks_per_sm(func, block_size, dynamic_smem);
  return cudaSuccess;
}
