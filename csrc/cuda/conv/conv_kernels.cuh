#pragma once
// Convolution kernels (device code; the launchers are in conv.cu). Spatial dimensions are always
// three (rank 1 and 2 arrive with leading dimensions of size 1), element type T = float or double.
//
// Implicit GEMM. Each pass is a GEMM per group, C[m, n] = sum_r A[m, r] B[r, n], whose operands are
// read straight from the tensors (no im2col buffer) by a Problem class:
//   forward          m = output channel of the group, n = (image, output pixel),
//                    r = (input channel of the group, kernel offset): A = weight, B = input patch
//   backward-input   m = input channel of the group, n = (image, input pixel of one stride
//                    phase), r = (output channel of the group, kernel offset valid for the phase):
//                    A = weight, B = grad_out at the output pixel that reads this input pixel
//                    through this offset; one split per phase (conv_backward_input.cuh)
//   backward-weight  m = output channel of the group, n = (input channel of the group, kernel
//                    offset), r = (image, output pixel): A = grad_out, B = input patch; r is split
//                    over blocks (blockIdx.z), each writing its own partial sum, summed afterwards
//                    in split order (deterministic)
// A Problem's extent(split) says which columns and which part of r a split computes.
// One 64x64 tile of C per block of 256 threads, r in steps of 16 through shared memory, a 4x4
// register tile per thread. A Problem precomputes what one thread's operand row (of A) and column
// (of B) need once per block (Row, Col: pointers, pixel origins), and each k tile's 16 values of r
// are decoded once, by 16 threads, into shared memory (RInfo: offsets, kernel or pixel
// coordinates), so the operand loads do no integer division.
//
// Backward-input by stride phases (conv_backward_input.cuh): input pixels with the same
// (pixel mod stride) per axis see the same kernel offsets, so each phase is dense: no zero taps,
// no division in the operand loads. Stride 1 is one phase. With few input channels per group
// (C / groups <= 8: RGB stems, LeNet, depthwise) a 64-row tile would be mostly padding, so a
// direct kernel gives each thread all the channels of 1 or 4 pixels instead.
//
// Direct kernels, for C / groups == 1 (depthwise): one thread per output element (forward), one
// block per weight element reducing over images and pixels by a fixed tree (backward-weight); bias
// gradient likewise one block per channel.
#include <cstdint>

#include "cuda/common/compat.cuh"
#include "cuda/common/kernel_utils.cuh"

namespace fastdl::cuda::conv_detail {

using kutil::imin;

constexpr int kTileM = 64, kTileN = 64, kTileK = 16;
constexpr int kThreadM = 4, kThreadN = 4;
constexpr int kThreads = (kTileM / kThreadM) * (kTileN / kThreadN);  // 256
constexpr int kReduceThreads = 256;
static_assert(kTileM * kTileK == 4 * kThreads && kTileN * kTileK == 4 * kThreads,
              "each thread loads four elements of each tile");
static_assert(kTileM == kTileN, "a thread loads row (t % 64) of A and column (t % 64) of B");

// The geometry as the kernels use it: three spatial dims, with products precomputed.
struct Dims {
  int64_t n, c, k, groups, cg, kg;  // cg = C / groups, kg = K / groups
  int64_t in[3], out[3], ker[3], stride[3], pad[3], dil[3];
  int64_t in_size, out_size, ker_size;  // elements of one spatial plane / kernel window
};

__device__ __forceinline__ void unravel3(int64_t i, const int64_t (&shape)[3], int64_t (&idx)[3]) {
  idx[2] = i % shape[2];
  i /= shape[2];
  idx[1] = i % shape[1];
  idx[0] = i / shape[1];
}

__device__ __forceinline__ int64_t ravel3(const int64_t (&idx)[3], const int64_t (&shape)[3]) {
  return (idx[0] * shape[1] + idx[1]) * shape[2] + idx[2];
}

// Input offset within a plane of the pixel `origin + kpos * dil`, or -1 if it lies in the padding.
__device__ __forceinline__ int64_t input_offset(const Dims& d, const int64_t (&origin)[3],
                                                const int64_t (&kpos)[3]) {
  int64_t off = 0;
#pragma unroll
  for (int a = 0; a < 3; ++a) {
    const int64_t i = origin[a] + kpos[a] * d.dil[a];
    if (i < 0 || i >= d.in[a]) return -1;
    off = off * d.in[a] + i;
  }
  return off;
}

// Offset within a plane of `shape` of the pixel base + shift, or -1 if that lies outside.
__device__ __forceinline__ int64_t offset_in_plane(const int64_t (&base)[3],
                                                   const int64_t (&shift)[3],
                                                   const int64_t (&shape)[3]) {
  int64_t off = 0;
#pragma unroll
  for (int a = 0; a < 3; ++a) {
    const int64_t i = base[a] + shift[a];
    if (i < 0 || i >= shape[a]) return -1;
    off = off * shape[a] + i;
  }
  return off;
}

// The part of a problem that the blocks of split `split` (blockIdx.z / groups) compute: columns
// [0, n_size), reduction [r_begin, r_end).
struct Extent {
  int64_t n_size, r_begin, r_end;
};

// Each Problem decodes a reduction index r once per k tile into an RInfo (offsets and kernel or
// pixel coordinates; the kernel keeps the tile's 16 in shared memory), so the operand loads do no
// integer division.
template <typename T>
struct ForwardProblem {
  Dims d;
  const T* x;
  const T* w;
  const T* bias;  // nullable
  T* out;

  struct RInfo {  // r = (input channel of the group, kernel offset)
    int64_t channel_offset;  // channel * in_size
    int64_t shift[3];        // kernel offset * dilation
  };
  struct Row {
    const T* w;
  };
  struct Col {
    const T* x;
    int64_t origin[3];
  };
  __device__ Extent extent(int64_t /*split*/) const {
    return {d.n * d.out_size, 0, d.cg * d.ker_size};
  }
  __device__ RInfo decode(int64_t /*split*/, int64_t r) const {
    RInfo info;
    const int64_t channel = r / d.ker_size;
    int64_t kpos[3];
    unravel3(r - channel * d.ker_size, d.ker, kpos);
    info.channel_offset = channel * d.in_size;
#pragma unroll
    for (int a = 0; a < 3; ++a) info.shift[a] = kpos[a] * d.dil[a];
    return info;
  }
  __device__ Row row(int64_t g, int64_t m) const { return {w + (g * d.kg + m) * d.cg * d.ker_size}; }
  __device__ T a(const Row& row, int64_t r, const RInfo&) const { return row.w[r]; }
  __device__ Col col(int64_t g, int64_t /*split*/, int64_t n) const {
    Col col;
    const int64_t image = n / d.out_size;
    int64_t o[3];
    unravel3(n - image * d.out_size, d.out, o);
#pragma unroll
    for (int a = 0; a < 3; ++a) col.origin[a] = o[a] * d.stride[a] - d.pad[a];
    col.x = x + (image * d.c + g * d.cg) * d.in_size;
    return col;
  }
  __device__ T b(const Col& col, const RInfo& info) const {
    const int64_t off = offset_in_plane(col.origin, info.shift, d.in);
    return off < 0 ? T(0) : col.x[info.channel_offset + off];
  }
  __device__ void store(int64_t g, int64_t /*split*/, int64_t m, int64_t n, T v) const {
    const int64_t image = n / d.out_size, channel = g * d.kg + m;
    out[(image * d.k + channel) * d.out_size + (n - image * d.out_size)] =
        bias ? v + bias[channel] : v;
  }
};

template <typename T>
struct BackwardWeightProblem {
  Dims d;
  const T* x;
  const T* grad_out;
  T* target;             // grad_weight, or the partial sums of split s at target + s * split_stride
  int64_t split_stride;  // K * cg * ker_size when split, else 0
  int64_t r_chunk;       // rows of (image, output pixel) per split

  struct RInfo {  // r = (image, output pixel)
    int64_t grad_offset;  // image * K * out_size + output pixel
    int64_t x_offset;     // image * C * in_size
    int64_t step[3];      // output pixel * stride
  };
  struct Row {
    const T* grad_out;
  };
  struct Col {
    const T* x;
    int64_t offset[3];  // kernel offset * dilation - padding
  };
  __device__ Extent extent(int64_t split) const {
    const int64_t r_begin = split * r_chunk;
    return {d.cg * d.ker_size, r_begin, imin(d.n * d.out_size, r_begin + r_chunk)};
  }
  __device__ RInfo decode(int64_t /*split*/, int64_t r) const {
    RInfo info;
    const int64_t image = r / d.out_size, pixel = r - image * d.out_size;
    int64_t o[3];
    unravel3(pixel, d.out, o);
    info.grad_offset = image * d.k * d.out_size + pixel;
    info.x_offset = image * d.c * d.in_size;
#pragma unroll
    for (int a = 0; a < 3; ++a) info.step[a] = o[a] * d.stride[a];
    return info;
  }
  __device__ Row row(int64_t g, int64_t m) const { return {grad_out + (g * d.kg + m) * d.out_size}; }
  __device__ T a(const Row& row, int64_t, const RInfo& info) const {
    return row.grad_out[info.grad_offset];
  }
  __device__ Col col(int64_t g, int64_t /*split*/, int64_t n) const {
    Col col;
    const int64_t channel = n / d.ker_size;
    int64_t kpos[3];
    unravel3(n - channel * d.ker_size, d.ker, kpos);
#pragma unroll
    for (int a = 0; a < 3; ++a) col.offset[a] = kpos[a] * d.dil[a] - d.pad[a];
    col.x = x + (g * d.cg + channel) * d.in_size;
    return col;
  }
  __device__ T b(const Col& col, const RInfo& info) const {
    int64_t off = 0;
#pragma unroll
    for (int a = 0; a < 3; ++a) {
      const int64_t i = info.step[a] + col.offset[a];
      if (i < 0 || i >= d.in[a]) return T(0);
      off = off * d.in[a] + i;
    }
    return col.x[info.x_offset + off];
  }
  __device__ void store(int64_t g, int64_t split, int64_t m, int64_t n, T v) const {
    target[split * split_stride + (g * d.kg + m) * d.cg * d.ker_size + n] = v;
  }
};

// C (m_size x extent.n_size) of group blockIdx.z % groups, over r in [extent.r_begin,
// extent.r_end), for the extent of split blockIdx.z / groups (gridDim.x covers the widest split).
template <typename T, class Problem>
__global__ void __launch_bounds__(kThreads, sizeof(T) == 4 ? 3 : 2)
    implicit_gemm_kernel(Problem p, int64_t m_size, int64_t groups) {
  FASTDL_SHARED(__align__(16) T, as, [kTileK][kTileM]);
  FASTDL_SHARED(__align__(16) T, bs, [kTileK][kTileN]);
  FASTDL_SHARED(typename Problem::RInfo, rinfo, [kTileK]);

  const int t = threadIdx.x;
  const int64_t g = blockIdx.z % groups, split = blockIdx.z / groups;
  const Extent extent = p.extent(split);
  const int64_t n_size = extent.n_size, r_begin = extent.r_begin, r_end = extent.r_end;
  const int64_t row0 = int64_t(blockIdx.y) * kTileM, col0 = int64_t(blockIdx.x) * kTileN;
  if (col0 >= n_size) return;  // a split narrower than the grid (the whole block leaves)

  // This thread loads row `lane` of the A tile and column `lane` of the B tile, at tile rows
  // lk, lk + 4, lk + 8, lk + 12.
  const int lane = t % kTileM, lk = t / kTileM;
  const bool row_ok = row0 + lane < m_size, col_ok = col0 + lane < n_size;
  const typename Problem::Row row = p.row(g, row_ok ? row0 + lane : 0);
  const typename Problem::Col col = p.col(g, split, col_ok ? col0 + lane : 0);

  const int tx = t % (kTileN / kThreadN), ty = t / (kTileN / kThreadN);
  T acc[kThreadM][kThreadN];
#pragma unroll
  for (int i = 0; i < kThreadM; ++i)
#pragma unroll
    for (int j = 0; j < kThreadN; ++j) acc[i][j] = T(0);

  for (int64_t r0 = r_begin; r0 < r_end; r0 += kTileK) {
    // Everyone is past the previous tile's loads (the barrier before its compute loop), so the
    // decoded rows can be overwritten.
    if (t < kTileK && r0 + t < r_end) rinfo[t] = p.decode(split, r0 + t);
    __syncthreads();
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const int kk = lk + 4 * q;
      const int64_t r = r0 + kk;
      const bool in_range = r < r_end;
      as[kk][lane] = row_ok && in_range ? p.a(row, r, rinfo[kk]) : T(0);
      bs[kk][lane] = col_ok && in_range ? p.b(col, rinfo[kk]) : T(0);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      T ar[kThreadM], br[kThreadN];
#pragma unroll
      for (int i = 0; i < kThreadM; ++i) ar[i] = as[kk][ty * kThreadM + i];
#pragma unroll
      for (int j = 0; j < kThreadN; ++j) br[j] = bs[kk][tx * kThreadN + j];
#pragma unroll
      for (int i = 0; i < kThreadM; ++i)
#pragma unroll
        for (int j = 0; j < kThreadN; ++j) acc[i][j] += ar[i] * br[j];
    }
    __syncthreads();  // the next iteration overwrites the tiles
  }

#pragma unroll
  for (int i = 0; i < kThreadM; ++i) {
    const int64_t m = row0 + ty * kThreadM + i;
#pragma unroll
    for (int j = 0; j < kThreadN; ++j) {
      const int64_t n = col0 + tx * kThreadN + j;
      if (m < m_size && n < n_size) p.store(g, split, m, n, acc[i][j]);
    }
  }
}

// out[e] = sum over s < splits of partial[s * total + e], in order of s.
template <typename T>
__global__ void sum_splits_kernel(const T* __restrict__ partial, T* __restrict__ out, int64_t total,
                                  int64_t splits) {
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) {
    T s = partial[e];
    for (int64_t k = 1; k < splits; ++k) s += partial[k * total + e];
    out[e] = s;
  }
}

// Depthwise (C / groups == 1) forward: one thread per output element.
template <typename T>
__global__ void direct_forward_kernel(Dims d, const T* __restrict__ x, const T* __restrict__ w,
                                      const T* __restrict__ bias, T* __restrict__ out) {
  const int64_t total = d.n * d.k * d.out_size;
  for (int64_t e = kutil::global_thread(); e < total; e += kutil::grid_threads()) {
    const int64_t plane = e / d.out_size, image = plane / d.k, channel = plane - image * d.k;
    int64_t o[3], origin[3], kpos[3];
    unravel3(e - plane * d.out_size, d.out, o);
#pragma unroll
    for (int a = 0; a < 3; ++a) origin[a] = o[a] * d.stride[a] - d.pad[a];
    const T* xp = x + (image * d.c + channel / d.kg) * d.in_size;
    const T* wp = w + channel * d.ker_size;
    T acc = T(0);
    for (kpos[0] = 0; kpos[0] < d.ker[0]; ++kpos[0])
      for (kpos[1] = 0; kpos[1] < d.ker[1]; ++kpos[1])
        for (kpos[2] = 0; kpos[2] < d.ker[2]; ++kpos[2]) {
          const int64_t off = input_offset(d, origin, kpos);
          if (off >= 0) acc += wp[ravel3(kpos, d.ker)] * xp[off];
        }
    out[e] = bias ? acc + bias[channel] : acc;
  }
}

// Depthwise backward-weight: block b computes grad_weight[b] (output channel b / ker_size, kernel
// offset b % ker_size): each thread sums a strided share of (image, output pixel), then a tree.
template <typename T>
__global__ void __launch_bounds__(kReduceThreads)
    direct_backward_weight_kernel(Dims d, const T* __restrict__ x, const T* __restrict__ grad_out,
                                  T* __restrict__ grad_weight) {
  FASTDL_SHARED(T, scratch, [kReduceThreads]);
  const int64_t element = blockIdx.x, channel = element / d.ker_size;
  int64_t kpos[3];
  unravel3(element - channel * d.ker_size, d.ker, kpos);
  const int64_t in_channel = channel / d.kg;
  const int64_t total = d.n * d.out_size;
  T acc = T(0);
  for (int64_t r = threadIdx.x; r < total; r += kReduceThreads) {
    const int64_t image = r / d.out_size;
    int64_t o[3], origin[3];
    unravel3(r - image * d.out_size, d.out, o);
#pragma unroll
    for (int a = 0; a < 3; ++a) origin[a] = o[a] * d.stride[a] - d.pad[a];
    const int64_t off = input_offset(d, origin, kpos);
    if (off >= 0)
      acc += grad_out[(image * d.k + channel) * d.out_size + (r - image * d.out_size)] *
             x[(image * d.c + in_channel) * d.in_size + off];
  }
  const T sum = kutil::block_tree_sum<kReduceThreads>(acc, scratch);
  if (threadIdx.x == 0) grad_weight[element] = sum;
}

// grad_bias[k] = sum over images and pixels of grad_out[:, k]: one block per channel, a tree.
template <typename T>
__global__ void __launch_bounds__(kReduceThreads)
    bias_grad_kernel(int64_t n, int64_t k, int64_t spatial, const T* __restrict__ grad_out,
                     T* __restrict__ grad_bias) {
  FASTDL_SHARED(T, scratch, [kReduceThreads]);
  const int64_t channel = blockIdx.x;
  T acc = T(0);
  for (int64_t image = 0; image < n; ++image) {
    const T* gp = grad_out + (image * k + channel) * spatial;
    for (int64_t i = threadIdx.x; i < spatial; i += kReduceThreads) acc += gp[i];
  }
  const T sum = kutil::block_tree_sum<kReduceThreads>(acc, scratch);
  if (threadIdx.x == 0) grad_bias[channel] = sum;
}

}  // namespace fastdl::cuda::conv_detail
