#pragma once
// Writing a finished micro-tile into C when the fast vector store does not apply: a partial tile
// at the matrix edge, or a C with a non-unit column stride. Portable C++; included by the
// per-ISA micro-kernel headers.
#include <cstdint>

namespace fastdl::cpu::FASTDL_ISA {

// tile is MR x NR row-major (ld = NR); only the top-left mr x nr part is written to C.
// beta == 0 never reads C, so NaN/Inf left in C cannot leak into the result.
template <typename T, int NR>
inline void store_tile_generic(const T* tile, T* c, int64_t rs_c, int64_t cs_c, int mr, int nr,
                               T alpha, T beta) {
  if (rs_c == 1) {  // column-major C (a transposed product): walk C's columns, contiguous in i
    for (int j = 0; j < nr; ++j) {
      T* cj = c + j * cs_c;
      if (beta == T(0)) {
        for (int i = 0; i < mr; ++i) cj[i] = alpha * tile[i * NR + j];
      } else {
        for (int i = 0; i < mr; ++i) cj[i] = alpha * tile[i * NR + j] + beta * cj[i];
      }
    }
    return;
  }
  for (int i = 0; i < mr; ++i) {
    T* ci = c + i * rs_c;
    const T* ti = tile + i * NR;
    if (beta == T(0)) {
      for (int j = 0; j < nr; ++j) ci[j * cs_c] = alpha * ti[j];
    } else {
      for (int j = 0; j < nr; ++j) ci[j * cs_c] = alpha * ti[j] + beta * ci[j * cs_c];
    }
  }
}

}  // namespace fastdl::cpu::FASTDL_ISA
