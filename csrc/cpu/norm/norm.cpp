// Run-time SIMD dispatch of the norm family (float and double), like conv.cpp.
#include "cpu/norm/norm.h"

#include "common/cpu_features.h"
#include "common/threading.h"
#include "cpu/norm/norm_kernels.h"

namespace fastdl::cpu {

#if defined(FASTDL_HAVE_ISA_avx512) && defined(FASTDL_HAVE_ISA_avx2)
#define FASTDL_NORM_DISPATCH(fn, ...)                 \
  switch (active_isa()) {                             \
    case Isa::avx512: return avx512::fn(__VA_ARGS__); \
    case Isa::avx2: return avx2::fn(__VA_ARGS__);     \
    default: return scalar::fn(__VA_ARGS__);          \
  }
#else
#define FASTDL_NORM_DISPATCH(fn, ...) return scalar::fn(__VA_ARGS__);
#endif

template <typename T>
void batch_norm_forward_train(int64_t n, int64_t c, int64_t s, const T* x, const T* weight,
                              const T* bias, T eps, T* out, T* mean, T* var, T* invstd) {
  FASTDL_NORM_DISPATCH(batch_norm_forward_train<T>, n, c, s, x, weight, bias, eps, out, mean, var,
                       invstd, num_threads())
}
template <typename T>
void batch_norm_backward_train(int64_t n, int64_t c, int64_t s, const T* g, const T* x,
                               const T* mean, const T* invstd, const T* weight, T* grad_x,
                               T* sum_g, T* sum_gxhat) {
  FASTDL_NORM_DISPATCH(batch_norm_backward_train<T>, n, c, s, g, x, mean, invstd, weight, grad_x,
                       sum_g, sum_gxhat, num_threads())
}
template <typename T>
void layer_norm_forward(int64_t rows, int64_t n, const T* x, const T* weight, const T* bias,
                        T eps, T* out, T* mean, T* invstd) {
  FASTDL_NORM_DISPATCH(layer_norm_forward<T>, rows, n, x, weight, bias, eps, out, mean, invstd,
                       num_threads())
}
template <typename T>
void layer_norm_backward(int64_t rows, int64_t n, const T* g, const T* x, const T* mean,
                         const T* invstd, const T* weight, T* grad_x, T* grad_w, T* grad_b) {
  FASTDL_NORM_DISPATCH(layer_norm_backward<T>, rows, n, g, x, mean, invstd, weight, grad_x,
                       grad_w, grad_b, num_threads())
}
template <typename T>
void gelu_tanh_forward(int64_t count, const T* x, T* out, T* t) {
  FASTDL_NORM_DISPATCH(gelu_tanh_forward<T>, count, x, out, t, num_threads())
}
template <typename T>
void gelu_tanh_backward(int64_t count, const T* g, const T* x, const T* t, T* grad_in) {
  FASTDL_NORM_DISPATCH(gelu_tanh_backward<T>, count, g, x, t, grad_in, num_threads())
}
template <typename T>
void relu_forward(int64_t count, const T* x, T* out) {
  FASTDL_NORM_DISPATCH(relu_forward<T>, count, x, out, num_threads())
}
template <typename T>
void relu_backward(int64_t count, const T* g, const T* out, T* grad_in) {
  FASTDL_NORM_DISPATCH(relu_backward<T>, count, g, out, grad_in, num_threads())
}
template <typename T>
void sgd_update(int64_t count, T* param, const T* grad, T* buf, double lr, double momentum,
                double dampening, double weight_decay, bool nesterov, bool maximize, bool first) {
  FASTDL_NORM_DISPATCH(sgd_update<T>, count, param, grad, buf, lr, momentum, dampening,
                       weight_decay, nesterov, maximize, first, num_threads())
}
template <typename T>
void adam_update(int64_t count, T* param, const T* grad, T* exp_avg, T* exp_avg_sq,
                 T* max_exp_avg_sq, double lr, double beta1, double beta2, double eps,
                 double weight_decay, bool decoupled, bool maximize, double step_size,
                 double bias_correction2_sqrt) {
  FASTDL_NORM_DISPATCH(adam_update<T>, count, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq,
                       lr, beta1, beta2, eps, weight_decay, decoupled, maximize, step_size,
                       bias_correction2_sqrt, num_threads())
}
#undef FASTDL_NORM_DISPATCH

#define FASTDL_INSTANTIATE_NORM(T)                                                             \
  template void batch_norm_forward_train<T>(int64_t, int64_t, int64_t, const T*, const T*,     \
                                            const T*, T, T*, T*, T*, T*);                      \
  template void batch_norm_backward_train<T>(int64_t, int64_t, int64_t, const T*, const T*,    \
                                             const T*, const T*, const T*, T*, T*, T*);        \
  template void layer_norm_forward<T>(int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, \
                                      T*);                                                     \
  template void layer_norm_backward<T>(int64_t, int64_t, const T*, const T*, const T*, const T*, \
                                       const T*, T*, T*, T*);                                  \
  template void gelu_tanh_forward<T>(int64_t, const T*, T*, T*);                              \
  template void gelu_tanh_backward<T>(int64_t, const T*, const T*, const T*, T*);             \
  template void relu_forward<T>(int64_t, const T*, T*);                                        \
  template void relu_backward<T>(int64_t, const T*, const T*, T*);                             \
  template void sgd_update<T>(int64_t, T*, const T*, T*, double, double, double, double, bool, \
                              bool, bool);                                                     \
  template void adam_update<T>(int64_t, T*, const T*, T*, T*, T*, double, double, double,       \
                               double, double, bool, bool, double, double);
FASTDL_INSTANTIATE_NORM(float)
FASTDL_INSTANTIATE_NORM(double)
#undef FASTDL_INSTANTIATE_NORM

}  // namespace fastdl::cpu
