#pragma once
// Batch normalization for small planes (s = H * W below kSmallPlaneForward / Backward: a
// ResNet's 8 x 8 and smaller layers), per ISA (included by norm_kernels.cpp only). The per-channel kernels walk n
// rows of s values per channel: at s = 4 or 16 each row is shorter than a vector, and a
// (16, 512, 2, 2) forward took 0.10 ms and its backward 0.15 ms for 128 KiB. Here a block of
// channels is one contiguous stretch of every image (cb * s values), so each pass runs
// full-width vector loops over it: column sums over the n images in double, then per channel.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/norm/parallel_chunks.h"

namespace fastdl::cpu::FASTDL_ISA {

// Planes below which each pass goes this way (1 / 2 threads, N = 16, before -> after, ms):
// forward (.., 128, 8, 8) 0.069 / 0.055 -> 0.066 / 0.039, (.., 512, 2, 2) 0.100 -> 0.021; but
// (.., 64, 16, 16) 0.066 / 0.057 -> 0.145 / 0.083 (three passes over the block where the
// per-channel path keeps a channel in L1). Backward (.., 64, 16, 16) 0.21 / 0.13 -> 0.15 / 0.09,
// (.., 128, 8, 8) 0.11 / 0.078 -> 0.070 / 0.044, (.., 512, 2, 2) 0.145 -> 0.023.
constexpr int64_t kSmallPlaneForward = 128;
constexpr int64_t kSmallPlaneBackward = 512;

// Channels per block: ~512 values of each image, whole channels.
inline int64_t plane_block(int64_t s) { return std::max<int64_t>(1, 512 / s); }

// acc[j] = sum over the n images of x[i * stride + j], j < len (double: the sums of a channel
// are then formed from these at the precision of the per-channel path)
template <typename T>
void column_sums(int64_t n, int64_t stride, int64_t len, const T* x, double* acc) {
  std::fill(acc, acc + len, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const T* __restrict xr = x + i * stride;
#pragma omp simd
    for (int64_t j = 0; j < len; ++j) acc[j] += double(xr[j]);
  }
}

template <typename T>
void batch_norm_forward_small(int64_t n, int64_t c, int64_t s, const T* x, const T* weight,
                              const T* bias, T eps, T* out, T* mean, T* var, T* invstd,
                              int threads) {
  const int64_t stride = c * s, cb = plane_block(s), blocks = (c + cb - 1) / cb;
  const double count = double(n) * double(s);
  parallel_for(blocks, threads_for(n * c * s, threads), [&](int64_t blk) {
    const int64_t c0 = blk * cb, nc = std::min(cb, c - c0), len = nc * s, off = c0 * s;
    std::vector<double> acc(static_cast<size_t>(len), 0.0);
    std::vector<T> m(static_cast<size_t>(len)), scale(m), w_e(m), b_e(m);
    column_sums(n, stride, len, x + off, acc.data());
    for (int64_t ch = 0; ch < nc; ++ch) {
      double t = 0;
      for (int64_t k = 0; k < s; ++k) t += acc[size_t(ch * s + k)];
      std::fill(m.begin() + ch * s, m.begin() + (ch + 1) * s, T(t / count));
    }
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const T* __restrict xr = x + off + i * stride;
      const T* __restrict mr = m.data();
      double* __restrict a = acc.data();
#pragma omp simd
      for (int64_t j = 0; j < len; ++j) {
        const T d = xr[j] - mr[j];
        a[j] += double(d * d);
      }
    }
    for (int64_t ch = 0; ch < nc; ++ch) {
      double sq = 0;
      for (int64_t k = 0; k < s; ++k) sq += acc[size_t(ch * s + k)];
      const T v = T(sq / count), is = T(1) / std::sqrt(v + eps);
      mean[c0 + ch] = m[size_t(ch * s)], var[c0 + ch] = v, invstd[c0 + ch] = is;
      std::fill(scale.begin() + ch * s, scale.begin() + (ch + 1) * s, is);
      const T w = weight ? weight[c0 + ch] : T(1), b = bias ? bias[c0 + ch] : T(0);
      std::fill(w_e.begin() + ch * s, w_e.begin() + (ch + 1) * s, w);
      std::fill(b_e.begin() + ch * s, b_e.begin() + (ch + 1) * s, b);
    }
    for (int64_t i = 0; i < n; ++i) {
      const T* __restrict xr = x + off + i * stride;
      T* __restrict o = out + off + i * stride;
      const T *__restrict mr = m.data(), *__restrict sc = scale.data(), *__restrict w = w_e.data(),
              *__restrict b = b_e.data();
      // (x - m) * is * w + b, the per-channel path's order of operations
#pragma omp simd
      for (int64_t j = 0; j < len; ++j) o[j] = (xr[j] - mr[j]) * sc[j] * w[j] + b[j];
    }
  });
}

template <typename T>
void batch_norm_backward_small(int64_t n, int64_t c, int64_t s, const T* g, const T* x,
                               const T* mean, const T* invstd, const T* weight, T* grad_x,
                               T* sum_g, T* sum_gxhat, int threads) {
  const int64_t stride = c * s, cb = plane_block(s), blocks = (c + cb - 1) / cb;
  const T count = T(double(n) * double(s));
  parallel_for(blocks, threads_for(n * c * s, threads), [&](int64_t blk) {
    const int64_t c0 = blk * cb, nc = std::min(cb, c - c0), len = nc * s, off = c0 * s;
    std::vector<double> ag(static_cast<size_t>(len), 0.0), agx(ag);
    std::vector<T> m(static_cast<size_t>(len)), a(m), mg(m), k(m);
    for (int64_t ch = 0; ch < nc; ++ch)
      std::fill(m.begin() + ch * s, m.begin() + (ch + 1) * s, mean[c0 + ch]);
    for (int64_t i = 0; i < n; ++i) {
      const T* __restrict gr = g + off + i * stride;
      const T* __restrict xr = x + off + i * stride;
      const T* __restrict mr = m.data();
      double *__restrict sa = ag.data(), *__restrict sb = agx.data();
#pragma omp simd
      for (int64_t j = 0; j < len; ++j) {
        sa[j] += double(gr[j]);
        sb[j] += double(gr[j] * (xr[j] - mr[j]));
      }
    }
    for (int64_t ch = 0; ch < nc; ++ch) {
      double sg = 0, sgx = 0;
      for (int64_t q = 0; q < s; ++q) sg += ag[size_t(ch * s + q)], sgx += agx[size_t(ch * s + q)];
      const T is = invstd[c0 + ch], tg = T(sg), tgx = T(sgx * double(is));
      sum_g[c0 + ch] = tg, sum_gxhat[c0 + ch] = tgx;
      std::fill(a.begin() + ch * s, a.begin() + (ch + 1) * s,
                is * (weight ? weight[c0 + ch] : T(1)));
      std::fill(mg.begin() + ch * s, mg.begin() + (ch + 1) * s, tg / count);
      std::fill(k.begin() + ch * s, k.begin() + (ch + 1) * s, is * tgx / count);
    }
    if (!grad_x) return;
    for (int64_t i = 0; i < n; ++i) {
      const T* __restrict gr = g + off + i * stride;
      const T* __restrict xr = x + off + i * stride;
      T* __restrict o = grad_x + off + i * stride;
      const T *__restrict mr = m.data(), *__restrict ar = a.data(), *__restrict mgr = mg.data(),
              *__restrict kr = k.data();
#pragma omp simd
      for (int64_t j = 0; j < len; ++j) o[j] = ar[j] * (gr[j] - mgr[j] - (xr[j] - mr[j]) * kr[j]);
    }
  });
}

}  // namespace fastdl::cpu::FASTDL_ISA
