// Graph-family kernels, compiled once per ISA (cmake/isa.cmake) and instantiated for float and
// double. The feature loops (axpy, dot) are written over fixed-width lane arrays, which GCC and
// Clang turn into this ISA's vectors without reassociating sums (no -ffast-math).
//
// Destination rows are split into chunks of equal (edges + rows) cost, found by a binary search
// on rowptr, and handed out dynamically: on a power-law graph a chunk holds a few hub rows or
// many leaf rows, and no thread waits for one that got all the hubs (a split by row count does).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "common/float_lanes.h"
#include "cpu/graph/graph_kernels.h"

namespace fastdl::cpu::FASTDL_ISA {

namespace {

template <typename T>
constexpr int lanes() {
  return kFloatLanes * 4 / int(sizeof(T));
}

// An extra thread only for each kMinWork multiply-adds (or element moves): a small graph runs on
// the calling thread. On this shared 2-vCPU VM under load, waking the second OpenMP thread can
// cost a scheduler time slice: a 300-node, 4.8k-edge SpMM took 0.05 ms on one thread and 35 ms
// on two with a 64k threshold (as the norm kernels found, csrc/cpu/norm/norm_kernels.cpp).
constexpr int64_t kMinWork = 1 << 20;
// Chunks per thread for the dynamic schedule (load balance vs. scheduling overhead).
constexpr int64_t kChunksPerThread = 16;

int threads_for(int64_t work, int threads) {
  const int64_t useful = work / kMinWork;
  return int(useful < 1 ? 1 : useful < threads ? useful : threads);
}

// work(r0, r1) over destination rows [0, n_rows) in chunks of equal rowptr[i] + i cost.
template <typename Work>
void for_rows_balanced(int64_t n_rows, const int64_t* rowptr, int64_t work_per_edge, int threads,
                       Work&& work) {
  if (n_rows <= 0) return;
  const int64_t total = rowptr[n_rows] - rowptr[0] + n_rows;
  threads = threads_for(total * work_per_edge, threads);
  if (threads <= 1) {
    work(int64_t(0), n_rows);
    return;
  }
  const int64_t chunks = std::min<int64_t>(n_rows, threads * kChunksPerThread);
  std::vector<int64_t> start(size_t(chunks) + 1);
  for (int64_t c = 0; c <= chunks; ++c) {
    // first row r with cost(r) = rowptr[r] - rowptr[0] + r >= c * total / chunks
    const int64_t target = c == chunks ? total + 1 : (c * total) / chunks;
    int64_t lo = 0, hi = n_rows;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (rowptr[mid] - rowptr[0] + mid < target) lo = mid + 1;
      else hi = mid;
    }
    start[size_t(c)] = c == chunks ? n_rows : lo;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t c = 0; c < chunks; ++c)
    if (start[size_t(c)] < start[size_t(c) + 1]) work(start[size_t(c)], start[size_t(c) + 1]);
}

// work(b, e) over [0, count) in equal static chunks.
template <typename Work>
void for_range(int64_t count, int64_t work_per_item, int threads, Work&& work) {
  threads = threads_for(count * work_per_item, threads);
  if (threads <= 1 || count <= 1) {
    if (count > 0) work(int64_t(0), count);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int t = 0; t < threads; ++t) {
    const int64_t b = count * t / threads, e = count * (t + 1) / threads;
    if (b < e) work(b, e);
  }
}

template <typename T>
inline void axpy(int64_t f, T v, const T* __restrict x, T* __restrict o) {
  for (int64_t j = 0; j < f; ++j) o[j] += v * x[j];
}

template <typename T>
inline T dot(int64_t f, const T* __restrict a, const T* __restrict b) {
  constexpr int L = lanes<T>();
  T acc[L] = {};
  int64_t j = 0;
  for (; j + L <= f; j += L)
    for (int k = 0; k < L; ++k) acc[k] += a[j + k] * b[j + k];
  T s = 0;
  for (int k = 0; k < L; ++k) s += acc[k];
  for (; j < f; ++j) s += a[j] * b[j];
  return s;
}

constexpr int64_t kMaxExpand = 1024;  // features per node for spmm's expanded head values
constexpr int64_t kPrefetch = 8;  // positions ahead: the gathered source rows are random reads

// Every cache line of a row of `bytes` (a 64-float row is 4 lines; the hardware fetches only a
// line pair on a miss).
inline void prefetch_row(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o);
}

}  // namespace

template <typename T>
void spmm(int64_t n_rows, int64_t heads, int64_t f, const int64_t* rowptr, const int64_t* col,
          const int64_t* eid, const T* val, const T* scale, const T* x, T* out, int threads) {
  const int64_t stride = heads * f;
  const int64_t end = rowptr[n_rows];
  const bool expand = val != nullptr && heads > 1 && f < 2 * lanes<T>() && stride <= kMaxExpand;
  for_rows_balanced(n_rows, rowptr, stride, threads, [&](int64_t r0, int64_t r1) {
    alignas(64) T vexp[kMaxExpand];
    for (int64_t i = r0; i < r1; ++i) {
      T* __restrict o = out + i * stride;
      std::fill(o, o + stride, T(0));
      for (int64_t p = rowptr[i]; p < rowptr[i + 1]; ++p) {
        if (p + kPrefetch < end)
          prefetch_row(x + col[p + kPrefetch] * stride, stride * int64_t(sizeof(T)));
        const T* xr = x + col[p] * stride;
        if (val == nullptr) {
          axpy(stride, T(1), xr, o);
        } else if (heads == 1) {
          axpy(stride, val[eid[p]], xr, o);
        } else if (expand) {
          // GAT's heads of 8 features: one value per head spread over its features, then one
          // full-width multiply-add (8-float axpys fill half an AVX-512 register)
          const T* v = val + eid[p] * heads;
          for (int64_t h = 0; h < heads; ++h)
            for (int64_t k = 0; k < f; ++k) vexp[h * f + k] = v[h];
          for (int64_t j = 0; j < stride; ++j) o[j] += vexp[j] * xr[j];
        } else {
          const T* v = val + eid[p] * heads;
          for (int64_t h = 0; h < heads; ++h) axpy(f, v[h], xr + h * f, o + h * f);
        }
      }
      if (scale != nullptr) {
        const T s = scale[i];
        for (int64_t j = 0; j < stride; ++j) o[j] *= s;
      }
    }
  });
}

template <typename T>
void sddmm(int64_t n_rows, int64_t heads, int64_t f, const int64_t* rowptr, const int64_t* col,
           const int64_t* eid, const T* a, const T* b, T* out, int threads) {
  const int64_t stride = heads * f;
  const int64_t end = rowptr[n_rows];
  for_rows_balanced(n_rows, rowptr, stride, threads, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const T* ar = a + i * stride;
      for (int64_t p = rowptr[i]; p < rowptr[i + 1]; ++p) {
        if (p + kPrefetch < end)
          prefetch_row(b + col[p + kPrefetch] * stride, stride * int64_t(sizeof(T)));
        const T* br = b + col[p] * stride;
        T* o = out + eid[p] * heads;
        for (int64_t h = 0; h < heads; ++h) o[h] = dot(f, ar + h * f, br + h * f);
      }
    }
  });
}

template <typename T>
void gather_rows(int64_t m, int64_t f, const int64_t* index, const T* scale, const T* x, T* out,
                 int threads) {
  for_range(m, f, threads, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      T* __restrict o = out + k * f;
      const int64_t r = index[k];
      if (r < 0) {
        std::fill(o, o + f, T(0));
        continue;
      }
      const T* __restrict xr = x + r * f;
      if (scale == nullptr) {
        std::copy(xr, xr + f, o);
      } else {
        const T s = scale[r];
        for (int64_t j = 0; j < f; ++j) o[j] = s * xr[j];
      }
    }
  });
}

// The running maximum keeps, per feature, the winning position's offset within the row in an
// integer of T's width (int32 for float, int64 for double): value and offset are selected with
// one mask in the same vector lanes, so the loop vectorizes (an int64 argmax next to float values
// did not, and ran ~6x slower than the sum); offsets become edge ids once per row.
template <typename T>
void segment_max(int64_t n_rows, int64_t f, const int64_t* rowptr, const int64_t* eid,
                 const T* src, T* out, int64_t* argmax, int threads) {
  using Offset = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  const int64_t end = rowptr[n_rows];
  for_rows_balanced(n_rows, rowptr, f, threads, [&](int64_t r0, int64_t r1) {
    std::vector<Offset> best(size_t(f > 0 ? f : 1));
    Offset* __restrict bo = best.data();
    for (int64_t i = r0; i < r1; ++i) {
      T* __restrict o = out + i * f;
      int64_t* __restrict am = argmax + i * f;
      const int64_t p0 = rowptr[i], p1 = rowptr[i + 1];
      if (p0 == p1) {
        std::fill(o, o + f, T(0));
        std::fill(am, am + f, int64_t(-1));
        continue;
      }
      const T* s0 = src + eid[p0] * f;
      for (int64_t j = 0; j < f; ++j) o[j] = s0[j], bo[j] = 0;
      for (int64_t p = p0 + 1; p < p1; ++p) {
        if (p + kPrefetch < end) prefetch_row(src + eid[p + kPrefetch] * f, f * int64_t(sizeof(T)));
        const T* __restrict s = src + eid[p] * f;
        const Offset k = Offset(p - p0);
        for (int64_t j = 0; j < f; ++j) {
          const T v = s[j], cur = o[j];
          const bool take = (v > cur) | ((v != v) & (cur == cur));  // NaN wins, and stays
          o[j] = take ? v : cur;
          bo[j] = take ? k : bo[j];
        }
      }
      for (int64_t j = 0; j < f; ++j) am[j] = eid[p0 + bo[j]];
    }
  });
}

template <typename T>
void max_place(int64_t n_rows, int64_t f, int64_t n_in, const int64_t* argmax, const T* g, T* out,
               int threads) {
  for_range(n_in * f, 1, threads, [&](int64_t b, int64_t e) { std::fill(out + b, out + e, T(0)); });
  for_range(n_rows, f, threads, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      for (int64_t j = 0; j < f; ++j) {
        const int64_t a = argmax[i * f + j];
        if (a >= 0) out[a * f + j] = g[i * f + j];
      }
  });
}

template <typename T>
void max_take(int64_t n_rows, int64_t f, const int64_t* argmax, const T* src, T* out,
              int threads) {
  for_range(n_rows, f, threads, [&](int64_t b, int64_t e) {
    for (int64_t k = b * f; k < e * f; ++k) {
      const int64_t a = argmax[k];
      out[k] = a >= 0 ? src[a * f + k % f] : T(0);
    }
  });
}

// Each output element is written once (the edges of a row lie scattered in edge order: a
// read-modify-write pass over them made threads fight over cache lines, 20x slower at 2 threads
// than at 1): the exponentials wait in a per-thread buffer in position order until the row's sum
// is known.
template <typename T>
void edge_softmax_forward(int64_t n_rows, int64_t heads, const int64_t* rowptr, const int64_t* eid,
                          const T* logits, T* out, int threads) {
  // per row: the heads of an edge are adjacent, so each pass reads an edge's heads together
  // (a head-outer loop gathered every edge's cache line once per head)
  for_rows_balanced(n_rows, rowptr, heads, threads, [&](int64_t r0, int64_t r1) {
    std::vector<T> mv(static_cast<size_t>(heads)), sv(static_cast<size_t>(heads)), ev;
    T* __restrict m = mv.data();
    T* __restrict s = sv.data();
    for (int64_t i = r0; i < r1; ++i) {
      const int64_t p0 = rowptr[i], p1 = rowptr[i + 1];
      std::fill(m, m + heads, T(-INFINITY));
      std::fill(s, s + heads, T(0));
      for (int64_t p = p0; p < p1; ++p) {
        const T* l = logits + eid[p] * heads;
        for (int64_t h = 0; h < heads; ++h) m[h] = std::max(m[h], l[h]);
      }
      // the row's exponentials in position order (this thread's buffer), then one write each
      if (ev.size() < size_t((p1 - p0) * heads)) ev.resize(size_t((p1 - p0) * heads));
      T* __restrict ex = ev.data();
      for (int64_t p = p0; p < p1; ++p) {
        const T* l = logits + eid[p] * heads;
        T* x = ex + (p - p0) * heads;
        for (int64_t h = 0; h < heads; ++h) s[h] += (x[h] = std::exp(l[h] - m[h]));
      }
      for (int64_t h = 0; h < heads; ++h) s[h] = T(1) / s[h];
      for (int64_t p = p0; p < p1; ++p) {
        const T* x = ex + (p - p0) * heads;
        T* o = out + eid[p] * heads;
        for (int64_t h = 0; h < heads; ++h) o[h] = x[h] * s[h];
      }
    }
  });
}

template <typename T>
void edge_softmax_backward(int64_t n_rows, int64_t heads, const int64_t* rowptr,
                           const int64_t* eid, const T* g, const T* y, T* out, int threads) {
  for_rows_balanced(n_rows, rowptr, heads, threads, [&](int64_t r0, int64_t r1) {
    std::vector<T> sv(static_cast<size_t>(heads));
    T* __restrict s = sv.data();
    for (int64_t i = r0; i < r1; ++i) {
      const int64_t p0 = rowptr[i], p1 = rowptr[i + 1];
      std::fill(s, s + heads, T(0));
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t k = eid[p] * heads;
        for (int64_t h = 0; h < heads; ++h) s[h] += g[k + h] * y[k + h];
      }
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t k = eid[p] * heads;
        for (int64_t h = 0; h < heads; ++h) out[k + h] = y[k + h] * (g[k + h] - s[h]);
      }
    }
  });
}

#define FASTDL_INSTANTIATE_GRAPH_KERNELS(T)                                                      \
  template void spmm<T>(int64_t, int64_t, int64_t, const int64_t*, const int64_t*,              \
                        const int64_t*, const T*, const T*, const T*, T*, int);                 \
  template void sddmm<T>(int64_t, int64_t, int64_t, const int64_t*, const int64_t*,             \
                         const int64_t*, const T*, const T*, T*, int);                          \
  template void gather_rows<T>(int64_t, int64_t, const int64_t*, const T*, const T*, T*, int);  \
  template void segment_max<T>(int64_t, int64_t, const int64_t*, const int64_t*, const T*, T*,  \
                               int64_t*, int);                                                  \
  template void max_place<T>(int64_t, int64_t, int64_t, const int64_t*, const T*, T*, int);     \
  template void max_take<T>(int64_t, int64_t, const int64_t*, const T*, T*, int);               \
  template void edge_softmax_forward<T>(int64_t, int64_t, const int64_t*, const int64_t*,       \
                                        const T*, T*, int);                                     \
  template void edge_softmax_backward<T>(int64_t, int64_t, const int64_t*, const int64_t*,      \
                                         const T*, const T*, T*, int);
FASTDL_INSTANTIATE_GRAPH_KERNELS(float)
FASTDL_INSTANTIATE_GRAPH_KERNELS(double)
#undef FASTDL_INSTANTIATE_GRAPH_KERNELS

}  // namespace fastdl::cpu::FASTDL_ISA
