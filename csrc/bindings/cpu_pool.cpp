// _C pooling and interpolation: max/avg/adaptive pools, unpool, index scatter/gather and
// interpolate, forward and backward, on C-contiguous (N, C, *spatial) float32/float64 arrays
// with 1 to 3 spatial dims (the interface is shared with _C_cuda; see pool.h). The Python op
// layer chooses output sizes (ceil_mode, adaptive and interpolate sizes) and validates the
// arguments; these bindings re-check what keeps the kernels in bounds and release the GIL.
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
#include "cpu/pool/pool.h"

namespace nb = nanobind;

namespace fastdl::bind {

namespace {

using cpu::InterpMode;
using cpu::PoolShape;
using Ro = nb::ndarray<nb::ro>;
using Params = std::vector<int64_t>;

[[noreturn]] void value_error(const std::string& msg) { throw nb::value_error(msg.c_str()); }

void require_cpu_contiguous(const nb::ndarray<>& a, const char* fn, const char* name) {
  require_device(a, nb::device::cpu::value, fn, name, "CPU (numpy)");
  for (size_t i = 0; i < a.ndim(); ++i)
    if (a.shape(i) == 0) return;  // empty: no element to address
  int64_t expect = 1;
  for (size_t i = a.ndim(); i-- > 0;) {
    if (a.shape(i) != 1 && a.stride(i) != expect)
      value_error(std::string(fn) + ": " + name + " must be C-contiguous, got shape " +
                  shape_str(a));
    expect *= int64_t(a.shape(i));
  }
}

// x: (N, C, *spatial) with 1..3 spatial dims, float32/float64, C-contiguous. Returns its rank d.
size_t check_float_array(const nb::ndarray<>& a, const char* fn, const char* name,
                         FloatType* type) {
  const FloatType t = require_float32_or_64(a, fn, name);
  if (type) {
    if (*type != t)
      throw nb::type_error((std::string(fn) + ": " + name + " has dtype " + dtype_str(a.dtype()) +
                            ", the other arrays another one")
                               .c_str());
  }
  if (a.ndim() < 3 || a.ndim() > 5)
    value_error(std::string(fn) + ": " + name +
                " must be (N, C, *spatial) with 1 to 3 spatial dims, got shape " + shape_str(a));
  require_cpu_contiguous(a, fn, name);
  return a.ndim() - 2;
}

void check_indices(const nb::ndarray<>& idx, const nb::ndarray<>& like, const char* fn) {
  if (idx.dtype() != nb::dtype<int64_t>())
    throw nb::type_error((std::string(fn) + ": indices must be int64, got " +
                          dtype_str(idx.dtype()) + " with shape " + shape_str(idx))
                             .c_str());
  require_cpu_contiguous(idx, fn, "indices");
  bool same = idx.ndim() == like.ndim();
  for (size_t i = 0; same && i < idx.ndim(); ++i) same = idx.shape(i) == like.shape(i);
  if (!same)
    value_error(std::string(fn) + ": indices must have shape " + shape_str(like) + ", got " +
                shape_str(idx));
}

// The pool shape of x -> out (same N and C, same rank).
PoolShape shape_of(const nb::ndarray<>& x, const nb::ndarray<>& out, const char* fn,
                   const char* xname, const char* oname) {
  if (x.ndim() != out.ndim() || x.shape(0) != out.shape(0) || x.shape(1) != out.shape(1))
    value_error(std::string(fn) + ": " + oname + " of shape " + shape_str(out) +
                " does not match " + xname + " of shape " + shape_str(x) +
                " (same N, C and number of spatial dims)");
  PoolShape s;
  s.planes = int64_t(x.shape(0)) * int64_t(x.shape(1));
  const size_t d = x.ndim() - 2;
  for (size_t i = 0; i < d; ++i) {
    s.in[3 - d + i] = int64_t(x.shape(2 + i));
    s.out[3 - d + i] = int64_t(out.shape(2 + i));
  }
  return s;
}

void set_params(PoolShape* s, size_t d, const Params& kernel, const Params& stride,
                const Params& padding, const Params* dilation, const char* fn) {
  auto check = [&](const Params& v, const char* name, int64_t lo) {
    if (v.size() != d)
      value_error(std::string(fn) + ": " + name + " needs " + std::to_string(d) +
                  " values, got " + std::to_string(v.size()));
    for (int64_t e : v)
      if (e < lo)
        value_error(std::string(fn) + ": " + name + " must be >= " + std::to_string(lo) +
                    ", got " + std::to_string(e));
  };
  check(kernel, "kernel_size", 1);
  check(stride, "stride", 1);
  check(padding, "padding", 0);
  if (dilation) check(*dilation, "dilation", 1);
  for (size_t i = 0; i < d; ++i) {
    s->kernel[3 - d + i] = kernel[i];
    s->stride[3 - d + i] = stride[i];
    s->padding[3 - d + i] = padding[i];
    if (dilation) s->dilation[3 - d + i] = (*dilation)[i];
  }
}

bool is_empty(const nb::ndarray<>& a) {
  for (size_t i = 0; i < a.ndim(); ++i)
    if (a.shape(i) == 0) return true;
  return false;
}

// Adaptive windows and interpolation taps index the input: it must not be empty when the
// output is not.
void require_nonempty_input(const nb::ndarray<>& x, const nb::ndarray<>& out, const char* fn) {
  if (is_empty(x) && !is_empty(out))
    value_error(std::string(fn) + ": empty input of shape " + shape_str(x) +
                " for a non-empty output of shape " + shape_str(out));
}

template <typename F>
void by_type(FloatType t, F&& f) {
  if (t == FloatType::float64)
    f(double{});
  else
    f(float{});
}

void max_pool_forward(Ro xr, nb::ndarray<> out, std::optional<nb::ndarray<>> indices,
                      const Params& kernel, const Params& stride, const Params& padding,
                      const Params& dilation) {
  nb::ndarray<> x(xr);
  const char* fn = "max_pool_forward";
  FloatType t = require_float32_or_64(x, fn, "x");
  const size_t d = check_float_array(x, fn, "x", &t);
  check_float_array(out, fn, "out", &t);
  PoolShape s = shape_of(x, out, fn, "x", "out");
  set_params(&s, d, kernel, stride, padding, &dilation, fn);
  if (indices) check_indices(*indices, out, fn);
  if (is_empty(out)) return;
  int64_t* ind = indices ? static_cast<int64_t*>(indices->data()) : nullptr;
  by_type(t, [&](auto z) {
    using T = decltype(z);
    nb::gil_scoped_release release;
    cpu::pool_kernels<T>().max_pool_forward(s, static_cast<const T*>(x.data()),
                                            static_cast<T*>(out.data()), ind);
  });
}

// The three index kernels: plane sizes from the arrays, a ValueError for an index outside the
// plane it addresses.
enum class IndexOp { scatter_add, gather, unpool };

void index_kernel(IndexOp op, const char* fn, const nb::ndarray<>& a, const nb::ndarray<>& idx,
                  const nb::ndarray<>& b) {
  // scatter_add(src=a (idx shape), idx, out=b); gather(src=a, idx, out=b (idx shape));
  // unpool(x=a (idx shape), idx, out=b)
  FloatType t = require_float32_or_64(a, fn, "source");
  check_float_array(a, fn, "source", &t);
  check_float_array(b, fn, "out", &t);
  const nb::ndarray<>& small = op == IndexOp::gather ? b : a;
  const nb::ndarray<>& big = op == IndexOp::gather ? a : b;
  check_indices(idx, small, fn);
  shape_of(big, small, fn, "the pooled-from array", "the indexed array");
  int64_t planes = int64_t(small.shape(0)) * int64_t(small.shape(1));
  int64_t small_plane = 1, big_plane = 1;
  for (size_t i = 2; i < small.ndim(); ++i) small_plane *= int64_t(small.shape(i));
  for (size_t i = 2; i < big.ndim(); ++i) big_plane *= int64_t(big.shape(i));
  if (planes == 0) return;
  bool ok = true;
  by_type(t, [&](auto z) {
    using T = decltype(z);
    const T* src = static_cast<const T*>(a.data());
    T* out = static_cast<T*>(b.data());
    const int64_t* ip = static_cast<const int64_t*>(idx.data());
    nb::gil_scoped_release release;
    const cpu::PoolKernels<T> k = cpu::pool_kernels<T>();
    if (op == IndexOp::scatter_add)
      ok = k.scatter_add(planes, big_plane, small_plane, src, ip, out);
    else if (op == IndexOp::gather)
      ok = k.gather(planes, big_plane, small_plane, src, ip, out);
    else
      ok = k.unpool(planes, small_plane, big_plane, src, ip, out);
  });
  if (!ok)
    value_error(std::string(fn) + ": an index is outside the plane of " +
                std::to_string(big_plane) + " elements (shape " + shape_str(big) + ")");
}

void avg_pool(bool backward, Ro ar, nb::ndarray<> b, const Params& kernel, const Params& stride,
              const Params& padding, bool /*ceil_mode*/, bool count_include_pad,
              int64_t divisor_override) {
  nb::ndarray<> a(ar);
  const char* fn = backward ? "avg_pool_backward" : "avg_pool_forward";
  FloatType t = require_float32_or_64(a, fn, backward ? "grad_out" : "x");
  const size_t d = check_float_array(a, fn, backward ? "grad_out" : "x", &t);
  check_float_array(b, fn, backward ? "grad_input" : "out", &t);
  // x -> out forward; grad_input (x's shape) <- grad_out backward
  PoolShape s = backward ? shape_of(b, a, fn, "grad_input", "grad_out")
                         : shape_of(a, b, fn, "x", "out");
  set_params(&s, d, kernel, stride, padding, nullptr, fn);
  if (is_empty(a) || is_empty(b)) {
    if (backward && !is_empty(b)) {
      by_type(t, [&](auto z) {
        using T = decltype(z);
        std::fill_n(static_cast<T*>(b.data()), b.size(), T(0));
      });
    }
    return;
  }
  by_type(t, [&](auto z) {
    using T = decltype(z);
    nb::gil_scoped_release release;
    const cpu::PoolKernels<T> k = cpu::pool_kernels<T>();
    if (backward)
      k.avg_pool_backward(s, count_include_pad, divisor_override,
                          static_cast<const T*>(a.data()), static_cast<T*>(b.data()));
    else
      k.avg_pool_forward(s, count_include_pad, divisor_override,
                         static_cast<const T*>(a.data()), static_cast<T*>(b.data()));
  });
}

InterpMode parse_mode(const std::string& mode, size_t d, const char* fn) {
  if (mode == "nearest") return InterpMode::nearest;
  if (mode == "nearest-exact") return InterpMode::nearest_exact;
  if (mode == "linear") return InterpMode::linear;
  if (mode == "cubic") {
    if (d != 2) value_error(std::string(fn) + ": mode 'cubic' needs 2 spatial dims");
    return InterpMode::cubic;
  }
  value_error(std::string(fn) + ": mode must be 'nearest', 'nearest-exact', 'linear' or 'cubic', "
              "got '" + mode + "'");
}

// kind 0: adaptive avg forward, 1: adaptive avg backward, 2: interpolate forward,
// 3: interpolate backward. a -> b (backward: b is the input-shaped gradient).
void resample(int kind, Ro ar, nb::ndarray<> b, const std::string& mode, bool align_corners,
              const std::vector<double>& scales) {
  nb::ndarray<> a(ar);
  static const char* names[] = {"adaptive_avg_pool_forward", "adaptive_avg_pool_backward",
                                "interpolate_forward", "interpolate_backward"};
  const char* fn = names[kind];
  const bool backward = kind & 1;
  FloatType t = require_float32_or_64(a, fn, backward ? "grad_out" : "x");
  const size_t d = check_float_array(a, fn, backward ? "grad_out" : "x", &t);
  check_float_array(b, fn, backward ? "grad_input" : "out", &t);
  const nb::ndarray<>& x = backward ? b : a;
  const nb::ndarray<>& y = backward ? a : b;
  const PoolShape s = shape_of(x, y, fn, backward ? "grad_input" : "x",
                               backward ? "grad_out" : "out");
  require_nonempty_input(x, y, fn);
  InterpMode m = InterpMode::nearest;
  double sc[3] = {0, 0, 0};
  if (kind >= 2) {
    m = parse_mode(mode, d, fn);
    if (scales.size() != d && !scales.empty())
      value_error(std::string(fn) + ": scales needs " + std::to_string(d) + " values, got " +
                  std::to_string(scales.size()));
    for (size_t i = 0; i < scales.size(); ++i) sc[3 - d + i] = scales[i];
  }
  if (is_empty(y)) {
    if (backward && !is_empty(x))
      by_type(t, [&](auto z) {
        using T = decltype(z);
        std::fill_n(static_cast<T*>(b.data()), b.size(), T(0));
      });
    return;
  }
  by_type(t, [&](auto z) {
    using T = decltype(z);
    const T* src = static_cast<const T*>(a.data());
    T* dst = static_cast<T*>(b.data());
    nb::gil_scoped_release release;
    const cpu::PoolKernels<T> k = cpu::pool_kernels<T>();
    switch (kind) {
      case 0: k.adaptive_avg_forward(s, src, dst); break;
      case 1: k.adaptive_avg_backward(s, src, dst); break;
      case 2: k.interpolate_forward(s, m, align_corners, sc, src, dst); break;
      default: k.interpolate_backward(s, m, align_corners, sc, src, dst); break;
    }
  });
}

void adaptive_max_pool_forward(Ro xr, nb::ndarray<> out, nb::ndarray<> indices) {
  nb::ndarray<> x(xr);
  const char* fn = "adaptive_max_pool_forward";
  FloatType t = require_float32_or_64(x, fn, "x");
  check_float_array(x, fn, "x", &t);
  check_float_array(out, fn, "out", &t);
  const PoolShape s = shape_of(x, out, fn, "x", "out");
  check_indices(indices, out, fn);
  require_nonempty_input(x, out, fn);
  if (is_empty(out)) return;
  by_type(t, [&](auto z) {
    using T = decltype(z);
    nb::gil_scoped_release release;
    cpu::pool_kernels<T>().adaptive_max_forward(s, static_cast<const T*>(x.data()),
                                                static_cast<T*>(out.data()),
                                                static_cast<int64_t*>(indices.data()));
  });
}

}  // namespace

void bind_pool(nb::module_& m) {
  m.def("max_pool_forward", &max_pool_forward, nb::arg("x"), nb::arg("out"),
        nb::arg("indices").none(), nb::arg("kernel"), nb::arg("stride"), nb::arg("padding"),
        nb::arg("dilation"),
        "Max pool of x (N, C, *in) into out (N, C, *out) (out size chosen by the caller); "
        "indices (int64, out's shape, or None): flat offsets of the maxima in each input plane.");
  struct IndexBinding {
    const char* name;
    IndexOp op;
    const char *a, *b, *doc;
  };
  for (const IndexBinding& f :
       {IndexBinding{"max_pool_backward", IndexOp::scatter_add, "grad_out", "grad_input",
                     "grad_input zeroed, then grad_input.plane[indices] += grad_out."},
        IndexBinding{"gather_by_index", IndexOp::gather, "src", "out",
                     "out = src.plane[indices] (out has the indices' shape)."},
        IndexBinding{"max_unpool_forward", IndexOp::unpool, "x", "out",
                     "out zeroed, then out.plane[indices] = x."}}) {
    const IndexOp op = f.op;
    const char* name = f.name;
    m.def(
        name,
        [op, name](Ro a, Ro indices, nb::ndarray<> b) {
          index_kernel(op, name, nb::ndarray<>(a), nb::ndarray<>(indices), b);
        },
        nb::arg(f.a), nb::arg("indices"), nb::arg(f.b), f.doc);
  }
  m.def(
      "avg_pool_forward",
      [](Ro x, nb::ndarray<> out, const Params& k, const Params& s, const Params& p, bool ceil,
         bool cip, int64_t dov) { avg_pool(false, x, out, k, s, p, ceil, cip, dov); },
      nb::arg("x"), nb::arg("out"), nb::arg("kernel"), nb::arg("stride"), nb::arg("padding"),
      nb::arg("ceil_mode"), nb::arg("count_include_pad"), nb::arg("divisor_override"),
      "Average pool (divisor_override 0 = none, negative allowed as in torch), torch's divisor "
      "rules.");
  m.def(
      "avg_pool_backward",
      [](Ro grad_out, nb::ndarray<> grad_input, const Params& k, const Params& s,
         const Params& p, bool ceil, bool cip,
         int64_t dov) { avg_pool(true, grad_out, grad_input, k, s, p, ceil, cip, dov); },
      nb::arg("grad_out"), nb::arg("grad_input"), nb::arg("kernel"), nb::arg("stride"),
      nb::arg("padding"), nb::arg("ceil_mode"), nb::arg("count_include_pad"),
      nb::arg("divisor_override"), "The adjoint of avg_pool_forward.");
  m.def(
      "adaptive_avg_pool_forward",
      [](Ro x, nb::ndarray<> out) { resample(0, x, out, "", false, {}); }, nb::arg("x"),
      nb::arg("out"));
  m.def(
      "adaptive_avg_pool_backward",
      [](Ro grad_out, nb::ndarray<> grad_input) {
        resample(1, grad_out, grad_input, "", false, {});
      },
      nb::arg("grad_out"), nb::arg("grad_input"));
  m.def("adaptive_max_pool_forward", &adaptive_max_pool_forward, nb::arg("x"), nb::arg("out"),
        nb::arg("indices"));
  m.def(
      "interpolate_forward",
      [](Ro x, nb::ndarray<> out, const std::string& mode, bool align_corners,
         const std::vector<double>& scales) { resample(2, x, out, mode, align_corners, scales); },
      nb::arg("x"), nb::arg("out"), nb::arg("mode"), nb::arg("align_corners"),
      nb::arg("scales"),
      "mode: 'nearest', 'nearest-exact', 'linear' (d-linear) or 'cubic' (2-d); scales: torch's "
      "scale per dim for the source index (<= 0: in/out).");
  m.def(
      "interpolate_backward",
      [](Ro grad_out, nb::ndarray<> grad_input, const std::string& mode, bool align_corners,
         const std::vector<double>& scales) {
        resample(3, grad_out, grad_input, mode, align_corners, scales);
      },
      nb::arg("grad_out"), nb::arg("grad_input"), nb::arg("mode"), nb::arg("align_corners"),
      nb::arg("scales"));
}

}  // namespace fastdl::bind
