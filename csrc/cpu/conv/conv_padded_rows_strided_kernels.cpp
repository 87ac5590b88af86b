// Strided convolutions on the padded-rows engine (conv_padded_rows.h), compiled once per ISA:
// the forward as the stride-1 convolution of a space-to-depth input, and the input gradient
// (the strided transposed convolution's forward) split into sub-pixel phases.
#include <algorithm>
#include <utility>
#include <vector>

#include "cpu/conv/conv_padded_rows.h"

namespace fastdl::cpu::FASTDL_ISA::conv_detail {

// A strided convolution whose kernel is a multiple of the stride in every dim (the transposed
// row's 4 x 4 / 2, a GAN discriminator's), dilation 1, as the stride-1 padded-rows convolution
// of its space-to-depth input (space_to_depth_group) with M = k / s taps per dim and S = s^d
// times the input channels: the same FLOPs (no zero taps), no im2col tile, and the
// padded-rows kernel instead of the GEMM on a re-packed tile. False when it does not apply.
template <typename T>
bool strided_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                     int threads) {
  int64_t S = 1;
  for (int i = 0; i < 3; ++i) {
    if (g.dilation[i] != 1 || g.kernel[i] % g.stride[i] != 0) return false;
    S *= g.stride[i];
  }
  if (S == 1 || !padded_rows_tasks_apply(g, threads)) return false;
  ConvGeometry t = g;
  t.in_channels = g.in_channels * S;
  for (int i = 0; i < 3; ++i) {
    t.kernel[i] = g.kernel[i] / g.stride[i];
    t.stride[i] = 1, t.pad[i] = 0;
    t.in[i] = g.out[i] + t.kernel[i] - 1;
  }
  if (!padded_rows_forward_applies<T>(t)) return false;
  // patch row (c, phase r, m) of t is tap s m + r of channel c
  const int64_t Cg = g.group_in(), Kg = g.group_out(), KV = g.kernel_volume();
  std::vector<int64_t> roff(static_cast<size_t>(t.patch()));
  int64_t r = 0;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t r0 = 0; r0 < g.stride[0]; ++r0)
      for (int64_t r1 = 0; r1 < g.stride[1]; ++r1)
        for (int64_t r2 = 0; r2 < g.stride[2]; ++r2)
          for (int64_t m0 = 0; m0 < t.kernel[0]; ++m0)
            for (int64_t m1 = 0; m1 < t.kernel[1]; ++m1)
              for (int64_t m2 = 0; m2 < t.kernel[2]; ++m2, ++r) {
                const int64_t t0 = g.stride[0] * m0 + r0, t1 = g.stride[1] * m1 + r1;
                const int64_t t2 = g.stride[2] * m2 + r2;
                roff[size_t(r)] = c * KV + (t0 * g.kernel[1] + t1) * g.kernel[2] + t2;
              }
  T* packed = packed_storage<T>(0, packed_size<T>(t));
  pack_weight_slivers<T>(t, w, Kg * Cg * KV, Cg * KV, roff, packed, threads);
  PaddedPlan<T> plan(t, PaddedGrid(t, t.pad), packed, bias, g.out_plane());
  plan.strided = &g;
  const ImageChunks chunks(g, plan.image_bytes(), threads);
  parallel_tasks(chunks.count * g.groups, threads, true, [&](int64_t task) {
    const int64_t c = task / g.groups, gi = task % g.groups;
    plan.run(x, out, chunks.begin(c), chunks.end(c) - chunks.begin(c), gi);
  });
  return true;
}

// The input gradient of a strided convolution (the forward of a strided transposed one) split
// by output phase (sub-pixel): input positions i = s a + r of one phase r per dim receive only
// the taps t = t0 + s m with t0 = (r + p) mod s, from grad_out[a + e - m], e = (r + p - t0) / s.
// Each phase is a stride-1 convolution of grad_out with the M = ceil((k - t0) / s) taps
// (flipped), left padding M - 1 - e, written at stride s into grad_input through the grid's
// output positions; a phase no tap reaches (k < s) is zero. Dilation 1 only. False when the
// phases do not fit the padded-rows path.
template <typename T>
bool padded_rows_backward_input_strided(const ConvGeometry& g, const T* gout, const T* w,
                                        T* gin, int threads) {
  for (int i = 0; i < 3; ++i)
    if (g.dilation[i] != 1) return false;
  const int64_t G = g.groups, Cg = g.group_in(), Kg = g.group_out(), KV = g.kernel_volume();
  ConvGeometry t = g;  // the phase convolution: grad_out (K channels) -> grad_input (C)
  t.in_channels = g.out_channels;
  t.out_channels = g.in_channels;
  if (!padded_rows_forward_applies<T>(t)) return false;
  for (int i = 0; i < 3; ++i) t.in[i] = g.out[i], t.stride[i] = 1, t.pad[i] = 0;
  const int64_t IP = g.in_plane();
  std::vector<PaddedPlan<T>> plans;
  std::vector<PaddedGrid> zero_phases;  // phases no tap reaches: their inputs get no gradient
  for (int64_t r0 = 0; r0 < g.stride[0]; ++r0)
    for (int64_t r1 = 0; r1 < g.stride[1]; ++r1)
      for (int64_t r2 = 0; r2 < g.stride[2]; ++r2) {
        const int64_t r[3] = {r0, r1, r2};
        int64_t t0[3], left[3];
        bool empty = false, zero = false;
        for (int i = 0; i < 3; ++i) {
          const int64_t s = g.stride[i], k = g.kernel[i];
          t0[i] = (r[i] + g.pad[i]) % s;
          const int64_t taps = k > t0[i] ? ceil_div(k - t0[i], s) : 0;
          const int64_t e = (r[i] + g.pad[i] - t0[i]) / s;
          t.out[i] = g.in[i] > r[i] ? ceil_div(g.in[i] - r[i], s) : 0;
          t.kernel[i] = std::max<int64_t>(taps, 1);
          left[i] = taps - 1 - e;
          empty |= t.out[i] == 0;
          zero |= taps == 0;
        }
        if (empty) continue;
        PaddedGrid grid(t, left);
        for (int i = 0; i < 3; ++i)
          grid.step[i] = g.stride[i], grid.phase[i] = r[i], grid.full[i] = g.in[i];
        if (zero) {
          zero_phases.push_back(std::move(grid));
          continue;
        }
        // phase weights (C x K/g x M): W[k][c][t0 + s (M - 1 - m)] per dim
        const int64_t TV = t.kernel_volume();
        std::vector<T> wp(size_t(g.in_channels * Kg * TV));
        for (int64_t gi = 0; gi < G; ++gi)
          for (int64_t k = 0; k < Kg; ++k)
            for (int64_t c = 0; c < Cg; ++c) {
              const T* src = w + ((gi * Kg + k) * Cg + c) * KV;
              T* dst = wp.data() + ((gi * Cg + c) * Kg + k) * TV;
              for (int64_t m0 = 0; m0 < t.kernel[0]; ++m0)
                for (int64_t m1 = 0; m1 < t.kernel[1]; ++m1)
                  for (int64_t m2 = 0; m2 < t.kernel[2]; ++m2) {
                    const int64_t k0 = t0[0] + g.stride[0] * (t.kernel[0] - 1 - m0);
                    const int64_t k1 = t0[1] + g.stride[1] * (t.kernel[1] - 1 - m1);
                    const int64_t k2 = t0[2] + g.stride[2] * (t.kernel[2] - 1 - m2);
                    dst[(m0 * t.kernel[1] + m1) * t.kernel[2] + m2] =
                        src[(k0 * g.kernel[1] + k1) * g.kernel[2] + k2];
                  }
            }
        T* packed = packed_storage<T>(plans.size(), packed_size<T>(t));
        const int64_t TR = t.patch();
        pack_weight_slivers<T>(t, wp.data(), Cg * TR, TR, identity_rows(TR), packed, threads);
        plans.emplace_back(t, std::move(grid), packed, static_cast<const T*>(nullptr), IP);
      }
  // One parallel region: each (image, group) task runs every phase (every input position is
  // written by exactly one phase).
  int64_t image_bytes = 1;
  for (const auto& plan : plans) image_bytes = std::max(image_bytes, plan.image_bytes());
  const ImageChunks chunks(g, image_bytes, threads);
  parallel_tasks(chunks.count * G, threads, true, [&](int64_t task) {
    const int64_t ch = task / G, gi = task % G;
    const int64_t n0 = chunks.begin(ch), nb = chunks.end(ch) - n0;
    for (const auto& plan : plans) plan.run(gout, gin, n0, nb, gi);
    for (const auto& grid : zero_phases)
      for (int64_t n = n0; n < n0 + nb; ++n)
        for (int64_t c = 0; c < Cg; ++c) {
          T* plane = gin + (n * g.in_channels + gi * Cg + c) * IP;
          for (int64_t a0 = 0; a0 < grid.out[0]; ++a0)
            for (int64_t a1 = 0; a1 < grid.out[1]; ++a1)
              for (int64_t a2 = 0; a2 < grid.out[2]; ++a2)
                plane[grid.position(a0, a1, a2)] = T(0);
        }
  });
  return true;
}

#define FASTDL_INSTANTIATE_STRIDED(T)                                                              \
  template bool strided_forward<T>(const ConvGeometry&, const T*, const T*, const T*, T*, int);    \
  template bool padded_rows_backward_input_strided<T>(const ConvGeometry&, const T*, const T*,     \
                                                      T*, int);
FASTDL_INSTANTIATE_STRIDED(float)
FASTDL_INSTANTIATE_STRIDED(double)
#undef FASTDL_INSTANTIATE_STRIDED

}  // namespace fastdl::cpu::FASTDL_ISA::conv_detail
