#pragma once
// Products of a matrix with one vector, streamed from the matrix's rows in place: the GEMM's
// thin products (gemv_kernels.cpp) and the attention forward's short path for a few query rows
// (attention_kernels.cpp). Compiled into each ISA's translation units (same namespace).
#include <algorithm>
#include <cstdint>

namespace fastdl::cpu::FASTDL_ISA {

// Outputs per block of the weighted-rows form: R x kBlock elements of y, 16 KiB, stay in L1 while
// rows of x stream through. A multiple of 16 lanes, and threads split the outputs on multiples
// of kWeightedUnit (gemv_kernels.cpp): every block but the last ends on a full vector, so the
// scalar tail always covers the same last count % 16 outputs, whatever the thread count.
template <typename T, int R>
inline constexpr int64_t kWeightedBlock = 16384 / int64_t(sizeof(T)) / R / 16 * 16;

// One vector (a matrix-vector product): y[i] = sum_p x[i * ldx + p] v[p] for i < rows. Four
// rows at a time share each load of v and give the core four independent sums.
template <typename T>
inline void dot_rows_one_vector(int64_t rows, int64_t k, const T* x, int64_t ldx, const T* v,
                                T* y) {
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    const T* x0 = x + i * ldx;
    const T* x1 = x0 + ldx;
    const T* x2 = x1 + ldx;
    const T* x3 = x2 + ldx;
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int64_t p = 0; p < k; ++p) {
      s0 += x0[p] * v[p];
      s1 += x1[p] * v[p];
      s2 += x2[p] * v[p];
      s3 += x3[p] * v[p];
    }
    y[i] = s0, y[i + 1] = s1, y[i + 2] = s2, y[i + 3] = s3;
  }
  for (; i < rows; ++i) {
    const T* xi = x + i * ldx;
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t p = 0; p < k; ++p) s += xi[p] * v[p];
    y[i] = s;
  }
}

// One vector: y[j] = sum_p v[p] x[p * ldx + j] for j < count, four rows of x per pass over a
// block of y.
template <typename T>
inline void sum_weighted_rows_one_vector(int64_t count, int64_t k, const T* x, int64_t ldx,
                                         const T* v, T* y) {
  for (int64_t j0 = 0; j0 < count; j0 += kWeightedBlock<T, 1>) {
    const int64_t width = std::min(kWeightedBlock<T, 1>, count - j0);
    T* yb = y + j0;
    std::fill_n(yb, width, T(0));
    int64_t p = 0;
    for (; p + 4 <= k; p += 4) {
      const T* x0 = x + p * ldx + j0;
      const T* x1 = x0 + ldx;
      const T* x2 = x1 + ldx;
      const T* x3 = x2 + ldx;
      const T v0 = v[p], v1 = v[p + 1], v2 = v[p + 2], v3 = v[p + 3];
#pragma omp simd
      for (int64_t j = 0; j < width; ++j)
        yb[j] = yb[j] + v0 * x0[j] + v1 * x1[j] + v2 * x2[j] + v3 * x3[j];
    }
    for (; p < k; ++p) {
      const T* xp = x + p * ldx + j0;
      const T vp = v[p];
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) yb[j] = yb[j] + vp * xp[j];
    }
  }
}

}  // namespace fastdl::cpu::FASTDL_ISA
