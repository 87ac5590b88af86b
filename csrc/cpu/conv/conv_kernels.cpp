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
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <utility>
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

// Threads worth forking for a convolution of this size: an OpenMP fork/join costs a few
// microseconds (far more when a shared core is busy elsewhere), about what one core needs for
// 2 * 96^3 flops (the GEMM's kMinFlopsPerThread); small convolutions (gradcheck's) run on one.
int threads_for(const ConvGeometry& g, int threads) {
  const double flops = 2.0 * double(g.batch) * double(g.out_channels) * double(g.patch()) *
                       double(g.out_plane());
  constexpr double kMinFlopsPerThread = 2.0 * 96 * 96 * 96;
  return int(std::clamp<double>(flops / kMinFlopsPerThread, 1.0, double(std::max(threads, 1))));
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
    // one vector sum per tap (64-byte aligned, after the padded plane), scalar sums for strided
    // rows
    T* buf = tls_col.get<T>(round_up(d.padded_size(), L) + d.KV * L);
    auto* acc = reinterpret_cast<typename S::V*>(buf + round_up(d.padded_size(), L));
    for (int64_t t = 0; t < d.KV; ++t) acc[t] = S::zero();
    std::vector<T> tail(size_t(d.KV), T(0));
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
                  acc[tap0 + kw] = S::fmadd(gv, S::load(r + ow0 + kw * g.dilation[2], lanes),
                                            acc[tap0 + kw]);
              }
            }
          }
        }
    }
    for (int64_t t = 0; t < d.KV; ++t) gw[k * d.KV + t] = S::sum(acc[t]) + tail[size_t(t)];
  });
}

// ---- stride-1 implicit GEMM ("padded rows") ----------------------------------------------------
// With stride 1, the input of tap r = (c, kd, kh, kw) for output (od, oh, ow) sits at a constant
// offset off[r] = c * plane + (kd dd * PH + kh dh) * PW + kw dw from position
// q = (od * PH + oh) * PW + ow of the zero-padded input (dims PD, PH, PW). So on the padded grid
// the im2col matrix is B[r][q] = xp[off[r] + q]: every row is a contiguous run of the padded
// image, and the micro-kernel reads it in place through the offset table -- no im2col copy, no
// packing of B. The grid's columns ow >= OW (and rows oh >= OH) are junk outputs, computed and
// dropped (for 3x3 on 56x56: 2 of 58 columns, 3.4%).
//   forward:          out_g (K/g x Q) = W_g (packed MR-row slivers) @ B
//   backward input:   the same forward with the flipped, transposed weights, padding
//                     dilation * (k - 1) - padding (when that is >= 0)
// The weight gradient stays on im2col tiles: the same scheme with B's rows as the broadcast
// operand and grad_out packed per image measured 8-30% slower than the GEMM on im2col tiles
// (bench/NOTES.md, "Convolution").
// Workspace per thread: the padded image of one group (C/g planes + kGridSlack elements); shared:
// the packed weights and the grid's offset and position tables.

#if defined(FASTDL_ISA_avx512)
constexpr int kTileRows = 8, kTileVectors = 3;  // 24 accumulators + 3 B vectors + a broadcast
#elif defined(FASTDL_ISA_avx2)
constexpr int kTileRows = 4, kTileVectors = 3;  // 12 + 3 + 1 of 16 ymm registers
#else
constexpr int kTileRows = 4, kTileVectors = 4;  // scalars
#endif
// k (patch) block of the forward: a packed weight block of kKBlock x NW streams from L2. Every
// block after the first re-reads and re-writes the outputs through the scalar scatter, so one
// block covers ResNet's patches up to 3 x 3 x 256 (layer2 fwd 3.18 -> 3.06 ms with 1152 instead
// of 1024; 96 .. 384 were 5-35% slower); a 2304 x 48 block is 442 KiB of the 1 MiB L2.
constexpr int64_t kKBlock = 2304;

// tile[i][j] = sum_p b[off[p] + i] * w[p][j] for MR grid positions i and NV vectors of output
// channels j: the weights (packed [p][NW], read in order) are the vector operand, the padded
// input the broadcast one (MR consecutive elements per k step, one cache line).
// The MR positions are two segments of MR / 2 consecutive grid positions, at b0 and b1 (b1 =
// b0 + MR / 2 when the tile is one run of the grid).
template <typename T, int MR, int NV>
[[gnu::noinline]] void offset_kernel(int64_t kc, const T* __restrict w, const T* b0,
                                     const T* b1, const int64_t* __restrict off,
                                     T* __restrict tile) {
  using S = Vec<T>;
  constexpr int L = S::L, NW = kTileVectors * L, SEG = MR / 2;
  typename S::V acc[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();
  for (int64_t p = 0; p < kc; ++p) {
    const T* bp0 = b0 + off[p];
    const T* bp1 = b1 + off[p];
    typename S::V wv[NV];
    for (int v = 0; v < NV; ++v) wv[v] = S::load(w + p * NW + v * L, L);
    for (int i = 0; i < MR; ++i) {
      const typename S::V bi = S::set1(i < SEG ? bp0[i] : bp1[i - SEG]);
      for (int v = 0; v < NV; ++v) acc[i][v] = S::fmadd(bi, wv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) S::store(tile + i * NW + v * L, acc[i][v], L);
}

// The padded-grid layout of one convolution (stride 1). Input element 0 lands at grid index
// `offset` (the left padding; negative: the input's first elements are cut), the grid spans
// out + dilation (kernel - 1) per dim. Output (od, oh, ow) is written at
// ((od * step0 + phase0) * full1 + oh * step1 + phase1) * full2 + ow * step2 + phase2 of the
// output plane (step 1, phase 0, full = out for a plain convolution; one phase of a strided
// transposed convolution otherwise).
struct PaddedGrid {
  int64_t dims[3];   // grid dims
  int64_t plane;     // their product
  int64_t q_count;   // grid positions up to the last real output
  int64_t out[3];
  int64_t offset[3], step[3] = {1, 1, 1}, phase[3] = {0, 0, 0}, full[3];
  std::vector<int64_t> off;  // per patch row r = (c, kd, kh, kw)

  explicit PaddedGrid(const ConvGeometry& g) : PaddedGrid(g, g.pad) {}
  PaddedGrid(const ConvGeometry& g, const int64_t left[3]) {
    for (int i = 0; i < 3; ++i) {
      out[i] = full[i] = g.out[i];
      dims[i] = g.out[i] + g.dilation[i] * (g.kernel[i] - 1);
      offset[i] = left[i];
    }
    plane = dims[0] * dims[1] * dims[2];
    q_count = ((out[0] - 1) * dims[1] + out[1] - 1) * dims[2] + out[2];
    off.reserve(size_t(g.patch()));
    for (int64_t c = 0; c < g.group_in(); ++c)
      for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
        for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
          for (int64_t kw = 0; kw < g.kernel[2]; ++kw)
            off.push_back(c * plane + (kd * g.dilation[0] * dims[1] + kh * g.dilation[1]) *
                                          dims[2] + kw * g.dilation[2]);
  }

  int64_t position(int64_t od, int64_t oh, int64_t ow) const {
    return ((od * step[0] + phase[0]) * full[1] + oh * step[1] + phase[1]) * full[2] +
           ow * step[2] + phase[2];
  }

  // Runs of real outputs among grid positions [q0, q0 + width): (column in the run, output
  // position of its first element, length; the outputs of a run are step[2] apart).
  struct Run {
    int64_t column, position, length;
  };
  void runs(int64_t q0, int64_t width, std::vector<Run>& out_runs) const {
    out_runs.clear();
    const int64_t end = std::min(q0 + width, q_count);
    for (int64_t q = q0; q < end;) {
      const int64_t row = q / dims[2], ow = q % dims[2];
      const int64_t run = std::min(dims[2] - ow, end - q);
      const int64_t oh = row % dims[1], od = row / dims[1];
      if (ow < out[2] && oh < out[1] && od < out[0])
        out_runs.push_back({q - q0, position(od, oh, ow), std::min(run, out[2] - ow)});
      q += run;
    }
  }
};

// True when the stride-1 padded-rows path serves this geometry with these threads: stride 1,
// enough (image, group) tasks for every thread, and a patch worth the offset table.
// FASTDL_CONV_IM2COL=1 turns the path off (for measuring one path against the other).
bool padded_rows_applies(const ConvGeometry& g, int threads) {
  // read per call (a few hundred ns against a convolution) so a benchmark can alternate paths
  const char* disabled = std::getenv("FASTDL_CONV_IM2COL");
  if (disabled && *disabled && *disabled != '0') return false;
  for (int i = 0; i < 3; ++i)
    if (g.stride[i] != 1) return false;
  return threads <= 1 || split_tasks(g.batch * g.groups, threads);
}

// The same switch and task rule for the strided input gradient's phases.
bool padded_rows_tasks_apply(const ConvGeometry& g, int threads) {
  const char* disabled = std::getenv("FASTDL_CONV_IM2COL");
  if (disabled && *disabled && *disabled != '0') return false;
  return threads <= 1 || split_tasks(g.batch * g.groups, threads);
}

// Packed weights: per group, ceil(Kg / NW) slivers of patch x NW output channels (zero columns
// past Kg), the forward's vector operand, read in order. The storage is kept per thread and
// slot (a call packs up to one set per phase): a fresh zeroed std::vector per call cost ~0.8 ms
// of page faults and zeroing at ResNet-18's layer3 (2.4 MB of weights for a 3 ms convolution).
template <typename T>
int64_t packed_size(const ConvGeometry& g) {
  constexpr int64_t NW = kTileVectors * Vec<T>::L;
  return g.groups * ceil_div(g.group_out(), NW) * g.patch() * NW;
}

thread_local std::vector<std::unique_ptr<PackBuffer>> tls_packed;
template <typename T>
T* packed_storage(size_t slot, int64_t count) {
  while (tls_packed.size() <= slot) tls_packed.push_back(std::make_unique<PackBuffer>());
  return tls_packed[slot]->get<T>(count);
}

// packed[gi][block][r][j] = w[gi * gstride + k * kstride + roff[r]] for output channel
// k = block * NW + j of group gi and patch row r (roff: one offset per row, so a flipped and
// transposed weight needs no copy and no division per element); in blocks of 128 rows: each
// source row is read 512 bytes at a time and the written block (128 x NW elements, 24 KiB)
// stays in L1. Layer3 (256 x 2304 weights) forward / input gradient, 1 thread, CPU time:
// blocks of 16 rows 4.6 / 3.8 ms (one cache line from each of 48 rows 9 KiB apart), 64 rows
// 3.8-4.2 / 3.5-3.7, 128 rows 3.6-3.7 / 3.3-3.4, 256 rows 3.6-3.8 / 3.7-3.8, whole rows 4.0 / 4.7.
template <typename T>
void pack_weight_slivers(const ConvGeometry& g, const T* w, int64_t gstride, int64_t kstride,
                         const std::vector<int64_t>& roff, T* packed) {
  constexpr int64_t NW = kTileVectors * Vec<T>::L, RB = 128;
  const int64_t G = g.groups, Kg = g.group_out(), R = g.patch(), blocks = ceil_div(Kg, NW);
  for (int64_t gi = 0; gi < G; ++gi)
    for (int64_t b = 0; b < blocks; ++b) {
      T* dst = packed + (gi * blocks + b) * R * NW;
      const int64_t nk = std::min(NW, Kg - b * NW);
      for (int64_t r0 = 0; r0 < R; r0 += RB) {
        const int64_t r1 = std::min(R, r0 + RB);
        for (int64_t j = 0; j < nk; ++j) {
          const T* src = w + gi * gstride + (b * NW + j) * kstride;
          for (int64_t r = r0; r < r1; ++r) dst[r * NW + j] = src[roff[size_t(r)]];
        }
        if (nk < NW)
          for (int64_t r = r0; r < r1; ++r) std::fill(dst + r * NW + nk, dst + (r + 1) * NW, T(0));
      }
    }
}

// roff[r] = r: rows stored in order.
inline std::vector<int64_t> identity_rows(int64_t R) {
  std::vector<int64_t> roff(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) roff[size_t(r)] = r;
  return roff;
}

// The group's input channels copied into the zero-padded grid (plus kGridSlack zero elements
// that the last tile's reads may reach).
constexpr int64_t kGridSlack = 64;
// Images [n0, n0 + nb) of group gi side by side (image i at i * Cg * plane).
template <typename T>
T* padded_group(const ConvGeometry& g, const PaddedGrid& grid, const T* x, int64_t n0,
                int64_t nb, int64_t gi) {
  const int64_t Cg = g.group_in(), image = Cg * grid.plane;
  T* xp = tls_col.get<T>(nb * image + kGridSlack);
  const int64_t ones[3] = {1, 1, 1};
  for (int64_t i = 0; i < nb; ++i) {
    const T* xg = x + ((n0 + i) * g.in_channels + gi * Cg) * g.in_plane();
    for (int64_t c = 0; c < Cg; ++c)
      place_volume(xg + c * g.in_plane(), g.in, ones, grid.offset, xp + i * image + c * grid.plane,
                   grid.dims);
  }
  std::fill(xp + nb * image, xp + nb * image + kGridSlack, T(0));
  return xp;
}

// The space-to-depth input of a strided convolution g (stride s per dim, kernel k = s M): for
// images [n0, n0 + nb) of group gi, channel (c, phase r) of the grid holds
// x[c][s a + r - p] at grid position a (0 outside x), so that tap t = s m + r of the original
// kernel reads grid position o + m: a stride-1 convolution with an M-tap kernel over S = s^d
// times the channels (the weights need no zeros: every original tap is one (phase, m)).
template <typename T>
T* space_to_depth_group(const ConvGeometry& g, const PaddedGrid& grid, const T* x, int64_t n0,
                        int64_t nb, int64_t gi) {
  const int64_t S = g.stride[0] * g.stride[1] * g.stride[2];
  const int64_t Cg = g.group_in(), image = Cg * S * grid.plane;
  const int64_t ID = g.in[0], IH = g.in[1], IW = g.in[2];
  T* xp = tls_col.get<T>(nb * image + kGridSlack);
  for (int64_t i = 0; i < nb; ++i) {
    const T* xg = x + ((n0 + i) * g.in_channels + gi * Cg) * g.in_plane();
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t r0 = 0; r0 < g.stride[0]; ++r0)
        for (int64_t r1 = 0; r1 < g.stride[1]; ++r1)
          for (int64_t r2 = 0; r2 < g.stride[2]; ++r2) {
            const int64_t ph = (r0 * g.stride[1] + r1) * g.stride[2] + r2;
            T* dst = xp + i * image + (c * S + ph) * grid.plane;
            const T* src = xg + c * g.in_plane();
            const Range rw = valid_outputs(grid.dims[2], IW, g.stride[2], r2 - g.pad[2]);
            for (int64_t a0 = 0; a0 < grid.dims[0]; ++a0)
              for (int64_t a1 = 0; a1 < grid.dims[1]; ++a1) {
                T* d = dst + (a0 * grid.dims[1] + a1) * grid.dims[2];
                const int64_t id = g.stride[0] * a0 + r0 - g.pad[0];
                const int64_t ih = g.stride[1] * a1 + r1 - g.pad[1];
                if (id < 0 || id >= ID || ih < 0 || ih >= IH) {
                  std::fill(d, d + grid.dims[2], T(0));
                  continue;
                }
                const T* srow = src + (id * IH + ih) * IW + r2 - g.pad[2];
                std::fill(d, d + rw.lo, T(0));
                for (int64_t a2 = rw.lo; a2 < rw.hi; ++a2) d[a2] = srow[g.stride[2] * a2];
                std::fill(d + rw.hi, d + grid.dims[2], T(0));
              }
          }
  }
  std::fill(xp + nb * image, xp + nb * image + kGridSlack, T(0));
  return xp;
}

// Images per padded-rows task: a chunk of images shares each block of packed weights (read
// from L2 once per chunk and output-channel block instead of once per image: at 4 x 4 one image
// is 2 tiles, and the 2.4 MB of layer3's weights came from L3 for 16 positions). Padded chunks
// up to kRowsChunkBytes; the chunk count is a multiple of the thread count (equal work per
// thread) when there are enough images.
constexpr int64_t kRowsChunkBytes = 512 * 1024;
struct ImageChunks {
  int64_t count, batch;
  ImageChunks(const ConvGeometry& g, int64_t image_bytes, int threads) : batch(g.batch) {
    const char* env = std::getenv("FASTDL_CONV_ROWS_CHUNK");  // bytes; benchmarks sweep it
    const int64_t budget = env && *env ? std::atoll(env) : kRowsChunkBytes;
    const int64_t per = std::clamp<int64_t>(budget / std::max<int64_t>(image_bytes, 1), 1,
                                            g.batch);
    count = ceil_div(g.batch, per);
    const int64_t t = std::max(threads, 1);
    if (g.batch >= t) count = std::min(g.batch, round_up(count, t));
  }
  int64_t begin(int64_t c) const { return batch * c / count; }
  int64_t end(int64_t c) const { return batch * (c + 1) / count; }
};

// The forward applies when output channels fill the vectors and the patch has several input
// channels (LeNet's C = 1, 5 x 5: 0.66x of the im2col GEMM, whose tiles are tiny then).
template <typename T>
bool padded_rows_forward_applies(const ConvGeometry& g) {
  return g.group_out() >= 16 && g.group_in() >= 4;
}

// One stride-1 convolution g of x on `grid` with weights w, prepared once per call: packed
// weights and the output position of every grid position. Each output is written once (bias
// added), at the grid's output positions of planes of P elements (P = g.out_plane() for a plain
// convolution).
template <typename T>
struct PaddedPlan {
  ConvGeometry g;
  PaddedGrid grid;
  const T* packed;  // pack_weight_slivers' layout
  // Per tile: the grid index of each of its two segments of kSegment positions, and the output
  // position of each of its kTileRows lanes (-1: junk, not stored).
  std::vector<int64_t> base, position;
  int64_t tiles, P;
  const T* bias;
  // Set for a strided convolution run as its space-to-depth twin (strided_forward): the
  // original geometry, whose input is rearranged into g's channels instead of padded.
  const ConvGeometry* strided = nullptr;

  static constexpr int64_t kSegment = kTileRows / 2;
  PaddedPlan(const ConvGeometry& g_, PaddedGrid grid_, const T* packed_, const T* bias_,
             int64_t P_)
      : g(g_), grid(std::move(grid_)), packed(packed_), P(P_), bias(bias_) {
    // FASTDL_CONV_SEGMENTS=0 keeps the grid walk (benchmarks alternate the two in one process)
    const char* env = std::getenv("FASTDL_CONV_SEGMENTS");
    if (grid.out[2] % kSegment == 0 && !(env && *env == '0')) {
      // Output rows are whole segments: tiles walk the real outputs only (no junk columns:
      // the grid's dilation * (kernel - 1) extra columns per row cost 12.5% at 16 x 16 and
      // 25% at 8 x 8 for a 3 x 3 kernel), each segment at its own grid row.
      const int64_t O1 = grid.out[1], O2 = grid.out[2];
      const int64_t count = grid.out[0] * O1 * O2;
      tiles = ceil_div(count, kTileRows);
      base.assign(size_t(tiles * 2), 0);
      position.assign(size_t(tiles * kTileRows), -1);
      for (int64_t t = 0; t < tiles; ++t)
        for (int64_t s = 0; s < 2; ++s) {
          const int64_t p = t * kTileRows + s * kSegment;
          if (p >= count) {
            base[size_t(t * 2 + s)] = base[size_t(t * 2)];
            continue;
          }
          const int64_t ow = p % O2, oh = (p / O2) % O1, od = p / (O2 * O1);
          base[size_t(t * 2 + s)] = (od * grid.dims[1] + oh) * grid.dims[2] + ow;
          for (int64_t l = 0; l < kSegment; ++l)
            position[size_t(p + l)] = grid.position(od, oh, ow + l);
        }
      return;
    }
    // Otherwise tiles walk the padded grid, junk columns included.
    tiles = ceil_div(grid.q_count, kTileRows);
    base.resize(size_t(tiles * 2));
    for (int64_t t = 0; t < tiles; ++t)
      base[size_t(t * 2)] = t * kTileRows, base[size_t(t * 2 + 1)] = t * kTileRows + kSegment;
    position.assign(size_t(tiles * kTileRows), -1);
    std::vector<PaddedGrid::Run> runs;
    grid.runs(0, grid.q_count, runs);
    for (const auto& run : runs)
      for (int64_t j = 0; j < run.length; ++j)
        position[size_t(run.column + j)] = run.position + j * grid.step[2];
  }

  int64_t image_bytes() const { return g.group_in() * grid.plane * int64_t(sizeof(T)); }

  // Task (images [n0, n0 + nb), group gi): their padded inputs, then per output-channel block
  // and k block every image's tiles.
  void run(const T* x, T* out, int64_t n0, int64_t nb, int64_t gi) const {
    constexpr int MR = kTileRows;
    constexpr int64_t NW = kTileVectors * Vec<T>::L;
    const int64_t Cg = g.group_in(), Kg = g.group_out(), R = g.patch();
    const int64_t blocks = ceil_div(Kg, NW), image = Cg * grid.plane;
    const T* xp0 = strided ? space_to_depth_group(*strided, grid, x, n0, nb, gi)
                           : padded_group(g, grid, x, n0, nb, gi);
    alignas(64) T tile[MR * NW];
    for (int64_t kb = 0; kb < blocks; ++kb) {
      const int64_t nk = std::min(NW, Kg - kb * NW);
      const int nv = int(ceil_div(nk, Vec<T>::L));
      for (int64_t pc = 0; pc < R; pc += kKBlock) {
        const int64_t kc = std::min(kKBlock, R - pc);
        const T* wb = packed + ((gi * blocks + kb) * R + pc) * NW;
        const int64_t* off = grid.off.data() + pc;
        for (int64_t n = 0; n < nb; ++n) {
          const T* xp = xp0 + n * image;
          T* o = out + ((n0 + n) * g.out_channels + gi * Kg) * P;
          for (int64_t t = 0; t < tiles; ++t) {
            const T* b0 = xp + base[size_t(t * 2)];
            const T* b1 = xp + base[size_t(t * 2 + 1)];
            if (nv >= 3) offset_kernel<T, MR, kTileVectors>(kc, wb, b0, b1, off, tile);
            else if (nv == 2) offset_kernel<T, MR, 2>(kc, wb, b0, b1, off, tile);
            else offset_kernel<T, MR, 1>(kc, wb, b0, b1, off, tile);
            const int64_t* pos = position.data() + t * MR;
            for (int64_t j = 0; j < nk; ++j) {
              const int64_t k = kb * NW + j;
              T* orow = o + k * P;
              if (pc == 0) {
                const T add = bias ? bias[gi * Kg + k] : T(0);
                for (int i = 0; i < MR; ++i)
                  if (pos[i] >= 0) orow[pos[i]] = tile[i * NW + j] + add;
              } else {
                for (int i = 0; i < MR; ++i)
                  if (pos[i] >= 0) orow[pos[i]] += tile[i * NW + j];
              }
            }
          }
        }
      }
    }
  }
};

// `packed`: the weights in pack_weight_slivers' layout.
template <typename T>
void padded_rows_forward_packed(const ConvGeometry& g, const T* x, const T* packed,
                                const T* bias, T* out, int threads) {
  const PaddedPlan<T> plan(g, PaddedGrid(g), packed, bias, g.out_plane());
  const ImageChunks chunks(g, plan.image_bytes(), threads);
  parallel_tasks(chunks.count * g.groups, threads, true, [&](int64_t task) {
    const int64_t c = task / g.groups, gi = task % g.groups;
    plan.run(x, out, chunks.begin(c), chunks.end(c) - chunks.begin(c), gi);
  });
}

template <typename T>
void padded_rows_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                         int threads) {
  T* packed = packed_storage<T>(0, packed_size<T>(g));
  const int64_t R = g.patch();
  pack_weight_slivers<T>(g, w, g.group_out() * R, R, identity_rows(R), packed);
  padded_rows_forward_packed(g, x, packed, bias, out, threads);
}

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
  pack_weight_slivers<T>(t, w, Kg * Cg * KV, Cg * KV, roff, packed);
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
        pack_weight_slivers<T>(t, wp.data(), Cg * TR, TR, identity_rows(TR), packed);
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

// The input gradient of a stride-1 convolution as padded_rows_forward: a convolution of
// grad_out with W'[c][k] = W[k][c] flipped in space, padding dilation * (k - 1) - padding.
// False when that padding would be negative (then the caller takes the col2im path).
template <typename T>
bool padded_rows_backward_input(const ConvGeometry& g, const T* gout, const T* w, T* gin,
                                int threads) {
  ConvGeometry t = g;
  for (int i = 0; i < 3; ++i) {
    t.pad[i] = g.dilation[i] * (g.kernel[i] - 1) - g.pad[i];
    if (t.pad[i] < 0) return false;
    t.in[i] = g.out[i];
    t.out[i] = g.in[i];
  }
  t.in_channels = g.out_channels;
  t.out_channels = g.in_channels;
  if (!padded_rows_forward_applies<T>(t)) return false;
  // packed straight from w: output channel c of group gi, patch row (k, tap) of t is
  // W[gi Kg + k][c][KV - 1 - tap]
  const int64_t Cg = g.group_in(), Kg = g.group_out(), KV = g.kernel_volume();
  T* packed = packed_storage<T>(0, packed_size<T>(t));
  std::vector<int64_t> roff(size_t(Kg * KV));
  for (int64_t k = 0; k < Kg; ++k)
    for (int64_t tap = 0; tap < KV; ++tap) roff[size_t(k * KV + tap)] = k * Cg * KV + KV - 1 - tap;
  pack_weight_slivers<T>(t, w, Kg * Cg * KV, KV, roff, packed);
  padded_rows_forward_packed<T>(t, gout, packed, nullptr, gin, threads);
  return true;
}

// ---- whole-batch lowering (small output planes) ---------------------------------------------
// On ResNet-18's late layers (planes of 2 x 2 .. 8 x 8 at batch 16) one image gives the GEMM
// only P = 4..64 columns: per image the weights (up to 512 x 4608) are re-packed for a product
// that uses each packed element P times, and the padded-rows grid is 1.5-2x junk. Here the
// im2col panels of several images sit side by side (image i at columns [i P, (i + 1) P) of a
// panel with ld = nb P), so one GEMM gets nb P columns (the weight gradient a reduction of
// length nb P); outputs and output gradients pass through a (K/g x nb P) staging buffer (K x P
// per image, small next to the panel's patch x P).
thread_local PackBuffer tls_stage;

// Per tap t of the kernel and output position p of the plane: the input's offset within its
// plane, -1 in the padding (`off`, KV x P); for stride 1 also the inverse, per tap and input
// position the output position reading it or -1 (`inv`, KV x IP: one tap reads each input at
// most once). im2col and col2im through these tables cost one indexed load per element
// (vectorized as gathers: the load is unconditional at a clamped index, then selected); the
// row-run walk (im2col_tile) pays per run of one output row, which at 2 x 2 or 4 x 4 planes is
// 2-4 elements. Offsets are int32 (batch_lowering requires planes under 2^31).
struct TapTable {
  std::vector<int32_t> off, inv;
  explicit TapTable(const ConvGeometry& g) {
    const int64_t KV = g.kernel_volume(), P = g.out_plane(), IP = g.in_plane();
    const bool unit = g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1;
    off.resize(size_t(KV * P));
    if (unit) inv.assign(size_t(KV * IP), -1);
    int64_t t = 0;
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
      for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw, ++t) {
          int64_t p = 0;
          for (int64_t od = 0; od < g.out[0]; ++od)
            for (int64_t oh = 0; oh < g.out[1]; ++oh)
              for (int64_t ow = 0; ow < g.out[2]; ++ow, ++p) {
                const int64_t id = od * g.stride[0] + kd * g.dilation[0] - g.pad[0];
                const int64_t ih = oh * g.stride[1] + kh * g.dilation[1] - g.pad[1];
                const int64_t iw = ow * g.stride[2] + kw * g.dilation[2] - g.pad[2];
                const bool in = id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1] && iw >= 0 &&
                                iw < g.in[2];
                const int64_t i = (id * g.in[1] + ih) * g.in[2] + iw;
                off[size_t(t * P + p)] = in ? int32_t(i) : -1;
                if (in && unit) inv[size_t(t * IP + i)] = int32_t(p);
              }
        }
  }
};

// col[(c, t)][p] (row stride ld) = x[c].plane[off[t][p]] (0 where off < 0), x the group's first
// channel of one image.
template <typename T>
void im2col_table(const ConvGeometry& g, const TapTable& tab, const T* x, T* col, int64_t ld) {
  const int64_t KV = g.kernel_volume(), P = g.out_plane(), IP = g.in_plane();
  for (int64_t c = 0; c < g.group_in(); ++c) {
    const T* xc = x + c * IP;
    for (int64_t t = 0; t < KV; ++t) {
      const int32_t* o = tab.off.data() + t * P;
      T* d = col + (c * KV + t) * ld;
      for (int64_t p = 0; p < P; ++p) {
        const int32_t q = o[p];
        const T v = xc[q < 0 ? 0 : q];
        d[p] = q < 0 ? T(0) : v;
      }
    }
  }
}

// The adjoint, overwriting x: x[c].plane[i] = sum over taps t and positions p with
// off[t][p] == i of col[(c, t)][p]. Stride 1: a gather through `inv` (each input written once);
// otherwise zero, then scatter-add.
template <typename T>
void col2im_table(const ConvGeometry& g, const TapTable& tab, const T* col, int64_t ld, T* x) {
  const int64_t KV = g.kernel_volume(), P = g.out_plane(), IP = g.in_plane();
  for (int64_t c = 0; c < g.group_in(); ++c) {
    T* xc = x + c * IP;
    const T* cc = col + c * KV * ld;
    if (!tab.inv.empty()) {
      for (int64_t t = 0; t < KV; ++t) {
        const int32_t* o = tab.inv.data() + t * IP;
        const T* s = cc + t * ld;
        for (int64_t i = 0; i < IP; ++i) {
          const int32_t q = o[i];
          const T v = s[q < 0 ? 0 : q];
          const T add = q < 0 ? T(0) : v;
          xc[i] = t == 0 ? add : xc[i] + add;
        }
      }
      continue;
    }
    std::fill(xc, xc + IP, T(0));
    for (int64_t t = 0; t < KV; ++t) {
      const int32_t* o = tab.off.data() + t * P;
      const T* s = cc + t * ld;
      for (int64_t p = 0; p < P; ++p)
        if (o[p] >= 0) xc[o[p]] += s[p];
    }
  }
}

// Images per panel: as many as fit `budget` bytes, balanced over the chunks. Budgets measured
// on ResNet-18's 8 x 8 .. 2 x 2 layers at 1 thread (sweep of 256 KiB .. 16 MiB, bench/NOTES.md):
// the forward is fastest with panels near L2 (1 MiB), the input gradient at 2 MiB, the weight
// gradient (whose GEMM output stays put while k grows) at 4 MiB and above.
constexpr int64_t kForwardPanelBytes = 1 << 20, kInputPanelBytes = 2 << 20,
                  kWeightPanelBytes = 4 << 20;
int64_t batch_chunk(const ConvGeometry& g, int64_t elem_bytes, int64_t budget) {
  const int64_t per_image = std::max<int64_t>(1, g.patch() * g.out_plane() * elem_bytes);
  const int64_t per = std::clamp<int64_t>(budget / per_image, 1, g.batch);
  return ceil_div(g.batch, ceil_div(g.batch, per));
}

// Whole-batch lowering applies to output planes of at most kBatchMaxPlane positions (8 x 8:
// measured faster there for all three products, slower at 16 x 16 where one image already gives
// the GEMM 256 columns). FASTDL_CONV_BATCH=0 / 1 forces it off / on (benchmarks alternate paths).
constexpr int64_t kBatchMaxPlane = 64;
// For the forward and input gradient of a stride-1 convolution with 17..64 output positions
// (8 x 8) the padded-rows path is as fast at 1 thread and ~20% faster at 2 (ResNet-18's layer2:
// 2.1 vs 2.5 ms), so there the batch path takes only planes of <= 16 positions (forward). Since
// the padded rows walk whole output segments and pack their weights without a fresh buffer, the
// input gradient at 4 x 4 (layer3) is theirs too: 3.8-4.0 vs 4.8-5.5 ms on the batch path
// (1 thread, CPU time, interleaved medians); the forward there stays on the batch path (3.5 vs
// 3.8 ms in the same runs; earlier runs had them even).
constexpr int64_t kBatchMaxPlaneStride1 = 16, kBatchMaxPlaneStride1Input = 8;
enum class Product { forward, input, weight };
bool batch_lowering(const ConvGeometry& g, Product product) {
  if (g.in_plane() >= (int64_t(1) << 31)) return false;  // TapTable's int32 offsets
  const char* env = std::getenv("FASTDL_CONV_BATCH");
  if (env && *env) return *env != '0';
  const bool unit = g.stride[0] == 1 && g.stride[1] == 1 && g.stride[2] == 1;
  const int64_t limit = product == Product::weight || !unit ? kBatchMaxPlane
                        : product == Product::input         ? kBatchMaxPlaneStride1Input
                                                            : kBatchMaxPlaneStride1;
  return g.out_plane() <= limit;
}

// Runs body(worker, n0, nb, gi, tab, col, stage, gemm_threads) for the panels of images
// [n0, n0 + nb) and group gi. With several threads and at least as many images, each thread
// takes a contiguous range of images and runs its panels alone (one parallel region per call,
// no barrier between im2col, GEMM and scatter: on a shared core a barrier costs a time slice);
// otherwise one worker runs every panel with the GEMM on all threads.
template <typename T, typename Body>
void for_each_batch_panel(const ConvGeometry& g, int threads, int workers, int64_t budget,
                          Body&& body) {
  const int64_t per = batch_chunk(g, sizeof(T), budget);
  const int64_t R = g.patch(), Kg = g.group_out(), P = g.out_plane();
  const TapTable tab(g);
  const int gemm_threads = workers > 1 ? 1 : threads;
  parallel_tasks(workers, workers, false, [&](int64_t worker) {
    const int64_t n_begin = g.batch * worker / workers, n_end = g.batch * (worker + 1) / workers;
    T* col = tls_col.get<T>(R * per * P);
    T* stage = tls_stage.get<T>(Kg * per * P);
    for (int64_t n0 = n_begin; n0 < n_end; n0 += per)
      for (int64_t gi = 0; gi < g.groups; ++gi)
        body(worker, n0, std::min(per, n_end - n0), gi, tab, col, stage, gemm_threads);
  });
}

int batch_workers(const ConvGeometry& g, int threads) {
  return threads > 1 && g.batch >= threads ? threads : 1;
}

// im2col panel of images [n0, n0 + nb), group gi: image i at columns [i P, (i + 1) P).
template <typename T>
void im2col_panel(const ConvGeometry& g, const TapTable& tab, const T* x, int64_t n0, int64_t nb,
                  int64_t gi, T* col) {
  const int64_t P = g.out_plane(), IP = g.in_plane();
  for (int64_t i = 0; i < nb; ++i)
    im2col_table(g, tab, x + ((n0 + i) * g.in_channels + gi * g.group_in()) * IP, col + i * P,
                 nb * P);
}

// grad_out of images [n0, n0 + nb), group gi -> stage (K/g x nb P).
template <typename T>
void stage_grad_out(const ConvGeometry& g, const T* gout, int64_t n0, int64_t nb, int64_t gi,
                    T* stage) {
  const int64_t Kg = g.group_out(), K = g.out_channels, P = g.out_plane(), cols = nb * P;
  for (int64_t i = 0; i < nb; ++i)
    for (int64_t k = 0; k < Kg; ++k) {
      const T* s = gout + ((n0 + i) * K + gi * Kg + k) * P;
      std::copy(s, s + P, stage + k * cols + i * P);
    }
}

template <typename T>
void batched_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                     int threads) {
  const int64_t Kg = g.group_out(), R = g.patch(), K = g.out_channels, P = g.out_plane();
  for_each_batch_panel<T>(g, threads, batch_workers(g, threads), kForwardPanelBytes,
                          [&](int64_t, int64_t n0, int64_t nb, int64_t gi, const TapTable& tab,
                              T* col, T* stage, int gemm_threads) {
    const int64_t cols = nb * P;
    im2col_panel(g, tab, x, n0, nb, gi, col);
    gemm<T>(Kg, cols, R, T(1), {w + gi * Kg * R, R, 1}, {col, cols, 1}, T(0), {stage, cols, 1},
            gemm_threads);
    for (int64_t i = 0; i < nb; ++i)
      for (int64_t k = 0; k < Kg; ++k) {
        const T* s = stage + k * cols + i * P;
        T* o = out + ((n0 + i) * K + gi * Kg + k) * P;
        const T b0 = bias ? bias[gi * Kg + k] : T(0);
        for (int64_t p = 0; p < P; ++p) o[p] = s[p] + b0;
      }
  });
}

template <typename T>
void batched_backward_input(const ConvGeometry& g, const T* gout, const T* w, T* gin,
                            int threads) {
  const int64_t Cg = g.group_in(), Kg = g.group_out(), R = g.patch();
  const int64_t C = g.in_channels, IP = g.in_plane(), P = g.out_plane();
  for_each_batch_panel<T>(g, threads, batch_workers(g, threads), kInputPanelBytes,
                          [&](int64_t, int64_t n0, int64_t nb, int64_t gi, const TapTable& tab,
                              T* col, T* stage, int gemm_threads) {
    const int64_t cols = nb * P;
    stage_grad_out(g, gout, n0, nb, gi, stage);
    gemm<T>(R, cols, Kg, T(1), {w + gi * Kg * R, 1, R}, {stage, cols, 1}, T(0), {col, cols, 1},
            gemm_threads);
    for (int64_t i = 0; i < nb; ++i) {
      col2im_table(g, tab, col + i * P, cols, gin + ((n0 + i) * C + gi * Cg) * IP);
    }
  });
}

// Worker 0 writes grad_weight, the others their own accumulators, added in worker order after
// the region (deterministic for a given thread count).
template <typename T>
void batched_backward_weight(const ConvGeometry& g, const T* x, const T* gout, T* gw,
                             int threads) {
  const int64_t Kg = g.group_out(), R = g.patch(), P = g.out_plane(), size = g.out_channels * R;
  const int workers = batch_workers(g, threads);
  std::unique_ptr<T[]> acc(workers > 1 ? new T[size_t((workers - 1) * size)] : nullptr);
  std::vector<int64_t> first(size_t(workers), -1);  // each worker's first image
  for (int w = 0; w < workers; ++w) first[size_t(w)] = g.batch * w / workers;
  for_each_batch_panel<T>(g, threads, workers, kWeightPanelBytes,
                          [&](int64_t worker, int64_t n0, int64_t nb, int64_t gi,
                              const TapTable& tab, T* col, T* stage, int gemm_threads) {
    const int64_t cols = nb * P;
    im2col_panel(g, tab, x, n0, nb, gi, col);
    stage_grad_out(g, gout, n0, nb, gi, stage);
    T* dst = worker == 0 ? gw : acc.get() + (worker - 1) * size;
    // gW_g^T (patch x K/g) (+)= col @ stage^T, written through the transposed view of gW_g
    gemm<T>(R, Kg, cols, T(1), {col, cols, 1}, {stage, 1, cols},
            n0 == first[size_t(worker)] ? T(0) : T(1), {dst + gi * Kg * R, 1, R}, gemm_threads);
  });
  for (int w = 1; w < workers; ++w) {
    const T* a = acc.get() + (w - 1) * size;
    for (int64_t i = 0; i < size; ++i) gw[i] += a[i];
  }
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
