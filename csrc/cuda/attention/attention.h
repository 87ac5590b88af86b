#pragma once
// Flash attention on a CUDA device (or in the emulator), float or double: the same problem and
// layouts as cpu/attention/attention.h (AttentionShape; device pointers here). Plain C++: callers
// need no CUDA headers. Head dimensions up to kMaxHeadDim.
#include <cstdint>

#include "cpu/attention/attention.h"

namespace fastdl::cuda {

inline constexpr int64_t kAttentionMaxHeadDim = 128;

// Enqueue on `stream` (a cudaStream_t; nullptr = default stream); throws std::runtime_error on a
// launch error or a head dimension above kAttentionMaxHeadDim. With s.row_stats the forward also
// leaves each row's (max, log2 of its sum) in log2 units and returns RowStats::log2_units; a
// backward given them (stats_kind) computes exact probabilities (cpu/attention/attention.h).
template <typename T>
cpu::RowStats attention_forward(const cpu::AttentionShape& s, const T* q, const T* k, const T* v,
                                T* out, T* lse, void* stream);

template <typename T>
void attention_backward(const cpu::AttentionShape& s, const T* q, const T* k, const T* v,
                        const T* out, const T* grad_out, const T* lse, T* grad_q, T* grad_k,
                        T* grad_v, T* grad_mask, void* stream);

}  // namespace fastdl::cuda
