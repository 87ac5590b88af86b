#pragma once
// Matrix-vector products inside the per-ISA GEMM (gemv_kernels.cpp, same namespace).
#include <cstdint>

#include "cpu/gemm/gemm.h"

namespace fastdl::cpu::FASTDL_ISA {

// C = alpha * A B + beta * C when m == 1 or n == 1 and the matrix operand has a unit stride along
// one of its dimensions; returns false (nothing done) otherwise.
bool sgemv(int64_t m, int64_t n, int64_t k, float alpha, MatrixRef a, MatrixRef b, float beta,
           MutMatrixRef c, int threads);

}  // namespace fastdl::cpu::FASTDL_ISA
