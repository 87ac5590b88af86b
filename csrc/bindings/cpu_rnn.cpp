// _C rnn kernels: whole-sequence LSTM / GRU / Elman RNN forward and backward (cpu/rnn/rnn.h).
// The Python op layer allocates every array (outputs, workspace, gradients) C-contiguous; the
// bindings check dtypes, contiguity, shapes and lengths, then release the GIL around the kernel.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings/array_checks.h"
#include "bindings/rnn_args.h"
#include "cpu/rnn/rnn.h"

namespace nb = nanobind;

namespace fastdl::bind {
namespace {

cpu::RnnShape shape_of(const char* fn, const Arr& x, const Arr& w_ih, const Arr& w_hh, int gates,
                       int64_t out) {
  if (x.ndim() != 3 || w_ih.ndim() != 2 || w_hh.ndim() != 2)
    throw nb::value_error((std::string(fn) + ": expected x (steps, batch, input), got " +
                           shape_str(x) + ", w_ih " + shape_str(w_ih) + ", w_hh " +
                           shape_str(w_hh))
                              .c_str());
  const int64_t hidden = int64_t(w_ih.shape(0)) / gates;
  if (hidden * gates != int64_t(w_ih.shape(0)) || hidden < 1)
    throw nb::value_error((std::string(fn) + ": w_ih must have " + std::to_string(gates) +
                           " * hidden rows, got " + shape_str(w_ih))
                              .c_str());
  return {int64_t(x.shape(0)), int64_t(x.shape(1)), int64_t(x.shape(2)), hidden,
          out > 0 ? out : hidden};
}

// ---- LSTM ------------------------------------------------------------------------------------
template <typename T>
void lstm_forward_t(const cpu::RnnShape& s, const Arr& x, const Arr& w_ih, const Arr& w_hh,
                    const T* b_ih, const T* b_hh, const T* w_hr, const Arr& h0, const Arr& c0,
                    const int64_t* len, bool reverse, Arr& y, Arr& hT, Arr& cT, T* gates,
                    T* cprev, T* hprev, T* hpre) {
  nb::gil_scoped_release release;
  cpu::lstm_forward<T>(s, cptr<T>(x), cptr<T>(w_ih), cptr<T>(w_hh), b_ih, b_hh, w_hr,
                       cptr<T>(h0), cptr<T>(c0), len, reverse, mptr<T>(y), mptr<T>(hT),
                       mptr<T>(cT), gates, cprev, hprev, hpre);
}

// gates, cprev, hprev: the workspace a backward reads, all three or none (an inference call).
void lstm_forward(Arr x, Arr w_ih, Arr w_hh, OptArr b_ih, OptArr b_hh, OptArr w_hr, Arr h0,
                  Arr c0, OptArr lengths, bool reverse, Arr y, Arr hT, Arr cT, OptArr gates,
                  OptArr cprev, OptArr hprev, OptArr hpre) {
  const char* fn = "lstm_forward";
  const int64_t out = w_hr ? int64_t(w_hh.shape(1)) : 0;
  const cpu::RnnShape s = shape_of(fn, x, w_ih, w_hh, 4, out);
  const int64_t T_ = s.steps, B = s.batch, H = s.hidden, P = s.out;
  Checker c{fn};
  c.check(x, "x", {T_, B, s.input});
  c.check(w_ih, "w_ih", {4 * H, s.input});
  c.check(w_hh, "w_hh", {4 * H, P});
  c.check(h0, "h0", {B, P});
  c.check(c0, "c0", {B, H});
  c.check(y, "y", {T_, B, P});
  c.check(hT, "hT", {B, P});
  c.check(cT, "cT", {B, H});
  if (bool(gates) != bool(cprev) || bool(gates) != bool(hprev))
    throw nb::value_error("lstm_forward: give the workspace gates, cprev, hprev all or none");
  if (bool(w_hr) != bool(hpre))
    throw nb::value_error("lstm_forward: hpre is needed exactly when w_hr is given");
  const int64_t* len = check_lengths(fn, lengths, T_, B);
  if (T_ == 0 || B == 0) throw nb::value_error("lstm_forward: empty sequence or batch");
  if (c.dtype == nb::dtype<double>())
    lstm_forward_t<double>(s, x, w_ih, w_hh, c.opt<double>(b_ih, "b_ih", {4 * H}),
                           c.opt<double>(b_hh, "b_hh", {4 * H}),
                           c.opt<double>(w_hr, "w_hr", {P, H}), h0, c0, len, reverse, y, hT, cT,
                           const_cast<double*>(c.opt<double>(gates, "gates", {T_, B, 4 * H})),
                           const_cast<double*>(c.opt<double>(cprev, "cprev", {T_, B, H})),
                           const_cast<double*>(c.opt<double>(hprev, "hprev", {T_, B, P})),
                           const_cast<double*>(c.opt<double>(hpre, "hpre", {T_, B, H})));
  else
    lstm_forward_t<float>(s, x, w_ih, w_hh, c.opt<float>(b_ih, "b_ih", {4 * H}),
                          c.opt<float>(b_hh, "b_hh", {4 * H}), c.opt<float>(w_hr, "w_hr", {P, H}),
                          h0, c0, len, reverse, y, hT, cT,
                          const_cast<float*>(c.opt<float>(gates, "gates", {T_, B, 4 * H})),
                          const_cast<float*>(c.opt<float>(cprev, "cprev", {T_, B, H})),
                          const_cast<float*>(c.opt<float>(hprev, "hprev", {T_, B, P})),
                          const_cast<float*>(c.opt<float>(hpre, "hpre", {T_, B, H})));
}

template <typename T>
void lstm_backward_t(const cpu::RnnShape& s, const Arr& x, const Arr& w_ih, const Arr& w_hh,
                     const T* w_hr, const int64_t* len, bool reverse, const Arr& gates,
                     const Arr& cprev, const Arr& hprev, const T* hpre, const Arr& dy,
                     const Arr& dhT, const Arr& dcT, T* dx, Arr& dw_ih, Arr& dw_hh, Arr& db,
                     T* dw_hr, Arr& dh0, Arr& dc0) {
  nb::gil_scoped_release release;
  cpu::lstm_backward<T>(s, cptr<T>(x), cptr<T>(w_ih), cptr<T>(w_hh), w_hr, len, reverse,
                        cptr<T>(gates), cptr<T>(cprev), cptr<T>(hprev), hpre, cptr<T>(dy),
                        cptr<T>(dhT), cptr<T>(dcT), dx, mptr<T>(dw_ih), mptr<T>(dw_hh),
                        mptr<T>(db), dw_hr, mptr<T>(dh0), mptr<T>(dc0));
}

void lstm_backward(Arr x, Arr w_ih, Arr w_hh, OptArr w_hr, OptArr lengths, bool reverse,
                   Arr gates, Arr cprev, Arr hprev, OptArr hpre, Arr dy, Arr dhT, Arr dcT, OptArr dx,
                   Arr dw_ih, Arr dw_hh, Arr db, OptArr dw_hr, Arr dh0, Arr dc0) {
  const char* fn = "lstm_backward";
  const int64_t out = w_hr ? int64_t(w_hh.shape(1)) : 0;
  const cpu::RnnShape s = shape_of(fn, x, w_ih, w_hh, 4, out);
  const int64_t T_ = s.steps, B = s.batch, H = s.hidden, P = s.out, I = s.input;
  Checker c{fn};
  c.check(x, "x", {T_, B, I});
  c.check(w_ih, "w_ih", {4 * H, I});
  c.check(w_hh, "w_hh", {4 * H, P});
  c.check(gates, "gates", {T_, B, 4 * H});
  c.check(cprev, "cprev", {T_, B, H});
  c.check(hprev, "hprev", {T_, B, P});
  c.check(dy, "dy", {T_, B, P});
  c.check(dhT, "dhT", {B, P});
  c.check(dcT, "dcT", {B, H});
  c.check(dw_ih, "dw_ih", {4 * H, I});
  c.check(dw_hh, "dw_hh", {4 * H, P});
  c.check(db, "db", {4 * H});
  c.check(dh0, "dh0", {B, P});
  c.check(dc0, "dc0", {B, H});
  if (bool(w_hr) != bool(hpre) || bool(w_hr) != bool(dw_hr))
    throw nb::value_error("lstm_backward: hpre and dw_hr are needed exactly when w_hr is given");
  const int64_t* len = check_lengths(fn, lengths, T_, B);
  if (T_ == 0 || B == 0) throw nb::value_error("lstm_backward: empty sequence or batch");
  if (c.dtype == nb::dtype<double>())
    lstm_backward_t<double>(s, x, w_ih, w_hh, c.opt<double>(w_hr, "w_hr", {P, H}), len, reverse,
                            gates, cprev, hprev, c.opt<double>(hpre, "hpre", {T_, B, H}), dy, dhT,
                            dcT, const_cast<double*>(c.opt<double>(dx, "dx", {T_, B, I})), dw_ih,
                            dw_hh, db,
                            const_cast<double*>(c.opt<double>(dw_hr, "dw_hr", {P, H})), dh0, dc0);
  else
    lstm_backward_t<float>(s, x, w_ih, w_hh, c.opt<float>(w_hr, "w_hr", {P, H}), len, reverse,
                           gates, cprev, hprev, c.opt<float>(hpre, "hpre", {T_, B, H}), dy, dhT,
                           dcT, const_cast<float*>(c.opt<float>(dx, "dx", {T_, B, I})), dw_ih,
                           dw_hh, db,
                           const_cast<float*>(c.opt<float>(dw_hr, "dw_hr", {P, H})), dh0, dc0);
}

// ---- GRU -------------------------------------------------------------------------------------
template <typename T>
void gru_forward_t(const cpu::RnnShape& s, const Arr& x, const Arr& w_ih, const Arr& w_hh,
                   const T* b_ih, const T* b_hh, const Arr& h0, const int64_t* len, bool reverse,
                   Arr& y, Arr& hT, T* gates, T* hn, T* hprev) {
  nb::gil_scoped_release release;
  cpu::gru_forward<T>(s, cptr<T>(x), cptr<T>(w_ih), cptr<T>(w_hh), b_ih, b_hh, cptr<T>(h0), len,
                      reverse, mptr<T>(y), mptr<T>(hT), gates, hn, hprev);
}

// gates, hn, hprev: the workspace a backward reads, all three or none (an inference call).
void gru_forward(Arr x, Arr w_ih, Arr w_hh, OptArr b_ih, OptArr b_hh, Arr h0, OptArr lengths,
                 bool reverse, Arr y, Arr hT, OptArr gates, OptArr hn, OptArr hprev) {
  const char* fn = "gru_forward";
  const cpu::RnnShape s = shape_of(fn, x, w_ih, w_hh, 3, 0);
  const int64_t T_ = s.steps, B = s.batch, H = s.hidden;
  Checker c{fn};
  c.check(x, "x", {T_, B, s.input});
  c.check(w_ih, "w_ih", {3 * H, s.input});
  c.check(w_hh, "w_hh", {3 * H, H});
  c.check(h0, "h0", {B, H});
  c.check(y, "y", {T_, B, H});
  c.check(hT, "hT", {B, H});
  if (bool(gates) != bool(hn) || bool(gates) != bool(hprev))
    throw nb::value_error("gru_forward: give the workspace gates, hn, hprev all or none");
  const int64_t* len = check_lengths(fn, lengths, T_, B);
  if (T_ == 0 || B == 0) throw nb::value_error("gru_forward: empty sequence or batch");
  if (c.dtype == nb::dtype<double>())
    gru_forward_t<double>(s, x, w_ih, w_hh, c.opt<double>(b_ih, "b_ih", {3 * H}),
                          c.opt<double>(b_hh, "b_hh", {3 * H}), h0, len, reverse, y, hT,
                          const_cast<double*>(c.opt<double>(gates, "gates", {T_, B, 3 * H})),
                          const_cast<double*>(c.opt<double>(hn, "hn", {T_, B, H})),
                          const_cast<double*>(c.opt<double>(hprev, "hprev", {T_, B, H})));
  else
    gru_forward_t<float>(s, x, w_ih, w_hh, c.opt<float>(b_ih, "b_ih", {3 * H}),
                         c.opt<float>(b_hh, "b_hh", {3 * H}), h0, len, reverse, y, hT,
                         const_cast<float*>(c.opt<float>(gates, "gates", {T_, B, 3 * H})),
                         const_cast<float*>(c.opt<float>(hn, "hn", {T_, B, H})),
                         const_cast<float*>(c.opt<float>(hprev, "hprev", {T_, B, H})));
}

template <typename T>
void gru_backward_t(const cpu::RnnShape& s, const Arr& x, const Arr& w_ih, const Arr& w_hh,
                    const int64_t* len, bool reverse, const Arr& gates, const Arr& hn,
                    const Arr& hprev, const Arr& dy, const Arr& dhT, T* dx, Arr& dw_ih,
                    Arr& dw_hh, Arr& db_ih, Arr& db_hh, Arr& dh0) {
  nb::gil_scoped_release release;
  cpu::gru_backward<T>(s, cptr<T>(x), cptr<T>(w_ih), cptr<T>(w_hh), len, reverse,
                       cptr<T>(gates), cptr<T>(hn), cptr<T>(hprev), cptr<T>(dy), cptr<T>(dhT),
                       dx, mptr<T>(dw_ih), mptr<T>(dw_hh), mptr<T>(db_ih),
                       mptr<T>(db_hh), mptr<T>(dh0));
}

void gru_backward(Arr x, Arr w_ih, Arr w_hh, OptArr lengths, bool reverse, Arr gates, Arr hn,
                  Arr hprev, Arr dy, Arr dhT, OptArr dx, Arr dw_ih, Arr dw_hh, Arr db_ih,
                  Arr db_hh, Arr dh0) {
  const char* fn = "gru_backward";
  const cpu::RnnShape s = shape_of(fn, x, w_ih, w_hh, 3, 0);
  const int64_t T_ = s.steps, B = s.batch, H = s.hidden, I = s.input;
  Checker c{fn};
  c.check(x, "x", {T_, B, I});
  c.check(w_ih, "w_ih", {3 * H, I});
  c.check(w_hh, "w_hh", {3 * H, H});
  c.check(gates, "gates", {T_, B, 3 * H});
  c.check(hn, "hn", {T_, B, H});
  c.check(hprev, "hprev", {T_, B, H});
  c.check(dy, "dy", {T_, B, H});
  c.check(dhT, "dhT", {B, H});
  c.check(dw_ih, "dw_ih", {3 * H, I});
  c.check(dw_hh, "dw_hh", {3 * H, H});
  c.check(db_ih, "db_ih", {3 * H});
  c.check(db_hh, "db_hh", {3 * H});
  c.check(dh0, "dh0", {B, H});
  const int64_t* len = check_lengths(fn, lengths, T_, B);
  if (T_ == 0 || B == 0) throw nb::value_error("gru_backward: empty sequence or batch");
  if (c.dtype == nb::dtype<double>())
    gru_backward_t<double>(s, x, w_ih, w_hh, len, reverse, gates, hn, hprev, dy, dhT,
                           const_cast<double*>(c.opt<double>(dx, "dx", {T_, B, I})), dw_ih,
                           dw_hh, db_ih, db_hh, dh0);
  else
    gru_backward_t<float>(s, x, w_ih, w_hh, len, reverse, gates, hn, hprev, dy, dhT,
                          const_cast<float*>(c.opt<float>(dx, "dx", {T_, B, I})), dw_ih, dw_hh,
                          db_ih, db_hh, dh0);
}

// ---- Elman RNN -------------------------------------------------------------------------------
bool relu_of(const std::string& nonlinearity) {
  if (nonlinearity == "tanh") return false;
  if (nonlinearity == "relu") return true;
  throw nb::value_error(("rnn: unknown nonlinearity '" + nonlinearity + "' (tanh or relu)").c_str());
}

template <typename T>
void rnn_forward_t(const cpu::RnnShape& s, bool relu, const Arr& x, const Arr& w_ih,
                   const Arr& w_hh, const T* b_ih, const T* b_hh, const Arr& h0,
                   const int64_t* len, bool reverse, Arr& y, Arr& hT, Arr& acts, Arr& hprev) {
  nb::gil_scoped_release release;
  cpu::rnn_forward<T>(s, relu, cptr<T>(x), cptr<T>(w_ih), cptr<T>(w_hh), b_ih, b_hh,
                      cptr<T>(h0), len, reverse, mptr<T>(y), mptr<T>(hT), mptr<T>(acts),
                      mptr<T>(hprev));
}

void rnn_forward(std::string nonlinearity, Arr x, Arr w_ih, Arr w_hh, OptArr b_ih, OptArr b_hh,
                 Arr h0, OptArr lengths, bool reverse, Arr y, Arr hT, Arr acts, Arr hprev) {
  const char* fn = "rnn_forward";
  const bool relu = relu_of(nonlinearity);
  const cpu::RnnShape s = shape_of(fn, x, w_ih, w_hh, 1, 0);
  const int64_t T_ = s.steps, B = s.batch, H = s.hidden;
  Checker c{fn};
  c.check(x, "x", {T_, B, s.input});
  c.check(w_ih, "w_ih", {H, s.input});
  c.check(w_hh, "w_hh", {H, H});
  c.check(h0, "h0", {B, H});
  c.check(y, "y", {T_, B, H});
  c.check(hT, "hT", {B, H});
  c.check(acts, "acts", {T_, B, H});
  c.check(hprev, "hprev", {T_, B, H});
  const int64_t* len = check_lengths(fn, lengths, T_, B);
  if (T_ == 0 || B == 0) throw nb::value_error("rnn_forward: empty sequence or batch");
  if (c.dtype == nb::dtype<double>())
    rnn_forward_t<double>(s, relu, x, w_ih, w_hh, c.opt<double>(b_ih, "b_ih", {H}),
                          c.opt<double>(b_hh, "b_hh", {H}), h0, len, reverse, y, hT, acts, hprev);
  else
    rnn_forward_t<float>(s, relu, x, w_ih, w_hh, c.opt<float>(b_ih, "b_ih", {H}),
                         c.opt<float>(b_hh, "b_hh", {H}), h0, len, reverse, y, hT, acts, hprev);
}

template <typename T>
void rnn_backward_t(const cpu::RnnShape& s, bool relu, const Arr& x, const Arr& w_ih,
                    const Arr& w_hh, const int64_t* len, bool reverse, const Arr& acts,
                    const Arr& hprev, const Arr& dy, const Arr& dhT, T* dx, Arr& dw_ih,
                    Arr& dw_hh, Arr& db, Arr& dh0) {
  nb::gil_scoped_release release;
  cpu::rnn_backward<T>(s, relu, cptr<T>(x), cptr<T>(w_ih), cptr<T>(w_hh), len, reverse,
                       cptr<T>(acts), cptr<T>(hprev), cptr<T>(dy), cptr<T>(dhT), dx,
                       mptr<T>(dw_ih), mptr<T>(dw_hh), mptr<T>(db), mptr<T>(dh0));
}

void rnn_backward(std::string nonlinearity, Arr x, Arr w_ih, Arr w_hh, OptArr lengths,
                  bool reverse, Arr acts, Arr hprev, Arr dy, Arr dhT, OptArr dx, Arr dw_ih,
                  Arr dw_hh, Arr db, Arr dh0) {
  const char* fn = "rnn_backward";
  const bool relu = relu_of(nonlinearity);
  const cpu::RnnShape s = shape_of(fn, x, w_ih, w_hh, 1, 0);
  const int64_t T_ = s.steps, B = s.batch, H = s.hidden, I = s.input;
  Checker c{fn};
  c.check(x, "x", {T_, B, I});
  c.check(w_ih, "w_ih", {H, I});
  c.check(w_hh, "w_hh", {H, H});
  c.check(acts, "acts", {T_, B, H});
  c.check(hprev, "hprev", {T_, B, H});
  c.check(dy, "dy", {T_, B, H});
  c.check(dhT, "dhT", {B, H});
  c.check(dw_ih, "dw_ih", {H, I});
  c.check(dw_hh, "dw_hh", {H, H});
  c.check(db, "db", {H});
  c.check(dh0, "dh0", {B, H});
  const int64_t* len = check_lengths(fn, lengths, T_, B);
  if (T_ == 0 || B == 0) throw nb::value_error("rnn_backward: empty sequence or batch");
  if (c.dtype == nb::dtype<double>())
    rnn_backward_t<double>(s, relu, x, w_ih, w_hh, len, reverse, acts, hprev, dy, dhT,
                           const_cast<double*>(c.opt<double>(dx, "dx", {T_, B, I})), dw_ih,
                           dw_hh, db, dh0);
  else
    rnn_backward_t<float>(s, relu, x, w_ih, w_hh, len, reverse, acts, hprev, dy, dhT,
                          const_cast<float*>(c.opt<float>(dx, "dx", {T_, B, I})), dw_ih, dw_hh,
                          db, dh0);
}

}  // namespace

void bind_rnn(nb::module_& m) {
  using nb::arg;
  m.def("lstm_forward", &lstm_forward, arg("x"), arg("w_ih"), arg("w_hh"), arg("b_ih").none(),
        arg("b_hh").none(), arg("w_hr").none(), arg("h0"), arg("c0"), arg("lengths").none(),
        arg("reverse"), arg("y"), arg("hT"), arg("cT"), arg("gates"), arg("cprev"), arg("hprev"),
        arg("hpre").none(),
        "One LSTM layer and direction over a whole (steps, batch, input) sequence; fills y, the "
        "final states and the workspace (gates, cprev, hprev, hpre) for lstm_backward.");
  m.def("lstm_backward", &lstm_backward, arg("x"), arg("w_ih"), arg("w_hh"), arg("w_hr").none(),
        arg("lengths").none(), arg("reverse"), arg("gates"), arg("cprev"), arg("hprev"),
        arg("hpre").none(), arg("dy"), arg("dhT"), arg("dcT"), arg("dx").none(), arg("dw_ih"),
        arg("dw_hh"), arg("db"), arg("dw_hr").none(), arg("dh0"), arg("dc0"),
        "Backward through time of lstm_forward (db: the gradient of each bias; dx None: the "
        "input's gradient is not computed).");
  m.def("gru_forward", &gru_forward, arg("x"), arg("w_ih"), arg("w_hh"), arg("b_ih").none(),
        arg("b_hh").none(), arg("h0"), arg("lengths").none(), arg("reverse"), arg("y"),
        arg("hT"), arg("gates"), arg("hn"), arg("hprev"),
        "One GRU layer and direction (PyTorch's formulation) over a whole sequence.");
  m.def("gru_backward", &gru_backward, arg("x"), arg("w_ih"), arg("w_hh"),
        arg("lengths").none(), arg("reverse"), arg("gates"), arg("hn"), arg("hprev"), arg("dy"),
        arg("dhT"), arg("dx").none(), arg("dw_ih"), arg("dw_hh"), arg("db_ih"), arg("db_hh"),
        arg("dh0"), "Backward through time of gru_forward.");
  m.def("rnn_forward", &rnn_forward, arg("nonlinearity"), arg("x"), arg("w_ih"), arg("w_hh"),
        arg("b_ih").none(), arg("b_hh").none(), arg("h0"), arg("lengths").none(),
        arg("reverse"), arg("y"), arg("hT"), arg("acts"), arg("hprev"),
        "One Elman RNN layer and direction (tanh or relu) over a whole sequence.");
  m.def("rnn_backward", &rnn_backward, arg("nonlinearity"), arg("x"), arg("w_ih"), arg("w_hh"),
        arg("lengths").none(), arg("reverse"), arg("acts"), arg("hprev"), arg("dy"), arg("dhT"),
        arg("dx").none(), arg("dw_ih"), arg("dw_hh"), arg("db"), arg("dh0"),
        "Backward through time of rnn_forward (db: the gradient of each bias).");
}

}  // namespace fastdl::bind
