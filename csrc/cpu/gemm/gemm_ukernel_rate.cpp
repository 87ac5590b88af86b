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

// `sweeps` passes of the A sliver over the whole B block; returns a value that depends on the
// results (so the work is kept) and writes the FLOP count.
float microkernel_burst(int64_t sweeps, double* flops) {
  using namespace gemm_config;
  constexpr int64_t kSlivers = NC / NR;
  const int64_t stride = packed_b_sliver_stride<NR>(KC);
  // 64-byte aligned storage (the packed layouts the micro-kernel is written for), filled once
  // per thread so that timed calls do nothing but multiply.
  struct alignas(64) Line { float v[16]; };
  thread_local std::vector<Line> a_lines, b_lines, c_lines;
  if (a_lines.empty()) {
    a_lines.resize(MR * KC / 16 + 1);
    b_lines.resize(kSlivers * stride / 16 + 1);
    c_lines.resize(kSlivers * MR * NR / 16 + 1);
    float* a_init = reinterpret_cast<float*>(a_lines.data());
    float* b_init = reinterpret_cast<float*>(b_lines.data());
    for (int64_t i = 0; i < MR * KC; ++i) a_init[i] = 1e-3f * float(i % 7);
    for (int64_t i = 0; i < kSlivers * stride; ++i) b_init[i] = 1e-3f * float(i % 5);
  }
  const float* a = reinterpret_cast<const float*>(a_lines.data());
  const float* b = reinterpret_cast<const float*>(b_lines.data());
  float* c = reinterpret_cast<float*>(c_lines.data());
  for (int64_t s = 0; s < sweeps; ++s)
    for (int64_t j = 0; j < kSlivers; ++j)
      micro_kernel<MR, NR>(KC, a, b + j * stride, c + j * MR * NR, NR, 1, MR, NR, 1.f, 1.f);
  *flops = 2.0 * double(MR) * NR * KC * kSlivers * double(sweeps);
  float total = 0.f;
  for (int64_t i = 0; i < kSlivers * MR * NR; i += 97) total += c[i];
  return total;
}

}  // namespace fastdl::cpu::FASTDL_ISA
