#pragma once
// Convolution on a CUDA device (or in the emulator), float or double, NCHW like PyTorch: forward,
// backward-data, backward-weight and bias gradient for spatial rank 1..3 with stride, zero padding,
// dilation and groups (cross-correlation). Plain C++: callers need no CUDA headers.
//
// Shapes: x (N, C, *in), weight (K, C/groups, *ker), out (N, K, *out), all C-contiguous. Spatial
// sizes are given as three dimensions; a rank-1 or rank-2 problem fills the leading ones with
// size 1, kernel 1, stride 1, padding 0, dilation 1 (make_conv_geometry does it).
//
// Algorithms (conv.cu): a tiled implicit GEMM (shared-memory tiles of the weight and of the
// gathered input, no im2col buffer) for the general case; a direct kernel when every output
// channel reads one input channel (C/groups == 1: depthwise). Backward-weight reduces over
// N x spatial in fixed-order partial sums (split over blocks, then summed in split order): no
// atomics, the same bits on every run. Backward-data is a gather (each input element sums the
// outputs that read it), also deterministic, split by stride phase (input pixel mod stride) so
// that it visits only the kernel offsets that reach an output; its direct kernel takes
// C/groups <= 8.
#include <cstdint>

namespace fastdl::cuda {

struct ConvGeometry {
  int64_t n = 0, c = 0, k = 0, groups = 1;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, ker[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, pad[3] = {0, 0, 0}, dil[3] = {1, 1, 1};
};

// Which kernel runs. `automatic` picks by shape; the others exist for tests (the emulator runs the
// implicit GEMM on a depthwise shape to check both paths on the same problem). `direct` needs
// C/groups == 1 (backward-input: C/groups <= 8).
enum class ConvAlgo { automatic, implicit_gemm, direct };

// Each enqueues its kernels on `stream` (a cudaStream_t; nullptr = default stream); outputs are
// fully overwritten, never read. Launch errors are left for the caller's cudaGetLastError(); the
// emulator runs synchronously and throws. Instantiated for float and double (conv.cu).
template <typename T>
void conv_forward(const ConvGeometry& g, const T* x, const T* weight, const T* bias /*nullable*/,
                  T* out, void* stream = nullptr, ConvAlgo algo = ConvAlgo::automatic);
template <typename T>
void conv_backward_input(const ConvGeometry& g, const T* grad_out, const T* weight, T* grad_input,
                         void* stream = nullptr, ConvAlgo algo = ConvAlgo::automatic);
template <typename T>
void conv_backward_weight(const ConvGeometry& g, const T* x, const T* grad_out, T* grad_weight,
                          void* stream = nullptr, ConvAlgo algo = ConvAlgo::automatic);
// grad_bias[k] = sum of grad_out (n, k, spatial) over n and spatial.
template <typename T>
void conv_backward_bias(int64_t n, int64_t k, int64_t spatial, const T* grad_out, T* grad_bias,
                        void* stream = nullptr);

}  // namespace fastdl::cuda
