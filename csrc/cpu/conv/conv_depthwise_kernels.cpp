// Depthwise convolution (one input channel per group, at most kDepthwiseMaxMultiplier outputs
// each), compiled once per ISA: direct loops, no GEMM (see conv_kernels.cpp for the choice).
#include <algorithm>
#include <vector>

#include "cpu/conv/conv_kernels_common.h"

namespace fastdl::cpu::FASTDL_ISA::conv_detail {

// ---- depthwise ------------------------------------------------------------------------------
// Each (image, channel) plane is copied once into a zero-padded buffer (per thread, one plane:
// (D + 2 pd)(H + 2 ph)(W + 2 pw) elements), so the inner loops need no bounds checks. An output
// row is computed in up to 4 vectors held in registers across all taps (each tap: a broadcast
// weight times an unaligned load of the shifted input row), then stored once. The input gradient
// is the same kernel run over the output gradient spread out by the stride and padded by
// dilation * (kernel - 1) - padding, with the kernel flipped; the weight gradient keeps one vector
// sum per tap over all rows and images.

namespace {

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

}  // namespace

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

#define FASTDL_INSTANTIATE_DEPTHWISE(T)                                                            \
  template void depthwise_forward<T>(const ConvGeometry&, const T*, const T*, const T*, T*, int);  \
  template void depthwise_backward_input<T>(const ConvGeometry&, const T*, const T*, T*, int);     \
  template void depthwise_backward_weight<T>(const ConvGeometry&, const T*, const T*, T*, int);
FASTDL_INSTANTIATE_DEPTHWISE(float)
FASTDL_INSTANTIATE_DEPTHWISE(double)
#undef FASTDL_INSTANTIATE_DEPTHWISE

}  // namespace fastdl::cpu::FASTDL_ISA::conv_detail
