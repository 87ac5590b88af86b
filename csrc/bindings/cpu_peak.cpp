// _C.measure_*: this machine's peaks, which benchmarks report their rates against.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <string>
#include <utility>

#include "cpu/peak/peak.h"

namespace nb = nanobind;

namespace fastdl::bind {

void bind_peak(nb::module_& m) {
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
}

}  // namespace fastdl::bind
