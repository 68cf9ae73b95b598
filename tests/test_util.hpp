// Helpers shared by the tests: random tensors with distinct seeds, tolerance checks that print
// the first mismatches.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "rnnattn/random.hpp"

namespace rnnattn::test {

// A fresh, uniquely named folder under the temporary directory (mkdtemp), removed with everything
// in it when the object dies: two test runs on one machine never share a path.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix) {
    std::string tmpl = ::testing::TempDir() + prefix + "_XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A whole file's bytes ("" when it cannot be read), and a file written with exactly `bytes`.
inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
inline void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

template <typename Real>
std::vector<Real> random_vector(std::size_t n, std::uint64_t seed, double lo = -1.0,
                                double hi = 1.0) {
  Rng rng(seed);
  std::vector<Real> v(n);
  for (auto& x : v) x = static_cast<Real>(rng.uniform(lo, hi));
  return v;
}

// |got - want| <= abs_tol + rel_tol * |want| elementwise; reports the first few failures.
template <typename A, typename B>
::testing::AssertionResult all_close(const std::string& what, const std::vector<A>& got,
                                     const std::vector<B>& want, double abs_tol, double rel_tol) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure()
           << what << ": size " << got.size() << " vs " << want.size();
  }
  int bad = 0;
  std::string msg;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    if (!(std::fabs(g - w) <= abs_tol + rel_tol * std::fabs(w))) {
      if (bad < 5) {
        msg += "\n  " + what + "[" + std::to_string(i) + "]: got " + std::to_string(g) + " want " +
               std::to_string(w) + " (diff " + std::to_string(g - w) + ")";
      }
      ++bad;
    }
  }
  if (bad) {
    return ::testing::AssertionFailure()
           << what << ": " << bad << " of " << got.size() << " elements out of tolerance (abs "
           << abs_tol << ", rel " << rel_tol << ")" << msg;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace rnnattn::test
