#pragma once
// Fused element-wise gate kernels of the recurrent cells, forward and backward, per ISA
// (rnn_gates_kernels.cpp is compiled once per instruction set; rnn.cpp picks one at run time).
// Each kernel works on `rows` rows and the hidden columns [j0, j1) of each, so the driver can
// split a step's work by rows (large batches) or by columns (batch 1) across threads.
// Layouts (row-major, contiguous rows): LSTM gates (rows, 4H) in the order i, f, g, o; GRU gates
// (rows, 3H) in the order r, z, n; hidden and cell states (rows, H).
#include <cstdint>

#define FASTDL_DECLARE_RNN_GATES(ns)                                                           \
  namespace ns {                                                                               \
  /* g: pre-activations in, activations out (i, f, g, o). c: c_{t-1} in, c_t out. cprev:  */   \
  /* copy of c_{t-1} (for backward; null: none), h: o * tanh(c_t).                       */   \
  template <typename T>                                                                        \
  void lstm_gates_forward(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* g, T* c,         \
                          T* cprev, T* h);                                                     \
  /* g: activations (i, f, g, o); cprev: c_{t-1}; dh: gradient of o * tanh(c_t); dc: the    */ \
  /* gradient of c_t from the next step in, of c_{t-1} out; dg: pre-activation gradients.  */  \
  template <typename T>                                                                        \
  void lstm_gates_backward(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g,        \
                           const T* cprev, const T* dh, T* dc, T* dg);                         \
  /* gx: input side pre-activations (r, z, n, incl. b_ih) in, activations (r, z, n) out;    */ \
  /* gh: hidden side (W_hh h + b_hh); hn: copy of gh's n part; h: h_{t-1} in, h_t out;     */  \
  /* hprev: copy of h_{t-1}.                                                                 */ \
  template <typename T>                                                                        \
  void gru_gates_forward(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* gx, const T* gh,  \
                         T* hn, T* h, T* hprev);                                               \
  /* dh: gradient of h_t in; dhprev: the direct part dh * z out; dgx, dgh: pre-activation   */ \
  /* gradients of the input and hidden sides.                                               */ \
  template <typename T>                                                                        \
  void gru_gates_backward(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g,         \
                          const T* hn, const T* hprev, const T* dh, T* dhprev, T* dgx,         \
                          T* dgh);                                                             \
  /* pre-activation in (rows, H), h_t = act(pre) written to a (activations) and h (state). */  \
  template <typename T>                                                                        \
  void rnn_gates_forward(int64_t rows, int64_t j0, int64_t j1, int64_t H, bool relu, T* a,     \
                         T* h);                                                                \
  template <typename T>                                                                        \
  void rnn_gates_backward(int64_t rows, int64_t j0, int64_t j1, int64_t H, bool relu,          \
                          const T* a, const T* dh, T* dg);                                     \
  }

namespace fastdl::cpu {
FASTDL_DECLARE_RNN_GATES(avx512)
FASTDL_DECLARE_RNN_GATES(avx2)
FASTDL_DECLARE_RNN_GATES(scalar)
}  // namespace fastdl::cpu
