// _C_cuda.attention_forward / attention_backward: the flash-attention kernels on arrays in CUDA
// device memory (cupy), the same arguments as _C's plus stream= (the current device runs them).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>

#include <optional>
#include <string>

#include "bindings/attention_args.h"
#include "cuda/attention/attention.h"

namespace nb = nanobind;

namespace fastdl::bind {

namespace {

using namespace attention_args;
using Array = nb::ndarray<nb::device::cuda>;
using RoArray = nb::ndarray<nb::ro, nb::device::cuda>;

template <class A>
std::optional<nb::ndarray<>> untyped(const std::optional<A>& a) {
  if (!a) return std::nullopt;
  return nb::ndarray<>(*a);
}

int forward(RoArray q_, RoArray k_, RoArray v_, Array out_, Array lse_,
            std::optional<RoArray> mask_, bool causal, double scale,
            std::optional<Array> row_stats_, uintptr_t stream) {
  nb::ndarray<> q(q_), k(k_), v(v_), out(out_), lse(lse_);
  Checked c =
      check_forward(q, k, v, out, lse, untyped(mask_), causal, scale, "attention_forward");
  attach_forward_stats(c, untyped(row_stats_), {&q, &k, &v, &out, &lse});
  nb::gil_scoped_release release;
  if (c.dtype == FloatType::float64)
    return int(cuda::attention_forward<double>(c.s, ptr<double>(q), ptr<double>(k),
                                               ptr<double>(v), mut<double>(out),
                                               mut<double>(lse), reinterpret_cast<void*>(stream)));
  return int(cuda::attention_forward<float>(c.s, ptr<float>(q), ptr<float>(k), ptr<float>(v),
                                            mut<float>(out), mut<float>(lse),
                                            reinterpret_cast<void*>(stream)));
}

void backward(RoArray q_, RoArray k_, RoArray v_, RoArray out_, RoArray lse_, RoArray grad_out_,
              Array grad_q_, Array grad_k_, Array grad_v_, std::optional<RoArray> mask_,
              bool causal, double scale, std::optional<Array> grad_mask_,
              std::optional<RoArray> row_stats_, int stats_kind, uintptr_t stream) {
  nb::ndarray<> q(q_), k(k_), v(v_), out(out_), lse(lse_), go(grad_out_), gq(grad_q_),
      gk(grad_k_), gv(grad_v_);
  std::optional<nb::ndarray<>> grad_mask;
  if (grad_mask_) grad_mask = nb::ndarray<>(*grad_mask_);
  auto [c, gm] = check_backward(q, k, v, out, lse, go, gq, gk, gv, untyped(mask_), causal,
                                scale, grad_mask, "attention_backward");
  attach_backward_stats(c, untyped(row_stats_), stats_kind, {&gq, &gk, &gv});
  nb::gil_scoped_release release;
  if (c.dtype == FloatType::float64)
    cuda::attention_backward<double>(c.s, ptr<double>(q), ptr<double>(k), ptr<double>(v),
                                     ptr<double>(out), ptr<double>(go), ptr<double>(lse),
                                     mut<double>(gq), mut<double>(gk), mut<double>(gv),
                                     static_cast<double*>(gm), reinterpret_cast<void*>(stream));
  else
    cuda::attention_backward<float>(c.s, ptr<float>(q), ptr<float>(k), ptr<float>(v),
                                    ptr<float>(out), ptr<float>(go), ptr<float>(lse),
                                    mut<float>(gq), mut<float>(gk), mut<float>(gv),
                                    static_cast<float*>(gm), reinterpret_cast<void*>(stream));
}

}  // namespace

void bind_cuda_attention(nb::module_& m) {
  m.def("attention_forward", &forward, nb::arg("query"), nb::arg("key"), nb::arg("value"),
        nb::arg("out"), nb::arg("lse"), nb::arg("mask").none(), nb::arg("causal"),
        nb::arg("scale"), nb::arg("row_stats").none() = nb::none(), nb::arg("stream") = 0,
        "Flash-attention forward on the device (arguments as _C's, cupy arrays).");
  m.def("attention_backward", &backward, nb::arg("query"), nb::arg("key"), nb::arg("value"),
        nb::arg("out"), nb::arg("lse"), nb::arg("grad_out"), nb::arg("grad_query"),
        nb::arg("grad_key"), nb::arg("grad_value"), nb::arg("mask").none(), nb::arg("causal"),
        nb::arg("scale"), nb::arg("grad_mask").none() = nb::none(),
        nb::arg("row_stats").none() = nb::none(), nb::arg("stats_kind") = 0,
        nb::arg("stream") = 0,
        "Flash-attention backward on the device (arguments as _C's, cupy arrays).");
}

}  // namespace fastdl::bind
