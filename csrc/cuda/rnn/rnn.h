#pragma once
// Recurrent layers on a CUDA device (or in the emulator): the same whole-sequence LSTM / GRU /
// Elman RNN forward and backward through time as cpu/rnn/rnn.h (same layouts, same workspace, so
// the CPU and CUDA kernels check each other), float or double. The products run on our CUDA GEMM
// (cuda/gemm/sgemm.h: the input projection of all steps as one product, one recurrent product per
// step on the active rows, weight gradients as large products after the loop); the fused gate
// kernels (rnn.cu) are one thread per (row, hidden unit). Plain C++: callers need no CUDA headers.
//
// Device pointers, except `lengths` (host memory: the active rows of each step size the launches).
// The projected LSTM (proj_size) is not implemented here.
#include <cstdint>

namespace fastdl::cuda {

struct RnnShape {
  int64_t steps, batch, input, hidden;
};

enum class RnnMode { lstm, gru, rnn_tanh, rnn_relu };

int64_t rnn_gates(RnnMode mode);  // 4, 3, 1

// Forward: ws0 = gates (steps, batch, G*H); ws1 = cprev (LSTM) or hn (GRU) (steps, batch, H),
// unused (may be null) for the Elman RNN; hprev (steps, batch, H). c0/cT: LSTM only. Scratch
// (the GRU's hidden-side products; backward's pre-activation gradients) is allocated per call,
// stream-ordered.
template <typename T>
void rnn_forward(RnnMode mode, const RnnShape& s, const T* x, const T* w_ih, const T* w_hh,
                 const T* b_ih, const T* b_hh, const T* h0, const T* c0, const int64_t* lengths,
                 bool reverse, T* y, T* hT, T* cT, T* ws0, T* ws1, T* hprev, void* stream);

// Backward through time: db_ih and db_hh both written (equal except for the GRU); dx may be
// null (the input needs no gradient: its product is skipped).
template <typename T>
void rnn_backward(RnnMode mode, const RnnShape& s, const T* x, const T* w_ih, const T* w_hh,
                  const int64_t* lengths, bool reverse, const T* ws0, const T* ws1,
                  const T* hprev, const T* dy, const T* dhT, const T* dcT, T* dx, T* dw_ih,
                  T* dw_hh, T* db_ih, T* db_hh, T* dh0, T* dc0, void* stream);

}  // namespace fastdl::cuda
