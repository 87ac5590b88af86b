#pragma once
// Small CUDA kernels that exercise the emulator's features (warp shuffles, atomics, barriers,
// dynamic shared memory, schedules) for tests/test_cuda_emu.py. Pointers are host memory: in the
// emulator, device memory is host memory. The launch options come from ScopedLaunchOptions.
#include <cstdint>

namespace fastdl::cuda_emu::selftest {

// out[i, :] = shfl(x, 5), shfl_down(x, 3), shfl_up(x, 2), shfl_xor(x, 9), shfl_down(x, 1, width 8)
// over warps of consecutive i (blocks of 64 threads; lanes past n contribute 0).
void shuffle_patterns(const float* x, float* out, int64_t n);
// sums[b] = x[128 b : 128 b + 128].sum() by warp shuffle reduction, then across warps in shared memory.
void block_sums(const float* x, float* sums, int64_t n);
// bins[v[i]] += 1 via a per-block shared histogram and global atomicAdd; bins are zeroed first.
void histogram(const int32_t* values, int64_t n, int32_t* bins, int nbins);
// Sum of x via one float atomicAdd per thread into a single accumulator.
float atomic_sum(const float* x, int64_t n);
// out[b, :] = the first `words` floats of block b's dynamic shared memory before any write;
// then the block fills it with numbers, so a missing re-poison would show in the next block.
void dynamic_shared_snapshot(float* out, int blocks, int words);
// The same for static shared memory: floats/ints/doubles[b, :] = the first `words` (at most
// kSnapshotWords) elements of a float, an int32 and a double __shared__ array before any write.
inline constexpr int kSnapshotWords = 256;
void static_shared_snapshot(float* floats, int32_t* ints, double* doubles, int blocks, int words);
// One block of n threads: out[t, 0] = arrival rank before a __syncthreads, out[t, 1] after it.
void execution_order(int32_t* out, int n);
// One block of n threads: out[t] = x[(t + 1) % n] through shared memory and a __syncthreads.
void rotate_through_shared(const float* x, float* out, int n);
// Faulty kernels: the emulator must raise, not hang.
void divergent_barrier(int n);         // every third thread returns before a __syncthreads
void warp_collective_deadlock();       // lane 0 shuffles while the others wait at __syncthreads
void warp_mask_excludes_caller();      // lane 0 calls __syncwarp(0x2)
// Memory bugs for the sanitizer build to report: out[i] = x[i + 1] for i < n (reads x[n]); out[i] =
// the sum of a float4 loaded from x + 4 i + 1 (misaligned when x is 16-byte aligned).
void out_of_bounds_read(const float* x, float* out, int64_t n);
void misaligned_float4_load(const float* x, float* out, int64_t n);

}  // namespace fastdl::cuda_emu::selftest
