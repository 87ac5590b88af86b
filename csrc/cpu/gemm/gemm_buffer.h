#pragma once
// Per-thread scratch storage for the GEMM kernels, grown on demand and kept: repeated small
// products (batches, RNN steps) allocate nothing after the first call on each thread. Included
// only by per-ISA sources; each ISA's copy lives in its own namespace.
#include <cstdint>
#include <cstdlib>
#include <new>

namespace fastdl::cpu::FASTDL_ISA {

inline int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }
inline int64_t ceil_div(int64_t x, int64_t y) { return (x + y - 1) / y; }

class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer() { std::free(data_); }

  // 64-byte aligned room for `count` elements of type T (float or double: the float and double
  // GEMMs share a thread's buffers); contents are not kept across growth.
  template <typename T = float>
  T* get(int64_t count) {
    const int64_t bytes = round_up(count * int64_t(sizeof(T)), 64);
    if (bytes > capacity_bytes_) {
      std::free(data_);
      data_ = std::aligned_alloc(64, size_t(bytes));
      if (!data_) {
        capacity_bytes_ = 0;
        throw std::bad_alloc();
      }
      capacity_bytes_ = bytes;
    }
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  int64_t capacity_bytes_ = 0;
};

}  // namespace fastdl::cpu::FASTDL_ISA
