// _C_cudaemu: the CUDA pooling and interpolation (max/avg/adaptive pools, unpool,
// gather_by_index, interpolate) run by the
// emulator on numpy arrays: the _C_cuda functions' arguments plus schedule=, seed=, workers=
// (cuda_emu_options.h).
#include <nanobind/nanobind.h>

#include "bindings/cuda_conv_pool_defs.h"
#include "bindings/cuda_emu_runner.h"

namespace nb = nanobind;

namespace fastdl::bind {

void bind_cuda_emu_pool_cuda(nb::module_& m) {
  convpool::def_pool<EmuRunner>(m, convpool::Trailing<uintptr_t, std::string, uint64_t, int>{},
                                nb::arg("stream") = 0, nb::arg("schedule") = "forward",
                                nb::arg("seed") = 0, nb::arg("workers") = 0);
}

}  // namespace fastdl::bind
