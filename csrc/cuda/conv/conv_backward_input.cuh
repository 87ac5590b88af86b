#pragma once
// Backward-input (= a transposed convolution's forward) by stride phases: the Problem of its
// implicit GEMM and the kernel for few channels per group (conv_kernels.cuh's header comment gives
// the overall design).
//
// Input pixel i (per axis) receives grad_out[o] through kernel offset k iff
// i + pad - k * dil = o * stride. Split the input pixels by phase p = i mod stride: within a phase
// the offsets that satisfy this are a fixed arithmetic progression k = kfirst + j * kstep, and
// o = q + obase - j * ostep for the phase-local pixel q = (i - p) / stride, exactly. A phase is
// thus a dense problem over (phase pixel, output channel, valid tap): no zero taps (3/4 of them
// with stride 2 in 2-D) and no division in the loops. Stride 1 is the single phase p = 0.
#include <cstdint>
#include <vector>

#include "cuda/common/compat.cuh"
#include "cuda/common/kernel_utils.cuh"
#include "cuda/conv/conv_kernels.cuh"

namespace fastdl::cuda::conv_detail {

// One stride phase. Per axis: its first input pixel (= p), how many pixels it has, and the valid
// kernel offsets and output shifts as progressions in the tap index j < taps.
struct Phase {
  int64_t first[3], size[3];
  int64_t taps[3], kfirst[3], kstep[3], obase[3], ostep[3];
  int64_t pixels, tap_count;  // products of size and taps
};

// Phases handled by one launch (blockIdx.y of the direct kernel, the split index of the implicit
// GEMM): all four of a 2-D stride-2 problem, all eight of a 3-D one; more are launched in batches.
constexpr int kMaxPhasesPerLaunch = 8;
struct PhaseBatch {
  Phase phase[kMaxPhasesPerLaunch];
  int count;
};

__host__ __device__ __forceinline__ int64_t gcd64(int64_t a, int64_t b) {
  while (b != 0) {
    const int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// The phases of `d` that have input pixels (a phase without valid taps is kept: its pixels get 0).
inline std::vector<Phase> stride_phases(const Dims& d) {
  std::vector<Phase> phases;
  int64_t p[3];
  for (p[0] = 0; p[0] < imin(d.stride[0], d.in[0]); ++p[0])
    for (p[1] = 0; p[1] < imin(d.stride[1], d.in[1]); ++p[1])
      for (p[2] = 0; p[2] < imin(d.stride[2], d.in[2]); ++p[2]) {
        Phase ph{};
        ph.pixels = ph.tap_count = 1;
        for (int a = 0; a < 3; ++a) {
          const int64_t s = d.stride[a], dil = d.dil[a];
          ph.first[a] = p[a];
          ph.size[a] = kutil::ceil_div(d.in[a] - p[a], s);
          // k * dil = p + pad (mod s) repeats with period s / gcd(s, dil): look in the first one.
          ph.kstep[a] = s / gcd64(s, dil);
          ph.kfirst[a] = -1;
          for (int64_t k = 0; k < imin(d.ker[a], ph.kstep[a]) && ph.kfirst[a] < 0; ++k)
            if ((p[a] + d.pad[a] - k * dil) % s == 0) ph.kfirst[a] = k;
          ph.taps[a] = ph.kfirst[a] < 0 ? 0 : kutil::ceil_div(d.ker[a] - ph.kfirst[a], ph.kstep[a]);
          if (ph.kfirst[a] < 0) ph.kfirst[a] = 0;
          ph.obase[a] = (p[a] + d.pad[a] - ph.kfirst[a] * dil) / s;  // exact where taps > 0
          ph.ostep[a] = ph.kstep[a] * dil / s;
          ph.pixels *= ph.size[a];
          ph.tap_count *= ph.taps[a];
        }
        phases.push_back(ph);
      }
  return phases;
}

// Flat offset in `shape` of the point first + index * step (per axis): tap j's kernel offset is
// (kfirst, j, kstep) in the kernel window, phase pixel q's input pixel (first, q, stride).
__device__ __forceinline__ int64_t ravel_progression(const int64_t (&first)[3],
                                                     const int64_t (&index)[3],
                                                     const int64_t (&step)[3],
                                                     const int64_t (&shape)[3]) {
  int64_t off = 0;
#pragma unroll
  for (int a = 0; a < 3; ++a) off = off * shape[a] + first[a] + index[a] * step[a];
  return off;
}

// Implicit GEMM of one phase (the phase is the split index): m = input channel of the group,
// n = (image, phase pixel), r = (output channel of the group, valid tap).
template <typename T>
struct BackwardInputProblem {
  Dims d;
  PhaseBatch phases;
  const T* grad_out;
  const T* w;
  T* grad_input;

  struct RInfo {
    int64_t w_offset;        // channel * cg * ker_size + kernel offset
    int64_t channel_offset;  // channel * out_size
    int64_t oshift[3];       // output pixel - phase pixel
  };
  struct Row {
    const T* w;
  };
  struct Col {
    const T* grad_out;
    int64_t q[3];  // phase pixel
  };
  __device__ Extent extent(int64_t split) const {
    const Phase& ph = phases.phase[split];
    return {d.n * ph.pixels, 0, d.kg * ph.tap_count};
  }
  __device__ RInfo decode(int64_t split, int64_t r) const {
    const Phase& ph = phases.phase[split];
    RInfo info;
    const int64_t channel = r / ph.tap_count;
    int64_t j[3];
    unravel3(r - channel * ph.tap_count, ph.taps, j);
    info.w_offset = channel * d.cg * d.ker_size + ravel_progression(ph.kfirst, j, ph.kstep, d.ker);
    info.channel_offset = channel * d.out_size;
#pragma unroll
    for (int a = 0; a < 3; ++a) info.oshift[a] = ph.obase[a] - j[a] * ph.ostep[a];
    return info;
  }
  __device__ Row row(int64_t g, int64_t m) const {
    return {w + g * d.kg * d.cg * d.ker_size + m * d.ker_size};
  }
  __device__ T a(const Row& row, int64_t, const RInfo& info) const { return row.w[info.w_offset]; }
  __device__ Col col(int64_t g, int64_t split, int64_t n) const {
    const Phase& ph = phases.phase[split];
    Col col;
    const int64_t image = n / ph.pixels;
    unravel3(n - image * ph.pixels, ph.size, col.q);
    col.grad_out = grad_out + (image * d.k + g * d.kg) * d.out_size;
    return col;
  }
  __device__ T b(const Col& col, const RInfo& info) const {
    const int64_t off = offset_in_plane(col.q, info.oshift, d.out);
    return off < 0 ? T(0) : col.grad_out[info.channel_offset + off];
  }
  __device__ void store(int64_t g, int64_t split, int64_t m, int64_t n, T v) const {
    const Phase& ph = phases.phase[split];
    const int64_t image = n / ph.pixels;
    int64_t q[3];
    unravel3(n - image * ph.pixels, ph.size, q);
    grad_input[(image * d.c + g * d.cg + m) * d.in_size +
               ravel_progression(ph.first, q, d.stride, d.in)] = v;
  }
};

// Few input channels per group (cg <= kMaxSmallChannels: RGB stems, LeNet's 1, depthwise): the
// GEMM would pad m = cg to a 64-row tile. Instead one thread computes all cg channels of
// kPixels pixels of one phase (blockIdx.y) of one group (blockIdx.z), pixels kSmallThreads
// apart so that each gather of grad_out is coalesced across the warp. Per (valid tap, output
// channel) it loads kPixels values of grad_out and cg weights (the same address in every thread:
// one broadcast) for kPixels * cg FMAs. kChannels is cg exactly when <= 4, else an upper bound
// (the loops test c < cg).
constexpr int kMaxSmallChannels = 8;
constexpr int kSmallThreads = 256;

template <typename T, int kChannels, int kPixels>
__global__ void __launch_bounds__(kSmallThreads)
    small_channels_backward_input_kernel(Dims d, PhaseBatch phases, const T* __restrict__ grad_out,
                                         const T* __restrict__ w, T* __restrict__ grad_input) {
  const Phase& ph = phases.phase[blockIdx.y];
  const int64_t group = blockIdx.z, total = d.n * ph.pixels;
  const int64_t first = int64_t(blockIdx.x) * kSmallThreads * kPixels + threadIdx.x;
  if (first >= total) return;  // (no barriers below)
  const int channels = kChannels <= 4 ? kChannels : int(d.cg);

  int64_t q[kPixels][3], target[kPixels];
  const T* go[kPixels];
  bool live[kPixels];
#pragma unroll
  for (int s = 0; s < kPixels; ++s) {
    const int64_t e = first + s * kSmallThreads;
    live[s] = e < total;
    const int64_t pixel = live[s] ? e : first;
    const int64_t image = pixel / ph.pixels;
    unravel3(pixel - image * ph.pixels, ph.size, q[s]);
    go[s] = grad_out + (image * d.k + group * d.kg) * d.out_size;
    target[s] = (image * d.c + group * d.cg) * d.in_size +
                ravel_progression(ph.first, q[s], d.stride, d.in);
  }

  T acc[kPixels][kChannels];
#pragma unroll
  for (int s = 0; s < kPixels; ++s)
#pragma unroll
    for (int c = 0; c < kChannels; ++c) acc[s][c] = T(0);

  const T* w_group = w + group * d.kg * d.cg * d.ker_size;
  const int64_t w_channel_step = d.cg * d.ker_size;
  for (int64_t j0 = 0; j0 < ph.taps[0]; ++j0)
    for (int64_t j1 = 0; j1 < ph.taps[1]; ++j1)
      for (int64_t j2 = 0; j2 < ph.taps[2]; ++j2) {
        const int64_t j[3] = {j0, j1, j2};
        int64_t oshift[3];
#pragma unroll
        for (int a = 0; a < 3; ++a) oshift[a] = ph.obase[a] - j[a] * ph.ostep[a];
        // This tap's grad_out pixel for each of our pixels (null: outside grad_out), then the
        // output channels.
        const T* gp[kPixels];
#pragma unroll
        for (int s = 0; s < kPixels; ++s) {
          const int64_t off = offset_in_plane(q[s], oshift, d.out);
          gp[s] = off < 0 ? nullptr : go[s] + off;
        }
        const T* wp = w_group + ravel_progression(ph.kfirst, j, ph.kstep, d.ker);
        for (int64_t oc = 0; oc < d.kg; ++oc) {
          T g[kPixels];
#pragma unroll
          for (int s = 0; s < kPixels; ++s) g[s] = gp[s] ? gp[s][oc * d.out_size] : T(0);
#pragma unroll
          for (int c = 0; c < kChannels; ++c) {
            if (c >= channels) break;
            const T wv = __ldg(wp + c * d.ker_size);
#pragma unroll
            for (int s = 0; s < kPixels; ++s) acc[s][c] += wv * g[s];
          }
          wp += w_channel_step;
        }
      }

#pragma unroll
  for (int s = 0; s < kPixels; ++s) {
    if (!live[s]) continue;
#pragma unroll
    for (int c = 0; c < kChannels; ++c)
      if (c < channels) grad_input[target[s] + c * d.in_size] = acc[s][c];
  }
}

}  // namespace fastdl::cuda::conv_detail
