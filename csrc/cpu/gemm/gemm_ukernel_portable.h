#pragma once
// Portable micro-kernel in GCC/Clang vector extensions: 4-wide float vectors become SSE2 on
// x86-64 and NEON on aarch64 with no intrinsics. MR x (4 * NV) tile, MR * NV accumulators.
#include <cstdint>
#include <cstring>

#include "cpu/gemm/gemm_tile_store.h"

namespace fastdl::cpu::FASTDL_ISA {

typedef float float4_vec __attribute__((vector_size(16)));

template <int MR, int NR>
inline void micro_kernel(int64_t kc, const float* __restrict pa, const float* __restrict pb,
                         float* c, int64_t rs_c, int64_t cs_c, int mr, int nr, float alpha,
                         float beta) {
  static_assert(NR % 4 == 0, "NR must be a multiple of the vector width");
  constexpr int NV = NR / 4;
  float4_vec acc[MR][NV] = {};
  for (int64_t p = 0; p < kc; ++p) {
    float4_vec b[NV];
    // Packed B is 64-byte aligned; memcpy keeps the load legal without aliasing casts.
    std::memcpy(b, pb, sizeof(b));
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const float ai = pa[i];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] += ai * b[v];
    }
    pa += MR;
    pb += NR;
  }
  alignas(64) float tile[MR * NR];
  std::memcpy(tile, acc, sizeof(tile));
  store_tile_generic<NR>(tile, c, rs_c, cs_c, mr, nr, alpha, beta);
}

}  // namespace fastdl::cpu::FASTDL_ISA
