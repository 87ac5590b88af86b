# fastdl._C_cuda: the CUDA kernels compiled by nvcc, with a static CUDA runtime so the module
# imports on machines without a GPU (it reports device_count() == 0 there).
set(FASTDL_CUDA_ARCHS "80;90" CACHE STRING "CUDA architectures to compile for (CMAKE_CUDA_ARCHITECTURES syntax)")
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES ${FASTDL_CUDA_ARCHS})
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

# Device code lives in its own library: nanobind's module flags (-Os etc.) are meant for g++.
# Families add their .cu sources (cmake/family.cmake).
add_library(fastdl_cuda_kernels STATIC)
set_target_properties(fastdl_cuda_kernels PROPERTIES
  CUDA_ARCHITECTURES "${FASTDL_CUDA_ARCHS}"
  CUDA_STANDARD 17
  CUDA_STANDARD_REQUIRED ON
  CUDA_RUNTIME_LIBRARY Static
  POSITION_INDEPENDENT_CODE ON)
target_include_directories(fastdl_cuda_kernels PRIVATE ${PROJECT_SOURCE_DIR}/csrc)
target_compile_options(fastdl_cuda_kernels PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3 -Xcompiler=-fvisibility=hidden>)

nanobind_add_module(_C_cuda NB_STATIC
  csrc/bindings/module_cuda.cpp
)
target_include_directories(_C_cuda PRIVATE ${PROJECT_SOURCE_DIR}/csrc)
string(REPLACE ";" " " _fastdl_cuda_archs_words "${FASTDL_CUDA_ARCHS}")  # ";" would split the flag
target_compile_definitions(_C_cuda PRIVATE FASTDL_CUDA_ARCHS="${_fastdl_cuda_archs_words}")
target_link_libraries(_C_cuda PRIVATE fastdl_cuda_kernels CUDA::cudart_static)
