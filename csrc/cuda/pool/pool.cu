// Host side of the pooling and interpolation kernels (float and double, one body): geometry
// checks, torch's scale rules for interpolation, grid sizes, launches through the launch helper.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/common/kernel_utils.cuh"
#include "cuda/common/launch.cuh"
#include "cuda/pool/pool.h"
#include "cuda/pool/pool_kernels.cuh"

namespace fastdl::cuda {

namespace {

using pool_detail::Planes;
using pool_detail::Window;

Planes make_planes(const PoolGeometry& g) {
  Planes p{};
  p.planes = g.planes;
  p.in_size = p.out_size = 1;
  if (g.planes < 0) throw std::invalid_argument("pool: negative number of planes");
  for (int a = 0; a < 3; ++a) {
    if (g.in[a] < 0 || g.out[a] < 0) throw std::invalid_argument("pool: negative spatial size");
    p.in[a] = g.in[a], p.out[a] = g.out[a];
    p.in_size *= g.in[a], p.out_size *= g.out[a];
  }
  return p;
}

Window make_window(const PoolWindow& w) {
  Window k{};
  for (int a = 0; a < 3; ++a) {
    if (w.kernel[a] < 1 || w.stride[a] < 1 || w.dil[a] < 1 || w.pad[a] < 0)
      throw std::invalid_argument("pool: kernel, stride and dilation must be >= 1, padding >= 0");
    k.kernel[a] = w.kernel[a], k.stride[a] = w.stride[a], k.pad[a] = w.pad[a], k.dil[a] = w.dil[a];
  }
  return k;
}

// One thread per item of `total`, grid-stride.
template <class... Params, class... Args>
void launch_elementwise(void (*kernel)(Params...), int64_t total, cudaStream_t stream,
                        Args&&... args) {
  launch(kernel, dim3(kutil::elementwise_blocks(total)), dim3(kutil::kElementwiseThreads), 0,
         stream, static_cast<Args&&>(args)...);
}

cudaStream_t as_stream(void* handle) { return static_cast<cudaStream_t>(handle); }

template <typename T>
pool_detail::Interp<T> make_interp(const PoolGeometry& g, int rank, InterpMode mode,
                                   bool align_corners, const double* scales) {
  if (rank < 1 || rank > 3) throw std::invalid_argument("interpolate: spatial rank must be 1..3");
  if (mode == InterpMode::cubic && rank != 2)
    throw std::invalid_argument("interpolate: cubic needs 2 spatial dimensions");
  pool_detail::Interp<T> ip{};
  ip.p = make_planes(g);
  for (int a = 0; a < 3; ++a) {
    auto& d = ip.dim[a];
    d.in = g.in[a], d.out = g.out[a], d.align_corners = align_corners;
    const double scale = scales ? scales[a] : 0.0;
    if (a < 3 - rank || d.out == 0 || d.in == 0) {
      d.rule = pool_detail::TapRule::identity;
      continue;
    }
    // torch's compute_scales_value / area_pixel_compute_scale.
    d.nearest_scale = scale > 0 ? float(1.0 / scale) : float(d.in) / float(d.out);
    if (align_corners)
      d.scale = d.out > 1 ? T(d.in - 1) / T(d.out - 1) : T(0);
    else
      d.scale = scale > 0 ? T(1.0 / scale) : T(d.in) / T(d.out);
    switch (mode) {
      case InterpMode::nearest: d.rule = pool_detail::TapRule::nearest; break;
      case InterpMode::nearest_exact: d.rule = pool_detail::TapRule::nearest_exact; break;
      case InterpMode::linear:
        // torch copies along a dimension whose size does not change.
        d.rule = d.in == d.out ? pool_detail::TapRule::identity : pool_detail::TapRule::linear;
        break;
      case InterpMode::cubic:
        // No shortcut for an unchanged size: with a scale_factor given, torch 2.13 resamples
        // (and with scale 1 the cubic weights are exactly 0, 1, 0, 0).
        d.rule = pool_detail::TapRule::cubic;
        break;
    }
  }
  return ip;
}

}  // namespace

template <typename T>
void max_pool_forward(const PoolGeometry& g, const PoolWindow& w, const T* x, T* out,
                      int64_t* indices, void* stream) {
  const Planes p = make_planes(g);
  const Window k = make_window(w);
  const int64_t total = p.planes * p.out_size;
  if (total == 0) return;
  launch_elementwise(pool_detail::max_pool_forward_kernel<T>, total, as_stream(stream), p, k, x,
                     out, indices);
}

template <typename T>
void max_pool_backward(const PoolGeometry& g, const T* grad_out, const int64_t* indices,
                       T* grad_input, void* stream) {
  const Planes p = make_planes(g);
  const int64_t in_total = p.planes * p.in_size, out_total = p.planes * p.out_size;
  if (in_total == 0) return;
  launch_elementwise(pool_detail::fill_zero_kernel<T>, in_total, as_stream(stream), grad_input,
                     in_total);
  if (out_total == 0) return;
  launch_elementwise(pool_detail::scatter_add_kernel<T>, out_total, as_stream(stream), p, grad_out,
                     indices, grad_input);
}

template <typename T>
void max_unpool_forward(const PoolGeometry& g, const T* x, const int64_t* indices, T* out,
                        void* stream) {
  const Planes p = make_planes(g);
  const int64_t in_total = p.planes * p.in_size, out_total = p.planes * p.out_size;
  if (out_total == 0) return;
  launch_elementwise(pool_detail::fill_zero_kernel<T>, out_total, as_stream(stream), out, out_total);
  if (in_total == 0) return;
  launch_elementwise(pool_detail::scatter_store_kernel<T>, in_total, as_stream(stream), p, x,
                     indices, out);
}

template <typename T>
void gather_by_index(const PoolGeometry& g, const T* src, const int64_t* indices, T* out,
                     void* stream) {
  const Planes p = make_planes(g);
  const int64_t total = p.planes * p.out_size;
  if (total == 0) return;
  launch_elementwise(pool_detail::gather_kernel<T>, total, as_stream(stream), p, src, indices, out);
}

template <typename T>
void avg_pool_forward(const PoolGeometry& g, const PoolWindow& w, bool /*ceil_mode*/,
                      bool count_include_pad, int64_t divisor_override, const T* x, T* out,
                      void* stream) {
  const Planes p = make_planes(g);
  const Window k = make_window(w);
  const int64_t total = p.planes * p.out_size;
  if (total == 0) return;
  launch_elementwise(pool_detail::avg_pool_forward_kernel<T>, total, as_stream(stream), p, k,
                     pool_detail::AvgOptions{count_include_pad, divisor_override}, x, out);
}

template <typename T>
void avg_pool_backward(const PoolGeometry& g, const PoolWindow& w, bool /*ceil_mode*/,
                       bool count_include_pad, int64_t divisor_override, const T* grad_out,
                       T* grad_input, void* stream) {
  const Planes p = make_planes(g);
  const Window k = make_window(w);
  const int64_t total = p.planes * p.in_size;
  if (total == 0) return;
  launch_elementwise(pool_detail::avg_pool_backward_kernel<T>, total, as_stream(stream), p, k,
                     pool_detail::AvgOptions{count_include_pad, divisor_override}, grad_out,
                     grad_input);
}

template <typename T>
void adaptive_avg_pool_forward(const PoolGeometry& g, const T* x, T* out, void* stream) {
  const Planes p = make_planes(g);
  const int64_t total = p.planes * p.out_size;
  if (total == 0) return;
  if (p.in_size == 0) throw std::invalid_argument("adaptive_avg_pool: empty input plane");
  launch_elementwise(pool_detail::adaptive_avg_pool_forward_kernel<T>, total, as_stream(stream), p,
                     x, out);
}

template <typename T>
void adaptive_avg_pool_backward(const PoolGeometry& g, const T* grad_out, T* grad_input,
                                void* stream) {
  const Planes p = make_planes(g);
  const int64_t total = p.planes * p.in_size;
  if (total == 0) return;
  if (p.out_size == 0) {
    launch_elementwise(pool_detail::fill_zero_kernel<T>, total, as_stream(stream), grad_input, total);
    return;
  }
  launch_elementwise(pool_detail::adaptive_avg_pool_backward_kernel<T>, total, as_stream(stream),
                     p, grad_out, grad_input);
}

template <typename T>
void adaptive_max_pool_forward(const PoolGeometry& g, const T* x, T* out, int64_t* indices,
                               void* stream) {
  const Planes p = make_planes(g);
  const int64_t total = p.planes * p.out_size;
  if (total == 0) return;
  if (p.in_size == 0) throw std::invalid_argument("adaptive_max_pool: empty input plane");
  launch_elementwise(pool_detail::adaptive_max_pool_forward_kernel<T>, total, as_stream(stream), p,
                     x, out, indices);
}

template <typename T>
void interpolate_forward(const PoolGeometry& g, int rank, InterpMode mode, bool align_corners,
                         const double* scales, const T* x, T* out, void* stream) {
  const auto ip = make_interp<T>(g, rank, mode, align_corners, scales);
  const int64_t total = ip.p.planes * ip.p.out_size;
  if (total == 0) return;
  if (ip.p.in_size == 0) throw std::invalid_argument("interpolate: empty input plane");
  launch_elementwise(pool_detail::interpolate_forward_kernel<T>, total, as_stream(stream), ip, x,
                     out);
}

template <typename T>
void interpolate_backward(const PoolGeometry& g, int rank, InterpMode mode, bool align_corners,
                          const double* scales, const T* grad_out, T* grad_input, void* stream) {
  const auto ip = make_interp<T>(g, rank, mode, align_corners, scales);
  const int64_t total = ip.p.planes * ip.p.in_size;
  if (total == 0) return;
  launch_elementwise(pool_detail::interpolate_backward_kernel<T>, total, as_stream(stream), ip,
                     grad_out, grad_input);
}

#define FASTDL_POOL_INSTANTIATE(T)                                                                 \
  template void max_pool_forward<T>(const PoolGeometry&, const PoolWindow&, const T*, T*,          \
                                    int64_t*, void*);                                              \
  template void max_pool_backward<T>(const PoolGeometry&, const T*, const int64_t*, T*, void*);    \
  template void max_unpool_forward<T>(const PoolGeometry&, const T*, const int64_t*, T*, void*);   \
  template void gather_by_index<T>(const PoolGeometry&, const T*, const int64_t*, T*, void*);      \
  template void avg_pool_forward<T>(const PoolGeometry&, const PoolWindow&, bool, bool, int64_t,   \
                                    const T*, T*, void*);                                          \
  template void avg_pool_backward<T>(const PoolGeometry&, const PoolWindow&, bool, bool, int64_t,  \
                                     const T*, T*, void*);                                         \
  template void adaptive_avg_pool_forward<T>(const PoolGeometry&, const T*, T*, void*);            \
  template void adaptive_avg_pool_backward<T>(const PoolGeometry&, const T*, T*, void*);           \
  template void adaptive_max_pool_forward<T>(const PoolGeometry&, const T*, T*, int64_t*, void*);  \
  template void interpolate_forward<T>(const PoolGeometry&, int, InterpMode, bool, const double*,  \
                                       const T*, T*, void*);                                       \
  template void interpolate_backward<T>(const PoolGeometry&, int, InterpMode, bool, const double*, \
                                        const T*, T*, void*);
FASTDL_POOL_INSTANTIATE(float)
FASTDL_POOL_INSTANTIATE(double)
#undef FASTDL_POOL_INSTANTIATE

}  // namespace fastdl::cuda
