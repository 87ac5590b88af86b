// _C.conv_*: convolution forward and backward on CPU arrays (the interface shared with _C_cuda and
// _C_cudaemu, see csrc/cpu/conv/conv.h). The Python op layer computes sizes and validates; these
// checks are the cheap last line (dtype, device, contiguity, rank, shapes that agree with the
// geometry, no overlap of the output with an input) so no call can index out of bounds.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings/array_checks.h"
#include "cpu/conv/conv.h"

namespace nb = nanobind;

namespace fastdl::bind {
namespace {

using Ints = std::vector<int64_t>;

std::string ints_str(const Ints& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

void require_contiguous(const nb::ndarray<>& a, const char* fn, const char* name) {
  if (!is_c_contiguous(a))
    fail(fn, std::string(name) + " must be C-contiguous, got shape " + shape_str(a));
}

// Checks every array (dtype agreement, CPU, C-contiguous, rank 3..5 for the spatial ones) and
// returns the common element type.
FloatType check_arrays(const char* fn, std::initializer_list<std::pair<const nb::ndarray<>*,
                                                                       const char*>> arrays) {
  std::optional<FloatType> type;
  for (auto [a, name] : arrays) {
    require_device(*a, nb::device::cpu::value, fn, name, "CPU (numpy)");
    const FloatType t = require_float32_or_64(*a, fn, name);
    if (type && *type != t)
      throw nb::type_error((std::string(fn) + ": every array must have the same dtype, " + name +
                            " is " + dtype_str(a->dtype()))
                               .c_str());
    type = t;
    require_contiguous(*a, fn, name);
  }
  return *type;
}

// The geometry of a convolution between spatial arrays `in_arr` (N, C, *in) and `out_arr`
// (N, K, *out) with weights (K, C/groups, *k), after checking that they agree: each output size
// at most floor((in + 2 pad - dilation (k - 1) - 1) / stride) + 1.
cpu::ConvGeometry geometry(const char* fn, const nb::ndarray<>& in_arr,
                           const nb::ndarray<>& out_arr, const nb::ndarray<>& w,
                           const Ints& stride, const Ints& padding, const Ints& dilation,
                           int64_t groups) {
  const size_t nd = in_arr.ndim();
  if (nd < 3 || nd > 5) fail(fn, "expected 3-D, 4-D or 5-D arrays, got shape " + shape_str(in_arr));
  if (out_arr.ndim() != nd || w.ndim() != nd)
    fail(fn, "arrays of different ranks: " + shape_str(in_arr) + ", " + shape_str(out_arr) +
                 ", weight " + shape_str(w));
  const size_t d = nd - 2;
  if (stride.size() != d || padding.size() != d || dilation.size() != d)
    fail(fn, "stride, padding and dilation need " + std::to_string(d) + " entries each, got " +
                 ints_str(stride) + ", " + ints_str(padding) + ", " + ints_str(dilation));
  if (groups < 1) fail(fn, "groups must be positive, got " + std::to_string(groups));
  cpu::ConvGeometry g;
  g.batch = int64_t(in_arr.shape(0));
  g.in_channels = int64_t(in_arr.shape(1));
  g.out_channels = int64_t(out_arr.shape(1));
  g.groups = groups;
  if (int64_t(out_arr.shape(0)) != g.batch)
    fail(fn, "batch sizes differ: " + shape_str(in_arr) + " and " + shape_str(out_arr));
  if (g.in_channels % groups || g.out_channels % groups ||
      int64_t(w.shape(0)) != g.out_channels || int64_t(w.shape(1)) * groups != g.in_channels)
    fail(fn, "weight " + shape_str(w) + " does not fit input channels " +
                 std::to_string(g.in_channels) + ", output channels " +
                 std::to_string(g.out_channels) + " and groups " + std::to_string(groups));
  for (size_t i = 0; i < d; ++i) {
    const size_t a = 3 - d + i;
    g.in[a] = int64_t(in_arr.shape(2 + i));
    g.out[a] = int64_t(out_arr.shape(2 + i));
    g.kernel[a] = int64_t(w.shape(2 + i));
    g.stride[a] = stride[i], g.pad[a] = padding[i], g.dilation[a] = dilation[i];
    if (stride[i] < 1 || dilation[i] < 1 || padding[i] < 0)
      fail(fn, "stride and dilation must be positive and padding non-negative, got " +
                   ints_str(stride) + ", " + ints_str(dilation) + ", " + ints_str(padding));
    const int64_t span = dilation[i] * (g.kernel[a] - 1) + 1;
    const int64_t expect = g.in[a] + 2 * padding[i] >= span
                               ? (g.in[a] + 2 * padding[i] - span) / stride[i] + 1
                               : -1;
    // The output may be shorter than the formula (a transposed convolution's adjoint with
    // output_padding >= stride): the kernels only visit outputs that exist.
    if (g.kernel[a] < 1 || g.out[a] < 0 || g.out[a] > expect)
      fail(fn, "spatial sizes do not agree: input " + shape_str(in_arr) + ", output " +
                   shape_str(out_arr) + ", weight " + shape_str(w) + " with stride " +
                   ints_str(stride) + ", padding " + ints_str(padding) + ", dilation " +
                   ints_str(dilation));
  }
  return g;
}

void require_no_overlap(const nb::ndarray<>& out, const nb::ndarray<>& a, const char* fn,
                        const char* name) {
  if (may_overlap(out, a)) fail(fn, std::string("the output overlaps ") + name);
}

void conv_forward(nb::ndarray<nb::ro> x_, nb::ndarray<nb::ro> w_,
                  std::optional<nb::ndarray<nb::ro>> b_, nb::ndarray<> out, Ints stride,
                  Ints padding, Ints dilation, int64_t groups) {
  const char* fn = "conv_forward";
  nb::ndarray<> x(x_), w(w_);
  std::optional<nb::ndarray<>> b;
  if (b_) b = nb::ndarray<>(*b_);
  const FloatType t = b ? check_arrays(fn, {{&x, "x"}, {&w, "weight"}, {&*b, "bias"},
                                            {&out, "out"}})
                        : check_arrays(fn, {{&x, "x"}, {&w, "weight"}, {&out, "out"}});
  const cpu::ConvGeometry g = geometry(fn, x, out, w, stride, padding, dilation, groups);
  if (b && (b->ndim() != 1 || int64_t(b->shape(0)) != g.out_channels))
    fail(fn, "bias must have shape (" + std::to_string(g.out_channels) + ",), got " +
                 shape_str(*b));
  require_no_overlap(out, x, fn, "x");
  require_no_overlap(out, w, fn, "weight");
  if (b) require_no_overlap(out, *b, fn, "bias");
  nb::gil_scoped_release release;
  if (t == FloatType::float64)
    cpu::conv_forward<double>(g, static_cast<const double*>(x.data()),
                              static_cast<const double*>(w.data()),
                              b ? static_cast<const double*>(b->data()) : nullptr,
                              static_cast<double*>(out.data()));
  else
    cpu::conv_forward<float>(g, static_cast<const float*>(x.data()),
                             static_cast<const float*>(w.data()),
                             b ? static_cast<const float*>(b->data()) : nullptr,
                             static_cast<float*>(out.data()));
}

void conv_backward_input(nb::ndarray<nb::ro> go_, nb::ndarray<nb::ro> w_, nb::ndarray<> gx,
                         Ints stride, Ints padding, Ints dilation, int64_t groups) {
  const char* fn = "conv_backward_input";
  nb::ndarray<> go(go_), w(w_);
  const FloatType t =
      check_arrays(fn, {{&go, "grad_out"}, {&w, "weight"}, {&gx, "grad_input"}});
  const cpu::ConvGeometry g = geometry(fn, gx, go, w, stride, padding, dilation, groups);
  require_no_overlap(gx, go, fn, "grad_out");
  require_no_overlap(gx, w, fn, "weight");
  nb::gil_scoped_release release;
  if (t == FloatType::float64)
    cpu::conv_backward_input<double>(g, static_cast<const double*>(go.data()),
                                     static_cast<const double*>(w.data()),
                                     static_cast<double*>(gx.data()));
  else
    cpu::conv_backward_input<float>(g, static_cast<const float*>(go.data()),
                                    static_cast<const float*>(w.data()),
                                    static_cast<float*>(gx.data()));
}

void conv_backward_weight(nb::ndarray<nb::ro> x_, nb::ndarray<nb::ro> go_, nb::ndarray<> gw,
                          Ints stride, Ints padding, Ints dilation, int64_t groups) {
  const char* fn = "conv_backward_weight";
  nb::ndarray<> x(x_), go(go_);
  const FloatType t =
      check_arrays(fn, {{&x, "x"}, {&go, "grad_out"}, {&gw, "grad_weight"}});
  const cpu::ConvGeometry g = geometry(fn, x, go, gw, stride, padding, dilation, groups);
  require_no_overlap(gw, x, fn, "x");
  require_no_overlap(gw, go, fn, "grad_out");
  nb::gil_scoped_release release;
  if (t == FloatType::float64)
    cpu::conv_backward_weight<double>(g, static_cast<const double*>(x.data()),
                                      static_cast<const double*>(go.data()),
                                      static_cast<double*>(gw.data()));
  else
    cpu::conv_backward_weight<float>(g, static_cast<const float*>(x.data()),
                                     static_cast<const float*>(go.data()),
                                     static_cast<float*>(gw.data()));
}

void conv_backward_bias(nb::ndarray<nb::ro> go_, nb::ndarray<> gb) {
  const char* fn = "conv_backward_bias";
  nb::ndarray<> go(go_);
  const FloatType t = check_arrays(fn, {{&go, "grad_out"}, {&gb, "grad_bias"}});
  if (go.ndim() < 2 || gb.ndim() != 1 || gb.shape(0) != go.shape(1))
    fail(fn, "grad_out (N, K, ...) and grad_bias (K,) do not agree: " + shape_str(go) + " and " +
                 shape_str(gb));
  require_no_overlap(gb, go, fn, "grad_out");
  int64_t plane = 1;
  for (size_t i = 2; i < go.ndim(); ++i) plane *= int64_t(go.shape(i));
  const int64_t n = int64_t(go.shape(0)), k = int64_t(go.shape(1));
  nb::gil_scoped_release release;
  if (t == FloatType::float64)
    cpu::conv_backward_bias<double>(n, k, plane, static_cast<const double*>(go.data()),
                                    static_cast<double*>(gb.data()));
  else
    cpu::conv_backward_bias<float>(n, k, plane, static_cast<const float*>(go.data()),
                                   static_cast<float*>(gb.data()));
}

}  // namespace

void bind_conv(nb::module_& m) {
  m.def("conv_forward", &conv_forward, nb::arg("x"), nb::arg("weight"), nb::arg("bias").none(),
        nb::arg("out"), nb::arg("stride"), nb::arg("padding"), nb::arg("dilation"),
        nb::arg("groups"),
        "out (N, K, *o) = conv(x (N, C, *in), weight (K, C/groups, *k)) + bias; 1-3 spatial "
        "dims, float32 or float64, C-contiguous.");
  m.def("conv_backward_input", &conv_backward_input, nb::arg("grad_out"), nb::arg("weight"),
        nb::arg("grad_input"), nb::arg("stride"), nb::arg("padding"), nb::arg("dilation"),
        nb::arg("groups"),
        "grad_input (N, C, *in; its size chosen by the caller) from grad_out (N, K, *o): also "
        "the transposed convolution's forward.");
  m.def("conv_backward_weight", &conv_backward_weight, nb::arg("x"), nb::arg("grad_out"),
        nb::arg("grad_weight"), nb::arg("stride"), nb::arg("padding"), nb::arg("dilation"),
        nb::arg("groups"), "grad_weight (K, C/groups, *k) from x and grad_out.");
  m.def("conv_backward_bias", &conv_backward_bias, nb::arg("grad_out"), nb::arg("grad_bias"),
        "grad_bias[k] = sum of grad_out[:, k].");
}

}  // namespace fastdl::bind
