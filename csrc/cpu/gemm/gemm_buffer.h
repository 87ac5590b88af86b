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

  // 64-byte aligned room for `floats` floats; contents are not kept across growth.
  float* get(int64_t floats) {
    if (floats > capacity_) {
      std::free(data_);
      const size_t bytes = size_t(round_up(floats * int64_t(sizeof(float)), 64));
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!data_) {
        capacity_ = 0;
        throw std::bad_alloc();
      }
      capacity_ = floats;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  int64_t capacity_ = 0;
};

}  // namespace fastdl::cpu::FASTDL_ISA
