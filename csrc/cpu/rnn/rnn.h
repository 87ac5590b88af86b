#pragma once
// Whole-sequence recurrent kernels (LSTM, GRU, Elman RNN), one layer and one direction per call,
// forward and backward through time, for T = float or double (one templated body).
//
// Layouts: every array is C-contiguous. x (steps, batch, input), y (steps, batch, out) where out is
// the recurrent state size (proj_size for a projected LSTM, else hidden). Weights as PyTorch's:
// w_ih (G*H, input), w_hh (G*H, out), w_hr (out, H), biases (G*H,) with G = 4 (LSTM, gates
// i, f, g, o), 3 (GRU, r, z, n) or 1. Biases and w_hr may be null.
//
// Variable lengths: `lengths` (batch,) sorted in decreasing order, each in [1, steps], or null
// (every sequence has all steps). A sequence's outputs past its length are zero and its final
// state is the one at its last step. `reverse` runs each sequence from its last step to its first
// (the backward direction of a bidirectional layer).
//
// Forward: the input projection of all steps is one GEMM (biases folded in), then per step one
// recurrent GEMM on the active rows and one fused gate kernel. It saves what backward needs in the
// workspace arrays the caller allocates (sizes below). Backward: per step (last to first) the
// fused gate backward and one recurrent GEMM; the input, weight and bias gradients are large GEMMs
// (and column sums) after the loop. Gradients are fully overwritten; dx may be null (the input
// needs no gradient: its GEMM, a sixth of the backward's FLOPs, is skipped).
#include <cstdint>

namespace fastdl::cpu {

struct RnnShape {
  int64_t steps, batch, input, hidden, out;  // out = proj_size or hidden
};

// LSTM workspace: gates (steps, batch, 4H), cprev (steps, batch, H), hprev (steps, batch, out),
// hpre (steps, batch, H) only with a projection (out != hidden; else null). gates, cprev and
// hprev all null: an inference call (nothing kept for a backward; the kernel uses its own
// scratch, less of it).
template <typename T>
void lstm_forward(const RnnShape& s, const T* x, const T* w_ih, const T* w_hh, const T* b_ih,
                  const T* b_hh, const T* w_hr, const T* h0, const T* c0, const int64_t* lengths,
                  bool reverse, T* y, T* hT, T* cT, T* gates, T* cprev, T* hprev, T* hpre);

// db: the gradient of b_ih and of b_hh (they are equal for the LSTM); dw_hr only with w_hr.
template <typename T>
void lstm_backward(const RnnShape& s, const T* x, const T* w_ih, const T* w_hh, const T* w_hr,
                   const int64_t* lengths, bool reverse, const T* gates, const T* cprev,
                   const T* hprev, const T* hpre, const T* dy, const T* dhT, const T* dcT, T* dx,
                   T* dw_ih, T* dw_hh, T* db, T* dw_hr, T* dh0, T* dc0);

// GRU workspace: gates (steps, batch, 3H) = r, z, n; hn (steps, batch, H) = W_hn h + b_hn;
// hprev (steps, batch, H). All three null: an inference call (as the LSTM's).
template <typename T>
void gru_forward(const RnnShape& s, const T* x, const T* w_ih, const T* w_hh, const T* b_ih,
                 const T* b_hh, const T* h0, const int64_t* lengths, bool reverse, T* y, T* hT,
                 T* gates, T* hn, T* hprev);

template <typename T>
void gru_backward(const RnnShape& s, const T* x, const T* w_ih, const T* w_hh,
                  const int64_t* lengths, bool reverse, const T* gates, const T* hn,
                  const T* hprev, const T* dy, const T* dhT, T* dx, T* dw_ih, T* dw_hh,
                  T* db_ih, T* db_hh, T* dh0);

// Elman RNN (tanh or relu). Workspace: acts (steps, batch, H) = h_t, hprev (steps, batch, H).
template <typename T>
void rnn_forward(const RnnShape& s, bool relu, const T* x, const T* w_ih, const T* w_hh,
                 const T* b_ih, const T* b_hh, const T* h0, const int64_t* lengths, bool reverse,
                 T* y, T* hT, T* acts, T* hprev);

// db: the gradient of b_ih and of b_hh (equal).
template <typename T>
void rnn_backward(const RnnShape& s, bool relu, const T* x, const T* w_ih, const T* w_hh,
                  const int64_t* lengths, bool reverse, const T* acts, const T* hprev,
                  const T* dy, const T* dhT, T* dx, T* dw_ih, T* dw_hh, T* db, T* dh0);

}  // namespace fastdl::cpu
