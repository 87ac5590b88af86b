// fastdl._C: CPU kernels. One binding file per family registers its functions here.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "common/cpu_features.h"
#include "common/threading.h"
#include "cpu/peak/peak.h"

namespace nb = nanobind;

namespace fastdl::bind {
void bind_gemm(nb::module_& m);
}

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

  // Rates of a SIMD path ("" = the active one) on `threads` threads for dtype "float32" or
  // "float64", measured with the GIL off.
  for (auto [name, measure] : {std::pair{"measure_peak_gflops", &fastdl::cpu::measure_peak_gflops},
                               {"measure_microkernel_gflops",
                                &fastdl::cpu::measure_microkernel_gflops}})
    m.def(
        name,
        [measure](const std::string& isa, int threads, double seconds, const std::string& dtype) {
          nb::gil_scoped_release release;
          return measure(isa.c_str(), threads, seconds, dtype.c_str());
        },
        nb::arg("isa") = "", nb::arg("threads") = 1, nb::arg("seconds") = 0.3,
        nb::arg("dtype") = "float32");
  m.def(
      "measure_read_bandwidth_gbs",
      [](int threads, double seconds) {
        nb::gil_scoped_release release;
        return fastdl::cpu::measure_read_bandwidth_gbs(threads, seconds);
      },
      nb::arg("threads") = 1, nb::arg("seconds") = 0.3);

  fastdl::bind::bind_gemm(m);
}
