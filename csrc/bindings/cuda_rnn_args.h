#pragma once
// Argument checks of the CUDA recurrent drivers' bindings (_C_cuda and _C_cudaemu share them): the
// mode, one float dtype, exact shapes and C-contiguity of every array (on the module's device),
// which optional arrays go with which mode, and host-side lengths.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>

#include <string>
#include <utility>

#include "bindings/rnn_args.h"
#include "cuda/rnn/rnn.h"

namespace fastdl::bind::cuda_rnn_args {

struct Call {
  cuda::RnnMode mode;
  cuda::RnnShape s;
  bool f64;
  const int64_t* lengths;  // host memory or null
};

inline cuda::RnnMode mode_of(const std::string& mode) {
  if (mode == "lstm") return cuda::RnnMode::lstm;
  if (mode == "gru") return cuda::RnnMode::gru;
  if (mode == "rnn_tanh") return cuda::RnnMode::rnn_tanh;
  if (mode == "rnn_relu") return cuda::RnnMode::rnn_relu;
  throw nb::value_error(
      ("rnn: unknown mode '" + mode + "' (lstm, gru, rnn_tanh, rnn_relu)").c_str());
}

template <typename T>
T* opt_ptr(const OptArr& a) {
  return a ? static_cast<T*>(a->data()) : nullptr;
}

// Shapes of one call: x (steps, batch, input), w_ih (G*H, input), w_hh (G*H, H).
inline cuda::RnnShape checked_shape(Checker& c, cuda::RnnMode mode, const Arr& x,
                                    const Arr& w_ih, const Arr& w_hh) {
  if (x.ndim() != 3 || w_ih.ndim() != 2)
    throw nb::value_error((std::string(c.fn) + ": expected x (steps, batch, input) and a 2-D "
                           "w_ih, got " + shape_str(x) + " and " + shape_str(w_ih))
                              .c_str());
  const int64_t G = cuda::rnn_gates(mode), H = int64_t(w_ih.shape(0)) / G;
  const cuda::RnnShape s{int64_t(x.shape(0)), int64_t(x.shape(1)), int64_t(x.shape(2)), H};
  if (H * G != int64_t(w_ih.shape(0)) || H < 1 || s.steps < 1 || s.batch < 1)
    throw nb::value_error((std::string(c.fn) + ": bad sizes: x " + shape_str(x) + ", w_ih " +
                           shape_str(w_ih))
                              .c_str());
  c.check(x, "x", {s.steps, s.batch, s.input});
  c.check(w_ih, "w_ih", {G * H, s.input});
  c.check(w_hh, "w_hh", {G * H, H});
  return s;
}

inline void check_ws1(Checker& c, cuda::RnnMode mode, const OptArr& ws1, const cuda::RnnShape& s) {
  if ((mode == cuda::RnnMode::lstm || mode == cuda::RnnMode::gru) != bool(ws1))
    throw nb::value_error(
        (std::string(c.fn) + ": ws1 is given exactly for the LSTM and the GRU").c_str());
  if (ws1) c.check(*ws1, "ws1", {s.steps, s.batch, s.hidden});
}

inline Call check_forward(Checker& c, const std::string& mode_name, const Arr& x,
                          const Arr& w_ih, const Arr& w_hh, const OptArr& b_ih,
                          const OptArr& b_hh, const Arr& h0, const OptArr& c0,
                          const OptArr& lengths, const Arr& y, const Arr& hT, const OptArr& cT,
                          const Arr& ws0, const OptArr& ws1, const Arr& hprev) {
  const cuda::RnnMode mode = mode_of(mode_name);
  const bool lstm = mode == cuda::RnnMode::lstm;
  const cuda::RnnShape s = checked_shape(c, mode, x, w_ih, w_hh);
  const int64_t T_ = s.steps, B = s.batch, H = s.hidden, NG = cuda::rnn_gates(mode) * H;
  for (auto [a, name] : {std::pair{&b_ih, "b_ih"}, {&b_hh, "b_hh"}})
    if (*a) c.check(**a, name, {NG});
  c.check(h0, "h0", {B, H});
  c.check(y, "y", {T_, B, H});
  c.check(hT, "hT", {B, H});
  c.check(ws0, "ws0", {T_, B, NG});
  c.check(hprev, "hprev", {T_, B, H});
  if (lstm != bool(c0) || lstm != bool(cT))
    throw nb::value_error(
        (std::string(c.fn) + ": c0 and cT are given exactly for the LSTM").c_str());
  if (lstm) c.check(*c0, "c0", {B, H}), c.check(*cT, "cT", {B, H});
  check_ws1(c, mode, ws1, s);
  const int64_t* len = check_lengths(c.fn, lengths, T_, B);
  return {mode, s, c.dtype == nb::dtype<double>(), len};
}

inline Call check_backward(Checker& c, const std::string& mode_name, const Arr& x,
                           const Arr& w_ih, const Arr& w_hh, const OptArr& lengths,
                           const Arr& ws0, const OptArr& ws1, const Arr& hprev, const Arr& dy,
                           const Arr& dhT, const OptArr& dcT, const OptArr& dx, const Arr& dw_ih,
                           const Arr& dw_hh, const Arr& db_ih, const Arr& db_hh, const Arr& dh0,
                           const OptArr& dc0) {
  const cuda::RnnMode mode = mode_of(mode_name);
  const bool lstm = mode == cuda::RnnMode::lstm;
  const cuda::RnnShape s = checked_shape(c, mode, x, w_ih, w_hh);
  const int64_t T_ = s.steps, B = s.batch, H = s.hidden, NG = cuda::rnn_gates(mode) * H;
  c.check(ws0, "ws0", {T_, B, NG});
  c.check(hprev, "hprev", {T_, B, H});
  c.check(dy, "dy", {T_, B, H});
  c.check(dhT, "dhT", {B, H});
  if (dx) c.check(*dx, "dx", {T_, B, s.input});
  c.check(dw_ih, "dw_ih", {NG, s.input});
  c.check(dw_hh, "dw_hh", {NG, H});
  c.check(db_ih, "db_ih", {NG});
  c.check(db_hh, "db_hh", {NG});
  c.check(dh0, "dh0", {B, H});
  if (lstm != bool(dcT) || lstm != bool(dc0))
    throw nb::value_error(
        (std::string(c.fn) + ": dcT and dc0 are given exactly for the LSTM").c_str());
  if (lstm) c.check(*dcT, "dcT", {B, H}), c.check(*dc0, "dc0", {B, H});
  check_ws1(c, mode, ws1, s);
  const int64_t* len = check_lengths(c.fn, lengths, T_, B);
  return {mode, s, c.dtype == nb::dtype<double>(), len};
}

// Runs the driver for the call's dtype: f(T{}) with T = float or double.
template <class F>
void dispatch(const Call& call, F&& f) {
  if (call.f64) f(double(0)); else f(float(0));
}

}  // namespace fastdl::bind::cuda_rnn_args
