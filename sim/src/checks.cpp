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

void global_access(ThreadState& t, std::uintptr_t a, std::size_t n, bool write,
                   std::uintptr_t site) {
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
  if (write) {
    for (std::size_t i = 0; i < n; ++i) w[i] = 1;
  } else {
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
  if (t.launch->counting) record(t, site, a, static_cast<std::uint32_t>(n), write ? 1 : 0);
}

void shared_access(ThreadState& t, std::uintptr_t a, std::size_t n, bool write,
                   std::uintptr_t site) {
  Block& b = *t.block;
  const auto base = reinterpret_cast<std::uintptr_t>(b.smem);
  if (a < base || a + n > base + b.total_bytes) {
    kernel_violation(cudaErrorIllegalAddress,
                     std::string("out-of-bounds shared-memory ") + (write ? "store" : "load") +
                         " of " + std::to_string(n) + " bytes at offset " +
                         std::to_string(static_cast<long long>(a - base)) + " (the block has " +
                         std::to_string(b.total_bytes) + " bytes of shared memory)");
  }
  if ((n & (n - 1)) == 0 && a % n != 0) {
    kernel_violation(cudaErrorMisalignedAddress, "misaligned shared-memory access of " +
                                                     std::to_string(n) + " bytes at offset " +
                                                     std::to_string(a - base));
  }
  const std::size_t first = (a - base) / 4, last = (a - base + n - 1) / 4;
  for (std::size_t i = first; i <= last; ++i) {
    SharedWord& s = b.shadow[i];
    const char* hazard = nullptr;
    int other = -1;
    if (s.write_epoch == b.epoch && s.writer != t.tid) {
      hazard = write ? "write after another thread's write" : "read of another thread's write";
      other = s.writer;
    } else if (write && s.read_epoch == b.epoch && s.reader != t.tid) {
      hazard = "write after another thread's read";
      other = s.reader;
    }
    if (hazard) {
      std::string who = other >= 0 ? thread_name(b.threads[other]) : std::string("several threads");
      kernel_violation(cudaErrorLaunchFailure, std::string("shared-memory race at offset ") +
                                                   std::to_string(i * 4) + ": " + hazard + " (" +
                                                   who + ") with no __syncthreads between them");
    }
    if (write) {
      s.write_epoch = b.epoch;
      s.writer = t.tid;
    } else if (s.read_epoch != b.epoch) {
      s.read_epoch = b.epoch;
      s.reader = t.tid;
    } else if (s.reader != t.tid) {
      s.reader = -2;
    }
  }
  if (t.launch->counting) record(t, site, a, static_cast<std::uint32_t>(n), 2);
}

inline void on_access(std::uintptr_t a, std::size_t n, bool write, std::uintptr_t site) {
  ThreadState* t = t_current;
  if (!t || t_in_hook) return;  // host code, or the simulator's own work inside a hook
  if (in_shared_range(a)) {
    t_in_hook = true;
    shared_access(*t, a, n, write, site);
    t_in_hook = false;
  } else if (in_device_range(a)) {
    t_in_hook = true;
    global_access(*t, a, n, write, site);
    t_in_hook = false;
  }
  // Anything else is the thread's own stack (locals, the kernel's parameters) or host memory
  // the simulator itself reads through inlined library code.
}

}  // namespace

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
#define RNNATTN_SIM_HOOK(n)                                                                 \
  extern "C" void __tsan_read##n(void* a) {                                                 \
    rnnattn::sim::on_access(reinterpret_cast<std::uintptr_t>(a), n, false,                  \
                            reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))); \
  }                                                                                         \
  extern "C" void __tsan_write##n(void* a) {                                                \
    rnnattn::sim::on_access(reinterpret_cast<std::uintptr_t>(a), n, true,                   \
                            reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))); \
  }                                                                                         \
  extern "C" void __tsan_unaligned_read##n(void* a) {                                       \
    rnnattn::sim::on_access(reinterpret_cast<std::uintptr_t>(a), n, false,                  \
                            reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))); \
  }                                                                                         \
  extern "C" void __tsan_unaligned_write##n(void* a) {                                      \
    rnnattn::sim::on_access(reinterpret_cast<std::uintptr_t>(a), n, true,                   \
                            reinterpret_cast<std::uintptr_t>(__builtin_return_address(0))); \
  }
RNNATTN_SIM_HOOK(1)
RNNATTN_SIM_HOOK(2)
RNNATTN_SIM_HOOK(4)
RNNATTN_SIM_HOOK(8)
RNNATTN_SIM_HOOK(16)
#undef RNNATTN_SIM_HOOK

extern "C" void __tsan_read_range(void* a, std::size_t n) {
  rnnattn::sim::on_access(reinterpret_cast<std::uintptr_t>(a), n, false,
                          reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
}
extern "C" void __tsan_write_range(void* a, std::size_t n) {
  rnnattn::sim::on_access(reinterpret_cast<std::uintptr_t>(a), n, true,
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
