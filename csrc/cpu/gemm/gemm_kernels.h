#pragma once
// Per-ISA entry points; gemm_kernels.cpp is compiled once for each namespace below and
// instantiates gemm<float> and gemm<double> in each.
#include "cpu/gemm/gemm.h"

#define FASTDL_DECLARE_GEMM_KERNELS(ns)                                                    \
  namespace ns {                                                                           \
  /* One product, using up to `threads` threads. */                                        \
  template <typename T>                                                                    \
  void gemm(int64_t m, int64_t n, int64_t k, T alpha, ConstMatrix<T> a, ConstMatrix<T> b,  \
            T beta, MutMatrix<T> c, int threads);                                          \
  }

namespace fastdl::cpu {
FASTDL_DECLARE_GEMM_KERNELS(avx512)
FASTDL_DECLARE_GEMM_KERNELS(avx2)
FASTDL_DECLARE_GEMM_KERNELS(scalar)
}  // namespace fastdl::cpu
