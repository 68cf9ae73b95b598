// rnnattn GPU simulator: cub::DeviceSegmentedReduce::Sum as a plain CPU loop enqueued on the
// stream, with its device reads and writes checked.
#pragma once

#include <cstddef>
#include <type_traits>

#include "cuda_runtime_api.h"
#include "rnnattn_sim/sim.hpp"

namespace cub {

struct DeviceSegmentedReduce {
  // Sums segment s of `in`, [begin[s], end[s]), into out[s]. `in` and `out` are device pointers.
  // With temp == nullptr, only sets temp_bytes (the size query), as CUB does.
  template <typename In, typename Out, typename Offsets>
  static cudaError_t Sum(void* temp, std::size_t& temp_bytes, In in, Out out, int segments,
                         Offsets begin, Offsets end, cudaStream_t stream = nullptr) {
    static_assert(std::is_pointer_v<In> && std::is_pointer_v<Out>,
                  "the simulated CUB reduces device arrays");
    constexpr std::size_t kTempBytes = 256;  // CUB asks for some; the simulator checks it is there
    if (temp == nullptr) {
      temp_bytes = kTempBytes;
      return cudaSuccess;
    }
    if (temp_bytes < kTempBytes) return cudaErrorInvalidValue;
    return ::rnnattn::sim::enqueue_host_op(stream, "cub::DeviceSegmentedReduce::Sum", [=] {
      using namespace ::rnnattn::sim;
      if (!check_library_access(temp, kTempBytes, true, "cub::DeviceSegmentedReduce::Sum temp"))
        return;
      for (int s = 0; s < segments; ++s) {
        const auto b = begin[s], e = end[s];
        using T = std::remove_cv_t<std::remove_pointer_t<Out>>;
        T acc{};
        if (e > b && !check_library_access(in + b, sizeof(*in) * (e - b), false,
                                           "cub::DeviceSegmentedReduce::Sum input"))
          return;
        for (auto i = b; i < e; ++i) acc += in[i];
        if (!check_library_access(out + s, sizeof(T), true,
                                  "cub::DeviceSegmentedReduce::Sum output"))
          return;
        out[s] = acc;
      }
    });
  }
};

}  // namespace cub
