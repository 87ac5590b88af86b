// CUDA graph kernels (device code and launchers), float and double: see graph.h. Compiled by
// nvcc into _C_cuda and by the host compiler into the emulator (_C_cudaemu).
#include <cmath>
#include <cstdint>

#include "cuda/common/kernel_utils.cuh"
#include "cuda/common/launch.cuh"
#include "cuda/graph/graph.h"

namespace fastdl::cuda {

namespace graph_detail {

constexpr int kRowThreads = 128;    // SpMM: threads of a block, over one row's features
constexpr unsigned kMaxBlocks = 1u << 16;

// SpMM: block b takes rows b, b + gridDim.x, ...; thread j the features j, j + blockDim.x, ...
template <typename T>
__global__ void spmm_kernel(int64_t n_rows, int64_t heads, int64_t f,
                            const int64_t* __restrict__ rowptr, const int64_t* __restrict__ col,
                            const int64_t* __restrict__ eid, const T* __restrict__ val,
                            const T* __restrict__ scale, const T* __restrict__ x,
                            T* __restrict__ out) {
  const int64_t stride = heads * f;
  for (int64_t i = blockIdx.x; i < n_rows; i += gridDim.x) {
    const int64_t p0 = rowptr[i], p1 = rowptr[i + 1];
    for (int64_t j = threadIdx.x; j < stride; j += blockDim.x) {
      const int64_t h = j / f;
      T acc = T(0);
      for (int64_t p = p0; p < p1; ++p) {
        const T v = val == nullptr ? T(1) : val[eid[p] * heads + h];
        acc += v * x[col[p] * stride + j];
      }
      out[i * stride + j] = scale == nullptr ? acc : acc * scale[i];
    }
  }
}

// The row holding position p: the last i with rowptr[i] <= p (rows may be empty).
__device__ __forceinline__ int64_t row_of(const int64_t* __restrict__ rowptr, int64_t n_rows,
                                          int64_t p) {
  int64_t lo = 0, hi = n_rows;  // answer in [lo, hi)
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (rowptr[mid] <= p) lo = mid;
    else hi = mid;
  }
  return lo;
}

// SDDMM: one thread per (position, head).
template <typename T>
__global__ void sddmm_kernel(int64_t n_rows, int64_t heads, int64_t f,
                             const int64_t* __restrict__ rowptr, const int64_t* __restrict__ col,
                             const int64_t* __restrict__ eid, const T* __restrict__ a,
                             const T* __restrict__ b, T* __restrict__ out) {
  const int64_t positions = rowptr[n_rows];
  const int64_t stride = heads * f;
  for (int64_t k = kutil::global_thread(); k < positions * heads; k += kutil::grid_threads()) {
    const int64_t p = k / heads, h = k % heads;
    const int64_t i = row_of(rowptr, n_rows, p);
    const T* ar = a + i * stride + h * f;
    const T* br = b + col[p] * stride + h * f;
    T s = T(0);
    for (int64_t j = 0; j < f; ++j) s += ar[j] * br[j];
    out[eid[p] * heads + h] = s;
  }
}

template <typename T>
__global__ void gather_rows_kernel(int64_t m, int64_t f, const int64_t* __restrict__ index,
                                   const T* __restrict__ scale, const T* __restrict__ x,
                                   T* __restrict__ out) {
  for (int64_t k = kutil::global_thread(); k < m * f; k += kutil::grid_threads()) {
    const int64_t r = index[k / f];
    out[k] = r < 0 ? T(0) : (scale == nullptr ? T(1) : scale[r]) * x[r * f + k % f];
  }
}

// One thread per (row, feature); the first of equal maxima wins, a NaN wins and stays.
template <typename T>
__global__ void segment_max_kernel(int64_t n_rows, int64_t f, const int64_t* __restrict__ rowptr,
                                   const int64_t* __restrict__ eid, const T* __restrict__ src,
                                   T* __restrict__ out, int64_t* __restrict__ argmax) {
  for (int64_t k = kutil::global_thread(); k < n_rows * f; k += kutil::grid_threads()) {
    const int64_t i = k / f, j = k % f;
    const int64_t p0 = rowptr[i], p1 = rowptr[i + 1];
    T best = T(0);
    int64_t arg = -1;
    for (int64_t p = p0; p < p1; ++p) {
      const T v = src[eid[p] * f + j];
      if (arg < 0 || v > best || (v != v && best == best)) best = v, arg = eid[p];
    }
    out[k] = best;
    argmax[k] = arg;
  }
}

template <typename T>
__global__ void fill_zero_kernel(T* __restrict__ data, int64_t total) {
  for (int64_t k = kutil::global_thread(); k < total; k += kutil::grid_threads()) data[k] = T(0);
}

// Distinct segments own distinct source rows: no two threads write one element.
template <typename T>
__global__ void max_place_kernel(int64_t n_rows, int64_t f, const int64_t* __restrict__ argmax,
                                 const T* __restrict__ g, T* __restrict__ out) {
  for (int64_t k = kutil::global_thread(); k < n_rows * f; k += kutil::grid_threads()) {
    const int64_t a = argmax[k];
    if (a >= 0) out[a * f + k % f] = g[k];
  }
}

template <typename T>
__global__ void max_take_kernel(int64_t n_rows, int64_t f, const int64_t* __restrict__ argmax,
                                const T* __restrict__ src, T* __restrict__ out) {
  for (int64_t k = kutil::global_thread(); k < n_rows * f; k += kutil::grid_threads()) {
    const int64_t a = argmax[k];
    out[k] = a >= 0 ? src[a * f + k % f] : T(0);
  }
}

// One thread per (row, head): max, sum of exponentials, normalized write.
template <typename T>
__global__ void edge_softmax_forward_kernel(int64_t n_rows, int64_t heads,
                                            const int64_t* __restrict__ rowptr,
                                            const int64_t* __restrict__ eid,
                                            const T* __restrict__ logits, T* __restrict__ out) {
  for (int64_t k = kutil::global_thread(); k < n_rows * heads; k += kutil::grid_threads()) {
    const int64_t i = k / heads, h = k % heads;
    const int64_t p0 = rowptr[i], p1 = rowptr[i + 1];
    T m = T(-INFINITY);
    for (int64_t p = p0; p < p1; ++p) m = fmax(m, logits[eid[p] * heads + h]);
    T s = T(0);
    for (int64_t p = p0; p < p1; ++p) {
      const T v = exp(logits[eid[p] * heads + h] - m);
      out[eid[p] * heads + h] = v;
      s += v;
    }
    const T inv = T(1) / s;
    for (int64_t p = p0; p < p1; ++p) out[eid[p] * heads + h] *= inv;
  }
}

template <typename T>
__global__ void edge_softmax_backward_kernel(int64_t n_rows, int64_t heads,
                                             const int64_t* __restrict__ rowptr,
                                             const int64_t* __restrict__ eid,
                                             const T* __restrict__ g, const T* __restrict__ y,
                                             T* __restrict__ out) {
  for (int64_t k = kutil::global_thread(); k < n_rows * heads; k += kutil::grid_threads()) {
    const int64_t i = k / heads, h = k % heads;
    const int64_t p0 = rowptr[i], p1 = rowptr[i + 1];
    T s = T(0);
    for (int64_t p = p0; p < p1; ++p) s += g[eid[p] * heads + h] * y[eid[p] * heads + h];
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t e = eid[p] * heads + h;
      out[e] = y[e] * (g[e] - s);
    }
  }
}

}  // namespace graph_detail

namespace {

cudaStream_t as_stream(void* handle) { return static_cast<cudaStream_t>(handle); }

template <class... Params, class... Args>
void launch_elementwise(void (*kernel)(Params...), int64_t total, void* stream, Args&&... args) {
  if (total <= 0) return;
  launch(kernel, dim3(kutil::elementwise_blocks(total)), dim3(kutil::kElementwiseThreads), 0,
         as_stream(stream), static_cast<Args&&>(args)...);
}

}  // namespace

template <typename T>
void graph_spmm(int64_t n_rows, int64_t heads, int64_t f, const int64_t* rowptr,
                const int64_t* col, const int64_t* eid, const T* val, const T* scale, const T* x,
                T* out, void* stream) {
  if (n_rows <= 0 || heads * f <= 0) return;
  const unsigned blocks = unsigned(kutil::imin(n_rows, graph_detail::kMaxBlocks));
  // a block's threads cover the row's features (a multiple of a warp, at most kRowThreads)
  const int64_t threads = kutil::imin(graph_detail::kRowThreads,
                                      kutil::ceil_div(heads * f, 32) * 32);
  launch(graph_detail::spmm_kernel<T>, dim3(blocks), dim3(unsigned(threads)), 0,
         as_stream(stream), n_rows, heads, f, rowptr, col, eid, val, scale, x, out);
}

template <typename T>
void graph_sddmm(int64_t n_rows, int64_t heads, int64_t f, int64_t positions,
                 const int64_t* rowptr, const int64_t* col, const int64_t* eid, const T* a,
                 const T* b, T* out, void* stream) {
  if (n_rows <= 0) return;
  launch_elementwise(graph_detail::sddmm_kernel<T>, positions * heads, stream, n_rows, heads, f,
                     rowptr, col, eid, a, b, out);
}

template <typename T>
void graph_gather_rows(int64_t m, int64_t f, const int64_t* index, const T* scale, const T* x,
                       T* out, void* stream) {
  launch_elementwise(graph_detail::gather_rows_kernel<T>, m * f, stream, m, f, index, scale, x,
                     out);
}

template <typename T>
void graph_segment_max(int64_t n_rows, int64_t f, const int64_t* rowptr, const int64_t* eid,
                       const T* src, T* out, int64_t* argmax, void* stream) {
  launch_elementwise(graph_detail::segment_max_kernel<T>, n_rows * f, stream, n_rows, f, rowptr,
                     eid, src, out, argmax);
}

template <typename T>
void graph_max_place(int64_t n_rows, int64_t f, int64_t n_in, const int64_t* argmax, const T* g,
                     T* out, void* stream) {
  launch_elementwise(graph_detail::fill_zero_kernel<T>, n_in * f, stream, out, n_in * f);
  launch_elementwise(graph_detail::max_place_kernel<T>, n_rows * f, stream, n_rows, f, argmax, g,
                     out);
}

template <typename T>
void graph_max_take(int64_t n_rows, int64_t f, const int64_t* argmax, const T* src, T* out,
                    void* stream) {
  launch_elementwise(graph_detail::max_take_kernel<T>, n_rows * f, stream, n_rows, f, argmax, src,
                     out);
}

template <typename T>
void graph_edge_softmax_forward(int64_t n_rows, int64_t heads, const int64_t* rowptr,
                                const int64_t* eid, const T* logits, T* out, void* stream) {
  launch_elementwise(graph_detail::edge_softmax_forward_kernel<T>, n_rows * heads, stream, n_rows,
                     heads, rowptr, eid, logits, out);
}

template <typename T>
void graph_edge_softmax_backward(int64_t n_rows, int64_t heads, const int64_t* rowptr,
                                 const int64_t* eid, const T* g, const T* y, T* out,
                                 void* stream) {
  launch_elementwise(graph_detail::edge_softmax_backward_kernel<T>, n_rows * heads, stream, n_rows,
                     heads, rowptr, eid, g, y, out);
}

#define FASTDL_GRAPH_INSTANTIATE(T)                                                              \
  template void graph_spmm<T>(int64_t, int64_t, int64_t, const int64_t*, const int64_t*,        \
                              const int64_t*, const T*, const T*, const T*, T*, void*);         \
  template void graph_sddmm<T>(int64_t, int64_t, int64_t, int64_t, const int64_t*,             \
                               const int64_t*, const int64_t*, const T*, const T*, T*, void*);  \
  template void graph_gather_rows<T>(int64_t, int64_t, const int64_t*, const T*, const T*, T*,  \
                                     void*);                                                    \
  template void graph_segment_max<T>(int64_t, int64_t, const int64_t*, const int64_t*,          \
                                     const T*, T*, int64_t*, void*);                            \
  template void graph_max_place<T>(int64_t, int64_t, int64_t, const int64_t*, const T*, T*,     \
                                   void*);                                                      \
  template void graph_max_take<T>(int64_t, int64_t, const int64_t*, const T*, T*, void*);       \
  template void graph_edge_softmax_forward<T>(int64_t, int64_t, const int64_t*, const int64_t*, \
                                              const T*, T*, void*);                             \
  template void graph_edge_softmax_backward<T>(int64_t, int64_t, const int64_t*,                \
                                               const int64_t*, const T*, const T*, T*, void*);
FASTDL_GRAPH_INSTANTIATE(float)
FASTDL_GRAPH_INSTANTIATE(double)
#undef FASTDL_GRAPH_INSTANTIATE

}  // namespace fastdl::cuda
