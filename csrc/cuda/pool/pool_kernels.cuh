#pragma once
// Pooling and interpolation kernels (device code; the launchers are in pool.cu). One thread per
// output element for the forwards, one per input element for the gather backwards, grid-stride
// loops; three spatial dimensions always (see pool.h). Arithmetic follows PyTorch's CPU kernels
// (window clipping, divisors, NaN propagation, source-index rounding) so results and indices agree.
#include <cmath>
#include <cstdint>

#include "cuda/common/compat.cuh"
#include "cuda/common/kernel_utils.cuh"
#include "cuda/pool/pool.h"

namespace fastdl::cuda::pool_detail {

using kutil::imax;
using kutil::imin;

struct Planes {
  int64_t planes;
  int64_t in[3], out[3];
  int64_t in_size, out_size;
};

struct Window {
  int64_t kernel[3], stride[3], pad[3], dil[3];
};

__device__ __forceinline__ void unravel3(int64_t i, const int64_t (&shape)[3], int64_t (&idx)[3]) {
  idx[2] = i % shape[2];
  i /= shape[2];
  idx[1] = i % shape[1];
  idx[0] = i / shape[1];
}

// Maximum of plane xp over the box [start, end) with steps `step` (torch's rule: a NaN wins, ties
// keep the first); `best` = its flat offset, the box's first offset if nothing beats -inf.
template <typename T>
__device__ __forceinline__ T box_max(const T* __restrict__ xp, const int64_t (&in)[3],
                                     const int64_t (&start)[3], const int64_t (&end)[3],
                                     const int64_t (&step)[3], int64_t& best) {
  best = (start[0] * in[1] + start[1]) * in[2] + start[2];
  T best_value = T(-INFINITY);
  for (int64_t i0 = start[0]; i0 < end[0]; i0 += step[0])
    for (int64_t i1 = start[1]; i1 < end[1]; i1 += step[1])
      for (int64_t i2 = start[2]; i2 < end[2]; i2 += step[2]) {
        const int64_t off = (i0 * in[1] + i1) * in[2] + i2;
        const T v = xp[off];
        if (v > best_value || v != v) best_value = v, best = off;
      }
  return best_value;
}

// Sum of plane xp over the box [start, end).
template <typename T>
__device__ __forceinline__ T box_sum(const T* __restrict__ xp, const int64_t (&in)[3],
                                     const int64_t (&start)[3], const int64_t (&end)[3]) {
  T sum = T(0);
  for (int64_t i0 = start[0]; i0 < end[0]; ++i0)
    for (int64_t i1 = start[1]; i1 < end[1]; ++i1)
      for (int64_t i2 = start[2]; i2 < end[2]; ++i2) sum += xp[(i0 * in[1] + i1) * in[2] + i2];
  return sum;
}

// ----------------------------------------------------------------------------------------------
// Max pooling

// torch's max_pool: the window starts at o * stride - pad, steps by dilation, is clipped to the
// input; the first index is that of the clipped start; a NaN always wins.
template <typename T>
__global__ void max_pool_forward_kernel(Planes p, Window w, const T* __restrict__ x,
                                        T* __restrict__ out, int64_t* __restrict__ indices) {
  const int64_t total = p.planes * p.out_size;
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) {
    const int64_t plane = e / p.out_size;
    int64_t o[3], start[3], end[3];
    unravel3(e - plane * p.out_size, p.out, o);
#pragma unroll
    for (int a = 0; a < 3; ++a) {
      start[a] = o[a] * w.stride[a] - w.pad[a];
      end[a] = imin(start[a] + (w.kernel[a] - 1) * w.dil[a] + 1, p.in[a]);
      while (start[a] < 0) start[a] += w.dil[a];
    }
    int64_t best;
    out[e] = box_max(x + plane * p.in_size, p.in, start, end, w.dil, best);
    if (indices) indices[e] = best;
  }
}

// torch's adaptive max pool: windows [floor(o * in / out), ceil((o + 1) * in / out)).
template <typename T>
__global__ void adaptive_max_pool_forward_kernel(Planes p, const T* __restrict__ x,
                                                 T* __restrict__ out, int64_t* __restrict__ indices) {
  const int64_t total = p.planes * p.out_size;
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) {
    const int64_t plane = e / p.out_size;
    int64_t o[3], start[3], end[3];
    unravel3(e - plane * p.out_size, p.out, o);
#pragma unroll
    for (int a = 0; a < 3; ++a) {
      start[a] = o[a] * p.in[a] / p.out[a];
      end[a] = ((o[a] + 1) * p.in[a] + p.out[a] - 1) / p.out[a];
    }
    const int64_t step[3] = {1, 1, 1};
    out[e] = box_max(x + plane * p.in_size, p.in, start, end, step, indices[e]);
  }
}

template <typename T>
__global__ void fill_zero_kernel(T* __restrict__ data, int64_t total) {
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) data[e] = T(0);
}

// grad_input.plane[indices] += grad_out (grad_input zeroed before): see pool.h on determinism.
template <typename T>
__global__ void scatter_add_kernel(Planes p, const T* __restrict__ grad_out,
                                   const int64_t* __restrict__ indices, T* __restrict__ grad_input) {
  const int64_t total = p.planes * p.out_size;
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) {
    const int64_t plane = e / p.out_size, idx = indices[e];
    if (idx >= 0 && idx < p.in_size) atomicAdd(grad_input + plane * p.in_size + idx, grad_out[e]);
  }
}

// out.plane[indices] = x (out zeroed before). Here p.in is x's size, p.out the output's.
template <typename T>
__global__ void scatter_store_kernel(Planes p, const T* __restrict__ x,
                                     const int64_t* __restrict__ indices, T* __restrict__ out) {
  const int64_t total = p.planes * p.in_size;
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) {
    const int64_t plane = e / p.in_size, idx = indices[e];
    if (idx >= 0 && idx < p.out_size) out[plane * p.out_size + idx] = x[e];
  }
}

// out = src.plane[indices]; src planes have p.in_size elements, out and indices p.out_size.
template <typename T>
__global__ void gather_kernel(Planes p, const T* __restrict__ src,
                              const int64_t* __restrict__ indices, T* __restrict__ out) {
  const int64_t total = p.planes * p.out_size;
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) {
    const int64_t plane = e / p.out_size, idx = indices[e];
    out[e] = idx >= 0 && idx < p.in_size ? src[plane * p.in_size + idx] : T(0);
  }
}

// ----------------------------------------------------------------------------------------------
// Average pooling

struct AvgOptions {
  bool count_include_pad;
  int64_t divisor_override;  // > 0: replaces the divisor
};

// Window of output pixel o clipped to the input ([start, end) per dimension) and its divisor, as
// torch computes them; false if the window holds no input element.
__device__ __forceinline__ bool avg_window(const Planes& p, const Window& w, const AvgOptions& opt,
                                           const int64_t (&o)[3], int64_t (&start)[3],
                                           int64_t (&end)[3], int64_t& divisor) {
  int64_t pool_size = 1, count = 1;
#pragma unroll
  for (int a = 0; a < 3; ++a) {
    start[a] = o[a] * w.stride[a] - w.pad[a];
    end[a] = imin(start[a] + w.kernel[a], p.in[a] + w.pad[a]);
    pool_size *= end[a] - start[a];
    start[a] = imax(start[a], 0);
    end[a] = imin(end[a], p.in[a]);
    if (start[a] >= end[a]) return false;
    count *= end[a] - start[a];
  }
  divisor = opt.divisor_override > 0 ? opt.divisor_override
                                     : (opt.count_include_pad ? pool_size : count);
  return true;
}

template <typename T>
__global__ void avg_pool_forward_kernel(Planes p, Window w, AvgOptions opt,
                                        const T* __restrict__ x, T* __restrict__ out) {
  const int64_t total = p.planes * p.out_size;
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) {
    const int64_t plane = e / p.out_size;
    int64_t o[3], start[3], end[3], divisor;
    unravel3(e - plane * p.out_size, p.out, o);
    if (!avg_window(p, w, opt, o, start, end, divisor)) {
      out[e] = T(0);
      continue;
    }
    out[e] = box_sum(x + plane * p.in_size, p.in, start, end) / T(divisor);
  }
}

// Gather: input pixel i lies in the window of output o iff o * stride - pad <= i and
// i < o * stride - pad + kernel, i.e. o in [ceil((i + pad - kernel + 1) / stride),
// floor((i + pad) / stride)].
template <typename T>
__global__ void avg_pool_backward_kernel(Planes p, Window w, AvgOptions opt,
                                         const T* __restrict__ grad_out, T* __restrict__ grad_input) {
  const int64_t total = p.planes * p.in_size;
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) {
    const int64_t plane = e / p.in_size;
    int64_t i[3], lo[3], hi[3];
    unravel3(e - plane * p.in_size, p.in, i);
#pragma unroll
    for (int a = 0; a < 3; ++a) {
      const int64_t first = i[a] + w.pad[a] - w.kernel[a] + 1;  // may be negative
      lo[a] = first <= 0 ? 0 : (first + w.stride[a] - 1) / w.stride[a];
      hi[a] = imin((i[a] + w.pad[a]) / w.stride[a], p.out[a] - 1);
    }
    const T* gp = grad_out + plane * p.out_size;
    T sum = T(0);
    int64_t o[3], start[3], end[3], divisor;
    for (o[0] = lo[0]; o[0] <= hi[0]; ++o[0])
      for (o[1] = lo[1]; o[1] <= hi[1]; ++o[1])
        for (o[2] = lo[2]; o[2] <= hi[2]; ++o[2])
          if (avg_window(p, w, opt, o, start, end, divisor))
            sum += gp[(o[0] * p.out[1] + o[1]) * p.out[2] + o[2]] / T(divisor);
    grad_input[e] = sum;
  }
}

__device__ __forceinline__ int64_t adaptive_start(int64_t o, int64_t in, int64_t out) {
  return o * in / out;
}
__device__ __forceinline__ int64_t adaptive_end(int64_t o, int64_t in, int64_t out) {
  return ((o + 1) * in + out - 1) / out;
}

template <typename T>
__global__ void adaptive_avg_pool_forward_kernel(Planes p, const T* __restrict__ x,
                                                 T* __restrict__ out) {
  const int64_t total = p.planes * p.out_size;
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) {
    const int64_t plane = e / p.out_size;
    int64_t o[3], start[3], end[3], count = 1;
    unravel3(e - plane * p.out_size, p.out, o);
#pragma unroll
    for (int a = 0; a < 3; ++a) {
      start[a] = adaptive_start(o[a], p.in[a], p.out[a]);
      end[a] = adaptive_end(o[a], p.in[a], p.out[a]);
      count *= end[a] - start[a];
    }
    out[e] = box_sum(x + plane * p.in_size, p.in, start, end) / T(count);
  }
}

// Gather: the windows containing input i are o in [floor(i * out / in), ceil((i + 1) * out / in) - 1]
// (checked again per o).
template <typename T>
__global__ void adaptive_avg_pool_backward_kernel(Planes p, const T* __restrict__ grad_out,
                                                  T* __restrict__ grad_input) {
  const int64_t total = p.planes * p.in_size;
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) {
    const int64_t plane = e / p.in_size;
    int64_t i[3], lo[3], hi[3];
    unravel3(e - plane * p.in_size, p.in, i);
#pragma unroll
    for (int a = 0; a < 3; ++a) {
      lo[a] = i[a] * p.out[a] / p.in[a];
      hi[a] = imin(((i[a] + 1) * p.out[a] + p.in[a] - 1) / p.in[a] - 1, p.out[a] - 1);
    }
    const T* gp = grad_out + plane * p.out_size;
    T sum = T(0);
    int64_t o[3];
    for (o[0] = lo[0]; o[0] <= hi[0]; ++o[0]) {
      const int64_t s0 = adaptive_start(o[0], p.in[0], p.out[0]);
      const int64_t e0 = adaptive_end(o[0], p.in[0], p.out[0]);
      if (i[0] < s0 || i[0] >= e0) continue;
      for (o[1] = lo[1]; o[1] <= hi[1]; ++o[1]) {
        const int64_t s1 = adaptive_start(o[1], p.in[1], p.out[1]);
        const int64_t e1 = adaptive_end(o[1], p.in[1], p.out[1]);
        if (i[1] < s1 || i[1] >= e1) continue;
        for (o[2] = lo[2]; o[2] <= hi[2]; ++o[2]) {
          const int64_t s2 = adaptive_start(o[2], p.in[2], p.out[2]);
          const int64_t e2 = adaptive_end(o[2], p.in[2], p.out[2]);
          if (i[2] < s2 || i[2] >= e2) continue;
          const int64_t count = (e0 - s0) * (e1 - s1) * (e2 - s2);
          sum += gp[(o[0] * p.out[1] + o[1]) * p.out[2] + o[2]] / T(count);
        }
      }
    }
    grad_input[e] = sum;
  }
}

// ----------------------------------------------------------------------------------------------
// Interpolation

// How one spatial dimension maps output index o to input taps: inputs clamp(base + t, 0, in - 1)
// for t < count, with weights w[t].
enum class TapRule : int { identity, nearest, nearest_exact, linear, cubic };

template <typename T>
struct InterpDim {
  TapRule rule;
  int64_t in, out;
  float nearest_scale;  // torch computes nearest source indices in float
  T scale;              // linear and cubic: torch's area_pixel_compute_scale
  bool align_corners;
};

template <typename T>
struct Interp {
  Planes p;
  InterpDim<T> dim[3];
};

template <typename T>
struct Taps {
  int64_t base;
  int count;
  T w[4];
};

template <typename T>
__device__ __forceinline__ T cubic_near(T x, T a) {  // |x| <= 1
  return ((a + T(2)) * x - (a + T(3))) * x * x + T(1);
}
template <typename T>
__device__ __forceinline__ T cubic_far(T x, T a) {  // 1 < |x| < 2
  return ((a * x - T(5) * a) * x + T(8) * a) * x - T(4) * a;
}

template <typename T>
__device__ __forceinline__ Taps<T> taps_of(const InterpDim<T>& d, int64_t o) {
  Taps<T> t;
  t.count = 1;
  t.w[0] = T(1);
  switch (d.rule) {
    case TapRule::identity:
      t.base = o;
      break;
    case TapRule::nearest:
      // torch's nearest_idx: exact shortcuts for scale 1 and 2, else floorf(o * scale) in float.
      t.base = d.out == d.in       ? o
               : d.out == 2 * d.in ? o >> 1
                                   : imin(int64_t(floorf(float(o) * d.nearest_scale)), d.in - 1);
      break;
    case TapRule::nearest_exact:
      t.base = imin(int64_t(floorf(float((double(o) + 0.5) * double(d.nearest_scale)))), d.in - 1);
      break;
    case TapRule::linear: {
      T real = d.align_corners ? d.scale * T(o) : d.scale * (T(o) + T(0.5)) - T(0.5);
      if (real < T(0)) real = T(0);
      t.base = imin(int64_t(floor(real)), d.in - 1);
      T lambda = real - T(t.base);
      lambda = lambda < T(0) ? T(0) : (lambda > T(1) ? T(1) : lambda);
      t.count = 2;
      t.w[0] = T(1) - lambda;
      t.w[1] = lambda;
      break;
    }
    case TapRule::cubic: {
      const T real = d.align_corners ? d.scale * T(o) : d.scale * (T(o) + T(0.5)) - T(0.5);
      const int64_t index = imin(int64_t(floor(real)), d.in - 1);
      T frac = real - T(index);
      frac = frac < T(0) ? T(0) : (frac > T(1) ? T(1) : frac);
      const T a = T(-0.75);
      t.base = index - 1;
      t.count = 4;
      t.w[0] = cubic_far(frac + T(1), a);
      t.w[1] = cubic_near(frac, a);
      t.w[2] = cubic_near(T(1) - frac, a);
      t.w[3] = cubic_far(T(2) - frac, a);
      break;
    }
  }
  return t;
}

__device__ __forceinline__ int64_t clamp_index(int64_t i, int64_t in) {
  return i < 0 ? 0 : (i >= in ? in - 1 : i);
}

template <typename T>
__global__ void interpolate_forward_kernel(Interp<T> ip, const T* __restrict__ x,
                                           T* __restrict__ out) {
  const Planes& p = ip.p;
  const int64_t total = p.planes * p.out_size;
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) {
    const int64_t plane = e / p.out_size;
    int64_t o[3];
    unravel3(e - plane * p.out_size, p.out, o);
    const Taps<T> t0 = taps_of(ip.dim[0], o[0]), t1 = taps_of(ip.dim[1], o[1]),
                  t2 = taps_of(ip.dim[2], o[2]);
    const T* xp = x + plane * p.in_size;
    T sum = T(0);
    for (int a = 0; a < t0.count; ++a) {
      const int64_t i0 = clamp_index(t0.base + a, p.in[0]);
      for (int b = 0; b < t1.count; ++b) {
        const int64_t i1 = clamp_index(t1.base + b, p.in[1]);
        T row = T(0);
        for (int c = 0; c < t2.count; ++c)
          row += t2.w[c] * xp[(i0 * p.in[1] + i1) * p.in[2] + clamp_index(t2.base + c, p.in[2])];
        sum += t0.w[a] * t1.w[b] * row;
      }
    }
    out[e] = sum;
  }
}

// Weight of input index i in output o along one dimension: the sum of the taps that clamp to i.
template <typename T>
__device__ __forceinline__ T tap_weight(const InterpDim<T>& d, int64_t o, int64_t i) {
  const Taps<T> t = taps_of(d, o);
  T w = T(0);
  for (int a = 0; a < t.count; ++a)
    if (clamp_index(t.base + a, d.in) == i) w += t.w[a];
  return w;
}

// The outputs o whose taps can reach input i along one dimension: taps_of(o).base is
// non-decreasing in o, so {o : clamp(base + count - 1) >= i} and {o : clamp(base) <= i} are a
// suffix and a prefix of [0, out); their intersection [lo, hi] holds every o that reads i (found
// by binary search; tap_weight() then checks each).
template <typename T>
__device__ __forceinline__ void output_range(const InterpDim<T>& d, int64_t i, int64_t& lo,
                                             int64_t& hi) {
  int64_t a = 0, b = d.out;  // first o with clamp(base + count - 1) >= i, or out
  while (a < b) {
    const int64_t mid = (a + b) / 2;
    const Taps<T> t = taps_of(d, mid);
    if (clamp_index(t.base + t.count - 1, d.in) >= i) b = mid;
    else a = mid + 1;
  }
  lo = a;
  a = 0, b = d.out;  // first o with clamp(base) > i, or out
  while (a < b) {
    const int64_t mid = (a + b) / 2;
    if (clamp_index(taps_of(d, mid).base, d.in) > i) b = mid;
    else a = mid + 1;
  }
  hi = a - 1;
}

template <typename T>
__global__ void interpolate_backward_kernel(Interp<T> ip, const T* __restrict__ grad_out,
                                            T* __restrict__ grad_input) {
  const Planes& p = ip.p;
  const int64_t total = p.planes * p.in_size;
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) {
    const int64_t plane = e / p.in_size;
    int64_t i[3], lo[3], hi[3];
    unravel3(e - plane * p.in_size, p.in, i);
#pragma unroll
    for (int a = 0; a < 3; ++a) output_range(ip.dim[a], i[a], lo[a], hi[a]);
    const T* gp = grad_out + plane * p.out_size;
    T sum = T(0);
    for (int64_t o0 = lo[0]; o0 <= hi[0]; ++o0) {
      const T w0 = tap_weight(ip.dim[0], o0, i[0]);
      if (w0 == T(0)) continue;
      for (int64_t o1 = lo[1]; o1 <= hi[1]; ++o1) {
        const T w1 = tap_weight(ip.dim[1], o1, i[1]);
        if (w1 == T(0)) continue;
        T row = T(0);
        for (int64_t o2 = lo[2]; o2 <= hi[2]; ++o2) {
          const T w2 = tap_weight(ip.dim[2], o2, i[2]);
          if (w2 != T(0)) row += w2 * gp[(o0 * p.out[1] + o1) * p.out[2] + o2];
        }
        sum += w0 * w1 * row;
      }
    }
    grad_input[e] = sum;
  }
}

}  // namespace fastdl::cuda::pool_detail
