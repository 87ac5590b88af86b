#pragma once
// gemm(a, b, out, alpha, beta) argument checks shared by every backend's binding (_C, _C_cuda,
// _C_cudaemu): the same semantics and messages everywhere.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <string>
#include <utility>

#include "bindings/array_checks.h"

namespace fastdl::bind {

struct GemmDims {
  int64_t m, n, k, batch;  // batch: product of the leading (batch) dimensions
  size_t ndim;
  FloatType dtype;         // of all three arrays
  bool empty() const { return batch == 0 || m == 0 || n == 0; }
};

// Validates (..., m, k) @ (..., k, n) -> (..., m, n) with equal batch dimensions (a broadcast one
// arrives as stride 0): device, dtype (float32 or float64, the same for all three: every
// backend's GEMM kernel is templated on the element type), shapes, and an `out` that overlaps
// neither input.
inline GemmDims check_gemm_args(const nb::ndarray<>& av, const nb::ndarray<>& bv,
                                const nb::ndarray<>& out, int device_type,
                                const char* device_name) {
  const char* fn = "gemm";
  for (auto [arr, name] : {std::pair{&av, "a"}, {&bv, "b"}, {&out, "out"}}) {
    require_device(*arr, device_type, fn, name, device_name);
    require_float32_or_64(*arr, fn, name);
    require_ndim_at_least(*arr, 2, fn, name);
  }
  if (av.dtype() != out.dtype() || bv.dtype() != out.dtype())
    throw nb::type_error(("gemm: a, b and out must have the same dtype, got a " +
                          dtype_str(av.dtype()) + " " + shape_str(av) + ", b " +
                          dtype_str(bv.dtype()) + " " + shape_str(bv) + ", out " +
                          dtype_str(out.dtype()) + " " + shape_str(out))
                             .c_str());
  const size_t nd = out.ndim();
  if (av.ndim() != nd || bv.ndim() != nd)
    throw nb::value_error(("gemm: a, b and out must have the same number of dimensions, got " +
                           shape_str(av) + ", " + shape_str(bv) + ", " + shape_str(out))
                              .c_str());
  GemmDims dims{int64_t(out.shape(nd - 2)), int64_t(out.shape(nd - 1)),
                int64_t(av.shape(nd - 1)), 1, nd, require_float32_or_64(out, fn, "out")};
  bool ok = av.shape(nd - 2) == size_t(dims.m) && bv.shape(nd - 2) == size_t(dims.k) &&
            bv.shape(nd - 1) == size_t(dims.n);
  for (size_t d = 0; d + 2 < nd; ++d) {
    ok = ok && av.shape(d) == out.shape(d) && bv.shape(d) == out.shape(d);
    dims.batch *= int64_t(out.shape(d));
  }
  if (!ok)
    throw nb::value_error(("gemm: shapes do not agree: a " + shape_str(av) + " @ b " +
                           shape_str(bv) + " -> out " + shape_str(out) +
                           " (expected (..., m, k) @ (..., k, n) -> (..., m, n))")
                              .c_str());
  if (dims.empty()) return dims;
  if (may_overlap(out, av) || may_overlap(out, bv))
    throw nb::value_error("gemm: out must not share memory with a or b");
  for (size_t d = 0; d < nd; ++d)
    if (out.stride(d) == 0 && out.shape(d) > 1)
      throw nb::value_error("gemm: out must not have zero (broadcast) strides");
  if (av.device_id() != out.device_id() || bv.device_id() != out.device_id())
    throw nb::value_error("gemm: a, b and out must be on the same device");
  return dims;
}

}  // namespace fastdl::bind
