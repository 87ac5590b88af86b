// The GEMM micro-kernel with nothing around it, compiled once per ISA: an MR x KC sliver of A
// resident in L1 meets every B sliver of an L2-resident KC x NC block, into C tiles that stay in
// L1 -- the inner two loops of the GEMM without packing or traffic to C in memory. Its rate is
// the most a GEMM built on it can reach on these cores at the moment of measuring; on a shared
// host it can sit well below the FMA peak (neighbours take load and cache bandwidth, not FMA
// pipes), which is what the benchmark reports it for.
#include <cstdint>
#include <vector>

#include "cpu/gemm/gemm_config.h"
#include "cpu/gemm/gemm_pack.h"

#if defined(FASTDL_ISA_avx512)
#include "cpu/gemm/gemm_ukernel_avx512.h"
#elif defined(FASTDL_ISA_avx2)
#include "cpu/gemm/gemm_ukernel_avx2.h"
#else
#include "cpu/gemm/gemm_ukernel_portable.h"
#endif

namespace fastdl::cpu::FASTDL_ISA {
namespace {

// `sweeps` passes of the A sliver over the whole B block, with T's blocking; returns a value that
// depends on the results (so the work is kept) and writes the FLOP count.
template <typename T>
T microkernel_burst_of(int64_t sweeps, double* flops) {
  constexpr int MR = gemm_config::Blocking<T>::MR, NR = gemm_config::Blocking<T>::NR;
  constexpr int64_t KC = gemm_config::Blocking<T>::KC, NC = gemm_config::Blocking<T>::NC;
  constexpr int64_t kSlivers = NC / NR;
  constexpr int64_t kLine = 64 / int64_t(sizeof(T));
  const int64_t stride = packed_b_sliver_stride<T, NR>(KC);
  // 64-byte aligned storage (the packed layouts the micro-kernel is written for), filled once
  // per thread so that timed calls do nothing but multiply.
  struct alignas(64) Line { T v[kLine]; };
  thread_local std::vector<Line> a_lines, b_lines, c_lines;
  if (a_lines.empty()) {
    a_lines.resize(MR * KC / kLine + 1);
    b_lines.resize(kSlivers * stride / kLine + 1);
    c_lines.resize(kSlivers * MR * NR / kLine + 1);
    T* a_init = reinterpret_cast<T*>(a_lines.data());
    T* b_init = reinterpret_cast<T*>(b_lines.data());
    for (int64_t i = 0; i < MR * KC; ++i) a_init[i] = T(1e-3) * T(i % 7);
    for (int64_t i = 0; i < kSlivers * stride; ++i) b_init[i] = T(1e-3) * T(i % 5);
  }
  const T* a = reinterpret_cast<const T*>(a_lines.data());
  const T* b = reinterpret_cast<const T*>(b_lines.data());
  T* c = reinterpret_cast<T*>(c_lines.data());
  for (int64_t s = 0; s < sweeps; ++s)
    for (int64_t j = 0; j < kSlivers; ++j)
      micro_kernel<T, MR, NR>(KC, a, b + j * stride, c + j * MR * NR, NR, 1, MR, NR, T(1), T(1));
  *flops = 2.0 * double(MR) * NR * KC * kSlivers * double(sweeps);
  T total = 0;
  for (int64_t i = 0; i < kSlivers * MR * NR; i += 97) total += c[i];
  return total;
}

}  // namespace

float microkernel_burst(int64_t sweeps, double* flops) {
  return microkernel_burst_of<float>(sweeps, flops);
}

float microkernel_burst_f64(int64_t sweeps, double* flops) {
  return float(microkernel_burst_of<double>(sweeps, flops));
}

}  // namespace fastdl::cpu::FASTDL_ISA
