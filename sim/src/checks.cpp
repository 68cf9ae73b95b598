// rnnattn GPU simulator: the memory-access hooks. Kernel translation units are compiled with
// GCC's thread-sanitizer instrumentation (-fsanitize=thread, no runtime linked), which calls the
// __tsan_* functions below with the address of every load and store. Here each access
// of a simulated thread is checked (bounds of the device allocation or of the block's shared
// memory, alignment, reads of never-written device memory, shared-memory races between barriers)
// and, when counting, grouped into warp-wide requests.
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "internal.hpp"

namespace rnnattn::sim {

__thread bool t_in_hook = false;

namespace {

std::string hex(std::uintptr_t a) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%" PRIxPTR, a);
  return buf;
}

void record(ThreadState& t, std::uintptr_t site, std::uintptr_t addr, std::uint32_t bytes,
            std::uint8_t kind) {
  const std::uint32_t occurrence = t.site_counts[site]++;
  Request& r = t.block->warps[t.warp].requests[SiteKey{site, occurrence * 4u + kind}];
  r.kind = kind;
  r.lanes.emplace_back(addr, bytes);
}

// ---- races ---------------------------------------------------------------------------------
// An access races with an earlier one to the same word when another thread made it, one of the
// two writes, and no synchronisation that both took part in lies between them: __syncthreads or
// a __syncwarp naming both lanes (same block), a grid sync (same cooperative launch), stream
// order, an event or a host synchronisation (different operations). Atomics do not race with
// atomics. Happens-before is checked, not the order this schedule ran them in, so a race shows
// under every block order.

Accessor current_accessor(const ThreadState& t) {
  const Block& b = *t.block;
  return Accessor{t.launch->op,
                  t.launch->grid_epoch,
                  b.cluster,
                  t.launch->cluster_epoch,
                  b.linear,
                  b.epoch,
                  static_cast<std::uint32_t>(t.tid),
                  b.warps[t.warp].syncs};
}

// Whether p, in another block of c's launch, happened before c: a grid sync since, or a
// cluster.sync() since in their common cluster (never without clusters: every block is in
// cluster 0 at interval 0).
bool blocks_ordered(const Accessor& p, const Accessor& c) {
  return p.grid < c.grid || (p.cluster == c.cluster && p.cepoch < c.cepoch);
}

bool warp_synced(const Warp* w, std::uint32_t lane_a, std::uint32_t lane_b, std::uint32_t stamp) {
  return w && w->pairs && w->pairs[lane_a * 32 + lane_b] > stamp;
}

// Whether p happened before c (w: c's warp, null for library work).
bool ordered(const Accessor& p, const Accessor& c, const Warp* w) {
  if (p.op != c.op) return op_ordered_before_current(p.op);
  if (p.block != c.block) return blocks_ordered(p, c);
  if (p.bepoch != c.bepoch) return true;  // a block barrier (or grid or cluster sync) since
  if (p.tid == c.tid) return true;        // program order
  return p.tid / 32 == c.tid / 32 && warp_synced(w, p.tid % 32, c.tid % 32, p.wstamp);
}

// A read of the summary not ordered before c, if any; `several` then says whether the summary
// stands for readers in several blocks or warps.
bool unordered_read(const Shadow& s, const Accessor& c, const Warp* w, Accessor& other,
                    const char*& several) {
  const Accessor& r = s.r;
  other = r;
  several = nullptr;
  switch (s.r_scope) {
    case ReadScope::kNone:
      return false;
    case ReadScope::kOneThread:
      return !ordered(r, c, w);
    default:
      break;
  }
  if (r.op != c.op) return !op_ordered_before_current(r.op);
  if (s.r_scope == ReadScope::kSeveralClusters) {
    several = "readers in several clusters, among them ";
    return r.grid >= c.grid;
  }
  if (s.r_scope == ReadScope::kSeveralBlocks) {
    several = "readers in several blocks, among them ";
    return !blocks_ordered(r, c);
  }
  if (r.block != c.block) return !blocks_ordered(r, c);
  if (r.bepoch < c.bepoch) return false;
  if (s.r_scope == ReadScope::kOneBlock) {
    several = "readers in several warps, among them ";
    return true;
  }
  // kOneWarp: every reading lane must have synchronised with c since its read.
  if (r.tid / 32 != c.tid / 32) return true;
  const std::uint32_t self = ~(1u << c.tid % 32);
  for (const auto& [mask, stamp] : {std::make_pair(s.r_mask & self, r.wstamp),
                                    std::make_pair(s.r_old_mask & self, s.r_old_stamp)}) {
    for (std::uint32_t m = mask; m; m &= m - 1) {
      const std::uint32_t lane = static_cast<std::uint32_t>(__builtin_ctz(m));
      if (!warp_synced(w, lane, c.tid % 32, stamp)) {
        other.tid = r.tid / 32 * 32 + lane;
        return true;
      }
    }
  }
  return false;
}

// Folds a read by c into the summary.
void add_read(Shadow& s, const Accessor& c) {
  Accessor& r = s.r;
  const auto single = [&] {
    r = c;
    s.r_scope = ReadScope::kOneThread;
    s.r_mask = s.r_old_mask = 0;
  };
  if (s.r_scope == ReadScope::kNone) return single();
  if (r.op != c.op) {
    // Reads of an earlier operation: forgotten once ordered before this one; otherwise kept
    // (this operation's reads are then not recorded: an approximation, see docs/simulator.md).
    if (op_ordered_before_current(r.op)) single();
    return;
  }
  if (r.grid < c.grid) return single();
  // Readers of several clusters stay so until a grid sync. Within one cluster the readers so far
  // are at r's cluster interval or before (a cluster.sync() is a barrier): a later interval
  // replaces them all.
  if (s.r_scope == ReadScope::kSeveralClusters) return;
  if (r.cluster != c.cluster) {
    s.r_scope = ReadScope::kSeveralClusters;
    return;
  }
  if (r.cepoch < c.cepoch) return single();
  if (s.r_scope == ReadScope::kSeveralBlocks) return;
  if (r.block != c.block) {
    s.r_scope = ReadScope::kSeveralBlocks;
    return;
  }
  if (r.bepoch < c.bepoch) return single();
  if (s.r_scope == ReadScope::kOneBlock) return;
  if (r.tid / 32 != c.tid / 32) {
    s.r_scope = ReadScope::kOneBlock;
    return;
  }
  if (s.r_scope == ReadScope::kOneThread) {
    if (r.tid == c.tid) {
      r.wstamp = c.wstamp;
      return;
    }
    s.r_mask = 1u << (r.tid % 32);
    s.r_old_mask = 0;
    s.r_scope = ReadScope::kOneWarp;
  }
  // A warp's stamp only grows. Readers at an earlier stamp than c's move to the older group,
  // whose stamp is then theirs (conservative for the lanes already there: a later stamp asks
  // for a later __syncwarp). Each lane is in one group, at its latest read.
  const std::uint32_t lane = 1u << (c.tid % 32);
  if (c.wstamp > r.wstamp) {
    s.r_old_mask = (s.r_old_mask | s.r_mask) & ~lane;
    s.r_old_stamp = r.wstamp;
    s.r_mask = lane;
    r.wstamp = c.wstamp;
    r.tid = c.tid;
  } else {
    s.r_mask |= lane;
    s.r_old_mask &= ~lane;
  }
}

enum class AccessKind { kRead, kWrite, kAtomic };

struct RaceReport {
  const char* hazard = nullptr;
  Accessor other;
  const char* several = nullptr;
};

// Checks c's access against the word's shadow and records it; returns the race found, if any.
RaceReport check_word(Shadow& s, const Accessor& c, AccessKind kind, const Warp* w) {
  RaceReport rep;
  const bool atomic = kind == AccessKind::kAtomic;
  if (s.w.op != 0 && !(atomic && s.w_atomic) && !ordered(s.w, c, w)) {
    rep.other = s.w;
    if (kind == AccessKind::kRead) {
      rep.hazard = s.w_atomic ? "read of a word another thread updates atomically"
                              : "read of another thread's write";
    } else if (atomic) {
      rep.hazard = "atomic update of a word another thread writes without atomics";
    } else {
      rep.hazard = s.w_atomic ? "write to a word another thread updates atomically"
                              : "write after another thread's write";
    }
    return rep;
  }
  if (kind == AccessKind::kRead) {
    add_read(s, c);
    return rep;
  }
  if (unordered_read(s, c, w, rep.other, rep.several)) {
    rep.hazard = atomic ? "atomic update of a word another thread reads without atomics"
                        : "write after another thread's read";
    return rep;
  }
  s.w = c;
  s.w_atomic = atomic;
  s.r_scope = ReadScope::kNone;
  s.r_mask = s.r_old_mask = 0;
  return rep;
}

// Names the other party of a race, as seen from the running operation.
std::string accessor_name(const Accessor& a, const Launch* running);

// The other party of a reported race: "(block (1,0,0) thread (3,0,0))", or for a summary of
// readers "(readers in several blocks, among them ...)", without naming the reporting thread.
std::string other_party(const RaceReport& rep, const Accessor& c, const Launch* running) {
  if (rep.several && rep.other.op == c.op && rep.other.block == c.block && rep.other.tid == c.tid) {
    std::string s = rep.several;
    return s.substr(0, s.find(", among them"));
  }
  return (rep.several ? std::string(rep.several) : std::string()) +
         accessor_name(rep.other, running);
}

std::string accessor_name(const Accessor& a, const Launch* running) {
  if (a.op != g_current_op || a.block == kLibraryBlock || !running) {
    return std::string(a.block == kLibraryBlock ? "" : "a thread of kernel ") + op_name(a.op) +
           (a.op == g_current_op ? "" : ", an operation not ordered before this one");
  }
  const dim3 g = running->config.grid, bd = running->config.block;
  char buf[96];
  std::snprintf(buf, sizeof buf, "block (%u,%u,%u) thread (%u,%u,%u)", a.block % g.x,
                a.block / g.x % g.y, a.block / (g.x * g.y), a.tid % bd.x, a.tid / bd.x % bd.y,
                a.tid / (bd.x * bd.y));
  return buf;
}

// "global-memory race at ADDRESS (offset N of a S-byte allocation): HAZARD (OTHER PARTY)": the
// words that kernel and library reports share.
std::string device_race(const Alloc& al, std::size_t word, const RaceReport& rep, const Accessor& c,
                        const Launch* running) {
  return "global-memory race at " + hex(al.begin + word * 4) + " (offset " +
         std::to_string(word * 4) + " of a " + std::to_string(al.size) +
         "-byte allocation): " + rep.hazard + " (" + other_party(rep, c, running) + ")";
}

void global_access(ThreadState& t, std::uintptr_t a, std::size_t n, AccessKind kind,
                   std::uintptr_t site) {
  const bool write = kind != AccessKind::kRead;
  Alloc* al = find_alloc(a);
  if (!al || a + n > al->begin + al->size) {
    kernel_violation(cudaErrorIllegalAddress, std::string("out-of-bounds ") +
                                                  (write ? "store" : "load") + " of " +
                                                  describe_device_address(a, n));
  }
  if ((n & (n - 1)) == 0 && a % n != 0) {
    kernel_violation(cudaErrorMisalignedAddress, std::string("misaligned ") +
                                                     (write ? "store" : "load") + " of " +
                                                     std::to_string(n) + " bytes at " + hex(a));
  }
  std::uint8_t* w = al->written.data() + (a - al->begin);
  if (kind != AccessKind::kWrite) {  // a load, or the read of an atomic read-modify-write
    for (std::size_t i = 0; i < n; ++i) {
      if (!w[i]) {
        kernel_violation(cudaErrorIllegalAddress,
                         "load of device memory never written: " + std::to_string(n) +
                             " bytes at " + hex(a) + ", offset " + std::to_string(a - al->begin) +
                             " of a " + std::to_string(al->size) +
                             "-byte allocation (allocations start uninitialised)");
      }
    }
  }
  if (write) {
    for (std::size_t i = 0; i < n; ++i) w[i] = 1;
  }
  const Accessor c = current_accessor(t);
  const Warp* warp = &t.block->warps[t.warp];
  const std::size_t first = (a - al->begin) / 4, last = (a - al->begin + n - 1) / 4;
  for (std::size_t i = first; i <= last; ++i) {
    const RaceReport rep = check_word(al->shadow.at(i), c, kind, warp);
    if (rep.hazard) {
      kernel_violation(cudaErrorLaunchFailure,
                       device_race(*al, i, rep, c, t.launch) +
                           " with no barrier between them that both took part in (__syncthreads "
                           "within a block, a grid sync across blocks, stream order between "
                           "launches)");
    }
  }
  if (t.launch->counting) record(t, site, a, static_cast<std::uint32_t>(n), write ? 1 : 0);
}

// A block's access to the shared memory of another block of its cluster (distributed shared
// memory, through map_shared_rank): that block must be of the same cluster and still running.
void check_remote_shared(ThreadState& t, const Block* owner, std::uintptr_t a, bool write) {
  const Block& b = *t.block;
  const std::string what = std::string("distributed shared-memory ") + (write ? "store" : "load");
  if (!owner || owner->launch != t.launch || t.launch->config.cluster == 0 ||
      owner->cluster != b.cluster) {
    const auto base = reinterpret_cast<std::uintptr_t>(b.smem);
    kernel_violation(cudaErrorIllegalAddress,
                     "out-of-bounds shared-memory " + std::string(write ? "store" : "load") +
                         " at offset " + std::to_string(static_cast<long long>(a - base)) +
                         " (the block has " + std::to_string(b.total_bytes) +
                         " bytes of shared memory; only the blocks of its own cluster are "
                         "reachable, through map_shared_rank)");
  }
  if (owner->exited == static_cast<int>(owner->threads.size())) {
    kernel_violation(cudaErrorIllegalAddress,
                     what + " to block (" + std::to_string(owner->idx.x) + "," +
                         std::to_string(owner->idx.y) + "," + std::to_string(owner->idx.z) +
                         "), which has exited: a block's shared memory is gone when it exits, so "
                         "a cluster that reaches its blocks' shared memory ends with "
                         "cluster.sync()");
  }
}

void shared_access(ThreadState& t, std::uintptr_t a, std::size_t n, AccessKind kind,
                   std::uintptr_t site) {
  const bool write = kind != AccessKind::kRead;
  Block* owner = shared_owner(a);
  if (owner != t.block) check_remote_shared(t, owner, a, write);
  Block& b = *owner;
  const bool remote = owner != t.block;
  if (remote) b.remote_cepoch = t.launch->cluster_epoch;
  const auto base = reinterpret_cast<std::uintptr_t>(b.smem);
  if (a < base || a + n > base + b.total_bytes) {
    kernel_violation(cudaErrorIllegalAddress,
                     std::string("out-of-bounds ") + (remote ? "distributed " : "") +
                         "shared-memory " + (write ? "store" : "load") + " of " +
                         std::to_string(n) + " bytes at offset " +
                         std::to_string(static_cast<long long>(a - base)) + " (the block" +
                         (remote ? " it reaches" : "") + " has " + std::to_string(b.total_bytes) +
                         " bytes of shared memory)");
  }
  if ((n & (n - 1)) == 0 && a % n != 0) {
    kernel_violation(cudaErrorMisalignedAddress, "misaligned shared-memory access of " +
                                                     std::to_string(n) + " bytes at offset " +
                                                     std::to_string(a - base));
  }
  const Accessor c = current_accessor(t);
  const Warp* warp = &t.block->warps[t.warp];
  const std::size_t first = (a - base) / 4, last = (a - base + n - 1) / 4;
  for (std::size_t i = first; i <= last; ++i) {
    const RaceReport rep = check_word(b.shadow.at(i), c, kind, warp);
    if (rep.hazard) {
      const bool clustered = t.launch->config.cluster != 0;
      kernel_violation(
          cudaErrorLaunchFailure,
          std::string("shared-memory race at offset ") + std::to_string(i * 4) +
              (clustered ? " of block (" + std::to_string(b.idx.x) + "," + std::to_string(b.idx.y) +
                               "," + std::to_string(b.idx.z) + ")"
                         : "") +
              ": " + rep.hazard + " (" + other_party(rep, c, t.launch) +
              ") with no __syncthreads (or __syncwarp naming both lanes" +
              (clustered ? ", or cluster.sync() across the cluster's blocks" : "") +
              ") between them");
    }
  }
  if (t.launch->counting) record(t, site, a, static_cast<std::uint32_t>(n), 2);
}

inline void on_access(std::uintptr_t a, std::size_t n, AccessKind kind, std::uintptr_t site) {
  ThreadState* t = t_current;
  if (!t || t_in_hook) return;  // host code, or the simulator's own work inside a hook
  if (in_shared_range(a)) {
    t_in_hook = true;
    shared_access(*t, a, n, kind, site);
    t_in_hook = false;
  } else if (in_device_range(a)) {
    t_in_hook = true;
    global_access(*t, a, n, kind, site);
    t_in_hook = false;
  }
  // Anything else is the thread's own stack (locals, the kernel's parameters) or host memory
  // the simulator itself reads through inlined library code.
}

}  // namespace

bool check_library_races(Alloc& al, std::uintptr_t a, std::size_t n, bool write, const char* what) {
  if (g_current_op == 0 || n == 0) return true;
  const Accessor c{g_current_op, 0, 0, 0, kLibraryBlock, 0, 0, 0};
  const std::size_t first = (a - al.begin) / 4, last = (a - al.begin + n - 1) / 4;
  for (std::size_t i = first; i <= last; ++i) {
    const RaceReport rep =
        check_word(al.shadow.at(i), c, write ? AccessKind::kWrite : AccessKind::kRead, nullptr);
    if (rep.hazard) {
      raise_violation(cudaErrorLaunchFailure,
                      std::string(what) + ": " + device_race(al, i, rep, c, nullptr) +
                          " with no stream order, event or host synchronisation between them");
      return false;
    }
  }
  return true;
}

// An atomic read-modify-write: checked as one access (shared or device memory, as any other),
// then done whole.
template <typename T>
T atomic_rmw(T* p, T v, T (*op)(T, T)) {
  on_access(reinterpret_cast<std::uintptr_t>(p), sizeof(T), AccessKind::kAtomic,
            reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
  const T old = *p;
  *p = op(old, v);
  return old;
}
float atomic_add(float* p, float v) {
  return atomic_rmw<float>(p, v, [](float x, float y) { return x + y; });
}
int atomic_add(int* p, int v) {
  return atomic_rmw<int>(p, v, [](int x, int y) { return x + y; });
}
unsigned atomic_add(unsigned* p, unsigned v) {
  return atomic_rmw<unsigned>(p, v, [](unsigned x, unsigned y) { return x + y; });
}

void flush_requests(Launch& l, Warp& w) {
  LaunchStats& s = l.stats;
  std::vector<std::uintptr_t> units;
  for (auto& [key, r] : w.requests) {
    units.clear();
    std::uint64_t bytes = 0;
    if (r.kind == 2) {  // shared: wavefronts = most distinct 4-byte words in one bank
      int per_bank[32] = {};
      for (const auto& [a, n] : r.lanes) {
        for (std::uintptr_t word = a / 4; word <= (a + n - 1) / 4; ++word) units.push_back(word);
      }
      std::sort(units.begin(), units.end());
      units.erase(std::unique(units.begin(), units.end()), units.end());
      int wavefronts = 1;
      for (std::uintptr_t word : units) wavefronts = std::max(wavefronts, ++per_bank[word % 32]);
      ++s.shared_requests;
      s.shared_wavefronts += static_cast<std::uint64_t>(wavefronts);
      s.shared_ideal_wavefronts += std::max<std::uint64_t>(1, (units.size() + 31) / 32);
      continue;
    }
    for (const auto& [a, n] : r.lanes) {
      bytes += n;
      for (std::uintptr_t sec = a / 32; sec <= (a + n - 1) / 32; ++sec) units.push_back(sec);
    }
    std::sort(units.begin(), units.end());
    const auto sectors =
        static_cast<std::uint64_t>(std::unique(units.begin(), units.end()) - units.begin());
    if (r.kind == 0) {
      ++s.global_load_requests;
      s.global_load_sectors += sectors;
      s.global_load_bytes += bytes;
    } else {
      ++s.global_store_requests;
      s.global_store_sectors += sectors;
      s.global_store_bytes += bytes;
    }
  }
  w.requests.clear();
}

}  // namespace rnnattn::sim

// The instrumentation's entry points (GCC -fsanitize=thread, with no runtime linked): every
// load and store of kernel code, and the few calls the instrumented standard-library code makes.
namespace {
constexpr auto kRead = rnnattn::sim::AccessKind::kRead;
constexpr auto kWrite = rnnattn::sim::AccessKind::kWrite;
}  // namespace
#define RNNATTN_SIM_HOOK(n)                                                                 \
  extern "C" void __tsan_read##n(void* a) {                                                 \
    rnnattn::sim::on_access(reinterpret_cast<std::uintptr_t>(a), n, kRead,                  \
                            reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))); \
  }                                                                                         \
  extern "C" void __tsan_write##n(void* a) {                                                \
    rnnattn::sim::on_access(reinterpret_cast<std::uintptr_t>(a), n, kWrite,                 \
                            reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))); \
  }                                                                                         \
  extern "C" void __tsan_unaligned_read##n(void* a) {                                       \
    rnnattn::sim::on_access(reinterpret_cast<std::uintptr_t>(a), n, kRead,                  \
                            reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))); \
  }                                                                                         \
  extern "C" void __tsan_unaligned_write##n(void* a) {                                      \
    rnnattn::sim::on_access(reinterpret_cast<std::uintptr_t>(a), n, kWrite,                 \
                            reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))); \
  }
RNNATTN_SIM_HOOK(1)
RNNATTN_SIM_HOOK(2)
RNNATTN_SIM_HOOK(4)
RNNATTN_SIM_HOOK(8)
RNNATTN_SIM_HOOK(16)
#undef RNNATTN_SIM_HOOK

extern "C" void __tsan_read_range(void* a, std::size_t n) {
  rnnattn::sim::on_access(reinterpret_cast<std::uintptr_t>(a), n, kRead,
                          reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
}
extern "C" void __tsan_write_range(void* a, std::size_t n) {
  rnnattn::sim::on_access(reinterpret_cast<std::uintptr_t>(a), n, kWrite,
                          reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
}
extern "C" void __tsan_init() {}
extern "C" void __tsan_func_entry(void*) {}
extern "C" void __tsan_func_exit() {}
extern "C" void __tsan_vptr_update(void**, void*) {}  // host objects' vtables
extern "C" void __tsan_vptr_read(void**) {}
// Atomic loads the instrumented standard library makes (static-local guards); kernels use none.
extern "C" std::uint8_t __tsan_atomic8_load(const volatile std::uint8_t* a, int) {
  return __atomic_load_n(a, __ATOMIC_SEQ_CST);
}
extern "C" std::uint32_t __tsan_atomic32_load(const volatile std::uint32_t* a, int) {
  return __atomic_load_n(a, __ATOMIC_SEQ_CST);
}
extern "C" std::uint64_t __tsan_atomic64_load(const volatile std::uint64_t* a, int) {
  return __atomic_load_n(a, __ATOMIC_SEQ_CST);
}
