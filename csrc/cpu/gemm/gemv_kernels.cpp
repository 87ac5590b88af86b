// Thin products -- m <= 8 or n <= 8: matrix-vector products and small batches through a big
// matrix -- compiled once per ISA. Each element of the big matrix is used at most 8 times, so the
// product is bound by reading it: packing it first (a read and a write before the real read)
// would triple the traffic, and the GEMM micro-kernel would fill few of its 8 rows or 16 lanes.
// Instead the big matrix X is streamed once, in whichever of two forms reads it contiguously:
// dot products of its rows with the r <= 8 thin vectors, or sums of its rows weighted by the
// vectors' entries. Vectors are GCC vector types as wide as this ISA's registers.
#include <algorithm>
#include <cstring>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "common/float_lanes.h"
#include "cpu/gemm/gemm_buffer.h"
#include "cpu/gemm/gemv.h"

namespace fastdl::cpu::FASTDL_ISA {
namespace {

constexpr int kLanes = kFloatLanes;
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, Vec v) { std::memcpy(p, &v, sizeof v); }
inline float sum_lanes(Vec v) {
  float s = 0.f;
  for (int l = 0; l < kLanes; ++l) s += v[l];
  return s;
}

constexpr int kMaxVectors = int(kThinMaxVectors);
constexpr int64_t kMinThinElements = int64_t(1) << 14;
thread_local PackBuffer tls_vectors, tls_outputs;

// y[i * ldy + j] = sum_p v[i * ldv + p] x[j * ldx + p] for j < count: rows of x against R
// vectors; each load of x feeds R multiply-adds.
template <int R>
void dot_rows(int64_t count, int64_t k, const float* x, int64_t ldx, const float* v, int64_t ldv,
              float* y, int64_t ldy) {
  for (int64_t j = 0; j < count; ++j) {
    const float* xj = x + j * ldx;
    Vec acc[R] = {};
    int64_t p = 0;
    for (; p + kLanes <= k; p += kLanes) {
      const Vec xv = load(xj + p);
      for (int i = 0; i < R; ++i) acc[i] += xv * load(v + i * ldv + p);
    }
    for (int i = 0; i < R; ++i) {
      float s = sum_lanes(acc[i]);
      for (int64_t q = p; q < k; ++q) s += xj[q] * v[i * ldv + q];
      y[i * ldy + j] = s;
    }
  }
}

// y[i * ldy + j] = sum_p v[i * ldv + p] x[p * ldx + j] for j < count: whole rows of x streamed,
// four at a time, weighted into R output rows of a column block small enough to stay in L1.
// Outputs per block of the weighted-rows form: R x kBlock floats of y, 16 KiB, stay in L1 while
// rows of x stream through. A multiple of 16 lanes, and threads split the outputs on multiples
// of kWeightedUnit: every block but the last ends on a full vector, so the scalar tail always
// covers the same last count % 16 outputs, whatever the thread count.
template <int R>
constexpr int64_t kWeightedBlock = 4096 / R / 16 * 16;
constexpr int64_t kWeightedUnit = 512;

template <int R>
void sum_weighted_rows(int64_t count, int64_t k, const float* x, int64_t ldx, const float* v,
                       int64_t ldv, float* y, int64_t ldy) {
  constexpr int64_t kBlock = kWeightedBlock<R>;
  for (int64_t j0 = 0; j0 < count; j0 += kBlock) {
    const int64_t width = std::min(kBlock, count - j0), vector_end = width / kLanes * kLanes;
    for (int i = 0; i < R; ++i) std::fill_n(y + i * ldy + j0, width, 0.f);
    for (int64_t p = 0; p < k; p += 4) {
      // A last group of fewer than four rows repeats its last row with weight zero.
      const int rows = int(std::min<int64_t>(4, k - p));
      const float* xr[4];
      float w[R][4];
      for (int q = 0; q < 4; ++q) {
        xr[q] = x + (p + std::min(q, rows - 1)) * ldx + j0;
        for (int i = 0; i < R; ++i) w[i][q] = q < rows ? v[i * ldv + p + q] : 0.f;
      }
      for (int64_t j = 0; j < vector_end; j += kLanes) {
        const Vec x0 = load(xr[0] + j), x1 = load(xr[1] + j), x2 = load(xr[2] + j),
                  x3 = load(xr[3] + j);
        for (int i = 0; i < R; ++i) {
          float* yi = y + i * ldy + j0 + j;
          store(yi, load(yi) + w[i][0] * x0 + w[i][1] * x1 + w[i][2] * x2 + w[i][3] * x3);
        }
      }
      // (Only the last count % 16 outputs of the product reach this loop; see kWeightedBlock.)
      for (int64_t j = vector_end; j < width; ++j)
        for (int i = 0; i < R; ++i) {
          float& yij = y[i * ldy + j0 + j];
          yij = yij + w[i][0] * xr[0][j] + w[i][1] * xr[1][j] + w[i][2] * xr[2][j] +
                w[i][3] * xr[3][j];
        }
    }
  }
}

// One vector (a matrix-vector product): y[i] = sum_p x[i * ldx + p] v[p] for i < rows. Four
// rows at a time share each load of v and give the core four independent sums.
void dot_rows_one_vector(int64_t rows, int64_t k, const float* x, int64_t ldx, const float* v,
                         float* y) {
  int64_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    const float* x0 = x + i * ldx;
    const float* x1 = x0 + ldx;
    const float* x2 = x1 + ldx;
    const float* x3 = x2 + ldx;
    float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
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
    const float* xi = x + i * ldx;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t p = 0; p < k; ++p) s += xi[p] * v[p];
    y[i] = s;
  }
}

// One vector: y[j] = sum_p v[p] x[p * ldx + j] for j < count, four rows of x per pass over a
// block of y.
void sum_weighted_rows_one_vector(int64_t count, int64_t k, const float* x, int64_t ldx,
                                  const float* v, float* y) {
  for (int64_t j0 = 0; j0 < count; j0 += kWeightedBlock<1>) {
    const int64_t width = std::min(kWeightedBlock<1>, count - j0);
    float* yb = y + j0;
    std::fill_n(yb, width, 0.f);
    int64_t p = 0;
    for (; p + 4 <= k; p += 4) {
      const float* x0 = x + p * ldx + j0;
      const float* x1 = x0 + ldx;
      const float* x2 = x1 + ldx;
      const float* x3 = x2 + ldx;
      const float v0 = v[p], v1 = v[p + 1], v2 = v[p + 2], v3 = v[p + 3];
#pragma omp simd
      for (int64_t j = 0; j < width; ++j)
        yb[j] = yb[j] + v0 * x0[j] + v1 * x1[j] + v2 * x2[j] + v3 * x3[j];
    }
    for (; p < k; ++p) {
      const float* xp = x + p * ldx + j0;
      const float vp = v[p];
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) yb[j] = yb[j] + vp * xp[j];
    }
  }
}

struct ThinProduct {
  bool dot_form;
  int64_t count, k;   // outputs per vector, depth
  const float* x;     // the big matrix: rows along k (dot form) or along the outputs
  int64_t ldx;
  const float* v;     // the vectors, unit stride along k
  int64_t ldv;
  float* y;           // vectors x count results
};

template <int R>
void multiply_range(const ThinProduct& t, int64_t begin, int64_t end) {
  if constexpr (R == 1) {
    if (t.dot_form)
      dot_rows_one_vector(end - begin, t.k, t.x + begin * t.ldx, t.ldx, t.v, t.y + begin);
    else
      sum_weighted_rows_one_vector(end - begin, t.k, t.x + begin, t.ldx, t.v, t.y + begin);
    return;
  }
  if (t.dot_form)
    dot_rows<R>(end - begin, t.k, t.x + begin * t.ldx, t.ldx, t.v, t.ldv, t.y + begin, t.count);
  else
    sum_weighted_rows<R>(end - begin, t.k, t.x + begin, t.ldx, t.v, t.ldv, t.y + begin, t.count);
}

void multiply_range(int64_t vectors, const ThinProduct& t, int64_t begin, int64_t end) {
  switch (vectors) {
    case 1: return multiply_range<1>(t, begin, end);
    case 2: return multiply_range<2>(t, begin, end);
    case 3: return multiply_range<3>(t, begin, end);
    case 4: return multiply_range<4>(t, begin, end);
    case 5: return multiply_range<5>(t, begin, end);
    case 6: return multiply_range<6>(t, begin, end);
    case 7: return multiply_range<7>(t, begin, end);
    default: return multiply_range<8>(t, begin, end);
  }
}

// Below this many elements of the big matrix one thread streams it faster than a team starts.
constexpr int64_t kMinElementsPerThread = int64_t(1) << 16;

}  // namespace

bool sgemv(int64_t m, int64_t n, int64_t k, float alpha, MatrixRef a, MatrixRef b, float beta,
           MutMatrixRef c, int threads) {
  // r thin vectors (rows of A, or columns of B) against the big matrix; result (i, j) is C[i, j]
  // for thin rows and C[j, i] for thin columns.
  const bool thin_rows = m <= kMaxVectors && (m <= n || n > kMaxVectors);
  const int64_t r = thin_rows ? m : n, count = thin_rows ? n : m;
  // Several vectors against a small operand: the in-place micro-kernel is faster (the streaming
  // forms pay per output for horizontal sums and tails that only a long k or a wide row hides).
  if (r > kMaxVectors || (r > 1 && k * count < kMinThinElements)) return false;
  ThinProduct t{};
  t.count = count, t.k = k;
  const MatrixRef big = thin_rows ? transposed(b) : a;  // rows = outputs
  if (big.cs == 1) {
    // Rows of a row-major A against more than two columns of B: the narrow GEMM path (A read in
    // place by the micro-kernel, 8 rows per B load) measured faster (bench/NOTES.md v26).
    if (!thin_rows && r > 2) return false;
    t.dot_form = true, t.x = big.data, t.ldx = big.rs;
  } else if (big.rs == 1) {
    t.dot_form = false, t.x = big.data, t.ldx = big.cs;
  } else {
    return false;
  }
  // The vectors with unit stride along k, gathered once unless they already have it.
  const MatrixRef vec = thin_rows ? a : transposed(b);  // rows = vectors
  if (vec.cs == 1) {
    t.v = vec.data, t.ldv = vec.rs;
  } else {
    float* gathered = tls_vectors.get(r * k);
    for (int64_t i = 0; i < r; ++i)
      for (int64_t p = 0; p < k; ++p) gathered[i * k + p] = vec.data[i * vec.rs + p * vec.cs];
    t.v = gathered, t.ldv = k;
  }
  t.y = tls_outputs.get(r * count);

  // Outputs [begin, end) of every vector: compute, then C = alpha * y + beta * C (beta == 0
  // never reads C).
  auto run = [&](int64_t begin, int64_t end) {
    if (begin >= end) return;
    multiply_range(r, t, begin, end);
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = begin; j < end; ++j) {
        float& out = thin_rows ? c.data[i * c.rs + j * c.cs] : c.data[j * c.rs + i * c.cs];
        const float got = alpha * t.y[i * count + j];
        out = beta == 0.f ? got : got + beta * out;
      }
  };

  threads = int(std::clamp<int64_t>(k * count / kMinElementsPerThread, 1, threads));
#ifdef _OPENMP
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    {
      // Any team size OpenMP grants covers all outputs. Parts start on block boundaries, so an
      // output's arithmetic is the same for every thread count.
      const int64_t team = omp_get_num_threads(), index = omp_get_thread_num();
      const int64_t unit = t.dot_form ? 16 : kWeightedUnit, blocks = ceil_div(count, unit);
      run(std::min(count, blocks * index / team * unit),
          std::min(count, blocks * (index + 1) / team * unit));
    }
    return true;
  }
#endif
  run(0, count);
  return true;
}

}  // namespace fastdl::cpu::FASTDL_ISA
