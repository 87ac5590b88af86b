#pragma once
// AVX-512 micro-kernel: an MR x 32 tile of C in 2*MR zmm accumulators. Per k step: two aligned
// loads of packed B, MR broadcast loads of packed A (load ports, not shuffle ports), 2*MR FMAs.
#include <immintrin.h>

#include <cstdint>

#include "cpu/gemm/gemm_tile_store.h"

namespace fastdl::cpu::FASTDL_ISA {

// Lanes [0, nr) of the two 16-lane halves of a 32-wide row.
inline __mmask16 lane_mask_lo(int nr) {
  return nr >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << nr) - 1);
}
inline __mmask16 lane_mask_hi(int nr) {
  return nr >= 32 ? __mmask16(0xFFFF) : nr <= 16 ? __mmask16(0) : __mmask16((1u << (nr - 16)) - 1);
}

// C tile (mr x nr of it) = alpha * acc + beta * C; beta == 0 never reads C.
template <int MR>
inline void store_tile(const __m512 (&acc0)[MR], const __m512 (&acc1)[MR], float* c,
                       int64_t rs_c, int64_t cs_c, int mr, int nr, float alpha, float beta) {
  constexpr int NR = 32;
  const __m512 va = _mm512_set1_ps(alpha);
  if (cs_c == 1) {
    // Masked loads/stores never touch the columns past nr, so edge tiles need no copy.
    const __mmask16 m0 = lane_mask_lo(nr), m1 = lane_mask_hi(nr);
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      if (i >= mr) break;
      float* ci = c + i * rs_c;
      __m512 r0 = _mm512_mul_ps(va, acc0[i]);
      __m512 r1 = _mm512_mul_ps(va, acc1[i]);
      if (beta != 0.f) {
        r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), r0);
        r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), r1);
      }
      _mm512_mask_storeu_ps(ci, m0, r0);
      _mm512_mask_storeu_ps(ci + 16, m1, r1);
    }
    return;
  }
  alignas(64) float tile[MR * NR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    _mm512_store_ps(tile + i * NR, acc0[i]);
    _mm512_store_ps(tile + i * NR + 16, acc1[i]);
  }
  store_tile_generic<NR>(tile, c, rs_c, cs_c, mr, nr, alpha, beta);
}

// Touch the C tile early so its lines arrive while the k loop runs.
inline void prefetch_c_tile(const float* c, int64_t rs_c, int64_t cs_c, int mr) {
  for (int i = 0; i < mr; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c + 31 * cs_c), _MM_HINT_T0);
  }
}

template <int MR, int NR>
inline void micro_kernel(int64_t kc, const float* __restrict pa, const float* __restrict pb,
                         float* c, int64_t rs_c, int64_t cs_c, int mr, int nr, float alpha,
                         float beta) {
  static_assert(NR == 32, "this kernel holds a row of the tile in two vectors");
  __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
  prefetch_c_tile(c, rs_c, cs_c, mr);

#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(pb);
    const __m512 b1 = _mm512_load_ps(pb + 16);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(pa[i]);
      acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
    }
    pa += MR;
    pb += NR;
  }
  store_tile<MR>(acc0, acc1, c, rs_c, cs_c, mr, nr, alpha, beta);
}

}  // namespace fastdl::cpu::FASTDL_ISA
