// Dispatch (run-time SIMD choice), degenerate shapes, and batching strategy for the GEMM
// (float and double alike).
#include "cpu/gemm/gemm.h"

#include <algorithm>
#include <exception>

#include "common/cpu_features.h"
#include "common/threading.h"
#include "cpu/gemm/gemm_kernels.h"

namespace fastdl::cpu {
namespace {

template <typename T>
using KernelFn = void (*)(int64_t, int64_t, int64_t, T, ConstMatrix<T>, ConstMatrix<T>, T,
                          MutMatrix<T>, int);

template <typename T>
KernelFn<T> kernel_for(Isa isa) {
  switch (isa) {
#ifdef FASTDL_HAVE_ISA_avx512
    case Isa::avx512: return avx512::gemm<T>;
#endif
#ifdef FASTDL_HAVE_ISA_avx2
    case Isa::avx2: return avx2::gemm<T>;
#endif
    default: return scalar::gemm<T>;
  }
}

// C = beta * C when there is nothing to multiply (k == 0 or alpha == 0); beta == 0 writes zeros
// without reading C.
template <typename T>
void scale_c(int64_t m, int64_t n, T beta, MutMatrix<T> c) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T& x = c.data[i * c.rs + j * c.cs];
      x = beta == T(0) ? T(0) : beta * x;
    }
}

template <typename T>
void gemm_with(KernelFn<T> kernel, int threads, int64_t m, int64_t n, int64_t k, T alpha,
               ConstMatrix<T> a, ConstMatrix<T> b, T beta, MutMatrix<T> c) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == T(0)) return scale_c(m, n, beta, c);
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

template <typename T, typename ItemFn>
void run_batch(int64_t batch, int64_t m, int64_t n, int64_t k, ItemFn item) {
  const KernelFn<T> kernel = kernel_for<T>(active_isa());
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

template <typename T>
void gemm(int64_t m, int64_t n, int64_t k, T alpha, ConstMatrix<T> a, ConstMatrix<T> b, T beta,
          MutMatrix<T> c) {
  gemm_with(kernel_for<T>(active_isa()), num_threads(), m, n, k, alpha, a, b, beta, c);
}

template <typename T>
void gemm_batch(int64_t batch, int64_t m, int64_t n, int64_t k, T alpha, const T* const* a_ptrs,
                int64_t a_rs, int64_t a_cs, const T* const* b_ptrs, int64_t b_rs, int64_t b_cs,
                T beta, T* const* c_ptrs, int64_t c_rs, int64_t c_cs) {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  run_batch<T>(batch, m, n, k, [&](KernelFn<T> kernel, int threads, int64_t i) {
    gemm_with(kernel, threads, m, n, k, alpha, ConstMatrix<T>{a_ptrs[i], a_rs, a_cs},
              ConstMatrix<T>{b_ptrs[i], b_rs, b_cs}, beta, MutMatrix<T>{c_ptrs[i], c_rs, c_cs});
  });
}

template <typename T>
void gemm_strided_batch(int64_t batch, int64_t m, int64_t n, int64_t k, T alpha,
                        ConstMatrix<T> a, int64_t a_bs, ConstMatrix<T> b, int64_t b_bs, T beta,
                        MutMatrix<T> c, int64_t c_bs) {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  run_batch<T>(batch, m, n, k, [&](KernelFn<T> kernel, int threads, int64_t i) {
    gemm_with(kernel, threads, m, n, k, alpha, ConstMatrix<T>{a.data + i * a_bs, a.rs, a.cs},
              ConstMatrix<T>{b.data + i * b_bs, b.rs, b.cs}, beta,
              MutMatrix<T>{c.data + i * c_bs, c.rs, c.cs});
  });
}

#define FASTDL_INSTANTIATE_GEMM(T)                                                             \
  template void gemm<T>(int64_t, int64_t, int64_t, T, ConstMatrix<T>, ConstMatrix<T>, T,       \
                        MutMatrix<T>);                                                         \
  template void gemm_batch<T>(int64_t, int64_t, int64_t, int64_t, T, const T* const*, int64_t, \
                              int64_t, const T* const*, int64_t, int64_t, T, T* const*,        \
                              int64_t, int64_t);                                               \
  template void gemm_strided_batch<T>(int64_t, int64_t, int64_t, int64_t, T, ConstMatrix<T>,   \
                                      int64_t, ConstMatrix<T>, int64_t, T, MutMatrix<T>,       \
                                      int64_t);
FASTDL_INSTANTIATE_GEMM(float)
FASTDL_INSTANTIATE_GEMM(double)
#undef FASTDL_INSTANTIATE_GEMM

}  // namespace fastdl::cpu
