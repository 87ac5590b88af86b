# fastdl._C_cudaemu: the CUDA kernel sources compiled by the host compiler with FASTDL_CUDA_EMU,
# which makes csrc/cuda_emu run them on the CPU (fibers per CUDA thread). Tests only.
# Families add their kernels (.cu, through generated wrappers) and bindings (cmake/family.cmake).
add_library(fastdl_cuda_emu_kernels OBJECT
  csrc/cuda_emu/fiber.cpp
  csrc/cuda_emu/scheduler.cpp
)
target_include_directories(fastdl_cuda_emu_kernels PRIVATE ${PROJECT_SOURCE_DIR}/csrc)
target_compile_definitions(fastdl_cuda_emu_kernels PRIVATE FASTDL_CUDA_EMU=1)
# Not nanobind's -Os: emulation is slow enough. Kernels type-pun float arrays as float4.
target_compile_options(fastdl_cuda_emu_kernels PRIVATE -O2 -fno-strict-aliasing -fvisibility=hidden
                                                -Wno-unknown-pragmas)  # #pragma unroll is for nvcc
find_package(Threads REQUIRED)

nanobind_add_module(_C_cudaemu NB_STATIC
  csrc/bindings/module_cudaemu.cpp
)
target_sources(_C_cudaemu PRIVATE $<TARGET_OBJECTS:fastdl_cuda_emu_kernels>)
target_include_directories(_C_cudaemu PRIVATE ${PROJECT_SOURCE_DIR}/csrc)
target_compile_definitions(_C_cudaemu PRIVATE FASTDL_CUDA_EMU=1)
target_link_libraries(_C_cudaemu PRIVATE Threads::Threads)
