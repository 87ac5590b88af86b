#pragma once
// The CUDA recurrent drivers' functions (rnn_forward, rnn_backward), defined once for _C_cuda
// (cupy arrays, trailing stream=0) and _C_cudaemu (numpy arrays, trailing schedule/seed/workers):
// a Runner gives the arrays' device and runs the enqueueing lambda (GIL released) -- see
// cuda_rnn.cpp and cuda_emu_rnn.cpp.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <string>

#include "bindings/cuda_rnn_args.h"
#include "cuda/rnn/rnn.h"

namespace fastdl::bind::cuda_rnn_args {

template <class Runner>
void forward(const Runner& run, const std::string& mode, Arr x, Arr w_ih, Arr w_hh, OptArr b_ih,
             OptArr b_hh, Arr h0, OptArr c0, OptArr lengths, bool reverse, Arr y, Arr hT,
             OptArr cT, Arr ws0, OptArr ws1, Arr hprev) {
  Checker c{run.fn_forward()};
  c.device_type = run.device_type();
  c.where = run.where();
  const Call call = check_forward(c, mode, x, w_ih, w_hh, b_ih, b_hh, h0, c0, lengths, y, hT, cT,
                                  ws0, ws1, hprev);
  dispatch(call, [&](auto zero) {
    using T = decltype(zero);
    run(x, [&](void* stream) {
      cuda::rnn_forward<T>(call.mode, call.s, cptr<T>(x), cptr<T>(w_ih), cptr<T>(w_hh),
                           opt_ptr<T>(b_ih), opt_ptr<T>(b_hh), cptr<T>(h0), opt_ptr<T>(c0),
                           call.lengths, reverse, mptr<T>(y), mptr<T>(hT), opt_ptr<T>(cT),
                           mptr<T>(ws0), opt_ptr<T>(ws1), mptr<T>(hprev), stream);
    });
  });
}

template <class Runner>
void backward(const Runner& run, const std::string& mode, Arr x, Arr w_ih, Arr w_hh,
              OptArr lengths, bool reverse, Arr ws0, OptArr ws1, Arr hprev, Arr dy, Arr dhT,
              OptArr dcT, OptArr dx, Arr dw_ih, Arr dw_hh, Arr db_ih, Arr db_hh, Arr dh0,
              OptArr dc0) {
  Checker c{run.fn_backward()};
  c.device_type = run.device_type();
  c.where = run.where();
  const Call call = check_backward(c, mode, x, w_ih, w_hh, lengths, ws0, ws1, hprev, dy, dhT,
                                   dcT, dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0);
  dispatch(call, [&](auto zero) {
    using T = decltype(zero);
    run(x, [&](void* stream) {
      cuda::rnn_backward<T>(call.mode, call.s, cptr<T>(x), cptr<T>(w_ih), cptr<T>(w_hh),
                            call.lengths, reverse, cptr<T>(ws0), opt_ptr<T>(ws1),
                            cptr<T>(hprev), cptr<T>(dy), cptr<T>(dhT), opt_ptr<T>(dcT),
                            opt_ptr<T>(dx), mptr<T>(dw_ih), mptr<T>(dw_hh), mptr<T>(db_ih),
                            mptr<T>(db_hh), mptr<T>(dh0), opt_ptr<T>(dc0), stream);
    });
  });
}

constexpr const char* kForwardDoc =
    "The CUDA recurrent forward of one layer and direction (mode lstm, gru, rnn_tanh, rnn_relu; "
    "no projection): x (steps, batch, input); fills y, hT (cT) and the workspace ws0 = gates or "
    "activations (steps, batch, G*H), ws1 = cprev (LSTM) or hn (GRU), hprev. lengths: host int64.";
constexpr const char* kBackwardDoc =
    "The CUDA recurrent backward through time of rnn_forward: dx, dw_ih, dw_hh, db_ih, db_hh, "
    "dh0 (dc0) fully overwritten; dx None: the input's gradient is not computed.";

template <class... Ts>
struct Trailing {};

// Defines rnn_forward and rnn_backward on m: each takes the trailing arguments Extra... (named
// by `tail`, nb::arg(...) = default) and runs on make_runner(extra...).
template <class MakeRunner, class... Extra, class... Tail>
void def_rnn(nb::module_& m, MakeRunner make_runner, Trailing<Extra...>, Tail... tail) {
  using nb::arg;
  m.def(
      "rnn_forward",
      [make_runner](const std::string& mode, Arr x, Arr w_ih, Arr w_hh, OptArr b_ih, OptArr b_hh, Arr h0,
         OptArr c0, OptArr lengths, bool reverse, Arr y, Arr hT, OptArr cT, Arr ws0, OptArr ws1,
         Arr hprev, Extra... extra) {
        forward(make_runner(extra...), mode, x, w_ih, w_hh, b_ih, b_hh, h0, c0, lengths,
                reverse, y, hT, cT, ws0, ws1, hprev);
      },
      arg("mode"), arg("x"), arg("w_ih"), arg("w_hh"), arg("b_ih").none(), arg("b_hh").none(),
      arg("h0"), arg("c0").none(), arg("lengths").none(), arg("reverse"), arg("y"), arg("hT"),
      arg("cT").none(), arg("ws0"), arg("ws1").none(), arg("hprev"), tail..., kForwardDoc);
  m.def(
      "rnn_backward",
      [make_runner](const std::string& mode, Arr x, Arr w_ih, Arr w_hh, OptArr lengths, bool reverse,
         Arr ws0, OptArr ws1, Arr hprev, Arr dy, Arr dhT, OptArr dcT, OptArr dx, Arr dw_ih,
         Arr dw_hh, Arr db_ih, Arr db_hh, Arr dh0, OptArr dc0, Extra... extra) {
        backward(make_runner(extra...), mode, x, w_ih, w_hh, lengths, reverse, ws0, ws1, hprev,
                 dy, dhT, dcT, dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0);
      },
      arg("mode"), arg("x"), arg("w_ih"), arg("w_hh"), arg("lengths").none(), arg("reverse"),
      arg("ws0"), arg("ws1").none(), arg("hprev"), arg("dy"), arg("dhT"), arg("dcT").none(),
      arg("dx").none(), arg("dw_ih"), arg("dw_hh"), arg("db_ih"), arg("db_hh"), arg("dh0"),
      arg("dc0").none(), tail..., kBackwardDoc);
}

}  // namespace fastdl::bind::cuda_rnn_args
