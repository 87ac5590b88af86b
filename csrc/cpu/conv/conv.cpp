// Run-time SIMD dispatch of the convolution kernels (float and double), like gemm.cpp.
#include "cpu/conv/conv.h"

#include "common/cpu_features.h"
#include "common/threading.h"
#include "cpu/conv/conv_kernels.h"

namespace fastdl::cpu {

#if defined(FASTDL_HAVE_ISA_avx512) && defined(FASTDL_HAVE_ISA_avx2)
#define FASTDL_CONV_DISPATCH(fn, ...)                          \
  switch (active_isa()) {                                      \
    case Isa::avx512: return avx512::fn(__VA_ARGS__);          \
    case Isa::avx2: return avx2::fn(__VA_ARGS__);              \
    default: return scalar::fn(__VA_ARGS__);                   \
  }
#else
#define FASTDL_CONV_DISPATCH(fn, ...) return scalar::fn(__VA_ARGS__);
#endif

template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out) {
  FASTDL_CONV_DISPATCH(conv_forward<T>, g, x, w, bias, out, num_threads())
}
template <typename T>
void conv_backward_input(const ConvGeometry& g, const T* grad_out, const T* w, T* grad_input) {
  FASTDL_CONV_DISPATCH(conv_backward_input<T>, g, grad_out, w, grad_input, num_threads())
}
template <typename T>
void conv_backward_weight(const ConvGeometry& g, const T* x, const T* grad_out, T* grad_weight) {
  FASTDL_CONV_DISPATCH(conv_backward_weight<T>, g, x, grad_out, grad_weight, num_threads())
}
template <typename T>
void conv_backward_bias(int64_t batch, int64_t channels, int64_t plane, const T* grad_out,
                        T* grad_bias) {
  FASTDL_CONV_DISPATCH(conv_backward_bias<T>, batch, channels, plane, grad_out, grad_bias,
                       num_threads())
}
#undef FASTDL_CONV_DISPATCH

#define FASTDL_INSTANTIATE_CONV(T)                                                         \
  template void conv_forward<T>(const ConvGeometry&, const T*, const T*, const T*, T*);    \
  template void conv_backward_input<T>(const ConvGeometry&, const T*, const T*, T*);       \
  template void conv_backward_weight<T>(const ConvGeometry&, const T*, const T*, T*);      \
  template void conv_backward_bias<T>(int64_t, int64_t, int64_t, const T*, T*);
FASTDL_INSTANTIATE_CONV(float)
FASTDL_INSTANTIATE_CONV(double)
#undef FASTDL_INSTANTIATE_CONV

}  // namespace fastdl::cpu
