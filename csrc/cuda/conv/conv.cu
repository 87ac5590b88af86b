// Host side of the convolution kernels (float and double, one body): picks the kernel by shape,
// sizes the grids, and launches through the project's launch helper.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/common/kernel_utils.cuh"
#include "cuda/common/launch.cuh"
#include "cuda/conv/conv.h"
#include "cuda/conv/conv_backward_input.cuh"
#include "cuda/conv/conv_kernels.cuh"

namespace fastdl::cuda {

namespace {

using conv_detail::Dims;
using conv_detail::PhaseBatch;
using kutil::ceil_div;
using kutil::imax;
using kutil::imin;

constexpr int64_t kMaxGridYZ = 65535;
constexpr int64_t kMaxGridX = 2147483647;
// Backward-weight splits its reduction until the grid has about this many blocks (a few waves on
// a 132-SM H100/H200), each split at least kMinSplitRows rows of (image, pixel).
constexpr int64_t kTargetBlocks = 512;
constexpr int64_t kMinSplitRows = 64;
// The few-channel backward-input kernel gives each thread 4 pixels (each weight load then feeds
// 4 * cg FMAs) once the input has enough pixels to keep every SM busy that way: 512 blocks of
// 256 threads.
constexpr int64_t kPixelsForFourPerThread = 512 * conv_detail::kSmallThreads * 4;

Dims make_dims(const ConvGeometry& g) {
  Dims d{};
  d.n = g.n, d.c = g.c, d.k = g.k, d.groups = g.groups;
  if (g.groups <= 0 || g.c % g.groups != 0 || g.k % g.groups != 0)
    throw std::invalid_argument("conv: groups=" + std::to_string(g.groups) + " must divide C=" +
                                std::to_string(g.c) + " and K=" + std::to_string(g.k));
  d.cg = g.c / g.groups, d.kg = g.k / g.groups;
  d.in_size = d.out_size = d.ker_size = 1;
  for (int a = 0; a < 3; ++a) {
    if (g.stride[a] < 1 || g.dil[a] < 1 || g.pad[a] < 0 || g.ker[a] < 1 || g.in[a] < 0 ||
        g.out[a] < 0)
      throw std::invalid_argument("conv: bad geometry along a spatial dimension");
    d.in[a] = g.in[a], d.out[a] = g.out[a], d.ker[a] = g.ker[a];
    d.stride[a] = g.stride[a], d.pad[a] = g.pad[a], d.dil[a] = g.dil[a];
    d.in_size *= g.in[a], d.out_size *= g.out[a], d.ker_size *= g.ker[a];
  }
  return d;
}

bool use_direct(const Dims& d, ConvAlgo algo) {
  if (algo == ConvAlgo::direct) {
    if (d.cg != 1)
      throw std::invalid_argument("conv: the direct kernel needs C / groups == 1, got " +
                                  std::to_string(d.cg));
    return true;
  }
  return algo == ConvAlgo::automatic && d.cg == 1;
}

// n: the widest split's columns.
template <typename T, class Problem>
void launch_implicit_gemm(const Problem& p, int64_t m, int64_t n, int64_t splits, int64_t groups,
                          cudaStream_t stream) {
  const int64_t gx = ceil_div(n, conv_detail::kTileN), gy = ceil_div(m, conv_detail::kTileM);
  if (gx > kMaxGridX || gy > kMaxGridYZ || groups * splits > kMaxGridYZ)
    throw std::invalid_argument("conv: problem of " + std::to_string(m) + " x " +
                                std::to_string(n) + " in " + std::to_string(groups) +
                                " groups exceeds the launch grid");
  launch(conv_detail::implicit_gemm_kernel<T, Problem>,
         dim3(unsigned(gx), unsigned(gy), unsigned(groups * splits)),
         dim3(conv_detail::kThreads), 0, stream, p, m, groups);
}

// Backward-input's direct kernel: the few-channel one, for C / groups <= kMaxSmallChannels
// (forced, it must be so).
bool use_small_channels(const Dims& d, ConvAlgo algo) {
  if (algo == ConvAlgo::direct && d.cg > conv_detail::kMaxSmallChannels)
    throw std::invalid_argument("conv: the direct backward-input kernel needs C / groups <= " +
                                std::to_string(conv_detail::kMaxSmallChannels) + ", got " +
                                std::to_string(d.cg));
  return algo == ConvAlgo::direct ||
         (algo == ConvAlgo::automatic && d.cg <= conv_detail::kMaxSmallChannels);
}

template <typename T, int kPixels>
void launch_small_channels(const Dims& d, const PhaseBatch& batch, int64_t widest_phase,
                           const T* grad_out, const T* weight, T* grad_input, cudaStream_t stream) {
  using conv_detail::small_channels_backward_input_kernel;
  const int64_t blocks = ceil_div(d.n * widest_phase, int64_t(conv_detail::kSmallThreads) * kPixels);
  const dim3 grid(unsigned(blocks), unsigned(batch.count), unsigned(d.groups));
  const auto run = [&](auto kernel) {
    launch(kernel, grid, dim3(conv_detail::kSmallThreads), 0, stream, d, batch, grad_out, weight,
           grad_input);
  };
  switch (d.cg) {  // exact channel counts up to 4; 5 to 8 share a kernel that tests c < cg
    case 1: return run(small_channels_backward_input_kernel<T, 1, kPixels>);
    case 2: return run(small_channels_backward_input_kernel<T, 2, kPixels>);
    case 3: return run(small_channels_backward_input_kernel<T, 3, kPixels>);
    case 4: return run(small_channels_backward_input_kernel<T, 4, kPixels>);
    default: return run(small_channels_backward_input_kernel<T, 8, kPixels>);
  }
}

}  // namespace

template <typename T>
void conv_forward(const ConvGeometry& geom, const T* x, const T* weight, const T* bias, T* out,
                  void* stream_handle, ConvAlgo algo) {
  const Dims d = make_dims(geom);
  const auto stream = static_cast<cudaStream_t>(stream_handle);
  if (d.n == 0 || d.k == 0 || d.out_size == 0) return;
  if (use_direct(d, algo)) {
    const int64_t total = d.n * d.k * d.out_size;
    launch(conv_detail::direct_forward_kernel<T>, dim3(kutil::elementwise_blocks(total)),
           dim3(kutil::kElementwiseThreads), 0, stream, d, x, weight, bias, out);
    return;
  }
  conv_detail::ForwardProblem<T> p{d, x, weight, bias, out};
  launch_implicit_gemm<T>(p, d.kg, d.n * d.out_size, 1, d.groups, stream);
}

template <typename T>
void conv_backward_input(const ConvGeometry& geom, const T* grad_out, const T* weight,
                         T* grad_input, void* stream_handle, ConvAlgo algo) {
  const Dims d = make_dims(geom);
  const auto stream = static_cast<cudaStream_t>(stream_handle);
  if (d.n == 0 || d.c == 0 || d.in_size == 0) return;
  const bool small_channels = use_small_channels(d, algo);
  const std::vector<conv_detail::Phase> phases = conv_detail::stride_phases(d);
  for (size_t begin = 0; begin < phases.size(); begin += conv_detail::kMaxPhasesPerLaunch) {
    PhaseBatch batch{};
    int64_t widest = 0;
    for (size_t i = begin; i < phases.size() && batch.count < conv_detail::kMaxPhasesPerLaunch; ++i) {
      batch.phase[batch.count++] = phases[i];
      widest = imax(widest, phases[i].pixels);
    }
    if (small_channels) {
      if (d.groups > kMaxGridYZ || ceil_div(d.n * widest, conv_detail::kSmallThreads) > kMaxGridX)
        throw std::invalid_argument("conv: backward-input exceeds the launch grid");
      if (d.n * d.in_size >= kPixelsForFourPerThread)
        launch_small_channels<T, 4>(d, batch, widest, grad_out, weight, grad_input, stream);
      else
        launch_small_channels<T, 1>(d, batch, widest, grad_out, weight, grad_input, stream);
    } else {
      const conv_detail::BackwardInputProblem<T> p{d, batch, grad_out, weight, grad_input};
      launch_implicit_gemm<T>(p, d.cg, d.n * widest, batch.count, d.groups, stream);
    }
  }
}

template <typename T>
void conv_backward_weight(const ConvGeometry& geom, const T* x, const T* grad_out, T* grad_weight,
                          void* stream_handle, ConvAlgo algo) {
  const Dims d = make_dims(geom);
  const auto stream = static_cast<cudaStream_t>(stream_handle);
  const int64_t total = d.k * d.cg * d.ker_size;
  if (total == 0) return;
  if (use_direct(d, algo)) {
    if (total > kMaxGridX) throw std::invalid_argument("conv: too many weights for the grid");
    launch(conv_detail::direct_backward_weight_kernel<T>, dim3(unsigned(total)),
           dim3(conv_detail::kReduceThreads), 0, stream, d, x, grad_out, grad_weight);
    return;
  }
  const int64_t m = d.kg, n = d.cg * d.ker_size, r = d.n * d.out_size;
  const int64_t tiles = ceil_div(m, conv_detail::kTileM) * ceil_div(n, conv_detail::kTileN) * d.groups;
  int64_t splits = imin(imax(1, kTargetBlocks / tiles), imax(1, ceil_div(r, kMinSplitRows)));
  splits = imin(splits, imax(1, kMaxGridYZ / d.groups));
  int64_t r_chunk = ceil_div(ceil_div(imax(r, 1), splits), conv_detail::kTileK) * conv_detail::kTileK;
  splits = imax(1, ceil_div(r, r_chunk));
  if (splits == 1) {
    conv_detail::BackwardWeightProblem<T> p{d, x, grad_out, grad_weight, 0, r_chunk};
    launch_implicit_gemm<T>(p, m, n, 1, d.groups, stream);
    return;
  }
  kutil::DeviceBuffer<T> partial(size_t(splits * total), stream);
  conv_detail::BackwardWeightProblem<T> p{d, x, grad_out, partial.data(), total, r_chunk};
  launch_implicit_gemm<T>(p, m, n, splits, d.groups, stream);
  launch(conv_detail::sum_splits_kernel<T>, dim3(kutil::elementwise_blocks(total)),
         dim3(kutil::kElementwiseThreads), 0, stream, partial.data(), grad_weight, total, splits);
}

template <typename T>
void conv_backward_bias(int64_t n, int64_t k, int64_t spatial, const T* grad_out, T* grad_bias,
                        void* stream_handle) {
  if (k <= 0) return;
  if (k > kMaxGridX) throw std::invalid_argument("conv: too many channels for the grid");
  launch(conv_detail::bias_grad_kernel<T>, dim3(unsigned(k)), dim3(conv_detail::kReduceThreads), 0,
         static_cast<cudaStream_t>(stream_handle), n, k, spatial, grad_out, grad_bias);
}

#define FASTDL_CONV_INSTANTIATE(T)                                                                \
  template void conv_forward<T>(const ConvGeometry&, const T*, const T*, const T*, T*, void*,     \
                                ConvAlgo);                                                        \
  template void conv_backward_input<T>(const ConvGeometry&, const T*, const T*, T*, void*,        \
                                       ConvAlgo);                                                 \
  template void conv_backward_weight<T>(const ConvGeometry&, const T*, const T*, T*, void*,       \
                                        ConvAlgo);                                                \
  template void conv_backward_bias<T>(int64_t, int64_t, int64_t, const T*, T*, void*);
FASTDL_CONV_INSTANTIATE(float)
FASTDL_CONV_INSTANTIATE(double)
#undef FASTDL_CONV_INSTANTIATE

}  // namespace fastdl::cuda
