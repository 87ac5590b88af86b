#pragma once
// The AVX-512 lane mask that packing and the micro-kernels both use for a partial last sliver.
#include <immintrin.h>

namespace fastdl::cpu::FASTDL_ISA {

// Lanes of vector v (columns [16 v, 16 v + 16)) that lie inside the first nr columns.
inline __mmask16 lane_mask(int nr, int v) {
  const int lanes = nr - 16 * v;
  return lanes >= 16 ? __mmask16(0xFFFF) : lanes <= 0 ? __mmask16(0) : __mmask16((1u << lanes) - 1);
}

}  // namespace fastdl::cpu::FASTDL_ISA
