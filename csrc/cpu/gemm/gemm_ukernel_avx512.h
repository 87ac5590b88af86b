#pragma once
// AVX-512 micro-kernel: an MR x NR tile of C (NR = 16 * NV) in NV * MR zmm accumulators. Per k
// step: NV aligned loads of packed B, MR broadcast loads of packed A (load ports, not shuffle
// ports), NV * MR FMAs. A partial last sliver (nr < NR) runs with only the vectors it needs.
#include <immintrin.h>

#include <cstdint>

#include "cpu/gemm/gemm_lane_mask_avx512.h"
#include "cpu/gemm/gemm_tile_store.h"

namespace fastdl::cpu::FASTDL_ISA {

// C tile (mr x nr of it) = alpha * acc + beta * C; beta == 0 never reads C.
template <int MR, int NV>
inline void store_tile(const __m512 (&acc)[NV][MR], float* c, int64_t rs_c, int64_t cs_c, int mr,
                       int nr, float alpha, float beta) {
  const __m512 va = _mm512_set1_ps(alpha);
  if (cs_c == 1) {
    // Masked loads/stores never touch the columns past nr, so edge tiles need no copy.
    __mmask16 mask[NV];
    for (int v = 0; v < NV; ++v) mask[v] = lane_mask(nr, v);
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      if (i >= mr) break;
      float* ci = c + i * rs_c;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        __m512 r = _mm512_mul_ps(va, acc[v][i]);
        if (beta != 0.f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], ci + 16 * v), r);
        _mm512_mask_storeu_ps(ci + 16 * v, mask[v], r);
      }
    }
    return;
  }
  constexpr int kWidth = 16 * NV;
  alignas(64) float tile[MR * kWidth];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_store_ps(tile + i * kWidth + 16 * v, acc[v][i]);
  store_tile_generic<kWidth>(tile, c, rs_c, cs_c, mr, nr, alpha, beta);
}

// Touch the C tile early so its lines arrive while the k loop runs.
inline void prefetch_c_tile(const float* c, int64_t rs_c, int64_t cs_c, int mr, int nr) {
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; j += 16)
      _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c + j * cs_c), _MM_HINT_T0);
}

// The k loop over NV of the packed sliver's vectors; `ldb` is the packed row length (NR).
// Never inlined: its NV * MR accumulators, NV B vectors and the broadcast need 28 of the 32 zmm
// registers, and inlined next to the packing code (whose permutation indices stay live) GCC
// spilled a B vector to the stack, one store and MR reloads per k step.
template <int MR, int NV>
[[gnu::noinline]] void micro_kernel_vectors(int64_t kc, const float* __restrict pa,
                                              const float* __restrict pb, int64_t ldb, float* c,
                                              int64_t rs_c, int64_t cs_c, int mr, int nr,
                                              float alpha, float beta) {
  __m512 acc[NV][MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[v][i] = _mm512_setzero_ps();
  prefetch_c_tile(c, rs_c, cs_c, mr, nr);

#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    __m512 b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = _mm512_load_ps(pb + 16 * v);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(pa[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[v][i] = _mm512_fmadd_ps(ai, b[v], acc[v][i]);
    }
    pa += MR;
    pb += ldb;
  }
  store_tile<MR, NV>(acc, c, rs_c, cs_c, mr, nr, alpha, beta);
}

// Calls fn.template operator()<NV>() with the fewest 16-lane vectors (at most NR / 16) that cover
// nr columns: a partial last sliver runs with one or two vectors instead of three.
template <int NR, typename Fn>
inline void with_vector_count(int nr, Fn&& fn) {
  constexpr int kVectors = NR / 16;
  if constexpr (kVectors >= 3) {
    if (nr > 32) return fn.template operator()<kVectors>();
  }
  if constexpr (kVectors >= 2) {
    if (nr > 16) return fn.template operator()<2>();
  }
  fn.template operator()<1>();
}

template <int MR, int NR>
inline void micro_kernel(int64_t kc, const float* __restrict pa, const float* __restrict pb,
                         float* c, int64_t rs_c, int64_t cs_c, int mr, int nr, float alpha,
                         float beta) {
  static_assert(NR % 16 == 0 && NR <= 48, "rows of the tile are held in one to three vectors");
  with_vector_count<NR>(nr, [&]<int NV>() {
    micro_kernel_vectors<MR, NV>(kc, pa, pb, NR, c, rs_c, cs_c, mr, nr, alpha, beta);
  });
}

// Small and narrow products: A (and for small ones B) read where they lie (unit column strides)
// instead of from packed slivers. Rows of A past mr repeat row mr - 1 (their results are not
// stored); columns of B past nr are masked off, so nothing outside either matrix is read. Same
// order of operations as the packed kernel for the same k range. With kPrefetchNext, one line of
// the next MR rows of A (`next`, same lda) is prefetched every two k steps: over the k loop that
// is all of them (8 rows x k / 16 lines), so a stream of long row blocks does not wait for memory.
template <int MR, int NV, bool kPrefetchNext>
[[gnu::noinline]] void micro_kernel_in_place_vectors(int64_t kc, const float* a, int64_t lda,
                                                       const float* b, int64_t ldb, float* c,
                                                       int64_t rs_c, int64_t cs_c, int mr, int nr,
                                                       float alpha, float beta,
                                                       const float* next) {
  __m512 acc[NV][MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[v][i] = _mm512_setzero_ps();
  const float* row[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) row[i] = a + (i < mr ? i : mr - 1) * lda;
  __mmask16 mask[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) mask[v] = lane_mask(nr, v);

#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_maskz_loadu_ps(mask[v], b + p * ldb + 16 * v);
    if constexpr (kPrefetchNext) {
      if ((p & 1) == 0) {
        const int64_t line = p >> 1;  // row line % MR, 16-float line line / MR of that row
        _mm_prefetch(reinterpret_cast<const char*>(next + (line % MR) * lda + (line / MR) * 16),
                     _MM_HINT_T0);
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(row[i][p]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[v][i] = _mm512_fmadd_ps(ai, bv[v], acc[v][i]);
    }
  }
  store_tile<MR, NV>(acc, c, rs_c, cs_c, mr, nr, alpha, beta);
}

template <int MR, int NR, bool kPrefetchNext = false>
inline void micro_kernel_in_place(int64_t kc, const float* a, int64_t lda, const float* b,
                                  int64_t ldb, float* c, int64_t rs_c, int64_t cs_c, int mr,
                                  int nr, float alpha, float beta, const float* next = nullptr) {
  with_vector_count<NR>(nr, [&]<int NV>() {
    micro_kernel_in_place_vectors<MR, NV, kPrefetchNext>(kc, a, lda, b, ldb, c, rs_c, cs_c, mr,
                                                         nr, alpha, beta, next);
  });
}

}  // namespace fastdl::cpu::FASTDL_ISA
