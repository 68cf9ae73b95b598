// rnnattn GPU simulator: thrust::transform_iterator, as far as CUB's offset arguments need it.
#pragma once

namespace thrust {

template <typename F, typename It>
struct transform_iterator {
  It base;
  F f;
  auto operator*() const { return f(*base); }
  auto operator[](long i) const { return f(base[i]); }
  transform_iterator operator+(long i) const { return {base + i, f}; }
};

template <typename It, typename F>
transform_iterator<F, It> make_transform_iterator(It base, F f) {
  return {base, f};
}

}  // namespace thrust
