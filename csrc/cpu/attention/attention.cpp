// Run-time choice of the attention kernels' instruction set (the GEMM's, FASTDL_SIMD).
#include "cpu/attention/attention.h"

#include <algorithm>

#include "common/cpu_features.h"
#include "common/threading.h"
#include "cpu/attention/attention_kernels.h"

namespace fastdl::cpu {
namespace {

// Threads worth forking for one call: a fork/join costs microseconds on an idle core and far more
// when a shared core is busy elsewhere (a KV-cached decoding step measured 50 ms at 2 threads vs
// 0.07 ms at 1 on a loaded VM), so each thread must get about 2 * 96^3 flops, as in the GEMM.
int threads_for(const AttentionShape& s, double passes) {
  constexpr double kMinFlopsPerThread = 2.0 * 96 * 96 * 96;
  const double flops = passes * 2.0 * double(s.batch) * double(s.heads_q) * double(s.len_q) *
                       double(s.len_kv) * double(s.dim_qk + s.dim_v);
  return int(std::clamp<double>(flops / kMinFlopsPerThread, 1.0,
                                double(std::max(num_threads(), 1))));
}

}  // namespace

template <typename T>
RowStats attention_forward(const AttentionShape& s, const T* q, const T* k, const T* v, T* out,
                           T* lse) {
  const int threads = threads_for(s, 1.0);
  switch (active_isa()) {
#ifdef FASTDL_HAVE_ISA_avx512
    case Isa::avx512: return avx512::attention_forward<T>(s, q, k, v, out, lse, threads);
#endif
#ifdef FASTDL_HAVE_ISA_avx2
    case Isa::avx2: return avx2::attention_forward<T>(s, q, k, v, out, lse, threads);
#endif
    default: return scalar::attention_forward<T>(s, q, k, v, out, lse, threads);
  }
}

template <typename T>
void attention_backward(const AttentionShape& s, const T* q, const T* k, const T* v,
                        const T* out, const T* grad_out, const T* lse, T* grad_q, T* grad_k,
                        T* grad_v, T* grad_mask) {
  const int threads = threads_for(s, 2.0);  // backward: about twice the forward's products
  switch (active_isa()) {
#ifdef FASTDL_HAVE_ISA_avx512
    case Isa::avx512:
      return avx512::attention_backward<T>(s, q, k, v, out, grad_out, lse, grad_q, grad_k,
                                           grad_v, grad_mask, threads);
#endif
#ifdef FASTDL_HAVE_ISA_avx2
    case Isa::avx2:
      return avx2::attention_backward<T>(s, q, k, v, out, grad_out, lse, grad_q, grad_k, grad_v,
                                         grad_mask, threads);
#endif
    default:
      return scalar::attention_backward<T>(s, q, k, v, out, grad_out, lse, grad_q, grad_k,
                                           grad_v, grad_mask, threads);
  }
}

#define FASTDL_INSTANTIATE_ATTENTION(T)                                                      \
  template RowStats attention_forward<T>(const AttentionShape&, const T*, const T*, const T*, \
                                         T*, T*);                                            \
  template void attention_backward<T>(const AttentionShape&, const T*, const T*, const T*,    \
                                      const T*, const T*, const T*, T*, T*, T*, T*);
FASTDL_INSTANTIATE_ATTENTION(float)
FASTDL_INSTANTIATE_ATTENTION(double)
#undef FASTDL_INSTANTIATE_ATTENTION

}  // namespace fastdl::cpu
