// Host side of the GEMM (float and double, one body): picks the load path per operand from its strides and alignment, splits
// the batch over grid.z (and over host loops beyond what one launch can address), and launches.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/common/launch.cuh"
#include "cuda/gemm/sgemm.h"
#include "cuda/gemm/sgemm_kernel.cuh"

namespace fastdl::cuda {

namespace {

using sgemm_detail::Operand;
using sgemm_detail::Params;
constexpr int64_t kMaxGridYZ = 65535;

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

bool batch_strides_keep_alignment(const std::vector<int64_t>& strides) {
  for (int64_t s : strides)
    if (s % 4 != 0) return false;
  return true;
}

// Four-element (Quad) loads need unit stride along k or along m/n, the other stride and every
// batch offset a multiple of 4 elements, and a 16-byte aligned base (then every float4, or both
// double2 halves of a double Quad, are 16-byte aligned).
Operand choose_layout(const void* data, int64_t k_stride, int64_t mn_stride,
                      const std::vector<int64_t>& batch_strides) {
  if (!aligned16(data) || !batch_strides_keep_alignment(batch_strides)) return Operand::general;
  if (k_stride == 1 && mn_stride % 4 == 0) return Operand::k_contiguous;
  if (mn_stride == 1 && k_stride % 4 == 0) return Operand::mn_contiguous;
  return Operand::general;
}

template <typename T, Operand kA, Operand kB, bool kOmit>
void launch_one(const Params<T>& p, dim3 grid, cudaStream_t stream) {
  launch(sgemm_detail::gemm_kernel<T, kA, kB, kOmit>, grid, dim3(sgemm_detail::kThreads), 0,
         stream, p);
}

template <typename T, Operand kA, bool kOmit>
void dispatch_b(Operand b, const Params<T>& p, dim3 grid, cudaStream_t stream) {
  switch (b) {
    case Operand::general: return launch_one<T, kA, Operand::general, kOmit>(p, grid, stream);
    case Operand::k_contiguous: return launch_one<T, kA, Operand::k_contiguous, kOmit>(p, grid, stream);
    case Operand::mn_contiguous: return launch_one<T, kA, Operand::mn_contiguous, kOmit>(p, grid, stream);
  }
}

template <typename T, bool kOmit>
void dispatch(Operand a, Operand b, const Params<T>& p, dim3 grid, cudaStream_t stream) {
  switch (a) {
    case Operand::general: return dispatch_b<T, Operand::general, kOmit>(b, p, grid, stream);
    case Operand::k_contiguous: return dispatch_b<T, Operand::k_contiguous, kOmit>(b, p, grid, stream);
    case Operand::mn_contiguous: return dispatch_b<T, Operand::mn_contiguous, kOmit>(b, p, grid, stream);
  }
}

}  // namespace

template <typename T>
void gemm(const GemmProblem<T>& pr, void* stream_handle, SgemmVariant variant) {
  const size_t nd = pr.batch_shape.size();
  if (pr.a_batch_strides.size() != nd || pr.b_batch_strides.size() != nd ||
      pr.c_batch_strides.size() != nd)
    throw std::invalid_argument("sgemm: batch strides must have one entry per batch dimension");
  int64_t batch = 1;
  for (int64_t s : pr.batch_shape) batch *= s;
  if (pr.m <= 0 || pr.n <= 0 || batch <= 0) return;
  const int64_t grid_y = (pr.m + sgemm_detail::kBlockM - 1) / sgemm_detail::kBlockM;
  const int64_t grid_x = (pr.n + sgemm_detail::kBlockN - 1) / sgemm_detail::kBlockN;
  if (grid_y > kMaxGridYZ || grid_x > INT32_MAX)
    throw std::invalid_argument("sgemm: matrix of " + std::to_string(pr.m) + " x " +
                                std::to_string(pr.n) + " exceeds the launch grid");
#ifndef FASTDL_CUDA_EMU
  if (variant != SgemmVariant::normal)
    throw std::invalid_argument("sgemm: the test-only variants exist in the emulator build only");
#endif
  auto stream = static_cast<cudaStream_t>(stream_handle);

  Params<T> p{};
  p.m = pr.m, p.n = pr.n, p.k = pr.k, p.alpha = pr.alpha, p.beta = pr.beta;
  p.a_rs = pr.a.rs, p.a_cs = pr.a.cs, p.b_rs = pr.b.rs, p.b_cs = pr.b.cs;
  p.c_rs = pr.c_rs, p.c_cs = pr.c_cs;
  const Operand a_layout = choose_layout(pr.a.data, pr.a.cs, pr.a.rs, pr.a_batch_strides);
  const Operand b_layout = choose_layout(pr.b.data, pr.b.rs, pr.b.cs, pr.b_batch_strides);
  p.c_vectorized = pr.c_cs == 1 && pr.c_rs % 4 == 0 && aligned16(pr.c) &&
                   batch_strides_keep_alignment(pr.c_batch_strides);

  // The kernel addresses the innermost kMaxBatchDims batch dimensions; the host walks the rest.
  const size_t inner_dims = nd < size_t(sgemm_detail::kMaxBatchDims) ? nd : sgemm_detail::kMaxBatchDims;
  const size_t outer_dims = nd - inner_dims;
  p.batch.ndim = int(inner_dims);
  int64_t inner_items = 1, outer_items = 1;
  for (size_t d = 0; d < inner_dims; ++d) {
    const size_t src = outer_dims + d;
    p.batch.shape[d] = pr.batch_shape[src];
    p.batch.a_stride[d] = pr.a_batch_strides[src];
    p.batch.b_stride[d] = pr.b_batch_strides[src];
    p.batch.c_stride[d] = pr.c_batch_strides[src];
    inner_items *= pr.batch_shape[src];
  }
  for (size_t d = 0; d < outer_dims; ++d) outer_items *= pr.batch_shape[d];

  for (int64_t outer = 0; outer < outer_items; ++outer) {
    int64_t rest = outer, a_off = 0, b_off = 0, c_off = 0;
    for (size_t d = outer_dims; d-- > 0;) {
      const int64_t i = rest % pr.batch_shape[d];
      rest /= pr.batch_shape[d];
      a_off += i * pr.a_batch_strides[d], b_off += i * pr.b_batch_strides[d], c_off += i * pr.c_batch_strides[d];
    }
    p.a = pr.a.data + a_off, p.b = pr.b.data + b_off, p.c = pr.c + c_off;
    for (int64_t begin = 0; begin < inner_items; begin += kMaxGridYZ) {
      p.batch_begin = begin;
      const int64_t items = inner_items - begin < kMaxGridYZ ? inner_items - begin : kMaxGridYZ;
      const dim3 grid{unsigned(grid_x), unsigned(grid_y), unsigned(items)};
      if (variant == SgemmVariant::normal) {
        dispatch<T, false>(a_layout, b_layout, p, grid, stream);
      } else {
#ifdef FASTDL_CUDA_EMU
        dispatch<T, true>(a_layout, b_layout, p, grid, stream);
#endif
      }
    }
  }
}

template void gemm<float>(const GemmProblem<float>&, void*, SgemmVariant);
template void gemm<double>(const GemmProblem<double>&, void*, SgemmVariant);

}  // namespace fastdl::cuda
