// _C_cuda.gemm: the GEMM kernel (float32 or float64) on arrays in CUDA device memory (cupy), same
// semantics as _C.gemm.
#include <cuda_runtime_api.h>
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <stdexcept>
#include <string>

#include "bindings/cuda_gemm_args.h"
#include "bindings/cuda_runner.h"
#include "cuda/gemm/sgemm.h"

namespace nb = nanobind;

namespace fastdl::bind {

namespace {

void gemm(nb::ndarray<nb::ro> a, nb::ndarray<nb::ro> b, nb::ndarray<> out, double alpha,
          double beta, uintptr_t stream) {
  const int device = int(out.device_id());
  with_gemm_problem(nb::ndarray<>(a), nb::ndarray<>(b), out, alpha, beta, nb::device::cuda::value,
                    "CUDA device (cupy)", [&](const auto& problem) {
                      nb::gil_scoped_release release;
                      CudaDeviceGuard guard(device);
                      cudaGetLastError();  // an earlier, unrelated failure is not ours to report
                      cuda::gemm(problem, reinterpret_cast<void*>(stream));
                      check_cuda_status(cudaGetLastError(), "gemm kernel launch");
                    });
}

}  // namespace

void bind_cuda_gemm(nb::module_& m) {
  m.def("gemm", &gemm, nb::arg("a"), nb::arg("b"), nb::arg("out"), nb::arg("alpha") = 1.0,
        nb::arg("beta") = 0.0, nb::arg("stream") = 0,
        "out = alpha * a @ b + beta * out over matching batch dimensions (float32 or float64, the "
        "same for all three; any strides), "
        "for arrays in CUDA device memory; enqueued on `stream` (a cudaStream_t handle, 0 = the "
        "default stream).");
}

}  // namespace fastdl::bind
