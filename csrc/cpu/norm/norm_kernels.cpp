// Norm-family kernels, compiled once per ISA (cmake/isa.cmake) and instantiated for float and
// double. The loops are written over fixed-width lane arrays (kLanes accumulators), which GCC
// and Clang turn into this ISA's vectors without reassociating floating-point sums (no
// -ffast-math): each lane sums its own elements in order, the lanes are added at the end.
//
// Sums over a channel accumulate each row of S values in T lanes, then the row total in double:
// float rounding stays at the level of one row, not of the N*S values of a channel.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/float_lanes.h"
#include "cpu/norm/norm_kernels.h"
#include "cpu/norm/batch_norm_small_planes.h"
#include "cpu/norm/parallel_chunks.h"

namespace fastdl::cpu::FASTDL_ISA {

namespace {

// Lanes per vector register of T: one register of accumulators. (Two registers' worth, 32
// floats, made GCC 12 keep half of them in a stack slot and read it back in every FMA of the
// squared-deviation loop -- the spill tests/test_gemm_codegen.py looks for.)
template <typename T>
constexpr int lanes() {
  return kFloatLanes * 4 / int(sizeof(T));
}

template <typename T>
double row_sum(const T* x, int64_t s) {
  constexpr int L = lanes<T>();
  T acc[L] = {};
  int64_t i = 0;
  for (; i + L <= s; i += L)
    for (int j = 0; j < L; ++j) acc[j] += x[i + j];
  double total = 0;
  for (int j = 0; j < L; ++j) total += acc[j];
  for (; i < s; ++i) total += x[i];
  return total;
}

// sum((x - m)^2) over a row
template <typename T>
double row_sq_dev(const T* x, int64_t s, T m) {
  constexpr int L = lanes<T>();
  T acc[L] = {};
  int64_t i = 0;
  for (; i + L <= s; i += L)
    for (int j = 0; j < L; ++j) {
      const T d = x[i + j] - m;
      acc[j] += d * d;
    }
  double total = 0;
  for (int j = 0; j < L; ++j) total += acc[j];
  for (; i < s; ++i) total += double(x[i] - m) * double(x[i] - m);
  return total;
}

// sum(g) and sum(g * (x - m)) over a row
template <typename T>
void row_grad_sums(const T* g, const T* x, int64_t s, T m, double* sg, double* sgx) {
  constexpr int L = lanes<T>();
  T a[L] = {}, b[L] = {};
  int64_t i = 0;
  for (; i + L <= s; i += L)
    for (int j = 0; j < L; ++j) {
      a[j] += g[i + j];
      b[j] += g[i + j] * (x[i + j] - m);
    }
  double ta = 0, tb = 0;
  for (int j = 0; j < L; ++j) ta += a[j], tb += b[j];
  for (; i < s; ++i) ta += g[i], tb += double(g[i]) * double(x[i] - m);
  *sg += ta;
  *sgx += tb;
}

}  // namespace

template <typename T>
void batch_norm_forward_train(int64_t n, int64_t c, int64_t s, const T* x, const T* weight,
                              const T* bias, T eps, T* out, T* mean, T* var, T* invstd,
                              int threads) {
  if (s < kSmallPlaneForward)
    return batch_norm_forward_small(n, c, s, x, weight, bias, eps, out, mean, var, invstd,
                                    threads);
  const int64_t stride = c * s;
  const double count = double(n) * double(s);
  parallel_for(c, threads_for(n * c * s, threads), [&](int64_t ch) {
    const T* xc = x + ch * s;
    double total = 0;
    for (int64_t i = 0; i < n; ++i) total += row_sum(xc + i * stride, s);
    const T m = T(total / count);
    double sq = 0;
    for (int64_t i = 0; i < n; ++i) sq += row_sq_dev(xc + i * stride, s, m);
    const T v = T(sq / count);
    const T is = T(1) / std::sqrt(v + eps);
    mean[ch] = m, var[ch] = v, invstd[ch] = is;
    // out = (x - m) * is * w + b, in the same order of operations as the array version
    const T w = weight ? weight[ch] : T(1), b = bias ? bias[ch] : T(0);
    for (int64_t i = 0; i < n; ++i) {
      const T* xr = xc + i * stride;
      T* o = out + ch * s + i * stride;
      for (int64_t k = 0; k < s; ++k) o[k] = (xr[k] - m) * is * w + b;
    }
  });
}

template <typename T>
void batch_norm_backward_train(int64_t n, int64_t c, int64_t s, const T* g, const T* x,
                               const T* mean, const T* invstd, const T* weight, T* grad_x,
                               T* sum_g, T* sum_gxhat, int threads) {
  if (s < kSmallPlaneBackward)
    return batch_norm_backward_small(n, c, s, g, x, mean, invstd, weight, grad_x, sum_g,
                                     sum_gxhat, threads);
  const int64_t stride = c * s;
  const T count = T(double(n) * double(s));
  parallel_for(c, threads_for(n * c * s, threads), [&](int64_t ch) {
    const int64_t off = ch * s;
    const T m = mean[ch], is = invstd[ch];
    double sg = 0, sgx = 0;
    for (int64_t i = 0; i < n; ++i) row_grad_sums(g + off + i * stride, x + off + i * stride, s,
                                                  m, &sg, &sgx);
    const T tg = T(sg), tgx = T(sgx * double(is));
    sum_g[ch] = tg, sum_gxhat[ch] = tgx;
    if (!grad_x) return;
    // grad_x = is * w * (g - tg / count - (x - m) * is * tgx / count)
    const T a = is * (weight ? weight[ch] : T(1));
    const T mg = tg / count, k = is * tgx / count;
    for (int64_t i = 0; i < n; ++i) {
      const T* gr = g + off + i * stride;
      const T* xr = x + off + i * stride;
      T* o = grad_x + off + i * stride;
      for (int64_t j = 0; j < s; ++j) o[j] = a * (gr[j] - mg - (xr[j] - m) * k);
    }
  });
}

// Layer norm over the last n values of each row: each row's statistics and output while it is
// in L1, threads over row ranges (the array version streamed the (rows, n) input ~8 times:
// 4.6 ms against 0.3 for a (2048, 384) GPT activation at 2 threads).
template <typename T>
void layer_norm_forward(int64_t rows, int64_t n, const T* x, const T* weight, const T* bias,
                        T eps, T* out, T* mean, T* invstd, int threads) {
  parallel_rows(rows, n, threads, [=](int, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* __restrict xr = x + r * n;
      T* __restrict o = out + r * n;
      const T m = T(row_sum(xr, n) / double(n));
      const T is = T(1) / std::sqrt(T(row_sq_dev(xr, n, m) / double(n)) + eps);
      mean[r] = m, invstd[r] = is;
      // (x - m) * is * w + b, the array version's order of operations
      if (weight && bias) {
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) o[j] = (xr[j] - m) * is * weight[j] + bias[j];
      } else {
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) o[j] = (xr[j] - m) * is;
        if (weight)
          for (int64_t j = 0; j < n; ++j) o[j] *= weight[j];
        if (bias)
          for (int64_t j = 0; j < n; ++j) o[j] += bias[j];
      }
    }
  });
}

template <typename T>
void layer_norm_backward(int64_t rows, int64_t n, const T* g, const T* x, const T* mean,
                         const T* invstd, const T* weight, T* grad_x, T* grad_w, T* grad_b,
                         int threads) {
  const int nt = threads_for(rows * n, threads);
  const bool columns = grad_w || grad_b;
  // per-thread column sums in double, added in thread order: deterministic
  std::vector<double> parts(columns ? size_t(nt) * size_t(2 * n) : 0, 0.0);
  parallel_rows(rows, n, nt, [&](int t, int64_t r0, int64_t r1) {
    double* __restrict pw = columns ? parts.data() + size_t(t) * size_t(2 * n) : nullptr;
    double* __restrict pb = columns ? pw + n : nullptr;
    std::vector<T> dy_buf(weight ? size_t(n) : 0);
    T* __restrict dy = weight ? dy_buf.data() : nullptr;
    for (int64_t r = r0; r < r1; ++r) {
      const T* __restrict gr = g + r * n;
      const T* __restrict xr = x + r * n;
      const T m = mean[r], is = invstd[r];
      if (columns) {
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) {
          pw[j] += double(gr[j] * ((xr[j] - m) * is));
          pb[j] += double(gr[j]);
        }
      }
      if (!grad_x) continue;
      const T* d = gr;
      if (weight) {
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) dy[j] = gr[j] * weight[j];
        d = dy;
      }
      double sd = 0, sdx = 0;
      row_grad_sums(d, xr, n, m, &sd, &sdx);
      // grad_x = is * (dy - mean(dy) - xhat * mean(dy * xhat))
      const T md = T(sd / double(n)), k = T(sdx * double(is) / double(n)) * is;
      T* __restrict o = grad_x + r * n;
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) o[j] = is * (d[j] - md - (xr[j] - m) * k);
    }
  });
  for (int64_t j = 0; columns && j < n; ++j) {
    double sw = 0, sb = 0;
    for (int t = 0; t < nt; ++t) sw += parts[size_t(t) * size_t(2 * n) + size_t(j)],
                                 sb += parts[size_t(t) * size_t(2 * n) + size_t(n + j)];
    if (grad_w) grad_w[j] = T(sw);
    if (grad_b) grad_b[j] = T(sb);
  }
}

// The element-wise lambdas take their pointers by value as __restrict locals and vectorize with
// `omp simd`: captured by reference inside an OpenMP region, GCC compiled the compare-and-select
// loop as scalar code with a branch, and 2 threads took 2.4 ms on a 1M-element ReLU gradient
// that 1 thread (the vectorized serial call) did in 0.15 ms.
template <typename T>
void relu_forward(int64_t count, const T* x, T* out, int threads) {
  parallel_chunks(count, threads, [=](int64_t b, int64_t e) {
    const T* __restrict src = x;
    T* __restrict dst = out;
#pragma omp simd
    for (int64_t i = b; i < e; ++i) dst[i] = src[i] < T(0) ? T(0) : src[i];  // NaN stays NaN
  });
}

template <typename T>
void relu_backward(int64_t count, const T* g, const T* out, T* grad_in, int threads) {
  parallel_chunks(count, threads, [=](int64_t b, int64_t e) {
    const T* __restrict gs = g;
    const T* __restrict os = out;
    T* __restrict dst = grad_in;
#pragma omp simd
    for (int64_t i = b; i < e; ++i) dst[i] = os[i] <= T(0) ? T(0) : gs[i];
  });
}

template <typename T>
void sgd_update(int64_t count, T* param, const T* grad, T* buf, double lr, double momentum,
                double dampening, double weight_decay, bool nesterov, bool maximize, bool first,
                int threads) {
  const T tlr = T(lr), mom = T(momentum), damp = T(1.0 - dampening), wd = T(weight_decay);
  const T sign = maximize ? T(-1) : T(1);
  parallel_chunks(count, threads, [=](int64_t b, int64_t e) {
    T* __restrict p = param;
    const T* __restrict gr = grad;
    T* __restrict m = buf;
    if (!m) {
#pragma omp simd
      for (int64_t i = b; i < e; ++i) p[i] -= tlr * (sign * gr[i] + wd * p[i]);
      return;
    }
    if (!first && !nesterov) {  // the common case as its own loop (vectorized as such)
      // in blocks of 2048: first the buffer (reads p, g, buf), then p from the buffer in L1
      for (int64_t b0 = b; b0 < e; b0 += 2048) {
        const int64_t e0 = std::min<int64_t>(e, b0 + 2048);
#pragma omp simd
        for (int64_t i = b0; i < e0; ++i) m[i] = mom * m[i] + damp * (sign * gr[i] + wd * p[i]);
#pragma omp simd
        for (int64_t i = b0; i < e0; ++i) p[i] -= tlr * m[i];
      }
      return;
    }
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      const T d = sign * gr[i] + wd * p[i];
      const T v = first ? d : mom * m[i] + damp * d;
      m[i] = v;
      p[i] -= tlr * (nesterov ? d + mom * v : v);
    }
  });
}

// torch.optim.Adam/AdamW's update of one parameter in one pass, in the array version's order of
// operations (optim/adam.py), constants rounded to T as numpy rounds a Python float.
template <typename T>
struct AdamConstants {
  T shrink, wd, sign, lerp_w, b2, one_b2, bc2, eps, step;
  bool decay_param, decay_grad, lerp_low;
};

// Elements [b, e): a function of its own, so the OpenMP region calls the same vectorized loop as
// the serial path (inlined into the region's outlined body, GCC left it scalar: 6.7 ms at 2
// threads against 1.9 at 1 on 4M floats).
template <typename T>
[[gnu::noinline]] void adam_range(int64_t b, int64_t e, const AdamConstants<T> c,
                                  T* __restrict p, const T* __restrict gr, T* __restrict m,
                                  T* __restrict v, T* __restrict vmax) {
#pragma omp simd
  for (int64_t i = b; i < e; ++i) {
    T pi = p[i];
    if (c.decay_param) pi *= c.shrink;
    const T g = c.decay_grad ? pi * c.wd + c.sign * gr[i] : c.sign * gr[i];
    const T diff = g - m[i];
    const T mi = c.lerp_low ? m[i] + diff * c.lerp_w : g + diff * c.lerp_w;
    const T vi = v[i] * c.b2 + g * c.one_b2 * g;
    m[i] = mi, v[i] = vi;
    T second = vi;
    if (vmax) {
      second = vmax[i] < vi ? vi : vmax[i];
      vmax[i] = second;
    }
    p[i] = pi - mi / (std::sqrt(second) / c.bc2 + c.eps) * c.step;
  }
}

template <typename T>
void adam_update(int64_t count, T* param, const T* grad, T* exp_avg, T* exp_avg_sq,
                 T* max_exp_avg_sq, double lr, double beta1, double beta2, double eps,
                 double weight_decay, bool decoupled, bool maximize, double step_size,
                 double bias_correction2_sqrt, int threads) {
  const double w1 = 1.0 - beta1;  // torch.lerp's two-sided formula
  const AdamConstants<T> c{T(1.0 - lr * weight_decay), T(weight_decay), T(maximize ? -1 : 1),
                           T(w1 < 0.5 ? w1 : w1 - 1.0), T(beta2), T(1.0 - beta2),
                           T(bias_correction2_sqrt), T(eps), T(step_size),
                           decoupled && weight_decay != 0, !decoupled && weight_decay != 0,
                           w1 < 0.5};
  parallel_chunks(count, threads, [=](int64_t b, int64_t e) {
    adam_range<T>(b, e, c, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq);
  });
}

#define FASTDL_INSTANTIATE_NORM_KERNELS(T)                                                       \
  template void batch_norm_forward_train<T>(int64_t, int64_t, int64_t, const T*, const T*,       \
                                            const T*, T, T*, T*, T*, T*, int);                   \
  template void batch_norm_backward_train<T>(int64_t, int64_t, int64_t, const T*, const T*,      \
                                             const T*, const T*, const T*, T*, T*, T*, int);     \
  template void layer_norm_forward<T>(int64_t, int64_t, const T*, const T*, const T*, T, T*, T*, \
                                      T*, int);                                                  \
  template void layer_norm_backward<T>(int64_t, int64_t, const T*, const T*, const T*, const T*, \
                                       const T*, T*, T*, T*, int);                               \
  template void relu_forward<T>(int64_t, const T*, T*, int);                                     \
  template void relu_backward<T>(int64_t, const T*, const T*, T*, int);                          \
  template void sgd_update<T>(int64_t, T*, const T*, T*, double, double, double, double, bool,   \
                              bool, bool, int);                                                  \
  template void adam_update<T>(int64_t, T*, const T*, T*, T*, T*, double, double, double, double, \
                               double, bool, bool, double, double, int);
FASTDL_INSTANTIATE_NORM_KERNELS(float)
FASTDL_INSTANTIATE_NORM_KERNELS(double)
#undef FASTDL_INSTANTIATE_NORM_KERNELS

}  // namespace fastdl::cpu::FASTDL_ISA
