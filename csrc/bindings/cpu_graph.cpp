// _C graph functions: CSR construction, SpMM / SDDMM, row gather, segment max, edge softmax on
// CPU arrays (csrc/cpu/graph/graph.h); the checks are shared with the CUDA modules
// (bindings/graph_defs.h).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include "bindings/graph_defs.h"
#include "cpu/graph/graph.h"

namespace nb = nanobind;

namespace fastdl::bind {
namespace {

struct CpuRunner {
  int device_type() const { return nb::device::cpu::value; }
  const char* where() const { return "CPU (numpy)"; }
  bool host_memory() const { return true; }
  template <class F>
  void operator()(const nb::ndarray<>& /*on*/, F&& f) const {
    nb::gil_scoped_release release;
    f(nullptr);
  }
};

struct CpuKernels {
  template <typename T>
  static void spmm(int64_t n, int64_t h, int64_t f, const int64_t* rp, const int64_t* col,
                   const int64_t* eid, const T* val, const T* scale, const T* x, T* out, void*) {
    cpu::spmm<T>(n, h, f, rp, col, eid, val, scale, x, out);
  }
  template <typename T>
  static void sddmm(int64_t n, int64_t h, int64_t f, int64_t, const int64_t* rp, const int64_t* col,
                    const int64_t* eid, const T* a, const T* b, T* out, void*) {
    cpu::sddmm<T>(n, h, f, rp, col, eid, a, b, out);
  }
  template <typename T>
  static void gather_rows(int64_t m, int64_t f, const int64_t* index, const T* scale, const T* x,
                          T* out, void*) {
    cpu::gather_rows<T>(m, f, index, scale, x, out);
  }
  template <typename T>
  static void segment_max(int64_t n, int64_t f, const int64_t* rp, const int64_t* eid,
                          const T* src, T* out, int64_t* argmax, void*) {
    cpu::segment_max<T>(n, f, rp, eid, src, out, argmax);
  }
  template <typename T>
  static void max_place(int64_t n, int64_t f, int64_t n_in, const int64_t* am, const T* g, T* out,
                        void*) {
    cpu::max_place<T>(n, f, n_in, am, g, out);
  }
  template <typename T>
  static void max_take(int64_t n, int64_t f, const int64_t* am, const T* src, T* out, void*) {
    cpu::max_take<T>(n, f, am, src, out);
  }
  template <typename T>
  static void edge_softmax_forward(int64_t n, int64_t h, const int64_t* rp, const int64_t* eid,
                                   const T* logits, T* out, void*) {
    cpu::edge_softmax_forward<T>(n, h, rp, eid, logits, out);
  }
  template <typename T>
  static void edge_softmax_backward(int64_t n, int64_t h, const int64_t* rp, const int64_t* eid,
                                    const T* g, const T* y, T* out, void*) {
    cpu::edge_softmax_backward<T>(n, h, rp, eid, g, y, out);
  }
};

void csr_from_index(const nb::ndarray<>& index, const nb::ndarray<>& rowptr,
                    const nb::ndarray<>& perm) {
  const char* fn = "csr_from_index";
  CpuRunner r;
  graph::indices(r, index, 1, fn, "index");
  graph::indices(r, rowptr, 1, fn, "rowptr");
  graph::indices(r, perm, 1, fn, "perm");
  const int64_t n_rows = graph::dim(rowptr, 0) - 1, n_edges = graph::dim(index, 0);
  if (n_rows < 0) graph::fail(fn, "rowptr must have at least one entry");
  graph::shape_is(perm, {n_edges}, fn, "perm");
  if (may_overlap(rowptr, index) || may_overlap(perm, index) || may_overlap(rowptr, perm))
    graph::fail(fn, "index, rowptr and perm must not overlap");
  const int64_t* idx = graph::ptr<int64_t>(index);
  for (int64_t e = 0; e < n_edges; ++e)
    if (idx[e] < 0 || idx[e] >= n_rows)
      graph::fail(fn, "index holds " + std::to_string(idx[e]) + " at position " +
                          std::to_string(e) + ", outside [0, " + std::to_string(n_rows) + ")");
  nb::gil_scoped_release release;
  cpu::csr_from_index(n_rows, n_edges, idx, graph::ptr<int64_t>(rowptr),
                      graph::ptr<int64_t>(perm));
}

}  // namespace

void bind_graph(nb::module_& m) {
  m.def("csr_from_index", &csr_from_index, nb::arg("index"), nb::arg("rowptr"), nb::arg("perm"),
        "Counting sort of index (E,) into rowptr (n_rows + 1,) and perm (E,): the ids of the "
        "entries equal to i are perm[rowptr[i]:rowptr[i + 1]], increasing.");
  graph::def_graph<CpuRunner, CpuKernels>(m, graph::Trailing<>{});
}

}  // namespace fastdl::bind
