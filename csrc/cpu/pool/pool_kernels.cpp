// Pooling and interpolation kernels, compiled once per ISA (cmake/isa.cmake). Windows, indices,
// divisors and interpolation weights follow PyTorch's CPU kernels line by line (see pool.h), so
// results, indices and tie/NaN behaviour agree with torch. Forward kernels run threads over
// output rows (planes x depth x height) and write each output once; backward kernels that
// scatter run threads over planes (one plane is written by one thread, no atomics). Max pool
// 2x2 / stride 2 (ResNet-style downsampling) has a SIMD path across the output width.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "common/threading.h"
#include "cpu/pool/pool.h"
#if defined(__x86_64__) && (defined(FASTDL_ISA_avx512) || defined(FASTDL_ISA_avx2))
#include <immintrin.h>
#endif

namespace fastdl::cpu::FASTDL_ISA {
namespace {

// Parallel regions below this many touched elements (4 MB of fp32, ~0.3 ms of memory traffic)
// run on one thread: a second thread gains little on such memory-bound work, and on a shared
// machine a region waits for its slowest thread (a global average pool of 3 MB took 0.14 ms on
// one thread and 44 ms on two while another process held the second core).
constexpr int64_t kParallelGrain = int64_t(1) << 20;

inline int threads_for(int64_t work) { return work >= kParallelGrain ? num_threads() : 1; }

// Work is handed out in chunks (output rows or planes) rather than split evenly in advance: a
// thread that another process preempts then costs its chunk, not half the call (2-thread runs
// on the shared 2-vCPU machine took up to 5x the 1-thread time with static halves).
constexpr int kRowChunk = 32, kPlaneChunk = 4;

template <typename T>
inline bool is_nan(T v) {
  return v != v;
}

// ---- max pool --------------------------------------------------------------------------------

// torch's max-pool window along one dim: first tap inside the input, exclusive end.
struct Window {
  int64_t start, end;
};
inline Window max_window(int64_t o, int64_t s, int64_t p, int64_t k, int64_t d, int64_t in) {
  int64_t start = o * s - p;
  const int64_t end = std::min(start + (k - 1) * d + 1, in);
  while (start < 0) start += d;
  return {start, end};
}

// One output point: the first maximum in (d, h, w) order wins, a NaN replaces anything
// (torch: `if (val > maxval || isnan(val))`), and an all -inf window points at its first tap.
template <typename T>
inline void max_point(const PoolShape& s, const T* xp, const Window& wd, const Window& wh,
                      int64_t ow, T* y, int64_t* ind) {
  const int64_t IH = s.in[1], IW = s.in[2];
  const Window ww = max_window(ow, s.stride[2], s.padding[2], s.kernel[2], s.dilation[2], IW);
  int64_t maxindex = (wd.start * IH + wh.start) * IW + ww.start;
  T maxval = -std::numeric_limits<T>::infinity();
  for (int64_t id = wd.start; id < wd.end; id += s.dilation[0])
    for (int64_t ih = wh.start; ih < wh.end; ih += s.dilation[1]) {
      const int64_t row = (id * IH + ih) * IW;
      for (int64_t iw = ww.start; iw < ww.end; iw += s.dilation[2]) {
        const T v = xp[row + iw];
        if (v > maxval || is_nan(v)) {
          maxval = v;
          maxindex = row + iw;
        }
      }
    }
  y[ow] = maxval;
  if (ind) ind[ow] = maxindex;
}

// Scalar 2x2 window over rows r0, r1 (same order as max_point); returns the offset chosen.
template <typename T>
inline int64_t max4(T a, T b, T c, T d, int64_t iw_stride, T* out) {
  T m = a;
  int64_t k = 0;
  if (b > m || is_nan(b)) m = b, k = 1;
  if (c > m || is_nan(c)) m = c, k = iw_stride;
  if (d > m || is_nan(d)) m = d, k = iw_stride + 1;
  *out = m;
  return k;
}

// 2x2 / stride 2 / no padding over full windows: n outputs from rows r0 and r1 = r0 + IW.
// base = flat offset of r0[0] in the plane (for indices).
template <typename T>
void max2x2_row(const T* r0, int64_t IW, int64_t n, T* y, int64_t* ind, int64_t base) {
  const T* r1 = r0 + IW;
  int64_t ow = 0;
#if defined(FASTDL_ISA_avx512)
  if constexpr (sizeof(T) == 4) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i k1 = _mm512_set1_epi32(1), kw = _mm512_set1_epi32(int32_t(IW)),
                  kw1 = _mm512_set1_epi32(int32_t(IW + 1));
    const __m512i lane2 = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    for (; ow + 16 <= n; ow += 16) {
      const float* p0 = reinterpret_cast<const float*>(r0) + 2 * ow;
      const float* p1 = reinterpret_cast<const float*>(r1) + 2 * ow;
      const __m512 x0 = _mm512_loadu_ps(p0), x1 = _mm512_loadu_ps(p0 + 16);
      const __m512 x2 = _mm512_loadu_ps(p1), x3 = _mm512_loadu_ps(p1 + 16);
      const __m512 a = _mm512_permutex2var_ps(x0, even, x1);
      const __m512 b = _mm512_permutex2var_ps(x0, odd, x1);
      const __m512 c = _mm512_permutex2var_ps(x2, even, x3);
      const __m512 d = _mm512_permutex2var_ps(x2, odd, x3);
      __m512 m = a;
      const __mmask16 mb = _mm512_cmp_ps_mask(b, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q);
      m = _mm512_mask_mov_ps(m, mb, b);
      const __mmask16 mc = _mm512_cmp_ps_mask(c, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(c, c, _CMP_UNORD_Q);
      m = _mm512_mask_mov_ps(m, mc, c);
      const __mmask16 md = _mm512_cmp_ps_mask(d, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(d, d, _CMP_UNORD_Q);
      m = _mm512_mask_mov_ps(m, md, d);
      _mm512_storeu_ps(reinterpret_cast<float*>(y) + ow, m);
      if (ind) {
        __m512i k = _mm512_setzero_si512();
        k = _mm512_mask_mov_epi32(k, mb, k1);
        k = _mm512_mask_mov_epi32(k, mc, kw);
        k = _mm512_mask_mov_epi32(k, md, kw1);
        const __m512i b0 = _mm512_add_epi64(_mm512_set1_epi64(base + 2 * ow), lane2);
        const __m512i b1 = _mm512_add_epi64(b0, _mm512_set1_epi64(16));
        const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(k));
        const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(k, 1));
        _mm512_storeu_si512(ind + ow, _mm512_add_epi64(b0, lo));
        _mm512_storeu_si512(ind + ow + 8, _mm512_add_epi64(b1, hi));
      }
    }
  }
#elif defined(FASTDL_ISA_avx2)
  if constexpr (sizeof(T) == 4) {
    if (!ind) {
      for (; ow + 8 <= n; ow += 8) {
        const float* p0 = reinterpret_cast<const float*>(r0) + 2 * ow;
        const float* p1 = reinterpret_cast<const float*>(r1) + 2 * ow;
        auto deint = [](__m256 lo, __m256 hi, __m256* ev, __m256* od) {
          *ev = _mm256_castpd_ps(_mm256_permute4x64_pd(
              _mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))), 0xD8));
          *od = _mm256_castpd_ps(_mm256_permute4x64_pd(
              _mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))), 0xD8));
        };
        __m256 a, b, c, d;
        deint(_mm256_loadu_ps(p0), _mm256_loadu_ps(p0 + 8), &a, &b);
        deint(_mm256_loadu_ps(p1), _mm256_loadu_ps(p1 + 8), &c, &d);
        __m256 m = a;
        for (__m256 v : {b, c, d}) {
          const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ),
                                           _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
          m = _mm256_blendv_ps(m, v, take);
        }
        _mm256_storeu_ps(reinterpret_cast<float*>(y) + ow, m);
      }
    }
  }
#endif
  for (; ow < n; ++ow) {
    const int64_t k = max4(r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1], IW, y + ow);
    if (ind) ind[ow] = base + 2 * ow + k;
  }
}

// 3x3 / stride 2 / padding 1 (ResNet's and VGG-style stems), outputs [ow0, ow1) of one row whose
// three input rows r0, r0 + IW, r0 + 2 IW all lie inside the plane, every window inside the row
// (ow0 >= 1, ow1 <= IW / 2). The same tap order and rule as max_point; 16 outputs per
// vector, the taps deinterleaved from two overlapping pairs of loads per row (masked at the row's
// end). base = flat offset of r0[0] in the plane. Returns the first output it did not do.
template <typename T>
int64_t max3x3s2_row(const T* r0, int64_t IW, int64_t ow0, int64_t ow1, T* y, int64_t* ind,
                     int64_t base) {
#if defined(FASTDL_ISA_avx512)
  if constexpr (sizeof(T) == 4) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i lane2 = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    auto first = [](int64_t count) {  // the mask of the first `count` lanes (none if <= 0)
      return __mmask16(count >= 16 ? 0xFFFF : (1u << std::max<int64_t>(count, 0)) - 1);
    };
    auto load = [&](const float* p, int64_t count) {
      return _mm512_maskz_loadu_ps(first(count), p);
    };
    for (int64_t ow = ow0; ow < ow1; ow += 16) {
      const int64_t lanes = std::min<int64_t>(16, ow1 - ow);
      __m512 m = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
      __m512i k = _mm512_setzero_si512();
      for (int r = 0; r < 3; ++r) {
        const float* p = reinterpret_cast<const float*>(r0) + r * IW + 2 * ow - 1;
        const __m512 a = load(p, 2 * lanes + 1), b = load(p + 16, 2 * lanes + 1 - 16);
        const __m512 a1 = load(p + 1, 2 * lanes), b1 = load(p + 17, 2 * lanes - 16);
        const __m512 taps[3] = {_mm512_permutex2var_ps(a, even, b),
                                _mm512_permutex2var_ps(a, odd, b),
                                _mm512_permutex2var_ps(a1, odd, b1)};
        for (int j = 0; j < 3; ++j) {
          const __mmask16 take = _mm512_cmp_ps_mask(taps[j], m, _CMP_GT_OQ) |
                                 _mm512_cmp_ps_mask(taps[j], taps[j], _CMP_UNORD_Q);
          m = _mm512_mask_mov_ps(m, take, taps[j]);
          k = _mm512_mask_mov_epi32(k, take, _mm512_set1_epi32(int32_t(r * IW + j)));
        }
      }
      const __mmask16 out = first(lanes);
      _mm512_mask_storeu_ps(reinterpret_cast<float*>(y) + ow, out, m);
      if (ind) {
        const __m512i b0 = _mm512_add_epi64(_mm512_set1_epi64(base + 2 * ow - 1), lane2);
        const __m512i b1 = _mm512_add_epi64(b0, _mm512_set1_epi64(16));
        const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(k));
        const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(k, 1));
        _mm512_mask_storeu_epi64(ind + ow, __mmask8(out), _mm512_add_epi64(b0, lo));
        _mm512_mask_storeu_epi64(ind + ow + 8, __mmask8(out >> 8), _mm512_add_epi64(b1, hi));
      }
    }
    return ow1;
  }
#endif
  (void)r0, (void)IW, (void)ow1, (void)y, (void)ind, (void)base;
  return ow0;
}

template <typename T>
void max_pool_forward(const PoolShape& s, const T* x, T* y, int64_t* ind) {
  const int64_t OD = s.out[0], OH = s.out[1], OW = s.out[2], IH = s.in[1], IW = s.in[2];
  const int64_t in_plane = s.in_plane(), out_plane = s.out_plane();
  const int64_t rows = s.planes * OD * OH;
  const bool fast2x2 = s.kernel[0] == 1 && s.padding[0] == 0 && s.kernel[1] == 2 &&
                       s.kernel[2] == 2 && s.stride[1] == 2 && s.stride[2] == 2 &&
                       s.padding[1] == 0 && s.padding[2] == 0 && s.dilation[1] == 1 &&
                       s.dilation[2] == 1 && IW < (int64_t(1) << 30);
  const bool fast3x3s2 = s.kernel[0] == 1 && s.padding[0] == 0 && s.kernel[1] == 3 &&
                         s.kernel[2] == 3 && s.stride[1] == 2 && s.stride[2] == 2 &&
                         s.padding[1] == 1 && s.padding[2] == 1 && s.dilation[1] == 1 &&
                         s.dilation[2] == 1 && 3 * IW < (int64_t(1) << 30);
#pragma omp parallel for num_threads(threads_for(s.planes * in_plane)) schedule(dynamic, kRowChunk)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = r / (OD * OH), od = (r / OH) % OD, oh = r % OH;
    const T* xp = x + p * in_plane;
    const int64_t o = p * out_plane + (od * OH + oh) * OW;
    T* yr = y + o;
    int64_t* ir = ind ? ind + o : nullptr;
    const Window wd =
        max_window(od, s.stride[0], s.padding[0], s.kernel[0], s.dilation[0], s.in[0]);
    const Window wh = max_window(oh, s.stride[1], s.padding[1], s.kernel[1], s.dilation[1], IH);
    int64_t ow = 0;
    if (fast2x2 && 2 * oh + 1 < IH) {
      const int64_t base = (wd.start * IH + 2 * oh) * IW;
      ow = std::min(OW, IW / 2);  // full windows; ceil_mode's last column goes the long way
      max2x2_row(xp + base, IW, ow, yr, ir, base);
    } else if (fast3x3s2 && oh >= 1 && 2 * oh + 1 < IH && OW > 1) {
      const int64_t base = (wd.start * IH + 2 * oh - 1) * IW;
      max_point(s, xp, wd, wh, 0, yr, ir);  // the padded first column
      ow = max3x3s2_row(xp + base, IW, 1, std::min(OW, IW / 2), yr, ir, base);
    }
    for (; ow < OW; ++ow) max_point(s, xp, wd, wh, ow, yr, ir);
  }
}

// ---- index kernels ---------------------------------------------------------------------------

// out zeroed, then out.plane[idx] += src (kAdd) or = src, for src/idx planes of idx_plane.
template <bool kAdd, typename T>
bool scatter(int64_t planes, int64_t out_plane, int64_t idx_plane, const T* src,
             const int64_t* idx, T* out) {
  int bad = 0;
#pragma omp parallel for num_threads(threads_for(planes * (out_plane + idx_plane))) \
    schedule(dynamic, kPlaneChunk) reduction(| : bad)
  for (int64_t p = 0; p < planes; ++p) {
    T* o = out + p * out_plane;
    std::memset(o, 0, sizeof(T) * size_t(out_plane));
    const T* sp = src + p * idx_plane;
    const int64_t* ip = idx + p * idx_plane;
    for (int64_t j = 0; j < idx_plane; ++j) {
      const int64_t i = ip[j];
      if (i < 0 || i >= out_plane) {
        bad = 1;
        continue;
      }
      if constexpr (kAdd)
        o[i] += sp[j];
      else
        o[i] = sp[j];
    }
  }
  return !bad;
}

template <typename T>
bool scatter_add(int64_t planes, int64_t out_plane, int64_t idx_plane, const T* src,
                 const int64_t* idx, T* out) {
  return scatter<true>(planes, out_plane, idx_plane, src, idx, out);
}

template <typename T>
bool unpool(int64_t planes, int64_t x_plane, int64_t out_plane, const T* x, const int64_t* idx,
            T* out) {
  return scatter<false>(planes, out_plane, x_plane, x, idx, out);
}

template <typename T>
bool gather(int64_t planes, int64_t src_plane, int64_t idx_plane, const T* src,
            const int64_t* idx, T* out) {
  int bad = 0;
#pragma omp parallel for num_threads(threads_for(planes * idx_plane)) schedule(dynamic, kPlaneChunk) \
    reduction(| : bad)
  for (int64_t p = 0; p < planes; ++p) {
    const T* sp = src + p * src_plane;
    const int64_t* ip = idx + p * idx_plane;
    T* o = out + p * idx_plane;
    for (int64_t j = 0; j < idx_plane; ++j) {
      const int64_t i = ip[j];
      if (i < 0 || i >= src_plane) {
        bad = 1;
        o[j] = T(0);
        continue;
      }
      o[j] = sp[i];
    }
  }
  return !bad;
}

// ---- average pool ----------------------------------------------------------------------------

// torch's avg-pool window along one dim: [start, end) clipped to the input, and its length
// clipped to input + padding (the count_include_pad divisor).
struct AvgWindow {
  int64_t start, end, padded_len;
};
inline AvgWindow avg_window(int64_t o, int64_t s, int64_t p, int64_t k, int64_t in) {
  int64_t start = o * s - p;
  int64_t end = std::min(start + k, in + p);
  const int64_t padded = end - start;
  start = std::max<int64_t>(start, 0);
  end = std::min(end, in);
  return {start, end, padded};
}

// The divisor for one window and its three per-dim parts, as torch computes it.
inline int64_t avg_divisor(const AvgWindow& a, const AvgWindow& b, const AvgWindow& c,
                           bool count_include_pad, int64_t divisor_override) {
  if (divisor_override) return divisor_override;
  if (count_include_pad) return a.padded_len * b.padded_len * c.padded_len;
  return (a.end - a.start) * (b.end - b.start) * (c.end - c.start);
}

// Windows along W, and every output's divisor, are the same for every plane.
template <typename T>
struct AvgRowPlan {
  std::vector<AvgWindow> w;
  int64_t interior_lo = 0, interior_hi = 0;  // outputs whose window lies inside [0, IW)
  std::vector<T> divisor;                    // per output of a plane (1 for empty windows)
};
template <typename T>
AvgRowPlan<T> avg_row_plan(const PoolShape& s, bool cip, int64_t dov) {
  AvgRowPlan<T> plan;
  const int64_t OW = s.out[2], IW = s.in[2], k = s.kernel[2], st = s.stride[2], p = s.padding[2];
  plan.w.resize(static_cast<size_t>(OW));
  for (int64_t ow = 0; ow < OW; ++ow) plan.w[size_t(ow)] = avg_window(ow, st, p, k, IW);
  plan.interior_lo = std::min(OW, (p + st - 1) / st);  // ow * st - p >= 0
  plan.interior_hi = plan.interior_lo;
  while (plan.interior_hi < OW && plan.interior_hi * st - p + k <= IW) ++plan.interior_hi;
  plan.divisor.resize(static_cast<size_t>(s.out_plane()));
  for (int64_t od = 0; od < s.out[0]; ++od) {
    const AvgWindow wd = avg_window(od, s.stride[0], s.padding[0], s.kernel[0], s.in[0]);
    for (int64_t oh = 0; oh < s.out[1]; ++oh) {
      const AvgWindow wh = avg_window(oh, s.stride[1], s.padding[1], s.kernel[1], s.in[1]);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const AvgWindow& ww = plan.w[size_t(ow)];
        const bool empty = wd.start >= wd.end || wh.start >= wh.end || ww.start >= ww.end;
        plan.divisor[size_t((od * s.out[1] + oh) * OW + ow)] =
            empty ? T(1) : T(avg_divisor(wd, wh, ww, cip, dov));
      }
    }
  }
  return plan;
}

// acc[ow] = sum of t over output ow's W window (t: a row of IW column sums).
template <typename T>
inline void window_sums(const PoolShape& s, const AvgRowPlan<T>& plan, const T* __restrict t,
                        T* __restrict acc) {
  const int64_t k = s.kernel[2], st = s.stride[2], p = s.padding[2];
  const int64_t lo = plan.interior_lo, hi = plan.interior_hi;
  for (int64_t ow = 0; ow < lo; ++ow) {
    T sum = 0;
    for (int64_t iw = plan.w[size_t(ow)].start; iw < plan.w[size_t(ow)].end; ++iw) sum += t[iw];
    acc[ow] = sum;
  }
  if (hi > lo) {  // interior: k strided passes, vectorized for a compile-time stride
    auto interior = [&](auto stride) {
      const int64_t ST = decltype(stride)::value ? int64_t(decltype(stride)::value) : st;
      const T* __restrict base = t + lo * st - p;
      T* __restrict out = acc + lo;
      const int64_t n = hi - lo;
      for (int64_t i = 0; i < n; ++i) out[i] = base[i * ST];
      for (int64_t j = 1; j < k; ++j)
        for (int64_t i = 0; i < n; ++i) out[i] += base[i * ST + j];
    };
    if (st == 1)
      interior(std::integral_constant<int, 1>{});
    else if (st == 2)
      interior(std::integral_constant<int, 2>{});
    else
      interior(std::integral_constant<int, 0>{});
  }
  for (int64_t ow = hi; ow < s.out[2]; ++ow) {
    T sum = 0;
    for (int64_t iw = plan.w[size_t(ow)].start; iw < plan.w[size_t(ow)].end; ++iw) sum += t[iw];
    acc[ow] = sum;
  }
}

// Average pool: per output row, the valid input rows of its (D, H) window are summed into one
// row of column sums (vector adds), then each output sums its W window of that row and divides.
template <typename T>
void avg_pool_forward(const PoolShape& s, bool cip, int64_t dov, const T* x, T* y) {
  const int64_t OD = s.out[0], OH = s.out[1], OW = s.out[2], IH = s.in[1], IW = s.in[2];
  const int64_t in_plane = s.in_plane(), out_plane = s.out_plane();
  const int64_t rows = s.planes * OD * OH;
  const AvgRowPlan<T> plan = avg_row_plan<T>(s, cip, dov);
#pragma omp parallel num_threads(threads_for(s.planes * in_plane))
  {
    std::vector<T> colsum(static_cast<size_t>(IW)), acc(static_cast<size_t>(OW));
#pragma omp for schedule(dynamic, kRowChunk)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t p = r / (OD * OH), od = (r / OH) % OD, oh = r % OH;
      const T* xp = x + p * in_plane;
      T* yr = y + p * out_plane + (od * OH + oh) * OW;
      const AvgWindow wd = avg_window(od, s.stride[0], s.padding[0], s.kernel[0], s.in[0]);
      const AvgWindow wh = avg_window(oh, s.stride[1], s.padding[1], s.kernel[1], IH);
      if (wd.start >= wd.end || wh.start >= wh.end) {
        std::fill_n(yr, OW, T(0));
        continue;
      }
      T* __restrict t = colsum.data();
      bool first = true;
      for (int64_t id = wd.start; id < wd.end; ++id)
        for (int64_t ih = wh.start; ih < wh.end; ++ih) {
          const T* __restrict row = xp + (id * IH + ih) * IW;
          if (first)
            std::memcpy(t, row, sizeof(T) * size_t(IW));
          else
            for (int64_t iw = 0; iw < IW; ++iw) t[iw] += row[iw];
          first = false;
        }
      window_sums(s, plan, t, acc.data());
      const T* __restrict div = plan.divisor.data() + (od * OH + oh) * OW;
      const T* __restrict a = acc.data();
      for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = a[ow] / div[ow];
    }
  }
}

// The adjoint: per output row, each output's share g / divisor is spread over its W window in
// one row (strided adds), and that row is added to every input row of the (D, H) window.
template <typename T>
void avg_pool_backward(const PoolShape& s, bool cip, int64_t dov, const T* gy, T* gx) {
  const int64_t OD = s.out[0], OH = s.out[1], OW = s.out[2], IH = s.in[1], IW = s.in[2];
  const int64_t in_plane = s.in_plane(), out_plane = s.out_plane();
  const AvgRowPlan<T> plan = avg_row_plan<T>(s, cip, dov);
  const int64_t k = s.kernel[2], st = s.stride[2], pw = s.padding[2];
#pragma omp parallel num_threads(threads_for(s.planes * in_plane))
  {
    std::vector<T> spread(static_cast<size_t>(IW)), delta(static_cast<size_t>(OW));
#pragma omp for schedule(dynamic, kPlaneChunk)
    for (int64_t p = 0; p < s.planes; ++p) {
      T* gp = gx + p * in_plane;
      std::memset(gp, 0, sizeof(T) * size_t(in_plane));
      const T* gyp = gy + p * out_plane;
      for (int64_t od = 0; od < OD; ++od) {
        const AvgWindow wd = avg_window(od, s.stride[0], s.padding[0], s.kernel[0], s.in[0]);
        for (int64_t oh = 0; oh < OH; ++oh) {
          const AvgWindow wh = avg_window(oh, s.stride[1], s.padding[1], s.kernel[1], IH);
          if (wd.start >= wd.end || wh.start >= wh.end) continue;
          const T* grow = gyp + (od * OH + oh) * OW;
          T* __restrict d = delta.data();
          const T* __restrict div = plan.divisor.data() + (od * OH + oh) * OW;
          for (int64_t ow = 0; ow < OW; ++ow) d[ow] = grow[ow] / div[ow];
          T* __restrict t = spread.data();
          std::fill_n(t, IW, T(0));
          for (int64_t ow = 0; ow < plan.interior_lo; ++ow)
            for (int64_t iw = plan.w[size_t(ow)].start; iw < plan.w[size_t(ow)].end; ++iw)
              t[iw] += d[ow];
          auto interior = [&](auto stride) {  // vectorized for a compile-time stride
            const int64_t ST = decltype(stride)::value ? int64_t(decltype(stride)::value) : st;
            const int64_t n = plan.interior_hi - plan.interior_lo;
            const T* __restrict dd = d + plan.interior_lo;
            for (int64_t j = 0; j < k; ++j) {
              T* __restrict base = t + plan.interior_lo * st - pw + j;
              for (int64_t i = 0; i < n; ++i) base[i * ST] += dd[i];
            }
          };
          if (st == 1)
            interior(std::integral_constant<int, 1>{});
          else if (st == 2)
            interior(std::integral_constant<int, 2>{});
          else
            interior(std::integral_constant<int, 0>{});
          for (int64_t ow = plan.interior_hi; ow < OW; ++ow)
            for (int64_t iw = plan.w[size_t(ow)].start; iw < plan.w[size_t(ow)].end; ++iw)
              t[iw] += d[ow];
          for (int64_t id = wd.start; id < wd.end; ++id)
            for (int64_t ih = wh.start; ih < wh.end; ++ih) {
              T* __restrict row = gp + (id * IH + ih) * IW;
              for (int64_t iw = 0; iw < IW; ++iw) row[iw] += t[iw];
            }
        }
      }
    }
  }
}

// ---- adaptive pools --------------------------------------------------------------------------

// torch: start = floor(o * in / out), end = ceil((o + 1) * in / out).
inline int64_t adaptive_start(int64_t o, int64_t out, int64_t in) {
  return (o / out) * in + ((o % out) * in) / out;
}
inline int64_t adaptive_end(int64_t o, int64_t out, int64_t in) {
  return 1 + ((o + 1) * in - 1) / out;
}

// Sum of n contiguous values with independent vector-wide partial sums.
template <typename T>
T contiguous_sum(const T* __restrict p, int64_t n) {
  constexpr int L = 64 / int(sizeof(T));
  T acc[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int l = 0; l < L; ++l) acc[l] += p[i + l];
  T sum = 0;
  for (int l = 0; l < L; ++l) sum += acc[l];
  for (; i < n; ++i) sum += p[i];
  return sum;
}

template <typename T>
void adaptive_avg_forward(const PoolShape& s, const T* x, T* y) {
  const int64_t OD = s.out[0], OH = s.out[1], OW = s.out[2], ID = s.in[0], IH = s.in[1],
                IW = s.in[2];
  const int64_t in_plane = s.in_plane(), out_plane = s.out_plane();
  if (out_plane == 1) {  // global average pool (a classifier head): one sum per plane
#pragma omp parallel for num_threads(threads_for(s.planes * in_plane)) schedule(dynamic, kPlaneChunk)
    for (int64_t p = 0; p < s.planes; ++p)
      y[p] = contiguous_sum(x + p * in_plane, in_plane) / T(ID) / T(IH) / T(IW);
    return;
  }
  const int64_t rows = s.planes * OD * OH;
#pragma omp parallel for num_threads(threads_for(s.planes * in_plane)) schedule(dynamic, kRowChunk)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = r / (OD * OH), od = (r / OH) % OD, oh = r % OH;
    const T* xp = x + p * in_plane;
    T* yr = y + p * out_plane + (od * OH + oh) * OW;
    const int64_t d0 = adaptive_start(od, OD, ID), d1 = adaptive_end(od, OD, ID);
    const int64_t h0 = adaptive_start(oh, OH, IH), h1 = adaptive_end(oh, OH, IH);
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t w0 = adaptive_start(ow, OW, IW), w1 = adaptive_end(ow, OW, IW);
      T sum = 0;
      for (int64_t id = d0; id < d1; ++id)
        for (int64_t ih = h0; ih < h1; ++ih) {
          const T* row = xp + (id * IH + ih) * IW;
          for (int64_t iw = w0; iw < w1; ++iw) sum += row[iw];
        }
      yr[ow] = sum / T(d1 - d0) / T(h1 - h0) / T(w1 - w0);
    }
  }
}

template <typename T>
void adaptive_avg_backward(const PoolShape& s, const T* gy, T* gx) {
  const int64_t OD = s.out[0], OH = s.out[1], OW = s.out[2], ID = s.in[0], IH = s.in[1],
                IW = s.in[2];
  const int64_t in_plane = s.in_plane(), out_plane = s.out_plane();
  if (out_plane == 1) {
#pragma omp parallel for num_threads(threads_for(s.planes * in_plane)) schedule(dynamic, kPlaneChunk)
    for (int64_t p = 0; p < s.planes; ++p)
      std::fill_n(gx + p * in_plane, in_plane, gy[p] / T(ID) / T(IH) / T(IW));
    return;
  }
#pragma omp parallel for num_threads(threads_for(s.planes * in_plane)) schedule(dynamic, kPlaneChunk)
  for (int64_t p = 0; p < s.planes; ++p) {
    T* gp = gx + p * in_plane;
    std::memset(gp, 0, sizeof(T) * size_t(in_plane));
    const T* gyp = gy + p * out_plane;
    for (int64_t od = 0; od < OD; ++od) {
      const int64_t d0 = adaptive_start(od, OD, ID), d1 = adaptive_end(od, OD, ID);
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = adaptive_start(oh, OH, IH), h1 = adaptive_end(oh, OH, IH);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t w0 = adaptive_start(ow, OW, IW), w1 = adaptive_end(ow, OW, IW);
          const T delta = gyp[(od * OH + oh) * OW + ow] / T(d1 - d0) / T(h1 - h0) / T(w1 - w0);
          for (int64_t id = d0; id < d1; ++id)
            for (int64_t ih = h0; ih < h1; ++ih) {
              T* row = gp + (id * IH + ih) * IW;
              for (int64_t iw = w0; iw < w1; ++iw) row[iw] += delta;
            }
        }
      }
    }
  }
}

template <typename T>
void adaptive_max_forward(const PoolShape& s, const T* x, T* y, int64_t* ind) {
  const int64_t OD = s.out[0], OH = s.out[1], OW = s.out[2], ID = s.in[0], IH = s.in[1],
                IW = s.in[2];
  const int64_t in_plane = s.in_plane(), out_plane = s.out_plane();
  const int64_t rows = s.planes * OD * OH;
#pragma omp parallel for num_threads(threads_for(s.planes * in_plane)) schedule(dynamic, kRowChunk)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = r / (OD * OH), od = (r / OH) % OD, oh = r % OH;
    const T* xp = x + p * in_plane;
    const int64_t o = p * out_plane + (od * OH + oh) * OW;
    const int64_t d0 = adaptive_start(od, OD, ID), d1 = adaptive_end(od, OD, ID);
    const int64_t h0 = adaptive_start(oh, OH, IH), h1 = adaptive_end(oh, OH, IH);
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t w0 = adaptive_start(ow, OW, IW), w1 = adaptive_end(ow, OW, IW);
      int64_t maxindex = (d0 * IH + h0) * IW + w0;
      T maxval = -std::numeric_limits<T>::infinity();
      for (int64_t id = d0; id < d1; ++id)
        for (int64_t ih = h0; ih < h1; ++ih) {
          const int64_t row = (id * IH + ih) * IW;
          for (int64_t iw = w0; iw < w1; ++iw) {
            const T v = xp[row + iw];
            if (v > maxval || is_nan(v)) {
              maxval = v;
              maxindex = row + iw;
            }
          }
        }
      y[o + ow] = maxval;
      ind[o + ow] = maxindex;
    }
  }
}

// ---- interpolation ---------------------------------------------------------------------------

// Per-dimension taps: output o reads input idx[o*K + t] with weight w[o*K + t]. Weights are in
// torch's opmath type (float for float, double for double) and computed as torch does.
template <typename T>
struct Taps {
  int K = 1;
  std::vector<int64_t> idx;
  std::vector<T> w;
};

// torch's compute_scales_value / area_pixel_compute_scale / area_pixel_compute_source_index.
template <typename A>
A scales_value(double scale, int64_t in, int64_t out) {
  return scale > 0 ? A(1.0 / scale) : A(in) / A(out);
}
template <typename A>
A area_scale(int64_t in, int64_t out, bool align, double scale) {
  if (align) return out > 1 ? A(in - 1) / A(out - 1) : A(0);
  return scales_value<A>(scale, in, out);
}
// a * b + c, rounded once (fused) or twice. torch's forward interpolation kernels live in
// ATen/native/cpu (compiled with -mfma, where the compiler fuses these), its bicubic backward in
// ATen/native (baseline flags, unfused); float32 weights then differ in the last bits, which
// the weights' derivatives amplify to ~1e-4, so we round each as torch does (this file is
// compiled with -ffp-contract=off so that only these explicit fmas fuse).
template <typename A>
inline A mul_add(bool fused, A a, A b, A c) {
  return fused ? std::fma(a, b, c) : a * b + c;
}

template <typename A>
A source_index(A scale, int64_t o, bool align, bool cubic, bool fused) {
  if (align) return scale * A(o);
  const A src = mul_add(fused, scale, A(o) + A(0.5), A(-0.5));
  return (!cubic && src < A(0)) ? A(0) : src;
}
// torch's guard_index_and_lambda (floorf, as torch).
template <typename A>
void guard_index(A real, int64_t in, int64_t* index, A* lambda) {
  *index = std::min(static_cast<int64_t>(std::floor(static_cast<float>(real))), in - 1);
  *lambda = std::min(std::max(real - A(*index), A(0)), A(1));
}

template <typename A>
Taps<A> make_taps(InterpMode mode, int64_t in, int64_t out, bool align, double scale,
                  bool fused) {
  Taps<A> t;
  if (in == out && (mode == InterpMode::nearest || (in == 1 && scale <= 0))) {
    t.idx.resize(size_t(out));  // identity
    t.w.assign(size_t(out), A(1));
    for (int64_t o = 0; o < out; ++o) t.idx[size_t(o)] = o;
    return t;
  }
  switch (mode) {
    case InterpMode::nearest:
    case InterpMode::nearest_exact: {
      t.idx.resize(size_t(out));
      t.w.assign(size_t(out), A(1));
      const float sc = scales_value<float>(scale, in, out);
      const bool exact = mode == InterpMode::nearest_exact;
      for (int64_t o = 0; o < out; ++o) {
        int64_t i;
        if (!exact && out == 2 * in)
          i = o >> 1;
        else
          i = std::min(static_cast<int64_t>(std::floor(exact ? (float(o) + 0.5f) * sc
                                                              : float(o) * sc)),
                       in - 1);
        t.idx[size_t(o)] = i;
      }
      return t;
    }
    case InterpMode::linear: {
      t.K = 2;
      t.idx.resize(size_t(2 * out));
      t.w.resize(size_t(2 * out));
      const A sc = area_scale<A>(in, out, align, scale);
      for (int64_t o = 0; o < out; ++o) {
        int64_t i0, i1;
        A l0, l1;
        if (out == in) {
          i0 = i1 = o, l0 = A(1), l1 = A(0);
        } else {
          guard_index<A>(source_index<A>(sc, o, align, false, fused), in, &i0, &l1);
          i1 = i0 + (i0 < in - 1 ? 1 : 0);
          l0 = A(1) - l1;
        }
        t.idx[size_t(2 * o)] = i0, t.idx[size_t(2 * o + 1)] = i1;
        t.w[size_t(2 * o)] = l0, t.w[size_t(2 * o + 1)] = l1;
      }
      return t;
    }
    case InterpMode::cubic: {
      t.K = 4;
      t.idx.resize(size_t(4 * out));
      t.w.resize(size_t(4 * out));
      const A sc = area_scale<A>(in, out, align, scale);
      const A a = A(-0.75);
      // torch's cubic_convolution1/2, fused where a compiler fuses them
      auto cc1 = [a, fused](A x) {
        return mul_add(fused, mul_add(fused, a + A(2), x, -(a + A(3))) * x, x, A(1));
      };
      auto cc2 = [a, fused](A x) {
        return mul_add(fused, mul_add(fused, mul_add(fused, a, x, -(A(5) * a)), x, A(8) * a),
                       x, -(A(4) * a));
      };
      for (int64_t o = 0; o < out; ++o) {
        int64_t i;
        A lambda;
        guard_index<A>(source_index<A>(sc, o, align, true, fused), in, &i, &lambda);
        const A c[4] = {cc2(lambda + A(1)), cc1(lambda), cc1(A(1) - lambda),
                        cc2(A(1) - lambda + A(1))};
        for (int j = 0; j < 4; ++j) {
          t.idx[size_t(4 * o + j)] = std::max<int64_t>(std::min(i - 1 + j, in - 1), 0);
          t.w[size_t(4 * o + j)] = c[j];
        }
      }
      return t;
    }
  }
  return t;
}

// Taps along one dim in planar form: out[o] = sum_c src[idx[c * n + o]] * w[c * n + o] (tap c
// of every output contiguous, int32 indices: vectorized gathers). Built from the forward taps
// (`planar`), or transposed for the backward (`transposed`): input i then sums the outputs
// that read it, in increasing order, as torch's backward accumulates them.
template <typename T>
struct PlanarTaps {
  int K = 1;
  std::vector<int32_t> idx;
  std::vector<T> w;
};
template <typename T>
PlanarTaps<T> planar(const Taps<T>& t, int64_t out) {
  PlanarTaps<T> p;
  p.K = t.K;
  p.idx.resize(t.idx.size());
  p.w.resize(t.w.size());
  for (int64_t o = 0; o < out; ++o)
    for (int c = 0; c < t.K; ++c) {
      p.idx[size_t(c * out + o)] = int32_t(t.idx[size_t(o * t.K + c)]);
      p.w[size_t(c * out + o)] = t.w[size_t(o * t.K + c)];
    }
  return p;
}
// K = 0 when some input is read by more than max_k (output, tap) pairs.
template <typename T>
PlanarTaps<T> transposed(const Taps<T>& t, int64_t in, int64_t out, int max_k) {
  std::vector<int> count(size_t(in), 0);
  for (int64_t o = 0; o < out; ++o)
    for (int c = 0; c < t.K; ++c) ++count[size_t(t.idx[size_t(o * t.K + c)])];
  PlanarTaps<T> p;
  p.K = *std::max_element(count.begin(), count.end());
  if (p.K > max_k) {
    p.K = 0;
    return p;
  }
  p.idx.assign(size_t(p.K * in), 0);  // padding: weight 0 at output 0
  p.w.assign(size_t(p.K * in), T(0));
  std::fill(count.begin(), count.end(), 0);
  for (int64_t o = 0; o < out; ++o)
    for (int c = 0; c < t.K; ++c) {
      const int64_t i = t.idx[size_t(o * t.K + c)];
      const int m = count[size_t(i)]++;
      p.idx[size_t(m * in + i)] = int32_t(o);
      p.w[size_t(m * in + i)] = t.w[size_t(o * t.K + c)];
    }
  return p;
}

// h[o] = sum_c src[idx_c[o]] * w_c[o] (torch's order: the first tap, then += the others).
template <typename T>
inline void interpolate_row(const T* __restrict src, const PlanarTaps<T>& tw, int64_t n,
                            T* __restrict h) {
  const int32_t* __restrict i0 = tw.idx.data();
  const T* __restrict w0 = tw.w.data();
  for (int64_t o = 0; o < n; ++o) h[o] = src[i0[o]] * w0[o];
  for (int c = 1; c < tw.K; ++c) {
    const int32_t* __restrict ic = tw.idx.data() + c * n;
    const T* __restrict wc = tw.w.data() + c * n;
    for (int64_t o = 0; o < n; ++o) h[o] += src[ic[o]] * wc[o];
  }
}

// A few W-interpolated input rows, kept while consecutive output rows reuse them (an input row
// feeds ~2 output rows at x2 upsampling, each needing 2 (linear) or 4 (cubic) input rows).
template <typename T>
class RowCache {
 public:
  RowCache(int slots, int64_t width)
      : width_(width), data_(size_t(slots) * size_t(width)), key_(size_t(slots), -1),
        stamp_(size_t(slots), 0) {}
  // The row for `key` (computed by `make(dst)` on a miss). Rows returned since the last
  // `start_row()` stay valid: the slot replaced is the least recently used, and a row needs at
  // most half of the slots.
  template <typename Make>
  const T* get(int64_t key, Make&& make) {
    size_t victim = 0;
    for (size_t i = 0; i < key_.size(); ++i) {
      if (key_[i] == key) {
        stamp_[i] = ++clock_;
        return &data_[i * size_t(width_)];
      }
      if (stamp_[i] < stamp_[victim]) victim = i;
    }
    key_[victim] = key;
    stamp_[victim] = ++clock_;
    T* dst = &data_[victim * size_t(width_)];
    make(dst);
    return dst;
  }

 private:
  int64_t width_;
  std::vector<T> data_;
  std::vector<int64_t> key_;
  std::vector<uint64_t> stamp_;
  uint64_t clock_ = 0;
};

template <typename T>
void interpolate_forward(const PoolShape& s, InterpMode mode, bool align, const double* scales,
                         const T* x, T* y) {
  const int64_t OD = s.out[0], OH = s.out[1], OW = s.out[2], ID = s.in[0], IH = s.in[1],
                IW = s.in[2];
  const int64_t in_plane = s.in_plane(), out_plane = s.out_plane();
  const Taps<T> td = make_taps<T>(mode, ID, OD, align, scales[0], true);
  const Taps<T> th = make_taps<T>(mode, IH, OH, align, scales[1], true);
  const Taps<T> tw = make_taps<T>(mode, IW, OW, align, scales[2], true);
  const PlanarTaps<T> pw = planar(tw, OW);
  const int64_t rows = s.planes * OD * OH;
  const bool nearest = td.K == 1 && th.K == 1 && tw.K == 1;
  const int row_taps = td.K * th.K;
#pragma omp parallel num_threads(threads_for(s.planes * (in_plane + out_plane)))
  {
    RowCache<T> cache(nearest ? 1 : 2 * row_taps, OW);
    std::vector<T> acc_h(static_cast<size_t>(OW));
#pragma omp for schedule(dynamic, kRowChunk)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t p = r / (OD * OH), od = (r / OH) % OD, oh = r % OH;
      const T* xp = x + p * in_plane;
      T* __restrict yr = y + p * out_plane + (od * OH + oh) * OW;
      if (nearest) {
        const T* __restrict row = xp + (td.idx[size_t(od)] * IH + th.idx[size_t(oh)]) * IW;
        const int64_t* __restrict iw = tw.idx.data();
        for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = row[iw[ow]];
        continue;
      }
      // out = sum_d wd * (sum_h wh * (sum_w ww * x)), in torch's nesting order; the innermost
      // sums are whole W-interpolated rows from the cache.
      T* __restrict ah = td.K == 1 ? yr : acc_h.data();  // 1-2 dims: no D level to sum
      for (int a = 0; a < td.K; ++a) {
        const int64_t id = td.idx[size_t(od * td.K + a)];
        for (int b = 0; b < th.K; ++b) {
          const int64_t ih = th.idx[size_t(oh * th.K + b)];
          const T* row = xp + (id * IH + ih) * IW;
          const T* __restrict h = cache.get((p * ID + id) * IH + ih, [&](T* dst) {
            interpolate_row(row, pw, OW, dst);
          });
          const T wh = th.w[size_t(oh * th.K + b)];
          if (b == 0)
            for (int64_t ow = 0; ow < OW; ++ow) ah[ow] = h[ow] * wh;
          else
            for (int64_t ow = 0; ow < OW; ++ow) ah[ow] += h[ow] * wh;
        }
        const T wd = td.w[size_t(od * td.K + a)];
        if (td.K == 1) break;  // wd == 1: ah is yr already
        if (a == 0)
          for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = ah[ow] * wd;
        else
          for (int64_t ow = 0; ow < OW; ++ow) yr[ow] += ah[ow] * wd;
      }
    }
  }
}

// The adjoint, per plane: each output row's gradient is spread over W into one input-width row
// (g * ww at the W taps), which is added, times wd * wh, to the rows of its D and H taps.
template <typename T>
void interpolate_backward(const PoolShape& s, InterpMode mode, bool align, const double* scales,
                          const T* gy, T* gx) {
  const int64_t OD = s.out[0], OH = s.out[1], OW = s.out[2], IH = s.in[1], IW = s.in[2];
  const int64_t in_plane = s.in_plane(), out_plane = s.out_plane();
  if (mode == InterpMode::cubic && s.in[1] == OH && IW == OW && s.in[0] == OD) {
    // torch's bicubic backward copies when the sizes agree (whatever the scales)
    std::memcpy(gx, gy, sizeof(T) * size_t(s.planes * in_plane));
    return;
  }
  const bool fused = mode != InterpMode::cubic;  // torch's bicubic backward is unfused
  const Taps<T> td = make_taps<T>(mode, s.in[0], OD, align, scales[0], fused);
  const Taps<T> th = make_taps<T>(mode, IH, OH, align, scales[1], fused);
  const Taps<T> tw = make_taps<T>(mode, IW, OW, align, scales[2], fused);
  const PlanarTaps<T> gather_w = transposed(tw, IW, OW, 16);
#pragma omp parallel num_threads(threads_for(s.planes * (in_plane + out_plane)))
  {
    std::vector<T> spread(static_cast<size_t>(IW));
#pragma omp for schedule(dynamic, kPlaneChunk)
    for (int64_t p = 0; p < s.planes; ++p) {
      T* gp = gx + p * in_plane;
      std::memset(gp, 0, sizeof(T) * size_t(in_plane));
      const T* gyp = gy + p * out_plane;
      for (int64_t od = 0; od < OD; ++od)
        for (int64_t oh = 0; oh < OH; ++oh) {
          const T* __restrict grow = gyp + (od * OH + oh) * OW;
          T* __restrict t = spread.data();
          if (gather_w.K) {  // each input column gathers the outputs that read it
            interpolate_row(grow, gather_w, IW, t);
          } else {
            std::fill_n(t, IW, T(0));
            for (int64_t ow = 0; ow < OW; ++ow)
              for (int c = 0; c < tw.K; ++c)
                t[tw.idx[size_t(ow * tw.K + c)]] += tw.w[size_t(ow * tw.K + c)] * grow[ow];
          }
          for (int a = 0; a < td.K; ++a) {
            const int64_t id = td.idx[size_t(od * td.K + a)];
            const T wd = td.w[size_t(od * td.K + a)];
            for (int b = 0; b < th.K; ++b) {
              T* __restrict row = gp + (id * IH + th.idx[size_t(oh * th.K + b)]) * IW;
              const T wdh = wd * th.w[size_t(oh * th.K + b)];
              for (int64_t iw = 0; iw < IW; ++iw) row[iw] += wdh * t[iw];
            }
          }
        }
    }
  }
}

template <typename T>
void fill(PoolKernels<T>* k) {
  k->max_pool_forward = max_pool_forward<T>;
  k->scatter_add = scatter_add<T>;
  k->gather = gather<T>;
  k->unpool = unpool<T>;
  k->avg_pool_forward = avg_pool_forward<T>;
  k->avg_pool_backward = avg_pool_backward<T>;
  k->adaptive_avg_forward = adaptive_avg_forward<T>;
  k->adaptive_avg_backward = adaptive_avg_backward<T>;
  k->adaptive_max_forward = adaptive_max_forward<T>;
  k->interpolate_forward = interpolate_forward<T>;
  k->interpolate_backward = interpolate_backward<T>;
}

}  // namespace

void get_pool_kernels(PoolKernels<float>* out) { fill(out); }
void get_pool_kernels(PoolKernels<double>* out) { fill(out); }

}  // namespace fastdl::cpu::FASTDL_ISA
