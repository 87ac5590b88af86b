#pragma once
// Branch-free float exp, sigmoid and tanh that loops calling them vectorize into the ISA's
// vector code; float64 uses the C library (it serves gradcheck, where accuracy matters more than
// speed). Included only by sources compiled once per ISA (cmake/isa.cmake) and built with
// -fno-trapping-math (the compare-and-select clamps become blends): the functions live in that
// ISA's namespace, so the builds of one inline function for different ISAs never meet at link
// time.
#include <cmath>
#include <cstdint>

namespace fastdl::cpu::FASTDL_ISA {

// e^x for float, |relative error| < 2e-7 on [-87, 88]: x = n ln2 + r, e^r by a degree-6
// polynomial on |r| <= ln2 / 2, 2^n from the exponent bits. Written so the compiler vectorizes
// loops calling it (rounding by adding 1.5 * 2^23, bit casts, compare-and-select clamps; this
// source is compiled with -fno-trapping-math so the selects become blends on AVX2/SSE). Inputs
// are clamped: no inf/NaN from overflow, sigmoid and tanh saturate long before.
[[gnu::always_inline]] inline float exp_f(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float shifted = x * 1.44269504088896341f + 12582912.0f;  // low mantissa bits = round(n)
  const float n = shifted - 12582912.0f;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (__builtin_bit_cast(int32_t, shifted) - 0x4B400000 + 127) << 23;
  return p * __builtin_bit_cast(float, bits);
}

template <typename T>
[[gnu::always_inline]] inline T sigmoid(T x);
template <>
[[gnu::always_inline]] inline float sigmoid<float>(float x) { return 1.0f / (1.0f + exp_f(-x)); }
template <>
[[gnu::always_inline]] inline double sigmoid<double>(double x) { return 1.0 / (1.0 + std::exp(-x)); }

template <typename T>
[[gnu::always_inline]] inline T tanh_(T x);
// tanh(|x|) = 1 - 2e / (1 + e), e = e^{-2|x|}: near saturation 1 - |tanh| is then as accurate
// as e (1 - 2 / (e^{2x} + 1) lost it to the rounding of a quotient near 2: up to 4 ulp in tanh,
// i.e. ~10% in 1 + tanh at tanh ~ -1 + 1e-6, where the GELU's gradient reads it). For
// |x| < 0.05 the odd Taylor series keeps the relative error small where 1 - 2e / (1 + e)
// would cancel.
template <>
[[gnu::always_inline]] inline float tanh_<float>(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float e = exp_f(-2.0f * ax);
  const float big = 1.0f - 2.0f * e / (1.0f + e);
  const float x2 = x * x;
  const float small = x * (1.0f - x2 * (1.0f / 3.0f) + x2 * x2 * (2.0f / 15.0f));
  return (x2 < 0.0025f) ? small : x < 0.0f ? -big : big;
}
template <>
[[gnu::always_inline]] inline double tanh_<double>(double x) { return std::tanh(x); }

}  // namespace fastdl::cpu::FASTDL_ISA
