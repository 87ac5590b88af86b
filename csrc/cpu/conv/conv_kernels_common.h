#pragma once
// Internal to the convolution's per-ISA sources (conv_kernels.cpp and the conv_*_kernels.cpp next
// to it, each compiled once per ISA with FASTDL_ISA naming the namespace): the helpers they share
// and each path's entry points. They live in the named namespace
// fastdl::cpu::FASTDL_ISA::conv_detail, not an anonymous one: one definition per ISA shared by the
// files (inline functions and templates here; the paths' templates are instantiated for float and
// double in their own file), and each ISA's copy is a namespace of its own, so the ISAs' objects
// link side by side.
#include <algorithm>
#include <cstdint>
#include <exception>
#include <vector>

#include "cpu/conv/conv.h"
#include "cpu/conv/conv_simd.h"
#include "cpu/gemm/gemm_buffer.h"

namespace fastdl::cpu::FASTDL_ISA::conv_detail {

using conv_simd::Vec;

// Each thread's workspace, kept between calls and shared by the paths (one runs per call): the
// im2col tile, the depthwise padded plane, the padded-rows grid or the whole-batch panel.
inline thread_local PackBuffer tls_col;

// work(i) for i in [0, count): on `threads` threads, each index once (dynamic chunks of one:
// tasks are equal-sized, and a slower, shared core then takes fewer). An exception (allocation
// failure) may not leave an OpenMP region: the first one is rethrown here.
template <typename Work>
void parallel_tasks(int64_t count, int threads, bool dynamic, Work&& work) {
  if (threads <= 1 || count <= 1) {
    for (int64_t i = 0; i < count; ++i) work(i);
    return;
  }
  std::exception_ptr error;
  auto guarded = [&](int64_t i) {
    try {
      work(i);
    } catch (...) {
#pragma omp critical(fastdl_conv_error)
      if (!error) error = std::current_exception();
    }
  };
  if (dynamic) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t i = 0; i < count; ++i) guarded(i);
  } else {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < count; ++i) guarded(i);
  }
  if (error) std::rethrow_exception(error);
}

// Enough tasks for every thread to take whole ones without leaving a thread idle at the end.
inline bool split_tasks(int64_t tasks, int threads) {
  return threads > 1 && (tasks >= 2 * int64_t(threads) || tasks % threads == 0);
}

// Output positions o along one axis whose input index o * stride + offset lies in [0, size):
// [lo, hi) (empty: lo == hi).
struct Range {
  int64_t lo, hi;
};
inline Range valid_outputs(int64_t out, int64_t size, int64_t stride, int64_t offset) {
  int64_t lo = offset >= 0 ? 0 : ceil_div(-offset, stride);
  int64_t hi = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
  hi = std::min(hi, out);
  lo = std::min(lo, hi);
  return {lo, hi};
}

// dst (dims) = 0, then dst[a * step + offset] = src[a] per axis (3-D, src dims `in`) where that
// lands inside dst: a zero-padded (step 1) or spread-out (step = stride) copy.
template <typename T>
void place_volume(const T* src, const int64_t in[3], const int64_t step[3],
                  const int64_t offset[3], T* dst, const int64_t dims[3]) {
  std::fill(dst, dst + dims[0] * dims[1] * dims[2], T(0));
  const Range rd = valid_outputs(in[0], dims[0], step[0], offset[0]);
  const Range rh = valid_outputs(in[1], dims[1], step[1], offset[1]);
  const Range rw = valid_outputs(in[2], dims[2], step[2], offset[2]);
  for (int64_t a = rd.lo; a < rd.hi; ++a)
    for (int64_t b = rh.lo; b < rh.hi; ++b) {
      const T* s = src + (a * in[1] + b) * in[2];
      T* d = dst + ((a * step[0] + offset[0]) * dims[1] + b * step[1] + offset[1]) * dims[2] +
             offset[2];
      if (step[2] == 1) {
        std::copy(s + rw.lo, s + rw.hi, d + rw.lo);
      } else {
        for (int64_t c = rw.lo; c < rw.hi; ++c) d[c * step[2]] = s[c];
      }
    }
}

// Per tap t of the kernel and output position p of the plane (t * P + p): the input position
// (within the plane) that t reads for p, -1 in the padding. int32: callers check that the input
// plane is under 2^31.
inline std::vector<int32_t> tap_input_positions(const ConvGeometry& g) {
  const int64_t P = g.out_plane();
  std::vector<int32_t> table(static_cast<size_t>(g.kernel_volume() * P), -1);
  int64_t t = 0;
  for (int64_t kd = 0; kd < g.kernel[0]; ++kd)
    for (int64_t kh = 0; kh < g.kernel[1]; ++kh)
      for (int64_t kw = 0; kw < g.kernel[2]; ++kw, ++t) {
        int64_t p = 0;
        for (int64_t od = 0; od < g.out[0]; ++od)
          for (int64_t oh = 0; oh < g.out[1]; ++oh)
            for (int64_t ow = 0; ow < g.out[2]; ++ow, ++p) {
              const int64_t id = od * g.stride[0] + kd * g.dilation[0] - g.pad[0];
              const int64_t ih = oh * g.stride[1] + kh * g.dilation[1] - g.pad[1];
              const int64_t iw = ow * g.stride[2] + kw * g.dilation[2] - g.pad[2];
              if (id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1] && iw >= 0 && iw < g.in[2])
                table[size_t(t * P + p)] = int32_t((id * g.in[1] + ih) * g.in[2] + iw);
            }
      }
  return table;
}

// The inverse, per tap t and input position i (t * IP + i): the output position whose tap t
// reads i, or -1 (a tap reads each input at most once, for any stride).
inline std::vector<int32_t> tap_output_positions(const ConvGeometry& g,
                                                 const std::vector<int32_t>& input_positions) {
  const int64_t P = g.out_plane(), IP = g.in_plane(), KV = g.kernel_volume();
  std::vector<int32_t> table(static_cast<size_t>(KV * IP), -1);
  for (int64_t t = 0; t < KV; ++t)
    for (int64_t p = 0; p < P; ++p) {
      const int32_t i = input_positions[size_t(t * P + p)];
      if (i >= 0) table[size_t(t * IP + i)] = int32_t(p);
    }
  return table;
}

// ---- depthwise (conv_depthwise_kernels.cpp) ---------------------------------------------------
template <typename T>
void depthwise_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                       int threads);
template <typename T>
void depthwise_backward_input(const ConvGeometry& g, const T* gout, const T* w, T* gin,
                              int threads);
template <typename T>
void depthwise_backward_weight(const ConvGeometry& g, const T* x, const T* gout, T* gw,
                               int threads);

// ---- stride-1 implicit GEMM, "padded rows" (conv_padded_rows_kernels.cpp) ---------------------
bool padded_rows_applies(const ConvGeometry& g, int threads);
bool padded_rows_tasks_apply(const ConvGeometry& g, int threads);

// The forward applies when output channels fill the vectors and the patch has several input
// channels (LeNet's C = 1, 5 x 5: 0.66x of the im2col GEMM, whose tiles are tiny then).
template <typename T>
bool padded_rows_forward_applies(const ConvGeometry& g) {
  return g.group_out() >= 16 && g.group_in() >= 4;
}

template <typename T>
void padded_rows_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                         int threads);
template <typename T>
bool padded_rows_backward_input(const ConvGeometry& g, const T* gout, const T* w, T* gin,
                                int threads);

// ---- strided convolutions on the padded rows (conv_padded_rows_strided_kernels.cpp) -----------
// space-to-depth forward; sub-pixel phases of the input gradient
template <typename T>
bool strided_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                     int threads);
template <typename T>
bool padded_rows_backward_input_strided(const ConvGeometry& g, const T* gout, const T* w,
                                        T* gin, int threads);

// ---- im2col tiles and whole-batch lowering (conv_im2col_kernels.cpp) --------------------------
template <typename T>
void im2col_tile(const ConvGeometry& g, const T* x, int64_t p0, int64_t cols, T* col);
template <typename T>
void col2im_tile_add(const ConvGeometry& g, const T* col, int64_t p0, int64_t cols, T* x);

enum class Product { forward, input, weight };
bool batch_lowering(const ConvGeometry& g, Product product);
template <typename T>
void batched_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                     int threads);
template <typename T>
void batched_backward_input(const ConvGeometry& g, const T* gout, const T* w, T* gin,
                            int threads);
template <typename T>
void batched_backward_weight(const ConvGeometry& g, const T* x, const T* gout, T* gw,
                             int threads);

// ---- small planes without the padding's taps (conv_valid_taps_kernels.cpp) --------------------
bool valid_taps_applies(const ConvGeometry& g, Product product);
template <typename T>
void valid_taps_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out,
                        int threads);
template <typename T>
void valid_taps_backward_input(const ConvGeometry& g, const T* gout, const T* w, T* gin,
                               int threads);
template <typename T>
void valid_taps_backward_weight(const ConvGeometry& g, const T* x, const T* gout, T* gw,
                                int threads);

// ---- 4 x 4 stride-2 padding-1 by sub-pixel phases and Winograd F(2x2, 2x2)
// (conv_subpixel_winograd_kernels.cpp) --------------------------------------------------------
bool subpixel_winograd_applies(const ConvGeometry& g);
template <typename T>
void subpixel_winograd_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias,
                               T* out, int threads);
template <typename T>
void subpixel_winograd_backward_input(const ConvGeometry& g, const T* gout, const T* w, T* gin,
                                      int threads);
template <typename T>
void subpixel_winograd_backward_weight(const ConvGeometry& g, const T* x, const T* gout, T* gw,
                                       int threads);

}  // namespace fastdl::cpu::FASTDL_ISA::conv_detail
