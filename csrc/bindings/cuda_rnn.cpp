// _C_cuda rnn kernels: the whole-sequence LSTM / GRU / Elman RNN drivers (cuda/rnn/rnn.h) on cupy
// arrays, with _C_cudaemu's arguments (bindings/cuda_rnn_defs.h) plus a trailing stream=0
// (a cudaStream_t handle). `lengths` stays a host (numpy) int64 array: it sizes the launches.
#include <nanobind/nanobind.h>

#include <cstdint>

#include "bindings/cuda_rnn_defs.h"
#include "bindings/cuda_runner.h"

namespace nb = nanobind;

namespace fastdl::bind {
namespace {

class CudaRnnRunner : public CudaRunner {
 public:
  using CudaRunner::CudaRunner;
  const char* fn_forward() const { return "rnn_forward"; }
  const char* fn_backward() const { return "rnn_backward"; }
};

}  // namespace

void bind_cuda_rnn(nb::module_& m) {
  cuda_rnn_args::def_rnn(
      m, [](uintptr_t stream) { return CudaRnnRunner(stream); },
      cuda_rnn_args::Trailing<uintptr_t>{}, nb::arg("stream") = 0);
}

}  // namespace fastdl::bind
