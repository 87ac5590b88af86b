#pragma once
// The tile machinery of the flash-attention kernels (attention.cu): a block of (kB/4)^2 threads
// owns a kB x kB tile, each thread a 4 x 4 micro-tile; `mma` multiplies two row-major shared
// operands with 16-byte loads; `stage` / `TileShare` bring tiles from global memory (zeros
// outside the problem), as they are or transposed; row reductions go over the row's kB/4 lanes.
// Written once for nvcc and the CPU emulator.
#include <cstdint>

#include "cuda/common/compat.cuh"

namespace fastdl::cuda::attention_detail {

template <typename T>
struct Geometry {
  static constexpr int kB = sizeof(T) == 4 ? 64 : 32;  // query rows and keys of a tile
  static constexpr int kSide = kB / 4;                  // threads along a tile side
  static constexpr int kThreads = kSide * kSide;
};

// Shared rows are padded by 4 elements: 16-byte aligned, and the rows 4 apart that one warp reads
// fall in different banks.
template <typename T, int kD>
struct Strides {
  static constexpr int kWide = kD + 4;                   // rows of kD (Q, dO, V)
  static constexpr int kNarrow = Geometry<T>::kB + 4;    // rows of kB (K^T, V^T, P, dS^T)
};

__device__ __forceinline__ void load4(float (&r)[4], const float* p) {
  const float4 v = *reinterpret_cast<const float4*>(p);
  r[0] = v.x, r[1] = v.y, r[2] = v.z, r[3] = v.w;
}
__device__ __forceinline__ void load4(double (&r)[4], const double* p) {
  const double2* q = reinterpret_cast<const double2*>(p);
  const double2 a = q[0], b = q[1];
  r[0] = a.x, r[1] = a.y, r[2] = b.x, r[3] = b.y;
}

// acc[rg][cg][i][j] += sum_k A[4 ty + i + kB rg][k] * B[k][4 tx + j + kB cg], both operands
// row-major in shared memory (leading dimensions lda, ldb; multiples of 4).
template <typename T, int RG, int CG, int K>
__device__ __forceinline__ void mma(T (&acc)[RG][CG][4][4], const T* A, int lda, const T* B,
                                    int ldb, int ty, int tx) {
  constexpr int kB = Geometry<T>::kB;
#pragma unroll 2
  for (int k0 = 0; k0 < K; k0 += 4) {
    T a[RG][4][4];
#pragma unroll
    for (int rg = 0; rg < RG; ++rg)
#pragma unroll
      for (int i = 0; i < 4; ++i) load4(a[rg][i], A + (4 * ty + i + kB * rg) * lda + k0);
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      T b[CG][4];
#pragma unroll
      for (int cg = 0; cg < CG; ++cg) load4(b[cg], B + (k0 + kk) * ldb + 4 * tx + kB * cg);
#pragma unroll
      for (int rg = 0; rg < RG; ++rg)
#pragma unroll
        for (int cg = 0; cg < CG; ++cg)
#pragma unroll
          for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[rg][cg][i][j] += a[rg][i][kk] * b[cg][j];
    }
  }
}

template <typename T, int RG, int CG>
__device__ __forceinline__ void zero(T (&acc)[RG][CG][4][4]) {
  T* flat = &acc[0][0][0][0];
#pragma unroll
  for (int n = 0; n < RG * CG * 16; ++n) flat[n] = T(0);
}

// dst[r][c] = src[r][c] (row stride ld_src) for r < rows, c < cols, else 0, over [kRows][kCols].
template <typename T, int kRows, int kCols>
__device__ __forceinline__ void stage(T* dst, int ld_dst, const T* src, int64_t ld_src, int rows,
                                      int cols) {
  for (int x = threadIdx.x; x < kRows * kCols; x += Geometry<T>::kThreads) {
    const int r = x / kCols, c = x % kCols;
    dst[r * ld_dst + c] = r < rows && c < cols ? src[r * ld_src + c] : T(0);
  }
}

// dst[c][r] = src[r][c]: the transpose of stage's tile.
template <typename T, int kRows, int kCols>
__device__ __forceinline__ void stage_transposed(T* dst, int ld_dst, const T* src, int64_t ld_src,
                                                 int rows, int cols) {
  for (int x = threadIdx.x; x < kRows * kCols; x += Geometry<T>::kThreads) {
    const int r = x / kCols, c = x % kCols;
    dst[c * ld_dst + r] = r < rows && c < cols ? src[r * ld_src + c] : T(0);
  }
}

// One thread's share of a [kRows][kCols] tile held in registers between a global load and a
// shared store (the prefetch): column threadIdx.x % kCols of every kStep-th row. Only used where
// kCols divides the block (float).
template <typename T, int kRows, int kCols>
struct TileShare {
  static constexpr int kThreads = Geometry<T>::kThreads;
  static constexpr int kStep = kThreads / kCols > 0 ? kThreads / kCols : 1;
  static constexpr int kCount = kRows / kStep;
  T v[kCount];
  __device__ __forceinline__ void load(const T* src, int64_t ld_src, int rows, int cols) {
    const int c = threadIdx.x % kCols, r0 = threadIdx.x / kCols;
    const T* at = src + r0 * ld_src + c;
#pragma unroll
    for (int n = 0; n < kCount; ++n, at += kStep * ld_src)
      v[n] = r0 + n * kStep < rows && c < cols ? *at : T(0);
  }
  __device__ __forceinline__ void store(T* dst, int ld_dst) const {
    const int c = threadIdx.x % kCols, r0 = threadIdx.x / kCols;
#pragma unroll
    for (int n = 0; n < kCount; ++n) dst[(r0 + n * kStep) * ld_dst + c] = v[n];
  }
  __device__ __forceinline__ void store_transposed(T* dst, int ld_dst) const {
    const int c = threadIdx.x % kCols, r0 = threadIdx.x / kCols;
#pragma unroll
    for (int n = 0; n < kCount; ++n) dst[c * ld_dst + r0 + n * kStep] = v[n];
  }
};

// Reduces over the kSide lanes that share a row (adjacent lanes of one warp).
template <typename T>
__device__ __forceinline__ T row_max(T v) {
#pragma unroll
  for (int off = Geometry<T>::kSide / 2; off > 0; off >>= 1) {
    const T other = __shfl_xor_sync(0xffffffffu, v, off);
    v = other > v ? other : v;
  }
  return v;
}
template <typename T>
__device__ __forceinline__ T row_sum(T v) {
#pragma unroll
  for (int off = Geometry<T>::kSide / 2; off > 0; off >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

}  // namespace fastdl::cuda::attention_detail
