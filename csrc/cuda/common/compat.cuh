#pragma once
// Include this (not <cuda_runtime.h>) in kernel sources: they then compile with nvcc, and with the
// host compiler under FASTDL_CUDA_EMU, where csrc/cuda_emu runs them on the CPU.
#ifdef FASTDL_CUDA_EMU
#include "cuda_emu/runtime.h"
// Dynamic shared memory as a typed pointer (the emulator cannot express `extern __shared__`).
#define FASTDL_DYNAMIC_SHARED(T, name) \
  T* name = reinterpret_cast<T*>(::fastdl::cuda_emu::detail::tl_dynamic_smem)
// Static shared memory, `FASTDL_SHARED(float, tile, [8][128]);` for `__shared__ float tile[8][128];`
// (a statement in a kernel or device function). The emulator poisons it at every block.
#define FASTDL_SHARED(T, name, ...)                                                   \
  static thread_local T name __VA_ARGS__;                                             \
  static thread_local uint64_t fastdl_shared_epoch_##name = 0;                        \
  ::fastdl::cuda_emu::detail::poison_static_shared_once(fastdl_shared_epoch_##name, name)
#else
#include <cuda_runtime.h>
#define FASTDL_DYNAMIC_SHARED(T, name)                                       \
  extern __shared__ __align__(16) unsigned char fastdl_dynamic_shared_bytes[]; \
  T* name = reinterpret_cast<T*>(fastdl_dynamic_shared_bytes)
#define FASTDL_SHARED(T, name, ...) __shared__ T name __VA_ARGS__
#endif
