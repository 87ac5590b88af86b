#pragma once
// Portable micro-kernel in GCC/Clang vector extensions: 16-byte vectors (4 floats or 2 doubles)
// become SSE2 on x86-64 and NEON on aarch64 with no intrinsics. MR x (lanes * NV) tile, MR * NV
// accumulators; one body for float and double.
#include <cstdint>
#include <cstring>

#include "cpu/gemm/gemm_simd.h"
#include "cpu/gemm/gemm_tile_store.h"

namespace fastdl::cpu::FASTDL_ISA {

template <typename T, int MR, int NR>
inline void micro_kernel(int64_t kc, const T* __restrict pa, const T* __restrict pb, T* c,
                         int64_t rs_c, int64_t cs_c, int mr, int nr, T alpha, T beta) {
  using Vec = typename Simd<T>::Vec;
  static_assert(NR % Simd<T>::kLanes == 0, "NR must be a multiple of the vector width");
  constexpr int NV = NR / Simd<T>::kLanes;
  Vec acc[MR][NV] = {};
  for (int64_t p = 0; p < kc; ++p) {
    Vec b[NV];
    // Packed B is 64-byte aligned; memcpy keeps the load legal without aliasing casts.
    std::memcpy(b, pb, sizeof(b));
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const T ai = pa[i];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] += ai * b[v];
    }
    pa += MR;
    pb += NR;
  }
  alignas(64) T tile[MR * NR];
  std::memcpy(tile, acc, sizeof(tile));
  store_tile_generic<T, NR>(tile, c, rs_c, cs_c, mr, nr, alpha, beta);
}

}  // namespace fastdl::cpu::FASTDL_ISA
