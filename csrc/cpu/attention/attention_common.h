#pragma once
// Pieces the GEMM-tile (v2) and fused (v3) kernels share: the user's attention mask on a tile of
// scores, the backward's row dots (per-ISA sources only: the loops vectorize for the ISA they
// are compiled for).
#include <cstdint>
#include <limits>

#include "cpu/attention/attention.h"

namespace fastdl::cpu::FASTDL_ISA {

// tile[o * ld + c], o < n_outer, c < n_inner, is the score of (query, key) = (i0 + o, j0 + c), or
// (i0 + c, j0 + o) when keys_outer (a transposed tile). Boolean mask: false -> -inf; additive:
// += unit * mask (unit = log2 e for scores kept in log2 units). In log2 units a finite mask
// whose product overflows (finfo.min times log2 e) gives the lowest finite score, as the sum
// does in natural units: a row every key of which such a mask removes then still attends to
// all of them equally, as in torch, instead of becoming a row without keys.
template <typename T>
void apply_user_mask(const AttentionShape& s, int64_t b, int64_t h, int64_t i0, int64_t j0,
                     int64_t n_outer, int64_t n_inner, bool keys_outer, T* tile, int64_t ld,
                     T unit = T(1)) {
  constexpr T ninf = -std::numeric_limits<T>::infinity();
  if (s.mask_kind == MaskKind::none) return;
  const int64_t si = s.mask_strides[2], sj = s.mask_strides[3];
  const int64_t so = keys_outer ? sj : si, sc = keys_outer ? si : sj;
  const int64_t base = b * s.mask_strides[0] + h * s.mask_strides[1] + i0 * si + j0 * sj;
  for (int64_t o = 0; o < n_outer; ++o) {
    T* row = tile + o * ld;
    if (s.mask_kind == MaskKind::boolean) {
      const uint8_t* m = static_cast<const uint8_t*>(s.mask) + base + o * so;
      if (sc == 1) {
#pragma omp simd
        for (int64_t c = 0; c < n_inner; ++c) row[c] = m[c] ? row[c] : ninf;
      } else {
        for (int64_t c = 0; c < n_inner; ++c) row[c] = m[c * sc] ? row[c] : ninf;
      }
    } else {
      const T* m = static_cast<const T*>(s.mask) + base + o * so;
      if (unit != T(1)) {
        constexpr T lowest = std::numeric_limits<T>::lowest();
#pragma omp simd
        for (int64_t c = 0; c < n_inner; ++c) {
          const T mc = m[c * sc], x = row[c] + unit * mc;
          row[c] = x == ninf && mc != ninf && row[c] != ninf ? lowest : x;
        }
      } else if (sc == 1) {
#pragma omp simd
        for (int64_t c = 0; c < n_inner; ++c) row[c] += m[c];
      } else {
        for (int64_t c = 0; c < n_inner; ++c) row[c] += m[c * sc];
      }
    }
  }
}

// delta[row] = sum_c out[row, c] grad_out[row, c] (the softmax backward's row term), rows of Dv.
template <typename T>
void row_dots(int64_t rows, int64_t Dv, const T* out, const T* grad_out, T* delta, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t row = 0; row < rows; ++row) {
    const T* o = out + row * Dv;
    const T* g = grad_out + row * Dv;
    T acc = 0;
    for (int64_t c = 0; c < Dv; ++c) acc += o[c] * g[c];
    delta[row] = acc;
  }
}

}  // namespace fastdl::cpu::FASTDL_ISA
