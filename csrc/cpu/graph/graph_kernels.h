#pragma once
// Per-ISA entry points of the graph family; graph_kernels.cpp is compiled once per namespace
// below (cmake/isa.cmake) and instantiated for float and double in each.
#include "cpu/graph/graph.h"

#define FASTDL_DECLARE_GRAPH_KERNELS(ns)                                                         \
  namespace ns {                                                                                 \
  template <typename T>                                                                          \
  void spmm(int64_t n_rows, int64_t heads, int64_t f, const int64_t* rowptr, const int64_t* col, \
            const int64_t* eid, const T* val, const T* scale, const T* x, T* out, int threads);  \
  template <typename T>                                                                          \
  void sddmm(int64_t n_rows, int64_t heads, int64_t f, const int64_t* rowptr,                    \
             const int64_t* col, const int64_t* eid, const T* a, const T* b, T* out,             \
             int threads);                                                                       \
  template <typename T>                                                                          \
  void gather_rows(int64_t m, int64_t f, const int64_t* index, const T* scale, const T* x,       \
                   T* out, int threads);                                                         \
  template <typename T>                                                                          \
  void segment_max(int64_t n_rows, int64_t f, const int64_t* rowptr, const int64_t* eid,         \
                   const T* src, T* out, int64_t* argmax, int threads);                          \
  template <typename T>                                                                          \
  void max_place(int64_t n_rows, int64_t f, int64_t n_in, const int64_t* argmax, const T* g,     \
                 T* out, int threads);                                                           \
  template <typename T>                                                                          \
  void max_take(int64_t n_rows, int64_t f, const int64_t* argmax, const T* src, T* out,          \
                int threads);                                                                    \
  template <typename T>                                                                          \
  void edge_softmax_forward(int64_t n_rows, int64_t heads, const int64_t* rowptr,                \
                            const int64_t* eid, const T* logits, T* out, int threads);           \
  template <typename T>                                                                          \
  void edge_softmax_backward(int64_t n_rows, int64_t heads, const int64_t* rowptr,               \
                             const int64_t* eid, const T* g, const T* y, T* out, int threads);   \
  }

namespace fastdl::cpu {
FASTDL_DECLARE_GRAPH_KERNELS(avx512)
FASTDL_DECLARE_GRAPH_KERNELS(avx2)
FASTDL_DECLARE_GRAPH_KERNELS(scalar)
}  // namespace fastdl::cpu
