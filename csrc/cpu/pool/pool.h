#pragma once
// Pooling and interpolation on NC(D)HW float/double arrays (C-contiguous), forward and backward.
//
// Spatial dims are right-aligned in 3 (a 1-d call has in = {1, 1, W}, kernel {1, 1, k}, stride
// {1, 1, s}, padding 0 and dilation 1 in the leading dims), so a flat offset within a plane is
// torch's index convention for every rank. Outputs are fully overwritten (never read).
// Windows follow torch's CPU kernels exactly (first maximum wins, NaN propagates, avg pool's
// divisor clips the window to input + padding), so indices and values match PyTorch.
#include <cstdint>

namespace fastdl::cpu {

struct PoolShape {
  int64_t planes = 0;               // N * C
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1}, padding[3] = {0, 0, 0},
          dilation[3] = {1, 1, 1};
  int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
};

enum class InterpMode { nearest = 0, nearest_exact = 1, linear = 2, cubic = 3 };

// The kernels of one element type, for one SIMD path (pool_kernels.cpp is compiled per ISA).
// The index kernels return false (having written nothing out of bounds) when an index lies
// outside [0, plane size).
template <typename T>
struct PoolKernels {
  void (*max_pool_forward)(const PoolShape&, const T* x, T* out, int64_t* indices_or_null);
  // out zeroed, then out.plane[indices] += src (max pool's and adaptive max pool's backward)
  bool (*scatter_add)(int64_t planes, int64_t out_plane, int64_t idx_plane, const T* src,
                      const int64_t* indices, T* out);
  // out = src.plane[indices] (the backward of the scatter: max_unpool's backward)
  bool (*gather)(int64_t planes, int64_t src_plane, int64_t idx_plane, const T* src,
                 const int64_t* indices, T* out);
  // out zeroed, then out.plane[indices] = x
  bool (*unpool)(int64_t planes, int64_t x_plane, int64_t out_plane, const T* x,
                 const int64_t* indices, T* out);
  void (*avg_pool_forward)(const PoolShape&, bool count_include_pad, int64_t divisor_override,
                           const T* x, T* out);
  void (*avg_pool_backward)(const PoolShape&, bool count_include_pad, int64_t divisor_override,
                            const T* grad_out, T* grad_in);
  void (*adaptive_avg_forward)(const PoolShape&, const T* x, T* out);
  void (*adaptive_avg_backward)(const PoolShape&, const T* grad_out, T* grad_in);
  void (*adaptive_max_forward)(const PoolShape&, const T* x, T* out, int64_t* indices);
  void (*interpolate_forward)(const PoolShape&, InterpMode, bool align_corners,
                              const double* scales3, const T* x, T* out);
  void (*interpolate_backward)(const PoolShape&, InterpMode, bool align_corners,
                               const double* scales3, const T* grad_out, T* grad_in);
};

// The active SIMD path's kernels (FASTDL_SIMD / set_simd_path choose it).
template <typename T>
PoolKernels<T> pool_kernels();

}  // namespace fastdl::cpu
