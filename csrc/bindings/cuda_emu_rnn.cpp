// _C_cudaemu rnn kernels: the CUDA sequence drivers and gate kernels (cuda/rnn/rnn.cu) run by the
// emulator on numpy arrays, with _C_cuda's arguments (bindings/cuda_rnn_defs.h) and the
// emulator's schedule=, seed=, workers= in place of stream= (tests compare with the CPU kernels).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <string>

#include "bindings/cuda_emu_options.h"
#include "bindings/cuda_rnn_defs.h"

namespace nb = nanobind;

namespace fastdl::bind {
namespace {

class EmuRnnRunner {
 public:
  explicit EmuRnnRunner(const cuda_emu::LaunchOptions& options) : options_(options) {}
  int device_type() const { return nb::device::cpu::value; }
  const char* where() const { return "CPU (numpy)"; }
  const char* fn_forward() const { return "rnn_forward (emulated)"; }
  const char* fn_backward() const { return "rnn_backward (emulated)"; }
  template <class F>
  void operator()(const nb::ndarray<>&, F&& f) const {
    nb::gil_scoped_release release;
    cuda_emu::ScopedLaunchOptions scoped(options_);
    f(nullptr);
  }

 private:
  cuda_emu::LaunchOptions options_;
};

}  // namespace

void bind_cuda_emu_rnn(nb::module_& m) {
  cuda_rnn_args::def_rnn(
      m,
      [](const std::string& schedule, uint64_t seed, int workers) {
        return EmuRnnRunner(emu_launch_options(schedule, seed, workers));
      },
      cuda_rnn_args::Trailing<std::string, uint64_t, int>{}, nb::arg("schedule") = "forward",
      nb::arg("seed") = 0, nb::arg("workers") = 0);
}

}  // namespace fastdl::bind
