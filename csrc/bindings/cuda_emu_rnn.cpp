// _C_cudaemu rnn kernels: the CUDA sequence drivers and gate kernels (cuda/rnn/rnn.cu) run by the
// emulator on numpy arrays, with the CPU kernels' argument layout (tests compare the two).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <string>
#include <vector>

#include "bindings/cuda_emu_options.h"
#include "bindings/rnn_args.h"
#include "cuda/rnn/rnn.h"

namespace nb = nanobind;

namespace fastdl::bind {
namespace {

cuda::RnnMode mode_of(const std::string& mode) {
  if (mode == "lstm") return cuda::RnnMode::lstm;
  if (mode == "gru") return cuda::RnnMode::gru;
  if (mode == "rnn_tanh") return cuda::RnnMode::rnn_tanh;
  if (mode == "rnn_relu") return cuda::RnnMode::rnn_relu;
  throw nb::value_error(("rnn: unknown mode '" + mode + "' (lstm, gru, rnn_tanh, rnn_relu)").c_str());
}

template <typename T>
T* opt_ptr(const OptArr& a) {
  return a ? static_cast<T*>(a->data()) : nullptr;
}

// Shapes of one call: x (steps, batch, input), w_ih (G*H, input).
cuda::RnnShape checked_shape(Checker& c, cuda::RnnMode mode, const Arr& x, const Arr& w_ih,
                             const Arr& w_hh) {
  if (x.ndim() != 3 || w_ih.ndim() != 2)
    throw nb::value_error("rnn: expected x (steps, batch, input) and a 2-D w_ih");
  const int64_t G = cuda::rnn_gates(mode), H = int64_t(w_ih.shape(0)) / G;
  const cuda::RnnShape s{int64_t(x.shape(0)), int64_t(x.shape(1)), int64_t(x.shape(2)), H};
  if (H * G != int64_t(w_ih.shape(0)) || H < 1 || s.steps < 1 || s.batch < 1)
    throw nb::value_error(("rnn: bad sizes: x " + shape_str(x) + ", w_ih " + shape_str(w_ih)).c_str());
  c.check(x, "x", {s.steps, s.batch, s.input});
  c.check(w_ih, "w_ih", {G * H, s.input});
  c.check(w_hh, "w_hh", {G * H, H});
  return s;
}

void forward(const std::string& mode_name, Arr x, Arr w_ih, Arr w_hh, OptArr b_ih, OptArr b_hh,
             Arr h0, OptArr c0, OptArr lengths, bool reverse, Arr y, Arr hT, OptArr cT, Arr ws0,
             OptArr ws1, Arr hprev, const std::string& schedule, uint64_t seed, int workers) {
  const cuda::RnnMode mode = mode_of(mode_name);
  const bool lstm = mode == cuda::RnnMode::lstm;
  Checker c{"rnn_forward (emulated)"};
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
    throw nb::value_error("rnn_forward: c0 and cT are given exactly for the LSTM");
  if (lstm) c.check(*c0, "c0", {B, H}), c.check(*cT, "cT", {B, H});
  if ((mode == cuda::RnnMode::lstm || mode == cuda::RnnMode::gru) != bool(ws1))
    throw nb::value_error("rnn_forward: ws1 is given exactly for the LSTM and the GRU");
  if (ws1) c.check(*ws1, "ws1", {T_, B, H});
  const int64_t* len = check_lengths("rnn_forward", lengths, T_, B);
  const auto options = emu_launch_options(schedule, seed, workers);
  auto go = [&](auto zero) {
    using T = decltype(zero);
    std::vector<T> work(size_t(cuda::rnn_forward_work_elements(mode, s)));
    nb::gil_scoped_release release;
    cuda_emu::ScopedLaunchOptions scoped(options);
    cuda::rnn_forward<T>(mode, s, cptr<T>(x), cptr<T>(w_ih), cptr<T>(w_hh), opt_ptr<T>(b_ih),
                         opt_ptr<T>(b_hh), cptr<T>(h0), opt_ptr<T>(c0), len, reverse, mptr<T>(y),
                         mptr<T>(hT), opt_ptr<T>(cT), mptr<T>(ws0), opt_ptr<T>(ws1),
                         mptr<T>(hprev), work.data(), nullptr);
  };
  if (c.dtype == nb::dtype<double>()) go(double(0)); else go(float(0));
}

void backward(const std::string& mode_name, Arr x, Arr w_ih, Arr w_hh, OptArr lengths,
              bool reverse, Arr ws0, OptArr ws1, Arr hprev, Arr dy, Arr dhT, OptArr dcT, Arr dx,
              Arr dw_ih, Arr dw_hh, Arr db_ih, Arr db_hh, Arr dh0, OptArr dc0,
              const std::string& schedule, uint64_t seed, int workers) {
  const cuda::RnnMode mode = mode_of(mode_name);
  const bool lstm = mode == cuda::RnnMode::lstm;
  Checker c{"rnn_backward (emulated)"};
  const cuda::RnnShape s = checked_shape(c, mode, x, w_ih, w_hh);
  const int64_t T_ = s.steps, B = s.batch, H = s.hidden, NG = cuda::rnn_gates(mode) * H;
  c.check(ws0, "ws0", {T_, B, NG});
  c.check(hprev, "hprev", {T_, B, H});
  c.check(dy, "dy", {T_, B, H});
  c.check(dhT, "dhT", {B, H});
  c.check(dx, "dx", {T_, B, s.input});
  c.check(dw_ih, "dw_ih", {NG, s.input});
  c.check(dw_hh, "dw_hh", {NG, H});
  c.check(db_ih, "db_ih", {NG});
  c.check(db_hh, "db_hh", {NG});
  c.check(dh0, "dh0", {B, H});
  if (lstm != bool(dcT) || lstm != bool(dc0))
    throw nb::value_error("rnn_backward: dcT and dc0 are given exactly for the LSTM");
  if (lstm) c.check(*dcT, "dcT", {B, H}), c.check(*dc0, "dc0", {B, H});
  if ((mode == cuda::RnnMode::lstm || mode == cuda::RnnMode::gru) != bool(ws1))
    throw nb::value_error("rnn_backward: ws1 is given exactly for the LSTM and the GRU");
  if (ws1) c.check(*ws1, "ws1", {T_, B, H});
  const int64_t* len = check_lengths("rnn_backward", lengths, T_, B);
  const auto options = emu_launch_options(schedule, seed, workers);
  auto go = [&](auto zero) {
    using T = decltype(zero);
    std::vector<T> work(size_t(cuda::rnn_backward_work_elements(mode, s)));
    nb::gil_scoped_release release;
    cuda_emu::ScopedLaunchOptions scoped(options);
    cuda::rnn_backward<T>(mode, s, cptr<T>(x), cptr<T>(w_ih), cptr<T>(w_hh), len, reverse,
                          cptr<T>(ws0), opt_ptr<T>(ws1), cptr<T>(hprev), cptr<T>(dy),
                          cptr<T>(dhT), opt_ptr<T>(dcT), mptr<T>(dx), mptr<T>(dw_ih),
                          mptr<T>(dw_hh), mptr<T>(db_ih), mptr<T>(db_hh), mptr<T>(dh0),
                          opt_ptr<T>(dc0), work.data(), nullptr);
  };
  if (c.dtype == nb::dtype<double>()) go(double(0)); else go(float(0));
}

}  // namespace

void bind_cuda_emu_rnn(nb::module_& m) {
  using nb::arg;
  m.def("rnn_forward", &forward, arg("mode"), arg("x"), arg("w_ih"), arg("w_hh"),
        arg("b_ih").none(), arg("b_hh").none(), arg("h0"), arg("c0").none(),
        arg("lengths").none(), arg("reverse"), arg("y"), arg("hT"), arg("cT").none(),
        arg("ws0"), arg("ws1").none(), arg("hprev"), arg("schedule") = "forward",
        arg("seed") = 0, arg("workers") = 0,
        "The CUDA recurrent forward (mode lstm, gru, rnn_tanh, rnn_relu; no projection), emulated: "
        "the CPU kernels' arrays (ws0 = gates/acts, ws1 = cprev (LSTM) or hn (GRU)).");
  m.def("rnn_backward", &backward, arg("mode"), arg("x"), arg("w_ih"), arg("w_hh"),
        arg("lengths").none(), arg("reverse"), arg("ws0"), arg("ws1").none(), arg("hprev"),
        arg("dy"), arg("dhT"), arg("dcT").none(), arg("dx"), arg("dw_ih"), arg("dw_hh"),
        arg("db_ih"), arg("db_hh"), arg("dh0"), arg("dc0").none(), arg("schedule") = "forward",
        arg("seed") = 0, arg("workers") = 0, "The CUDA recurrent backward through time, emulated.");
}

}  // namespace fastdl::bind
