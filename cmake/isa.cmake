# Kernel sources are compiled once per instruction set and chosen at run time (never -march=native).
# Each copy sees FASTDL_ISA=<name>, which names the namespace its functions live in.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
  set(FASTDL_ISAS avx512 avx2 scalar)
  set(FASTDL_ISA_FLAGS_avx512 -mavx512f -mavx512vl -mavx512bw -mavx512dq -mavx2 -mfma -mf16c)
  set(FASTDL_ISA_FLAGS_avx2 -mavx2 -mfma -mf16c)
  set(FASTDL_ISA_FLAGS_scalar "")
else()
  set(FASTDL_ISAS scalar)
  set(FASTDL_ISA_FLAGS_scalar "")
endif()

# fastdl_add_isa_kernels(<target> <name> <sources...>): one object library per ISA, linked into
# target (see fastdl_add_kernel_family; <name> keeps each family's libraries apart).
function(fastdl_add_isa_kernels target name)
  foreach(isa IN LISTS FASTDL_ISAS)
    set(obj ${target}_${name}_kernels_${isa})
    add_library(${obj} OBJECT ${ARGN})
    target_compile_definitions(${obj} PRIVATE FASTDL_ISA=${isa} FASTDL_ISA_${isa}=1)
    target_compile_options(${obj} PRIVATE ${FASTDL_ISA_FLAGS_${isa}} -O3 -fno-math-errno)
    target_include_directories(${obj} PRIVATE ${PROJECT_SOURCE_DIR}/csrc)
    # Kernels are internal to the module: hidden symbols are called directly, not through the
    # PLT (an exported helper such as a packing transpose cost an indirect call per use).
    set_target_properties(${obj} PROPERTIES POSITION_INDEPENDENT_CODE ON
                                            CXX_VISIBILITY_PRESET hidden
                                            VISIBILITY_INLINES_HIDDEN ON)
    if(OpenMP_CXX_FOUND)
      target_link_libraries(${obj} PRIVATE OpenMP::OpenMP_CXX)
    endif()
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:${obj}>)
  endforeach()
endfunction()

# The dispatch code of <target> learns which ISA copies exist.
function(fastdl_define_isas target)
  foreach(isa IN LISTS FASTDL_ISAS)
    target_compile_definitions(${target} PRIVATE FASTDL_HAVE_ISA_${isa}=1)
  endforeach()
endfunction()

# Install a nanobind module into the package, or into FASTDL_OUTPUT_DIR for in-place development.
function(fastdl_install_module target)
  if(FASTDL_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${FASTDL_OUTPUT_DIR})
  else()
    install(TARGETS ${target} LIBRARY DESTINATION fastdl)
  endif()
endfunction()
