#pragma once
// Tiled fp32 SGEMM kernel: a 128x128 block of C per CUDA block, k in steps of 8 through shared
// memory, an 8x8 register tile per thread (256 threads). Operands are read with float4 loads when
// their layout allows it (see Operand), with scalar loads at ragged edges; any strides work.
#include <cstdint>

#include "cuda/common/compat.cuh"

namespace fastdl::cuda::sgemm_detail {

constexpr int kBlockM = 128, kBlockN = 128, kBlockK = 8;
constexpr int kThreadM = 8, kThreadN = 8;
constexpr int kThreads = (kBlockM / kThreadM) * (kBlockN / kThreadN);  // 256
constexpr int kMaxBatchDims = 4;
static_assert(kBlockM * kBlockK == 4 * kThreads && kBlockN * kBlockK == 4 * kThreads,
              "each thread loads one float4 of each tile");

// How an operand is read. For A (m x k) and B (k x n): `k_contiguous` means unit stride along k
// and a row/column stride that keeps float4 loads 16-byte aligned; `mn_contiguous` the same along
// m (for A) or n (for B). The host checks strides and base alignment before choosing either.
enum class Operand : int { general = 0, k_contiguous = 1, mn_contiguous = 2 };

struct BatchLayout {
  int ndim;  // <= kMaxBatchDims; the launcher loops over any further (outer) dimensions
  int64_t shape[kMaxBatchDims];
  int64_t a_stride[kMaxBatchDims], b_stride[kMaxBatchDims], c_stride[kMaxBatchDims];
};

struct Params {
  int64_t m, n, k;
  float alpha, beta;
  const float* a;
  int64_t a_rs, a_cs;
  const float* b;
  int64_t b_rs, b_cs;
  float* c;
  int64_t c_rs, c_cs;
  bool c_vectorized;   // c_cs == 1, c_rs % 4 == 0, 16-byte aligned: float4 stores of C
  int64_t batch_begin;  // batch item of blockIdx.z == 0
  BatchLayout batch;
};

// Loads A[row0 : row0+128, k0 : k0+8] into as[k][m] (transposed, so the compute loop reads m in
// float4s). Out-of-range elements become 0 so the edge tiles need no special compute loop.
template <Operand kLayout>
__device__ __forceinline__ void load_a_tile(const Params& p, const float* __restrict__ a,
                                            int64_t row0, int64_t k0, int t,
                                            float (&as)[kBlockK][kBlockM]) {
  if constexpr (kLayout == Operand::k_contiguous) {
    const int r = t >> 1, kc = (t & 1) * 4;
    const int64_t gr = row0 + r, gk = k0 + kc;
    if (gr < p.m && gk + 3 < p.k) {
      const float4 v = *reinterpret_cast<const float4*>(a + gr * p.a_rs + gk);
      as[kc][r] = v.x, as[kc + 1][r] = v.y, as[kc + 2][r] = v.z, as[kc + 3][r] = v.w;
    } else {
      for (int q = 0; q < 4; ++q)
        as[kc + q][r] = gr < p.m && gk + q < p.k ? a[gr * p.a_rs + gk + q] : 0.0f;
    }
  } else if constexpr (kLayout == Operand::mn_contiguous) {
    const int kk = t >> 5, rc = (t & 31) * 4;
    const int64_t gr = row0 + rc, gk = k0 + kk;
    if (gk < p.k && gr + 3 < p.m) {
      *reinterpret_cast<float4*>(&as[kk][rc]) =
          *reinterpret_cast<const float4*>(a + gk * p.a_cs + gr);
    } else {
      for (int q = 0; q < 4; ++q)
        as[kk][rc + q] = gk < p.k && gr + q < p.m ? a[gk * p.a_cs + gr + q] : 0.0f;
    }
  } else {
    for (int q = 0; q < 4; ++q) {
      const int e = t + q * kThreads, r = e % kBlockM, kk = e / kBlockM;
      const int64_t gr = row0 + r, gk = k0 + kk;
      as[kk][r] = gr < p.m && gk < p.k ? a[gr * p.a_rs + gk * p.a_cs] : 0.0f;
    }
  }
}

// Loads B[k0 : k0+8, col0 : col0+128] into bs[k][n].
template <Operand kLayout>
__device__ __forceinline__ void load_b_tile(const Params& p, const float* __restrict__ b,
                                            int64_t col0, int64_t k0, int t,
                                            float (&bs)[kBlockK][kBlockN]) {
  if constexpr (kLayout == Operand::mn_contiguous) {
    const int kk = t >> 5, nc = (t & 31) * 4;
    const int64_t gk = k0 + kk, gc = col0 + nc;
    if (gk < p.k && gc + 3 < p.n) {
      *reinterpret_cast<float4*>(&bs[kk][nc]) =
          *reinterpret_cast<const float4*>(b + gk * p.b_rs + gc);
    } else {
      for (int q = 0; q < 4; ++q)
        bs[kk][nc + q] = gk < p.k && gc + q < p.n ? b[gk * p.b_rs + gc + q] : 0.0f;
    }
  } else if constexpr (kLayout == Operand::k_contiguous) {
    const int c = t >> 1, kc = (t & 1) * 4;
    const int64_t gc = col0 + c, gk = k0 + kc;
    if (gc < p.n && gk + 3 < p.k) {
      const float4 v = *reinterpret_cast<const float4*>(b + gc * p.b_cs + gk);
      bs[kc][c] = v.x, bs[kc + 1][c] = v.y, bs[kc + 2][c] = v.z, bs[kc + 3][c] = v.w;
    } else {
      for (int q = 0; q < 4; ++q)
        bs[kc + q][c] = gc < p.n && gk + q < p.k ? b[gc * p.b_cs + gk + q] : 0.0f;
    }
  } else {
    for (int q = 0; q < 4; ++q) {
      const int e = t + q * kThreads, c = e % kBlockN, kk = e / kBlockN;
      const int64_t gk = k0 + kk, gc = col0 + c;
      bs[kk][c] = gk < p.k && gc < p.n ? b[gk * p.b_rs + gc * p.b_cs] : 0.0f;
    }
  }
}

__device__ __forceinline__ float epilogue(float acc, float alpha, float beta, const float* c) {
  // beta == 0 must not read C: it may hold NaN or be uninitialised.
  return beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
}

template <Operand kA, Operand kB, bool kOmitReadWriteBarrier>
__global__ void __launch_bounds__(kThreads) sgemm_kernel(Params p) {
  FASTDL_SHARED(__align__(16) float, as, [kBlockK][kBlockM]);
  FASTDL_SHARED(__align__(16) float, bs, [kBlockK][kBlockN]);

  // Batch item: blockIdx.z walks the batch dimensions like an odometer, innermost fastest.
  int64_t item = p.batch_begin + blockIdx.z, a_off = 0, b_off = 0, c_off = 0;
  for (int d = p.batch.ndim - 1; d >= 0; --d) {
    const int64_t i = item % p.batch.shape[d];
    item /= p.batch.shape[d];
    a_off += i * p.batch.a_stride[d], b_off += i * p.batch.b_stride[d], c_off += i * p.batch.c_stride[d];
  }
  const float* __restrict__ a = p.a + a_off;
  const float* __restrict__ b = p.b + b_off;
  float* __restrict__ c = p.c + c_off;

  const int t = threadIdx.x;
  const int tx = t % (kBlockN / kThreadN), ty = t / (kBlockN / kThreadN);
  const int64_t row0 = int64_t(blockIdx.y) * kBlockM, col0 = int64_t(blockIdx.x) * kBlockN;

  float acc[kThreadM][kThreadN] = {};
  for (int64_t k0 = 0; k0 < p.k; k0 += kBlockK) {
    load_a_tile<kA>(p, a, row0, k0, t, as);
    load_b_tile<kB>(p, b, col0, k0, t, bs);
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBlockK; ++kk) {
      float ar[kThreadM], br[kThreadN];
      const float4 a0 = *reinterpret_cast<const float4*>(&as[kk][ty * kThreadM]);
      const float4 a1 = *reinterpret_cast<const float4*>(&as[kk][ty * kThreadM + 4]);
      const float4 b0 = *reinterpret_cast<const float4*>(&bs[kk][tx * kThreadN]);
      const float4 b1 = *reinterpret_cast<const float4*>(&bs[kk][tx * kThreadN + 4]);
      ar[0] = a0.x, ar[1] = a0.y, ar[2] = a0.z, ar[3] = a0.w;
      ar[4] = a1.x, ar[5] = a1.y, ar[6] = a1.z, ar[7] = a1.w;
      br[0] = b0.x, br[1] = b0.y, br[2] = b0.z, br[3] = b0.w;
      br[4] = b1.x, br[5] = b1.y, br[6] = b1.z, br[7] = b1.w;
#pragma unroll
      for (int i = 0; i < kThreadM; ++i)
#pragma unroll
        for (int j = 0; j < kThreadN; ++j) acc[i][j] = __fmaf_rn(ar[i], br[j], acc[i][j]);
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
      float* crow = c + r * p.c_rs;
      if (full_vector_row) {
#pragma unroll
        for (int j = 0; j < kThreadN; j += 4) {
          float4* dst = reinterpret_cast<float4*>(crow + col_begin + j);
          float4 v = make_float4(p.alpha * acc[i][j], p.alpha * acc[i][j + 1],
                                 p.alpha * acc[i][j + 2], p.alpha * acc[i][j + 3]);
          if (p.beta != 0.0f) {
            const float4 old = *dst;
            v.x += p.beta * old.x, v.y += p.beta * old.y, v.z += p.beta * old.z, v.w += p.beta * old.w;
          }
          *dst = v;
        }
      } else {
#pragma unroll
        for (int j = 0; j < kThreadN; ++j) {
          if (col_begin + j < p.n) {
            float* dst = crow + (col_begin + j) * p.c_cs;
            *dst = epilogue(acc[i][j], p.alpha, p.beta, dst);
          }
        }
      }
    }
  }
}

}  // namespace fastdl::cuda::sgemm_detail
