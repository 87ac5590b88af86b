#pragma once
// Argument checks shared by the recurrent kernels' bindings (_C and _C_cudaemu): one dtype for
// every array of a call, exact shapes, C-contiguity, and valid lengths.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings/array_checks.h"

namespace fastdl::bind {
namespace nb = nanobind;

using Arr = nb::ndarray<>;
using OptArr = std::optional<nb::ndarray<>>;

struct Checker {
  const char* fn;
  nb::dlpack::dtype dtype{};
  bool have_dtype = false;
  int device_type = nb::device::cpu::value;  // where every array must live
  const char* where = "CPU (numpy)";

  bool is_contiguous(const Arr& a) {
    int64_t expect = 1;
    for (size_t d = a.ndim(); d-- > 0;) {
      if (a.shape(d) != 1 && a.stride(d) != expect) return false;
      expect *= int64_t(a.shape(d));
    }
    return true;
  }

  // The array must be float32/float64 (the same for every array of the call), C-contiguous,
  // on `device_type` (the CPU unless set), with exactly `shape`.
  void check(const Arr& a, const char* name, std::vector<int64_t> shape) {
    require_device(a, device_type, fn, name, where);
    require_float32_or_64(a, fn, name);
    if (!have_dtype) {
      dtype = a.dtype();
      have_dtype = true;
    } else if (a.dtype() != dtype) {
      throw nb::type_error((std::string(fn) + ": " + name + " has dtype " +
                            dtype_str(a.dtype()) + ", expected " + dtype_str(dtype) +
                            " like the other arrays")
                               .c_str());
    }
    bool ok = a.ndim() == shape.size();
    for (size_t d = 0; ok && d < shape.size(); ++d) ok = int64_t(a.shape(d)) == shape[d];
    if (!ok) {
      std::string want = "(";
      for (size_t d = 0; d < shape.size(); ++d)
        want += std::to_string(shape[d]) + (d + 1 < shape.size() ? ", " : "");
      want += shape.size() == 1 ? ",)" : ")";
      throw nb::value_error((std::string(fn) + ": " + name + " must have shape " + want +
                             ", got " + shape_str(a))
                                .c_str());
    }
    if (!is_contiguous(a))
      throw nb::value_error(
          (std::string(fn) + ": " + name + " must be C-contiguous, shape " + shape_str(a))
              .c_str());
  }

  template <typename T>
  const T* opt(const OptArr& a, const char* name, std::vector<int64_t> shape) {
    if (!a) return nullptr;
    check(*a, name, shape);
    return static_cast<const T*>(a->data());
  }
};

template <typename T>
const T* cptr(const Arr& a) { return static_cast<const T*>(a.data()); }
template <typename T>
T* mptr(Arr& a) { return static_cast<T*>(a.data()); }

// Lengths: int64 (batch,) in host memory (numpy), decreasing, each in [1, steps].
inline const int64_t* check_lengths(const char* fn, const std::optional<nb::ndarray<>>& lengths,
                             int64_t steps, int64_t batch) {
  if (!lengths) return nullptr;
  const Arr& l = *lengths;
  if (l.dtype() != nb::dtype<int64_t>() || l.ndim() != 1 || int64_t(l.shape(0)) != batch ||
      (batch > 1 && l.stride(0) != 1) || l.device_type() != nb::device::cpu::value)
    throw nb::value_error((std::string(fn) + ": lengths must be a contiguous int64 array of "
                           "shape (" + std::to_string(batch) + ",), got " + dtype_str(l.dtype()) +
                           " " + shape_str(l))
                              .c_str());
  const int64_t* p = static_cast<const int64_t*>(l.data());
  for (int64_t b = 0; b < batch; ++b) {
    if (p[b] < 1 || p[b] > steps)
      throw nb::value_error((std::string(fn) + ": lengths[" + std::to_string(b) + "] = " +
                             std::to_string(p[b]) + " is outside [1, " + std::to_string(steps) +
                             "]")
                                .c_str());
    if (b > 0 && p[b] > p[b - 1])
      throw nb::value_error(
          (std::string(fn) + ": lengths must be sorted in decreasing order").c_str());
  }
  return p;
}


}  // namespace fastdl::bind
