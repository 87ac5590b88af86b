#pragma once
// The one way our host code launches a kernel: `kernel<<<grid, block, smem, stream>>>(args...)`
// under nvcc; under FASTDL_CUDA_EMU the emulator runs the kernel on the CPU (synchronously, with
// the schedule set by cuda_emu::ScopedLaunchOptions). Arguments convert to the kernel's parameter
// types exactly as they would at a <<<>>> call.
#include <cstddef>

#include "cuda/common/compat.cuh"

namespace fastdl::cuda {

template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem_bytes,
            cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "launch: wrong number of kernel arguments");
#ifdef FASTDL_CUDA_EMU
  (void)stream;
  ::fastdl::cuda_emu::run_grid(grid, block, smem_bytes,
                               [&] { kernel(static_cast<Params>(args)...); });
#else
  kernel<<<grid, block, smem_bytes, stream>>>(static_cast<Params>(args)...);
#endif
}

}  // namespace fastdl::cuda
