#pragma once
// gemm(a, b, out, alpha, beta) argument checks shared by _C_cuda (device arrays) and _C_cudaemu
// (host arrays): the same semantics and messages as _C.gemm in cpu_gemm.cpp.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <string>
#include <utility>

#include "bindings/array_checks.h"
#include "cuda/gemm/sgemm.h"

namespace fastdl::bind {

// Fills `problem` from (..., m, k) @ (..., k, n) -> (..., m, n); returns false when there is
// nothing to compute. Batch dimensions of size 1 are dropped and contiguous runs merged, so the
// kernel walks as few dimensions as possible.
inline bool make_sgemm_problem(const nb::ndarray<>& av, const nb::ndarray<>& bv,
                               const nb::ndarray<>& out, float alpha, float beta, int device_type,
                               const char* device_name, cuda::SgemmProblem& problem) {
  const char* fn = "gemm";
  for (auto [arr, name] : {std::pair{&av, "a"}, {&bv, "b"}, {&out, "out"}}) {
    require_device(*arr, device_type, fn, name, device_name);
    require_float32(*arr, fn, name);
    require_ndim_at_least(*arr, 2, fn, name);
  }
  const size_t nd = out.ndim();
  if (av.ndim() != nd || bv.ndim() != nd)
    throw nb::value_error(("gemm: a, b and out must have the same number of dimensions, got " +
                           shape_str(av) + ", " + shape_str(bv) + ", " + shape_str(out))
                              .c_str());
  const int64_t m = out.shape(nd - 2), n = out.shape(nd - 1), k = av.shape(nd - 1);
  bool ok = av.shape(nd - 2) == size_t(m) && bv.shape(nd - 2) == size_t(k) &&
            bv.shape(nd - 1) == size_t(n);
  int64_t batch = 1;
  for (size_t d = 0; d + 2 < nd; ++d) {
    ok = ok && av.shape(d) == out.shape(d) && bv.shape(d) == out.shape(d);
    batch *= int64_t(out.shape(d));
  }
  if (!ok)
    throw nb::value_error(("gemm: shapes do not agree: a " + shape_str(av) + " @ b " +
                           shape_str(bv) + " -> out " + shape_str(out) +
                           " (expected (..., m, k) @ (..., k, n) -> (..., m, n))")
                              .c_str());
  if (batch == 0 || m == 0 || n == 0) return false;
  if (may_overlap(out, av) || may_overlap(out, bv))
    throw nb::value_error("gemm: out must not share memory with a or b");
  for (size_t d = 0; d < nd; ++d)
    if (out.stride(d) == 0 && out.shape(d) > 1)
      throw nb::value_error("gemm: out must not have zero (broadcast) strides");
  if (av.device_id() != out.device_id() || bv.device_id() != out.device_id())
    throw nb::value_error("gemm: a, b and out must be on the same device");

  problem = {};
  problem.m = m, problem.n = n, problem.k = k, problem.alpha = alpha, problem.beta = beta;
  problem.a = {static_cast<const float*>(av.data()), av.stride(nd - 2), av.stride(nd - 1)};
  problem.b = {static_cast<const float*>(bv.data()), bv.stride(nd - 2), bv.stride(nd - 1)};
  problem.c = static_cast<float*>(out.data());
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
  return true;
}

}  // namespace fastdl::bind
