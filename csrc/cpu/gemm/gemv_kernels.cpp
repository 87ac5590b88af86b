// Thin products -- m <= 8 or n <= 8: matrix-vector products and small batches through a big
// matrix -- compiled once per ISA. Each element of the big matrix is used at most 8 times, so the
// product is bound by reading it: packing it first (a read and a write before the real read)
// would triple the traffic, and the GEMM micro-kernel would fill few of its 8 rows or 16 lanes.
// Instead the big matrix X is streamed once, in whichever of two forms reads it contiguously:
// dot products of its rows with the r <= 8 thin vectors, or sums of its rows weighted by the
// vectors' entries. Vectors are GCC vector types as wide as this ISA's registers; one body for
// float and double.
#include <algorithm>
#include <cstring>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "common/float_lanes.h"
#include "cpu/gemm/gemm_buffer.h"
#include "cpu/gemm/gemv.h"
#include "cpu/gemm/gemv_one_vector.h"

namespace fastdl::cpu::FASTDL_ISA {
namespace {

constexpr int kVectorBytes = kFloatLanes * int(sizeof(float));

// A register-wide GCC vector of T, and its lane count.
template <typename T>
struct VecOf;
template <>
struct VecOf<float> {
  typedef float type __attribute__((vector_size(kVectorBytes)));
};
template <>
struct VecOf<double> {
  typedef double type __attribute__((vector_size(kVectorBytes)));
};
template <typename T>
using Vec = typename VecOf<T>::type;
template <typename T>
constexpr int kLanes = kVectorBytes / int(sizeof(T));

template <typename T>
inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
inline void store(T* p, Vec<T> v) { std::memcpy(p, &v, sizeof v); }
template <typename T>
inline T sum_lanes(Vec<T> v) {
  T s = 0;
  for (int l = 0; l < kLanes<T>; ++l) s += v[l];
  return s;
}

constexpr int kMaxVectors = int(kThinMaxVectors);
constexpr int64_t kMinThinElements = int64_t(1) << 14;
constexpr int64_t kMaxGatheredElements = int64_t(1) << 22;  // 16 MiB of floats
thread_local PackBuffer tls_vectors, tls_outputs;

// y[i * ldy + j] = sum_p v[i * ldv + p] x[j * ldx + p] for j < count: rows of x against R
// vectors; each load of x feeds R multiply-adds.
template <typename T, int R>
void dot_rows(int64_t count, int64_t k, const T* x, int64_t ldx, const T* v, int64_t ldv, T* y,
              int64_t ldy) {
  for (int64_t j = 0; j < count; ++j) {
    const T* xj = x + j * ldx;
    Vec<T> acc[R] = {};
    int64_t p = 0;
    for (; p + kLanes<T> <= k; p += kLanes<T>) {
      const Vec<T> xv = load(xj + p);
      for (int i = 0; i < R; ++i) acc[i] += xv * load(v + i * ldv + p);
    }
    for (int i = 0; i < R; ++i) {
      T s = sum_lanes<T>(acc[i]);
      for (int64_t q = p; q < k; ++q) s += xj[q] * v[i * ldv + q];
      y[i * ldy + j] = s;
    }
  }
}

constexpr int64_t kWeightedUnit = 512;  // threads split the outputs on multiples of it

// y[i * ldy + j] = sum_p v[i * ldv + p] x[p * ldx + j] for j < count: whole rows of x streamed,
// four at a time, weighted into R output rows of a column block small enough to stay in L1.
template <typename T, int R>
void sum_weighted_rows(int64_t count, int64_t k, const T* x, int64_t ldx, const T* v,
                       int64_t ldv, T* y, int64_t ldy) {
  constexpr int64_t kBlock = kWeightedBlock<T, R>;
  for (int64_t j0 = 0; j0 < count; j0 += kBlock) {
    const int64_t width = std::min(kBlock, count - j0),
                  vector_end = width / kLanes<T> * kLanes<T>;
    for (int i = 0; i < R; ++i) std::fill_n(y + i * ldy + j0, width, T(0));
    for (int64_t p = 0; p < k; p += 4) {
      // A last group of fewer than four rows repeats its last row with weight zero.
      const int rows = int(std::min<int64_t>(4, k - p));
      const T* xr[4];
      T w[R][4];
      for (int q = 0; q < 4; ++q) {
        xr[q] = x + (p + std::min(q, rows - 1)) * ldx + j0;
        for (int i = 0; i < R; ++i) w[i][q] = q < rows ? v[i * ldv + p + q] : T(0);
      }
      // GCC hoists the weights, broadcast to whole vectors, out of the j loop: for double that
      // is 4 R registers (32 zmm at R = 8) and it spilled them, one stack read per FMA; passes
      // of at most 4 outputs keep 16 (the x rows are re-read from L1). Float keeps one pass
      // (measured: bench/NOTES.md, GEMM). Each output's arithmetic is the same either way.
      constexpr int kOutputsPerPass = sizeof(T) == sizeof(float) || R <= 4 ? R : 4;
      for (int i0 = 0; i0 < R; i0 += kOutputsPerPass)
        for (int64_t j = 0; j < vector_end; j += kLanes<T>) {
          const Vec<T> x0 = load(xr[0] + j), x1 = load(xr[1] + j), x2 = load(xr[2] + j),
                       x3 = load(xr[3] + j);
          for (int i = i0; i < std::min(R, i0 + kOutputsPerPass); ++i) {
            T* yi = y + i * ldy + j0 + j;
            store(yi, load(yi) + w[i][0] * x0 + w[i][1] * x1 + w[i][2] * x2 + w[i][3] * x3);
          }
        }
      // (Only the last count % 16 outputs of the product reach this loop; see kWeightedBlock.)
      for (int64_t j = vector_end; j < width; ++j)
        for (int i = 0; i < R; ++i) {
          T& yij = y[i * ldy + j0 + j];
          yij = yij + w[i][0] * xr[0][j] + w[i][1] * xr[1][j] + w[i][2] * xr[2][j] +
                w[i][3] * xr[3][j];
        }
    }
  }
}

template <typename T>
struct ThinProduct {
  bool dot_form;
  int64_t count, k;   // outputs per vector, depth
  const T* x;         // the big matrix: rows along k (dot form) or along the outputs
  int64_t ldx;
  const T* v;         // the vectors, unit stride along k
  int64_t ldv;
  T* y;               // vectors x count results
};

template <int R, typename T>
void multiply_range(const ThinProduct<T>& t, int64_t begin, int64_t end) {
  if constexpr (R == 1) {
    if (t.dot_form)
      dot_rows_one_vector(end - begin, t.k, t.x + begin * t.ldx, t.ldx, t.v, t.y + begin);
    else
      sum_weighted_rows_one_vector(end - begin, t.k, t.x + begin, t.ldx, t.v, t.y + begin);
    return;
  }
  if (t.dot_form)
    dot_rows<T, R>(end - begin, t.k, t.x + begin * t.ldx, t.ldx, t.v, t.ldv, t.y + begin,
                   t.count);
  else
    sum_weighted_rows<T, R>(end - begin, t.k, t.x + begin, t.ldx, t.v, t.ldv, t.y + begin,
                            t.count);
}

template <typename T>
void multiply_range(int64_t vectors, const ThinProduct<T>& t, int64_t begin, int64_t end) {
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

template <typename T>
bool gemv(int64_t m, int64_t n, int64_t k, T alpha, ConstMatrix<T> a, ConstMatrix<T> b, T beta,
          MutMatrix<T> c, int threads) {
  // r thin vectors (rows of A, or columns of B) against the big matrix; result (i, j) is C[i, j]
  // for thin rows and C[j, i] for thin columns.
  const bool thin_rows = m <= kMaxVectors && (m <= n || n > kMaxVectors);
  const int64_t r = thin_rows ? m : n, count = thin_rows ? n : m;
  // Several vectors against a small operand: the in-place micro-kernel is faster (the streaming
  // forms pay per output for horizontal sums and tails that only a long k or a wide row hides).
  if (r > kMaxVectors || (r > 1 && k * count < kMinThinElements)) return false;
  ThinProduct<T> t{};
  t.count = count, t.k = k;
  const ConstMatrix<T> big = thin_rows ? transposed(b) : a;  // rows = outputs
  if (big.cs == 1) {
    // Rows of a row-major A against more than two columns of B: the narrow GEMM path (A read in
    // place by the micro-kernel, 8 rows per B load) measured faster (bench/NOTES.md, GEMM).
    if (!thin_rows && r > 2) return false;
    t.dot_form = true, t.x = big.data, t.ldx = big.rs;
  } else if (big.rs == 1) {
    t.dot_form = false, t.x = big.data, t.ldx = big.cs;
  } else {
    return false;
  }
  // The vectors with unit stride along k, gathered once unless they already have it.
  const ConstMatrix<T> vec = thin_rows ? a : transposed(b);  // rows = vectors
  if (vec.cs == 1) {
    t.v = vec.data, t.ldv = vec.rs;
  } else if (r * k > kMaxGatheredElements) {
    // A long strided (or stride-0, broadcast) vector: gathering it would allocate as much as
    // the vector's logical size (8 GiB for 2^31 floats); the packed GEMM reads it in place a
    // panel at a time instead.
    return false;
  } else {
    T* gathered = tls_vectors.get<T>(r * k);
    for (int64_t i = 0; i < r; ++i)
      for (int64_t p = 0; p < k; ++p) gathered[i * k + p] = vec.data[i * vec.rs + p * vec.cs];
    t.v = gathered, t.ldv = k;
  }
  t.y = tls_outputs.get<T>(r * count);

  // Outputs [begin, end) of every vector: compute, then C = alpha * y + beta * C (beta == 0
  // never reads C).
  auto run = [&](int64_t begin, int64_t end) {
    if (begin >= end) return;
    multiply_range(r, t, begin, end);
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = begin; j < end; ++j) {
        T& out = thin_rows ? c.data[i * c.rs + j * c.cs] : c.data[j * c.rs + i * c.cs];
        const T got = alpha * t.y[i * count + j];
        out = beta == T(0) ? got : got + beta * out;
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

template bool gemv<float>(int64_t, int64_t, int64_t, float, ConstMatrix<float>,
                          ConstMatrix<float>, float, MutMatrix<float>, int);
template bool gemv<double>(int64_t, int64_t, int64_t, double, ConstMatrix<double>,
                           ConstMatrix<double>, double, MutMatrix<double>, int);

}  // namespace fastdl::cpu::FASTDL_ISA
