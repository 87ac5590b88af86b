// _C_cudaemu: the CUDA convolutions (conv_forward, conv_backward_input/_weight/_bias) run by the
// emulator on numpy arrays: the _C_cuda functions' arguments plus schedule=, seed=, workers=
// (cuda_emu_options.h) and algo=
// (force the implicit GEMM or the direct kernel).
#include <nanobind/nanobind.h>

#include "bindings/cuda_conv_pool_defs.h"
#include "bindings/cuda_emu_runner.h"

namespace nb = nanobind;

namespace fastdl::bind {

void bind_cuda_emu_conv_cuda(nb::module_& m) {
  convpool::def_conv<EmuRunner>(
      m, convpool::Trailing<uintptr_t, std::string, uint64_t, int, std::string>{},
      nb::arg("stream") = 0, nb::arg("schedule") = "forward", nb::arg("seed") = 0,
      nb::arg("workers") = 0, nb::arg("algo") = "auto");
}

}  // namespace fastdl::bind
