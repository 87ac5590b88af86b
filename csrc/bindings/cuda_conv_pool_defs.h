#pragma once
// The conv and pool functions of _C_cuda (cupy arrays) and _C_cudaemu (numpy arrays, the same
// kernels run by the CUDA emulator), defined once: argument checks, geometry, dtype dispatch.
// A module supplies a Runner that knows its memory (device type), runs a call (releases the GIL;
// on a GPU: the arrays' device, launch-error check; in the emulator: the schedule), and the extra
// trailing parameters of its functions (stream=0 [, schedule=..., seed=..., workers=...]).
//
// Interface (BRIEF.md "The conv/pool kernel interface"): arrays C-contiguous, float32 or float64
// (one dtype per call), indices int64; spatial rank 1..3; outputs fully overwritten.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bindings/array_checks.h"
#include "cuda/conv/conv.h"
#include "cuda/pool/pool.h"

namespace fastdl::bind::convpool {

namespace nb = nanobind;
using Array = nb::ndarray<>;
using InArray = nb::ndarray<nb::ro>;
using Ints = std::vector<int64_t>;

[[noreturn]] inline void fail_value(const std::string& msg) { throw nb::value_error(msg.c_str()); }
[[noreturn]] inline void fail_type(const std::string& msg) { throw nb::type_error(msg.c_str()); }

inline std::string ints_str(const Ints& v) {  // std::to_string: see shape_str
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// Checks one array: memory kind and C-contiguity.
template <class Runner>
void check_array(const Runner& run, const Array& a, const char* fn, const char* name) {
  require_device(a, run.device_type(), fn, name, run.where());
  if (!is_c_contiguous(a))
    fail_value(std::string(fn) + ": " + name + " must be C-contiguous, got shape " +
               shape_str(a) + " with other strides");
}

template <class Runner>
FloatType check_float(const Runner& run, const Array& a, const char* fn, const char* name) {
  check_array(run, a, fn, name);
  return require_float32_or_64(a, fn, name);
}

inline void require_same_dtype(const Array& a, const Array& b, const char* fn, const char* an,
                               const char* bn) {
  if (a.dtype() != b.dtype())
    fail_type(std::string(fn) + ": " + an + " and " + bn + " must have the same dtype, got " +
              dtype_str(a.dtype()) + " " + shape_str(a) + " and " + dtype_str(b.dtype()) + " " +
              shape_str(b));
}

template <class Runner>
void check_indices(const Runner& run, const Array& a, const char* fn, const char* name) {
  check_array(run, a, fn, name);
  if (a.dtype() != nb::dtype<int64_t>())
    fail_type(std::string(fn) + ": " + name + " must be int64, got " + dtype_str(a.dtype()) +
              " with shape " + shape_str(a));
}

inline void require_same_device(const Array& a, const Array& b, const char* fn) {
  if (a.device_id() != b.device_id())
    fail_value(std::string(fn) + ": arrays on different devices (" + std::to_string(a.device_id()) +
               " and " + std::to_string(b.device_id()) + ")");
}

inline void require_no_overlap(const Array& out, const Array& in, const char* fn, const char* on,
                               const char* in_name) {
  if (may_overlap(out, in))
    fail_value(std::string(fn) + ": " + on + " overlaps " + in_name);
}

// Spatial rank of an (N, C, *spatial) array: 1..3.
inline int spatial_rank(const Array& a, const char* fn, const char* name) {
  if (a.ndim() < 3 || a.ndim() > 5)
    fail_value(std::string(fn) + ": " + name + " must be (N, C, *spatial) with 1 to 3 spatial " +
               "dimensions, got shape " + shape_str(a));
  return int(a.ndim()) - 2;
}

inline void require_rank(const Array& a, int d, const char* fn, const char* name) {
  if (int(a.ndim()) != d + 2)
    fail_value(std::string(fn) + ": " + name + " must have " + std::to_string(d + 2) +
               " dimensions, got shape " + shape_str(a));
}

inline void require_list(const Ints& v, int d, int64_t min, const char* fn, const char* name) {
  if (int(v.size()) != d)
    fail_value(std::string(fn) + ": " + name + " must have " + std::to_string(d) +
               " entries (one per spatial dimension), got " + ints_str(v));
  for (int64_t e : v)
    if (e < min)
      fail_value(std::string(fn) + ": " + name + " entries must be >= " + std::to_string(min) +
                 ", got " + ints_str(v));
}

// Spatial size `a` of array `x` (spatial dims are the last d), placed in the last d of three.
inline void spatial_into(const Array& x, int d, int64_t (&dst)[3]) {
  for (int a = 0; a < 3; ++a) dst[a] = 1;
  for (int a = 0; a < d; ++a) dst[3 - d + a] = int64_t(x.shape(2 + a));
}
inline void list_into(const Ints& v, int64_t fill, int64_t (&dst)[3]) {
  const int d = int(v.size());
  for (int a = 0; a < 3; ++a) dst[a] = fill;
  for (int a = 0; a < d; ++a) dst[3 - d + a] = v[a];
}

// ---------------------------------------------------------------------------------------------
// Convolution

struct ConvLists {
  const Ints &stride, &padding, &dilation;
  int64_t groups;
};

inline cuda::ConvGeometry conv_geometry(int d, int64_t n, int64_t c, int64_t k, const Array& in,
                                        const Array& out, const Array& weight, const ConvLists& l,
                                        const char* fn) {
  require_list(l.stride, d, 1, fn, "stride");
  require_list(l.padding, d, 0, fn, "padding");
  require_list(l.dilation, d, 1, fn, "dilation");
  if (l.groups < 1 || c % l.groups != 0 || k % l.groups != 0)
    fail_value(std::string(fn) + ": groups=" + std::to_string(l.groups) + " must be >= 1 and " +
               "divide the input channels (" + std::to_string(c) + ") and output channels (" +
               std::to_string(k) + ")");
  if (int64_t(weight.shape(0)) != k || int64_t(weight.shape(1)) * l.groups != c)
    fail_value(std::string(fn) + ": weight of shape " + shape_str(weight) + " does not fit " +
               std::to_string(c) + " input channels, " + std::to_string(k) +
               " output channels and groups=" + std::to_string(l.groups));
  cuda::ConvGeometry g;
  g.n = n, g.c = c, g.k = k, g.groups = l.groups;
  spatial_into(in, d, g.in);
  spatial_into(out, d, g.out);
  spatial_into(weight, d, g.ker);
  list_into(l.stride, 1, g.stride);
  list_into(l.padding, 0, g.pad);
  list_into(l.dilation, 1, g.dil);
  for (int a = 0; a < 3; ++a)
    if (g.ker[a] < 1)
      fail_value(std::string(fn) + ": empty kernel, weight shape " + shape_str(weight));
  return g;
}

template <class Runner>
void conv_forward(const Runner& run, const InArray& x_ro, const InArray& w_ro,
                  const std::optional<InArray>& bias_ro, const Array& out, const Ints& stride,
                  const Ints& padding, const Ints& dilation, int64_t groups) {
  const char* fn = "conv_forward";
  const Array x(x_ro), w(w_ro);
  const FloatType dt = check_float(run, x, fn, "x");
  check_float(run, w, fn, "weight"), check_float(run, out, fn, "out");
  require_same_dtype(x, w, fn, "x", "weight"), require_same_dtype(x, out, fn, "x", "out");
  const int d = spatial_rank(x, fn, "x");
  require_rank(w, d, fn, "weight"), require_rank(out, d, fn, "out");
  require_same_device(x, out, fn), require_same_device(w, out, fn);
  const int64_t n = x.shape(0), c = x.shape(1), k = w.shape(0);
  if (int64_t(out.shape(0)) != n || int64_t(out.shape(1)) != k)
    fail_value(std::string(fn) + ": out of shape " + shape_str(out) + " does not fit x " +
               shape_str(x) + " and weight " + shape_str(w));
  const cuda::ConvGeometry g =
      conv_geometry(d, n, c, k, x, out, w, {stride, padding, dilation, groups}, fn);
  for (int a = 3 - d; a < 3; ++a) {
    const int64_t span = g.dil[a] * (g.ker[a] - 1) + 1, padded = g.in[a] + 2 * g.pad[a];
    const int64_t want = padded >= span ? (padded - span) / g.stride[a] + 1 : 0;
    if (want < 1 || g.out[a] != want)
      fail_value(std::string(fn) + ": out of shape " + shape_str(out) + " does not match x " +
                 shape_str(x) + ", weight " + shape_str(w) + ", stride " + ints_str(stride) +
                 ", padding " + ints_str(padding) + ", dilation " + ints_str(dilation));
  }
  std::optional<Array> bias;
  if (bias_ro) {
    bias.emplace(*bias_ro);
    check_float(run, *bias, fn, "bias");
    require_same_dtype(x, *bias, fn, "x", "bias");
    require_same_device(*bias, out, fn);
    if (bias->ndim() != 1 || int64_t(bias->shape(0)) != k)
      fail_value(std::string(fn) + ": bias must have shape (" + std::to_string(k) + ",), got " +
                 shape_str(*bias));
    require_no_overlap(out, *bias, fn, "out", "bias");
  }
  require_no_overlap(out, x, fn, "out", "x"), require_no_overlap(out, w, fn, "out", "weight");
  run(out, [&](void* stream) {
    if (dt == FloatType::float64)
      cuda::conv_forward<double>(g, static_cast<const double*>(x.data()),
                                 static_cast<const double*>(w.data()),
                                 bias ? static_cast<const double*>(bias->data()) : nullptr,
                                 static_cast<double*>(out.data()), stream, run.algo());
    else
      cuda::conv_forward<float>(g, static_cast<const float*>(x.data()),
                                static_cast<const float*>(w.data()),
                                bias ? static_cast<const float*>(bias->data()) : nullptr,
                                static_cast<float*>(out.data()), stream, run.algo());
  });
}

template <class Runner>
void conv_backward_input(const Runner& run, const InArray& go_ro, const InArray& w_ro,
                         const Array& gi, const Ints& stride, const Ints& padding,
                         const Ints& dilation, int64_t groups) {
  const char* fn = "conv_backward_input";
  const Array go(go_ro), w(w_ro);
  const FloatType dt = check_float(run, go, fn, "grad_out");
  check_float(run, w, fn, "weight"), check_float(run, gi, fn, "grad_input");
  require_same_dtype(go, w, fn, "grad_out", "weight");
  require_same_dtype(go, gi, fn, "grad_out", "grad_input");
  const int d = spatial_rank(go, fn, "grad_out");
  require_rank(w, d, fn, "weight"), require_rank(gi, d, fn, "grad_input");
  require_same_device(go, gi, fn), require_same_device(w, gi, fn);
  const int64_t n = gi.shape(0), c = gi.shape(1), k = w.shape(0);
  if (int64_t(go.shape(0)) != n || int64_t(go.shape(1)) != k)
    fail_value(std::string(fn) + ": grad_out of shape " + shape_str(go) + " does not fit " +
               "grad_input " + shape_str(gi) + " and weight " + shape_str(w));
  const cuda::ConvGeometry g =
      conv_geometry(d, n, c, k, gi, go, w, {stride, padding, dilation, groups}, fn);
  require_no_overlap(gi, go, fn, "grad_input", "grad_out");
  require_no_overlap(gi, w, fn, "grad_input", "weight");
  run(gi, [&](void* stream) {
    if (dt == FloatType::float64)
      cuda::conv_backward_input<double>(g, static_cast<const double*>(go.data()),
                                        static_cast<const double*>(w.data()),
                                        static_cast<double*>(gi.data()), stream, run.algo());
    else
      cuda::conv_backward_input<float>(g, static_cast<const float*>(go.data()),
                                       static_cast<const float*>(w.data()),
                                       static_cast<float*>(gi.data()), stream, run.algo());
  });
}

template <class Runner>
void conv_backward_weight(const Runner& run, const InArray& x_ro, const InArray& go_ro,
                          const Array& gw, const Ints& stride, const Ints& padding,
                          const Ints& dilation, int64_t groups) {
  const char* fn = "conv_backward_weight";
  const Array x(x_ro), go(go_ro);
  const FloatType dt = check_float(run, x, fn, "x");
  check_float(run, go, fn, "grad_out"), check_float(run, gw, fn, "grad_weight");
  require_same_dtype(x, go, fn, "x", "grad_out");
  require_same_dtype(x, gw, fn, "x", "grad_weight");
  const int d = spatial_rank(x, fn, "x");
  require_rank(go, d, fn, "grad_out"), require_rank(gw, d, fn, "grad_weight");
  require_same_device(x, gw, fn), require_same_device(go, gw, fn);
  const int64_t n = x.shape(0), c = x.shape(1), k = gw.shape(0);
  if (int64_t(go.shape(0)) != n || int64_t(go.shape(1)) != k)
    fail_value(std::string(fn) + ": grad_out of shape " + shape_str(go) + " does not fit x " +
               shape_str(x) + " and grad_weight " + shape_str(gw));
  const cuda::ConvGeometry g =
      conv_geometry(d, n, c, k, x, go, gw, {stride, padding, dilation, groups}, fn);
  require_no_overlap(gw, x, fn, "grad_weight", "x");
  require_no_overlap(gw, go, fn, "grad_weight", "grad_out");
  run(gw, [&](void* stream) {
    if (dt == FloatType::float64)
      cuda::conv_backward_weight<double>(g, static_cast<const double*>(x.data()),
                                         static_cast<const double*>(go.data()),
                                         static_cast<double*>(gw.data()), stream, run.algo());
    else
      cuda::conv_backward_weight<float>(g, static_cast<const float*>(x.data()),
                                        static_cast<const float*>(go.data()),
                                        static_cast<float*>(gw.data()), stream, run.algo());
  });
}

template <class Runner>
void conv_backward_bias(const Runner& run, const InArray& go_ro, const Array& gb) {
  const char* fn = "conv_backward_bias";
  const Array go(go_ro);
  const FloatType dt = check_float(run, go, fn, "grad_out");
  check_float(run, gb, fn, "grad_bias");
  require_same_dtype(go, gb, fn, "grad_out", "grad_bias");
  spatial_rank(go, fn, "grad_out");
  require_same_device(go, gb, fn);
  const int64_t n = go.shape(0), k = go.shape(1);
  if (gb.ndim() != 1 || int64_t(gb.shape(0)) != k)
    fail_value(std::string(fn) + ": grad_bias must have shape (" + std::to_string(k) +
               ",) for grad_out " + shape_str(go) + ", got " + shape_str(gb));
  int64_t spatial = 1;
  for (size_t a = 2; a < go.ndim(); ++a) spatial *= int64_t(go.shape(a));
  require_no_overlap(gb, go, fn, "grad_bias", "grad_out");
  run(gb, [&](void* stream) {
    if (dt == FloatType::float64)
      cuda::conv_backward_bias<double>(n, k, spatial, static_cast<const double*>(go.data()),
                                       static_cast<double*>(gb.data()), stream);
    else
      cuda::conv_backward_bias<float>(n, k, spatial, static_cast<const float*>(go.data()),
                                      static_cast<float*>(gb.data()), stream);
  });
}

// ---------------------------------------------------------------------------------------------
// Pooling

// Planes and spatial sizes of an (N, C, *in) -> (N, C, *out) pooling; same rank, N and C.
inline cuda::PoolGeometry pool_geometry(const Array& in, const Array& out, const char* fn,
                                        const char* in_name, const char* out_name) {
  const int d = spatial_rank(in, fn, in_name);
  require_rank(out, d, fn, out_name);
  if (in.shape(0) != out.shape(0) || in.shape(1) != out.shape(1))
    fail_value(std::string(fn) + ": " + in_name + " " + shape_str(in) + " and " + out_name + " " +
               shape_str(out) + " must agree in N and C");
  require_same_device(in, out, fn);
  cuda::PoolGeometry g;
  g.planes = int64_t(in.shape(0)) * int64_t(in.shape(1));
  spatial_into(in, d, g.in);
  spatial_into(out, d, g.out);
  return g;
}

inline cuda::PoolWindow pool_window(int d, const Ints& kernel, const Ints& stride,
                                    const Ints& padding, const Ints* dilation, const char* fn) {
  require_list(kernel, d, 1, fn, "kernel");
  require_list(stride, d, 1, fn, "stride");
  require_list(padding, d, 0, fn, "padding");
  if (dilation) require_list(*dilation, d, 1, fn, "dilation");
  cuda::PoolWindow w;
  list_into(kernel, 1, w.kernel);
  list_into(stride, 1, w.stride);
  list_into(padding, 0, w.pad);
  list_into(dilation ? *dilation : Ints(d, 1), 1, w.dil);
  return w;
}

inline void require_same_shape(const Array& a, const Array& b, const char* fn, const char* an,
                               const char* bn) {
  bool same = a.ndim() == b.ndim();
  for (size_t i = 0; same && i < a.ndim(); ++i) same = a.shape(i) == b.shape(i);
  if (!same)
    fail_value(std::string(fn) + ": " + an + " " + shape_str(a) + " and " + bn + " " +
               shape_str(b) + " must have the same shape");
}

// Calls f(T{}) with T = float or double by dtype.
template <class F>
void by_dtype(FloatType dt, F&& f) {
  if (dt == FloatType::float64) f(double{});
  else f(float{});
}

template <typename T>
const T* cptr(const Array& a) { return static_cast<const T*>(a.data()); }
template <typename T>
T* mptr(const Array& a) { return static_cast<T*>(a.data()); }
inline int64_t* iptr(const Array& a) { return static_cast<int64_t*>(a.data()); }

template <class Runner>
void max_pool_forward(const Runner& run, const InArray& x_ro, const Array& out,
                      const std::optional<Array>& indices, const Ints& kernel, const Ints& stride,
                      const Ints& padding, const Ints& dilation) {
  const char* fn = "max_pool_forward";
  const Array x(x_ro);
  const FloatType dt = check_float(run, x, fn, "x");
  check_float(run, out, fn, "out");
  require_same_dtype(x, out, fn, "x", "out");
  const cuda::PoolGeometry g = pool_geometry(x, out, fn, "x", "out");
  const int d = int(x.ndim()) - 2;
  const cuda::PoolWindow w = pool_window(d, kernel, stride, padding, &dilation, fn);
  require_no_overlap(out, x, fn, "out", "x");
  if (indices) {
    check_indices(run, *indices, fn, "indices");
    require_same_shape(*indices, out, fn, "indices", "out");
    require_same_device(*indices, out, fn);
    require_no_overlap(*indices, x, fn, "indices", "x");
    require_no_overlap(*indices, out, fn, "indices", "out");
  }
  run(out, [&](void* stream) {
    by_dtype(dt, [&](auto t) {
      using T = decltype(t);
      cuda::max_pool_forward<T>(g, w, cptr<T>(x), mptr<T>(out), indices ? iptr(*indices) : nullptr,
                                stream);
    });
  });
}

// The checks of the kernels that move values by a plane index (max_pool_backward, max_unpool,
// gather_by_index): `read` and `written` float arrays of one dtype, int64 `idx` shaped like
// `read` (idx_like_read) or like `written`, on `written`'s device, nothing written overlapping
// what is read.
template <class Runner>
FloatType check_index_op(const Runner& run, const Array& read, const Array& written,
                         const Array& idx, bool idx_like_read, const char* fn,
                         const char* read_name, const char* written_name) {
  const FloatType dt = check_float(run, read, fn, read_name);
  check_float(run, written, fn, written_name);
  check_indices(run, idx, fn, "indices");
  require_same_dtype(read, written, fn, read_name, written_name);
  if (idx_like_read)
    require_same_shape(idx, read, fn, "indices", read_name);
  else
    require_same_shape(idx, written, fn, "indices", written_name);
  require_same_device(idx, written, fn);
  require_no_overlap(written, read, fn, written_name, read_name);
  require_no_overlap(written, idx, fn, written_name, "indices");
  return dt;
}

template <class Runner>
void max_pool_backward(const Runner& run, const InArray& go_ro, const InArray& idx_ro,
                       const Array& gi) {
  const char* fn = "max_pool_backward";
  const Array go(go_ro), idx(idx_ro);
  const FloatType dt = check_index_op(run, go, gi, idx, true, fn, "grad_out", "grad_input");
  const cuda::PoolGeometry g = pool_geometry(gi, go, fn, "grad_input", "grad_out");
  run(gi, [&](void* stream) {
    by_dtype(dt, [&](auto t) {
      using T = decltype(t);
      cuda::max_pool_backward<T>(g, cptr<T>(go), iptr(idx), mptr<T>(gi), stream);
    });
  });
}

template <class Runner>
void max_unpool_forward(const Runner& run, const InArray& x_ro, const InArray& idx_ro,
                        const Array& out) {
  const char* fn = "max_unpool_forward";
  const Array x(x_ro), idx(idx_ro);
  const FloatType dt = check_index_op(run, x, out, idx, true, fn, "x", "out");
  const cuda::PoolGeometry g = pool_geometry(x, out, fn, "x", "out");
  run(out, [&](void* stream) {
    by_dtype(dt, [&](auto t) {
      using T = decltype(t);
      cuda::max_unpool_forward<T>(g, cptr<T>(x), iptr(idx), mptr<T>(out), stream);
    });
  });
}

template <class Runner>
void gather_by_index(const Runner& run, const InArray& src_ro, const InArray& idx_ro,
                     const Array& out) {
  const char* fn = "gather_by_index";
  const Array src(src_ro), idx(idx_ro);
  const FloatType dt = check_index_op(run, src, out, idx, false, fn, "src", "out");
  const cuda::PoolGeometry g = pool_geometry(src, out, fn, "src", "out");
  run(out, [&](void* stream) {
    by_dtype(dt, [&](auto t) {
      using T = decltype(t);
      cuda::gather_by_index<T>(g, cptr<T>(src), iptr(idx), mptr<T>(out), stream);
    });
  });
}

template <class Runner>
void avg_pool(const Runner& run, bool backward, const InArray& src_ro, const Array& dst,
              const Ints& kernel, const Ints& stride, const Ints& padding, bool ceil_mode,
              bool count_include_pad, int64_t divisor_override) {
  const char* fn = backward ? "avg_pool_backward" : "avg_pool_forward";
  const char* src_name = backward ? "grad_out" : "x";
  const char* dst_name = backward ? "grad_input" : "out";
  const Array src(src_ro);
  const FloatType dt = check_float(run, src, fn, src_name);
  check_float(run, dst, fn, dst_name);
  require_same_dtype(src, dst, fn, src_name, dst_name);
  const cuda::PoolGeometry g = backward ? pool_geometry(dst, src, fn, dst_name, src_name)
                                        : pool_geometry(src, dst, fn, src_name, dst_name);
  const cuda::PoolWindow w = pool_window(int(src.ndim()) - 2, kernel, stride, padding, nullptr, fn);
  if (divisor_override < 0)
    fail_value(std::string(fn) + ": divisor_override must be >= 0 (0: none), got " +
               std::to_string(divisor_override));
  require_no_overlap(dst, src, fn, dst_name, src_name);
  run(dst, [&](void* stream) {
    by_dtype(dt, [&](auto t) {
      using T = decltype(t);
      if (backward)
        cuda::avg_pool_backward<T>(g, w, ceil_mode, count_include_pad, divisor_override,
                                   cptr<T>(src), mptr<T>(dst), stream);
      else
        cuda::avg_pool_forward<T>(g, w, ceil_mode, count_include_pad, divisor_override,
                                  cptr<T>(src), mptr<T>(dst), stream);
    });
  });
}

template <class Runner>
void adaptive_avg_pool(const Runner& run, bool backward, const InArray& src_ro, const Array& dst) {
  const char* fn = backward ? "adaptive_avg_pool_backward" : "adaptive_avg_pool_forward";
  const char* src_name = backward ? "grad_out" : "x";
  const char* dst_name = backward ? "grad_input" : "out";
  const Array src(src_ro);
  const FloatType dt = check_float(run, src, fn, src_name);
  check_float(run, dst, fn, dst_name);
  require_same_dtype(src, dst, fn, src_name, dst_name);
  const cuda::PoolGeometry g = backward ? pool_geometry(dst, src, fn, dst_name, src_name)
                                        : pool_geometry(src, dst, fn, src_name, dst_name);
  for (int a = 0; a < 3; ++a)
    if (g.in[a] == 0 && g.out[a] != 0)
      fail_value(std::string(fn) + ": empty input plane for a non-empty output");
  require_no_overlap(dst, src, fn, dst_name, src_name);
  run(dst, [&](void* stream) {
    by_dtype(dt, [&](auto t) {
      using T = decltype(t);
      if (backward)
        cuda::adaptive_avg_pool_backward<T>(g, cptr<T>(src), mptr<T>(dst), stream);
      else
        cuda::adaptive_avg_pool_forward<T>(g, cptr<T>(src), mptr<T>(dst), stream);
    });
  });
}

template <class Runner>
void adaptive_max_pool_forward(const Runner& run, const InArray& x_ro, const Array& out,
                               const Array& indices) {
  const char* fn = "adaptive_max_pool_forward";
  const Array x(x_ro);
  const FloatType dt = check_float(run, x, fn, "x");
  check_float(run, out, fn, "out");
  check_indices(run, indices, fn, "indices");
  require_same_dtype(x, out, fn, "x", "out");
  require_same_shape(indices, out, fn, "indices", "out");
  require_same_device(indices, out, fn);
  const cuda::PoolGeometry g = pool_geometry(x, out, fn, "x", "out");
  for (int a = 0; a < 3; ++a)
    if (g.in[a] == 0 && g.out[a] != 0)
      fail_value(std::string(fn) + ": empty input plane for a non-empty output");
  require_no_overlap(out, x, fn, "out", "x"), require_no_overlap(indices, x, fn, "indices", "x");
  require_no_overlap(indices, out, fn, "indices", "out");
  run(out, [&](void* stream) {
    by_dtype(dt, [&](auto t) {
      using T = decltype(t);
      cuda::adaptive_max_pool_forward<T>(g, cptr<T>(x), mptr<T>(out), iptr(indices), stream);
    });
  });
}

inline cuda::InterpMode interp_mode(const std::string& mode, int d, const char* fn) {
  if (mode == "nearest") return cuda::InterpMode::nearest;
  if (mode == "nearest-exact") return cuda::InterpMode::nearest_exact;
  if (mode == "linear") return cuda::InterpMode::linear;
  if (mode == "cubic") {
    if (d != 2)
      fail_value(std::string(fn) + ": mode 'cubic' needs 2 spatial dimensions, got " +
                 std::to_string(d));
    return cuda::InterpMode::cubic;
  }
  fail_value(std::string(fn) + ": unknown mode '" + mode +
             "': expected 'nearest', 'nearest-exact', 'linear' or 'cubic'");
}

template <class Runner>
void interpolate(const Runner& run, bool backward, const InArray& src_ro, const Array& dst,
                 const std::string& mode, bool align_corners, const std::vector<double>& scales) {
  const char* fn = backward ? "interpolate_backward" : "interpolate_forward";
  const char* src_name = backward ? "grad_out" : "x";
  const char* dst_name = backward ? "grad_input" : "out";
  const Array src(src_ro);
  const FloatType dt = check_float(run, src, fn, src_name);
  check_float(run, dst, fn, dst_name);
  require_same_dtype(src, dst, fn, src_name, dst_name);
  const cuda::PoolGeometry g = backward ? pool_geometry(dst, src, fn, dst_name, src_name)
                                        : pool_geometry(src, dst, fn, src_name, dst_name);
  const int d = int(src.ndim()) - 2;
  const cuda::InterpMode m = interp_mode(mode, d, fn);
  if (int(scales.size()) != d)
    fail_value(std::string(fn) + ": scales must have " + std::to_string(d) +
               " entries (one per spatial dimension), got " + std::to_string(scales.size()));
  for (int a = 0; a < 3; ++a)
    if (g.in[a] == 0 && g.out[a] != 0)
      fail_value(std::string(fn) + ": empty input plane for a non-empty output");
  double s3[3] = {0, 0, 0};
  for (int a = 0; a < d; ++a) s3[3 - d + a] = scales[a];
  require_no_overlap(dst, src, fn, dst_name, src_name);
  run(dst, [&](void* stream) {
    by_dtype(dt, [&](auto t) {
      using T = decltype(t);
      if (backward)
        cuda::interpolate_backward<T>(g, d, m, align_corners, s3, cptr<T>(src), mptr<T>(dst),
                                      stream);
      else
        cuda::interpolate_forward<T>(g, d, m, align_corners, s3, cptr<T>(src), mptr<T>(dst),
                                     stream);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Definitions. `P...` are the module's trailing parameter types (a Runner is built from them),
// `extra...` their nb::arg descriptions.

template <class... P>
struct Trailing {};

template <class Runner, class... P, class... Extra>
void def_conv(nb::module_& m, Trailing<P...>, const Extra&... extra) {
  m.def(
      "conv_forward",
      [](const InArray& x, const InArray& w, const std::optional<InArray>& bias, const Array& out,
         const Ints& stride, const Ints& padding, const Ints& dilation, int64_t groups, P... rest) {
        conv_forward(Runner(rest...), x, w, bias, out, stride, padding, dilation, groups);
      },
      nb::arg("x"), nb::arg("weight"), nb::arg("bias").none(), nb::arg("out"), nb::arg("stride"),
      nb::arg("padding"), nb::arg("dilation"), nb::arg("groups"), extra...,
      "out (N, K, *o) = cross-correlation of x (N, C, *in) with weight (K, C/groups, *k) + bias "
      "(K,) or None; zero padding; spatial rank 1..3.");
  m.def(
      "conv_backward_input",
      [](const InArray& go, const InArray& w, const Array& gi, const Ints& stride,
         const Ints& padding, const Ints& dilation, int64_t groups, P... rest) {
        conv_backward_input(Runner(rest...), go, w, gi, stride, padding, dilation, groups);
      },
      nb::arg("grad_out"), nb::arg("weight"), nb::arg("grad_input"), nb::arg("stride"),
      nb::arg("padding"), nb::arg("dilation"), nb::arg("groups"), extra...,
      "grad_input (N, C, *in; its spatial size chosen by the caller, so this is also the "
      "transposed convolution) = gradient of conv_forward with respect to x.");
  m.def(
      "conv_backward_weight",
      [](const InArray& x, const InArray& go, const Array& gw, const Ints& stride,
         const Ints& padding, const Ints& dilation, int64_t groups, P... rest) {
        conv_backward_weight(Runner(rest...), x, go, gw, stride, padding, dilation, groups);
      },
      nb::arg("x"), nb::arg("grad_out"), nb::arg("grad_weight"), nb::arg("stride"),
      nb::arg("padding"), nb::arg("dilation"), nb::arg("groups"), extra...,
      "grad_weight (K, C/groups, *k) = gradient of conv_forward with respect to the weight "
      "(deterministic: fixed-order sums, no atomics).");
  m.def(
      "conv_backward_bias",
      [](const InArray& go, const Array& gb, P... rest) {
        conv_backward_bias(Runner(rest...), go, gb);
      },
      nb::arg("grad_out"), nb::arg("grad_bias"), extra...,
      "grad_bias (K,) = sum of grad_out (N, K, *o) over N and the spatial dimensions.");
}

template <class Runner, class... P, class... Extra>
void def_pool(nb::module_& m, Trailing<P...>, const Extra&... extra) {
  m.def(
      "max_pool_forward",
      [](const InArray& x, const Array& out, const std::optional<Array>& indices,
         const Ints& kernel, const Ints& stride, const Ints& padding, const Ints& dilation,
         P... rest) {
        max_pool_forward(Runner(rest...), x, out, indices, kernel, stride, padding, dilation);
      },
      nb::arg("x"), nb::arg("out"), nb::arg("indices").none(), nb::arg("kernel"),
      nb::arg("stride"), nb::arg("padding"), nb::arg("dilation"), extra...,
      "out = max over each window (implicit -inf padding; NaN wins); indices (int64, out's shape, "
      "or None) = flat offset of the maximum in its input plane.");
  m.def(
      "max_pool_backward",
      [](const InArray& go, const InArray& idx, const Array& gi, P... rest) {
        max_pool_backward(Runner(rest...), go, idx, gi);
      },
      nb::arg("grad_out"), nb::arg("indices"), nb::arg("grad_input"), extra...,
      "grad_input = 0, then grad_input.plane[indices] += grad_out (atomic adds: see pool.h).");
  m.def(
      "max_unpool_forward",
      [](const InArray& x, const InArray& idx, const Array& out, P... rest) {
        max_unpool_forward(Runner(rest...), x, idx, out);
      },
      nb::arg("x"), nb::arg("indices"), nb::arg("out"), extra...,
      "out = 0, then out.plane[indices] = x.");
  m.def(
      "gather_by_index",
      [](const InArray& src, const InArray& idx, const Array& out, P... rest) {
        gather_by_index(Runner(rest...), src, idx, out);
      },
      nb::arg("src"), nb::arg("indices"), nb::arg("out"), extra...,
      "out = src.plane[indices] (indices has out's shape).");
  m.def(
      "avg_pool_forward",
      [](const InArray& x, const Array& out, const Ints& kernel, const Ints& stride,
         const Ints& padding, bool ceil_mode, bool count_include_pad, int64_t divisor_override,
         P... rest) {
        avg_pool(Runner(rest...), false, x, out, kernel, stride, padding, ceil_mode,
                 count_include_pad, divisor_override);
      },
      nb::arg("x"), nb::arg("out"), nb::arg("kernel"), nb::arg("stride"), nb::arg("padding"),
      nb::arg("ceil_mode"), nb::arg("count_include_pad"), nb::arg("divisor_override"), extra...,
      "out = mean over each window, torch's divisor rules (divisor_override 0 = none).");
  m.def(
      "avg_pool_backward",
      [](const InArray& go, const Array& gi, const Ints& kernel, const Ints& stride,
         const Ints& padding, bool ceil_mode, bool count_include_pad, int64_t divisor_override,
         P... rest) {
        avg_pool(Runner(rest...), true, go, gi, kernel, stride, padding, ceil_mode,
                 count_include_pad, divisor_override);
      },
      nb::arg("grad_out"), nb::arg("grad_input"), nb::arg("kernel"), nb::arg("stride"),
      nb::arg("padding"), nb::arg("ceil_mode"), nb::arg("count_include_pad"),
      nb::arg("divisor_override"), extra...,
      "grad_input of avg_pool_forward (a gather: deterministic).");
  m.def(
      "adaptive_avg_pool_forward",
      [](const InArray& x, const Array& out, P... rest) {
        adaptive_avg_pool(Runner(rest...), false, x, out);
      },
      nb::arg("x"), nb::arg("out"), extra...,
      "out = mean over windows [floor(o*in/out), ceil((o+1)*in/out)) per dimension.");
  m.def(
      "adaptive_avg_pool_backward",
      [](const InArray& go, const Array& gi, P... rest) {
        adaptive_avg_pool(Runner(rest...), true, go, gi);
      },
      nb::arg("grad_out"), nb::arg("grad_input"), extra...,
      "grad_input of adaptive_avg_pool_forward (a gather: deterministic).");
  m.def(
      "adaptive_max_pool_forward",
      [](const InArray& x, const Array& out, const Array& indices, P... rest) {
        adaptive_max_pool_forward(Runner(rest...), x, out, indices);
      },
      nb::arg("x"), nb::arg("out"), nb::arg("indices"), extra...,
      "out = max over adaptive windows; indices = flat offset of the maximum in its plane.");
  m.def(
      "interpolate_forward",
      [](const InArray& x, const Array& out, const std::string& mode, bool align_corners,
         const std::vector<double>& scales, P... rest) {
        interpolate(Runner(rest...), false, x, out, mode, align_corners, scales);
      },
      nb::arg("x"), nb::arg("out"), nb::arg("mode"), nb::arg("align_corners"), nb::arg("scales"),
      extra...,
      "torch's upsampling: mode 'nearest', 'nearest-exact', 'linear' (1-3 d) or 'cubic' (2-d); "
      "scales[a] > 0: the scale_factor used for source indices, else in/out.");
  m.def(
      "interpolate_backward",
      [](const InArray& go, const Array& gi, const std::string& mode, bool align_corners,
         const std::vector<double>& scales, P... rest) {
        interpolate(Runner(rest...), true, go, gi, mode, align_corners, scales);
      },
      nb::arg("grad_out"), nb::arg("grad_input"), nb::arg("mode"), nb::arg("align_corners"),
      nb::arg("scales"), extra..., "grad_input of interpolate_forward (a gather: deterministic).");
}

}  // namespace fastdl::bind::convpool
