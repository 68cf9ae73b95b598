// rnnattn GPU simulator: kernels on the CPU. Every CUDA thread is a fiber (a stack and a saved
// stack pointer; the switch is a few instructions of assembly on x86-64). Blocks run one after
// another; the blocks of a cooperative launch are all resident at once. Barriers, warp shuffles
// and grid syncs switch fibers until every participant has arrived, and check that they all can:
// a barrier some thread never reaches, divergent barriers, a shuffle whose mask names a lane that
// does not take part, and a deadlock each stop the kernel with a message (a violation).
// The counters of each launch are gathered here too (written by checks.cpp's hooks).
#include <sys/mman.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

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

// ---- shared memory: one 256 KiB slot per resident block in one reserved range ----------------
constexpr std::size_t kSharedSlot = 256 * 1024;
constexpr std::size_t kSharedSlots = 4096;
std::uintptr_t g_shared_base = 0;
std::vector<bool> g_shared_slot_used;
std::vector<Block*> g_shared_slot_owner;  // the resident block of each slot in use

std::uintptr_t align_up(std::uintptr_t v, std::size_t a) { return (v + a - 1) / a * a; }

void init_shared_region() {
  if (g_shared_base) return;
  void* s = ::mmap(nullptr, kSharedSlot * kSharedSlots, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (s == MAP_FAILED) {
    std::fprintf(stderr, "rnnattn-sim: cannot reserve address space for shared memory\n");
    std::abort();
  }
  g_shared_base = reinterpret_cast<std::uintptr_t>(s);
  g_shared_slot_used.assign(kSharedSlots, false);
  g_shared_slot_owner.assign(kSharedSlots, nullptr);
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

// ---- kernel execution
// ----------------------------------------------------------------------------
std::function<void(const LaunchStats&)> g_observer;
bool g_counting_forced = false;
std::FILE* g_stats_file = nullptr;

std::string g_stats_path;

// The order in which blocks, and warps within the resident blocks, run between barriers
// (RNNATTN_SIM_ORDER or set_schedule).
enum class Order { kIndex, kReverse, kShuffle };
struct OrderSetting {
  Order kind = Order::kIndex;
  std::uint64_t seed = 1;
};
OrderSetting g_order;
std::string g_order_text;  // what it was read from
bool g_order_forced = false;
std::uint64_t g_launches = 0;

// Parses "index", "reverse", "shuffle" or "shuffle:SEED".
bool parse_order(const std::string& text, OrderSetting& out) {
  if (text.empty() || text == "index") {
    out = {Order::kIndex, 1};
  } else if (text == "reverse") {
    out = {Order::kReverse, 1};
  } else if (text.rfind("shuffle", 0) == 0) {
    out = {Order::kShuffle, 1};
    if (text.size() > 7) {
      if (text[7] != ':' || text.size() == 8) return false;
      char* end = nullptr;
      out.seed = std::strtoull(text.c_str() + 8, &end, 10);
      if (*end != '\0') return false;
    }
  } else {
    return false;
  }
  return true;
}

// Puts `v` (blocks or warps, in index order, or as the previous pass left them) in the
// schedule's order: as is, reversed, or shuffled from `rng`.
template <typename T>
void in_schedule_order(std::vector<T>& v, std::mt19937_64& rng) {
  if (g_order.kind == Order::kReverse) std::reverse(v.begin(), v.end());
  if (g_order.kind == Order::kShuffle) std::shuffle(v.begin(), v.end(), rng);
}

void read_order() {
  if (g_order_forced) return;
  const char* e = std::getenv("RNNATTN_SIM_ORDER");
  const std::string text = e ? e : "";
  if (text == g_order_text) return;
  if (!parse_order(text, g_order)) {
    std::fprintf(stderr,
                 "rnnattn-sim: RNNATTN_SIM_ORDER='%s' is not index, reverse, shuffle or "
                 "shuffle:SEED\n",
                 text.c_str());
    std::exit(2);
  }
  g_order_text = text;
}

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

}  // namespace

namespace {

unsigned char* take_shared_slot() {
  init_shared_region();
  for (std::size_t i = 0; i < kSharedSlots; ++i) {
    if (!g_shared_slot_used[i]) {
      g_shared_slot_used[i] = true;
      return reinterpret_cast<unsigned char*>(g_shared_base + i * kSharedSlot);
    }
  }
  std::fprintf(stderr, "rnnattn-sim: more than %zu resident blocks\n", kSharedSlots);
  std::abort();
}
std::size_t slot_of(std::uintptr_t a) { return (a - g_shared_base) / kSharedSlot; }
void give_shared_slot(unsigned char* p) {
  const std::size_t slot = slot_of(reinterpret_cast<std::uintptr_t>(p));
  g_shared_slot_used[slot] = false;
  g_shared_slot_owner[slot] = nullptr;
}

std::unique_ptr<Block> make_block(Launch& l, uint3 idx) {
  auto b = std::make_unique<Block>();
  b->idx = idx;
  b->linear = idx.x + l.config.grid.x * (idx.y + l.config.grid.y * idx.z);
  b->launch = &l;
  const dim3 bd = l.config.block;
  const int n = static_cast<int>(bd.x * bd.y * bd.z);
  b->threads.resize(n);
  b->warps.resize((n + 31) / 32);
  if (const unsigned n = l.config.cluster) {
    b->cluster = b->linear / n;
    b->cluster_rank = idx.x % n;
  }
  b->smem = take_shared_slot();
  g_shared_slot_owner[slot_of(reinterpret_cast<std::uintptr_t>(b->smem))] = b.get();
  b->dynamic_bytes = b->total_bytes = l.config.dynamic_smem;
  std::memset(b->smem, 0xFF, b->dynamic_bytes);  // shared memory starts as garbage: NaN
  b->shadow.reset((b->dynamic_bytes + 3) / 4);
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
void run_resident(Launch& l, std::mt19937_64& rng) {
  // The warps in the schedule's order (lanes in order within a warp); a shuffled schedule draws
  // a new order for every pass over the threads.
  std::vector<std::pair<Block*, int>> warps;
  for (Block* b : l.resident) {
    for (int w = 0; w < static_cast<int>(b->warps.size()); ++w) warps.emplace_back(b, w);
  }
  std::vector<ThreadState*> all;
  const auto arrange = [&] {
    in_schedule_order(warps, rng);
    all.clear();
    for (auto& [b, w] : warps) {
      const int end = std::min<int>((w + 1) * 32, static_cast<int>(b->threads.size()));
      for (int i = w * 32; i < end; ++i) all.push_back(&b->threads[i]);
    }
  };
  arrange();
  std::size_t done = 0;
  for (bool first = true; done < all.size() && !l.failed; first = false) {
    bool moved = false;
    if (!first && g_order.kind == Order::kShuffle) arrange();
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
          for (const Rendezvous& r : w.pending) {
            if (!(r.arrived >> t->lane & 1u)) continue;
            char mask[16];
            std::snprintf(mask, sizeof mask, "0x%08x", r.mask);
            who += std::string(r.is_shuffle ? "a shuffle" : "__syncwarp") + " (" +
                   site(r.file, r.line) + ", mask " + mask + ")";
          }
        } else if (t->state == State::kClusterSync) {
          who += "a cluster sync";
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
  if (!l.counting) {  // the observer still hears of the launch: its counters stay zero
    if (g_observer) g_observer(l.stats);
    return;
  }
  if (std::FILE* f = stats_file()) {
    const LaunchStats& s = l.stats;
    std::fprintf(
        f,
        "{\"kernel\":\"%s\",\"grid\":[%u,%u,%u],\"block\":[%u,%u,%u],"
        "\"dynamic_smem_bytes\":%zu,\"barriers\":%" PRIu64 ",\"global_load_requests\":%" PRIu64
        ",\"global_load_sectors\":%" PRIu64 ",\"global_load_bytes\":%" PRIu64
        ",\"global_store_requests\":%" PRIu64 ",\"global_store_sectors\":%" PRIu64
        ",\"global_store_bytes\":%" PRIu64 ",\"shared_requests\":%" PRIu64
        ",\"shared_wavefronts\":%" PRIu64 ",\"shared_ideal_wavefronts\":%" PRIu64 "}\n",
        s.kernel.c_str(), s.grid.x, s.grid.y, s.grid.z, s.block.x, s.block.y, s.block.z,
        s.dynamic_smem_bytes, s.barriers, s.global_load_requests, s.global_load_sectors,
        s.global_load_bytes, s.global_store_requests, s.global_store_sectors, s.global_store_bytes,
        s.shared_requests, s.shared_wavefronts, s.shared_ideal_wavefronts);
    std::fflush(f);
  }
  if (g_observer) g_observer(l.stats);
}

}  // namespace

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
  l.stats.waves = launch_waves(l.config);
  l.stats.signature = kernel_resources(l.config.func).signature;
  l.op = g_current_op;
  l.grid_epoch = 1;
  l.cluster_epoch = 0;
  const dim3 g = l.config.grid;
  const std::size_t blocks = static_cast<std::size_t>(g.x) * g.y * g.z;
  const auto index = [&](std::size_t i) {
    return uint3{static_cast<unsigned>(i % g.x), static_cast<unsigned>(i / g.x % g.y),
                 static_cast<unsigned>(i / (static_cast<std::size_t>(g.x) * g.y))};
  };
  read_order();
  // Each launch's own stream of random orders: the same seed replays the same schedules.
  std::mt19937_64 rng(g_order.seed * 0x9E3779B97F4A7C15ull + ++g_launches);
  if (const unsigned n = l.config.cluster) {
    // One cluster at a time, its blocks all resident (in rank order in cluster_blocks); the
    // clusters in the schedule's order.
    const std::size_t clusters = blocks / n;
    std::vector<std::size_t> order(clusters);
    for (std::size_t i = 0; i < clusters; ++i) order[i] = i;
    in_schedule_order(order, rng);
    for (std::size_t i = 0; i < clusters && !l.failed; ++i) {
      std::vector<std::unique_ptr<Block>> members;
      l.cluster_blocks.clear();
      for (unsigned r = 0; r < n; ++r) {
        members.push_back(make_block(l, index(order[i] * n + r)));
        l.cluster_blocks.push_back(members.back().get());
      }
      l.resident = l.cluster_blocks;
      l.cluster_threads = static_cast<int>(n * members.front()->threads.size());
      l.cluster_arrived = 0;
      ++l.cluster_epoch;  // a fresh interval (blocks of other clusters never compare with it)
      run_resident(l, rng);
      for (auto& b : members) release_block(*b);
    }
    l.cluster_blocks.clear();
  } else if (l.config.cooperative) {
    std::vector<std::unique_ptr<Block>> all;
    // All resident: run_resident orders their warps.
    for (std::size_t i = 0; i < blocks; ++i) all.push_back(make_block(l, index(i)));
    l.resident.clear();
    for (auto& b : all) l.resident.push_back(b.get());
    l.grid_threads = static_cast<int>(blocks * all.front()->threads.size());
    run_resident(l, rng);
    for (auto& b : all) release_block(*b);
  } else {
    std::vector<std::size_t> order(blocks);  // blocks run one after another, in this order
    for (std::size_t i = 0; i < blocks; ++i) order[i] = i;
    in_schedule_order(order, rng);
    for (std::size_t i = 0; i < blocks && !l.failed; ++i) {
      std::unique_ptr<Block> b = make_block(l, index(order[i]));
      l.resident = {b.get()};
      run_resident(l, rng);
      release_block(*b);
    }
  }
  l.resident.clear();
  if (!l.failed) finish_stats(l);
}

namespace {

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
  for (const Rendezvous& r : w.pending) {
    if (r.mask >> t.lane & 1u) {
      kernel_violation(cudaErrorLaunchFailure,
                       "exited while lanes of its warp wait for it at " +
                           std::string(r.is_shuffle ? "a shuffle" : "__syncwarp") + " (" +
                           site(r.file, r.line) + ") whose mask names it");
    }
  }
  if (l.grid_arrived > 0) {
    kernel_violation(cudaErrorLaunchFailure,
                     "exited while other threads wait at a grid sync: every thread of a "
                     "cooperative launch must reach it");
  }
  if (l.cluster_arrived > 0) {
    kernel_violation(cudaErrorLaunchFailure,
                     "exited while other threads of its cluster wait at cluster.sync(): every "
                     "thread of the cluster must reach it");
  }
  if (b.exited == static_cast<int>(b.threads.size()) && b.remote_cepoch != 0 &&
      b.remote_cepoch == l.cluster_epoch) {
    // Checked by intervals, not by what this schedule ran first: an access after the exit is
    // caught at the access (checks.cpp), one before it in the same interval here.
    kernel_violation(cudaErrorLaunchFailure,
                     "its block exited while another block of its cluster reached its shared "
                     "memory with no cluster.sync() between them: a block's shared memory is "
                     "gone when it exits, so a cluster that reaches its blocks' shared memory "
                     "ends with cluster.sync()");
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

namespace {
// A grid or cluster barrier completed: each of `blocks` enters a new barrier interval (counted as
// one barrier each), its warps' requests are counted, and its threads waiting in `waiting` run on.
void release_blocks(Launch& l, const std::vector<Block*>& blocks, State waiting) {
  for (Block* b : blocks) {
    ++b->epoch;
    ++l.stats.barriers;
    if (l.counting) {
      for (Warp& w : b->warps) flush_requests(l, w);
    }
    for (ThreadState& o : b->threads) {
      if (o.state == waiting) o.state = State::kRunnable;
    }
  }
}
}  // namespace

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
    ++l.grid_epoch;
    release_blocks(l, l.resident, State::kGridSync);
    return;
  }
  t.state = State::kGridSync;
  yield(t);
}

void cluster_barrier(const char* file, int line) {
  ThreadState& t = *t_current;
  Launch& l = *t.launch;
  if (l.config.cluster == 0) {
    kernel_violation(cudaErrorLaunchFailure, "cluster sync (" + site(file, line) +
                                                 ") in a launch without cluster dimensions");
  }
  for (const Block* b : l.cluster_blocks) {
    if (b->exited > 0) {
      kernel_violation(cudaErrorLaunchFailure,
                       "reached cluster.sync() (" + site(file, line) +
                           "), which a thread of block (" + std::to_string(b->idx.x) + "," +
                           std::to_string(b->idx.y) + "," + std::to_string(b->idx.z) +
                           ") of the cluster never reaches: it exited before it");
    }
  }
  if (++l.cluster_arrived == l.cluster_threads) {
    l.cluster_arrived = 0;
    ++l.cluster_epoch;
    release_blocks(l, l.cluster_blocks, State::kClusterSync);
    return;
  }
  t.state = State::kClusterSync;
  yield(t);
}

unsigned cluster_rank() { return t_current->block->cluster_rank; }
unsigned cluster_size() {
  const unsigned n = t_current->launch->config.cluster;
  return n ? n : 1;
}

void* cluster_map_shared(const void* p, unsigned rank) {
  ThreadState& t = *t_current;
  const Block& b = *t.block;
  const auto a = reinterpret_cast<std::uintptr_t>(p),
             base = reinterpret_cast<std::uintptr_t>(b.smem);
  if (a < base || a >= base + b.total_bytes) {
    kernel_violation(cudaErrorIllegalAddress,
                     "map_shared_rank of an address that is not in the block's shared memory");
  }
  if (rank >= cluster_size()) {
    kernel_violation(cudaErrorIllegalAddress, "map_shared_rank to rank " + std::to_string(rank) +
                                                  " of a cluster of " +
                                                  std::to_string(cluster_size()) + " blocks");
  }
  if (t.launch->config.cluster == 0) return const_cast<void*>(p);
  return t.launch->cluster_blocks[rank]->smem + (a - base);
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
  // The rendezvous this lane joins: the pending one with the same mask, else a new one. Masks
  // that overlap without being equal cannot both be satisfied.
  Rendezvous* r = nullptr;
  for (Rendezvous& p : w.pending) {
    if ((p.mask & mask) == 0) continue;
    if (p.mask != mask || p.line != line || std::strcmp(p.file, file) != 0 ||
        p.is_shuffle != is_shuffle) {
      char other[16];
      std::snprintf(other, sizeof other, "0x%08x", p.mask);
      kernel_violation(cudaErrorLaunchFailure,
                       std::string(what) + " at " + site(file, line) + " (mask " + hex +
                           ") while other lanes of its warp wait at " + site(p.file, p.line) +
                           " (mask " + other + "): the lanes a mask names must all take part");
    }
    r = &p;
  }
  if (!r) {
    w.pending.push_back(Rendezvous{mask, 0, file, line, is_shuffle});
    r = &w.pending.back();
  }
  w.values[t.lane] = value;
  w.src[t.lane] = src;
  r->arrived |= 1u << t.lane;
  if (r->arrived != r->mask) {
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
  if (!is_shuffle) {
    // __syncwarp orders memory among the lanes it names: record that each pair took part.
    if (!w.pairs) w.pairs.reset(new std::uint32_t[32 * 32]());
    const std::uint32_t stamp = ++w.syncs;
    for (std::uint32_t a = mask; a; a &= a - 1) {
      for (std::uint32_t c = mask; c; c &= c - 1) {
        w.pairs[__builtin_ctz(a) * 32 + __builtin_ctz(c)] = stamp;
      }
    }
  }
  w.pending.erase(w.pending.begin() + (r - w.pending.data()));
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
  // The launch was checked against the table's static bytes: a kernel declaring more than the
  // table says was compiled from other sources than the table (regenerate it).
  const KernelResources& k = kernel_resources(b.launch->config.func);
  b.static_bytes += bytes;
  if (k.listed && b.static_bytes > k.static_smem) {
    kernel_violation(cudaErrorLaunchOutOfResources,
                     "static shared memory of " + std::to_string(b.static_bytes) +
                         " bytes exceeds the " + std::to_string(k.static_smem) +
                         " bytes of the kernel's row in the resource table "
                         "(sim/kernel_resources.tsv: regenerate it, tools/resource_table.py)");
  }
  if (off + bytes > kSmemPerBlockOptin) {
    kernel_violation(cudaErrorLaunchOutOfResources,
                     "static shared memory of " + std::to_string(bytes) + " bytes after " +
                         std::to_string(off) + " bytes exceeds the block limit of " +
                         std::to_string(kSmemPerBlockOptin));
  }
  std::memset(b.smem + b.total_bytes, 0xFF, off + bytes - b.total_bytes);
  b.total_bytes = off + bytes;
  b.shadow.grow((b.total_bytes + 3) / 4);
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
  set_sticky_error(code, msg);
}

void kernel_violation(cudaError_t code, const std::string& what) {
  raise_violation(code, what);
  switch_to_scheduler(*t_current);
}

bool in_shared_range(std::uintptr_t a) {
  return a >= g_shared_base && a < g_shared_base + kSharedSlot * kSharedSlots;
}
Block* shared_owner(std::uintptr_t a) { return g_shared_slot_owner[slot_of(a)]; }

void set_counting(bool on) { g_counting_forced = on; }
bool set_schedule(const std::string& order) {
  if (order.empty()) {
    g_order_forced = false;
    g_order_text = "\x01";  // read the environment again at the next launch
    return true;
  }
  OrderSetting o;
  if (!parse_order(order, o)) return false;
  g_order = o;
  g_order_forced = true;
  return true;
}
std::string schedule() {
  const char* names[] = {"index", "reverse", "shuffle"};
  std::string s = names[static_cast<int>(g_order.kind)];
  if (g_order.kind == Order::kShuffle) s += ":" + std::to_string(g_order.seed);
  return s;
}
void set_launch_observer(std::function<void(const LaunchStats&)> observer) {
  g_observer = std::move(observer);
}

}  // namespace rnnattn::sim
