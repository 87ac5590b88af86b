// fastdl._C_cudaemu: the CUDA kernel sources compiled by the host compiler and run by the CUDA
// emulator (csrc/cuda_emu) on numpy arrays. For tests: it checks the kernels' algorithms and
// synchronisation without a GPU; it says nothing about their speed.
#include <nanobind/nanobind.h>

#include "cuda_emu/fiber.h"
#include "fastdl_families.h"  // generated: each family's bind function (cmake/family.cmake)

namespace nb = nanobind;

NB_MODULE(_C_cudaemu, m) {
  m.doc() = "fastdl CUDA kernels run on the CPU by the CUDA emulator (tests)";
  m.attr("schedules") = nb::make_tuple("forward", "reverse", "random", "warp_at_a_time");
  // Asked of fiber.cpp, the one file that switches: a macro tested here would describe this file's
  // compilation, not the switch (it once reported "ucontext" while the assembly switch ran).
  m.attr("fibers") = fastdl::cuda_emu::fiber_backend();
#ifdef FASTDL_SANITIZE
  m.attr("sanitizers") = "address,undefined";
#else
  m.attr("sanitizers") = "";
#endif
  fastdl::bind::bind_families(m);
}
