#pragma once
// The time loops of the recurrent kernels, per ISA (rnn_loops_kernels.cpp): the recurrent
// weights are packed once per call into the GEMM micro-kernel's sliver layout, and each thread
// owns a range of hidden units for the whole sequence. Per step it multiplies the packed previous
// state by its weight slivers (all gates of its units), runs the fused gate kernel on exactly
// those units while they are in cache, and packs its part of the new state for the next step's
// product: one barrier per step, no separate GEMM call, no re-packing of the weights per step.
// Backward through time likewise: gate backward on the owned units, pack the gate gradients,
// barrier, the recurrent product onto the owned units of the state gradient.
//
// Arrays as in rnn.h; `act[t]` = rows active at time t (a prefix, lengths decreasing). The
// forward loops compute the input projections x_t W_ih^T themselves, a chunk of steps at a time
// just before the steps read them, into `gates`/`acts` (x and w_ih given), or expect them there
// for every step (x and w_ih null: the caller projected with a GEMM on more threads than the
// loop runs); either way they add `bias` (b_ih + b_hh; the GRU: b_ih; null: none);
// the backward loops take the running state gradients dh (and dc) holding dhT (dcT) and leave dh0
// (dc0) there, and write the pre-activation gradients of every step (zero past each length);
// they add each step's column sums of those gradients (the bias gradients) into db (db_ih,
// db_hh), which the caller zeroes: summed while the step's gradients are in cache, not in a
// separate pass over all of them.
// LSTM without projection only (the projected LSTM runs in rnn.cpp). An inference LSTM or GRU
// forward (nothing saved for a backward) passes the saved states (cprev, hprev; hn, hprev) null
// and `ring` = one chunk of steps:
// gates then holds one chunk, time t's rows at (t mod ring) (0: every step, as saved). A chunk's
// gates are read only by its own steps, and the next chunk is projected after the last of them.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "cpu/rnn/rnn.h"

namespace fastdl::cpu {
// Steps per chunk of the loops' own input projections: ~128 rows (steps x batch), enough for the
// micro-kernel to reuse each W_ih sliver. Chunks are aligned to multiples of it in time, in
// either direction, so an inference forward can keep its gates in a ring of one chunk (the
// `ring` of lstm_loop_forward). FASTDL_RNN_CHUNK_ROWS overrides the rows (read per call).
inline int64_t rnn_chunk_steps(const RnnShape& s) {
  const char* env = std::getenv("FASTDL_RNN_CHUNK_ROWS");
  const int64_t rows = env && *env ? std::max<int64_t>(1, std::atoll(env)) : 128;
  return std::clamp<int64_t>(rows / std::max<int64_t>(s.batch, 1), 1,
                             std::max<int64_t>(s.steps, 1));
}
}  // namespace fastdl::cpu

#define FASTDL_DECLARE_RNN_LOOPS(ns)                                                           \
  namespace ns {                                                                               \
  template <typename T>                                                                        \
  void lstm_loop_forward(const RnnShape& s, const int64_t* act, bool reverse, const T* w_hh,   \
                         const T* x, const T* w_ih, const T* bias, T* gates, int64_t ring,     \
                         T* h, T* c, T* y, T* cprev, T* hprev, int threads);                   \
  template <typename T>                                                                        \
  void lstm_loop_backward(const RnnShape& s, const int64_t* act, bool reverse, const T* w_hh,  \
                          const T* gates, const T* cprev, const T* dy, T* dh, T* dc, T* dg,    \
                          T* db, int threads);                                                 \
  template <typename T>                                                                        \
  void gru_loop_forward(const RnnShape& s, const int64_t* act, bool reverse, const T* w_hh,    \
                        const T* x, const T* w_ih, const T* b_ih, const T* b_hh, T* gates,     \
                        int64_t ring, T* hn, T* h, T* y, T* hprev, int threads);               \
  template <typename T>                                                                        \
  void gru_loop_backward(const RnnShape& s, const int64_t* act, bool reverse, const T* w_hh,   \
                         const T* gates, const T* hn, const T* hprev, const T* dy, T* dh,      \
                         T* dgx, T* dgh, T* db_ih, T* db_hh, int threads);                     \
  template <typename T>                                                                        \
  void rnn_loop_forward(const RnnShape& s, bool relu, const int64_t* act, bool reverse,        \
                        const T* w_hh, const T* x, const T* w_ih, const T* bias, T* acts,      \
                        T* h, T* y, T* hprev, int threads);                                    \
  template <typename T>                                                                        \
  void rnn_loop_backward(const RnnShape& s, bool relu, const int64_t* act, bool reverse,       \
                         const T* w_hh, const T* acts, const T* dy, T* dh, T* dg, T* db,       \
                         int threads);                                                         \
  }

namespace fastdl::cpu {
FASTDL_DECLARE_RNN_LOOPS(avx512)
FASTDL_DECLARE_RNN_LOOPS(avx2)
FASTDL_DECLARE_RNN_LOOPS(scalar)
}  // namespace fastdl::cpu
