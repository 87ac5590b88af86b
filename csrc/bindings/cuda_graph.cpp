// _C_cuda: the CUDA graph kernels (SpMM, SDDMM, row gather, segment max, edge softmax) on cupy
// arrays, with _C's interface plus a trailing stream=0 (bindings/graph_defs.h). Arrays in device
// memory: rowptr's contents are trusted (built by _C.csr_from_index on the host).
#include <nanobind/nanobind.h>

#include "bindings/cuda_graph_kernels.h"
#include "bindings/cuda_runner.h"
#include "bindings/graph_defs.h"

namespace nb = nanobind;

namespace fastdl::bind {
namespace {

struct GraphCudaRunner : CudaRunner {
  using CudaRunner::CudaRunner;
  bool host_memory() const { return false; }
};

}  // namespace

void bind_cuda_graph_cuda(nb::module_& m) {
  graph::def_graph<GraphCudaRunner, graph::CudaKernels>(m, graph::Trailing<uintptr_t>{},
                                                        nb::arg("stream") = 0);
}

}  // namespace fastdl::bind
