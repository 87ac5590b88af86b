// Emulator self-test kernels; see selftest_kernels.h. Valid CUDA, compiled here for the emulator.
#include <vector>

#include "cuda/common/launch.cuh"
#include "cuda_emu/selftest_kernels.h"

namespace fastdl::cuda_emu::selftest {

namespace {

using ::fastdl::cuda::launch;
constexpr unsigned kFullMask = 0xffffffffu;

__global__ void shuffle_patterns_kernel(const float* x, float* out, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const float v = i < n ? x[i] : 0.0f;  // every lane takes part in the shuffles
  const float r0 = __shfl_sync(kFullMask, v, 5);
  const float r1 = __shfl_down_sync(kFullMask, v, 3);
  const float r2 = __shfl_up_sync(kFullMask, v, 2);
  const float r3 = __shfl_xor_sync(kFullMask, v, 9);
  const float r4 = __shfl_down_sync(kFullMask, v, 1, 8);
  if (i < n) {
    float* o = out + i * 5;
    o[0] = r0, o[1] = r1, o[2] = r2, o[3] = r3, o[4] = r4;
  }
}

__global__ void block_sums_kernel(const float* x, float* sums, int64_t n) {
  FASTDL_SHARED(float, warp_sums, [32]);
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  float v = i < n ? x[i] : 0.0f;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < blockDim.x / 32 ? warp_sums[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(kFullMask, v, offset);
    if (lane == 0) sums[blockIdx.x] = v;
  }
}

__global__ void histogram_kernel(const int32_t* values, int64_t n, int32_t* bins, int nbins) {
  FASTDL_DYNAMIC_SHARED(int32_t, local);
  for (int b = threadIdx.x; b < nbins; b += blockDim.x) local[b] = 0;
  __syncthreads();
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    atomicAdd(&local[values[i]], 1);
  __syncthreads();
  for (int b = threadIdx.x; b < nbins; b += blockDim.x)
    if (local[b]) atomicAdd(&bins[b], local[b]);
}

__global__ void atomic_sum_kernel(const float* x, int64_t n, float* total) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) atomicAdd(total, x[i]);
}

__global__ void dynamic_shared_snapshot_kernel(float* out, int words) {
  FASTDL_DYNAMIC_SHARED(float, scratch);
  for (int w = threadIdx.x; w < words; w += blockDim.x) out[int64_t(blockIdx.x) * words + w] = scratch[w];
  __syncthreads();
  for (int w = threadIdx.x; w < words; w += blockDim.x) scratch[w] = float(w);
}

__global__ void static_shared_snapshot_kernel(float* floats, int32_t* ints, double* doubles,
                                              int words) {
  FASTDL_SHARED(float, f, [kSnapshotWords]);
  FASTDL_SHARED(int32_t, i, [kSnapshotWords]);
  FASTDL_SHARED(double, d, [kSnapshotWords]);
  const int64_t base = int64_t(blockIdx.x) * words;
  for (int w = threadIdx.x; w < words; w += blockDim.x)
    floats[base + w] = f[w], ints[base + w] = i[w], doubles[base + w] = d[w];
  __syncthreads();
  for (int w = threadIdx.x; w < kSnapshotWords; w += blockDim.x)
    f[w] = float(w), i[w] = w, d[w] = double(w);
}

__global__ void execution_order_kernel(int32_t* out, int32_t* counter) {
  out[threadIdx.x * 2] = atomicAdd(counter, 1);
  __syncthreads();
  out[threadIdx.x * 2 + 1] = atomicAdd(counter, 1);
}

__global__ void rotate_through_shared_kernel(const float* x, float* out) {
  FASTDL_SHARED(float, staged, [1024]);
  staged[threadIdx.x] = x[threadIdx.x];
  __syncthreads();
  out[threadIdx.x] = staged[(threadIdx.x + 1) % blockDim.x];
}

__global__ void divergent_barrier_kernel() {
  if (threadIdx.x % 3 == 0) return;
  __syncthreads();
}

__global__ void warp_collective_deadlock_kernel(float* sink) {
  if (threadIdx.x == 0) {
    *sink = __shfl_sync(kFullMask, 1.0f, 1);
  } else {
    __syncthreads();
  }
}

__global__ void warp_mask_excludes_caller_kernel() {
  if (threadIdx.x == 0) __syncwarp(0x2u);
}

// Bugs that the sanitizer build (.ci/sanitize.sh) must report; never run them elsewhere.
__global__ void out_of_bounds_read_kernel(const float* x, float* out, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = x[i + 1];  // the last thread reads x[n]
}

__global__ void misaligned_float4_load_kernel(const float* x, float* out, int64_t n) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (4 * i + 5 <= n) {  // in bounds, but x + 1 is not 16-byte aligned when x is
    const float4 v = *reinterpret_cast<const float4*>(x + 4 * i + 1);
    out[i] = v.x + v.y + v.z + v.w;
  }
}

unsigned blocks_for(int64_t n, unsigned block) { return unsigned((n + block - 1) / block); }

}  // namespace

void shuffle_patterns(const float* x, float* out, int64_t n) {
  if (n > 0) launch(shuffle_patterns_kernel, dim3(blocks_for(n, 64)), dim3(64), 0, nullptr, x, out, n);
}

void block_sums(const float* x, float* sums, int64_t n) {
  if (n > 0) launch(block_sums_kernel, dim3(blocks_for(n, 128)), dim3(128), 0, nullptr, x, sums, n);
}

void histogram(const int32_t* values, int64_t n, int32_t* bins, int nbins) {
  for (int b = 0; b < nbins; ++b) bins[b] = 0;
  if (n > 0)
    launch(histogram_kernel, dim3(3), dim3(96), size_t(nbins) * sizeof(int32_t), nullptr, values, n,
           bins, nbins);
}

float atomic_sum(const float* x, int64_t n) {
  float total = 0.0f;
  if (n > 0) launch(atomic_sum_kernel, dim3(blocks_for(n, 64)), dim3(64), 0, nullptr, x, n, &total);
  return total;
}

void dynamic_shared_snapshot(float* out, int blocks, int words) {
  launch(dynamic_shared_snapshot_kernel, dim3(blocks), dim3(64), size_t(words) * sizeof(float),
         nullptr, out, words);
}

void static_shared_snapshot(float* floats, int32_t* ints, double* doubles, int blocks, int words) {
  launch(static_shared_snapshot_kernel, dim3(blocks), dim3(64), 0, nullptr, floats, ints, doubles,
         words);
}

void execution_order(int32_t* out, int n) {
  int32_t counter = 0;
  launch(execution_order_kernel, dim3(1), dim3(n), 0, nullptr, out, &counter);
}

void rotate_through_shared(const float* x, float* out, int n) {
  launch(rotate_through_shared_kernel, dim3(1), dim3(n), 0, nullptr, x, out);
}

void divergent_barrier(int n) { launch(divergent_barrier_kernel, dim3(2), dim3(n), 0, nullptr); }

void warp_collective_deadlock() {
  float sink = 0.0f;
  launch(warp_collective_deadlock_kernel, dim3(1), dim3(64), 0, nullptr, &sink);
}

void out_of_bounds_read(const float* x, float* out, int64_t n) {
  if (n > 0) launch(out_of_bounds_read_kernel, dim3(blocks_for(n, 64)), dim3(64), 0, nullptr, x, out, n);
}

void misaligned_float4_load(const float* x, float* out, int64_t n) {
  if (n > 0) launch(misaligned_float4_load_kernel, dim3(blocks_for(n, 64)), dim3(64), 0, nullptr, x, out, n);
}

void warp_mask_excludes_caller() {
  launch(warp_mask_excludes_caller_kernel, dim3(1), dim3(32), 0, nullptr);
}

}  // namespace fastdl::cuda_emu::selftest
