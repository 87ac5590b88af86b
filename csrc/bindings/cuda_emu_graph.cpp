// _C_cudaemu: the CUDA graph kernels run by the emulator on numpy arrays: _C_cuda's arguments
// plus schedule=, seed=, workers= (cuda_emu_options.h). Host memory, so the CSR's ends and the
// gather indices are checked as in _C.
#include <nanobind/nanobind.h>

#include <string>

#include "bindings/cuda_emu_runner.h"
#include "bindings/cuda_graph_kernels.h"
#include "bindings/graph_defs.h"

namespace nb = nanobind;

namespace fastdl::bind {
namespace {

struct GraphEmuRunner : EmuRunner {
  GraphEmuRunner(uintptr_t stream, const std::string& schedule, uint64_t seed, int workers)
      : EmuRunner(stream, schedule, seed, workers) {}
  bool host_memory() const { return true; }
};

}  // namespace

void bind_cuda_emu_graph_cuda(nb::module_& m) {
  graph::def_graph<GraphEmuRunner, graph::CudaKernels>(
      m, graph::Trailing<uintptr_t, std::string, uint64_t, int>{}, nb::arg("stream") = 0,
      nb::arg("schedule") = "forward", nb::arg("seed") = 0, nb::arg("workers") = 0);
}

}  // namespace fastdl::bind
