// _C.gemm: batched, strided fp32 GEMM on CPU arrays. The Python layer (fastdl.ops) handles
// numpy's matmul semantics (1-D operands, broadcasting) and passes views: a transpose arrives as
// swapped strides, a broadcast batch dimension as stride 0.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <vector>

#include "bindings/array_checks.h"
#include "cpu/gemm/gemm.h"

namespace nb = nanobind;

namespace fastdl::bind {

namespace {

void gemm(nb::ndarray<nb::ro> a, nb::ndarray<nb::ro> b, nb::ndarray<> out, float alpha,
          float beta) {
  const char* fn = "gemm";
  // nb::ro views and writable views share the checks; cast to the untyped form for them.
  nb::ndarray<> av(a), bv(b);
  for (auto [arr, name] : {std::pair{&av, "a"}, {&bv, "b"}, {&out, "out"}}) {
    require_device(*arr, nb::device::cpu::value, fn, name, "CPU (numpy)");
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
  if (batch == 0 || m == 0 || n == 0) return;
  if (may_overlap(out, av) || may_overlap(out, bv))
    throw nb::value_error("gemm: out must not share memory with a or b");
  for (size_t d = 0; d < nd; ++d)
    if (out.stride(d) == 0 && out.shape(d) > 1)
      throw nb::value_error("gemm: out must not have zero (broadcast) strides");

  const float* a0 = static_cast<const float*>(av.data());
  const float* b0 = static_cast<const float*>(bv.data());
  float* c0 = static_cast<float*>(out.data());
  std::vector<const float*> ap(batch), bp(batch);
  std::vector<float*> cp(batch);
  // Walk the batch dimensions as an odometer; each may have its own stride (0 = broadcast).
  std::vector<int64_t> idx(nd - 2, 0);
  int64_t ao = 0, bo = 0, co = 0;
  for (int64_t i = 0; i < batch; ++i) {
    ap[i] = a0 + ao, bp[i] = b0 + bo, cp[i] = c0 + co;
    for (int64_t d = int64_t(nd) - 3; d >= 0; --d) {
      ao += av.stride(d), bo += bv.stride(d), co += out.stride(d);
      if (++idx[d] < int64_t(out.shape(d))) break;
      ao -= av.stride(d) * idx[d], bo -= bv.stride(d) * idx[d], co -= out.stride(d) * idx[d];
      idx[d] = 0;
    }
  }
  nb::gil_scoped_release release;
  cpu::sgemm_batch(batch, m, n, k, alpha, ap.data(), av.stride(nd - 2), av.stride(nd - 1),
                   bp.data(), bv.stride(nd - 2), bv.stride(nd - 1), beta, cp.data(),
                   out.stride(nd - 2), out.stride(nd - 1));
}

}  // namespace

void bind_gemm(nb::module_& m) {
  m.def("gemm", &gemm, nb::arg("a"), nb::arg("b"), nb::arg("out"), nb::arg("alpha") = 1.0f,
        nb::arg("beta") = 0.0f,
        "out = alpha * a @ b + beta * out over matching batch dimensions (float32, any strides).");
}

}  // namespace fastdl::bind
