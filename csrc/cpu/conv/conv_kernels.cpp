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
#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu/conv/conv_kernels.h"
#include "cpu/conv/conv_simd.h"
#include "cpu/gemm/gemm_buffer.h"
#include "cpu/gemm/gemm_kernels.h"

namespace fastdl::cpu::FASTDL_ISA {
namespace {

// The im2col tile's budget: about a third of a 1 MiB L2, so that the tile, the GEMM's packed
// copy of it and a block of weights stay in L2 together.
constexpr int64_t kColTileBytes = 384 * 1024;
// The weight-gradient GEMM reduces over the tile's columns (its k): longer tiles write the
// accumulator less often.
constexpr int64_t kMaxTileColumns = 1536;
// Depthwise kernels serve groups with one input channel and at most this many outputs.
constexpr int64_t kDepthwiseMaxMultiplier = 4;

thread_local PackBuffer tls_col;

int thread_index() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// work(i) for i in [0, count): on `threads` threads, each index once (dynamic chunks of one:
// tasks are equal-sized, and a slower, shared core then takes fewer). An exception (allocation
// failure) may not leave an OpenMP region: the first one is rethrown here.
template <typename Work>
void parallel_tasks(int64_t count, int threads, bool dynamic, Work&& work) {
  if (threads <= 1 || count <= 1) {
    for (int64_t i = 0; i < count; ++i) work(i);
    return;
  }
  std::exception_ptr error;
  auto guarded = [&](int64_t i) {
    try {
      work(i);
    } catch (...) {
#pragma omp critical(fastdl_conv_error)
      if (!error) error = std::current_exception();
    }
  };
  if (dynamic) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t i = 0; i < count; ++i) guarded(i);
  } else {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < count; ++i) guarded(i);
  }
  if (error) std::rethrow_exception(error);
}

// Enough tasks for every thread to take whole ones without leaving a thread idle at the end.
bool split_tasks(int64_t tasks, int threads) {
  return threads > 1 && (tasks >= 2 * int64_t(threads) || tasks % threads == 0);
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

// Output positions o along one axis whose input index o * stride + offset lies in [0, size):
// [lo, hi) (empty: lo == hi).
struct Range {
  int64_t lo, hi;
};
Range valid_outputs(int64_t out, int64_t size, int64_t stride, int64_t offset) {
  int64_t lo = offset >= 0 ? 0 : ceil_div(-offset, stride);
  int64_t hi = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
  hi = std::min(hi, out);
  lo = std::min(lo, hi);
  return {lo, hi};
}

// Walks the output positions [p0, p0 + cols) of the flattened output plane as runs within one
// output row: fn(j, od, oh, ow, run) for the run of `run` positions starting at column j of the
// tile and output (od, oh, ow).
template <typename Fn>
inline void for_each_row_run(const ConvGeometry& g, int64_t p0, int64_t cols, Fn&& fn) {
  const int64_t OH = g.out[1], OW = g.out[2];
  int64_t ow = p0 % OW, oh = (p0 / OW) % OH, od = p0 / (OW * OH);
  for (int64_t j = 0; j < cols;) {
    const int64_t run = std::min(OW - ow, cols - j);
    fn(j, od, oh, ow, run);
    j += run;
    ow = 0;
    if (++oh == OH) oh = 0, ++od;
  }
}

// col[r][j] = x[c, od*s0 + kd*d0 - p0, oh*s1 + kh*d1 - p1, ow*s2 + kw*d2 - p2] (0 in the padding)
// for the tile's positions j, rows r = (c, kd, kh, kw); x is the group's first channel.
template <typename T>
void im2col_tile(const ConvGeometry& g, const T* x, int64_t p0, int64_t cols, T* col) {
  const int64_t ID = g.in[0], IH = g.in[1], IW = g.in[2], IP = g.in_plane();
  const int64_t s2 = g.stride[2];
  int64_t row = 0;
  for (int64_t c = 0; c < g.group_in(); ++c) {
    const T* xc = x + c * IP;
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
      for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw, ++row) {
          T* dst = col + row * cols;
          const int64_t dd = kd * g.dilation[0] - g.pad[0], dh = kh * g.dilation[1] - g.pad[1];
          const int64_t dw = kw * g.dilation[2] - g.pad[2];
          const Range r = valid_outputs(g.out[2], IW, s2, dw);
          for_each_row_run(g, p0, cols, [&](int64_t j, int64_t od, int64_t oh, int64_t ow,
                                            int64_t run) {
            T* d = dst + j - ow;  // d[o] for output column o of this row
            const int64_t id = od * g.stride[0] + dd, ih = oh * g.stride[1] + dh;
            const int64_t end = ow + run;
            if (id < 0 || id >= ID || ih < 0 || ih >= IH) {
              std::fill(d + ow, d + end, T(0));
              return;
            }
            const T* xr = xc + (id * IH + ih) * IW + dw;
            const int64_t lo = std::clamp(r.lo, ow, end), hi = std::clamp(r.hi, lo, end);
            std::fill(d + ow, d + lo, T(0));
            if (s2 == 1) {
              for (int64_t o = lo; o < hi; ++o) d[o] = xr[o];
            } else {
              for (int64_t o = lo; o < hi; ++o) d[o] = xr[o * s2];
            }
            std::fill(d + hi, d + end, T(0));
          });
        }
  }
}

// The adjoint of im2col_tile: x[c, ...] += col[r][j] (padding positions dropped).
template <typename T>
void col2im_tile_add(const ConvGeometry& g, const T* col, int64_t p0, int64_t cols, T* x) {
  const int64_t ID = g.in[0], IH = g.in[1], IW = g.in[2], IP = g.in_plane();
  const int64_t s2 = g.stride[2];
  int64_t row = 0;
  for (int64_t c = 0; c < g.group_in(); ++c) {
    T* xc = x + c * IP;
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
      for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw, ++row) {
          const T* src = col + row * cols;
          const int64_t dd = kd * g.dilation[0] - g.pad[0], dh = kh * g.dilation[1] - g.pad[1];
          const int64_t dw = kw * g.dilation[2] - g.pad[2];
          const Range r = valid_outputs(g.out[2], IW, s2, dw);
          for_each_row_run(g, p0, cols, [&](int64_t j, int64_t od, int64_t oh, int64_t ow,
                                            int64_t run) {
            const int64_t id = od * g.stride[0] + dd, ih = oh * g.stride[1] + dh;
            if (id < 0 || id >= ID || ih < 0 || ih >= IH) return;
            const T* s = src + j - ow;
            T* xr = xc + (id * IH + ih) * IW + dw;
            const int64_t end = ow + run;
            const int64_t lo = std::clamp(r.lo, ow, end), hi = std::clamp(r.hi, lo, end);
            if (s2 == 1) {
              for (int64_t o = lo; o < hi; ++o) xr[o] += s[o];
            } else {
              for (int64_t o = lo; o < hi; ++o) xr[o * s2] += s[o];
            }
          });
        }
  }
}

// ---- depthwise ------------------------------------------------------------------------------
// Each (image, channel) plane is copied once into a zero-padded buffer (per thread, one plane:
// (D + 2 pd)(H + 2 ph)(W + 2 pw) elements), so the inner loops need no bounds checks. An output
// row is computed in up to 4 vectors held in registers across all taps (each tap: a broadcast
// weight times an unaligned load of the shifted input row), then stored once. The input gradient
// is the same kernel run over the output gradient spread out by the stride and padded by
// dilation * (kernel - 1) - padding, with the kernel flipped; the weight gradient keeps one vector
// sum per tap over all rows and images.

using conv_simd::Vec;

// sum_o a[o] * b[o * stride] over o in [0, n), in 16 independent partial sums (vectorizable
// without reassociating: each lane is its own sum).
template <typename T>
inline T dot_strided(const T* a, const T* b, int64_t stride, int64_t n) {
  constexpr int L = 16;
  T part[L] = {};
  int64_t o = 0;
  for (; o + L <= n; o += L)
    for (int l = 0; l < L; ++l) part[l] += a[o + l] * b[(o + l) * stride];
  T sum = 0;
  for (; o < n; ++o) sum += a[o] * b[o * stride];
  for (int l = 0; l < L; ++l) sum += part[l];
  return sum;
}

// dst (dims) = 0, then dst[a * step + offset] = src[a] per axis (3-D, src dims `in`) where that
// lands inside dst: a zero-padded (step 1) or spread-out (step = stride) copy.
template <typename T>
void place_volume(const T* src, const int64_t in[3], const int64_t step[3],
                  const int64_t offset[3], T* dst, const int64_t dims[3]) {
  std::fill(dst, dst + dims[0] * dims[1] * dims[2], T(0));
  const Range rd = valid_outputs(in[0], dims[0], step[0], offset[0]);
  const Range rh = valid_outputs(in[1], dims[1], step[1], offset[1]);
  const Range rw = valid_outputs(in[2], dims[2], step[2], offset[2]);
  for (int64_t a = rd.lo; a < rd.hi; ++a)
    for (int64_t b = rh.lo; b < rh.hi; ++b) {
      const T* s = src + (a * in[1] + b) * in[2];
      T* d = dst + ((a * step[0] + offset[0]) * dims[1] + b * step[1] + offset[1]) * dims[2] +
             offset[2];
      if (step[2] == 1) {
        std::copy(s + rw.lo, s + rw.hi, d + rw.lo);
      } else {
        for (int64_t c = rw.lo; c < rw.hi; ++c) d[c * step[2]] = s[c];
      }
    }
}

// out[oh][ow] = init (or out, when accumulating) + sum_{kh,kw} w[kh][kw] * src[(oh sh + kh dh)
// * ld + ow + kw dw] for ow in [ow0, ow0 + lanes): unit stride along the row, NV vectors.
template <typename T, int NV>
inline void dw_row_vectors(const T* src, int64_t ld, const T* w, int64_t KH, int64_t KW,
                           int64_t dh, int64_t dw, T* out, int64_t lanes, bool accumulate,
                           T init) {
  using S = Vec<T>;
  typename S::V acc[NV];
  for (int v = 0; v < NV; ++v)
    acc[v] = accumulate ? S::load(out + v * S::L, lanes - v * S::L) : S::set1(init);
  for (int64_t kh = 0; kh < KH; ++kh) {
    const T* r = src + kh * dh * ld;
    for (int64_t kw = 0; kw < KW; ++kw) {
      const typename S::V wv = S::set1(w[kh * KW + kw]);
      const T* rr = r + kw * dw;
      for (int v = 0; v < NV; ++v)
        acc[v] = S::fmadd(wv, S::load(rr + v * S::L, lanes - v * S::L), acc[v]);
    }
  }
  for (int v = 0; v < NV; ++v) S::store(out + v * S::L, acc[v], lanes - v * S::L);
}

// One 2-D slice: out (OH x OW) (+)= the correlation of src (row length ld, already padded) with
// the KH x KW kernel w at strides (sh, sw) and dilations (dh, dw).
template <typename T>
void dw_plane(const T* src, int64_t ld, const T* w, int64_t KH, int64_t KW, int64_t sh,
              int64_t sw, int64_t dh, int64_t dw, T* out, int64_t OH, int64_t OW,
              bool accumulate, T init) {
  constexpr int L = Vec<T>::L;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* s = src + oh * sh * ld;
    T* o = out + oh * OW;
    if (sw != 1) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        T sum = accumulate ? o[ow] : init;
        for (int64_t kh = 0; kh < KH; ++kh)
          for (int64_t kw = 0; kw < KW; ++kw)
            sum += w[kh * KW + kw] * s[kh * dh * ld + ow * sw + kw * dw];
        o[ow] = sum;
      }
      continue;
    }
    for (int64_t ow0 = 0; ow0 < OW; ow0 += 4 * L) {
      const int64_t lanes = std::min<int64_t>(4 * L, OW - ow0);
      const T* so = s + ow0;
      T* oo = o + ow0;
      switch ((lanes + L - 1) / L) {
        case 1: dw_row_vectors<T, 1>(so, ld, w, KH, KW, dh, dw, oo, lanes, accumulate, init); break;
        case 2: dw_row_vectors<T, 2>(so, ld, w, KH, KW, dh, dw, oo, lanes, accumulate, init); break;
        case 3: dw_row_vectors<T, 3>(so, ld, w, KH, KW, dh, dw, oo, lanes, accumulate, init); break;
        default: dw_row_vectors<T, 4>(so, ld, w, KH, KW, dh, dw, oo, lanes, accumulate, init);
      }
    }
  }
}

// Sizes shared by the three depthwise kernels.
struct DepthwisePlanes {
  int64_t K, C, Kg, P, IP, KV, KHW;
  int64_t padded[3];  // the zero-padded input plane's dims
  int64_t ones[3] = {1, 1, 1};
  explicit DepthwisePlanes(const ConvGeometry& g)
      : K(g.out_channels), C(g.in_channels), Kg(g.group_out()), P(g.out_plane()),
        IP(g.in_plane()), KV(g.kernel_volume()), KHW(g.kernel[1] * g.kernel[2]) {
    for (int i = 0; i < 3; ++i) padded[i] = g.in[i] + 2 * g.pad[i];
  }
  int64_t padded_size() const { return padded[0] * padded[1] * padded[2]; }
};

template <typename T>
void depthwise_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                       int threads) {
  const DepthwisePlanes d(g);
  parallel_tasks(g.batch * d.K, threads, true, [&](int64_t plane) {
    const int64_t n = plane / d.K, k = plane % d.K;
    T* buf = tls_col.get<T>(d.padded_size());
    place_volume(x + (n * d.C + k / d.Kg) * d.IP, g.in, d.ones, g.pad, buf, d.padded);
    T* o = out + plane * d.P;
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
        dw_plane(buf + (od * g.stride[0] + kd * g.dilation[0]) * d.padded[1] * d.padded[2],
                 d.padded[2], w + k * d.KV + kd * d.KHW, g.kernel[1], g.kernel[2], g.stride[1],
                 g.stride[2], g.dilation[1], g.dilation[2], o + od * g.out[1] * g.out[2],
                 g.out[1], g.out[2], kd > 0, bias ? bias[k] : T(0));
  });
}

template <typename T>
void depthwise_backward_input(const ConvGeometry& g, const T* gout, const T* w, T* gin,
                              int threads) {
  const DepthwisePlanes d(g);
  // grad_out spread out by the stride and shifted by dilation * (kernel - 1) - padding: the
  // input gradient is its stride-1 correlation with the flipped kernel
  int64_t dims[3], offset[3];
  for (int i = 0; i < 3; ++i) {
    const int64_t reach = g.dilation[i] * (g.kernel[i] - 1);
    dims[i] = g.in[i] + reach;
    offset[i] = reach - g.pad[i];
  }
  parallel_tasks(g.batch * d.C, threads, true, [&](int64_t plane) {
    const int64_t n = plane / d.C, c = plane % d.C;
    T* buf = tls_col.get<T>(dims[0] * dims[1] * dims[2] + d.KV);
    T* flipped = buf + dims[0] * dims[1] * dims[2];
    T* gi = gin + plane * d.IP;
    for (int64_t j = 0; j < d.Kg; ++j) {
      const int64_t k = c * d.Kg + j;
      std::reverse_copy(w + k * d.KV, w + (k + 1) * d.KV, flipped);
      place_volume(gout + (n * d.K + k) * d.P, g.out, g.stride, offset, buf, dims);
      for (int64_t id = 0; id < g.in[0]; ++id)
        for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
          dw_plane(buf + (id + kd * g.dilation[0]) * dims[1] * dims[2], dims[2],
                   flipped + kd * d.KHW, g.kernel[1], g.kernel[2], 1, 1, g.dilation[1],
                   g.dilation[2], gi + id * g.in[1] * g.in[2], g.in[1], g.in[2],
                   j > 0 || kd > 0, T(0));
    }
  });
}

template <typename T>
void depthwise_backward_weight(const ConvGeometry& g, const T* x, const T* gout, T* gw,
                               int threads) {
  using S = Vec<T>;
  constexpr int L = S::L;
  const DepthwisePlanes d(g);
  const int64_t KH = g.kernel[1], KW = g.kernel[2], OH = g.out[1], OW = g.out[2];
  const int64_t ld = d.padded[2], sw = g.stride[2];
  // Each output channel's weights are summed by one thread over every image: deterministic.
  parallel_tasks(d.K, threads, true, [&](int64_t k) {
    std::vector<typename S::V> acc(size_t(d.KV), S::zero());
    std::vector<T> tail(size_t(d.KV), T(0));  // strided rows: scalar sums
    T* buf = tls_col.get<T>(d.padded_size());
    for (int64_t n = 0; n < g.batch; ++n) {
      place_volume(x + (n * d.C + k / d.Kg) * d.IP, g.in, d.ones, g.pad, buf, d.padded);
      const T* go = gout + (n * d.K + k) * d.P;
      for (int64_t od = 0; od < g.out[0]; ++od)
        for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
          const T* slice = buf + (od * g.stride[0] + kd * g.dilation[0]) * d.padded[1] * ld;
          for (int64_t oh = 0; oh < OH; ++oh) {
            const T* grow = go + (od * OH + oh) * OW;
            const T* srow = slice + oh * g.stride[1] * ld;
            for (int64_t kh = 0; kh < KH; ++kh) {
              const T* r = srow + kh * g.dilation[1] * ld;
              const int64_t tap0 = kd * d.KHW + kh * KW;
              if (sw != 1) {
                for (int64_t kw = 0; kw < KW; ++kw)
                  tail[size_t(tap0 + kw)] +=
                      dot_strided(grow, r + kw * g.dilation[2], sw, OW);
                continue;
              }
              for (int64_t ow0 = 0; ow0 < OW; ow0 += L) {
                const int64_t lanes = std::min<int64_t>(L, OW - ow0);
                const typename S::V gv = S::load(grow + ow0, lanes);
                for (int64_t kw = 0; kw < KW; ++kw)
                  acc[size_t(tap0 + kw)] = S::fmadd(
                      gv, S::load(r + ow0 + kw * g.dilation[2], lanes), acc[size_t(tap0 + kw)]);
              }
            }
          }
        }
    }
    for (int64_t t = 0; t < d.KV; ++t) gw[k * d.KV + t] = S::sum(acc[size_t(t)]) + tail[size_t(t)];
  });
}

}  // namespace

// ---- entry points ---------------------------------------------------------------------------

template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                  int threads) {
  const int64_t P = g.out_plane();
  if (g.batch == 0 || P == 0 || g.out_channels == 0) return;
  if (is_depthwise(g)) return depthwise_forward(g, x, w, bias, out, threads);
  const int64_t G = g.groups, Cg = g.group_in(), Kg = g.group_out(), R = g.patch();
  const int64_t C = g.in_channels, K = g.out_channels, IP = g.in_plane();
  const bool pointwise = is_pointwise(g);
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
  const int64_t C = g.in_channels, K = g.out_channels, IP = g.in_plane(), P = g.out_plane();
  if (g.batch == 0 || IP == 0 || C == 0) return;
  if (P == 0 || K == 0) {
    std::fill(grad_input, grad_input + g.batch * C * IP, T(0));
    return;
  }
  if (is_depthwise(g)) return depthwise_backward_input(g, grad_out, w, grad_input, threads);
  const int64_t G = g.groups, Cg = g.group_in(), Kg = g.group_out(), R = g.patch();
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
  const int64_t G = g.groups, Cg = g.group_in(), Kg = g.group_out(), R = g.patch();
  const int64_t C = g.in_channels, K = g.out_channels, IP = g.in_plane(), P = g.out_plane();
  const int64_t weight_size = K * R;
  if (weight_size == 0) return;
  if (g.batch == 0 || P == 0) {
    std::fill(grad_weight, grad_weight + weight_size, T(0));
    return;
  }
  if (is_depthwise(g)) return depthwise_backward_weight(g, x, grad_out, grad_weight, threads);
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
