#pragma once
// Matrix-vector and other thin products inside the per-ISA GEMM (gemv_kernels.cpp, same
// namespace).
#include <cstdint>

#include "cpu/gemm/gemm.h"

namespace fastdl::cpu::FASTDL_ISA {

// Thin products stream the big operand once instead of packing it (gemv_kernels.cpp).
inline constexpr int64_t kThinMaxVectors = 8;

// C = alpha * A B + beta * C when m or n is at most kThinMaxVectors and the other operand has a
// unit stride along one of its dimensions; returns false (nothing done) otherwise.
// Instantiated for float and double (gemv_kernels.cpp).
template <typename T>
bool gemv(int64_t m, int64_t n, int64_t k, T alpha, ConstMatrix<T> a, ConstMatrix<T> b, T beta,
          MutMatrix<T> c, int threads);

}  // namespace fastdl::cpu::FASTDL_ISA
