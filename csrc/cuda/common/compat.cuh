#pragma once
// Include this (not <cuda_runtime.h>) in kernel sources: they then compile with nvcc, and with the
// host compiler under FASTDL_CUDA_EMU, where csrc/cuda_emu runs them on the CPU.
#ifdef FASTDL_CUDA_EMU
#include "cuda_emu/runtime.h"
// Dynamic shared memory as a typed pointer (the emulator cannot express `extern __shared__`).
#define FASTDL_DYNAMIC_SHARED(T, name) \
  T* name = reinterpret_cast<T*>(::fastdl::cuda_emu::detail::tl_dynamic_smem)
#else
#include <cuda_runtime.h>
#define FASTDL_DYNAMIC_SHARED(T, name)                                       \
  extern __shared__ __align__(16) unsigned char fastdl_dynamic_shared_bytes[]; \
  T* name = reinterpret_cast<T*>(fastdl_dynamic_shared_bytes)
#endif
