#pragma once
// Pooling and interpolation on a CUDA device (or in the emulator), float or double, NCHW like
// PyTorch and with its index and rounding conventions. Plain C++: callers need no CUDA headers.
//
// Every function works on `planes` = N * C independent spatial planes, C-contiguous, of three
// spatial dimensions (rank 1 and 2 arrive with leading dimensions of size 1, kernel 1, stride 1,
// padding 0, dilation 1). Indices are int64 flat offsets within an input plane (torch's
// convention). Outputs are fully overwritten, never read.
//
// Deterministic except where noted: every backward except max_pool_backward is a gather (each
// input element sums, in a fixed order, the outputs whose window or interpolation taps contain
// it). max_pool_backward gets only indices, not the windows, so it scatters with atomicAdd: exact
// (hence deterministic) when no two outputs of a plane name the same input, and a run-to-run
// rounding difference in the order of additions where windows overlap.
#include <cstdint>

namespace fastdl::cuda {

struct PoolGeometry {
  int64_t planes = 0;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};
};

struct PoolWindow {
  int64_t kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1}, pad[3] = {0, 0, 0}, dil[3] = {1, 1, 1};
};

enum class InterpMode { nearest, nearest_exact, linear, cubic };

// Max over each window (NaN wins, as in torch); indices (nullable) = offset of the maximum.
template <typename T>
void max_pool_forward(const PoolGeometry& g, const PoolWindow& w, const T* x, T* out,
                      int64_t* indices, void* stream = nullptr);
// grad_input (size g.in) = 0, then grad_input.plane[indices] += grad_out (size g.out). Indices
// outside the plane are skipped.
template <typename T>
void max_pool_backward(const PoolGeometry& g, const T* grad_out, const int64_t* indices,
                       T* grad_input, void* stream = nullptr);
// out (size g.out) = 0, then out.plane[indices] = x (size g.in and indices' shape). Indices outside
// the plane are skipped; duplicates keep one of the values (as on any GPU).
template <typename T>
void max_unpool_forward(const PoolGeometry& g, const T* x, const int64_t* indices, T* out,
                        void* stream = nullptr);
// out (size g.out) = src.plane[indices] (src size g.in); an index outside the plane gives 0.
template <typename T>
void gather_by_index(const PoolGeometry& g, const T* src, const int64_t* indices, T* out,
                     void* stream = nullptr);
// torch's avg_pool: windows clipped to input + padding for the count_include_pad divisor, to the
// input for the sum and the other divisor; divisor_override > 0 replaces both. ceil_mode is
// already in the output size the caller chose; it is accepted for the shared interface.
template <typename T>
void avg_pool_forward(const PoolGeometry& g, const PoolWindow& w, bool ceil_mode,
                      bool count_include_pad, int64_t divisor_override, const T* x, T* out,
                      void* stream = nullptr);
template <typename T>
void avg_pool_backward(const PoolGeometry& g, const PoolWindow& w, bool ceil_mode,
                       bool count_include_pad, int64_t divisor_override, const T* grad_out,
                       T* grad_input, void* stream = nullptr);
// Windows [floor(o * in / out), ceil((o + 1) * in / out)) per dimension.
template <typename T>
void adaptive_avg_pool_forward(const PoolGeometry& g, const T* x, T* out, void* stream = nullptr);
template <typename T>
void adaptive_avg_pool_backward(const PoolGeometry& g, const T* grad_out, T* grad_input,
                                void* stream = nullptr);
template <typename T>
void adaptive_max_pool_forward(const PoolGeometry& g, const T* x, T* out, int64_t* indices,
                               void* stream = nullptr);
// torch's upsample kernels. `rank` = the caller's spatial rank (1..3; the last `rank` of the three
// dimensions interpolate, the leading ones are size 1); cubic needs rank 2. scales[a] > 0 is the
// user's scale_factor along spatial dimension a (of the three), used for the source index as torch
// does when recompute_scale_factor is off; <= 0 means in / out.
template <typename T>
void interpolate_forward(const PoolGeometry& g, int rank, InterpMode mode, bool align_corners,
                         const double* scales, const T* x, T* out, void* stream = nullptr);
template <typename T>
void interpolate_backward(const PoolGeometry& g, int rank, InterpMode mode, bool align_corners,
                          const double* scales, const T* grad_out, T* grad_input,
                          void* stream = nullptr);

}  // namespace fastdl::cuda
