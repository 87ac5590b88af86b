// Run-time choice of the pooling kernels' SIMD path (pool_kernels.cpp is compiled per ISA).
#include "cpu/pool/pool.h"

#include "common/cpu_features.h"

#define FASTDL_DECLARE_POOL_KERNELS(ns)                          \
  namespace fastdl::cpu::ns {                                    \
  void get_pool_kernels(fastdl::cpu::PoolKernels<float>* out);   \
  void get_pool_kernels(fastdl::cpu::PoolKernels<double>* out);  \
  }
FASTDL_DECLARE_POOL_KERNELS(avx512)
FASTDL_DECLARE_POOL_KERNELS(avx2)
FASTDL_DECLARE_POOL_KERNELS(scalar)
#undef FASTDL_DECLARE_POOL_KERNELS

namespace fastdl::cpu {

template <typename T>
PoolKernels<T> pool_kernels() {
  PoolKernels<T> k{};
  switch (active_isa()) {
#ifdef FASTDL_HAVE_ISA_avx512
    case Isa::avx512: avx512::get_pool_kernels(&k); break;
#endif
#ifdef FASTDL_HAVE_ISA_avx2
    case Isa::avx2: avx2::get_pool_kernels(&k); break;
#endif
    default: scalar::get_pool_kernels(&k); break;
  }
  return k;
}

template PoolKernels<float> pool_kernels<float>();
template PoolKernels<double> pool_kernels<double>();

}  // namespace fastdl::cpu
