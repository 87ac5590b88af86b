#pragma once
// fp32 GEMM on a CUDA device (or in the emulator): C = alpha * A B + beta * C for every item of a
// batch. Plain C++: callers need no CUDA headers. Matrices are addressed by element strides,
// x[i * rs + j * cs], as in cpu/gemm/gemm.h, so transposes and broadcasts are views, never copies.
// With beta == 0, C is never read.
#include <cstdint>
#include <vector>

namespace fastdl::cuda {

struct SgemmMatrix {
  const float* data;
  int64_t rs, cs;  // row and column strides, in elements
};

struct SgemmProblem {
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f, beta = 0.0f;
  SgemmMatrix a{}, b{};
  float* c = nullptr;
  int64_t c_rs = 0, c_cs = 0;
  // Batch dimensions, outermost first, with each operand's stride (0 = broadcast) per dimension.
  std::vector<int64_t> batch_shape, a_batch_strides, b_batch_strides, c_batch_strides;
};

enum class SgemmVariant {
  normal,
  // Test-only (emulator builds): omits the barrier between the shared-memory reads of one k-tile
  // and the writes of the next, a race that the emulator's schedules must expose.
  missing_barrier_for_test,
};

// Enqueues the product on `stream` (a cudaStream_t; nullptr = default stream). Launch errors are
// left for the caller's cudaGetLastError(); the emulator runs synchronously and throws instead.
void sgemm(const SgemmProblem& problem, void* stream = nullptr,
           SgemmVariant variant = SgemmVariant::normal);

}  // namespace fastdl::cuda
