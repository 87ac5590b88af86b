// Run-time SIMD dispatch of the graph family (float and double), like norm.cpp, and the CSR
// construction (integer work, one body for every ISA).
#include "cpu/graph/graph.h"

#include <algorithm>
#include <vector>

#include "common/cpu_features.h"
#include "common/threading.h"
#include "cpu/graph/graph_kernels.h"

namespace fastdl::cpu {

#if defined(FASTDL_HAVE_ISA_avx512) && defined(FASTDL_HAVE_ISA_avx2)
#define FASTDL_GRAPH_DISPATCH(fn, ...)                \
  switch (active_isa()) {                             \
    case Isa::avx512: return avx512::fn(__VA_ARGS__); \
    case Isa::avx2: return avx2::fn(__VA_ARGS__);     \
    default: return scalar::fn(__VA_ARGS__);          \
  }
#else
#define FASTDL_GRAPH_DISPATCH(fn, ...) return scalar::fn(__VA_ARGS__);
#endif

void csr_from_index(int64_t n_rows, int64_t n_edges, const int64_t* index, int64_t* rowptr,
                    int64_t* perm) {
  // counts in rowptr[1..], exclusive scan, then a stable placement (a second cursor array keeps
  // rowptr intact). Serial: ~E + N memory operations, a few ms for 1M edges.
  std::fill(rowptr, rowptr + n_rows + 1, int64_t(0));
  for (int64_t e = 0; e < n_edges; ++e) ++rowptr[index[e] + 1];
  for (int64_t i = 0; i < n_rows; ++i) rowptr[i + 1] += rowptr[i];
  std::vector<int64_t> cursor(rowptr, rowptr + n_rows);
  for (int64_t e = 0; e < n_edges; ++e) perm[cursor[size_t(index[e])]++] = e;
}

template <typename T>
void spmm(int64_t n_rows, int64_t heads, int64_t f, const int64_t* rowptr, const int64_t* col,
          const int64_t* eid, const T* val, const T* scale, const T* x, T* out) {
  FASTDL_GRAPH_DISPATCH(spmm<T>, n_rows, heads, f, rowptr, col, eid, val, scale, x, out,
                        num_threads())
}
template <typename T>
void sddmm(int64_t n_rows, int64_t heads, int64_t f, const int64_t* rowptr, const int64_t* col,
           const int64_t* eid, const T* a, const T* b, T* out) {
  FASTDL_GRAPH_DISPATCH(sddmm<T>, n_rows, heads, f, rowptr, col, eid, a, b, out, num_threads())
}
template <typename T>
void gather_rows(int64_t m, int64_t f, const int64_t* index, const T* scale, const T* x, T* out) {
  FASTDL_GRAPH_DISPATCH(gather_rows<T>, m, f, index, scale, x, out, num_threads())
}
template <typename T>
void segment_max(int64_t n_rows, int64_t f, const int64_t* rowptr, const int64_t* eid,
                 const T* src, T* out, int64_t* argmax) {
  FASTDL_GRAPH_DISPATCH(segment_max<T>, n_rows, f, rowptr, eid, src, out, argmax, num_threads())
}
template <typename T>
void max_place(int64_t n_rows, int64_t f, int64_t n_in, const int64_t* argmax, const T* g,
               T* out) {
  FASTDL_GRAPH_DISPATCH(max_place<T>, n_rows, f, n_in, argmax, g, out, num_threads())
}
template <typename T>
void max_take(int64_t n_rows, int64_t f, const int64_t* argmax, const T* src, T* out) {
  FASTDL_GRAPH_DISPATCH(max_take<T>, n_rows, f, argmax, src, out, num_threads())
}
template <typename T>
void edge_softmax_forward(int64_t n_rows, int64_t heads, const int64_t* rowptr, const int64_t* eid,
                          const T* logits, T* out) {
  FASTDL_GRAPH_DISPATCH(edge_softmax_forward<T>, n_rows, heads, rowptr, eid, logits, out,
                        num_threads())
}
template <typename T>
void edge_softmax_backward(int64_t n_rows, int64_t heads, const int64_t* rowptr,
                           const int64_t* eid, const T* g, const T* y, T* out) {
  FASTDL_GRAPH_DISPATCH(edge_softmax_backward<T>, n_rows, heads, rowptr, eid, g, y, out,
                        num_threads())
}
#undef FASTDL_GRAPH_DISPATCH

#define FASTDL_INSTANTIATE_GRAPH(T)                                                             \
  template void spmm<T>(int64_t, int64_t, int64_t, const int64_t*, const int64_t*,             \
                        const int64_t*, const T*, const T*, const T*, T*);                     \
  template void sddmm<T>(int64_t, int64_t, int64_t, const int64_t*, const int64_t*,            \
                         const int64_t*, const T*, const T*, T*);                              \
  template void gather_rows<T>(int64_t, int64_t, const int64_t*, const T*, const T*, T*);      \
  template void segment_max<T>(int64_t, int64_t, const int64_t*, const int64_t*, const T*, T*, \
                               int64_t*);                                                      \
  template void max_place<T>(int64_t, int64_t, int64_t, const int64_t*, const T*, T*);         \
  template void max_take<T>(int64_t, int64_t, const int64_t*, const T*, T*);                   \
  template void edge_softmax_forward<T>(int64_t, int64_t, const int64_t*, const int64_t*,      \
                                        const T*, T*);                                         \
  template void edge_softmax_backward<T>(int64_t, int64_t, const int64_t*, const int64_t*,     \
                                         const T*, const T*, T*);
FASTDL_INSTANTIATE_GRAPH(float)
FASTDL_INSTANTIATE_GRAPH(double)
#undef FASTDL_INSTANTIATE_GRAPH

}  // namespace fastdl::cpu
