#pragma once
// Tiled GEMM kernel for T = float (SGEMM) or double (DGEMM), one source: a 128x128 block of C per
// CUDA block, k in steps of 8 through shared memory, an 8x8 register tile per thread (256
// threads). Operands are read four elements at a time when their layout allows it (see Operand:
// one float4, or two double2 -- 16-byte accesses either way), with scalar loads at ragged edges;
// any strides work. For double the tiles take 16 KiB of shared memory and the 64 accumulators
// 128 registers per thread.
#include <cstdint>

#include "cuda/common/compat.cuh"

namespace fastdl::cuda::sgemm_detail {

// Four consecutive elements moved as 16-byte accesses (the address is 16-byte aligned).
template <typename T>
struct Quad;

template <>
struct Quad<float> {
  static __device__ __forceinline__ void load(const float* p, float* v) {
    const float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  }
  static __device__ __forceinline__ void store(float* p, const float* v) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  }
  static __device__ __forceinline__ void copy(float* dst, const float* src) {
    *reinterpret_cast<float4*>(dst) = *reinterpret_cast<const float4*>(src);
  }
};

template <>
struct Quad<double> {
  static __device__ __forceinline__ void load(const double* p, double* v) {
    const double2 lo = reinterpret_cast<const double2*>(p)[0];
    const double2 hi = reinterpret_cast<const double2*>(p)[1];
    v[0] = lo.x, v[1] = lo.y, v[2] = hi.x, v[3] = hi.y;
  }
  static __device__ __forceinline__ void store(double* p, const double* v) {
    reinterpret_cast<double2*>(p)[0] = make_double2(v[0], v[1]);
    reinterpret_cast<double2*>(p)[1] = make_double2(v[2], v[3]);
  }
  static __device__ __forceinline__ void copy(double* dst, const double* src) {
    reinterpret_cast<double2*>(dst)[0] = reinterpret_cast<const double2*>(src)[0];
    reinterpret_cast<double2*>(dst)[1] = reinterpret_cast<const double2*>(src)[1];
  }
};

// One rounding per multiply-add, as the CPU kernels' FMAs.
__device__ __forceinline__ float fma_rn(float a, float b, float c) { return __fmaf_rn(a, b, c); }
__device__ __forceinline__ double fma_rn(double a, double b, double c) { return __fma_rn(a, b, c); }

constexpr int kBlockM = 128, kBlockN = 128, kBlockK = 8;
constexpr int kThreadM = 8, kThreadN = 8;
constexpr int kThreads = (kBlockM / kThreadM) * (kBlockN / kThreadN);  // 256
constexpr int kMaxBatchDims = 4;
static_assert(kBlockM * kBlockK == 4 * kThreads && kBlockN * kBlockK == 4 * kThreads,
              "each thread loads one Quad (four elements) of each tile");

// How an operand is read. For A (m x k) and B (k x n): `k_contiguous` means unit stride along k
// and a row/column stride that keeps four-element (Quad) loads 16-byte aligned; `mn_contiguous` the same along
// m (for A) or n (for B). The host checks strides and base alignment before choosing either.
enum class Operand : int { general = 0, k_contiguous = 1, mn_contiguous = 2 };

struct BatchLayout {
  int ndim;  // <= kMaxBatchDims; the launcher loops over any further (outer) dimensions
  int64_t shape[kMaxBatchDims];
  int64_t a_stride[kMaxBatchDims], b_stride[kMaxBatchDims], c_stride[kMaxBatchDims];
};

template <typename T>
struct Params {
  int64_t m, n, k;
  T alpha, beta;
  const T* a;
  int64_t a_rs, a_cs;
  const T* b;
  int64_t b_rs, b_cs;
  T* c;
  int64_t c_rs, c_cs;
  bool c_vectorized;   // c_cs == 1, c_rs % 4 == 0, 16-byte aligned: Quad stores of C
  int64_t batch_begin;  // batch item of blockIdx.z == 0
  BatchLayout batch;
};

// Loads A[row0 : row0+128, k0 : k0+8] into as[k][m] (transposed, so the compute loop reads m in
// Quads). Out-of-range elements become 0 so the edge tiles need no special compute loop.
template <typename T, Operand kLayout>
__device__ __forceinline__ void load_a_tile(const Params<T>& p, const T* __restrict__ a,
                                            int64_t row0, int64_t k0, int t,
                                            T (&as)[kBlockK][kBlockM]) {
  if constexpr (kLayout == Operand::k_contiguous) {
    const int r = t >> 1, kc = (t & 1) * 4;
    const int64_t gr = row0 + r, gk = k0 + kc;
    if (gr < p.m && gk + 3 < p.k) {
      T v[4];
      Quad<T>::load(a + gr * p.a_rs + gk, v);
      as[kc][r] = v[0], as[kc + 1][r] = v[1], as[kc + 2][r] = v[2], as[kc + 3][r] = v[3];
    } else {
      for (int q = 0; q < 4; ++q)
        as[kc + q][r] = gr < p.m && gk + q < p.k ? a[gr * p.a_rs + gk + q] : T(0);
    }
  } else if constexpr (kLayout == Operand::mn_contiguous) {
    const int kk = t >> 5, rc = (t & 31) * 4;
    const int64_t gr = row0 + rc, gk = k0 + kk;
    if (gk < p.k && gr + 3 < p.m) {
      Quad<T>::copy(&as[kk][rc], a + gk * p.a_cs + gr);
    } else {
      for (int q = 0; q < 4; ++q)
        as[kk][rc + q] = gk < p.k && gr + q < p.m ? a[gk * p.a_cs + gr + q] : T(0);
    }
  } else {
    for (int q = 0; q < 4; ++q) {
      const int e = t + q * kThreads, r = e % kBlockM, kk = e / kBlockM;
      const int64_t gr = row0 + r, gk = k0 + kk;
      as[kk][r] = gr < p.m && gk < p.k ? a[gr * p.a_rs + gk * p.a_cs] : T(0);
    }
  }
}

// Loads B[k0 : k0+8, col0 : col0+128] into bs[k][n].
template <typename T, Operand kLayout>
__device__ __forceinline__ void load_b_tile(const Params<T>& p, const T* __restrict__ b,
                                            int64_t col0, int64_t k0, int t,
                                            T (&bs)[kBlockK][kBlockN]) {
  if constexpr (kLayout == Operand::mn_contiguous) {
    const int kk = t >> 5, nc = (t & 31) * 4;
    const int64_t gk = k0 + kk, gc = col0 + nc;
    if (gk < p.k && gc + 3 < p.n) {
      Quad<T>::copy(&bs[kk][nc], b + gk * p.b_rs + gc);
    } else {
      for (int q = 0; q < 4; ++q)
        bs[kk][nc + q] = gk < p.k && gc + q < p.n ? b[gk * p.b_rs + gc + q] : T(0);
    }
  } else if constexpr (kLayout == Operand::k_contiguous) {
    const int c = t >> 1, kc = (t & 1) * 4;
    const int64_t gc = col0 + c, gk = k0 + kc;
    if (gc < p.n && gk + 3 < p.k) {
      T v[4];
      Quad<T>::load(b + gc * p.b_cs + gk, v);
      bs[kc][c] = v[0], bs[kc + 1][c] = v[1], bs[kc + 2][c] = v[2], bs[kc + 3][c] = v[3];
    } else {
      for (int q = 0; q < 4; ++q)
        bs[kc + q][c] = gc < p.n && gk + q < p.k ? b[gc * p.b_cs + gk + q] : T(0);
    }
  } else {
    for (int q = 0; q < 4; ++q) {
      const int e = t + q * kThreads, c = e % kBlockN, kk = e / kBlockN;
      const int64_t gk = k0 + kk, gc = col0 + c;
      bs[kk][c] = gk < p.k && gc < p.n ? b[gk * p.b_rs + gc * p.b_cs] : T(0);
    }
  }
}

template <typename T>
__device__ __forceinline__ T epilogue(T acc, T alpha, T beta, const T* c) {
  // beta == 0 must not read C: it may hold NaN or be uninitialised.
  return beta == T(0) ? alpha * acc : alpha * acc + beta * *c;
}

template <typename T, Operand kA, Operand kB, bool kOmitReadWriteBarrier>
__global__ void __launch_bounds__(kThreads) gemm_kernel(Params<T> p) {
  FASTDL_SHARED(__align__(16) T, as, [kBlockK][kBlockM]);
  FASTDL_SHARED(__align__(16) T, bs, [kBlockK][kBlockN]);

  // Batch item: blockIdx.z walks the batch dimensions like an odometer, innermost fastest.
  int64_t item = p.batch_begin + blockIdx.z, a_off = 0, b_off = 0, c_off = 0;
  for (int d = p.batch.ndim - 1; d >= 0; --d) {
    const int64_t i = item % p.batch.shape[d];
    item /= p.batch.shape[d];
    a_off += i * p.batch.a_stride[d], b_off += i * p.batch.b_stride[d], c_off += i * p.batch.c_stride[d];
  }
  const T* __restrict__ a = p.a + a_off;
  const T* __restrict__ b = p.b + b_off;
  T* __restrict__ c = p.c + c_off;

  const int t = threadIdx.x;
  const int tx = t % (kBlockN / kThreadN), ty = t / (kBlockN / kThreadN);
  const int64_t row0 = int64_t(blockIdx.y) * kBlockM, col0 = int64_t(blockIdx.x) * kBlockN;

  T acc[kThreadM][kThreadN] = {};
  for (int64_t k0 = 0; k0 < p.k; k0 += kBlockK) {
    load_a_tile<T, kA>(p, a, row0, k0, t, as);
    load_b_tile<T, kB>(p, b, col0, k0, t, bs);
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBlockK; ++kk) {
      T ar[kThreadM], br[kThreadN];
      Quad<T>::load(&as[kk][ty * kThreadM], ar);
      Quad<T>::load(&as[kk][ty * kThreadM + 4], ar + 4);
      Quad<T>::load(&bs[kk][tx * kThreadN], br);
      Quad<T>::load(&bs[kk][tx * kThreadN + 4], br + 4);
#pragma unroll
      for (int i = 0; i < kThreadM; ++i)
#pragma unroll
        for (int j = 0; j < kThreadN; ++j) acc[i][j] = fma_rn(ar[i], br[j], acc[i][j]);
    }
    // The next iteration overwrites the tiles: every thread must be done reading them.
    if constexpr (!kOmitReadWriteBarrier) __syncthreads();
  }

  // Fully unrolled with guards (no early exits): acc must stay in registers, not local memory.
  const int64_t col_begin = col0 + tx * kThreadN;
  const bool full_vector_row = p.c_vectorized && col_begin + kThreadN <= p.n;
#pragma unroll
  for (int i = 0; i < kThreadM; ++i) {
    const int64_t r = row0 + ty * kThreadM + i;
    if (r < p.m) {
      T* crow = c + r * p.c_rs;
      if (full_vector_row) {
#pragma unroll
        for (int j = 0; j < kThreadN; j += 4) {
          T* dst = crow + col_begin + j;
          T v[4] = {p.alpha * acc[i][j], p.alpha * acc[i][j + 1], p.alpha * acc[i][j + 2],
                    p.alpha * acc[i][j + 3]};
          if (p.beta != T(0)) {
            T old[4];
            Quad<T>::load(dst, old);
#pragma unroll
            for (int q = 0; q < 4; ++q) v[q] += p.beta * old[q];
          }
          Quad<T>::store(dst, v);
        }
      } else {
#pragma unroll
        for (int j = 0; j < kThreadN; ++j) {
          if (col_begin + j < p.n) {
            T* dst = crow + (col_begin + j) * p.c_cs;
            *dst = epilogue(acc[i][j], p.alpha, p.beta, dst);
          }
        }
      }
    }
  }
}

}  // namespace fastdl::cuda::sgemm_detail
