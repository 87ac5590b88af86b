#pragma once
// Small pieces shared by the conv and pool kernels and their launchers: integer helpers that
// compile for host and device, the launch shape of grid-stride element-wise kernels, a
// deterministic block sum, and a temporary device buffer (host memory in the emulator).
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#ifdef FASTDL_CUDA_EMU
#include <vector>
#endif

#include "cuda/common/compat.cuh"

namespace fastdl::cuda::kutil {

__host__ __device__ __forceinline__ int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
__host__ __device__ __forceinline__ int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
__host__ __device__ __forceinline__ int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

constexpr int kElementwiseThreads = 256;

// Blocks for a grid-stride loop over `total` items: enough to fill any GPU, never more than the
// items need (a kernel walks `for (i = blockIdx.x * blockDim.x + threadIdx.x; i < total;
// i += gridDim.x * blockDim.x)`).
inline unsigned elementwise_blocks(int64_t total) {
  const int64_t blocks = ceil_div(total, kElementwiseThreads);
  return unsigned(imax(1, imin(blocks, int64_t(1) << 16)));
}

__device__ __forceinline__ int64_t global_thread() {
  return int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_threads() { return int64_t(gridDim.x) * blockDim.x; }

// Sum of one value per thread of a block of kThreads (a power of two) threads, as a fixed binary
// tree in shared memory `scratch` (kThreads entries): the same bits whatever the schedule.
// Every thread gets the sum; `scratch` is free again when it returns.
template <int kThreads, typename T>
__device__ __forceinline__ T block_tree_sum(T v, T* scratch) {
  const int t = threadIdx.x;
  scratch[t] = v;
  __syncthreads();
#pragma unroll
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (t < s) scratch[t] += scratch[t + s];
    __syncthreads();
  }
  const T sum = scratch[0];
  __syncthreads();  // everyone has read scratch[0] before anyone reuses scratch
  return sum;
}

// A temporary array of `count` T for the kernels of one call, released when the call returns
// (stream-ordered on a GPU; in the emulator, host memory filled with NaN so a kernel that reads
// what it did not write shows it).
template <typename T>
class DeviceBuffer {
 public:
#ifdef FASTDL_CUDA_EMU
  DeviceBuffer(size_t count, cudaStream_t) : data_(count, std::numeric_limits<T>::quiet_NaN()) {}
  T* data() { return data_.data(); }

 private:
  std::vector<T> data_;
#else
  DeviceBuffer(size_t count, cudaStream_t stream) : stream_(stream) {
    const cudaError_t status = cudaMallocAsync(reinterpret_cast<void**>(&data_), count * sizeof(T), stream);
    if (status != cudaSuccess)
      throw std::runtime_error("fastdl: cannot allocate a " + std::to_string(count * sizeof(T)) +
                               "-byte workspace: " + cudaGetErrorString(status));
  }
  ~DeviceBuffer() { cudaFreeAsync(data_, stream_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* data() { return data_; }

 private:
  T* data_ = nullptr;
  cudaStream_t stream_;
#endif
};

}  // namespace fastdl::cuda::kutil
