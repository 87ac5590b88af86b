#pragma once
// Per-ISA entry points of the norm family; norm_kernels.cpp and gelu_kernels.cpp are compiled
// once per namespace
// below (cmake/isa.cmake) and instantiated for float and double in each.
#include "cpu/norm/norm.h"

#define FASTDL_DECLARE_NORM_KERNELS(ns)                                                          \
  namespace ns {                                                                                 \
  template <typename T>                                                                          \
  void batch_norm_forward_train(int64_t n, int64_t c, int64_t s, const T* x, const T* weight,    \
                                const T* bias, T eps, T* out, T* mean, T* var, T* invstd,        \
                                int threads);                                                    \
  template <typename T>                                                                          \
  void batch_norm_backward_train(int64_t n, int64_t c, int64_t s, const T* g, const T* x,        \
                                 const T* mean, const T* invstd, const T* weight, T* grad_x,     \
                                 T* sum_g, T* sum_gxhat, int threads);                           \
  template <typename T>                                                                          \
  void layer_norm_forward(int64_t rows, int64_t n, const T* x, const T* weight, const T* bias,   \
                          T eps, T* out, T* mean, T* invstd, int threads);                       \
  template <typename T>                                                                          \
  void layer_norm_backward(int64_t rows, int64_t n, const T* g, const T* x, const T* mean,       \
                           const T* invstd, const T* weight, T* grad_x, T* grad_w, T* grad_b,    \
                           int threads);                                                         \
  template <typename T>                                                                          \
  void gelu_tanh_forward(int64_t count, const T* x, T* out, T* t, int threads);                  \
  template <typename T>                                                                          \
  void gelu_tanh_backward(int64_t count, const T* g, const T* x, const T* t, T* grad_in,         \
                          int threads);                                                          \
  template <typename T>                                                                          \
  void relu_forward(int64_t count, const T* x, T* out, int threads);                             \
  template <typename T>                                                                          \
  void relu_backward(int64_t count, const T* g, const T* out, T* grad_in, int threads);          \
  template <typename T>                                                                          \
  void sgd_update(int64_t count, T* param, const T* grad, T* buf, double lr, double momentum,    \
                  double dampening, double weight_decay, bool nesterov, bool maximize,           \
                  bool first, int threads);                                                      \
  template <typename T>                                                                          \
  void adam_update(int64_t count, T* param, const T* grad, T* exp_avg, T* exp_avg_sq,            \
                   T* max_exp_avg_sq, double lr, double beta1, double beta2, double eps,         \
                   double weight_decay, bool decoupled, bool maximize, double step_size,         \
                   double bias_correction2_sqrt, int threads);                                   \
  }

namespace fastdl::cpu {
FASTDL_DECLARE_NORM_KERNELS(avx512)
FASTDL_DECLARE_NORM_KERNELS(avx2)
FASTDL_DECLARE_NORM_KERNELS(scalar)
}  // namespace fastdl::cpu
