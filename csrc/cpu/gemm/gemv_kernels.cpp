// Matrix-vector products (m == 1 or n == 1), compiled once per ISA. Each matrix element is used
// once, so the product is bound by reading the matrix: packing it first (a read and a write
// before the real read) would triple the traffic, and the GEMM micro-kernel would fill 1 of its 8
// rows or 1 of 16 lanes. Instead the matrix is streamed row by row, in whichever of two forms
// reads it contiguously: dot products of its rows with the vector, or a sum of its rows scaled
// by the vector's entries. The compiler vectorizes both loops for the ISA of this copy.
#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/gemm/gemm_buffer.h"
#include "cpu/gemm/gemv.h"

namespace fastdl::cpu::FASTDL_ISA {
namespace {

thread_local PackBuffer tls_vector, tls_result;

// y[i] = sum_p x[i * ldx + p] v[p] for i < rows. Four rows at a time share each load of v.
void dot_rows(int64_t rows, int64_t len, const float* x, int64_t ldx, const float* v, float* y) {
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    const float* x0 = x + i * ldx;
    const float* x1 = x0 + ldx;
    const float* x2 = x1 + ldx;
    const float* x3 = x2 + ldx;
    float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int64_t p = 0; p < len; ++p) {
      s0 += x0[p] * v[p];
      s1 += x1[p] * v[p];
      s2 += x2[p] * v[p];
      s3 += x3[p] * v[p];
    }
    y[i] = s0, y[i + 1] = s1, y[i + 2] = s2, y[i + 3] = s3;
  }
  for (; i < rows; ++i) {
    const float* xi = x + i * ldx;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t p = 0; p < len; ++p) s += xi[p] * v[p];
    y[i] = s;
  }
}

// y[j] = sum_p v[p] x[p * ldx + j] for j < len, p < count: whole rows of x streamed, added four
// at a time into a block of y small enough to stay in L1.
void sum_scaled_rows(int64_t count, int64_t len, const float* x, int64_t ldx, const float* v,
                     float* y) {
  constexpr int64_t kBlock = 2048;  // 8 KiB of y
  for (int64_t j0 = 0; j0 < len; j0 += kBlock) {
    const int64_t width = std::min(kBlock, len - j0);
    float* yb = y + j0;
    for (int64_t j = 0; j < width; ++j) yb[j] = 0.f;
    int64_t p = 0;
    for (; p + 4 <= count; p += 4) {
      const float* x0 = x + p * ldx + j0;
      const float* x1 = x0 + ldx;
      const float* x2 = x1 + ldx;
      const float* x3 = x2 + ldx;
      const float v0 = v[p], v1 = v[p + 1], v2 = v[p + 2], v3 = v[p + 3];
#pragma omp simd
      for (int64_t j = 0; j < width; ++j)
        yb[j] += v0 * x0[j] + v1 * x1[j] + v2 * x2[j] + v3 * x3[j];
    }
    for (; p < count; ++p) {
      const float* xp = x + p * ldx + j0;
      const float vp = v[p];
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) yb[j] += vp * xp[j];
    }
  }
}

// Below this many matrix elements one thread streams the matrix faster than a team starts.
constexpr int64_t kMinElementsPerThread = int64_t(1) << 16;

}  // namespace

bool sgemv(int64_t m, int64_t n, int64_t k, float alpha, MatrixRef a, MatrixRef b, float beta,
           MutMatrixRef c, int threads) {
  // The matrix X, read as `len` outputs by k, and the vector v (stride v_step), in one of two forms.
  const float* x;
  int64_t ldx, len, v_step, c_step;
  const float* v_src;
  bool dot_form;
  if (n == 1 && a.cs == 1) {  // rows of A . b
    x = a.data, ldx = a.rs, len = m, dot_form = true;
  } else if (m == 1 && b.rs == 1) {  // columns of B (contiguous) . a
    x = b.data, ldx = b.cs, len = n, dot_form = true;
  } else if (m == 1 && b.cs == 1) {  // a = weights of B's rows
    x = b.data, ldx = b.rs, len = n, dot_form = false;
  } else if (n == 1 && a.rs == 1) {  // b = weights of A's columns
    x = a.data, ldx = a.cs, len = m, dot_form = false;
  } else {
    return false;
  }
  if (n == 1) {
    v_src = b.data, v_step = b.rs, c_step = c.rs;
  } else {
    v_src = a.data, v_step = a.cs, c_step = c.cs;
  }

  // The vector, contiguous: gathered once if strided (k floats against k * len reads).
  const float* v = v_src;
  if (v_step != 1) {
    float* gathered = tls_vector.get(k);
    for (int64_t p = 0; p < k; ++p) gathered[p] = v_src[p * v_step];
    v = gathered;
  }
  float* y = tls_result.get(len);
  float* c0 = c.data;

  // Outputs [begin, end): compute, then C = alpha * y + beta * C (beta == 0 never reads C).
  auto run = [&](int64_t begin, int64_t end) {
    if (begin >= end) return;
    if (dot_form)
      dot_rows(end - begin, k, x + begin * ldx, ldx, v, y + begin);
    else
      sum_scaled_rows(k, end - begin, x + begin, ldx, v, y + begin);
    for (int64_t i = begin; i < end; ++i) {
      float& out = c0[i * c_step];
      out = beta == 0.f ? alpha * y[i] : alpha * y[i] + beta * out;
    }
  };

  threads = int(std::clamp<int64_t>(k * len / kMinElementsPerThread, 1, threads));
  threads = int(std::min<int64_t>(threads, len));
#ifdef _OPENMP
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    {
      // Any team size OpenMP grants covers all outputs; parts start on 16-float boundaries.
      const int64_t team = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t blocks = ceil_div(len, 16);
      run(std::min(len, blocks * t / team * 16), std::min(len, blocks * (t + 1) / team * 16));
    }
    return true;
  }
#endif
  run(0, len);
  return true;
}

}  // namespace fastdl::cpu::FASTDL_ISA
