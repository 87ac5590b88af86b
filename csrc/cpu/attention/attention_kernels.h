#pragma once
// Per-ISA entry points of the attention kernels (attention_kernels.cpp is compiled once per ISA).
#include "cpu/attention/attention.h"

#define FASTDL_DECLARE_ATTENTION_KERNELS(ns)                                                   \
  namespace ns {                                                                               \
  template <typename T>                                                                        \
  RowStats attention_forward(const AttentionShape& s, const T* q, const T* k, const T* v,      \
                             T* out, T* lse, int threads);                                     \
  template <typename T>                                                                        \
  void attention_backward(const AttentionShape& s, const T* q, const T* k, const T* v,         \
                          const T* out, const T* grad_out, const T* lse, T* grad_q, T* grad_k, \
                          T* grad_v, T* grad_mask, int threads);                               \
  }

namespace fastdl::cpu {
FASTDL_DECLARE_ATTENTION_KERNELS(avx512)
FASTDL_DECLARE_ATTENTION_KERNELS(avx2)
FASTDL_DECLARE_ATTENTION_KERNELS(scalar)
}  // namespace fastdl::cpu
