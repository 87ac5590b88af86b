#pragma once
// How _C_cuda runs a kernel call on arrays in CUDA device memory (cupy): on the arrays' device
// (the caller's current device is restored), without the GIL, enqueued on `stream` (a
// cudaStream_t handle, 0 = the default stream), launch errors raised as RuntimeError.
#include <cuda_runtime_api.h>
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/conv/conv.h"

namespace fastdl::bind {

inline void check_cuda_status(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(what) + ": CUDA error: " + cudaGetErrorString(status));
}

class CudaDeviceGuard {
 public:
  explicit CudaDeviceGuard(int device) {
    check_cuda_status(cudaGetDevice(&previous_), "fastdl");
    if (device != previous_) check_cuda_status(cudaSetDevice(device), "fastdl");
  }
  ~CudaDeviceGuard() { cudaSetDevice(previous_); }
  CudaDeviceGuard(const CudaDeviceGuard&) = delete;
  CudaDeviceGuard& operator=(const CudaDeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

class CudaRunner {
 public:
  explicit CudaRunner(uintptr_t stream) : stream_(stream) {}
  int device_type() const { return nanobind::device::cuda::value; }
  const char* where() const { return "CUDA device (cupy)"; }
  cuda::ConvAlgo algo() const { return cuda::ConvAlgo::automatic; }

  // f(void* stream) enqueues the kernels.
  template <class F>
  void operator()(const nanobind::ndarray<>& on, F&& f) const {
    const int device = int(on.device_id());
    nanobind::gil_scoped_release release;
    CudaDeviceGuard guard(device);
    cudaGetLastError();  // an earlier, unrelated failure is not ours to report
    f(reinterpret_cast<void*>(stream_));
    check_cuda_status(cudaGetLastError(), "kernel launch");
  }

 private:
  uintptr_t stream_;
};

}  // namespace fastdl::bind
