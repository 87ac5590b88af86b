// fastdl._C_cuda: CUDA kernels. Imports without a GPU; device_count() then answers 0.
#include <cuda_runtime_api.h>
#include <nanobind/nanobind.h>

#include "fastdl_families.h"  // generated: each family's bind function (cmake/family.cmake)

namespace nb = nanobind;

NB_MODULE(_C_cuda, m) {
  m.doc() = "fastdl CUDA kernels";
  m.attr("architectures") = FASTDL_CUDA_ARCHS;
  m.attr("runtime_version") = CUDART_VERSION;
  m.def(
      "device_count",
      [] {
        int count = 0;
        // No driver or no GPU is an error here; for us it means "no usable device".
        if (cudaGetDeviceCount(&count) != cudaSuccess) {
          cudaGetLastError();
          return 0;
        }
        return count;
      },
      "Number of usable CUDA devices (0 when there is no GPU or no driver).");
  fastdl::bind::bind_families(m);
}
