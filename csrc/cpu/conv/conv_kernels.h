#pragma once
// Per-ISA entry points of the convolution; conv_kernels.cpp (with the conv_*_kernels.cpp it
// dispatches to) is compiled once per namespace below (cmake/isa.cmake) and instantiated for float
// and double in each.
#include "cpu/conv/conv.h"

#define FASTDL_DECLARE_CONV_KERNELS(ns)                                                        \
  namespace ns {                                                                               \
  template <typename T>                                                                        \
  void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,      \
                    int threads);                                                              \
  template <typename T>                                                                        \
  void conv_backward_input(const ConvGeometry& g, const T* grad_out, const T* w, T* grad_input, \
                           int threads);                                                       \
  template <typename T>                                                                        \
  void conv_backward_weight(const ConvGeometry& g, const T* x, const T* grad_out,              \
                            T* grad_weight, int threads);                                      \
  template <typename T>                                                                        \
  void conv_backward_bias(int64_t batch, int64_t channels, int64_t plane, const T* grad_out,   \
                          T* grad_bias, int threads);                                          \
  }

namespace fastdl::cpu {
FASTDL_DECLARE_CONV_KERNELS(avx512)
FASTDL_DECLARE_CONV_KERNELS(avx2)
FASTDL_DECLARE_CONV_KERNELS(scalar)
}  // namespace fastdl::cpu
