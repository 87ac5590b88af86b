#pragma once
// Packing: copy a block of A or B, read through arbitrary (even zero or negative) element
// strides, into the contiguous sliver layout the micro-kernel streams. Rows/columns past the
// matrix edge are zero-filled, so the micro-kernel never needs an edge case in its k loop.
// Included only by per-ISA sources; unit-stride cases get loops the compiler vectorizes. Templated
// on the element type (float, double); the register transposes exist for both.
#include <algorithm>
#include <cstdint>
#include <type_traits>

#if defined(FASTDL_ISA_avx512) || defined(FASTDL_ISA_avx2)
#include <immintrin.h>
#endif
#include "cpu/gemm/gemm_simd.h"

namespace fastdl::cpu::FASTDL_ISA {

// dst[c * ds + r] = src[r * ss + c] for an 8 x 8 block: the transposes that packing a row-major A
// or a column-major B needs. Eight-wide vectors and 24 shuffles instead of 64 scalar moves.
inline void transpose_8x8(const float* src, int64_t ss, float* dst, int64_t ds) {
#if defined(FASTDL_ISA_avx512) || defined(FASTDL_ISA_avx2)
  __m256 r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ss);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // rows i, i+1 interleaved, low halves
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // high halves
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ds, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ds, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
  }
#else
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) dst[c * ds + r] = src[r * ss + c];
#endif
}

#if defined(FASTDL_ISA_avx512)
// 8 rows x 16 columns (src[r * ss + c]) -> dst[c * ds + r]: 32 shuffles per 128 elements where
// two 8 x 8 transposes take 48, and 64-byte loads. With ds == 8 (an A sliver) the output is 128
// contiguous floats, written as 64-byte stores; otherwise (a B sliver, ds = NR) as 32-byte rows.
inline void transpose_8x16(const float* src, int64_t ss, float* dst, int64_t ds) {
  __m512 r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm512_loadu_ps(src + i * ss);
  for (int i = 0; i < 8; i += 2) {  // per 128-bit lane l: rows i, i+1 at columns 4l..4l+3
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // u[q] (q < 4): lane l = rows 0-3 at column 4l + q; u[q + 4]: rows 4-7 at column 4l + q.
  for (int h = 0; h < 8; h += 4) {
    u[h / 4 * 4 + 0] = _mm512_shuffle_ps(t[h], t[h + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[h / 4 * 4 + 1] = _mm512_shuffle_ps(t[h], t[h + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[h / 4 * 4 + 2] = _mm512_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[h / 4 * 4 + 3] = _mm512_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  // Output vector j holds columns 2j and 2j+1, each as rows 0-7: lanes (u[q].l, u[q+4].l,
  // u[q+1].l, u[q+5].l) for columns 4l + q, 4l + q + 1 with q = 0 or 2.
  for (int q = 0; q < 4; q += 2) {
    const __m512 lo_a = _mm512_shuffle_f32x4(u[q], u[q + 4], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 hi_a = _mm512_shuffle_f32x4(u[q], u[q + 4], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512 lo_b = _mm512_shuffle_f32x4(u[q + 1], u[q + 5], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 hi_b = _mm512_shuffle_f32x4(u[q + 1], u[q + 5], _MM_SHUFFLE(3, 2, 3, 2));
    // columns 4l + q and 4l + q + 1 live in vector 2l + q / 2
    const __m512 out[4] = {_mm512_shuffle_f32x4(lo_a, lo_b, _MM_SHUFFLE(2, 0, 2, 0)),
                           _mm512_shuffle_f32x4(lo_a, lo_b, _MM_SHUFFLE(3, 1, 3, 1)),
                           _mm512_shuffle_f32x4(hi_a, hi_b, _MM_SHUFFLE(2, 0, 2, 0)),
                           _mm512_shuffle_f32x4(hi_a, hi_b, _MM_SHUFFLE(3, 1, 3, 1))};
    for (int l = 0; l < 4; ++l) {
      const int64_t column = 4 * l + q;
      if (ds == 8) {
        _mm512_storeu_ps(dst + column * 8, out[l]);
      } else {
        _mm256_storeu_ps(dst + column * ds, _mm512_castps512_ps256(out[l]));
        _mm256_storeu_ps(dst + (column + 1) * ds, _mm512_extractf32x8_ps(out[l], 1));
      }
    }
  }
}
#endif

#if defined(FASTDL_ISA_avx512) || defined(FASTDL_ISA_avx2)
// dst[c * ds + r] = src[r * ss + c] for a 4 x 4 block of doubles: 8 shuffles instead of 16
// scalar moves (column-major B slivers on AVX2, 8 doubles = two blocks per packed row).
inline void transpose_4x4(const double* src, int64_t ss, double* dst, int64_t ds) {
  __m256d r[4];
  for (int i = 0; i < 4; ++i) r[i] = _mm256_loadu_pd(src + i * ss);
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
  _mm256_storeu_pd(dst, _mm256_permute2f128_pd(t0, t2, 0x20));
  _mm256_storeu_pd(dst + ds, _mm256_permute2f128_pd(t1, t3, 0x20));
  _mm256_storeu_pd(dst + 2 * ds, _mm256_permute2f128_pd(t0, t2, 0x31));
  _mm256_storeu_pd(dst + 3 * ds, _mm256_permute2f128_pd(t1, t3, 0x31));
}
#endif

// dst[c * ds + r] = src[r * ss + c] for an 8 x 8 block of doubles; on AVX-512 in zmm registers:
// 24 shuffles per 64 elements, 64-byte loads and stores (a row-major A sliver, MR = 8; column-major
// B). Elsewhere element by element (only AVX-512's double tile has MR = 8).
inline void transpose_8x8(const double* src, int64_t ss, double* dst, int64_t ds) {
#if defined(FASTDL_ISA_avx512)
  __m512d r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm512_loadu_pd(src + i * ss);
  for (int i = 0; i < 8; i += 2) {  // per 128-bit lane l: rows i, i+1 at column 2l (lo), 2l+1 (hi)
    t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
  }
  // u[h + q] (h = 0: rows 0-3, h = 4: rows 4-7): lanes = rows (0,1) and (2,3) of the h group at
  // columns q' and q' + 4, where q' = 0, 2, 1, 3 for q = 0..3.
  for (int h = 0; h < 8; h += 4) {
    u[h + 0] = _mm512_shuffle_f64x2(t[h], t[h + 2], _MM_SHUFFLE(2, 0, 2, 0));      // cols 0, 4
    u[h + 1] = _mm512_shuffle_f64x2(t[h], t[h + 2], _MM_SHUFFLE(3, 1, 3, 1));      // cols 2, 6
    u[h + 2] = _mm512_shuffle_f64x2(t[h + 1], t[h + 3], _MM_SHUFFLE(2, 0, 2, 0));  // cols 1, 5
    u[h + 3] = _mm512_shuffle_f64x2(t[h + 1], t[h + 3], _MM_SHUFFLE(3, 1, 3, 1));  // cols 3, 7
  }
  constexpr int kColumn[4] = {0, 2, 1, 3};
  for (int q = 0; q < 4; ++q) {
    const int column = kColumn[q];
    _mm512_storeu_pd(dst + column * ds, _mm512_shuffle_f64x2(u[q], u[q + 4], _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_storeu_pd(dst + (column + 4) * ds,
                     _mm512_shuffle_f64x2(u[q], u[q + 4], _MM_SHUFFLE(3, 1, 3, 1)));
  }
#else
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) dst[c * ds + r] = src[r * ss + c];
#endif
}

// A block (mc x kc, element (i, p) at a[i * rs + p * cs]) -> ceil(mc / MR) slivers, each
// kc x MR with the MR values of one k step adjacent: dst[s * MR * kc + p * MR + i].
template <typename T, int MR>
void pack_a(int64_t mc, int64_t kc, const T* a, int64_t rs, int64_t cs, T* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const int mr = int(std::min<int64_t>(MR, mc - i0));
    const T* src = a + i0 * rs;
    if (mr == MR && rs == 1) {  // column-major A (e.g. a transposed row-major array)
      for (int64_t p = 0; p < kc; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = src[p * cs + i];
    } else if (mr == MR && cs == 1) {  // row-major A: MR contiguous row streams
      int64_t p0 = 0;
#if defined(FASTDL_ISA_avx512)
      if constexpr (std::is_same_v<T, float> && MR == 8) {
        for (; p0 + 16 <= kc; p0 += 16) transpose_8x16(src + p0, rs, dst + p0 * MR, MR);
      }
#endif
      if constexpr (MR % 8 == 0) {
        for (; p0 + 8 <= kc; p0 += 8)
          for (int i = 0; i < MR; i += 8) transpose_8x8(src + i * rs + p0, rs, dst + p0 * MR + i, MR);
      }
      for (int64_t p = p0; p < kc; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = src[i * rs + p];
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        for (int i = 0; i < mr; ++i) dst[p * MR + i] = src[i * rs + p * cs];
        for (int i = mr; i < MR; ++i) dst[p * MR + i] = T(0);
      }
    }
  }
}

// Distance in elements between consecutive packed B slivers: kc * NR plus one cache line, so the
// slivers' rows do not all map to the same L1 set while a row of B is scattered across them.
template <typename T, int NR>
constexpr int64_t packed_b_sliver_stride(int64_t kc) {
  return kc * NR + 64 / int64_t(sizeof(T));
}

// B block (kc x nc, element (p, j) at b[p * rs + j * cs]) -> ceil(nc / NR) slivers, each
// kc x NR with one k step's NR values adjacent: dst[s * sliver_stride + p * NR + j].
template <typename T, int NR>
void pack_b(int64_t kc, int64_t nc, const T* b, int64_t rs, int64_t cs, T* dst) {
  const int64_t stride = packed_b_sliver_stride<T, NR>(kc);
  const int64_t full = nc / NR * NR;
  if (cs == 1) {
    // Row-major B: stream whole rows (the hardware prefetcher follows them) and scatter each
    // row's NR-wide pieces to the slivers.
    for (int64_t p = 0; p < kc; ++p) {
      const T* row = b + p * rs;
      T* out = dst + p * NR;
      for (int64_t j0 = 0; j0 < full; j0 += NR, out += stride)
        for (int j = 0; j < NR; ++j) out[j] = row[j0 + j];
    }
  } else if (rs == 1) {
    // Column-major B (e.g. a transposed weight): transpose sliver by sliver in register blocks.
    for (int64_t j0 = 0; j0 < full; j0 += NR) {
      const T* src = b + j0 * cs;
      T* out = dst + j0 / NR * stride;
      int64_t p0 = 0;
#if defined(FASTDL_ISA_avx512)
      if constexpr (std::is_same_v<T, float>) {
        for (; p0 + 16 <= kc; p0 += 16)
          for (int j = 0; j < NR; j += 8) transpose_8x16(src + j * cs + p0, cs, out + p0 * NR + j, NR);
      }
#endif
      // 8 x 8 blocks: float on every ISA, double where a vector holds 8 (AVX-512, NR = 24).
      if constexpr (NR % 8 == 0 && (std::is_same_v<T, float> || Simd<T>::kLanes >= 8)) {
        for (; p0 + 8 <= kc; p0 += 8)
          for (int j = 0; j < NR; j += 8) transpose_8x8(src + j * cs + p0, cs, out + p0 * NR + j, NR);
      }
#if defined(FASTDL_ISA_avx2)
      if constexpr (std::is_same_v<T, double>) {  // the AVX2 double sliver, NR = 8: 4 x 4 blocks
        for (; p0 + 4 <= kc; p0 += 4)
          for (int j = 0; j < NR; j += 4) transpose_4x4(src + j * cs + p0, cs, out + p0 * NR + j, NR);
      }
#endif
      for (int64_t p = p0; p < kc; ++p)
        for (int j = 0; j < NR; ++j) out[p * NR + j] = src[j * cs + p];
    }
  } else {
    for (int64_t j0 = 0; j0 < full; j0 += NR) {
      const T* src = b + j0 * cs;
      T* out = dst + j0 / NR * stride;
      for (int64_t p = 0; p < kc; ++p)
        for (int j = 0; j < NR; ++j) out[p * NR + j] = src[p * rs + j * cs];
    }
  }
  if (full < nc) {  // the last, partial sliver: zero-filled past column nc
    const int nr = int(nc - full);
    const T* src = b + full * cs;
    T* out = dst + full / NR * stride;
#if defined(FASTDL_ISA_avx512)
    if (cs == 1) {  // masked loads read only the nr valid columns, the rest become zeros
      using S = Simd<T>;
      constexpr int kVectors = NR / S::kLanes;
      static_assert(NR % S::kLanes == 0, "whole vectors per packed row");
      typename S::Mask mask[kVectors];
      for (int v = 0; v < kVectors; ++v) mask[v] = S::lane_mask(nr, v);
      for (int64_t p = 0; p < kc; ++p)
        for (int v = 0; v < kVectors; ++v)
          S::store(out + p * NR + S::kLanes * v,
                   S::maskz_loadu(mask[v], src + p * rs + S::kLanes * v));
      return;
    }
#endif
    for (int64_t p = 0; p < kc; ++p) {
      T* row = out + p * NR;
      for (int j = 0; j < NR; ++j) row[j] = T(0);
      for (int j = 0; j < nr; ++j) row[j] = src[p * rs + j * cs];
    }
  }
}

}  // namespace fastdl::cpu::FASTDL_ISA
