#pragma once
// The graph-family functions of _C (numpy), _C_cuda (cupy) and _C_cudaemu (numpy, the CUDA
// kernels run by the emulator), defined once: argument checks and dtype dispatch. A module
// supplies a Runner (its memory's device type; runs a call without the GIL, on a GPU on the
// arrays' device) and Kernels (static functions of the cpu:: or cuda:: graph kernels, taking a
// trailing stream), and the extra trailing parameters of its functions.
//
// Interface (csrc/cpu/graph/graph.h): arrays C-contiguous, float32 or float64 (one dtype per
// call), index arrays int64 and 1-D; outputs fully overwritten, never read. A CSR (rowptr, col,
// eid) comes from csr_from_index and is trusted beyond its shapes; where the arrays are in host
// memory rowptr's ends are checked too (rowptr[0] == 0, rowptr[-1] == positions), and the
// row indices of the gather kernels are range-checked.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <cstdint>
#include <optional>
#include <string>

#include "bindings/array_checks.h"

namespace fastdl::bind::graph {

namespace nb = nanobind;
using Array = nb::ndarray<>;
using Opt = std::optional<nb::ndarray<>>;

template <class... P>
struct Trailing {};

using bind::fail;  // array_checks.h, also as graph::fail for the binding files
using bind::no_overlap;
using bind::ptr;

inline int64_t dim(const Array& a, size_t i) { return int64_t(a.shape(i)); }

inline void contiguous(const Array& a, const char* fn, const char* name) {
  if (!is_c_contiguous(a))
    fail(fn, std::string(name) + " must be C-contiguous, got shape " + shape_str(a));
}

template <class Runner>
void on_device(const Runner& r, const Array& a, const char* fn, const char* name) {
  require_device(a, r.device_type(), fn, name, r.where());
}

// A float array of `ndim` dims (dtype agreeing with `type`, which the first one sets).
template <class Runner>
void floats(const Runner& r, const Array& a, size_t ndim, const char* fn, const char* name,
            std::optional<FloatType>& type) {
  on_device(r, a, fn, name);
  const FloatType t = require_float32_or_64(a, fn, name);
  if (type && *type != t)
    throw nb::type_error((std::string(fn) + ": every float array must have the same dtype, " +
                          name + " is " + dtype_str(a.dtype()))
                             .c_str());
  type = t;
  if (a.ndim() != ndim)
    fail(fn, std::string(name) + " must have " + std::to_string(ndim) + " dimensions, got shape " +
                 shape_str(a));
  contiguous(a, fn, name);
}

template <class Runner>
void indices(const Runner& r, const Array& a, size_t ndim, const char* fn, const char* name) {
  on_device(r, a, fn, name);
  if (a.dtype() != nb::dtype<int64_t>())
    throw nb::type_error((std::string(fn) + ": " + name + " must be int64, got " +
                          dtype_str(a.dtype()) + " with shape " + shape_str(a))
                             .c_str());
  if (a.ndim() != ndim)
    fail(fn, std::string(name) + " must have " + std::to_string(ndim) + " dimensions, got shape " +
                 shape_str(a));
  contiguous(a, fn, name);
}

inline void shape_is(const Array& a, std::initializer_list<int64_t> s, const char* fn,
                     const char* name) {
  bool ok = a.ndim() == s.size();
  size_t i = 0;
  for (int64_t v : s) ok = ok && dim(a, i++) == v;
  if (!ok) {
    std::string want = "(";
    i = 0;
    for (int64_t v : s) want += (i++ ? ", " : "") + std::to_string(v);
    fail(fn, std::string(name) + " must have shape " + want + (s.size() == 1 ? ",)" : ")") +
                 ", got " + shape_str(a));
  }
}


// rowptr (n_rows + 1,) with n_rows from the caller; col/eid (P,); in host memory the ends of
// rowptr are checked against P.
template <class Runner>
int64_t csr(const Runner& r, const Array& rowptr, const Array* col, const Opt& eid, int64_t n_rows,
            const char* fn) {
  indices(r, rowptr, 1, fn, "rowptr");
  shape_is(rowptr, {n_rows + 1}, fn, "rowptr");
  int64_t positions = -1;
  if (col) indices(r, *col, 1, fn, "col"), positions = dim(*col, 0);
  if (eid) {
    indices(r, *eid, 1, fn, "eid");
    if (positions >= 0 && dim(*eid, 0) != positions)
      fail(fn, "eid has shape " + shape_str(*eid) + " but col has shape " + shape_str(*col));
    positions = dim(*eid, 0);
  }
  if (r.host_memory() && positions >= 0) {
    const int64_t* rp = ptr<int64_t>(rowptr);
    if (rp[0] != 0 || rp[n_rows] != positions)
      fail(fn, "rowptr must start at 0 and end at the number of positions (" +
                   std::to_string(positions) + "), got " + std::to_string(rp[0]) + " and " +
                   std::to_string(rp[n_rows]));
  }
  return positions;
}

template <class Runner>
void index_range(const Runner& r, const Array& index, int64_t n, const char* fn,
                 const char* name) {
  if (!r.host_memory()) return;
  const int64_t* p = ptr<int64_t>(index);
  int64_t count = 1;
  for (size_t i = 0; i < index.ndim(); ++i) count *= dim(index, i);
  for (int64_t k = 0; k < count; ++k)
    if (p[k] < -1 || p[k] >= n)
      fail(fn, std::string(name) + " holds " + std::to_string(p[k]) + ", outside [-1, " +
                   std::to_string(n) + ")");
}

#define FASTDL_GRAPH_TYPED(t, call) \
  if (*t == FloatType::float64) {   \
    using T = double;               \
    call;                           \
  } else {                          \
    using T = float;                \
    call;                           \
  }

template <class Runner, class K, class... P, class... Extra>
void def_graph(nb::module_& m, Trailing<P...>, const Extra&... extra) {
  m.def(
      "spmm",
      [](const Array& rowptr, const Array& col, const Opt& eid, const Opt& val, const Opt& scale,
         const Array& x, const Array& out, P... rest) {
        const char* fn = "spmm";
        Runner r(rest...);
        std::optional<FloatType> t;
        floats(r, x, 3, fn, "x", t);
        floats(r, out, 3, fn, "out", t);
        const int64_t n_rows = dim(out, 0), heads = dim(x, 1), f = dim(x, 2);
        shape_is(out, {n_rows, heads, f}, fn, "out");
        csr(r, rowptr, &col, eid, n_rows, fn);
        if (val) {
          if (!eid) fail(fn, "edge values need eid");
          floats(r, *val, 2, fn, "val", t);
          if (dim(*val, 1) != heads)
            fail(fn, "val has shape " + shape_str(*val) + ", expected (E, " +
                         std::to_string(heads) + ")");
          no_overlap(out, *val, fn, "val");
        }
        if (scale) floats(r, *scale, 1, fn, "scale", t), shape_is(*scale, {n_rows}, fn, "scale");
        no_overlap(out, x, fn, "x");
        r(out, [&](void* s) {
          FASTDL_GRAPH_TYPED(t, K::template spmm<T>(n_rows, heads, f, ptr<int64_t>(rowptr),
                                                    ptr<int64_t>(col), ptr<int64_t>(eid),
                                                    ptr<T>(val), ptr<T>(scale), ptr<T>(x),
                                                    ptr<T>(out), s))
        });
      },
      nb::arg("rowptr"), nb::arg("col"), nb::arg("eid").none(), nb::arg("val").none(),
      nb::arg("scale").none(), nb::arg("x"), nb::arg("out"), extra...,
      "out[i, h] = scale[i] * sum_p val[eid[p], h] * x[col[p], h] over row i's positions; x "
      "(n_src, H, F), out (n_rows, H, F), val (E, H) or None (ones), scale (n_rows,) or None.");
  m.def(
      "sddmm",
      [](const Array& rowptr, const Array& col, const Array& eid, const Array& a, const Array& b,
         const Array& out, P... rest) {
        const char* fn = "sddmm";
        Runner r(rest...);
        std::optional<FloatType> t;
        floats(r, a, 3, fn, "a", t);
        floats(r, b, 3, fn, "b", t);
        floats(r, out, 2, fn, "out", t);
        const int64_t n_rows = dim(a, 0), heads = dim(a, 1), f = dim(a, 2);
        if (dim(b, 1) != heads || dim(b, 2) != f)
          fail(fn, "a has shape " + shape_str(a) + " but b has shape " + shape_str(b));
        if (dim(out, 1) != heads)
          fail(fn, "out has shape " + shape_str(out) + ", expected (E, " + std::to_string(heads) +
                       ")");
        const int64_t positions = csr(r, rowptr, &col, Opt(eid), n_rows, fn);
        no_overlap(out, a, fn, "a");
        no_overlap(out, b, fn, "b");
        r(out, [&](void* s) {
          FASTDL_GRAPH_TYPED(t, K::template sddmm<T>(n_rows, heads, dim(a, 2), positions,
                                                     ptr<int64_t>(rowptr), ptr<int64_t>(col),
                                                     ptr<int64_t>(eid), ptr<T>(a), ptr<T>(b),
                                                     ptr<T>(out), s))
        });
      },
      nb::arg("rowptr"), nb::arg("col"), nb::arg("eid"), nb::arg("a"), nb::arg("b"),
      nb::arg("out"), extra...,
      "out[eid[p], h] = <a[i, h], b[col[p], h]> for each position p of row i; a (n_rows, H, F), "
      "b (n_src, H, F), out (E, H).");
  m.def(
      "gather_rows",
      [](const Array& index, const Opt& scale, const Array& x, const Array& out, P... rest) {
        const char* fn = "gather_rows";
        Runner r(rest...);
        std::optional<FloatType> t;
        floats(r, x, 2, fn, "x", t);
        floats(r, out, 2, fn, "out", t);
        indices(r, index, 1, fn, "index");
        shape_is(out, {dim(index, 0), dim(x, 1)}, fn, "out");
        if (scale) floats(r, *scale, 1, fn, "scale", t), shape_is(*scale, {dim(x, 0)}, fn, "scale");
        index_range(r, index, dim(x, 0), fn, "index");
        no_overlap(out, x, fn, "x");
        r(out, [&](void* s) {
          FASTDL_GRAPH_TYPED(t, K::template gather_rows<T>(dim(out, 0), dim(out, 1),
                                                           ptr<int64_t>(index), ptr<T>(scale),
                                                           ptr<T>(x), ptr<T>(out), s))
        });
      },
      nb::arg("index"), nb::arg("scale").none(), nb::arg("x"), nb::arg("out"), extra...,
      "out[m] = scale[index[m]] * x[index[m]] (scale None: 1; index -1: a zero row).");
  m.def(
      "segment_max",
      [](const Array& rowptr, const Array& eid, const Array& src, const Array& out,
         const Array& argmax, P... rest) {
        const char* fn = "segment_max";
        Runner r(rest...);
        std::optional<FloatType> t;
        floats(r, src, 2, fn, "src", t);
        floats(r, out, 2, fn, "out", t);
        const int64_t n_rows = dim(out, 0), f = dim(src, 1);
        shape_is(out, {n_rows, f}, fn, "out");
        indices(r, argmax, 2, fn, "argmax");
        shape_is(argmax, {n_rows, f}, fn, "argmax");
        csr(r, rowptr, nullptr, Opt(eid), n_rows, fn);
        no_overlap(out, src, fn, "src");
        r(out, [&](void* s) {
          FASTDL_GRAPH_TYPED(t, K::template segment_max<T>(n_rows, f, ptr<int64_t>(rowptr),
                                                           ptr<int64_t>(eid), ptr<T>(src),
                                                           ptr<T>(out), ptr<int64_t>(argmax), s))
        });
      },
      nb::arg("rowptr"), nb::arg("eid"), nb::arg("src"), nb::arg("out"), nb::arg("argmax"),
      extra...,
      "out[i, j] = max of src[eid[p], j] over row i's positions, argmax = that row of src "
      "(empty rows: 0 and -1).");
  m.def(
      "max_place",
      [](const Array& argmax, const Array& g, const Array& out, P... rest) {
        const char* fn = "max_place";
        Runner r(rest...);
        std::optional<FloatType> t;
        floats(r, g, 2, fn, "g", t);
        floats(r, out, 2, fn, "out", t);
        indices(r, argmax, 2, fn, "argmax");
        shape_is(argmax, {dim(g, 0), dim(g, 1)}, fn, "argmax");
        shape_is(out, {dim(out, 0), dim(g, 1)}, fn, "out");
        index_range(r, argmax, dim(out, 0), fn, "argmax");
        no_overlap(out, g, fn, "g");
        r(out, [&](void* s) {
          FASTDL_GRAPH_TYPED(t, K::template max_place<T>(dim(g, 0), dim(g, 1), dim(out, 0),
                                                         ptr<int64_t>(argmax), ptr<T>(g),
                                                         ptr<T>(out), s))
        });
      },
      nb::arg("argmax"), nb::arg("g"), nb::arg("out"), extra...,
      "out = 0, then out[argmax[i, j], j] = g[i, j] where argmax >= 0.");
  m.def(
      "max_take",
      [](const Array& argmax, const Array& src, const Array& out, P... rest) {
        const char* fn = "max_take";
        Runner r(rest...);
        std::optional<FloatType> t;
        floats(r, src, 2, fn, "src", t);
        floats(r, out, 2, fn, "out", t);
        indices(r, argmax, 2, fn, "argmax");
        shape_is(out, {dim(argmax, 0), dim(argmax, 1)}, fn, "out");
        if (dim(src, 1) != dim(out, 1))
          fail(fn, "src has shape " + shape_str(src) + " but out has shape " + shape_str(out));
        index_range(r, argmax, dim(src, 0), fn, "argmax");
        no_overlap(out, src, fn, "src");
        r(out, [&](void* s) {
          FASTDL_GRAPH_TYPED(t, K::template max_take<T>(dim(out, 0), dim(out, 1),
                                                        ptr<int64_t>(argmax), ptr<T>(src),
                                                        ptr<T>(out), s))
        });
      },
      nb::arg("argmax"), nb::arg("src"), nb::arg("out"), extra...,
      "out[i, j] = src[argmax[i, j], j] (argmax -1: 0).");
  m.def(
      "edge_softmax_forward",
      [](const Array& rowptr, const Array& eid, const Array& logits, const Array& out,
         P... rest) {
        const char* fn = "edge_softmax_forward";
        Runner r(rest...);
        std::optional<FloatType> t;
        floats(r, logits, 2, fn, "logits", t);
        floats(r, out, 2, fn, "out", t);
        shape_is(out, {dim(logits, 0), dim(logits, 1)}, fn, "out");
        const int64_t n_rows = dim(rowptr, 0) - 1;
        if (n_rows < 0) fail(fn, "rowptr must have at least one entry");
        const int64_t p = csr(r, rowptr, nullptr, Opt(eid), n_rows, fn);
        if (p != dim(logits, 0))
          fail(fn, "eid has " + std::to_string(p) + " positions but logits has shape " +
                       shape_str(logits) + " (every edge must belong to a row)");
        no_overlap(out, logits, fn, "logits");
        r(out, [&](void* s) {
          FASTDL_GRAPH_TYPED(t, K::template edge_softmax_forward<T>(
                                    n_rows, dim(logits, 1), ptr<int64_t>(rowptr),
                                    ptr<int64_t>(eid), ptr<T>(logits), ptr<T>(out), s))
        });
      },
      nb::arg("rowptr"), nb::arg("eid"), nb::arg("logits"), nb::arg("out"), extra...,
      "Softmax of logits (E, H) over the edges of each row (destination node), per head.");
  m.def(
      "edge_softmax_backward",
      [](const Array& rowptr, const Array& eid, const Array& g, const Array& y, const Array& out,
         P... rest) {
        const char* fn = "edge_softmax_backward";
        Runner r(rest...);
        std::optional<FloatType> t;
        floats(r, g, 2, fn, "g", t);
        floats(r, y, 2, fn, "y", t);
        floats(r, out, 2, fn, "out", t);
        shape_is(y, {dim(g, 0), dim(g, 1)}, fn, "y");
        shape_is(out, {dim(g, 0), dim(g, 1)}, fn, "out");
        const int64_t n_rows = dim(rowptr, 0) - 1;
        if (n_rows < 0) fail(fn, "rowptr must have at least one entry");
        const int64_t p = csr(r, rowptr, nullptr, Opt(eid), n_rows, fn);
        if (p != dim(g, 0))
          fail(fn, "eid has " + std::to_string(p) + " positions but g has shape " + shape_str(g));
        no_overlap(out, g, fn, "g");
        no_overlap(out, y, fn, "y");
        r(out, [&](void* s) {
          FASTDL_GRAPH_TYPED(t, K::template edge_softmax_backward<T>(
                                    n_rows, dim(g, 1), ptr<int64_t>(rowptr), ptr<int64_t>(eid),
                                    ptr<T>(g), ptr<T>(y), ptr<T>(out), s))
        });
      },
      nb::arg("rowptr"), nb::arg("eid"), nb::arg("g"), nb::arg("y"), nb::arg("out"), extra...,
      "out = y * (g - sum over the row of g * y): the edge softmax's input gradient.");
}

#undef FASTDL_GRAPH_TYPED

}  // namespace fastdl::bind::graph
