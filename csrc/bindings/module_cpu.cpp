// fastdl._C: CPU kernels. Each kernel family's binding file registers its functions through
// bind_families.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "common/cpu_features.h"
#include "common/threading.h"
#include "fastdl_families.h"  // generated: each family's bind function (cmake/family.cmake)

namespace nb = nanobind;

NB_MODULE(_C, m) {
  m.doc() = "fastdl CPU kernels";
  m.attr("__version__") = FASTDL_VERSION;
  m.attr("compiler") = FASTDL_CXX_COMPILER;
#ifdef _OPENMP
  m.attr("openmp") = true;
#else
  m.attr("openmp") = false;
#endif

  m.def("get_num_threads", &fastdl::num_threads);
  m.def("set_num_threads", &fastdl::set_num_threads, nb::arg("n"));
  m.def("max_hardware_threads", &fastdl::max_hardware_threads);

  m.def("simd_path", [] { return std::string(fastdl::isa_name(fastdl::active_isa())); });
  m.def("available_simd_paths", [] {
    std::vector<std::string> out;
    for (auto isa : fastdl::available_isas()) out.emplace_back(fastdl::isa_name(isa));
    return out;
  });
  m.def("set_simd_path", &fastdl::set_active_isa, nb::arg("name"));

  fastdl::bind::bind_families(m);
}
