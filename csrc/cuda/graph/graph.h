#pragma once
// Graph kernels on a CUDA device (or in the emulator), float or double: the CUDA twins of
// csrc/cpu/graph/graph.h, same arguments plus a trailing stream. Plain C++: callers need no
// CUDA headers.
//
// Deterministic, no atomics: every reduction is one thread walking one destination row of the
// CSR in position order (the CSR by destination is what makes that possible), so the result is
// the same bits on every run and every schedule. SpMM gives a row to a block, its threads to
// the features; the per-edge kernels (SDDMM) find their row by a binary search on rowptr.
#include <cstdint>

namespace fastdl::cuda {

template <typename T>
void graph_spmm(int64_t n_rows, int64_t heads, int64_t f, const int64_t* rowptr,
                const int64_t* col, const int64_t* eid, const T* val, const T* scale, const T* x,
                T* out, void* stream = nullptr);
template <typename T>
void graph_sddmm(int64_t n_rows, int64_t heads, int64_t f, int64_t positions,
                 const int64_t* rowptr, const int64_t* col, const int64_t* eid, const T* a,
                 const T* b, T* out, void* stream = nullptr);
template <typename T>
void graph_gather_rows(int64_t m, int64_t f, const int64_t* index, const T* scale, const T* x,
                       T* out, void* stream = nullptr);
template <typename T>
void graph_segment_max(int64_t n_rows, int64_t f, const int64_t* rowptr, const int64_t* eid,
                       const T* src, T* out, int64_t* argmax, void* stream = nullptr);
template <typename T>
void graph_max_place(int64_t n_rows, int64_t f, int64_t n_in, const int64_t* argmax, const T* g,
                     T* out, void* stream = nullptr);
template <typename T>
void graph_max_take(int64_t n_rows, int64_t f, const int64_t* argmax, const T* src, T* out,
                    void* stream = nullptr);
template <typename T>
void graph_edge_softmax_forward(int64_t n_rows, int64_t heads, const int64_t* rowptr,
                                const int64_t* eid, const T* logits, T* out,
                                void* stream = nullptr);
template <typename T>
void graph_edge_softmax_backward(int64_t n_rows, int64_t heads, const int64_t* rowptr,
                                 const int64_t* eid, const T* g, const T* y, T* out,
                                 void* stream = nullptr);

}  // namespace fastdl::cuda
