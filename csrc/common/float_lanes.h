#pragma once
// fp32 lanes in one vector register of the ISA a per-ISA source is compiled for (FASTDL_ISA_<name>
// defined by cmake/isa.cmake): 16 for AVX-512, 8 for AVX2, 4 for the portable (SSE2 / NEON) copy.
namespace fastdl::cpu::FASTDL_ISA {

#if defined(FASTDL_ISA_avx512)
inline constexpr int kFloatLanes = 16;
#elif defined(FASTDL_ISA_avx2)
inline constexpr int kFloatLanes = 8;
#else
inline constexpr int kFloatLanes = 4;
#endif

}  // namespace fastdl::cpu::FASTDL_ISA
