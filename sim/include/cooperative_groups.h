// rnnattn GPU simulator: the cooperative-groups subset rnnattn uses (grid-wide sync).
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

inline grid_group this_grid() { return {}; }
inline thread_block this_thread_block() { return {}; }

}  // namespace cooperative_groups
