#pragma once
// Per-ISA entry points; gemm_kernels.cpp is compiled once for each namespace below.
#include "cpu/gemm/gemm.h"

#define FASTDL_DECLARE_GEMM_KERNELS(ns)                                                        \
  namespace ns {                                                                               \
  /* One product, using up to `threads` threads. */                                            \
  void sgemm(int64_t m, int64_t n, int64_t k, float alpha, MatrixRef a, MatrixRef b, float beta, \
             MutMatrixRef c, int threads);                                                     \
  }

namespace fastdl::cpu {
FASTDL_DECLARE_GEMM_KERNELS(avx512)
FASTDL_DECLARE_GEMM_KERNELS(avx2)
FASTDL_DECLARE_GEMM_KERNELS(scalar)
}  // namespace fastdl::cpu
