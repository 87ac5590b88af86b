#pragma once
// AVX2 + FMA micro-kernels: an MR x 16 tile of C in 2*MR ymm accumulators (MR = 6 uses 12 of the
// 16 ymm registers; 2 hold B, 1 the broadcast of A). micro_kernel reads packed slivers;
// micro_kernel_in_place reads A (and B) where they lie, like the AVX-512 one. Neither is ever
// inlined: 15 of 16 registers leave no room for a caller's live vectors (see the AVX-512 kernels).
#include <immintrin.h>

#include <cstdint>

#include "cpu/gemm/gemm_tile_store.h"

namespace fastdl::cpu::FASTDL_ISA {

// C tile (mr x nr of it) = alpha * acc + beta * C; beta == 0 never reads C.
template <int MR>
inline void store_tile(const __m256 (&acc0)[MR], const __m256 (&acc1)[MR], float* c,
                       int64_t rs_c, int64_t cs_c, int mr, int nr, float alpha, float beta) {
  constexpr int NR = 16;
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

template <int MR, int NR>
[[gnu::noinline]] void micro_kernel(int64_t kc, const float* __restrict pa,
                                    const float* __restrict pb, float* c, int64_t rs_c,
                                    int64_t cs_c, int mr, int nr, float alpha, float beta) {
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
  store_tile<MR>(acc0, acc1, c, rs_c, cs_c, mr, nr, alpha, beta);
}

// Lanes [8 v, 8 v + 8) that lie inside the first nr columns, as a maskload mask.
inline __m256i lane_mask(int nr, int v) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8 * v), lane);
}

// A (rows clamped to mr - 1) and B (columns past nr masked off) read in place; with
// kPrefetchNext, one line of the next MR rows of A every two k steps (see the AVX-512 kernel).
template <int MR, int NR, bool kPrefetchNext = false>
[[gnu::noinline]] void micro_kernel_in_place(int64_t kc, const float* a, int64_t lda,
                                             const float* b, int64_t ldb, float* c, int64_t rs_c,
                                             int64_t cs_c, int mr, int nr, float alpha,
                                             float beta, const float* next = nullptr) {
  static_assert(NR == 16, "this kernel holds a row of the tile in two vectors");
  __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = _mm256_setzero_ps();
  const float* row[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) row[i] = a + (i < mr ? i : mr - 1) * lda;
  const __m256i mask0 = lane_mask(nr, 0), mask1 = lane_mask(nr, 1);

#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_maskload_ps(b + p * ldb, mask0);
    const __m256 b1 = _mm256_maskload_ps(b + p * ldb + 8, mask1);
    if constexpr (kPrefetchNext) {
      if ((p & 1) == 0) {
        const int64_t line = p >> 1;  // row line % MR, 16-float line line / MR of that row
        _mm_prefetch(reinterpret_cast<const char*>(next + (line % MR) * lda + (line / MR) * 16),
                     _MM_HINT_T0);
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(row[i] + p);
      acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
    }
  }
  store_tile<MR>(acc0, acc1, c, rs_c, cs_c, mr, nr, alpha, beta);
}

}  // namespace fastdl::cpu::FASTDL_ISA
