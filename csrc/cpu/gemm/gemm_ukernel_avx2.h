#pragma once
// AVX2 + FMA micro-kernels: an MR x (2 vectors) tile of C in 2*MR ymm accumulators (MR = 6 uses 12
// of the 16 ymm registers; 2 hold B, 1 the broadcast of A): 6 x 16 floats or 6 x 8 doubles, one
// body for both (Simd<T>). micro_kernel reads packed slivers; micro_kernel_in_place reads A (and
// B) where they lie, like the AVX-512 one. Neither is ever inlined: 15 of 16 registers leave no
// room for a caller's live vectors (see the AVX-512 kernels).
#include <immintrin.h>

#include <cstdint>

#include "cpu/gemm/gemm_simd.h"
#include "cpu/gemm/gemm_tile_store.h"

namespace fastdl::cpu::FASTDL_ISA {

// C tile (mr x nr of it) = alpha * acc + beta * C; beta == 0 never reads C.
template <typename T, int MR>
inline void store_tile(const typename Simd<T>::Vec (&acc0)[MR],
                       const typename Simd<T>::Vec (&acc1)[MR], T* c, int64_t rs_c, int64_t cs_c,
                       int mr, int nr, T alpha, T beta) {
  using S = Simd<T>;
  constexpr int L = S::kLanes, NR = 2 * L;
  const typename S::Vec va = S::set1(alpha);
  if (cs_c == 1 && nr == NR) {
    const typename S::Vec vb = S::set1(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      if (i >= mr) break;
      T* ci = c + i * rs_c;
      typename S::Vec r0 = S::mul(va, acc0[i]);
      typename S::Vec r1 = S::mul(va, acc1[i]);
      if (beta != T(0)) {
        r0 = S::fmadd(vb, S::loadu(ci), r0);
        r1 = S::fmadd(vb, S::loadu(ci + L), r1);
      }
      S::storeu(ci, r0);
      S::storeu(ci + L, r1);
    }
    return;
  }
  alignas(32) T tile[MR * NR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    S::store(tile + i * NR, acc0[i]);
    S::store(tile + i * NR + L, acc1[i]);
  }
  store_tile_generic<T, NR>(tile, c, rs_c, cs_c, mr, nr, alpha, beta);
}

template <typename T, int MR, int NR>
[[gnu::noinline]] void micro_kernel(int64_t kc, const T* __restrict pa, const T* __restrict pb,
                                    T* c, int64_t rs_c, int64_t cs_c, int mr, int nr, T alpha,
                                    T beta) {
  using S = Simd<T>;
  constexpr int L = S::kLanes;
  static_assert(NR == 2 * L, "this kernel holds a row of the tile in two vectors");
  typename S::Vec acc0[MR], acc1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = S::zero();

#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    const typename S::Vec b0 = S::load(pb);
    const typename S::Vec b1 = S::load(pb + L);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename S::Vec ai = S::broadcast(pa + i);
      acc0[i] = S::fmadd(ai, b0, acc0[i]);
      acc1[i] = S::fmadd(ai, b1, acc1[i]);
    }
    pa += MR;
    pb += NR;
  }
  store_tile<T, MR>(acc0, acc1, c, rs_c, cs_c, mr, nr, alpha, beta);
}

// A (rows clamped to mr - 1) and B (columns past nr masked off) read in place; with
// kPrefetchNext, one line of the next MR rows of A every kStepsPerLine k steps (see the AVX-512
// kernel).
template <typename T, int MR, int NR, bool kPrefetchNext = false>
[[gnu::noinline]] void micro_kernel_in_place(int64_t kc, const T* a, int64_t lda, const T* b,
                                             int64_t ldb, T* c, int64_t rs_c, int64_t cs_c,
                                             int mr, int nr, T alpha, T beta,
                                             const T* next = nullptr) {
  using S = Simd<T>;
  constexpr int L = S::kLanes;
  static_assert(NR == 2 * L, "this kernel holds a row of the tile in two vectors");
  constexpr int kLineElements = 64 / int(sizeof(T));
  constexpr int kStepsPerLine = kLineElements / MR > 1 ? kLineElements / MR : 1;
  typename S::Vec acc0[MR], acc1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = S::zero();
  const T* row[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) row[i] = a + (i < mr ? i : mr - 1) * lda;
  const typename S::Mask mask0 = S::lane_mask(nr, 0), mask1 = S::lane_mask(nr, 1);

#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    const typename S::Vec b0 = S::maskz_loadu(mask0, b + p * ldb);
    const typename S::Vec b1 = S::maskz_loadu(mask1, b + p * ldb + L);
    if constexpr (kPrefetchNext) {
      if (uint64_t(p) % kStepsPerLine == 0) {
        // row line % MR, cache line line / MR of that row
        const int64_t line = int64_t(uint64_t(p) / kStepsPerLine);
        _mm_prefetch(reinterpret_cast<const char*>(next + (line % MR) * lda +
                                                   (line / MR) * kLineElements),
                     _MM_HINT_T0);
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename S::Vec ai = S::broadcast(row[i] + p);
      acc0[i] = S::fmadd(ai, b0, acc0[i]);
      acc1[i] = S::fmadd(ai, b1, acc1[i]);
    }
  }
  store_tile<T, MR>(acc0, acc1, c, rs_c, cs_c, mr, nr, alpha, beta);
}

}  // namespace fastdl::cpu::FASTDL_ISA
