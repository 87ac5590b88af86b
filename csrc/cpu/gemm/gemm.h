#pragma once
// fp32 GEMM, BLAS/BLIS style: C = alpha * A B + beta * C with A m x k, B k x n, C m x n.
// Every matrix is addressed by element strides, x[i * rs + j * cs], so a transpose or any strided
// view (numpy's, cupy's) is a pair of swapped strides, never a copy. Strides may be zero or negative
// for inputs; C must not overlap A or B. With beta == 0, C is never read.
#include <cstdint>

namespace fastdl::cpu {

struct MatrixRef {
  const float* data;
  int64_t rs, cs;  // row stride, column stride, in elements
};

struct MutMatrixRef {
  float* data;
  int64_t rs, cs;
};

// The same elements read as the transpose (strides swapped, no copy).
inline MatrixRef transposed(MatrixRef x) { return {x.data, x.cs, x.rs}; }
inline MutMatrixRef transposed(MutMatrixRef x) { return {x.data, x.cs, x.rs}; }

void sgemm(int64_t m, int64_t n, int64_t k, float alpha, MatrixRef a, MatrixRef b, float beta,
           MutMatrixRef c);

// `batch` independent products of the same shape and strides; item i uses a_ptrs[i], b_ptrs[i],
// c_ptrs[i] as base pointers. Threads split the batch when the products are small.
void sgemm_batch(int64_t batch, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* const* a_ptrs, int64_t a_rs, int64_t a_cs,
                 const float* const* b_ptrs, int64_t b_rs, int64_t b_cs, float beta,
                 float* const* c_ptrs, int64_t c_rs, int64_t c_cs);

// Strided batch: item i starts at a + i * a_bs (likewise b, c).
void sgemm_strided_batch(int64_t batch, int64_t m, int64_t n, int64_t k, float alpha,
                         MatrixRef a, int64_t a_bs, MatrixRef b, int64_t b_bs, float beta,
                         MutMatrixRef c, int64_t c_bs);

}  // namespace fastdl::cpu
