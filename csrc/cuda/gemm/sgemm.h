#pragma once
// GEMM on a CUDA device (or in the emulator), float or double (one templated kernel source,
// sgemm_kernel.cuh): C = alpha * A B + beta * C for every item of a batch. Plain C++: callers need
// no CUDA headers. Matrices are addressed by element strides, x[i * rs + j * cs], as in
// cpu/gemm/gemm.h, so transposes and broadcasts are views, never copies. With beta == 0, C is
// never read.
#include <cstdint>
#include <vector>

namespace fastdl::cuda {

template <typename T>
struct GemmMatrix {
  const T* data;
  int64_t rs, cs;  // row and column strides, in elements
};

template <typename T>
struct GemmProblem {
  int64_t m = 0, n = 0, k = 0;
  T alpha = 1, beta = 0;
  GemmMatrix<T> a{}, b{};
  T* c = nullptr;
  int64_t c_rs = 0, c_cs = 0;
  // Batch dimensions, outermost first, with each operand's stride (0 = broadcast) per dimension.
  std::vector<int64_t> batch_shape, a_batch_strides, b_batch_strides, c_batch_strides;
};

using SgemmMatrix = GemmMatrix<float>;
using SgemmProblem = GemmProblem<float>;
using DgemmProblem = GemmProblem<double>;

enum class SgemmVariant {
  normal,
  // Test-only (emulator builds): omits the barrier between the shared-memory reads of one k-tile
  // and the writes of the next, a race that the emulator's schedules must expose.
  missing_barrier_for_test,
};

// Enqueues the product on `stream` (a cudaStream_t; nullptr = default stream). Launch errors are
// left for the caller's cudaGetLastError(); the emulator runs synchronously and throws instead.
// Instantiated for float and double (sgemm.cu).
template <typename T>
void gemm(const GemmProblem<T>& problem, void* stream = nullptr,
          SgemmVariant variant = SgemmVariant::normal);

inline void sgemm(const SgemmProblem& problem, void* stream = nullptr,
                  SgemmVariant variant = SgemmVariant::normal) {
  gemm<float>(problem, stream, variant);
}

}  // namespace fastdl::cuda
