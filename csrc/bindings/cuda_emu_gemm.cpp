// _C_cudaemu.gemm: the CUDA GEMM kernel (float32 or float64) run by the emulator on numpy arrays.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>

#include <string>

#include "bindings/cuda_emu_options.h"
#include "bindings/cuda_gemm_args.h"
#include "cuda/gemm/sgemm.h"

namespace nb = nanobind;

namespace fastdl::bind {

namespace {

void emulated_gemm(nb::ndarray<nb::ro> a, nb::ndarray<nb::ro> b, nb::ndarray<> out, double alpha,
                   double beta, const std::string& schedule, uint64_t seed, int workers,
                   cuda::SgemmVariant variant) {
  const auto options = emu_launch_options(schedule, seed, workers);
  with_gemm_problem(nb::ndarray<>(a), nb::ndarray<>(b), out, alpha, beta, nb::device::cpu::value,
                    "CPU (numpy)", [&](const auto& problem) {
                      nb::gil_scoped_release release;
                      cuda_emu::ScopedLaunchOptions scoped(options);
                      cuda::gemm(problem, nullptr, variant);
                    });
}

}  // namespace

void bind_cuda_emu_gemm(nb::module_& m) {
  m.def(
      "gemm",
      [](nb::ndarray<nb::ro> a, nb::ndarray<nb::ro> b, nb::ndarray<> out, double alpha,
         double beta, const std::string& schedule, uint64_t seed, int workers) {
        emulated_gemm(a, b, out, alpha, beta, schedule, seed, workers, cuda::SgemmVariant::normal);
      },
      nb::arg("a"), nb::arg("b"), nb::arg("out"), nb::arg("alpha") = 1.0, nb::arg("beta") = 0.0,
      nb::arg("schedule") = "forward", nb::arg("seed") = 0, nb::arg("workers") = 0,
      "The CUDA GEMM kernel, emulated on the CPU: out = alpha * a @ b + beta * out (float32 or "
      "float64, the same for all three; any strides, matching batch dimensions), as _C.gemm.");
  m.def(
      "gemm_missing_barrier_for_test",
      [](nb::ndarray<nb::ro> a, nb::ndarray<nb::ro> b, nb::ndarray<> out, double alpha,
         double beta, const std::string& schedule, uint64_t seed, int workers) {
        emulated_gemm(a, b, out, alpha, beta, schedule, seed, workers,
                      cuda::SgemmVariant::missing_barrier_for_test);
      },
      nb::arg("a"), nb::arg("b"), nb::arg("out"), nb::arg("alpha") = 1.0, nb::arg("beta") = 0.0,
      nb::arg("schedule") = "forward", nb::arg("seed") = 0, nb::arg("workers") = 0,
      "A deliberately broken gemm: no barrier between one k-tile's shared-memory reads and the "
      "next tile's writes. Tests use it to show which schedules expose the race.");
}

}  // namespace fastdl::bind
