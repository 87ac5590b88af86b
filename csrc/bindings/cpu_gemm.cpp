// _C.gemm: batched, strided GEMM on CPU arrays, float32 or float64 (all three arrays the same).
// The Python layer (fastdl.ops) handles numpy's matmul semantics (1-D operands, broadcasting) and
// passes views: a transpose arrives as swapped strides, a broadcast batch dimension as stride 0.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <new>
#include <string>
#include <vector>

#include "bindings/gemm_args.h"
#include "cpu/gemm/gemm.h"

namespace nb = nanobind;

namespace fastdl::bind {

namespace {

// The checked product in element type T (alpha and beta rounded to T, as BLAS's sgemm takes them).
template <typename T>
void run_gemm(const GemmDims& dims, const nb::ndarray<>& av, const nb::ndarray<>& bv,
              nb::ndarray<>& out, double alpha_in, double beta_in) {
  const size_t nd = dims.ndim;
  const int64_t batch = dims.batch, m = dims.m, n = dims.n, k = dims.k;
  const T alpha = T(alpha_in), beta = T(beta_in);

  const T* a0 = static_cast<const T*>(av.data());
  const T* b0 = static_cast<const T*>(bv.data());
  T* c0 = static_cast<T*>(out.data());
  const cpu::ConstMatrix<T> a_ref{a0, av.stride(nd - 2), av.stride(nd - 1)};
  const cpu::ConstMatrix<T> b_ref{b0, bv.stride(nd - 2), bv.stride(nd - 1)};
  const cpu::MutMatrix<T> c_ref{c0, out.stride(nd - 2), out.stride(nd - 1)};
  if (batch == 1) {  // the common case: no pointer arrays to build
    nb::gil_scoped_release release;
    cpu::gemm<T>(m, n, k, alpha, a_ref, b_ref, beta, c_ref);
    return;
  }
  if (nd == 3) {  // one batch dimension: a constant stride each (0 = broadcast), no arrays
    nb::gil_scoped_release release;
    cpu::gemm_strided_batch<T>(batch, m, n, k, alpha, a_ref, av.stride(0), b_ref, bv.stride(0),
                               beta, c_ref, out.stride(0));
    return;
  }
  std::vector<const T*> ap(batch), bp(batch);
  std::vector<T*> cp(batch);
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
  cpu::gemm_batch<T>(batch, m, n, k, alpha, ap.data(), a_ref.rs, a_ref.cs, bp.data(), b_ref.rs,
                     b_ref.cs, beta, cp.data(), c_ref.rs, c_ref.cs);
}

void gemm(nb::ndarray<nb::ro> a, nb::ndarray<nb::ro> b, nb::ndarray<> out, double alpha,
          double beta) {
  // nb::ro views and writable views share the checks; cast to the untyped form for them.
  nb::ndarray<> av(a), bv(b);
  const GemmDims dims = check_gemm_args(av, bv, out, nb::device::cpu::value, "CPU (numpy)");
  if (dims.empty()) return;
  try {
    if (dims.dtype == FloatType::float64)
      run_gemm<double>(dims, av, bv, out, alpha, beta);
    else
      run_gemm<float>(dims, av, bv, out, alpha, beta);
  } catch (const std::bad_alloc&) {
    const std::string msg = "gemm: out of memory for the scratch buffers of a product a " +
                            shape_str(av) + " @ b " + shape_str(bv) + " -> out " +
                            shape_str(out) + " (" + dtype_str(out.dtype()) + ")";
    PyErr_SetString(PyExc_MemoryError, msg.c_str());
    throw nb::python_error();
  }
}

}  // namespace

void bind_gemm(nb::module_& m) {
  m.def("gemm", &gemm, nb::arg("a"), nb::arg("b"), nb::arg("out"), nb::arg("alpha") = 1.0,
        nb::arg("beta") = 0.0,
        "out = alpha * a @ b + beta * out over matching batch dimensions (float32 or float64, "
        "the same for all three arrays; any strides).");
}

}  // namespace fastdl::bind
