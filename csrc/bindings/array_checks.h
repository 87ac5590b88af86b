#pragma once
// Argument checks shared by the binding files: clear TypeError/ValueError messages that name the
// argument and show its shape, instead of a crash inside a kernel.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fastdl::bind {

namespace nb = nanobind;

// No iostreams in the bindings: formatting a number through an ostringstream crashed inside
// _C_cuda on the GPU machine (segfault in ostream::_M_insert<unsigned long>, bench/NOTES.md).
inline std::string shape_str(const nb::ndarray<>& a) {
  std::string s = "(";
  for (size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

inline std::string dtype_str(const nb::dlpack::dtype& dt) {
  const char* kind = dt.code == uint8_t(nb::dlpack::dtype_code::Float)  ? "float"
                     : dt.code == uint8_t(nb::dlpack::dtype_code::Int)  ? "int"
                     : dt.code == uint8_t(nb::dlpack::dtype_code::UInt) ? "uint"
                     : dt.code == uint8_t(nb::dlpack::dtype_code::Bool) ? "bool"
                                                                        : "other";
  return std::string(kind) + std::to_string(dt.bits);
}

inline void require_float32(const nb::ndarray<>& a, const char* fn, const char* name) {
  if (a.dtype() != nb::dtype<float>())
    throw nb::type_error((std::string(fn) + ": " + name + " must be float32, got " +
                          dtype_str(a.dtype()) + " with shape " + shape_str(a))
                             .c_str());
}

// The element types the GEMM kernels come in.
enum class FloatType { float32, float64 };

// float32 or float64, else TypeError naming the argument, its dtype and shape.
inline FloatType require_float32_or_64(const nb::ndarray<>& a, const char* fn, const char* name) {
  if (a.dtype() == nb::dtype<float>()) return FloatType::float32;
  if (a.dtype() == nb::dtype<double>()) return FloatType::float64;
  throw nb::type_error((std::string(fn) + ": " + name + " must be float32 or float64, got " +
                        dtype_str(a.dtype()) + " with shape " + shape_str(a))
                           .c_str());
}

inline void require_device(const nb::ndarray<>& a, int device_type, const char* fn,
                           const char* name, const char* where) {
  if (a.device_type() != device_type)
    throw nb::type_error(
        (std::string(fn) + ": " + name + " must be an array in " + where + " memory").c_str());
}

inline void require_ndim_at_least(const nb::ndarray<>& a, size_t n, const char* fn,
                                  const char* name) {
  if (a.ndim() < n)
    throw nb::value_error((std::string(fn) + ": " + name + " must have at least " +
                           std::to_string(n) + " dimensions, got shape " + shape_str(a))
                              .c_str());
}

inline bool is_empty(const nb::ndarray<>& a) {
  for (size_t d = 0; d < a.ndim(); ++d)
    if (a.shape(d) == 0) return true;
  return false;
}

// Every stride what C order gives this shape (a dimension of extent 1 may have any); an empty
// array, touching no memory, counts as C-ordered whatever its strides.
inline bool is_c_contiguous(const nb::ndarray<>& a) {
  if (is_empty(a)) return true;
  int64_t expect = 1;
  for (size_t d = a.ndim(); d-- > 0;) {
    if (a.shape(d) != 1 && a.stride(d) != expect) return false;
    expect *= int64_t(a.shape(d));
  }
  return true;
}

// [lowest, highest] byte addresses an array touches, for overlap checks.
inline std::pair<uintptr_t, uintptr_t> byte_extent(const nb::ndarray<>& a) {
  intptr_t lo = 0, hi = 0;
  for (size_t i = 0; i < a.ndim(); ++i) {
    if (a.shape(i) == 0) return {1, 0};  // empty: touches nothing
    intptr_t span = intptr_t(a.shape(i) - 1) * a.stride(i);
    (span < 0 ? lo : hi) += span;
  }
  const intptr_t item = a.itemsize();
  const uintptr_t base = reinterpret_cast<uintptr_t>(a.data());
  return {base + lo * item, base + hi * item + item - 1};
}

inline bool may_overlap(const nb::ndarray<>& a, const nb::ndarray<>& b) {
  auto [a0, a1] = byte_extent(a);
  auto [b0, b1] = byte_extent(b);
  return a0 <= a1 && b0 <= b1 && a0 <= b1 && b0 <= a1;
}

// A ValueError "fn: what".
[[noreturn]] inline void fail(const char* fn, const std::string& what) {
  throw nb::value_error((std::string(fn) + ": " + what).c_str());
}

// Refuses an output that may share memory with an input (`what` names the input).
inline void no_overlap(const nb::ndarray<>& out, const nb::ndarray<>& in, const char* fn,
                       const char* what) {
  if (may_overlap(out, in)) fail(fn, std::string("the output overlaps ") + what);
}

// An array's data as T*; an absent optional array gives null.
template <typename T>
T* ptr(const nb::ndarray<>& a) {
  return static_cast<T*>(a.data());
}
template <typename T>
T* ptr(const std::optional<nb::ndarray<>>& a) {
  return a ? static_cast<T*>(a->data()) : nullptr;
}

}  // namespace fastdl::bind
