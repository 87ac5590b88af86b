#pragma once
// Turns checked gemm(a, b, out, alpha, beta) arguments into the CUDA kernel's problem description,
// for _C_cuda (device arrays) and _C_cudaemu (host arrays).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <string>
#include <utility>

#include "bindings/gemm_args.h"
#include "cuda/gemm/sgemm.h"

namespace fastdl::bind {

// The kernel's problem description in element type T from arguments check_gemm_args accepted
// (dims not empty). Batch dimensions of size 1 are dropped and contiguous runs merged, so the
// kernel walks as few dimensions as possible. alpha and beta are rounded to T.
template <typename T>
cuda::GemmProblem<T> make_gemm_problem(const GemmDims& dims, const nb::ndarray<>& av,
                                       const nb::ndarray<>& bv, const nb::ndarray<>& out,
                                       double alpha, double beta) {
  const size_t nd = dims.ndim;
  const int64_t m = dims.m, n = dims.n, k = dims.k;

  cuda::GemmProblem<T> problem;
  problem.m = m, problem.n = n, problem.k = k, problem.alpha = T(alpha), problem.beta = T(beta);
  problem.a = {static_cast<const T*>(av.data()), av.stride(nd - 2), av.stride(nd - 1)};
  problem.b = {static_cast<const T*>(bv.data()), bv.stride(nd - 2), bv.stride(nd - 1)};
  problem.c = static_cast<T*>(out.data());
  problem.c_rs = out.stride(nd - 2), problem.c_cs = out.stride(nd - 1);
  for (size_t d = 0; d + 2 < nd; ++d) {
    const int64_t size = out.shape(d);
    if (size == 1) continue;
    auto& shape = problem.batch_shape;
    auto &as = problem.a_batch_strides, &bs = problem.b_batch_strides, &cs = problem.c_batch_strides;
    if (!shape.empty() && as.back() == av.stride(d) * size && bs.back() == bv.stride(d) * size &&
        cs.back() == out.stride(d) * size) {
      shape.back() *= size;  // the previous dimension steps exactly over this one: merge them
      as.back() = av.stride(d), bs.back() = bv.stride(d), cs.back() = out.stride(d);
      continue;
    }
    shape.push_back(size);
    as.push_back(av.stride(d)), bs.push_back(bv.stride(d)), cs.push_back(out.stride(d));
  }
  return problem;
}

// Checks the arguments and calls run(problem) with a GemmProblem<float> or GemmProblem<double>,
// by the arrays' dtype; nothing when there is nothing to compute.
template <typename Run>
void with_gemm_problem(const nb::ndarray<>& av, const nb::ndarray<>& bv, const nb::ndarray<>& out,
                       double alpha, double beta, int device_type, const char* device_name,
                       Run&& run) {
  const GemmDims dims = check_gemm_args(av, bv, out, device_type, device_name);
  if (dims.empty()) return;
  if (dims.dtype == FloatType::float64)
    run(make_gemm_problem<double>(dims, av, bv, out, alpha, beta));
  else
    run(make_gemm_problem<float>(dims, av, bv, out, alpha, beta));
}

}  // namespace fastdl::bind
