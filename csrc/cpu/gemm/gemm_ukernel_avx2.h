#pragma once
// AVX2 + FMA micro-kernel: an MR x 16 tile of C in 2*MR ymm accumulators (MR = 6 uses 12 of the
// 16 ymm registers; 2 hold B, 1 the broadcast of A).
#include <immintrin.h>

#include <cstdint>

#include "cpu/gemm/gemm_tile_store.h"

namespace fastdl::cpu::FASTDL_ISA {

template <int MR, int NR>
inline void micro_kernel(int64_t kc, const float* __restrict pa, const float* __restrict pb,
                         float* c, int64_t rs_c, int64_t cs_c, int mr, int nr, float alpha,
                         float beta) {
  static_assert(NR == 16, "this kernel holds a row of the tile in two vectors");
  __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = _mm256_setzero_ps();

#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(pb);
    const __m256 b1 = _mm256_load_ps(pb + 8);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(pa + i);
      acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
    }
    pa += MR;
    pb += NR;
  }

  const __m256 va = _mm256_set1_ps(alpha);
  if (cs_c == 1 && nr == NR) {
    const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      if (i >= mr) break;
      float* ci = c + i * rs_c;
      __m256 r0 = _mm256_mul_ps(va, acc0[i]);
      __m256 r1 = _mm256_mul_ps(va, acc1[i]);
      if (beta != 0.f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);
      }
      _mm256_storeu_ps(ci, r0);
      _mm256_storeu_ps(ci + 8, r1);
    }
    return;
  }
  alignas(32) float tile[MR * NR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    _mm256_store_ps(tile + i * NR, acc0[i]);
    _mm256_store_ps(tile + i * NR + 8, acc1[i]);
  }
  store_tile_generic<NR>(tile, c, rs_c, cs_c, mr, nr, alpha, beta);
}

}  // namespace fastdl::cpu::FASTDL_ISA
