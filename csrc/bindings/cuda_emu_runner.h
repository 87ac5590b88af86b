#pragma once
// How _C_cudaemu runs a kernel call: on numpy arrays, without the GIL, with the emulator schedule
// of the call's `schedule=`, `seed=`, `workers=` keywords (and, for convolutions, `algo=`, which
// forces one kernel: "auto", "implicit_gemm" or "direct"). `stream` is accepted and ignored (the
// emulator runs synchronously), so calls look like _C_cuda's.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <string>

#include "bindings/cuda_emu_options.h"
#include "cuda/conv/conv.h"
#include "cuda_emu/runtime.h"

namespace fastdl::bind {

class EmuRunner {
 public:
  EmuRunner(uintptr_t /*stream*/, const std::string& schedule, uint64_t seed, int workers,
            const std::string& algo = "auto")
      : options_(emu_launch_options(schedule, seed, workers)) {
    if (algo == "auto") algo_ = cuda::ConvAlgo::automatic;
    else if (algo == "implicit_gemm") algo_ = cuda::ConvAlgo::implicit_gemm;
    else if (algo == "direct") algo_ = cuda::ConvAlgo::direct;
    else
      throw nanobind::value_error(
          ("unknown algo '" + algo + "': expected 'auto', 'implicit_gemm' or 'direct'").c_str());
  }
  int device_type() const { return nanobind::device::cpu::value; }
  const char* where() const { return "CPU (numpy)"; }
  cuda::ConvAlgo algo() const { return algo_; }

  template <class F>
  void operator()(const nanobind::ndarray<>& /*on*/, F&& f) const {
    nanobind::gil_scoped_release release;
    cuda_emu::ScopedLaunchOptions scoped(options_);
    f(nullptr);
  }

 private:
  cuda_emu::LaunchOptions options_;
  cuda::ConvAlgo algo_ = cuda::ConvAlgo::automatic;
};

}  // namespace fastdl::bind
