// rnnattn GPU simulator: thrust::counting_iterator, as far as CUB's offset arguments need it.
#pragma once

namespace thrust {

template <typename T>
struct counting_iterator {
  T value;
  T operator*() const { return value; }
  T operator[](long i) const { return static_cast<T>(value + i); }
  counting_iterator operator+(long i) const { return {static_cast<T>(value + i)}; }
};

template <typename T>
counting_iterator<T> make_counting_iterator(T value) {
  return {value};
}

}  // namespace thrust
