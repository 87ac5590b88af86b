// Convolution kernels, compiled once per ISA (cmake/isa.cmake) and instantiated for float and
// double. The algorithm is chosen by shape:
//
// * depthwise (C / groups == 1, at most kDepthwiseMaxMultiplier outputs per group): direct loops
//   over output rows, each row held in L1 and vectorized along the width (no GEMM: a 1 x 9 by
//   9 x P product per channel would be all overhead);
// * everything else is lowered onto our GEMM, one bounded tile at a time (implicit im2col): for
//   an image n, a group and a tile of `cols` output positions, the im2col panel
//   (patch = C/groups * kernel volume rows x cols) is written into a per-thread buffer of at most
//   kColTileBytes (plus the GEMM's own packing buffers), never the whole column matrix, and
//       forward          out[:, tile]  = W_g (K/g x patch) @ col              (+ bias)
//       backward input   col           = W_g^T (patch x K/g) @ grad_out[:, tile], then col2im
//       backward weight  gW_g^T       += col @ grad_out[:, tile]^T            (per-thread sums)
//   A 1 x 1 kernel with stride 1 and no padding reads x itself as the panel (no copy).
// Threads take whole tasks (image, group, tile) when there are enough of them; otherwise each
// task's GEMM uses every thread.
//
// Workspace per thread: one im2col tile (<= kColTileBytes, or one panel column of `patch`
// elements when patch alone exceeds it), the GEMM's packing buffers (see gemm_config.h); backward
// weight also keeps one weight-sized accumulator per thread, and backward input one transposed
// copy of the weights (shared).
//
// Files (all per ISA; internal declarations in conv_kernels_common.h): this one chooses the path
// and holds the im2col-tile loops of the entry points; conv_depthwise_kernels.cpp the depthwise
// loops; conv_padded_rows_kernels.cpp (engine in conv_padded_rows.h) the stride-1 implicit GEMM,
// conv_padded_rows_strided_kernels.cpp its space-to-depth forward and sub-pixel input gradient;
// conv_im2col_kernels.cpp the im2col / col2im tiles and the whole-batch lowering;
// conv_valid_taps_kernels.cpp small planes without the taps that read padding;
// conv_subpixel_winograd_kernels.cpp the 4 x 4 / stride-2 / padding-1 convolution (and the
// transposed one) by sub-pixel phases and Winograd F(2x2, 2x2) (tried first).
#include <algorithm>
#include <memory>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/conv/conv_kernels.h"
#include "cpu/conv/conv_kernels_common.h"
#include "cpu/gemm/gemm_buffer.h"
#include "cpu/gemm/gemm_kernels.h"

namespace fastdl::cpu::FASTDL_ISA {
using namespace conv_detail;
namespace {

// The im2col tile's budget: about a third of a 1 MiB L2, so that the tile, the GEMM's packed
// copy of it and a block of weights stay in L2 together.
constexpr int64_t kColTileBytes = 384 * 1024;
// The weight-gradient GEMM reduces over the tile's columns (its k): longer tiles write the
// accumulator less often.
constexpr int64_t kMaxTileColumns = 1536;
// Depthwise kernels serve groups with one input channel and at most this many outputs.
constexpr int64_t kDepthwiseMaxMultiplier = 4;

int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Threads worth forking for a convolution of this size: an OpenMP fork/join costs a few
// microseconds (far more when a shared core is busy elsewhere), about what one core needs for
// 2 * 96^3 flops (the GEMM's kMinFlopsPerThread); small convolutions (gradcheck's) run on one.
int threads_for(const ConvGeometry& g, int threads) {
  const double flops = 2.0 * double(g.batch) * double(g.out_channels) * double(g.patch()) *
                       double(g.out_plane());
  constexpr double kMinFlopsPerThread = 2.0 * 96 * 96 * 96;
  return int(std::clamp<double>(flops / kMinFlopsPerThread, 1.0, double(std::max(threads, 1))));
}

// Columns per tile: as many as fit the budget, a multiple of kTileUnit (48: whole micro-kernel
// slivers for float and double on every ISA), balanced so the last tile is not a sliver.
constexpr int64_t kTileUnit = 48;
int64_t tile_columns(int64_t rows, int64_t plane, int64_t elem_bytes, int64_t max_columns) {
  int64_t cols = kColTileBytes / std::max<int64_t>(1, rows * elem_bytes);
  cols = std::clamp<int64_t>(cols / kTileUnit * kTileUnit, kTileUnit, max_columns);
  if (cols >= plane) return plane;
  const int64_t tiles = ceil_div(plane, cols);
  return std::min(plane, round_up(ceil_div(plane, tiles), kTileUnit));
}

bool is_pointwise(const ConvGeometry& g) {
  for (int i = 0; i < 3; ++i)
    if (g.kernel[i] != 1 || g.stride[i] != 1 || g.pad[i] != 0 || g.in[i] != g.out[i])
      return false;
  return true;
}

bool is_depthwise(const ConvGeometry& g) {
  return g.groups > 1 && g.group_in() == 1 && g.group_out() <= kDepthwiseMaxMultiplier;
}

}  // namespace

// ---- entry points ---------------------------------------------------------------------------

template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                  int threads) {
  threads = threads_for(g, threads);
  const int64_t P = g.out_plane();
  if (g.batch == 0 || P == 0 || g.out_channels == 0) return;
  if (is_depthwise(g)) return depthwise_forward(g, x, w, bias, out, threads);
  const int64_t G = g.groups, Cg = g.group_in(), Kg = g.group_out(), R = g.patch();
  const int64_t C = g.in_channels, K = g.out_channels, IP = g.in_plane();
  const bool pointwise = is_pointwise(g);
  if (subpixel_winograd_applies(g))
    return subpixel_winograd_forward(g, x, w, bias, out, threads);
  if (valid_taps_applies(g, Product::forward))
    return valid_taps_forward(g, x, w, bias, out, threads);
  if (batch_lowering(g, Product::forward)) return batched_forward(g, x, w, bias, out, threads);
  if (!pointwise && padded_rows_applies(g, threads) && padded_rows_forward_applies<T>(g))
    return padded_rows_forward(g, x, w, bias, out, threads);
  if (!pointwise && strided_forward(g, x, w, bias, out, threads)) return;
  const int64_t cols_max = pointwise ? std::min<int64_t>(P, kMaxTileColumns)
                                     : tile_columns(R, P, sizeof(T), kMaxTileColumns);
  const int64_t tiles = ceil_div(P, cols_max);
  const int64_t tasks = g.batch * G * tiles;
  const bool split = split_tasks(tasks, threads);
  parallel_tasks(tasks, split ? threads : 1, true, [&](int64_t task) {
    const int64_t tile = task % tiles, ng = task / tiles, gi = ng % G, n = ng / G;
    const int64_t p0 = tile * cols_max, cols = std::min(cols_max, P - p0);
    const T* xg = x + (n * C + gi * Cg) * IP;
    T* o = out + (n * K + gi * Kg) * P + p0;
    T beta = 0;
    if (bias) {
      for (int64_t k = 0; k < Kg; ++k) std::fill(o + k * P, o + k * P + cols, bias[gi * Kg + k]);
      beta = 1;
    }
    ConstMatrix<T> b{xg + p0, IP, 1};
    if (!pointwise) {
      T* col = tls_col.get<T>(R * cols);
      im2col_tile(g, xg, p0, cols, col);
      b = {col, cols, 1};
    }
    gemm<T>(Kg, cols, R, T(1), {w + gi * Kg * R, R, 1}, b, beta, {o, P, 1},
            split ? 1 : threads);
  });
}

template <typename T>
void conv_backward_input(const ConvGeometry& g, const T* grad_out, const T* w, T* grad_input,
                         int threads) {
  threads = threads_for(g, threads);
  const int64_t C = g.in_channels, K = g.out_channels, IP = g.in_plane(), P = g.out_plane();
  if (g.batch == 0 || IP == 0 || C == 0) return;
  if (P == 0 || K == 0) {
    std::fill(grad_input, grad_input + g.batch * C * IP, T(0));
    return;
  }
  if (is_depthwise(g)) return depthwise_backward_input(g, grad_out, w, grad_input, threads);
  const int64_t G = g.groups, Cg = g.group_in(), Kg = g.group_out(), R = g.patch();
  if (subpixel_winograd_applies(g))
    return subpixel_winograd_backward_input(g, grad_out, w, grad_input, threads);
  if (valid_taps_applies(g, Product::input))
    return valid_taps_backward_input(g, grad_out, w, grad_input, threads);
  if (batch_lowering(g, Product::input))
    return batched_backward_input(g, grad_out, w, grad_input, threads);
  const int64_t tasks = g.batch * G;
  const bool split = split_tasks(tasks, threads);
  const int gemm_threads = split ? 1 : threads;
  if (is_pointwise(g)) {  // grad_input_g (Cg x P) = W_g^T @ grad_out_g, no col2im
    parallel_tasks(tasks, split ? threads : 1, true, [&](int64_t task) {
      const int64_t gi = task % G, n = task / G;
      gemm<T>(Cg, P, Kg, T(1), {w + gi * Kg * R, 1, R}, {grad_out + (n * K + gi * Kg) * P, P, 1},
              T(0), {grad_input + (n * C + gi * Cg) * IP, IP, 1}, gemm_threads);
    });
    return;
  }
  if (padded_rows_applies(g, threads) &&
      padded_rows_backward_input(g, grad_out, w, grad_input, threads))
    return;
  if (padded_rows_tasks_apply(g, threads) &&
      padded_rows_backward_input_strided(g, grad_out, w, grad_input, threads))
    return;
  // W_g^T (patch x K/g) row-major, once: the GEMM then reads it in place.
  std::vector<T> wt(size_t(G * R * Kg));
  for (int64_t gi = 0; gi < G; ++gi)
    for (int64_t k = 0; k < Kg; ++k)
      for (int64_t r = 0; r < R; ++r) wt[size_t((gi * R + r) * Kg + k)] = w[(gi * Kg + k) * R + r];
  const int64_t cols_max = tile_columns(R, P, sizeof(T), kMaxTileColumns);
  parallel_tasks(tasks, split ? threads : 1, true, [&](int64_t task) {
    const int64_t gi = task % G, n = task / G;
    T* gx = grad_input + (n * C + gi * Cg) * IP;
    std::fill(gx, gx + Cg * IP, T(0));
    const T* go = grad_out + (n * K + gi * Kg) * P;
    T* col = tls_col.get<T>(R * cols_max);
    for (int64_t p0 = 0; p0 < P; p0 += cols_max) {
      const int64_t cols = std::min(cols_max, P - p0);
      gemm<T>(R, cols, Kg, T(1), {wt.data() + gi * R * Kg, Kg, 1}, {go + p0, P, 1}, T(0),
              {col, cols, 1}, gemm_threads);
      col2im_tile_add(g, col, p0, cols, gx);
    }
  });
}

template <typename T>
void conv_backward_weight(const ConvGeometry& g, const T* x, const T* grad_out, T* grad_weight,
                          int threads) {
  threads = threads_for(g, threads);
  const int64_t G = g.groups, Cg = g.group_in(), Kg = g.group_out(), R = g.patch();
  const int64_t C = g.in_channels, K = g.out_channels, IP = g.in_plane(), P = g.out_plane();
  const int64_t weight_size = K * R;
  if (weight_size == 0) return;
  if (g.batch == 0 || P == 0) {
    std::fill(grad_weight, grad_weight + weight_size, T(0));
    return;
  }
  if (is_depthwise(g)) return depthwise_backward_weight(g, x, grad_out, grad_weight, threads);
  if (subpixel_winograd_applies(g))
    return subpixel_winograd_backward_weight(g, x, grad_out, grad_weight, threads);
  if (valid_taps_applies(g, Product::weight))
    return valid_taps_backward_weight(g, x, grad_out, grad_weight, threads);
  if (batch_lowering(g, Product::weight)) return batched_backward_weight(g, x, grad_out, grad_weight, threads);
  const bool pointwise = is_pointwise(g);
  const int64_t cols_max = pointwise ? std::min<int64_t>(P, kMaxTileColumns)
                                     : tile_columns(R, P, sizeof(T), kMaxTileColumns);
  const int64_t tiles = ceil_div(P, cols_max);
  const int64_t tasks = g.batch * G * tiles;
  const int workers = int(std::min<int64_t>(threads, tasks));
  // Per worker: gW^T per group (patch x K/g), summed over its tasks; then summed in order.
  std::unique_ptr<T[]> acc(new T[size_t(workers * weight_size)]());
  // Static schedule: which tasks a worker sums (and so the rounding) does not vary run to run.
  parallel_tasks(tasks, workers, false, [&](int64_t task) {
    const int me = workers > 1 ? thread_index() : 0;
    const int64_t tile = task % tiles, ng = task / tiles, gi = ng % G, n = ng / G;
    const int64_t p0 = tile * cols_max, cols = std::min(cols_max, P - p0);
    const T* xg = x + (n * C + gi * Cg) * IP;
    ConstMatrix<T> a{xg + p0, IP, 1};
    if (!pointwise) {
      T* col = tls_col.get<T>(R * cols);
      im2col_tile(g, xg, p0, cols, col);
      a = {col, cols, 1};
    }
    gemm<T>(R, Kg, cols, T(1), a, {grad_out + (n * K + gi * Kg) * P + p0, 1, P}, T(1),
            {acc.get() + me * weight_size + gi * R * Kg, Kg, 1}, workers > 1 ? 1 : threads);
  });
  for (int64_t gi = 0; gi < G; ++gi)
    for (int64_t k = 0; k < Kg; ++k)
      for (int64_t r = 0; r < R; ++r) {
        T sum = 0;
        for (int t = 0; t < workers; ++t) sum += acc[size_t(t * weight_size + (gi * R + r) * Kg + k)];
        grad_weight[(gi * Kg + k) * R + r] = sum;
      }
}

template <typename T>
void conv_backward_bias(int64_t batch, int64_t channels, int64_t plane, const T* grad_out,
                        T* grad_bias, int threads) {
  if (channels == 0) return;
  const bool split = threads > 1 && batch * channels * plane >= (1 << 16);
  parallel_tasks(channels, split ? threads : 1, false, [&](int64_t k) {
    constexpr int L = 16;
    T part[L] = {};
    T sum = 0;
    for (int64_t n = 0; n < batch; ++n) {
      const T* p = grad_out + (n * channels + k) * plane;
      int64_t i = 0;
      for (; i + L <= plane; i += L)
        for (int l = 0; l < L; ++l) part[l] += p[i + l];
      for (; i < plane; ++i) sum += p[i];
    }
    for (int l = 0; l < L; ++l) sum += part[l];
    grad_bias[k] = sum;
  });
}

#define FASTDL_INSTANTIATE_CONV_KERNELS(T)                                                     \
  template void conv_forward<T>(const ConvGeometry&, const T*, const T*, const T*, T*, int);   \
  template void conv_backward_input<T>(const ConvGeometry&, const T*, const T*, T*, int);      \
  template void conv_backward_weight<T>(const ConvGeometry&, const T*, const T*, T*, int);     \
  template void conv_backward_bias<T>(int64_t, int64_t, int64_t, const T*, T*, int);
FASTDL_INSTANTIATE_CONV_KERNELS(float)
FASTDL_INSTANTIATE_CONV_KERNELS(double)
#undef FASTDL_INSTANTIATE_CONV_KERNELS

}  // namespace fastdl::cpu::FASTDL_ISA
