// _C.attention_forward / attention_backward: flash-style scaled-dot-product attention on CPU
// arrays (float32 or float64). The Python op layer (fastdl.nn.functional.attention) flattens batch
// dimensions, broadcasts the mask to (B, Hq, L, S) as a view (stride 0 where broadcast) and
// allocates the outputs; this file re-checks them (bindings/attention_args.h) and releases the GIL.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>

#include <optional>

#include "bindings/attention_args.h"
#include "cpu/attention/attention.h"

namespace nb = nanobind;

namespace fastdl::bind {

namespace {

using namespace attention_args;
using Array = nb::ndarray<nb::device::cpu>;
using RoArray = nb::ndarray<nb::ro, nb::device::cpu>;

int forward(RoArray q_, RoArray k_, RoArray v_, Array out_, Array lse_,
            std::optional<RoArray> mask_, bool causal, double scale,
            std::optional<Array> row_stats_) {
  nb::ndarray<> q(q_), k(k_), v(v_), out(out_), lse(lse_);
  Checked c = check_forward(q, k, v, out, lse, untyped(mask_), causal, scale,
                            "attention_forward", Rows::strided);
  attach_forward_stats(c, untyped(row_stats_), {&q, &k, &v, &out, &lse});
  nb::gil_scoped_release release;
  if (c.dtype == FloatType::float64)
    return int(cpu::attention_forward<double>(c.s, ptr<double>(q), ptr<double>(k),
                                              ptr<double>(v), mut<double>(out),
                                              mut<double>(lse)));
  return int(cpu::attention_forward<float>(c.s, ptr<float>(q), ptr<float>(k), ptr<float>(v),
                                           mut<float>(out), mut<float>(lse)));
}

void backward(RoArray q_, RoArray k_, RoArray v_, RoArray out_, RoArray lse_, RoArray grad_out_,
              Array grad_q_, Array grad_k_, Array grad_v_, std::optional<RoArray> mask_,
              bool causal, double scale, std::optional<Array> grad_mask_,
              std::optional<RoArray> row_stats_, int stats_kind) {
  nb::ndarray<> q(q_), k(k_), v(v_), out(out_), lse(lse_), go(grad_out_), gq(grad_q_),
      gk(grad_k_), gv(grad_v_);
  std::optional<nb::ndarray<>> grad_mask;
  if (grad_mask_) grad_mask = nb::ndarray<>(*grad_mask_);
  auto [c, gm] = check_backward(q, k, v, out, lse, go, gq, gk, gv, untyped(mask_), causal,
                                scale, grad_mask, "attention_backward", Rows::strided);
  attach_backward_stats(c, untyped(row_stats_), stats_kind, {&gq, &gk, &gv});
  nb::gil_scoped_release release;
  if (c.dtype == FloatType::float64)
    cpu::attention_backward<double>(c.s, ptr<double>(q), ptr<double>(k), ptr<double>(v),
                                    ptr<double>(out), ptr<double>(go), ptr<double>(lse),
                                    mut<double>(gq), mut<double>(gk), mut<double>(gv),
                                    static_cast<double*>(gm));
  else
    cpu::attention_backward<float>(c.s, ptr<float>(q), ptr<float>(k), ptr<float>(v),
                                   ptr<float>(out), ptr<float>(go), ptr<float>(lse),
                                   mut<float>(gq), mut<float>(gk), mut<float>(gv),
                                   static_cast<float*>(gm));
}

}  // namespace

void bind_attention(nb::module_& m) {
  m.def("attention_forward", &forward, nb::arg("query"), nb::arg("key"), nb::arg("value"),
        nb::arg("out"), nb::arg("lse"), nb::arg("mask").none(), nb::arg("causal"),
        nb::arg("scale"), nb::arg("row_stats").none() = nb::none(),
        "Flash-style attention: out = softmax(scale q k^T + mask) v, lse = per-row "
        "log-sum-exp (+inf where no key takes part). q (B, Hq, L, D), k (B, Hk, S, D), "
        "v (B, Hk, S, Dv) and out with contiguous rows (any non-negative strides otherwise, "
        "e.g. heads split from a (B, L, H, D) projection), lse C-contiguous, mask (B, Hq, L, S) "
        "bool or additive (any strides) or None. row_stats (B, Hq, L, 2), C order, may receive "
        "each row's (score maximum, log of its sum); returns their kind for attention_backward "
        "(0: not written, 1: scores in log2 units, 2: natural units).");
  m.def("attention_backward", &backward, nb::arg("query"), nb::arg("key"), nb::arg("value"),
        nb::arg("out"), nb::arg("lse"), nb::arg("grad_out"), nb::arg("grad_query"),
        nb::arg("grad_key"), nb::arg("grad_value"), nb::arg("mask").none(), nb::arg("causal"),
        nb::arg("scale"), nb::arg("grad_mask").none() = nb::none(),
        nb::arg("row_stats").none() = nb::none(), nb::arg("stats_kind") = 0,
        "Gradients of attention_forward from its saved lse, or from row_stats when stats_kind "
        "(what attention_forward returned) is this backward's own kind (precise where a row's "
        "maximum is large); grad_mask (B, Hq, L, S) receives the additive mask's unreduced "
        "gradient when given.");
}

}  // namespace fastdl::bind
