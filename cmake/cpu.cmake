# fastdl._C: the CPU kernels. Here only what is not a kernel family (module, CPU features,
# threads); families add their drivers, per-ISA kernels and bindings (cmake/family.cmake).
if(NOT SKBUILD_PROJECT_VERSION)
  # Plain CMake builds (development): take the version from pyproject.toml.
  file(STRINGS ${PROJECT_SOURCE_DIR}/pyproject.toml _fastdl_version_line REGEX "^version = ")
  string(REGEX REPLACE "^version = \"([^\"]+)\".*" "\\1" SKBUILD_PROJECT_VERSION "${_fastdl_version_line}")
endif()
nanobind_add_module(_C NB_STATIC
  csrc/bindings/module_cpu.cpp
  csrc/common/cpu_features.cpp
  csrc/common/threading.cpp
)
target_include_directories(_C PRIVATE ${PROJECT_SOURCE_DIR}/csrc)
target_compile_definitions(_C PRIVATE FASTDL_VERSION="${SKBUILD_PROJECT_VERSION}"
                                      FASTDL_CXX_COMPILER="${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}")
fastdl_define_isas(_C)
if(OpenMP_CXX_FOUND)
  target_link_libraries(_C PRIVATE OpenMP::OpenMP_CXX)
endif()
