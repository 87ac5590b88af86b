#pragma once
// AVX-512 micro-kernel: an MR x NR tile of C (NR = lanes * NV; 16 floats or 8 doubles per zmm) in
// NV * MR zmm accumulators. Per k step: NV aligned loads of packed B, MR broadcast loads of packed
// A (load ports, not shuffle ports), NV * MR FMAs. A partial last sliver (nr < NR) runs with only
// the vectors it needs. One body for float and double (Simd<T> supplies the vector operations).
#include <immintrin.h>

#include <cstdint>

#include "cpu/gemm/gemm_simd.h"
#include "cpu/gemm/gemm_tile_store.h"

namespace fastdl::cpu::FASTDL_ISA {

// C tile (mr x nr of it) = alpha * acc + beta * C; beta == 0 never reads C.
template <typename T, int MR, int NV>
inline void store_tile(const typename Simd<T>::Vec (&acc)[NV][MR], T* c, int64_t rs_c,
                       int64_t cs_c, int mr, int nr, T alpha, T beta) {
  using S = Simd<T>;
  const typename S::Vec va = S::set1(alpha);
  if (cs_c == 1) {
    // Masked loads/stores never touch the columns past nr, so edge tiles need no copy.
    typename S::Mask mask[NV];
    for (int v = 0; v < NV; ++v) mask[v] = S::lane_mask(nr, v);
    const typename S::Vec vb = S::set1(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      if (i >= mr) break;
      T* ci = c + i * rs_c;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        typename S::Vec r = S::mul(va, acc[v][i]);
        if (beta != T(0)) r = S::fmadd(vb, S::maskz_loadu(mask[v], ci + S::kLanes * v), r);
        S::mask_storeu(ci + S::kLanes * v, mask[v], r);
      }
    }
    return;
  }
  constexpr int kWidth = S::kLanes * NV;
  alignas(64) T tile[MR * kWidth];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) S::store(tile + i * kWidth + S::kLanes * v, acc[v][i]);
  store_tile_generic<T, kWidth>(tile, c, rs_c, cs_c, mr, nr, alpha, beta);
}

// Touch the C tile early so its lines arrive while the k loop runs.
template <typename T>
inline void prefetch_c_tile(const T* c, int64_t rs_c, int64_t cs_c, int mr, int nr) {
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; j += 64 / int(sizeof(T)))
      _mm_prefetch(reinterpret_cast<const char*>(c + i * rs_c + j * cs_c), _MM_HINT_T0);
}

// The k loop over NV of the packed sliver's vectors; `ldb` is the packed row length (NR).
// Never inlined: its NV * MR accumulators, NV B vectors and the broadcast need 28 of the 32 zmm
// registers, and inlined next to the packing code (whose permutation indices stay live) GCC
// spilled a B vector to the stack, one store and MR reloads per k step.
template <typename T, int MR, int NV>
[[gnu::noinline]] void micro_kernel_vectors(int64_t kc, const T* __restrict pa,
                                              const T* __restrict pb, int64_t ldb, T* c,
                                              int64_t rs_c, int64_t cs_c, int mr, int nr, T alpha,
                                              T beta) {
  using S = Simd<T>;
  typename S::Vec acc[NV][MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[v][i] = S::zero();
  prefetch_c_tile(c, rs_c, cs_c, mr, nr);

#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    typename S::Vec b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = S::load(pb + S::kLanes * v);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const typename S::Vec ai = S::broadcast(pa + i);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[v][i] = S::fmadd(ai, b[v], acc[v][i]);
    }
    pa += MR;
    pb += ldb;
  }
  store_tile<T, MR, NV>(acc, c, rs_c, cs_c, mr, nr, alpha, beta);
}

// Calls fn.template operator()<NV>() with the fewest vectors (at most NR / lanes) that cover nr
// columns: a partial last sliver runs with one or two vectors instead of three.
template <typename T, int NR, typename Fn>
inline void with_vector_count(int nr, Fn&& fn) {
  constexpr int kLanes = Simd<T>::kLanes;
  constexpr int kVectors = NR / kLanes;
  if constexpr (kVectors >= 3) {
    if (nr > 2 * kLanes) return fn.template operator()<kVectors>();
  }
  if constexpr (kVectors >= 2) {
    if (nr > kLanes) return fn.template operator()<2>();
  }
  fn.template operator()<1>();
}

template <typename T, int MR, int NR>
inline void micro_kernel(int64_t kc, const T* __restrict pa, const T* __restrict pb, T* c,
                         int64_t rs_c, int64_t cs_c, int mr, int nr, T alpha, T beta) {
  static_assert(NR % Simd<T>::kLanes == 0 && NR <= 3 * Simd<T>::kLanes,
                "rows of the tile are held in one to three vectors");
  with_vector_count<T, NR>(nr, [&]<int NV>() {
    micro_kernel_vectors<T, MR, NV>(kc, pa, pb, NR, c, rs_c, cs_c, mr, nr, alpha, beta);
  });
}

// Small and narrow products: A (and for small ones B) read where they lie (unit column strides)
// instead of from packed slivers. Rows of A past mr repeat row mr - 1 (their results are not
// stored); columns of B past nr are masked off, so nothing outside either matrix is read. Same
// order of operations as the packed kernel for the same k range. With kPrefetchNext, one line of
// the next MR rows of A (`next`, same lda) is prefetched every kStepsPerLine k steps: over the k
// loop that is all of them (MR rows x k / line elements), so a stream of long row blocks does not
// wait for memory.
template <typename T, int MR, int NV, bool kPrefetchNext>
[[gnu::noinline]] void micro_kernel_in_place_vectors(int64_t kc, const T* a, int64_t lda,
                                                       const T* b, int64_t ldb, T* c,
                                                       int64_t rs_c, int64_t cs_c, int mr, int nr,
                                                       T alpha, T beta, const T* next) {
  using S = Simd<T>;
  constexpr int kLineElements = 64 / int(sizeof(T));
  constexpr int kStepsPerLine = kLineElements / MR > 1 ? kLineElements / MR : 1;
  typename S::Vec acc[NV][MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[v][i] = S::zero();
  const T* row[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) row[i] = a + (i < mr ? i : mr - 1) * lda;
  typename S::Mask mask[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) mask[v] = S::lane_mask(nr, v);

#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    typename S::Vec bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = S::maskz_loadu(mask[v], b + p * ldb + S::kLanes * v);
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
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[v][i] = S::fmadd(ai, bv[v], acc[v][i]);
    }
  }
  store_tile<T, MR, NV>(acc, c, rs_c, cs_c, mr, nr, alpha, beta);
}

template <typename T, int MR, int NR, bool kPrefetchNext = false>
inline void micro_kernel_in_place(int64_t kc, const T* a, int64_t lda, const T* b, int64_t ldb,
                                  T* c, int64_t rs_c, int64_t cs_c, int mr, int nr, T alpha,
                                  T beta, const T* next = nullptr) {
  with_vector_count<T, NR>(nr, [&]<int NV>() {
    micro_kernel_in_place_vectors<T, MR, NV, kPrefetchNext>(kc, a, lda, b, ldb, c, rs_c, cs_c,
                                                            mr, nr, alpha, beta, next);
  });
}

}  // namespace fastdl::cpu::FASTDL_ISA
