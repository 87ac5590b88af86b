// _C.batch_norm_*, _C.layer_norm_*, _C.gelu_tanh_*, _C.relu_*, _C.sgd_update, _C.adam_update: the norm family on CPU arrays (csrc/cpu/norm/norm.h).
// The Python op layer validates; these checks are the cheap last line (dtype agreement, CPU,
// C-contiguous, shapes that agree, no output overlapping an input it is computed from).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>

#include <optional>
#include <string>

#include "bindings/array_checks.h"
#include "cpu/norm/norm.h"

namespace nb = nanobind;

namespace fastdl::bind {
namespace {

using Array = nb::ndarray<>;
using Opt = std::optional<nb::ndarray<>>;


int64_t numel(const Array& a) {
  int64_t n = 1;
  for (size_t i = 0; i < a.ndim(); ++i) n *= int64_t(a.shape(i));
  return n;
}

// CPU, float32/float64 like `type` (or sets it), C-contiguous.
void check(const Array& a, const char* fn, const char* name, std::optional<FloatType>& type) {
  require_device(a, nb::device::cpu::value, fn, name, "CPU (numpy)");
  const FloatType t = require_float32_or_64(a, fn, name);
  if (type && *type != t)
    throw nb::type_error((std::string(fn) + ": every array must have the same dtype, " + name +
                          " is " + dtype_str(a.dtype()))
                             .c_str());
  type = t;
  if (numel(a) == 0) return;
  int64_t expected = 1;
  for (size_t i = a.ndim(); i-- > 0;) {
    if (a.shape(i) != 1 && a.stride(i) != expected)
      fail(fn, std::string(name) + " must be C-contiguous, got shape " + shape_str(a));
    expected *= int64_t(a.shape(i));
  }
}

void check_same_shape(const Array& a, const Array& b, const char* fn, const char* name) {
  bool same = a.ndim() == b.ndim();
  for (size_t i = 0; same && i < a.ndim(); ++i) same = a.shape(i) == b.shape(i);
  if (!same) fail(fn, std::string(name) + " has shape " + shape_str(b) + ", expected " +
                          shape_str(a));
}

void check_channels(const Array& a, int64_t c, const char* fn, const char* name) {
  if (a.ndim() != 1 || int64_t(a.shape(0)) != c)
    fail(fn, std::string(name) + " must have shape (" + std::to_string(c) + ",), got " +
                 shape_str(a));
}


// x (N, C, *) -> (N, C, S)
void ncs(const Array& x, const char* fn, int64_t* n, int64_t* c, int64_t* s) {
  if (x.ndim() < 2) fail(fn, "expected an (N, C, *) array, got shape " + shape_str(x));
  *n = int64_t(x.shape(0));
  *c = int64_t(x.shape(1));
  *s = 1;
  for (size_t i = 2; i < x.ndim(); ++i) *s *= int64_t(x.shape(i));
}

void batch_norm_forward_train(Array x, Opt weight, Opt bias, Array out, Array mean, Array var,
                              Array invstd, double eps) {
  const char* fn = "batch_norm_forward_train";
  std::optional<FloatType> t;
  int64_t n, c, s;
  ncs(x, fn, &n, &c, &s);
  check(x, fn, "x", t);
  check(out, fn, "out", t);
  check_same_shape(x, out, fn, "out");
  for (auto [a, name] : {std::pair{&mean, "mean"}, {&var, "var"}, {&invstd, "invstd"}}) {
    check(*a, fn, name, t);
    check_channels(*a, c, fn, name);
    no_overlap(*a, x, fn, "x");
    no_overlap(*a, out, fn, "out");
  }
  for (auto [a, name] : {std::pair{&weight, "weight"}, {&bias, "bias"}})
    if (*a) check(**a, fn, name, t), check_channels(**a, c, fn, name),
            no_overlap(out, **a, fn, name);
  no_overlap(out, x, fn, "x");
  if (!(eps >= 0)) fail(fn, "eps must be non-negative");
  nb::gil_scoped_release release;
  if (*t == FloatType::float64)
    cpu::batch_norm_forward_train<double>(n, c, s, ptr<double>(x), ptr<double>(weight),
                                          ptr<double>(bias), eps, ptr<double>(out),
                                          ptr<double>(mean), ptr<double>(var),
                                          ptr<double>(invstd));
  else
    cpu::batch_norm_forward_train<float>(n, c, s, ptr<float>(x), ptr<float>(weight),
                                         ptr<float>(bias), float(eps), ptr<float>(out),
                                         ptr<float>(mean), ptr<float>(var), ptr<float>(invstd));
}

void batch_norm_backward_train(Array g, Array x, Array mean, Array invstd, Opt weight,
                               Opt grad_x, Array sum_g, Array sum_gxhat) {
  const char* fn = "batch_norm_backward_train";
  std::optional<FloatType> t;
  int64_t n, c, s;
  ncs(x, fn, &n, &c, &s);
  check(g, fn, "grad", t);
  check(x, fn, "x", t);
  check_same_shape(x, g, fn, "grad");
  for (auto [a, name] : {std::pair{&mean, "mean"}, {&invstd, "invstd"}, {&sum_g, "sum_g"},
                         {&sum_gxhat, "sum_gxhat"}})
    check(*a, fn, name, t), check_channels(*a, c, fn, name);
  if (weight) check(*weight, fn, "weight", t), check_channels(*weight, c, fn, "weight");
  for (auto [a, name] : {std::pair{&sum_g, "sum_g"}, {&sum_gxhat, "sum_gxhat"}})
    no_overlap(*a, g, fn, "grad"), no_overlap(*a, x, fn, "x");
  if (grad_x) {
    check(*grad_x, fn, "grad_x", t);
    check_same_shape(x, *grad_x, fn, "grad_x");
    for (auto [a, name] : {std::pair{&g, "grad"}, {&x, "x"}, {&mean, "mean"},
                           {&invstd, "invstd"}, {&sum_g, "sum_g"}, {&sum_gxhat, "sum_gxhat"}})
      no_overlap(*grad_x, *a, fn, name);
    if (weight) no_overlap(*grad_x, *weight, fn, "weight");
  }
  nb::gil_scoped_release release;
  if (*t == FloatType::float64)
    cpu::batch_norm_backward_train<double>(n, c, s, ptr<double>(g), ptr<double>(x),
                                           ptr<double>(mean), ptr<double>(invstd),
                                           ptr<double>(weight), ptr<double>(grad_x),
                                           ptr<double>(sum_g), ptr<double>(sum_gxhat));
  else
    cpu::batch_norm_backward_train<float>(n, c, s, ptr<float>(g), ptr<float>(x),
                                          ptr<float>(mean), ptr<float>(invstd),
                                          ptr<float>(weight), ptr<float>(grad_x),
                                          ptr<float>(sum_g), ptr<float>(sum_gxhat));
}

// x (..., n) as (rows, n); the per-row arrays (rows,), the per-column ones (n,)
void rows_of(const Array& x, const char* fn, int64_t* rows, int64_t* n) {
  if (x.ndim() < 1) fail(fn, "expected an array of at least one dimension, got a scalar");
  *n = int64_t(x.shape(x.ndim() - 1));
  *rows = *n ? numel(x) / *n : 0;
}

void layer_norm_forward(Array x, Opt weight, Opt bias, Array out, Array mean, Array invstd,
                        double eps) {
  const char* fn = "layer_norm_forward";
  std::optional<FloatType> t;
  int64_t rows, n;
  rows_of(x, fn, &rows, &n);
  check(x, fn, "x", t);
  check(out, fn, "out", t);
  check_same_shape(x, out, fn, "out");
  for (auto [a, name] : {std::pair{&mean, "mean"}, {&invstd, "invstd"}}) {
    check(*a, fn, name, t);
    check_channels(*a, rows, fn, name);
    no_overlap(*a, x, fn, "x");
    no_overlap(*a, out, fn, "out");
  }
  no_overlap(mean, invstd, fn, "invstd");
  for (auto [a, name] : {std::pair{&weight, "weight"}, {&bias, "bias"}})
    if (*a) check(**a, fn, name, t), check_channels(**a, n, fn, name),
            no_overlap(out, **a, fn, name);
  no_overlap(out, x, fn, "x");  // any eps, as torch's layer_norm (var + eps < 0 gives NaN)
  nb::gil_scoped_release release;
  if (*t == FloatType::float64)
    cpu::layer_norm_forward<double>(rows, n, ptr<double>(x), ptr<double>(weight),
                                    ptr<double>(bias), eps, ptr<double>(out), ptr<double>(mean),
                                    ptr<double>(invstd));
  else
    cpu::layer_norm_forward<float>(rows, n, ptr<float>(x), ptr<float>(weight), ptr<float>(bias),
                                   float(eps), ptr<float>(out), ptr<float>(mean),
                                   ptr<float>(invstd));
}

void layer_norm_backward(Array g, Array x, Array mean, Array invstd, Opt weight, Opt grad_x,
                         Opt grad_w, Opt grad_b) {
  const char* fn = "layer_norm_backward";
  std::optional<FloatType> t;
  int64_t rows, n;
  rows_of(x, fn, &rows, &n);
  check(g, fn, "grad", t);
  check(x, fn, "x", t);
  check_same_shape(x, g, fn, "grad");
  for (auto [a, name] : {std::pair{&mean, "mean"}, {&invstd, "invstd"}})
    check(*a, fn, name, t), check_channels(*a, rows, fn, name);
  if (weight) check(*weight, fn, "weight", t), check_channels(*weight, n, fn, "weight");
  for (auto [a, name] : {std::pair{&grad_w, "grad_w"}, {&grad_b, "grad_b"}}) {
    if (!*a) continue;
    check(**a, fn, name, t), check_channels(**a, n, fn, name);
    for (auto [b, other] : {std::pair{&g, "grad"}, {&x, "x"}, {&mean, "mean"},
                            {&invstd, "invstd"}})
      no_overlap(**a, *b, fn, other);
    if (weight) no_overlap(**a, *weight, fn, "weight");
  }
  if (grad_w && grad_b) no_overlap(*grad_w, *grad_b, fn, "grad_b");
  if (grad_x) {
    check(*grad_x, fn, "grad_x", t);
    check_same_shape(x, *grad_x, fn, "grad_x");
    for (auto [a, name] : {std::pair{&g, "grad"}, {&x, "x"}, {&mean, "mean"},
                           {&invstd, "invstd"}})
      no_overlap(*grad_x, *a, fn, name);
    for (auto [a, name] : {std::pair{&weight, "weight"}, {&grad_w, "grad_w"}, {&grad_b, "grad_b"}})
      if (*a) no_overlap(*grad_x, **a, fn, name);
  }
  nb::gil_scoped_release release;
  if (*t == FloatType::float64)
    cpu::layer_norm_backward<double>(rows, n, ptr<double>(g), ptr<double>(x), ptr<double>(mean),
                                     ptr<double>(invstd), ptr<double>(weight),
                                     ptr<double>(grad_x), ptr<double>(grad_w),
                                     ptr<double>(grad_b));
  else
    cpu::layer_norm_backward<float>(rows, n, ptr<float>(g), ptr<float>(x), ptr<float>(mean),
                                    ptr<float>(invstd), ptr<float>(weight), ptr<float>(grad_x),
                                    ptr<float>(grad_w), ptr<float>(grad_b));
}

void gelu_tanh_forward(Array x, Array out, Array t) {
  const char* fn = "gelu_tanh_forward";
  std::optional<FloatType> type;
  check(x, fn, "x", type);
  for (auto [a, name] : {std::pair{&out, "out"}, {&t, "t"}}) {
    check(*a, fn, name, type);
    check_same_shape(x, *a, fn, name);
    no_overlap(*a, x, fn, "x");
  }
  no_overlap(out, t, fn, "t");
  nb::gil_scoped_release release;
  if (*type == FloatType::float64)
    cpu::gelu_tanh_forward<double>(numel(x), ptr<double>(x), ptr<double>(out), ptr<double>(t));
  else
    cpu::gelu_tanh_forward<float>(numel(x), ptr<float>(x), ptr<float>(out), ptr<float>(t));
}

void gelu_tanh_backward(Array g, Array x, Array t, Array grad_in) {
  const char* fn = "gelu_tanh_backward";
  std::optional<FloatType> type;
  check(g, fn, "grad", type);
  for (auto [a, name] : {std::pair{&x, "x"}, {&t, "t"}, {&grad_in, "grad_in"}})
    check(*a, fn, name, type), check_same_shape(g, *a, fn, name);
  for (auto [a, name] : {std::pair{&x, "x"}, {&t, "t"}})
    no_overlap(grad_in, *a, fn, name);
  if (grad_in.data() != g.data()) no_overlap(grad_in, g, fn, "grad");  // in place is fine
  nb::gil_scoped_release release;
  if (*type == FloatType::float64)
    cpu::gelu_tanh_backward<double>(numel(g), ptr<double>(g), ptr<double>(x), ptr<double>(t),
                                    ptr<double>(grad_in));
  else
    cpu::gelu_tanh_backward<float>(numel(g), ptr<float>(g), ptr<float>(x), ptr<float>(t),
                                   ptr<float>(grad_in));
}

void relu_forward(Array x, Array out) {
  const char* fn = "relu_forward";
  std::optional<FloatType> t;
  check(x, fn, "x", t);
  check(out, fn, "out", t);
  check_same_shape(x, out, fn, "out");
  if (x.data() != out.data()) no_overlap(out, x, fn, "x");  // in place is fine
  nb::gil_scoped_release release;
  if (*t == FloatType::float64)
    cpu::relu_forward<double>(numel(x), ptr<double>(x), ptr<double>(out));
  else
    cpu::relu_forward<float>(numel(x), ptr<float>(x), ptr<float>(out));
}

void relu_backward(Array g, Array out, Array grad_in) {
  const char* fn = "relu_backward";
  std::optional<FloatType> t;
  check(g, fn, "grad", t);
  check(out, fn, "out", t);
  check(grad_in, fn, "grad_in", t);
  check_same_shape(g, out, fn, "out");
  check_same_shape(g, grad_in, fn, "grad_in");
  if (grad_in.data() != g.data()) no_overlap(grad_in, g, fn, "grad");
  if (grad_in.data() != out.data()) no_overlap(grad_in, out, fn, "out");
  nb::gil_scoped_release release;
  if (*t == FloatType::float64)
    cpu::relu_backward<double>(numel(g), ptr<double>(g), ptr<double>(out), ptr<double>(grad_in));
  else
    cpu::relu_backward<float>(numel(g), ptr<float>(g), ptr<float>(out), ptr<float>(grad_in));
}

void sgd_update(Array param, Array grad, Opt buf, double lr, double momentum, double dampening,
                double weight_decay, bool nesterov, bool maximize, bool first) {
  const char* fn = "sgd_update";
  std::optional<FloatType> t;
  check(param, fn, "param", t);
  check(grad, fn, "grad", t);
  check_same_shape(param, grad, fn, "grad");
  no_overlap(param, grad, fn, "grad");
  if (buf) {
    check(*buf, fn, "buf", t);
    check_same_shape(param, *buf, fn, "buf");
    no_overlap(*buf, param, fn, "param");
    no_overlap(*buf, grad, fn, "grad");
  }
  nb::gil_scoped_release release;
  if (*t == FloatType::float64)
    cpu::sgd_update<double>(numel(param), ptr<double>(param), ptr<double>(grad), ptr<double>(buf),
                            lr, momentum, dampening, weight_decay, nesterov, maximize, first);
  else
    cpu::sgd_update<float>(numel(param), ptr<float>(param), ptr<float>(grad), ptr<float>(buf), lr,
                           momentum, dampening, weight_decay, nesterov, maximize, first);
}

void adam_update(Array param, Array grad, Array exp_avg, Array exp_avg_sq, Opt max_exp_avg_sq,
                 double lr, double beta1, double beta2, double eps, double weight_decay,
                 bool decoupled, bool maximize, double step_size, double bias_correction2_sqrt) {
  const char* fn = "adam_update";
  std::optional<FloatType> t;
  check(param, fn, "param", t);
  check(grad, fn, "grad", t);
  check_same_shape(param, grad, fn, "grad");
  no_overlap(param, grad, fn, "grad");
  for (auto [a, name] : {std::pair{&exp_avg, "exp_avg"}, {&exp_avg_sq, "exp_avg_sq"}}) {
    check(*a, fn, name, t);
    check_same_shape(param, *a, fn, name);
    no_overlap(*a, param, fn, "param");
    no_overlap(*a, grad, fn, "grad");
  }
  no_overlap(exp_avg, exp_avg_sq, fn, "exp_avg_sq");
  if (max_exp_avg_sq) {
    check(*max_exp_avg_sq, fn, "max_exp_avg_sq", t);
    check_same_shape(param, *max_exp_avg_sq, fn, "max_exp_avg_sq");
    for (auto [a, name] : {std::pair{&param, "param"}, {&grad, "grad"}, {&exp_avg, "exp_avg"},
                           {&exp_avg_sq, "exp_avg_sq"}})
      no_overlap(*max_exp_avg_sq, *a, fn, name);
  }
  nb::gil_scoped_release release;
  if (*t == FloatType::float64)
    cpu::adam_update<double>(numel(param), ptr<double>(param), ptr<double>(grad),
                             ptr<double>(exp_avg), ptr<double>(exp_avg_sq),
                             ptr<double>(max_exp_avg_sq), lr, beta1, beta2, eps, weight_decay,
                             decoupled, maximize, step_size, bias_correction2_sqrt);
  else
    cpu::adam_update<float>(numel(param), ptr<float>(param), ptr<float>(grad),
                            ptr<float>(exp_avg), ptr<float>(exp_avg_sq),
                            ptr<float>(max_exp_avg_sq), lr, beta1, beta2, eps, weight_decay,
                            decoupled, maximize, step_size, bias_correction2_sqrt);
}

}  // namespace

void bind_norm(nb::module_& m) {
  m.def("batch_norm_forward_train", &batch_norm_forward_train, nb::arg("x"),
        nb::arg("weight").none(), nb::arg("bias").none(), nb::arg("out"), nb::arg("mean"),
        nb::arg("var"), nb::arg("invstd"), nb::arg("eps"),
        "Per-channel batch statistics of x (N, C, *) and out = (x - mean) * invstd * weight + "
        "bias; mean, biased var and invstd (C,) written.");
  m.def("batch_norm_backward_train", &batch_norm_backward_train, nb::arg("grad"), nb::arg("x"),
        nb::arg("mean"), nb::arg("invstd"), nb::arg("weight").none(), nb::arg("grad_x").none(),
        nb::arg("sum_g"), nb::arg("sum_gxhat"),
        "Per-channel sum(grad), sum(grad * xhat) and (if grad_x is given) the input gradient of "
        "batch normalization with batch statistics.");
  m.def("layer_norm_forward", &layer_norm_forward, nb::arg("x"), nb::arg("weight").none(),
        nb::arg("bias").none(), nb::arg("out"), nb::arg("mean"), nb::arg("invstd"),
        nb::arg("eps"),
        "Layer normalization over the last dimension of x: out = (x - mean) * invstd * weight + "
        "bias (weight, bias per column), mean and invstd per row written.");
  m.def("layer_norm_backward", &layer_norm_backward, nb::arg("grad"), nb::arg("x"),
        nb::arg("mean"), nb::arg("invstd"), nb::arg("weight").none(), nb::arg("grad_x").none(),
        nb::arg("grad_w").none(), nb::arg("grad_b").none(),
        "Layer normalization's input gradient (if grad_x is given) and the column sums "
        "grad_w = sum(grad * xhat), grad_b = sum(grad) (if given).");
  m.def("gelu_tanh_forward", &gelu_tanh_forward, nb::arg("x"), nb::arg("out"), nb::arg("t"),
        "The tanh GELU: t = tanh(sqrt(2/pi) (x + 0.044715 x^3)), out = 0.5 x (1 + t).");
  m.def("gelu_tanh_backward", &gelu_tanh_backward, nb::arg("grad"), nb::arg("x"), nb::arg("t"),
        nb::arg("grad_in"), "The tanh GELU's input gradient from x and the forward's t.");
  m.def("relu_forward", &relu_forward, nb::arg("x"), nb::arg("out"), "out = max(x, 0).");
  m.def("relu_backward", &relu_backward, nb::arg("grad"), nb::arg("out"), nb::arg("grad_in"),
        "grad_in = grad where out > 0, else 0.");
  m.def("adam_update", &adam_update, nb::arg("param"), nb::arg("grad"), nb::arg("exp_avg"),
        nb::arg("exp_avg_sq"), nb::arg("max_exp_avg_sq").none(), nb::arg("lr"), nb::arg("beta1"),
        nb::arg("beta2"), nb::arg("eps"), nb::arg("weight_decay"), nb::arg("decoupled"),
        nb::arg("maximize"), nb::arg("step_size"), nb::arg("bias_correction2_sqrt"),
        "torch.optim.Adam's (decoupled: AdamW's) update of one parameter and its moment "
        "estimates in place (max_exp_avg_sq: amsgrad's running maximum, or None).");
  m.def("sgd_update", &sgd_update, nb::arg("param"), nb::arg("grad"), nb::arg("buf").none(),
        nb::arg("lr"), nb::arg("momentum"), nb::arg("dampening"), nb::arg("weight_decay"),
        nb::arg("nesterov"), nb::arg("maximize"), nb::arg("first"),
        "torch.optim.SGD's update of one parameter in place (buf: momentum buffer or None).");
}

}  // namespace fastdl::bind
