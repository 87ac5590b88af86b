// Dispatch (run-time SIMD choice), degenerate shapes, and batching strategy for the fp32 GEMM.
#include "cpu/gemm/gemm.h"

#include <algorithm>
#include <exception>

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

// C = beta * C when there is nothing to multiply (k == 0 or alpha == 0); beta == 0 writes zeros
// without reading C.
void scale_c(int64_t m, int64_t n, float beta, MutMatrixRef c) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float& x = c.data[i * c.rs + j * c.cs];
      x = beta == 0.f ? 0.f : beta * x;
    }
}

void sgemm_with(KernelFn kernel, int threads, int64_t m, int64_t n, int64_t k, float alpha,
                MatrixRef a, MatrixRef b, float beta, MutMatrixRef c) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.f) return scale_c(m, n, beta, c);
  kernel(m, n, k, alpha, a, b, beta, c, threads);
}

// Threads take whole products when there are enough of them to share evenly, or when each is
// too small for splitting to pay; otherwise each product uses every thread in turn.
bool split_across_batch(int64_t batch, int64_t m, int64_t n, int64_t k, int threads) {
  if (threads <= 1 || batch < threads) return false;
  const double flops = 2.0 * double(m) * double(n) * double(k);
  constexpr double kSmallProductFlops = 2.0 * 256 * 256 * 256;
  return batch % threads == 0 || batch >= 4 * int64_t(threads) || flops < kSmallProductFlops;
}

template <typename ItemFn>
void run_batch(int64_t batch, int64_t m, int64_t n, int64_t k, ItemFn item) {
  const KernelFn kernel = kernel_for(active_isa());
  const int threads = num_threads();
  if (!split_across_batch(batch, m, n, k, threads)) {
    for (int64_t i = 0; i < batch; ++i) item(kernel, threads, i);
    return;
  }
  std::exception_ptr error;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < batch; ++i) {
    try {
      item(kernel, 1, i);
    } catch (...) {
#pragma omp critical(fastdl_gemm_batch_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace

void sgemm(int64_t m, int64_t n, int64_t k, float alpha, MatrixRef a, MatrixRef b, float beta,
           MutMatrixRef c) {
  sgemm_with(kernel_for(active_isa()), num_threads(), m, n, k, alpha, a, b, beta, c);
}

void sgemm_batch(int64_t batch, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* const* a_ptrs, int64_t a_rs, int64_t a_cs,
                 const float* const* b_ptrs, int64_t b_rs, int64_t b_cs, float beta,
                 float* const* c_ptrs, int64_t c_rs, int64_t c_cs) {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  run_batch(batch, m, n, k, [&](KernelFn kernel, int threads, int64_t i) {
    sgemm_with(kernel, threads, m, n, k, alpha, {a_ptrs[i], a_rs, a_cs}, {b_ptrs[i], b_rs, b_cs},
               beta, {c_ptrs[i], c_rs, c_cs});
  });
}

void sgemm_strided_batch(int64_t batch, int64_t m, int64_t n, int64_t k, float alpha,
                         MatrixRef a, int64_t a_bs, MatrixRef b, int64_t b_bs, float beta,
                         MutMatrixRef c, int64_t c_bs) {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  run_batch(batch, m, n, k, [&](KernelFn kernel, int threads, int64_t i) {
    sgemm_with(kernel, threads, m, n, k, alpha, {a.data + i * a_bs, a.rs, a.cs},
               {b.data + i * b_bs, b.rs, b.cs}, beta, {c.data + i * c_bs, c.rs, c.cs});
  });
}

}  // namespace fastdl::cpu
