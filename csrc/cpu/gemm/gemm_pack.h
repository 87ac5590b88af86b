#pragma once
// Packing: copy a block of A or B, read through arbitrary (even zero or negative) element
// strides, into the contiguous sliver layout the micro-kernel streams. Rows/columns past the
// matrix edge are zero-filled, so the micro-kernel never needs an edge case in its k loop.
// Included only by per-ISA sources; unit-stride cases get loops the compiler vectorizes.
#include <algorithm>
#include <cstdint>

namespace fastdl::cpu::FASTDL_ISA {

// A block (mc x kc, element (i, p) at a[i * rs + p * cs]) -> ceil(mc / MR) slivers, each
// kc x MR with the MR values of one k step adjacent: dst[s * MR * kc + p * MR + i].
template <int MR>
void pack_a(int64_t mc, int64_t kc, const float* a, int64_t rs, int64_t cs, float* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const int mr = int(std::min<int64_t>(MR, mc - i0));
    const float* src = a + i0 * rs;
    if (mr == MR && rs == 1) {  // column-major A (e.g. a transposed row-major array)
      for (int64_t p = 0; p < kc; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = src[p * cs + i];
    } else if (mr == MR && cs == 1) {  // row-major A: MR contiguous row streams
      for (int64_t p = 0; p < kc; ++p)
        for (int i = 0; i < MR; ++i) dst[p * MR + i] = src[i * rs + p];
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        for (int i = 0; i < mr; ++i) dst[p * MR + i] = src[i * rs + p * cs];
        for (int i = mr; i < MR; ++i) dst[p * MR + i] = 0.f;
      }
    }
  }
}

// Distance in floats between consecutive packed B slivers: kc * NR plus one cache line, so the
// slivers' rows do not all map to the same L1 set while a row of B is scattered across them.
template <int NR>
constexpr int64_t packed_b_sliver_stride(int64_t kc) {
  return kc * NR + 16;
}

// B block (kc x nc, element (p, j) at b[p * rs + j * cs]) -> ceil(nc / NR) slivers, each
// kc x NR with one k step's NR values adjacent: dst[s * sliver_stride + p * NR + j].
template <int NR>
void pack_b(int64_t kc, int64_t nc, const float* b, int64_t rs, int64_t cs, float* dst) {
  const int64_t stride = packed_b_sliver_stride<NR>(kc);
  const int64_t full = nc / NR * NR;
  if (cs == 1) {
    // Row-major B: stream whole rows (the hardware prefetcher follows them) and scatter each
    // row's NR-wide pieces to the slivers.
    for (int64_t p = 0; p < kc; ++p) {
      const float* row = b + p * rs;
      float* out = dst + p * NR;
      for (int64_t j0 = 0; j0 < full; j0 += NR, out += stride)
        for (int j = 0; j < NR; ++j) out[j] = row[j0 + j];
    }
  } else if (rs == 1) {
    // Column-major B (e.g. a transposed weight): transpose sliver by sliver, 8 k steps at a time
    // so the NR source columns' lines stay in L1 while they are read.
    for (int64_t j0 = 0; j0 < full; j0 += NR) {
      const float* src = b + j0 * cs;
      float* out = dst + j0 / NR * stride;
      int64_t p0 = 0;
      for (; p0 + 8 <= kc; p0 += 8)
        for (int j = 0; j < NR; ++j)
          for (int p = 0; p < 8; ++p) out[(p0 + p) * NR + j] = src[j * cs + p0 + p];
      for (int64_t p = p0; p < kc; ++p)
        for (int j = 0; j < NR; ++j) out[p * NR + j] = src[j * cs + p];
    }
  } else {
    for (int64_t j0 = 0; j0 < full; j0 += NR) {
      const float* src = b + j0 * cs;
      float* out = dst + j0 / NR * stride;
      for (int64_t p = 0; p < kc; ++p)
        for (int j = 0; j < NR; ++j) out[p * NR + j] = src[p * rs + j * cs];
    }
  }
  if (full < nc) {  // the last, partial sliver: zero-filled past column nc
    const int nr = int(nc - full);
    const float* src = b + full * cs;
    float* out = dst + full / NR * stride;
    for (int64_t p = 0; p < kc; ++p) {
      for (int j = 0; j < nr; ++j) out[p * NR + j] = src[p * rs + j * cs];
      for (int j = nr; j < NR; ++j) out[p * NR + j] = 0.f;
    }
  }
}

}  // namespace fastdl::cpu::FASTDL_ISA
