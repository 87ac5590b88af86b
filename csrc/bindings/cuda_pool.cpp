// _C_cuda: the CUDA pooling and interpolation (max/avg/adaptive pools, unpool,
// gather_by_index, interpolate) on cupy arrays, with the shared interface of _C and
// _C_cudaemu plus a trailing stream=0 (bindings/cuda_conv_pool_defs.h).
#include <nanobind/nanobind.h>

#include "bindings/cuda_conv_pool_defs.h"
#include "bindings/cuda_runner.h"

namespace nb = nanobind;

namespace fastdl::bind {

void bind_cuda_pool_cuda(nb::module_& m) {
  convpool::def_pool<CudaRunner>(m, convpool::Trailing<uintptr_t>{}, nb::arg("stream") = 0);
}

}  // namespace fastdl::bind
