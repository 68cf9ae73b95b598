// rnnattn GPU simulator: cub::DeviceRadixSort::SortPairs as a stable CPU sort enqueued on the
// stream (what CUB's radix sort guarantees: ascending keys over bits [begin_bit, end_bit), equal
// keys in their input order), with its device reads and writes checked.
#pragma once

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <type_traits>
#include <vector>

#include "cuda_runtime_api.h"
#include "rnnattn_sim/sim.hpp"

namespace cub {

struct DeviceRadixSort {
  // Sorts n (key, value) pairs from keys_in/values_in into keys_out/values_out (device arrays).
  // With temp == nullptr, only sets temp_bytes (the size query), as CUB does.
  template <typename Key, typename Value>
  static cudaError_t SortPairs(void* temp, std::size_t& temp_bytes, const Key* keys_in,
                               Key* keys_out, const Value* values_in, Value* values_out, int n,
                               int begin_bit = 0, int end_bit = sizeof(Key) * 8,
                               cudaStream_t stream = nullptr) {
    static_assert(std::is_integral_v<Key>, "the simulated radix sort takes integer keys");
    constexpr std::size_t kTempBytes = 512;  // CUB asks for some; the simulator checks it is there
    if (temp == nullptr) {
      temp_bytes = kTempBytes;
      return cudaSuccess;
    }
    if (temp_bytes < kTempBytes || n < 0 || begin_bit < 0 || end_bit > int(sizeof(Key) * 8) ||
        begin_bit >= end_bit) {
      return cudaErrorInvalidValue;
    }
    return ::rnnattn::sim::enqueue_host_op(stream, "cub::DeviceRadixSort::SortPairs", [=] {
      using namespace ::rnnattn::sim;
      const char* who = "cub::DeviceRadixSort::SortPairs";
      if (!check_library_access(temp, kTempBytes, true, who)) return;
      if (n == 0) return;
      if (!check_library_access(keys_in, sizeof(Key) * n, false, who) ||
          !check_library_access(values_in, sizeof(Value) * n, false, who) ||
          !check_library_access(keys_out, sizeof(Key) * n, true, who) ||
          !check_library_access(values_out, sizeof(Value) * n, true, who))
        return;
      using U = std::make_unsigned_t<Key>;
      const U mask = end_bit - begin_bit >= int(sizeof(U) * 8)
                         ? static_cast<U>(~U{0})
                         : static_cast<U>(((U{1} << (end_bit - begin_bit)) - 1) << begin_bit);
      std::vector<int> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        return (static_cast<U>(keys_in[a]) & mask) < (static_cast<U>(keys_in[b]) & mask);
      });
      std::vector<Key> k(n);
      std::vector<Value> v(n);
      for (int i = 0; i < n; ++i) k[i] = keys_in[order[i]], v[i] = values_in[order[i]];
      std::copy(k.begin(), k.end(), keys_out);
      std::copy(v.begin(), v.end(), values_out);
    });
  }
};

}  // namespace cub
