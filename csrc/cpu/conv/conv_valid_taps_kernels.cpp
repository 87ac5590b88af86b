// Small planes without the padding's zeros ("valid taps"), compiled once per ISA.
//
// At ResNet-18's late layers (input 64 x 64: planes of 4 x 4 and 2 x 2) most of an im2col
// panel is padding: a 3 x 3 kernel with padding 1 on a 2 x 2 plane reads inside the input for
// 4 of its 9 taps at every position (44% of the products are useful; 69% at 4 x 4, 84% at
// 8 x 8). oneDNN's direct kernels skip those taps; the GEMM on im2col panels multiplies zeros.
// Here every position q has its list of valid taps as runs of consecutive taps, and
//     O[n][co][q] = sum over valid taps t of q, over ci:  B_t[ci][co] * X[n][ci][table[t][q]]
// is one micro-kernel call per run: A = MR images' inputs at q for the valid taps only, packed
// tap-major (rows (t, ci)); B = the weights, packed once per call in slivers of NR output
// channels with rows (t, ci), so a run of taps [t0, t1) is the contiguous rows [t0 Cin, t1 Cin).
//   forward          X = x, table[t][q] = the input position tap t reads for output q,
//                    B_t[c][k] = W[k][c][t]
//   input gradient   X = grad_out, table[t][i] = the output position reading input i through
//                    tap t (at most one, for any stride), B_t[k][c] = W[k][c][t]
//   weight gradient  per tap t: gW_t^T (C x K) = sum over the (q, n) where t is valid of
//                    x[n][c][table[t][q]] grad_out[n][k][q]: A = x at t's valid positions
//                    (MR channels, rows (q, n)), B = grad_out at the same positions, packed per
//                    tap once per image chunk, so each tap is one call per tile; a thread's
//                    tiles (taps x its channels x K/g) are then copied into gW's rows.
// Workspace (per calling thread, kept): the packed weights (the weights' size, per group
// rounded up to NR output channels), packed inputs of one image chunk (kPackedInputBytes), and
// for the weight gradient grad_out packed per tap for a chunk plus each worker's block of
// taps x (at most 4 MR channels) x K/g. Deterministic: every output element is one task's fixed
// sequence of runs (the weight gradient's chunks are added in order).
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "cpu/conv/conv_kernels_common.h"
#include "cpu/gemm/gemm_config.h"
#include "cpu/gemm/gemm_pack.h"

#if defined(FASTDL_ISA_avx512)
#include "cpu/gemm/gemm_ukernel_avx512.h"
#elif defined(FASTDL_ISA_avx2)
#include "cpu/gemm/gemm_ukernel_avx2.h"
#else
#include "cpu/gemm/gemm_ukernel_portable.h"
#endif

namespace fastdl::cpu::FASTDL_ISA::conv_detail {

namespace {

using gemm_config::Blocking;

// Planes up to 4 x 4 (measured, bench/NOTES.md "valid taps"): at 8 x 8 only 16% of the
// products are padding and the padded-rows / batch paths keep up.
constexpr int64_t kValidTapsMaxPlane = 16;
// Both channel counts at least this: a run's k is Cin * taps, and a sliver holds NR outputs.
constexpr int64_t kValidTapsMinChannels = 16;
// Packed inputs of one image chunk (the weight gradient's packed grad_out likewise).
constexpr int64_t kPackedInputBytes = 4 << 20;
// The forward's weights are packed through a staging block of about this size (L2).
constexpr int64_t kStageBytes = 512 << 10;

thread_local PackBuffer tls_tap_weights, tls_tap_inputs, tls_tap_grads, tls_tap_result,
    tls_tap_stage;

// A run of consecutive valid taps [tap, tap + count) of one position; `packed` is the run's
// first tap among the position's valid taps (its rows in the packed A start at packed * Cin).
struct TapRun {
  int32_t tap, count, packed;
};

// One product O[n][co][q] (+)= sum B_t[ci][co] X[n][ci][table[t][q]] over a group's channels.
struct TapProduct {
  int64_t batch, groups, cin, cout, in_plane, out_plane, taps;
  std::vector<int32_t> table;  // taps x out_plane, -1: the tap reads padding at q

  int32_t at(int64_t t, int64_t q) const { return table[size_t(t * out_plane + q)]; }
};

TapProduct forward_product(const ConvGeometry& g) {
  return {g.batch, g.groups, g.group_in(), g.group_out(), g.in_plane(), g.out_plane(),
          g.kernel_volume(), tap_input_positions(g)};
}

// The input gradient's: for tap t and input i, the output position whose tap t reads i.
TapProduct input_gradient_product(const ConvGeometry& g) {
  return {g.batch, g.groups, g.group_out(), g.group_in(), g.out_plane(), g.in_plane(),
          g.kernel_volume(), tap_output_positions(g, tap_input_positions(g))};
}

// Per position q (forward / input gradient) the valid taps and their runs; `packed_before[q]`:
// valid taps of the positions before q (their packed inputs precede q's).
struct PositionRuns {
  std::vector<int32_t> taps;          // valid taps, position by position
  std::vector<int64_t> first;         // q's taps: [first[q], first[q + 1]) of `taps`
  std::vector<int64_t> run_first;     // q's runs: [run_first[q], run_first[q + 1]) of `runs`
  std::vector<TapRun> runs;

  explicit PositionRuns(const TapProduct& tp) {
    first.push_back(0);
    run_first.push_back(0);
    for (int64_t q = 0; q < tp.out_plane; ++q) {
      int32_t packed = 0;
      for (int64_t t = 0; t < tp.taps; ++t) {
        if (tp.at(t, q) < 0) continue;
        if (packed > 0 && taps.back() == t - 1) {  // q's last valid tap is the one before
          ++runs.back().count;
        } else {
          runs.push_back({int32_t(t), 1, packed});
        }
        taps.push_back(int32_t(t));
        ++packed;
      }
      first.push_back(int64_t(taps.size()));
      run_first.push_back(int64_t(runs.size()));
    }
  }
  int64_t valid(int64_t q) const { return first[size_t(q + 1)] - first[size_t(q)]; }
};

// Per tap t (weight gradient) the positions where it reads inside the input:
// positions[first[t] .. first[t + 1]).
struct TapPositions {
  std::vector<int64_t> first;
  std::vector<int32_t> positions;

  explicit TapPositions(const TapProduct& tp) {
    first.push_back(0);
    for (int64_t t = 0; t < tp.taps; ++t) {
      for (int64_t q = 0; q < tp.out_plane; ++q)
        if (tp.at(t, q) >= 0) positions.push_back(int32_t(q));
      first.push_back(int64_t(positions.size()));
    }
  }
  int64_t count(int64_t t) const { return first[size_t(t + 1)] - first[size_t(t)]; }
};

// Images per chunk: a multiple of MR whose packed data (`per_image` elements each) fits
// kPackedInputBytes, at least MR.
template <typename T>
int64_t chunk_images(int64_t batch, int64_t per_image) {
  constexpr int MR = Blocking<T>::MR;
  const int64_t fit = kPackedInputBytes / std::max<int64_t>(1, per_image * int64_t(sizeof(T)));
  const int64_t per = std::max<int64_t>(MR, fit / MR * MR);
  if (per >= batch) return batch;
  const int64_t chunks = ceil_div(batch, per);
  return std::min(per, round_up(ceil_div(batch, chunks), MR));
}

// The weights as B: per group, ceil(cout / NR) slivers of taps * cin rows (t, ci) x NR columns,
// element w[gi * gstride + co * co_stride + ci * ci_stride + t] (0 past cout), through a
// staging block in w's row order whose rows are then copied to their tap-major places.
template <typename T>
void pack_weights(const TapProduct& tp, const T* w, int64_t gstride, int64_t co_stride,
                  int64_t ci_stride, T* packed, int threads) {
  constexpr int NR = Blocking<T>::NR;
  const int64_t KV = tp.taps, Cin = tp.cin, rows = KV * Cin, slivers = ceil_div(tp.cout, NR);
  const int team = tp.groups * rows * tp.cout >= (int64_t(1) << 17) ? threads : 1;
  parallel_tasks(tp.groups * slivers, team, false, [&](int64_t task) {
    const int64_t gi = task / slivers, s = task % slivers;
    const int64_t nr = std::min<int64_t>(NR, tp.cout - s * NR);
    T* dst = packed + task * rows * NR;
    // The forward's rows (ci, t) are contiguous in w: blocks of input channels (a staging
    // block of about kStageBytes) are transposed eight output channels at a time, so eight
    // rows of w stream at once (all NR rows at once, pack_b's order, read 48 rows 18 KiB
    // apart at ResNet's layer4 and packed slower than the product took).
    const bool contiguous = ci_stride == KV;
    const int64_t block =
        contiguous ? std::max<int64_t>(1, kStageBytes / (KV * NR * int64_t(sizeof(T)))) : 1;
    T* stage = tls_tap_stage.get<T>(block * KV * NR);
    const T* src = w + gi * gstride + s * NR * co_stride;
    for (int64_t ci0 = 0; ci0 < Cin; ci0 += block) {
      const int64_t cb = std::min(block, Cin - ci0);
      if (contiguous) {
        const int64_t kc = cb * KV, n8 = nr / 8 * 8, k8 = kc / 8 * 8;
        const T* b = src + ci0 * KV;  // element (p, j) at b[j * co_stride + p]
        for (int64_t j0 = 0; j0 < n8; j0 += 8)
          for (int64_t p = 0; p < k8; p += 8)
            transpose_8x8(b + j0 * co_stride + p, co_stride, stage + p * NR + j0, NR);
        for (int64_t p = 0; p < kc; ++p) {
          T* row = stage + p * NR;
          for (int64_t j = p < k8 ? n8 : 0; j < nr; ++j) row[j] = b[j * co_stride + p];
          std::fill(row + nr, row + NR, T(0));
        }
      } else {
        pack_b<T, NR>(KV, nr, src + ci0 * ci_stride, 1, co_stride, stage);
      }
      for (int64_t ci = ci0; ci < ci0 + cb; ++ci)
        for (int64_t t = 0; t < KV; ++t)
          std::copy(stage + ((ci - ci0) * KV + t) * NR, stage + ((ci - ci0) * KV + t + 1) * NR,
                    dst + (t * Cin + ci) * NR);
    }
  });
}

// O (+bias) = the product for every image, group and position (forward and input gradient).
template <typename T>
void valid_taps_product(const TapProduct& tp, const T* x, const T* w, int64_t gstride,
                        int64_t co_stride, int64_t ci_stride, const T* bias, T* out,
                        int threads) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  const int64_t Cin = tp.cin, Cout = tp.cout, Q = tp.out_plane, IQ = tp.in_plane;
  const int64_t in_total = tp.groups * Cin, out_total = tp.groups * Cout;
  const int64_t slivers = ceil_div(Cout, NR), sliver_size = tp.taps * Cin * NR;
  T* packed_w = tls_tap_weights.get<T>(tp.groups * slivers * sliver_size);
  pack_weights(tp, w, gstride, co_stride, ci_stride, packed_w, threads);

  const PositionRuns pr(tp);
  const int64_t per_image = int64_t(pr.taps.size()) * Cin;
  const int64_t nb = chunk_images<T>(tp.batch, per_image);
  T* packed_x = tls_tap_inputs.get<T>(round_up(nb, MR) * per_image);
  const int64_t rs_c = out_total * Q;
  for (int64_t n0 = 0; n0 < tp.batch; n0 += nb) {
    const int64_t cnt = std::min(nb, tp.batch - n0), islivers = ceil_div(cnt, MR);
    // q's packed inputs: islivers slivers of (q's valid taps * Cin) x MR, after the earlier q's.
    auto packed_at = [&](int64_t q, int64_t is) {
      return packed_x + (pr.first[size_t(q)] * islivers + is * pr.valid(q)) * Cin * MR;
    };
    for (int64_t gi = 0; gi < tp.groups; ++gi) {
      parallel_tasks(Q * islivers, threads, false, [&](int64_t task) {
        const int64_t q = task / islivers, is = task % islivers;
        const int64_t mr = std::min<int64_t>(MR, cnt - is * MR);
        T* dst = packed_at(q, is);
        const T* xs = x + ((n0 + is * MR) * in_total + gi * Cin) * IQ;
        for (int64_t j = pr.first[size_t(q)]; j < pr.first[size_t(q + 1)]; ++j) {
          const T* xt = xs + tp.at(pr.taps[size_t(j)], q);
          for (int64_t ci = 0; ci < Cin; ++ci, dst += MR) {
            for (int64_t i = 0; i < mr; ++i) dst[i] = xt[i * in_total * IQ + ci * IQ];
            for (int64_t i = mr; i < MR; ++i) dst[i] = T(0);
          }
        }
      });
      parallel_tasks(slivers * Q, threads, true, [&](int64_t task) {
        const int64_t s = task / Q, q = task % Q;
        const int64_t co0 = s * NR;
        const int nr = int(std::min<int64_t>(NR, Cout - co0));
        const T* pb = packed_w + (gi * slivers + s) * sliver_size;
        for (int64_t is = 0; is < islivers; ++is) {
          const int mr = int(std::min<int64_t>(MR, cnt - is * MR));
          T* c = out + ((n0 + is * MR) * out_total + gi * Cout + co0) * Q + q;
          bool first = true;
          if (bias || pr.run_first[size_t(q)] == pr.run_first[size_t(q + 1)]) {
            for (int i = 0; i < mr; ++i)
              for (int j = 0; j < nr; ++j)
                c[i * rs_c + j * Q] = bias ? bias[gi * Cout + co0 + j] : T(0);
            first = false;
          }
          const T* pa = packed_at(q, is);
          for (int64_t r = pr.run_first[size_t(q)]; r < pr.run_first[size_t(q + 1)]; ++r) {
            const TapRun& run = pr.runs[size_t(r)];
            micro_kernel<T, MR, NR>(run.count * Cin, pa + run.packed * Cin * MR,
                                    pb + run.tap * Cin * NR, c, rs_c, Q, mr, nr, T(1),
                                    first ? T(0) : T(1));
            first = false;
          }
        }
      });
    }
  }
}

}  // namespace

// FASTDL_CONV_TAPS=0 / 1 forces the path off / on (any geometry: tests run every shape through
// it; benchmarks alternate paths in one process).
bool valid_taps_applies(const ConvGeometry& g, Product product) {
  if (g.in_plane() >= (int64_t(1) << 31)) return false;  // int32 tables
  const char* env = std::getenv("FASTDL_CONV_TAPS");
  if (env && *env) return *env != '0';
  if (g.kernel_volume() < 2) return false;
  if (g.group_in() < kValidTapsMinChannels || g.group_out() < kValidTapsMinChannels) return false;
  // Strided forwards and input gradients keep their space-to-depth / sub-pixel paths (ResNet's
  // 3 x 3 stride-2 at 4 x 4 -> 2 x 2, 2 threads: forward 0.78 vs 0.91 ms here, input gradient
  // even); the weight gradient gains with any stride (1.05 -> 0.90 ms).
  const bool unit = g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1;
  if (product != Product::weight && !unit) return false;
  const int64_t plane = product == Product::input ? g.in_plane() : g.out_plane();
  return plane <= kValidTapsMaxPlane;
}

template <typename T>
void valid_taps_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                        int threads) {
  const int64_t KV = g.kernel_volume();
  valid_taps_product(forward_product(g), x, w, g.group_out() * g.patch(), g.patch(), KV, bias,
                     out, threads);
}

template <typename T>
void valid_taps_backward_input(const ConvGeometry& g, const T* gout, const T* w, T* gin,
                               int threads) {
  const int64_t KV = g.kernel_volume();
  valid_taps_product(input_gradient_product(g), gout, w, g.group_out() * g.patch(), KV,
                     g.patch(), static_cast<const T*>(nullptr), gin, threads);
}

template <typename T>
void valid_taps_backward_weight(const ConvGeometry& g, const T* x, const T* gout, T* gw,
                                int threads) {
  constexpr int MR = Blocking<T>::MR, NR = Blocking<T>::NR;
  const TapProduct tp = forward_product(g);
  const TapPositions tps(tp);
  const int64_t Cg = g.group_in(), Kg = g.group_out(), KV = tp.taps, P = tp.out_plane;
  const int64_t IP = tp.in_plane, C = g.in_channels, K = g.out_channels, R = g.patch();
  const int64_t kslivers = ceil_div(Kg, NR), cslivers = ceil_div(Cg, MR);
  const int64_t pairs = int64_t(tps.positions.size());  // valid (tap, position) pairs
  // grad_out as B, per group, tap and sliver of NR output channels: rows (q, n) for the
  // positions q where the tap is valid, so each tap is one run.
  const int64_t nb = chunk_images<T>(g.batch, g.groups * pairs * kslivers * NR);
  T* packed_g = tls_tap_grads.get<T>(g.groups * pairs * nb * kslivers * NR);
  for (int64_t n0 = 0; n0 < g.batch; n0 += nb) {
    const int64_t cnt = std::min(nb, g.batch - n0);
    auto packed_at = [&](int64_t gi, int64_t t, int64_t s) {
      return packed_g + ((gi * pairs + tps.first[size_t(t)]) * kslivers +
                         s * tps.count(t)) * cnt * NR;
    };
    parallel_tasks(g.groups * KV * kslivers, threads, false, [&](int64_t task) {
      const int64_t gi = task / (KV * kslivers), t = task / kslivers % KV, s = task % kslivers;
      const int64_t nr = std::min<int64_t>(NR, Kg - s * NR);
      T* dst = packed_at(gi, t, s);
      for (int64_t j = tps.first[size_t(t)]; j < tps.first[size_t(t + 1)]; ++j)
        for (int64_t n = 0; n < cnt; ++n, dst += NR) {
          const T* src = gout + ((n0 + n) * K + gi * Kg + s * NR) * P + tps.positions[size_t(j)];
          for (int64_t i = 0; i < nr; ++i) dst[i] = src[i * P];
          for (int64_t i = nr; i < NR; ++i) dst[i] = T(0);
        }
    });
    // Per group and block of input channels (whole MR slivers, at least 4 blocks per thread
    // when there are enough): every tap's (channels x K/g) block of gW_t into a per-thread
    // buffer (taps x channels x K/g, L2-sized at ResNet's widths), then into gW's rows
    // (k, c, t) -- a contiguous stretch of each row, assigned in the first chunk and added in
    // the later ones.
    const int64_t per_task = std::clamp<int64_t>(cslivers / (4 * threads), 1, 4);
    const int64_t cblocks = ceil_div(cslivers, per_task), width = per_task * MR;
    // Rows one cache line longer than K/g: the copy reads taps x width rows at once, which at a
    // power-of-two K/g would all map to the same few L1 sets.
    const int64_t ld = Kg + 64 / int64_t(sizeof(T));
    parallel_tasks(g.groups * cblocks, threads, true, [&](int64_t task) {
      const int64_t gi = task / cblocks, c_begin = task % cblocks * width;
      const int64_t c_end = std::min(Cg, c_begin + width);
      T* block = tls_tap_result.get<T>(KV * width * ld);  // [t][c - c_begin][k]
      T* pa = tls_col.get<T>(P * cnt * MR);
      for (int64_t c0 = c_begin; c0 < c_end; c0 += MR) {
        const int mr = int(std::min<int64_t>(MR, Cg - c0));
        for (int64_t t = 0; t < KV; ++t) {
          T* result = block + (t * width + c0 - c_begin) * ld;
          const int64_t count = tps.count(t);
          if (count == 0) {
            std::fill(result, result + mr * ld, T(0));
            continue;
          }
          T* dst = pa;  // x at t's valid positions for MR channels, rows (q, n)
          for (int64_t j = tps.first[size_t(t)]; j < tps.first[size_t(t + 1)]; ++j) {
            const int64_t off = tp.at(t, tps.positions[size_t(j)]);
            for (int64_t n = 0; n < cnt; ++n, dst += MR) {
              const T* src = x + ((n0 + n) * C + gi * Cg + c0) * IP + off;
              for (int i = 0; i < mr; ++i) dst[i] = src[i * IP];
              for (int i = mr; i < MR; ++i) dst[i] = T(0);
            }
          }
          for (int64_t s = 0; s < kslivers; ++s)
            micro_kernel<T, MR, NR>(count * cnt, pa, packed_at(gi, t, s), result + s * NR, ld,
                                    1, mr, int(std::min<int64_t>(NR, Kg - s * NR)), T(1), T(0));
        }
      }
      const int64_t cw = c_end - c_begin;
      for (int64_t k = 0; k < Kg; ++k) {
        T* row = gw + (gi * Kg + k) * R + c_begin * KV;
        const T* col = block + k;
        if (n0 == 0) {
          for (int64_t c = 0; c < cw; ++c)
            for (int64_t t = 0; t < KV; ++t) row[c * KV + t] = col[(t * width + c) * ld];
        } else {
          for (int64_t c = 0; c < cw; ++c)
            for (int64_t t = 0; t < KV; ++t) row[c * KV + t] += col[(t * width + c) * ld];
        }
      }
    });
  }
}

#define FASTDL_INSTANTIATE_VALID_TAPS(T)                                                         \
  template void valid_taps_forward<T>(const ConvGeometry&, const T*, const T*, const T*, T*,   \
                                      int);                                                    \
  template void valid_taps_backward_input<T>(const ConvGeometry&, const T*, const T*, T*, int); \
  template void valid_taps_backward_weight<T>(const ConvGeometry&, const T*, const T*, T*, int);
FASTDL_INSTANTIATE_VALID_TAPS(float)
FASTDL_INSTANTIATE_VALID_TAPS(double)
#undef FASTDL_INSTANTIATE_VALID_TAPS

}  // namespace fastdl::cpu::FASTDL_ISA::conv_detail
