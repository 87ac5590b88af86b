#pragma once
// The CUDA graph kernels (csrc/cuda/graph/graph.h) as the `Kernels` of bindings/graph_defs.h,
// shared by _C_cuda and _C_cudaemu.
#include <cstdint>

#include "cuda/graph/graph.h"

namespace fastdl::bind::graph {

struct CudaKernels {
  template <typename T>
  static void spmm(int64_t n, int64_t h, int64_t f, const int64_t* rp, const int64_t* col,
                   const int64_t* eid, const T* val, const T* scale, const T* x, T* out,
                   void* s) {
    cuda::graph_spmm<T>(n, h, f, rp, col, eid, val, scale, x, out, s);
  }
  template <typename T>
  static void sddmm(int64_t n, int64_t h, int64_t f, int64_t positions, const int64_t* rp,
                    const int64_t* col, const int64_t* eid, const T* a, const T* b, T* out,
                    void* s) {
    cuda::graph_sddmm<T>(n, h, f, positions, rp, col, eid, a, b, out, s);
  }
  template <typename T>
  static void gather_rows(int64_t m, int64_t f, const int64_t* index, const T* scale, const T* x,
                          T* out, void* s) {
    cuda::graph_gather_rows<T>(m, f, index, scale, x, out, s);
  }
  template <typename T>
  static void segment_max(int64_t n, int64_t f, const int64_t* rp, const int64_t* eid,
                          const T* src, T* out, int64_t* argmax, void* s) {
    cuda::graph_segment_max<T>(n, f, rp, eid, src, out, argmax, s);
  }
  template <typename T>
  static void max_place(int64_t n, int64_t f, int64_t n_in, const int64_t* am, const T* g, T* out,
                        void* s) {
    cuda::graph_max_place<T>(n, f, n_in, am, g, out, s);
  }
  template <typename T>
  static void max_take(int64_t n, int64_t f, const int64_t* am, const T* src, T* out, void* s) {
    cuda::graph_max_take<T>(n, f, am, src, out, s);
  }
  template <typename T>
  static void edge_softmax_forward(int64_t n, int64_t h, const int64_t* rp, const int64_t* eid,
                                   const T* logits, T* out, void* s) {
    cuda::graph_edge_softmax_forward<T>(n, h, rp, eid, logits, out, s);
  }
  template <typename T>
  static void edge_softmax_backward(int64_t n, int64_t h, const int64_t* rp, const int64_t* eid,
                                    const T* g, const T* y, T* out, void* s) {
    cuda::graph_edge_softmax_backward<T>(n, h, rp, eid, g, y, out, s);
  }
};

}  // namespace fastdl::bind::graph
