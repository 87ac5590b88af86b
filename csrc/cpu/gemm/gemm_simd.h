#pragma once
// The vector operations the GEMM micro-kernels and packing use, per element type: Simd<float> and
// Simd<double> for the ISA this source is compiled for (AVX-512: 16 / 8 lanes per zmm; AVX2: 8 / 4
// per ymm). One kernel body templated on the element type calls these, so the float and double
// kernels are the same code with different vector types. Included only by per-ISA sources.
#include <cstdint>

#if defined(FASTDL_ISA_avx512) || defined(FASTDL_ISA_avx2)
#include <immintrin.h>
#endif

#define FASTDL_SIMD_INLINE [[gnu::always_inline]] static inline

namespace fastdl::cpu::FASTDL_ISA {

template <typename T>
struct Simd;

#if defined(FASTDL_ISA_avx512)
template <>
struct Simd<float> {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  FASTDL_SIMD_INLINE Vec zero() { return _mm512_setzero_ps(); }
  FASTDL_SIMD_INLINE Vec set1(float x) { return _mm512_set1_ps(x); }
  // A scalar from memory in every lane (folded into the FMA as a {1to16} operand).
  FASTDL_SIMD_INLINE Vec broadcast(const float* p) { return _mm512_set1_ps(*p); }
  FASTDL_SIMD_INLINE Vec load(const float* p) { return _mm512_load_ps(p); }
  FASTDL_SIMD_INLINE Vec maskz_loadu(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  FASTDL_SIMD_INLINE void store(float* p, Vec v) { _mm512_store_ps(p, v); }
  FASTDL_SIMD_INLINE void mask_storeu(float* p, Mask m, Vec v) { _mm512_mask_storeu_ps(p, m, v); }
  FASTDL_SIMD_INLINE Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  FASTDL_SIMD_INLINE Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  // Lanes of vector v (columns [16 v, 16 v + 16)) that lie inside the first nr columns.
  FASTDL_SIMD_INLINE Mask lane_mask(int nr, int v) {
    const int lanes = nr - 16 * v;
    return lanes >= 16 ? Mask(0xFFFF) : lanes <= 0 ? Mask(0) : Mask((1u << lanes) - 1);
  }
};

template <>
struct Simd<double> {
  using Vec = __m512d;
  using Mask = __mmask8;
  static constexpr int kLanes = 8;
  FASTDL_SIMD_INLINE Vec zero() { return _mm512_setzero_pd(); }
  FASTDL_SIMD_INLINE Vec set1(double x) { return _mm512_set1_pd(x); }
  FASTDL_SIMD_INLINE Vec broadcast(const double* p) { return _mm512_set1_pd(*p); }
  FASTDL_SIMD_INLINE Vec load(const double* p) { return _mm512_load_pd(p); }
  FASTDL_SIMD_INLINE Vec maskz_loadu(Mask m, const double* p) { return _mm512_maskz_loadu_pd(m, p); }
  FASTDL_SIMD_INLINE void store(double* p, Vec v) { _mm512_store_pd(p, v); }
  FASTDL_SIMD_INLINE void mask_storeu(double* p, Mask m, Vec v) { _mm512_mask_storeu_pd(p, m, v); }
  FASTDL_SIMD_INLINE Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_pd(a, b, c); }
  FASTDL_SIMD_INLINE Vec mul(Vec a, Vec b) { return _mm512_mul_pd(a, b); }
  FASTDL_SIMD_INLINE Mask lane_mask(int nr, int v) {
    const int lanes = nr - 8 * v;
    return lanes >= 8 ? Mask(0xFF) : lanes <= 0 ? Mask(0) : Mask((1u << lanes) - 1);
  }
};
#elif defined(FASTDL_ISA_avx2)
template <>
struct Simd<float> {
  using Vec = __m256;
  using Mask = __m256i;  // a vmaskmovps mask: lanes with the sign bit set are read
  static constexpr int kLanes = 8;
  FASTDL_SIMD_INLINE Vec zero() { return _mm256_setzero_ps(); }
  FASTDL_SIMD_INLINE Vec set1(float x) { return _mm256_set1_ps(x); }
  FASTDL_SIMD_INLINE Vec broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  FASTDL_SIMD_INLINE Vec load(const float* p) { return _mm256_load_ps(p); }
  FASTDL_SIMD_INLINE Vec loadu(const float* p) { return _mm256_loadu_ps(p); }
  FASTDL_SIMD_INLINE Vec maskz_loadu(Mask m, const float* p) { return _mm256_maskload_ps(p, m); }
  FASTDL_SIMD_INLINE void store(float* p, Vec v) { _mm256_store_ps(p, v); }
  FASTDL_SIMD_INLINE void storeu(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  FASTDL_SIMD_INLINE Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  FASTDL_SIMD_INLINE Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  // Lanes [8 v, 8 v + 8) that lie inside the first nr columns.
  FASTDL_SIMD_INLINE Mask lane_mask(int nr, int v) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8 * v), lane);
  }
};

template <>
struct Simd<double> {
  using Vec = __m256d;
  using Mask = __m256i;
  static constexpr int kLanes = 4;
  FASTDL_SIMD_INLINE Vec zero() { return _mm256_setzero_pd(); }
  FASTDL_SIMD_INLINE Vec set1(double x) { return _mm256_set1_pd(x); }
  FASTDL_SIMD_INLINE Vec broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  FASTDL_SIMD_INLINE Vec load(const double* p) { return _mm256_load_pd(p); }
  FASTDL_SIMD_INLINE Vec loadu(const double* p) { return _mm256_loadu_pd(p); }
  FASTDL_SIMD_INLINE Vec maskz_loadu(Mask m, const double* p) { return _mm256_maskload_pd(p, m); }
  FASTDL_SIMD_INLINE void store(double* p, Vec v) { _mm256_store_pd(p, v); }
  FASTDL_SIMD_INLINE void storeu(double* p, Vec v) { _mm256_storeu_pd(p, v); }
  FASTDL_SIMD_INLINE Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_pd(a, b, c); }
  FASTDL_SIMD_INLINE Vec mul(Vec a, Vec b) { return _mm256_mul_pd(a, b); }
  FASTDL_SIMD_INLINE Mask lane_mask(int nr, int v) {
    const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(nr - 4 * v), lane);
  }
};
#else
// Portable: 16-byte GCC vectors (SSE2 on x86-64, NEON on aarch64): 4 floats or 2 doubles.
template <>
struct Simd<float> {
  typedef float Vec __attribute__((vector_size(16)));
  static constexpr int kLanes = 4;
};
template <>
struct Simd<double> {
  typedef double Vec __attribute__((vector_size(16)));
  static constexpr int kLanes = 2;
};
#endif

}  // namespace fastdl::cpu::FASTDL_ISA

#undef FASTDL_SIMD_INLINE
