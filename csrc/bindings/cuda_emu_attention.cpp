// _C_cudaemu.attention_forward / attention_backward: the CUDA flash-attention kernels run by the
// emulator on numpy arrays, with the same arguments as _C's plus schedule=, seed=, workers=.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <optional>
#include <string>

#include "bindings/attention_args.h"
#include "bindings/cuda_emu_options.h"
#include "cuda/attention/attention.h"

namespace nb = nanobind;

namespace fastdl::bind {

namespace {

using namespace attention_args;
using Array = nb::ndarray<nb::device::cpu>;
using RoArray = nb::ndarray<nb::ro, nb::device::cpu>;

template <class A>
std::optional<nb::ndarray<>> untyped(const std::optional<A>& a) {
  if (!a) return std::nullopt;
  return nb::ndarray<>(*a);
}

int forward(RoArray q_, RoArray k_, RoArray v_, Array out_, Array lse_,
            std::optional<RoArray> mask_, bool causal, double scale,
            std::optional<Array> row_stats_,
            const std::string& schedule, uint64_t seed, int workers) {
  const auto options = emu_launch_options(schedule, seed, workers);
  nb::ndarray<> q(q_), k(k_), v(v_), out(out_), lse(lse_);
  Checked c =
      check_forward(q, k, v, out, lse, untyped(mask_), causal, scale, "attention_forward");
  attach_forward_stats(c, untyped(row_stats_), {&q, &k, &v, &out, &lse});
  nb::gil_scoped_release release;
  cuda_emu::ScopedLaunchOptions scoped(options);
  if (c.dtype == FloatType::float64)
    return int(cuda::attention_forward<double>(c.s, ptr<double>(q), ptr<double>(k),
                                               ptr<double>(v), mut<double>(out),
                                               mut<double>(lse), nullptr));
  return int(cuda::attention_forward<float>(c.s, ptr<float>(q), ptr<float>(k), ptr<float>(v),
                                            mut<float>(out), mut<float>(lse), nullptr));
}

void backward(RoArray q_, RoArray k_, RoArray v_, RoArray out_, RoArray lse_, RoArray grad_out_,
              Array grad_q_, Array grad_k_, Array grad_v_, std::optional<RoArray> mask_,
              bool causal, double scale, std::optional<Array> grad_mask_,
              std::optional<RoArray> row_stats_, int stats_kind,
              const std::string& schedule, uint64_t seed, int workers) {
  const auto options = emu_launch_options(schedule, seed, workers);
  nb::ndarray<> q(q_), k(k_), v(v_), out(out_), lse(lse_), go(grad_out_), gq(grad_q_),
      gk(grad_k_), gv(grad_v_);
  std::optional<nb::ndarray<>> grad_mask;
  if (grad_mask_) grad_mask = nb::ndarray<>(*grad_mask_);
  auto [c, gm] = check_backward(q, k, v, out, lse, go, gq, gk, gv, untyped(mask_), causal,
                                scale, grad_mask, "attention_backward");
  attach_backward_stats(c, untyped(row_stats_), stats_kind, {&gq, &gk, &gv});
  nb::gil_scoped_release release;
  cuda_emu::ScopedLaunchOptions scoped(options);
  if (c.dtype == FloatType::float64)
    cuda::attention_backward<double>(c.s, ptr<double>(q), ptr<double>(k), ptr<double>(v),
                                     ptr<double>(out), ptr<double>(go), ptr<double>(lse),
                                     mut<double>(gq), mut<double>(gk), mut<double>(gv),
                                     static_cast<double*>(gm), nullptr);
  else
    cuda::attention_backward<float>(c.s, ptr<float>(q), ptr<float>(k), ptr<float>(v),
                                    ptr<float>(out), ptr<float>(go), ptr<float>(lse),
                                    mut<float>(gq), mut<float>(gk), mut<float>(gv),
                                    static_cast<float*>(gm), nullptr);
}

}  // namespace

void bind_cuda_emu_attention(nb::module_& m) {
  m.def("attention_forward", &forward, nb::arg("query"), nb::arg("key"), nb::arg("value"),
        nb::arg("out"), nb::arg("lse"), nb::arg("mask").none(), nb::arg("causal"),
        nb::arg("scale"), nb::arg("row_stats").none() = nb::none(),
        nb::arg("schedule") = "forward", nb::arg("seed") = 0,
        nb::arg("workers") = 0,
        "The CUDA flash-attention forward, emulated on the CPU (arguments as _C's).");
  m.def("attention_backward", &backward, nb::arg("query"), nb::arg("key"), nb::arg("value"),
        nb::arg("out"), nb::arg("lse"), nb::arg("grad_out"), nb::arg("grad_query"),
        nb::arg("grad_key"), nb::arg("grad_value"), nb::arg("mask").none(), nb::arg("causal"),
        nb::arg("scale"), nb::arg("grad_mask").none() = nb::none(),
        nb::arg("row_stats").none() = nb::none(), nb::arg("stats_kind") = 0,
        nb::arg("schedule") = "forward", nb::arg("seed") = 0, nb::arg("workers") = 0,
        "The CUDA flash-attention backward, emulated on the CPU (arguments as _C's).");
}

}  // namespace fastdl::bind
