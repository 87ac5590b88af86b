#pragma once
// The few vector operations the convolution's direct kernels use, per ISA and element type:
// loads and stores of the first n lanes (masked at a row's end, so nothing past it is touched),
// broadcast, FMA and a horizontal sum. The portable build uses one-lane "vectors" (plain scalars):
// the same kernel bodies, compiled as scalar loops. Included only by per-ISA sources.
#include <cstdint>

#if defined(FASTDL_ISA_avx512) || defined(FASTDL_ISA_avx2)
#include <immintrin.h>
#endif

#define FASTDL_CONV_INLINE [[gnu::always_inline]] static inline

namespace fastdl::cpu::FASTDL_ISA::conv_simd {

template <typename T>
struct Vec;

#if defined(FASTDL_ISA_avx512)
template <>
struct Vec<float> {
  using V = __m512;
  static constexpr int L = 16;
  FASTDL_CONV_INLINE __mmask16 mask(int64_t n) { return __mmask16((1u << n) - 1); }
  FASTDL_CONV_INLINE V zero() { return _mm512_setzero_ps(); }
  FASTDL_CONV_INLINE V set1(float x) { return _mm512_set1_ps(x); }
  FASTDL_CONV_INLINE V load(const float* p, int64_t n) {
    return n >= L ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(mask(n), p);
  }
  FASTDL_CONV_INLINE void store(float* p, V v, int64_t n) {
    if (n >= L) _mm512_storeu_ps(p, v); else _mm512_mask_storeu_ps(p, mask(n), v);
  }
  FASTDL_CONV_INLINE V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  FASTDL_CONV_INLINE float sum(V v) { return _mm512_reduce_add_ps(v); }
};
template <>
struct Vec<double> {
  using V = __m512d;
  static constexpr int L = 8;
  FASTDL_CONV_INLINE __mmask8 mask(int64_t n) { return __mmask8((1u << n) - 1); }
  FASTDL_CONV_INLINE V zero() { return _mm512_setzero_pd(); }
  FASTDL_CONV_INLINE V set1(double x) { return _mm512_set1_pd(x); }
  FASTDL_CONV_INLINE V load(const double* p, int64_t n) {
    return n >= L ? _mm512_loadu_pd(p) : _mm512_maskz_loadu_pd(mask(n), p);
  }
  FASTDL_CONV_INLINE void store(double* p, V v, int64_t n) {
    if (n >= L) _mm512_storeu_pd(p, v); else _mm512_mask_storeu_pd(p, mask(n), v);
  }
  FASTDL_CONV_INLINE V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  FASTDL_CONV_INLINE double sum(V v) { return _mm512_reduce_add_pd(v); }
};
#elif defined(FASTDL_ISA_avx2)
template <>
struct Vec<float> {
  using V = __m256;
  static constexpr int L = 8;
  FASTDL_CONV_INLINE __m256i mask(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  FASTDL_CONV_INLINE V zero() { return _mm256_setzero_ps(); }
  FASTDL_CONV_INLINE V set1(float x) { return _mm256_set1_ps(x); }
  FASTDL_CONV_INLINE V load(const float* p, int64_t n) {
    return n >= L ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask(n));
  }
  FASTDL_CONV_INLINE void store(float* p, V v, int64_t n) {
    if (n >= L) _mm256_storeu_ps(p, v); else _mm256_maskstore_ps(p, mask(n), v);
  }
  FASTDL_CONV_INLINE V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  FASTDL_CONV_INLINE float sum(V v) {
    alignas(32) float lanes[L];
    _mm256_store_ps(lanes, v);
    float s = 0;
    for (float x : lanes) s += x;
    return s;
  }
};
template <>
struct Vec<double> {
  using V = __m256d;
  static constexpr int L = 4;
  FASTDL_CONV_INLINE __m256i mask(int64_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  FASTDL_CONV_INLINE V zero() { return _mm256_setzero_pd(); }
  FASTDL_CONV_INLINE V set1(double x) { return _mm256_set1_pd(x); }
  FASTDL_CONV_INLINE V load(const double* p, int64_t n) {
    return n >= L ? _mm256_loadu_pd(p) : _mm256_maskload_pd(p, mask(n));
  }
  FASTDL_CONV_INLINE void store(double* p, V v, int64_t n) {
    if (n >= L) _mm256_storeu_pd(p, v); else _mm256_maskstore_pd(p, mask(n), v);
  }
  FASTDL_CONV_INLINE V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  FASTDL_CONV_INLINE double sum(V v) {
    alignas(32) double lanes[L];
    _mm256_store_pd(lanes, v);
    double s = 0;
    for (double x : lanes) s += x;
    return s;
  }
};
#else
template <typename T>
struct Vec {
  using V = T;
  static constexpr int L = 1;
  FASTDL_CONV_INLINE V zero() { return T(0); }
  FASTDL_CONV_INLINE V set1(T x) { return x; }
  FASTDL_CONV_INLINE V load(const T* p, int64_t) { return *p; }
  FASTDL_CONV_INLINE void store(T* p, V v, int64_t) { *p = v; }
  FASTDL_CONV_INLINE V fmadd(V a, V b, V c) { return a * b + c; }
  FASTDL_CONV_INLINE T sum(V v) { return v; }
};
#endif

}  // namespace fastdl::cpu::FASTDL_ISA::conv_simd

#undef FASTDL_CONV_INLINE
