#include "cpu/gemm/gemm.h"

#include <algorithm>

#include "common/cpu_features.h"
#include "common/threading.h"
#include "cpu/gemm/gemm_kernels.h"

namespace fastdl::cpu {
namespace {

using KernelFn = void (*)(int64_t, int64_t, int64_t, float, MatrixRef, MatrixRef, float,
                          MutMatrixRef, int);

KernelFn kernel_for(Isa isa) {
  switch (isa) {
#ifdef FASTDL_HAVE_ISA_avx512
    case Isa::avx512: return avx512::sgemm;
#endif
#ifdef FASTDL_HAVE_ISA_avx2
    case Isa::avx2: return avx2::sgemm;
#endif
    default: return scalar::sgemm;
  }
}

// C = beta * C for an empty inner dimension (k == 0), honouring "beta == 0 never reads C".
void scale_c(int64_t m, int64_t n, float beta, MutMatrixRef c) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float& x = c.data[i * c.rs + j * c.cs];
      x = beta == 0.f ? 0.f : beta * x;
    }
}

}  // namespace

void sgemm(int64_t m, int64_t n, int64_t k, float alpha, MatrixRef a, MatrixRef b, float beta,
           MutMatrixRef c) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.f) return scale_c(m, n, beta, c);
  kernel_for(active_isa())(m, n, k, alpha, a, b, beta, c, num_threads());
}

void sgemm_batch(int64_t batch, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* const* a_ptrs, int64_t a_rs, int64_t a_cs,
                 const float* const* b_ptrs, int64_t b_rs, int64_t b_cs, float beta,
                 float* const* c_ptrs, int64_t c_rs, int64_t c_cs) {
  for (int64_t i = 0; i < batch; ++i)
    sgemm(m, n, k, alpha, {a_ptrs[i], a_rs, a_cs}, {b_ptrs[i], b_rs, b_cs}, beta,
          {c_ptrs[i], c_rs, c_cs});
}

void sgemm_strided_batch(int64_t batch, int64_t m, int64_t n, int64_t k, float alpha,
                         MatrixRef a, int64_t a_bs, MatrixRef b, int64_t b_bs, float beta,
                         MutMatrixRef c, int64_t c_bs) {
  for (int64_t i = 0; i < batch; ++i)
    sgemm(m, n, k, alpha, {a.data + i * a_bs, a.rs, a.cs}, {b.data + i * b_bs, b.rs, b.cs}, beta,
          {c.data + i * c_bs, c.rs, c.cs});
}

}  // namespace fastdl::cpu
