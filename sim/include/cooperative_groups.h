// rnnattn GPU simulator: the cooperative-groups subset rnnattn uses (grid-wide sync; thread-block
// clusters with their barrier and distributed shared memory).
#pragma once

#include "rnnattn_sim/device.hpp"

namespace cooperative_groups {

class grid_group {
 public:
  // Every thread of a cooperative launch waits here until all threads of the grid arrive.
  void sync(const char* file = __builtin_FILE(), int line = __builtin_LINE()) const {
    ::rnnattn::sim::grid_barrier(file, line);
  }
  bool is_valid() const { return ::rnnattn::sim::in_cooperative_launch(); }
};

class thread_block {
 public:
  void sync(const char* file = __builtin_FILE(), int line = __builtin_LINE()) const {
    ::rnnattn::sim::block_barrier(file, line);
  }
};

// The calling block's thread-block cluster (a launch with cluster dimensions, sm_90).
class cluster_group {
 public:
  // Every thread of every block of the cluster waits here; orders memory (shared, distributed
  // shared and global) between them, as barrier.cluster.arrive.release / wait.acquire.
  void sync(const char* file = __builtin_FILE(), int line = __builtin_LINE()) const {
    ::rnnattn::sim::cluster_barrier(file, line);
  }
  unsigned block_rank() const { return ::rnnattn::sim::cluster_rank(); }
  unsigned num_blocks() const { return ::rnnattn::sim::cluster_size(); }
  // The address of *addr (the calling block's shared memory) in the shared memory of block
  // `rank` of the cluster.
  template <typename T>
  T* map_shared_rank(T* addr, unsigned rank) const {
    return static_cast<T*>(::rnnattn::sim::cluster_map_shared(addr, rank));
  }
};

inline grid_group this_grid() { return {}; }
inline thread_block this_thread_block() { return {}; }
inline cluster_group this_cluster() { return {}; }

}  // namespace cooperative_groups
