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

// Runs `iters` rounds of kAccumulators vector FMAs; returns a value that depends on all of them (so the
// compiler keeps the work) and writes the FLOP count.
float fma_burst(int64_t iters, double* flops) {
#if defined(FASTDL_ISA_avx512)
  using V = __m512;
  constexpr int kLanes = 16;
  auto fma = [](V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); };
  auto set1 = [](float x) { return _mm512_set1_ps(x); };
  auto sum = [](V v) { return _mm512_reduce_add_ps(v); };
  constexpr int kFlopsPerOp = 2;
#elif defined(FASTDL_ISA_avx2)
  using V = __m256;
  constexpr int kLanes = 8;
  auto fma = [](V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); };
  auto set1 = [](float x) { return _mm256_set1_ps(x); };
  auto sum = [](V v) {
    alignas(32) float t[8];
    _mm256_store_ps(t, v);
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
  };
  constexpr int kFlopsPerOp = 2;
#else
  typedef float V __attribute__((vector_size(16)));
  constexpr int kLanes = 4;
  auto fma = [](V a, V b, V c) { return a * b + c; };
  auto set1 = [](float x) { return V{x, x, x, x}; };
  auto sum = [](V v) { return v[0] + v[1] + v[2] + v[3]; };
  constexpr int kFlopsPerOp = 2;
#endif
#if defined(FASTDL_ISA_avx512)
  constexpr int kAccumulators = 16;
#else
  constexpr int kAccumulators = 12;
#endif
  V acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = set1(0.001f * i);
  const V x = set1(0.999999f), y = set1(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kAccumulators; ++i) acc[i] = fma(acc[i], x, y);
  }
  V total = acc[0];
  for (int i = 1; i < kAccumulators; ++i) total = total + acc[i];
  *flops = double(iters) * kAccumulators * kLanes * kFlopsPerOp;
  return sum(total);
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
