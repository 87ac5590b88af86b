// _C_cudaemu.attention_forward / attention_backward: the CUDA flash-attention kernels run by the
// emulator on numpy arrays, with the same arguments as _C's plus schedule=, seed=, workers=.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <cstdint>
#include <optional>
#include <string>

#include "bindings/cuda_attention_defs.h"
#include "bindings/cuda_emu_runner.h"

namespace nb = nanobind;

namespace fastdl::bind {

namespace {

using namespace attention_args;
using Array = nb::ndarray<nb::device::cpu>;
using RoArray = nb::ndarray<nb::ro, nb::device::cpu>;

int forward(RoArray q, RoArray k, RoArray v, Array out, Array lse, std::optional<RoArray> mask,
            bool causal, double scale, std::optional<Array> row_stats,
            const std::string& schedule, uint64_t seed, int workers) {
  return cuda_forward(EmuRunner(0, schedule, seed, workers), q, k, v, out, lse, untyped(mask),
                      causal, scale, untyped(row_stats));
}

void backward(RoArray q, RoArray k, RoArray v, RoArray out, RoArray lse, RoArray grad_out,
              Array grad_q, Array grad_k, Array grad_v, std::optional<RoArray> mask, bool causal,
              double scale, std::optional<Array> grad_mask, std::optional<RoArray> row_stats,
              int stats_kind, const std::string& schedule, uint64_t seed, int workers) {
  cuda_backward(EmuRunner(0, schedule, seed, workers), q, k, v, out, lse, grad_out, grad_q,
                grad_k, grad_v, untyped(mask), causal, scale, untyped(grad_mask),
                untyped(row_stats), stats_kind);
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
