// Independent runs side by side (internal): each on a backend and a host thread of its own, at
// most `width` at a time, their results handed over in run order, so that a report reads as if
// they ran one after another. On the CPU each run takes one of the fast path's threads (its bits
// are then those of one thread); on the GPU each has its own stream and cuBLAS handle, so that
// their small kernels overlap and several runs cost about one run's time.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "rnnattn/backend.hpp"

namespace rnnattn {

// How many of `runs` runs go side by side on `backend`: on the CPU paths one a thread of
// cpu_threads(); on the GPU as many, up to 32; elsewhere one.
inline int side_by_side_width(const Backend& backend, std::size_t runs) {
  constexpr std::size_t kGpuSideBySide = 32;
  const std::string name = backend.name();
  const std::size_t threads = static_cast<std::size_t>(std::max(1, cpu_threads()));
  if (name == "cpu" || name == "reference") return static_cast<int>(std::min(runs, threads));
  if (name == "cuda" || name == "cuda-unfused") {
    return static_cast<int>(std::min({runs, threads, kGpuSideBySide}));
  }
  return 1;
}

// Runs 0..runs-1. `announce(i)` is called on this thread before run i's result is awaited (or,
// at width 1, before it runs); `run(backend, i, alone)` computes it (alone: at width 1, on
// `backend` itself, with the fast path's threads to itself); `deliver(i, result)` receives it on
// this thread, in run order. A run's exception is rethrown when its turn comes, once the workers
// have stopped.
template <typename Result, typename Run, typename Announce, typename Deliver>
void run_side_by_side(std::size_t runs, int width, Backend& backend, Run run, Announce announce,
                      Deliver deliver) {
  if (width <= 1) {
    for (std::size_t i = 0; i < runs; ++i) {
      announce(i);
      Result r = run(backend, i, true);
      deliver(i, r);
    }
    return;
  }
  std::vector<std::optional<Result>> done(runs);
  std::vector<std::exception_ptr> failed(runs);
  std::mutex mutex;
  std::condition_variable finished;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  const std::string device = backend.name();
  // Joins the workers however this scope is left, and gives the fast path its threads back.
  struct Joiner {
    std::vector<std::thread>& threads;
    std::atomic<bool>& stop;
    int cpu_threads_before;
    ~Joiner() {
      stop = true;
      for (std::thread& t : threads) t.join();
      set_cpu_threads(cpu_threads_before);
    }
  } joiner{workers, stop, cpu_threads()};
  set_cpu_threads(1);
  for (int w = 0; w < width; ++w) {
    workers.emplace_back([&] {
      const std::unique_ptr<Backend> be = make_backend(parse_device(device));
      for (std::size_t i; !stop && (i = next++) < runs;) {
        std::optional<Result> out;
        std::exception_ptr error;
        try {
          out.emplace(run(*be, i, false));
        } catch (...) {
          error = std::current_exception();
        }
        const std::lock_guard<std::mutex> lock(mutex);
        done[i] = std::move(out);
        failed[i] = error;
        finished.notify_all();
      }
    });
  }
  for (std::size_t i = 0; i < runs; ++i) {
    announce(i);
    std::optional<Result> r;
    {
      std::unique_lock<std::mutex> lock(mutex);
      finished.wait(lock, [&] { return done[i].has_value() || failed[i]; });
      if (failed[i]) std::rethrow_exception(failed[i]);
      r = std::move(done[i]);
      done[i].reset();
    }
    deliver(i, *r);
  }
}

}  // namespace rnnattn
