#pragma once
// GEMM, BLAS/BLIS style: C = alpha * A B + beta * C with A m x k, B k x n, C m x n, for T = float
// or double (one templated body; the float32 and float64 instantiations share packing, blocking,
// edge handling and threading, with blocking and micro-kernels sized per element type).
// Every matrix is addressed by element strides, x[i * rs + j * cs], so a transpose or any strided
// view (numpy's, cupy's) is a pair of swapped strides, never a copy. Strides may be zero or negative
// for inputs; C must not overlap A or B. With beta == 0, C is never read.
#include <cstdint>

namespace fastdl::cpu {

template <typename T>
struct ConstMatrix {
  const T* data;
  int64_t rs, cs;  // row stride, column stride, in elements
};

template <typename T>
struct MutMatrix {
  T* data;
  int64_t rs, cs;
};

using MatrixRef = ConstMatrix<float>;
using MutMatrixRef = MutMatrix<float>;

// The same elements read as the transpose (strides swapped, no copy).
template <typename T>
inline ConstMatrix<T> transposed(ConstMatrix<T> x) { return {x.data, x.cs, x.rs}; }
template <typename T>
inline MutMatrix<T> transposed(MutMatrix<T> x) { return {x.data, x.cs, x.rs}; }

// Instantiated for float and double (gemm.cpp).
template <typename T>
void gemm(int64_t m, int64_t n, int64_t k, T alpha, ConstMatrix<T> a, ConstMatrix<T> b, T beta,
          MutMatrix<T> c);

// `batch` independent products of the same shape and strides; item i uses a_ptrs[i], b_ptrs[i],
// c_ptrs[i] as base pointers. Threads split the batch when the products are small.
template <typename T>
void gemm_batch(int64_t batch, int64_t m, int64_t n, int64_t k, T alpha, const T* const* a_ptrs,
                int64_t a_rs, int64_t a_cs, const T* const* b_ptrs, int64_t b_rs, int64_t b_cs,
                T beta, T* const* c_ptrs, int64_t c_rs, int64_t c_cs);

// Strided batch: item i starts at a + i * a_bs (likewise b, c).
template <typename T>
void gemm_strided_batch(int64_t batch, int64_t m, int64_t n, int64_t k, T alpha,
                        ConstMatrix<T> a, int64_t a_bs, ConstMatrix<T> b, int64_t b_bs, T beta,
                        MutMatrix<T> c, int64_t c_bs);

// The BLAS names, for callers that pass braced matrices (no template deduction needed).
inline void sgemm(int64_t m, int64_t n, int64_t k, float alpha, MatrixRef a, MatrixRef b,
                  float beta, MutMatrixRef c) {
  gemm<float>(m, n, k, alpha, a, b, beta, c);
}
inline void dgemm(int64_t m, int64_t n, int64_t k, double alpha, ConstMatrix<double> a,
                  ConstMatrix<double> b, double beta, MutMatrix<double> c) {
  gemm<double>(m, n, k, alpha, a, b, beta, c);
}

}  // namespace fastdl::cpu
