// rnnattn GPU simulator: the CUDA runtime on the CPU.
//
// Memory: one reserved address range for device memory (page-aligned allocations, a guard page
// after each, addresses never reused, contents poisoned with 0xFF and every byte's "written" flag
// kept), one for the blocks' shared memory.
// Streams: each stream is a queue that runs only when something waits for it (a synchronising
// call, a copy to the host, an event the host waits on, an operation that depends on it), in
// order, with the legacy default stream's implicit synchronisation with blocking streams. So work
// that the host code forgot to order runs in the wrong order here, as it may on a GPU.
// Graphs: a capturing stream records its operations; a launched graph enqueues them in order.
// Kernels: every CUDA thread is a fiber (a stack and a saved stack pointer; the switch is a few
// instructions of assembly on x86-64). Blocks run one after another; the blocks of a cooperative
// launch are all resident at once. Barriers, warp shuffles and grid syncs switch fibers until
// every participant has arrived, and check that they all can.
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

// ---- fibers ----------------------------------------------------------------------------------
#if defined(__x86_64__)
// rnnattn_sim_switch(save, to): pushes the callee-saved registers, stores the stack pointer in
// *save, loads `to` and pops the target's registers; `ret` resumes the target.
asm(R"(
  .text
  .globl rnnattn_sim_switch
  .hidden rnnattn_sim_switch
  .type rnnattn_sim_switch,@function
rnnattn_sim_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size rnnattn_sim_switch,.-rnnattn_sim_switch
)");
extern "C" void rnnattn_sim_switch(void** save, void* to);
#else
#error "the rnnattn GPU simulator's fiber switch is written for x86-64"
#endif

namespace rnnattn::sim {

__thread ThreadState* t_current = nullptr;

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
constexpr std::size_t kSharedSlot = 256 * 1024;
constexpr std::size_t kSharedSlots = 4096;

std::uintptr_t g_device_base = 0, g_device_next = 0;
std::map<std::uintptr_t, Alloc> g_live;
std::map<std::uintptr_t, std::size_t> g_freed;
std::uintptr_t g_shared_base = 0;
std::vector<bool> g_shared_slot_used;

std::uintptr_t align_up(std::uintptr_t v, std::size_t a) { return (v + a - 1) / a * a; }

void init_arenas() {
  if (g_device_base) return;
  void* d = ::mmap(nullptr, kDeviceReserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
  void* s = ::mmap(nullptr, kSharedSlot * kSharedSlots, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (d == MAP_FAILED || s == MAP_FAILED) {
    std::fprintf(stderr, "rnnattn-sim: cannot reserve address space for the simulated GPU\n");
    std::abort();
  }
  g_device_base = g_device_next = reinterpret_cast<std::uintptr_t>(d);
  g_shared_base = reinterpret_cast<std::uintptr_t>(s);
  g_shared_slot_used.assign(kSharedSlots, false);
}

// ---- fibers ------------------------------------------------------------------------------------
constexpr std::size_t kStackBytes = 64 * 1024;
std::vector<char*> g_free_stacks;

char* take_stack() {
  if (g_free_stacks.empty()) {
    constexpr std::size_t kChunk = 64;
    void* p = ::mmap(nullptr, kStackBytes * kChunk, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      std::fprintf(stderr, "rnnattn-sim: out of memory for thread stacks\n");
      std::abort();
    }
    for (std::size_t i = 0; i < kChunk; ++i)
      g_free_stacks.push_back(static_cast<char*>(p) + i * kStackBytes);
  }
  char* s = g_free_stacks.back();
  g_free_stacks.pop_back();
  return s;
}

void thread_exit(ThreadState& t);

extern "C" void rnnattn_sim_fiber_main() {
  ThreadState* t = t_current;
  t->launch->body();
  thread_exit(*t);
}

// A fresh fiber's stack: six zeroed callee-saved registers, then the entry point for `ret`,
// with the stack 16-byte aligned at the entry as after a call.
void prepare_fiber(ThreadState& t) {
  t.stack = take_stack();
  auto* top = reinterpret_cast<std::uintptr_t*>(t.stack + kStackBytes);
  *--top = 0;  // the entry function's (never used) return address
  *--top = reinterpret_cast<std::uintptr_t>(&rnnattn_sim_fiber_main);
  for (int i = 0; i < 6; ++i) *--top = 0;
  t.sp = top;
}

[[noreturn]] void switch_to_scheduler(ThreadState& t) {
  rnnattn_sim_switch(&t.sp, t.launch->scheduler_sp);
  __builtin_unreachable();
}
void yield(ThreadState& t) { rnnattn_sim_switch(&t.sp, t.launch->scheduler_sp); }

// ---- streams, events, graphs -------------------------------------------------------------------
struct Op {
  std::uint64_t seq = 0;
  std::vector<std::pair<CUstream_st*, std::uint64_t>> deps;
  std::function<void()> fn;
};

}  // namespace
}  // namespace rnnattn::sim

struct CUgraph_st {
  std::vector<std::function<void()>> nodes;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> nodes;
};
struct CUstream_st {
  unsigned flags = 0;
  bool legacy = false;
  std::deque<rnnattn::sim::Op> queue;
  std::uint64_t enqueued = 0, completed = 0;
  CUgraph_st* capture = nullptr;
  cudaStreamCaptureMode capture_mode = cudaStreamCaptureModeGlobal;
  bool capture_invalidated = false;
};
struct CUevent_st {
  CUstream_st* stream = nullptr;
  std::uint64_t seq = 0;
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
std::set<CUstream_st*> g_streams;        // created streams
thread_local int t_strict_captures = 0;  // this thread's non-relaxed captures

CUstream_st* stream_of(cudaStream_t s) { return s ? s : &g_legacy_stream; }

void flush(CUstream_st* s, std::uint64_t upto = UINT64_MAX) {
  while (!s->queue.empty() && s->queue.front().seq <= upto) {
    Op op = std::move(s->queue.front());
    s->queue.pop_front();
    for (auto& [dep, seq] : op.deps) flush(dep, seq);
    if (g_sticky_error == cudaSuccess) op.fn();
    s->completed = op.seq;
  }
}

void flush_all() {
  flush(&g_legacy_stream);
  for (CUstream_st* s : g_streams) flush(s);
}

// Enqueues (or records, while capturing) an operation; returns the sequence number it got.
std::uint64_t enqueue(CUstream_st* s, std::function<void()> fn) {
  if (s->capture) {
    s->capture->nodes.push_back(std::move(fn));
    return 0;
  }
  Op op;
  op.seq = ++s->enqueued;
  op.fn = std::move(fn);
  if (s->legacy) {
    for (CUstream_st* b : g_streams) {
      if (!(b->flags & cudaStreamNonBlocking) && b->enqueued > b->completed) {
        op.deps.emplace_back(b, b->enqueued);
      }
    }
  } else if (!(s->flags & cudaStreamNonBlocking) &&
             g_legacy_stream.enqueued > g_legacy_stream.completed) {
    op.deps.emplace_back(&g_legacy_stream, g_legacy_stream.enqueued);
  }
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

// ---- kernel execution
// ----------------------------------------------------------------------------
std::map<const void*, int> g_max_dynamic_smem;  // cudaFuncAttributeMaxDynamicSharedMemorySize
std::function<void(const LaunchStats&)> g_observer;
bool g_counting_forced = false;
std::FILE* g_stats_file = nullptr;

std::string g_stats_path;

// The file RNNATTN_SIM_STATS names, (re)opened for appending when the variable changes.
std::FILE* stats_file() {
  const char* p = std::getenv("RNNATTN_SIM_STATS");
  const std::string path = p ? p : "";
  if (path != g_stats_path) {
    if (g_stats_file) std::fclose(g_stats_file);
    g_stats_file = nullptr;
    g_stats_path = path;
    if (!path.empty()) {
      g_stats_file = std::fopen(path.c_str(), "a");
      if (!g_stats_file) {
        std::fprintf(stderr, "rnnattn-sim: cannot open RNNATTN_SIM_STATS file '%s'\n",
                     path.c_str());
      }
    }
  }
  return g_stats_file;
}

int max_blocks_per_sm(int threads, std::size_t dynamic_smem) {
  const int warps = (threads + 31) / 32;
  int n = std::min(kMaxBlocksPerSm, kMaxThreadsPerSm / (warps * 32));
  const std::size_t per_block = dynamic_smem + kSmemReservedPerBlock;
  n = std::min<int>(n, static_cast<int>(kSmemPerSm / per_block));
  return std::max(n, 0);
}

unsigned char* take_shared_slot() {
  for (std::size_t i = 0; i < kSharedSlots; ++i) {
    if (!g_shared_slot_used[i]) {
      g_shared_slot_used[i] = true;
      return reinterpret_cast<unsigned char*>(g_shared_base + i * kSharedSlot);
    }
  }
  std::fprintf(stderr, "rnnattn-sim: more than %zu resident blocks\n", kSharedSlots);
  std::abort();
}
void give_shared_slot(unsigned char* p) {
  g_shared_slot_used[(reinterpret_cast<std::uintptr_t>(p) - g_shared_base) / kSharedSlot] = false;
}

std::unique_ptr<Block> make_block(Launch& l, uint3 idx) {
  auto b = std::make_unique<Block>();
  b->idx = idx;
  b->launch = &l;
  const dim3 bd = l.config.block;
  const int n = static_cast<int>(bd.x * bd.y * bd.z);
  b->threads.resize(n);
  b->warps.resize((n + 31) / 32);
  b->smem = take_shared_slot();
  b->dynamic_bytes = b->total_bytes = l.config.dynamic_smem;
  std::memset(b->smem, 0xFF, b->dynamic_bytes);  // shared memory starts as garbage: NaN
  b->shadow.resize((b->dynamic_bytes + 3) / 4);
  for (int i = 0; i < n; ++i) {
    ThreadState& t = b->threads[i];
    t.ids.thread_idx = {static_cast<unsigned>(i % bd.x), static_cast<unsigned>(i / bd.x % bd.y),
                        static_cast<unsigned>(i / (bd.x * bd.y))};
    t.ids.block_idx = idx;
    t.ids.block_dim = bd;
    t.ids.grid_dim = l.config.grid;
    t.block = b.get();
    t.launch = &l;
    t.tid = i;
    t.lane = i % 32;
    t.warp = i / 32;
    b->warps[t.warp].exists |= 1u << t.lane;
    prepare_fiber(t);
  }
  return b;
}

void release_block(Block& b) {
  Launch& l = *b.launch;
  if (l.counting) {
    for (Warp& w : b.warps) flush_requests(l, w);
  }
  for (ThreadState& t : b.threads) g_free_stacks.push_back(t.stack);
  give_shared_slot(b.smem);
}

std::string site(const char* file, int line) {
  const char* slash = std::strrchr(file, '/');
  return std::string(slash ? slash + 1 : file) + ":" + std::to_string(line);
}

// Runs the resident blocks' threads until all have finished, a violation stopped the kernel, or
// no thread can move (reported as a deadlock: who waits where).
void run_resident(Launch& l) {
  std::vector<ThreadState*> all;
  for (Block* b : l.resident) {
    for (ThreadState& t : b->threads) all.push_back(&t);
  }
  std::size_t done = 0;
  while (done < all.size() && !l.failed) {
    bool moved = false;
    for (ThreadState* t : all) {
      if (t->state != State::kRunnable) continue;
      t_current = t;
      rnnattn_sim_switch(&l.scheduler_sp, t->sp);
      t_current = nullptr;
      t_in_hook = false;
      moved = true;
      if (t->state == State::kDone) ++done;
      if (l.failed) break;
    }
    if (!moved && done < all.size() && !l.failed) {
      std::string who;
      int shown = 0;
      for (ThreadState* t : all) {
        if (t->state == State::kDone || shown >= 4) continue;
        ++shown;
        const Block& b = *t->block;
        who += "\n  " + thread_name(*t) + " waits at ";
        if (t->state == State::kBarrier) {
          who += "__syncthreads (" + site(b.barrier_file, b.barrier_line) + ")";
        } else if (t->state == State::kWarpSync) {
          const Warp& w = b.warps[t->warp];
          char mask[16];
          std::snprintf(mask, sizeof mask, "0x%08x", w.mask);
          who += std::string(w.is_shuffle ? "a shuffle" : "__syncwarp") + " (" +
                 site(w.file, w.line) + ", mask " + mask + ")";
        } else {
          who += "a grid sync";
        }
      }
      t_current = all.front();  // names the kernel in the message
      raise_violation(cudaErrorLaunchFailure,
                      "deadlock: no thread can continue (a barrier or shuffle that some thread "
                      "never reaches)" +
                          who);
      t_current = nullptr;
      l.failed = true;
    }
  }
}

void finish_stats(Launch& l) {
  if (!l.counting) return;
  if (std::FILE* f = stats_file()) {
    const LaunchStats& s = l.stats;
    std::fprintf(f,
                 "{\"kernel\":\"%s\",\"grid\":[%u,%u,%u],\"block\":[%u,%u,%u],"
                 "\"dynamic_smem_bytes\":%zu,\"barriers\":%" PRIu64
                 ",\"global_load_requests\":%" PRIu64 ",\"global_load_sectors\":%" PRIu64
                 ",\"global_load_bytes\":%" PRIu64 ",\"global_store_requests\":%" PRIu64
                 ",\"global_store_sectors\":%" PRIu64 ",\"global_store_bytes\":%" PRIu64
                 ",\"shared_requests\":%" PRIu64 ",\"shared_wavefronts\":%" PRIu64 "}\n",
                 s.kernel.c_str(), s.grid.x, s.grid.y, s.grid.z, s.block.x, s.block.y, s.block.z,
                 s.dynamic_smem_bytes, s.barriers, s.global_load_requests, s.global_load_sectors,
                 s.global_load_bytes, s.global_store_requests, s.global_store_sectors,
                 s.global_store_bytes, s.shared_requests, s.shared_wavefronts);
    std::fflush(f);
  }
  if (g_observer) g_observer(l.stats);
}

void run_launch(const std::shared_ptr<Launch>& lp) {
  Launch& l = *lp;
  l.failed = false;
  l.grid_arrived = l.grid_exited = 0;
  l.counting = g_counting_forced || stats_file() != nullptr;
  l.stats = LaunchStats{};
  l.stats.kernel = l.name;
  l.stats.grid = l.config.grid;
  l.stats.block = l.config.block;
  l.stats.dynamic_smem_bytes = l.config.dynamic_smem;
  const dim3 g = l.config.grid;
  const std::size_t blocks = static_cast<std::size_t>(g.x) * g.y * g.z;
  const auto index = [&](std::size_t i) {
    return uint3{static_cast<unsigned>(i % g.x), static_cast<unsigned>(i / g.x % g.y),
                 static_cast<unsigned>(i / (static_cast<std::size_t>(g.x) * g.y))};
  };
  if (l.config.cooperative) {
    std::vector<std::unique_ptr<Block>> all;
    for (std::size_t i = 0; i < blocks; ++i) all.push_back(make_block(l, index(i)));
    l.resident.clear();
    for (auto& b : all) l.resident.push_back(b.get());
    l.grid_threads = static_cast<int>(blocks * all.front()->threads.size());
    run_resident(l);
    for (auto& b : all) release_block(*b);
  } else {
    for (std::size_t i = 0; i < blocks && !l.failed; ++i) {
      std::unique_ptr<Block> b = make_block(l, index(i));
      l.resident = {b.get()};
      run_resident(l);
      release_block(*b);
    }
  }
  l.resident.clear();
  if (!l.failed) finish_stats(l);
}

void thread_exit(ThreadState& t) {
  Block& b = *t.block;
  Launch& l = *t.launch;
  t.state = State::kDone;
  ++b.exited;
  ++l.grid_exited;
  Warp& w = b.warps[t.warp];
  w.exited |= 1u << t.lane;
  if (b.arrived > 0) {
    kernel_violation(cudaErrorLaunchFailure,
                     "exited while other threads of its block wait at __syncthreads (" +
                         site(b.barrier_file, b.barrier_line) +
                         "): a barrier must be reached by every thread of the block");
  }
  if (w.arrived != 0 && (w.mask >> t.lane & 1u)) {
    kernel_violation(cudaErrorLaunchFailure,
                     "exited while lanes of its warp wait for it at " +
                         std::string(w.is_shuffle ? "a shuffle" : "__syncwarp") + " (" +
                         site(w.file, w.line) + ") whose mask names it");
  }
  if (l.grid_arrived > 0) {
    kernel_violation(cudaErrorLaunchFailure,
                     "exited while other threads wait at a grid sync: every thread of a "
                     "cooperative launch must reach it");
  }
  switch_to_scheduler(t);
}

}  // namespace

// ---- device-side entry points (device.hpp, cooperative_groups.h) --------------------------------
void block_barrier(const char* file, int line) {
  ThreadState& t = *t_current;
  Block& b = *t.block;
  if (b.exited > 0) {
    const ThreadState* gone = nullptr;
    for (const ThreadState& o : b.threads) {
      if (o.state == State::kDone) gone = &o;
    }
    kernel_violation(cudaErrorLaunchFailure,
                     "reached __syncthreads (" + site(file, line) + "), which " +
                         (gone ? thread_name(*gone) : std::string("a thread")) +
                         " of the same block never reaches: it exited before it (an early "
                         "return?)");
  }
  if (b.arrived == 0) {
    b.barrier_file = file;
    b.barrier_line = line;
    b.first_at_barrier = t.tid;
  } else if (b.barrier_line != line || std::strcmp(b.barrier_file, file) != 0) {
    kernel_violation(cudaErrorLaunchFailure,
                     "reached __syncthreads at " + site(file, line) + " while " +
                         thread_name(b.threads[b.first_at_barrier]) + " waits at " +
                         site(b.barrier_file, b.barrier_line) + ": divergent barriers");
  }
  if (++b.arrived == static_cast<int>(b.threads.size())) {
    b.arrived = 0;
    ++b.epoch;
    Launch& l = *t.launch;
    ++l.stats.barriers;
    if (l.counting) {
      for (Warp& w : b.warps) flush_requests(l, w);
    }
    for (ThreadState& o : b.threads) {
      if (o.state == State::kBarrier) o.state = State::kRunnable;
    }
    return;
  }
  t.state = State::kBarrier;
  yield(t);
}

void grid_barrier(const char* file, int line) {
  ThreadState& t = *t_current;
  Launch& l = *t.launch;
  if (!l.config.cooperative) {
    kernel_violation(cudaErrorLaunchFailure,
                     "grid sync (" + site(file, line) + ") in a launch that is not cooperative");
  }
  if (l.grid_exited > 0) {
    kernel_violation(cudaErrorLaunchFailure, "reached a grid sync (" + site(file, line) +
                                                 ") that a thread which already exited never "
                                                 "reaches");
  }
  if (++l.grid_arrived == l.grid_threads) {
    l.grid_arrived = 0;
    for (Block* b : l.resident) {
      ++b->epoch;
      ++l.stats.barriers;
      if (l.counting) {
        for (Warp& w : b->warps) flush_requests(l, w);
      }
      for (ThreadState& o : b->threads) {
        if (o.state == State::kGridSync) o.state = State::kRunnable;
      }
    }
    return;
  }
  t.state = State::kGridSync;
  yield(t);
}

namespace {

// The rendezvous of the lanes a shuffle or __syncwarp names; returns this lane's result.
std::uint32_t warp_rendezvous(unsigned mask, std::uint32_t value, int src, const char* file,
                              int line, bool is_shuffle) {
  ThreadState& t = *t_current;
  Block& b = *t.block;
  Warp& w = b.warps[t.warp];
  const char* what = is_shuffle ? "shuffle" : "__syncwarp";
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08x", mask);
  if (!(mask >> t.lane & 1u)) {
    kernel_violation(cudaErrorLaunchFailure,
                     std::string(what) + " at " + site(file, line) + ": its mask " + hex +
                         " does not name the calling lane " + std::to_string(t.lane));
  }
  if (const std::uint32_t missing = mask & ~w.exists) {
    kernel_violation(cudaErrorLaunchFailure,
                     std::string(what) + " at " + site(file, line) + ": its mask " + hex +
                         " names lane " + std::to_string(__builtin_ctz(missing)) +
                         ", which does not exist in this warp (the block has " +
                         std::to_string(b.threads.size()) + " threads)");
  }
  if (const std::uint32_t gone = mask & w.exited) {
    kernel_violation(cudaErrorLaunchFailure, std::string(what) + " at " + site(file, line) +
                                                 ": its mask " + hex + " names lane " +
                                                 std::to_string(__builtin_ctz(gone)) +
                                                 ", which has exited and does not take part");
  }
  if (w.arrived == 0) {
    w.mask = mask;
    w.file = file;
    w.line = line;
    w.is_shuffle = is_shuffle;
  } else if (w.mask != mask || w.line != line || std::strcmp(w.file, file) != 0 ||
             w.is_shuffle != is_shuffle) {
    char other[16];
    std::snprintf(other, sizeof other, "0x%08x", w.mask);
    kernel_violation(cudaErrorLaunchFailure,
                     std::string(what) + " at " + site(file, line) + " (mask " + hex +
                         ") while other lanes of its warp wait at " + site(w.file, w.line) +
                         " (mask " + other + "): the lanes a mask names must all take part");
  }
  w.values[t.lane] = value;
  w.src[t.lane] = src;
  w.arrived |= 1u << t.lane;
  if (w.arrived != w.mask) {
    t.state = State::kWarpSync;
    yield(t);
    return w.results[t.lane];
  }
  for (int l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    const int s = w.src[l];
    if (s >= 0 && !(mask >> s & 1u)) {
      kernel_violation(cudaErrorLaunchFailure, "shuffle at " + site(file, line) + ": lane " +
                                                   std::to_string(l) + " reads lane " +
                                                   std::to_string(s) + ", which the mask " + hex +
                                                   " does not name (it does not take part)");
    }
    w.results[l] = s >= 0 ? w.values[s] : w.values[l];
  }
  w.arrived = 0;
  for (int l = 0; l < 32; ++l) {
    if (mask >> l & 1u) {
      ThreadState& o = b.threads[t.warp * 32 + l];
      if (o.state == State::kWarpSync) o.state = State::kRunnable;
    }
  }
  return w.results[t.lane];
}

}  // namespace

std::uint32_t shuffle(unsigned mask, std::uint32_t value, int src_lane, const char* file,
                      int line) {
  return warp_rendezvous(mask, value, src_lane, file, line, true);
}
void warp_sync(unsigned mask, const char* file, int line) {
  warp_rendezvous(mask, 0, -1, file, line, false);
}
bool in_cooperative_launch() { return t_current && t_current->launch->config.cooperative; }
int lane_id() { return t_current->lane; }
void* dynamic_shared_memory() { return t_current->block->smem; }

void* static_shared_memory(const void* tag, std::size_t bytes, std::size_t align) {
  Block& b = *t_current->block;
  for (const auto& [t, off] : b.static_arrays) {
    if (t == tag) return b.smem + off;
  }
  const std::size_t off = align_up(b.total_bytes, std::max<std::size_t>(align, 4));
  if (off + bytes > kSmemPerBlockOptin) {
    kernel_violation(cudaErrorLaunchOutOfResources,
                     "static shared memory of " + std::to_string(bytes) + " bytes after " +
                         std::to_string(off) + " bytes exceeds the block limit of " +
                         std::to_string(kSmemPerBlockOptin));
  }
  std::memset(b.smem + b.total_bytes, 0xFF, off + bytes - b.total_bytes);
  b.total_bytes = off + bytes;
  b.shadow.resize((b.total_bytes + 3) / 4);
  b.static_arrays.emplace_back(tag, off);
  return b.smem + off;
}

// ---- violations ------------------------------------------------------------------------------
std::string thread_name(const ThreadState& t) {
  const uint3 bi = t.ids.block_idx, ti = t.ids.thread_idx;
  char buf[96];
  std::snprintf(buf, sizeof buf, "block (%u,%u,%u) thread (%u,%u,%u)", bi.x, bi.y, bi.z, ti.x, ti.y,
                ti.z);
  return buf;
}

void raise_violation(cudaError_t code, const std::string& what) {
  std::string msg = "rnnattn-sim: ";
  if (ThreadState* t = t_current) {
    msg += "kernel " + t->launch->name + ", " + thread_name(*t) + ": ";
    t->launch->failed = true;
  }
  msg += what;
  std::fprintf(stderr, "%s\n", msg.c_str());
  std::fflush(stderr);
  if (g_sticky_error == cudaSuccess) {
    g_sticky_error = code;
    g_violation = msg;
    g_error_text[code] = msg;
  }
}

void kernel_violation(cudaError_t code, const std::string& what) {
  raise_violation(code, what);
  switch_to_scheduler(*t_current);
}

// ---- memory ------------------------------------------------------------------------------------
bool in_device_range(std::uintptr_t a) {
  return a >= g_device_base && a < g_device_base + kDeviceReserve;
}
bool in_shared_range(std::uintptr_t a) {
  return a >= g_shared_base && a < g_shared_base + kSharedSlot * kSharedSlots;
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
  auto limit_it = g_max_dynamic_smem.find(c.func);
  const std::size_t limit = limit_it == g_max_dynamic_smem.end()
                                ? kSmemPerBlockDefault
                                : static_cast<std::size_t>(limit_it->second);
  if (c.dynamic_smem > limit) {
    return set_error(cudaErrorInvalidValue,
                     k + std::to_string(c.dynamic_smem) +
                         " bytes of dynamic shared memory exceed the kernel's limit of " +
                         std::to_string(limit) +
                         " (cudaFuncSetAttribute(MaxDynamicSharedMemorySize) raises it up to " +
                         std::to_string(kSmemPerBlockOptin) + ")");
  }
  if (c.cooperative) {
    const std::uint64_t blocks = static_cast<std::uint64_t>(g.x) * g.y * g.z;
    const int per_sm = max_blocks_per_sm(static_cast<int>(threads), c.dynamic_smem);
    if (blocks > static_cast<std::uint64_t>(per_sm) * kSmCount) {
      return set_error(cudaErrorCooperativeLaunchTooLarge,
                       k + std::to_string(blocks) + " blocks cannot all be resident (" +
                           std::to_string(per_sm) + " per SM on " + std::to_string(kSmCount) +
                           " SMs)");
    }
  }
  CUstream_st* s = stream_of(c.stream);
  if (!validate_stream(c.stream)) return set_error(cudaErrorInvalidResourceHandle);
  auto l = std::make_shared<Launch>();
  l->config = c;
  l->name = c.name;
  l->body = std::move(body);
  enqueue(s, [l] { run_launch(l); });
  return cudaSuccess;
}

cudaError_t enqueue_host_op(cudaStream_t stream, const char*, std::function<void()> op) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (!validate_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  enqueue(stream_of(stream), std::move(op));
  return cudaSuccess;
}

void set_counting(bool on) { g_counting_forced = on; }
void set_launch_observer(std::function<void(const LaunchStats&)> observer) {
  g_observer = std::move(observer);
}
std::string last_violation() { return g_violation; }
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
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : set_error(cudaErrorInvalidDevice);
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
  if (device != 0) return set_error(cudaErrorInvalidDevice);
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
      *value = kSmCount;
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
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = static_cast<int>(kSmemPerBlockOptin);
      break;
    default:
      return set_error(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return set_error(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "rnnattn simulated H100 (CPU)");
  p->totalGlobalMem = kGlobalMemory;
  p->sharedMemPerBlock = kSmemPerBlockDefault;
  p->sharedMemPerBlockOptin = kSmemPerBlockOptin;
  p->sharedMemPerMultiprocessor = kSmemPerSm;
  p->regsPerBlock = p->regsPerMultiprocessor = kRegistersPerSm;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsPerMultiProcessor = kMaxThreadsPerSm;
  p->multiProcessorCount = kSmCount;
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
  if (bytes > kGlobalMemory || begin + mapped + kPage > g_device_base + kDeviceReserve) {
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
      enqueue(s, [dst, staged] {
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
      enqueue(s, [dst, src, bytes] {
        if (check_library_access(src, bytes, false, "cudaMemcpy (device to host) source"))
          std::memcpy(dst, src, bytes);
      });
      flush(s);  // to pageable memory: returns once the copy is done
      return g_sticky_error;
    case cudaMemcpyDeviceToDevice:
      enqueue(s, [dst, src, bytes] {
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
  if (k == cudaMemcpyHostToDevice) flush(&g_legacy_stream);
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
  enqueue(s, [p, value, bytes] {
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
  g_streams.insert(s);
  *stream = s;
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  Lock lock(g_mutex);
  if (!stream || !g_streams.count(stream)) return set_error(cudaErrorInvalidResourceHandle);
  flush(stream);  // pending work completes
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
  enqueue(s, [] {});
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
  event->seq = enqueue(s, [event] { event->when = std::chrono::steady_clock::now(); });
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  Lock lock(g_mutex);
  RNNATTN_SIM_STICKY();
  if (!event) return set_error(cudaErrorInvalidResourceHandle);
  if (event->recorded) flush(event->stream, event->seq);
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
  for (const auto& node : exec->nodes) enqueue(s, node);
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
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || static_cast<std::size_t>(value) > kSmemPerBlockOptin) {
      return set_error(cudaErrorInvalidValue,
                       "cudaFuncSetAttribute: " + std::to_string(value) +
                           " bytes of dynamic shared memory exceed the opt-in limit of " +
                           std::to_string(kSmemPerBlockOptin));
    }
    g_max_dynamic_smem[func] = value;
  }
  return cudaSuccess;
}

cudaError_t rnnattn_sim_occupancy(int* blocks, const void*, int block_size,
                                  std::size_t dynamic_smem) {
  if (block_size < 1 || block_size > 1024) return set_error(cudaErrorInvalidValue);
  *blocks = max_blocks_per_sm(block_size, dynamic_smem);
  return cudaSuccess;
}
