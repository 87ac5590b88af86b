// Compiled once per ISA (see cmake/isa.cmake); FASTDL_ISA names the namespace.
#include "cpu/gemm/gemm_kernels.h"

#include <algorithm>

namespace fastdl::cpu::FASTDL_ISA {

void sgemm(int64_t m, int64_t n, int64_t k, float alpha, MatrixRef a, MatrixRef b, float beta,
           MutMatrixRef c, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < m; ++i) {
    float* crow = c.data + i * c.rs;
    for (int64_t j = 0; j < n; ++j) crow[j * c.cs] = beta == 0.f ? 0.f : beta * crow[j * c.cs];
    for (int64_t p = 0; p < k; ++p) {
      const float aip = alpha * a.data[i * a.rs + p * a.cs];
      const float* brow = b.data + p * b.rs;
      for (int64_t j = 0; j < n; ++j) crow[j * c.cs] += aip * brow[j * b.cs];
    }
  }
}

}  // namespace fastdl::cpu::FASTDL_ISA
