#pragma once
// Graph (sparse) kernels on CPU arrays, float or double (one templated body), indices int64,
// arrays C-contiguous. A graph's edges are grouped by destination node in CSR form:
//   rowptr (n_rows + 1): the positions p of row i are rowptr[i] .. rowptr[i+1]-1,
//   col[p]: the source node (the column of the sparse matrix) of position p,
//   eid[p]: the edge's id in the caller's (unsorted) edge list, which indexes per-edge arrays
//           (edge values, edge softmax logits): no per-edge array is ever permuted.
// A node feature array x (n, heads * f) holds `heads` blocks of f features per node; a per-edge
// array val (E, heads) has one value per edge and head.
//
// Every reduction walks one destination row in position order on one thread: deterministic (no
// atomics), the same bits at any thread count. Work is split into chunks of equal rows + edges
// (a binary search on rowptr), not of equal rows, so a power-law graph's hubs do not leave one
// thread with most of the edges.
#include <cstdint>

namespace fastdl::cpu {

// Counting sort of `index` (E entries in [0, n_rows)) into rowptr (n_rows + 1) and perm (E): the
// edge ids of row i are perm[rowptr[i] .. rowptr[i+1]), in increasing order (stable).
void csr_from_index(int64_t n_rows, int64_t n_edges, const int64_t* index, int64_t* rowptr,
                    int64_t* perm);

// out[i, h, :] = scale[i] * sum_p val[eid[p], h] * x[col[p], h, :]   (row i's positions p)
// val == nullptr: every value 1 (then eid is unused and may be nullptr); scale == nullptr: 1.
// This is also the segment sum/mean of rows: col = eid = perm of csr_from_index, val = nullptr.
template <typename T>
void spmm(int64_t n_rows, int64_t heads, int64_t f, const int64_t* rowptr, const int64_t* col,
          const int64_t* eid, const T* val, const T* scale, const T* x, T* out);

// out[eid[p], h] = <a[i, h, :], b[col[p], h, :]>  (the gradient of spmm's edge values).
template <typename T>
void sddmm(int64_t n_rows, int64_t heads, int64_t f, const int64_t* rowptr, const int64_t* col,
           const int64_t* eid, const T* a, const T* b, T* out);

// out[m, :] = scale[index[m]] * x[index[m], :] (scale == nullptr: 1); index[m] < 0 gives 0.
template <typename T>
void gather_rows(int64_t m, int64_t f, const int64_t* index, const T* scale, const T* x, T* out);

// out[i, j] = max_p src[eid[p], j], argmax[i, j] = that eid (the first one of equal maxima; NaN
// wins); rows without positions give 0 and -1.
template <typename T>
void segment_max(int64_t n_rows, int64_t f, const int64_t* rowptr, const int64_t* eid,
                 const T* src, T* out, int64_t* argmax);

// out (n_in, f) = 0, then out[argmax[i, j], j] = g[i, j] where argmax >= 0 (segment_max's
// backward; distinct segments own distinct rows, so no two writes meet).
template <typename T>
void max_place(int64_t n_rows, int64_t f, int64_t n_in, const int64_t* argmax, const T* g,
               T* out);
// out[i, j] = argmax[i, j] >= 0 ? src[argmax[i, j], j] : 0 (max_place's backward).
template <typename T>
void max_take(int64_t n_rows, int64_t f, const int64_t* argmax, const T* src, T* out);

// Softmax of logits (E, heads) over the edges of each destination row, per head.
template <typename T>
void edge_softmax_forward(int64_t n_rows, int64_t heads, const int64_t* rowptr, const int64_t* eid,
                          const T* logits, T* out);
// out[e] = y[e] * (g[e] - sum_{e' in row(e)} g[e'] y[e'])  (per head)
template <typename T>
void edge_softmax_backward(int64_t n_rows, int64_t heads, const int64_t* rowptr,
                           const int64_t* eid, const T* g, const T* y, T* out);

}  // namespace fastdl::cpu
