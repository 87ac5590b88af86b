// Compiled once per ISA. Eight or more independent accumulators keep two FMA pipes busy across
// the 4-cycle latency. AVX-512 has 32 vector registers, so 16 accumulators leave margin; with 16
// registers (AVX2, SSE, NEON) 16 accumulators plus the two operands would spill to the stack
// and the loop would measure stores, not FMAs (it read ~52 instead of ~66 GFLOP/s for AVX2), so
// those paths use 12.
#include <cstdint>

#include "common/float_lanes.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace fastdl::cpu::FASTDL_ISA {

namespace {

// Register-wide vectors of T for this ISA, with the FMA the GEMM micro-kernels use.
template <typename T>
struct PeakVec;
#if defined(FASTDL_ISA_avx512)
template <>
struct PeakVec<float> {
  using V = __m512;
  static constexpr int kLanes = 16;
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static float sum(V v) { return _mm512_reduce_add_ps(v); }
};
template <>
struct PeakVec<double> {
  using V = __m512d;
  static constexpr int kLanes = 8;
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static double sum(V v) { return _mm512_reduce_add_pd(v); }
};
#elif defined(FASTDL_ISA_avx2)
template <>
struct PeakVec<float> {
  using V = __m256;
  static constexpr int kLanes = 8;
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static float sum(V v) {
    alignas(32) float t[8];
    _mm256_store_ps(t, v);
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
  }
};
template <>
struct PeakVec<double> {
  using V = __m256d;
  static constexpr int kLanes = 4;
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static double sum(V v) {
    alignas(32) double t[4];
    _mm256_store_pd(t, v);
    return t[0] + t[1] + t[2] + t[3];
  }
};
#else
template <typename T>
struct PeakVec {
  typedef T V __attribute__((vector_size(16)));
  static constexpr int kLanes = 16 / int(sizeof(T));
  static V fma(V a, V b, V c) { return a * b + c; }
  static V set1(T x) { return V{} + x; }
  static V add(V a, V b) { return a + b; }
  static T sum(V v) {
    T s = 0;
    for (int l = 0; l < kLanes; ++l) s += v[l];
    return s;
  }
};
#endif

// Runs `iters` rounds of kAccumulators vector FMAs on T; returns a value that depends on all of
// them (so the compiler keeps the work) and writes the FLOP count.
template <typename T>
T fma_burst_of(int64_t iters, double* flops) {
  using P = PeakVec<T>;
  using V = typename P::V;
  constexpr int kLanes = P::kLanes;
  constexpr int kFlopsPerOp = 2;
#if defined(FASTDL_ISA_avx512)
  constexpr int kAccumulators = 16;
#else
  constexpr int kAccumulators = 12;
#endif
  V acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = P::set1(T(0.001) * T(i));
  const V x = P::set1(T(0.999999)), y = P::set1(T(1e-7));
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kAccumulators; ++i) acc[i] = P::fma(acc[i], x, y);
  }
  V total = acc[0];
  for (int i = 1; i < kAccumulators; ++i) total = P::add(total, acc[i]);
  *flops = double(iters) * kAccumulators * kLanes * kFlopsPerOp;
  return P::sum(total);
}

}  // namespace

float fma_burst(int64_t iters, double* flops) { return fma_burst_of<float>(iters, flops); }

float fma_burst_f64(int64_t iters, double* flops) {
  return float(fma_burst_of<double>(iters, flops));
}

// Sums n floats with 8 independent vector accumulators, so the loop is bound by loads from
// memory rather than by the latency of one chain of adds.
float read_sum(const float* data, int64_t n) {
  constexpr int kLanes = kFloatLanes;
  typedef float V __attribute__((vector_size(kLanes * 4), aligned(4)));
  V acc[8] = {};
  int64_t i = 0;
  for (; i + 8 * kLanes <= n; i += 8 * kLanes) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      V v;
      __builtin_memcpy(&v, data + i + j * kLanes, sizeof(V));
      acc[j] += v;
    }
  }
  float total = 0.f;
  for (; i < n; ++i) total += data[i];
  for (int j = 0; j < 8; ++j)
    for (int l = 0; l < kLanes; ++l) total += acc[j][l];
  return total;
}

}  // namespace fastdl::cpu::FASTDL_ISA
