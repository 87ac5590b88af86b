#pragma once
// Convolution (cross-correlation, as torch's), forward and backward, on CPU arrays in NCHW order
// (NCL for 1-D, NCDHW for 3-D), float or double, one templated body. All arrays C-contiguous.
// Every spatial rank is run as 3-D: a 1-D or 2-D convolution gets leading spatial dims of size 1
// with kernel 1, stride 1, padding 0, dilation 1 (ConvGeometry::from), so one code path serves
// conv1d/2d/3d.
//
// Outputs are fully overwritten, never read. Workspace (per thread, kept between calls): see
// conv_kernels.cpp (a bounded im2col tile, at most ~kColTileBytes, never the whole column matrix).
#include <cstdint>

namespace fastdl::cpu {

struct ConvGeometry {
  int64_t batch = 1, in_channels = 1, out_channels = 1, groups = 1;
  // spatial sizes of the input x (or grad_input) and the output (or grad_out); d, h, w
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1}, pad[3] = {0, 0, 0},
          dilation[3] = {1, 1, 1};

  int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_volume() const { return kernel[0] * kernel[1] * kernel[2]; }
  int64_t group_in() const { return in_channels / groups; }    // C / groups
  int64_t group_out() const { return out_channels / groups; }  // K / groups
  // rows of the lowered GEMM: (C / groups) * kernel volume
  int64_t patch() const { return group_in() * kernel_volume(); }
};

// x (N, C, *in), w (K, C/groups, *k), bias (K,) or nullptr -> out (N, K, *out).
template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* out);
// grad_out (N, K, *out), w -> grad_input (N, C, *in) (in given by the caller: this is also the
// transposed convolution's forward, output_padding included).
template <typename T>
void conv_backward_input(const ConvGeometry& g, const T* grad_out, const T* w, T* grad_input);
// x, grad_out -> grad_weight (K, C/groups, *k).
template <typename T>
void conv_backward_weight(const ConvGeometry& g, const T* x, const T* grad_out, T* grad_weight);
// grad_bias[k] = sum over n and the plane of grad_out (N, K, plane).
template <typename T>
void conv_backward_bias(int64_t batch, int64_t channels, int64_t plane, const T* grad_out,
                        T* grad_bias);

}  // namespace fastdl::cpu
