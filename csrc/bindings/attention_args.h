#pragma once
// Argument checks of the attention bindings (_C, _C_cuda, _C_cudaemu): shapes, dtypes,
// contiguity, the mask's kind and strides, as ValueError/TypeError naming the argument.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings/array_checks.h"
#include "cpu/attention/attention.h"

namespace fastdl::bind::attention_args {

namespace nb = nanobind;

[[noreturn]] inline void fail(const std::string& msg) { throw nb::value_error(msg.c_str()); }

inline void require_shape(const nb::ndarray<>& a, std::initializer_list<int64_t> shape, const char* fn,
                   const char* name) {
  bool ok = a.ndim() == shape.size();
  size_t i = 0;
  for (int64_t n : shape) ok = ok && i < a.ndim() && int64_t(a.shape(i++)) == n;
  if (!ok) {
    std::string want = "(";
    i = 0;
    for (int64_t n : shape) want += (i++ ? ", " : "") + std::to_string(n);
    fail(std::string(fn) + ": " + name + " must have shape " + want + "), got " + shape_str(a));
  }
}

inline void require_contiguous(const nb::ndarray<>& a, const char* fn, const char* name) {
  if (!is_c_contiguous(a))
    fail(std::string(fn) + ": " + name + " must be C-contiguous, shape " + shape_str(a));
}

struct Checked {
  cpu::AttentionShape s;
  FloatType dtype;
};

// Whether q, k, v, out and the gradients may be row-strided views (the CPU kernels read them in
// place) or must be C-contiguous (the CUDA kernels).
enum class Rows { contiguous, strided };

// A 4-D operand's RowLayout: C-contiguous, or (Rows::strided) any non-negative strides with
// contiguous rows.
inline cpu::RowLayout row_layout(const nb::ndarray<>& a, Rows rows, const char* fn,
                                 const char* name) {
  if (is_empty(a)) return {};  // nothing is read or written
  if (rows == Rows::contiguous) {
    require_contiguous(a, fn, name);
  } else {
    bool ok = a.shape(3) <= 1 || a.stride(3) == 1;
    for (int d = 0; d < 3; ++d) ok = ok && (a.shape(d) <= 1 || a.stride(d) >= 0);
    if (!ok)
      fail(std::string(fn) + ": " + name + " must have contiguous rows (last stride 1) and "
           "non-negative strides, shape " + shape_str(a));
  }
  return {a.shape(0) <= 1 ? 0 : int64_t(a.stride(0)), a.shape(1) <= 1 ? 0 : int64_t(a.stride(1)),
          a.shape(2) <= 1 ? 0 : int64_t(a.stride(2))};
}

// q (B, Hq, L, D), k (B, Hk, S, D), v (B, Hk, S, Dv); mask (B, Hq, L, S) any strides or None.
inline Checked check_qkv(const nb::ndarray<>& q, const nb::ndarray<>& k, const nb::ndarray<>& v,
                  const std::optional<nb::ndarray<>>& mask, bool causal, double scale,
                  const char* fn, Rows rows) {
  Checked c;
  c.dtype = require_float32_or_64(q, fn, "query");
  for (auto [a, name] : {std::pair{&k, "key"}, std::pair{&v, "value"}}) {
    if (require_float32_or_64(*a, fn, name) != c.dtype)
      throw nb::type_error((std::string(fn) + ": query, key and value must have one dtype, got " +
                            dtype_str(q.dtype()) + " and " + dtype_str(a->dtype()))
                               .c_str());
  }
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4)
    fail(std::string(fn) + ": query, key and value must be 4-D (B, H, L, D), got " +
         shape_str(q) + ", " + shape_str(k) + ", " + shape_str(v));
  auto& s = c.s;
  s.batch = q.shape(0), s.heads_q = q.shape(1), s.len_q = q.shape(2), s.dim_qk = q.shape(3);
  s.heads_kv = k.shape(1), s.len_kv = k.shape(2), s.dim_v = v.shape(3);
  if (int64_t(k.shape(0)) != s.batch || int64_t(k.shape(3)) != s.dim_qk ||
      int64_t(v.shape(0)) != s.batch || int64_t(v.shape(1)) != s.heads_kv ||
      int64_t(v.shape(2)) != s.len_kv || s.heads_kv == 0 || s.heads_q % s.heads_kv != 0)
    fail(std::string(fn) + ": incompatible shapes query " + shape_str(q) + ", key " +
         shape_str(k) + ", value " + shape_str(v));
  s.set_packed_layouts();
  s.q_rows = row_layout(q, rows, fn, "query");
  s.k_rows = row_layout(k, rows, fn, "key");
  s.v_rows = row_layout(v, rows, fn, "value");
  s.causal = causal;
  s.scale = scale;
  if (mask) {
    const nb::ndarray<>& m = *mask;
    require_shape(m, {s.batch, s.heads_q, s.len_q, s.len_kv}, fn, "attn_mask");
    if (m.dtype() == nb::dtype<bool>())
      s.mask_kind = cpu::MaskKind::boolean;
    else if ((c.dtype == FloatType::float32 && m.dtype() == nb::dtype<float>()) ||
             (c.dtype == FloatType::float64 && m.dtype() == nb::dtype<double>()))
      s.mask_kind = cpu::MaskKind::additive;
    else
      throw nb::type_error((std::string(fn) + ": attn_mask must be bool or the query's dtype, "
                            "got " + dtype_str(m.dtype()))
                               .c_str());
    s.mask = m.data();
    for (int d = 0; d < 4; ++d) s.mask_strides[d] = m.shape(d) == 1 ? 0 : m.stride(d);
  }
  return c;
}

inline void check_out(const nb::ndarray<>& a, FloatType dtype, std::initializer_list<int64_t> shape,
               const char* fn, const char* name) {
  if (require_float32_or_64(a, fn, name) != dtype)
    throw nb::type_error((std::string(fn) + ": " + name + " must have the query's dtype").c_str());
  require_shape(a, shape, fn, name);
  require_contiguous(a, fn, name);
}

// No two elements of `a` at one address (strides sorted by size, each at least the extent of the
// dimensions below it): an output written by several threads must not alias itself.
inline bool self_disjoint(const nb::ndarray<>& a) {
  if (is_empty(a)) return true;
  std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, extent)
  for (size_t d = 0; d < a.ndim(); ++d)
    if (a.shape(d) > 1) dims.emplace_back(int64_t(a.stride(d)), int64_t(a.shape(d)));
  std::sort(dims.begin(), dims.end());
  int64_t span = 1;
  for (auto [stride, extent] : dims) {
    if (stride < span) return false;
    span = stride * extent;
  }
  return true;
}

// An output or gradient operand with contiguous rows: its dtype, shape and RowLayout.
inline cpu::RowLayout check_rows_out(const nb::ndarray<>& a, FloatType dtype,
                                     std::initializer_list<int64_t> shape, const char* fn,
                                     const char* name, Rows rows) {
  if (require_float32_or_64(a, fn, name) != dtype)
    throw nb::type_error((std::string(fn) + ": " + name + " must have the query's dtype").c_str());
  require_shape(a, shape, fn, name);
  const cpu::RowLayout layout = row_layout(a, rows, fn, name);
  if (!self_disjoint(a))
    fail(std::string(fn) + ": " + name + " has elements that share memory, shape " +
         shape_str(a));
  return layout;
}

template <typename T>
T* mut(const nb::ndarray<>& a) { return static_cast<T*>(a.data()); }

// Every check of attention_forward's arguments; returns the problem.
inline Checked check_forward(const nb::ndarray<>& q, const nb::ndarray<>& k,
                             const nb::ndarray<>& v, const nb::ndarray<>& out,
                             const nb::ndarray<>& lse, const std::optional<nb::ndarray<>>& mask,
                             bool causal, double scale, const char* fn,
                             Rows rows = Rows::contiguous) {
  Checked c = check_qkv(q, k, v, mask, causal, scale, fn, rows);
  auto& s = c.s;
  s.out_rows =
      check_rows_out(out, c.dtype, {s.batch, s.heads_q, s.len_q, s.dim_v}, fn, "out", rows);
  check_out(lse, c.dtype, {s.batch, s.heads_q, s.len_q}, fn, "lse");
  for (const nb::ndarray<>* a : {&q, &k, &v, &lse})
    if (may_overlap(out, *a)) fail(std::string(fn) + ": out overlaps the inputs or lse");
  return c;
}

// Every check of attention_backward's arguments; returns the problem and grad_mask's data.
inline std::pair<Checked, void*> check_backward(
    const nb::ndarray<>& q, const nb::ndarray<>& k, const nb::ndarray<>& v,
    const nb::ndarray<>& out, const nb::ndarray<>& lse, const nb::ndarray<>& go,
    const nb::ndarray<>& gq, const nb::ndarray<>& gk, const nb::ndarray<>& gv,
    const std::optional<nb::ndarray<>>& mask, bool causal, double scale,
    const std::optional<nb::ndarray<>>& grad_mask, const char* fn, Rows rows = Rows::contiguous) {
  Checked c = check_qkv(q, k, v, mask, causal, scale, fn, rows);
  auto& s = c.s;
  const auto dt = c.dtype;
  s.out_rows = check_rows_out(out, dt, {s.batch, s.heads_q, s.len_q, s.dim_v}, fn, "out", rows);
  s.grad_out_rows =
      check_rows_out(go, dt, {s.batch, s.heads_q, s.len_q, s.dim_v}, fn, "grad_out", rows);
  check_out(lse, dt, {s.batch, s.heads_q, s.len_q}, fn, "lse");
  s.grad_q_rows =
      check_rows_out(gq, dt, {s.batch, s.heads_q, s.len_q, s.dim_qk}, fn, "grad_query", rows);
  s.grad_k_rows =
      check_rows_out(gk, dt, {s.batch, s.heads_kv, s.len_kv, s.dim_qk}, fn, "grad_key", rows);
  s.grad_v_rows =
      check_rows_out(gv, dt, {s.batch, s.heads_kv, s.len_kv, s.dim_v}, fn, "grad_value", rows);
  void* gm = nullptr;
  if (grad_mask) {
    check_out(*grad_mask, c.dtype, {s.batch, s.heads_q, s.len_q, s.len_kv}, fn, "grad_mask");
    gm = grad_mask->data();
  }
  for (const nb::ndarray<>* a : {&gq, &gk, &gv})
    for (const nb::ndarray<>* b : {&q, &k, &v, &out, &go, &lse})
      if (may_overlap(*a, *b)) fail(std::string(fn) + ": gradient outputs overlap the inputs");
  if (may_overlap(gq, gk) || may_overlap(gq, gv) || may_overlap(gk, gv))
    fail(std::string(fn) + ": gradient outputs overlap each other");
  return {c, gm};
}

// An optional typed array (device or read-only constraints) as the checks take it.
template <class A>
std::optional<nb::ndarray<>> untyped(const std::optional<A>& a) {
  if (!a) return std::nullopt;
  return nb::ndarray<>(*a);
}

// The optional per-row statistics (B, Hq, L, 2): C order, the query's dtype, apart from the rest.
inline void check_row_stats(const nb::ndarray<>& stats, const Checked& c,
                            std::initializer_list<const nb::ndarray<>*> others, const char* fn) {
  check_out(stats, c.dtype, {c.s.batch, c.s.heads_q, c.s.len_q, 2}, fn, "row_stats");
  for (const nb::ndarray<>* a : others)
    if (may_overlap(stats, *a)) fail(std::string(fn) + ": row_stats overlaps another argument");
}

// Points the forward at row_stats to fill, when given.
inline void attach_forward_stats(Checked& c, const std::optional<nb::ndarray<>>& stats,
                                 std::initializer_list<const nb::ndarray<>*> others) {
  if (!stats) return;
  check_row_stats(*stats, c, others, "attention_forward");
  c.s.row_stats = stats->data();
}

// Points the backward at a forward's row_stats, when given with the kind that forward returned.
inline void attach_backward_stats(Checked& c, const std::optional<nb::ndarray<>>& stats, int kind,
                                  std::initializer_list<const nb::ndarray<>*> others) {
  if (!stats || kind == int(cpu::RowStats::none)) return;
  check_row_stats(*stats, c, others, "attention_backward");
  if (kind != int(cpu::RowStats::log2_units) && kind != int(cpu::RowStats::natural))
    throw nb::value_error("attention_backward: stats_kind must be what attention_forward "
                          "returned (0, 1 or 2)");
  c.s.row_stats = stats->data();
  c.s.stats_kind = cpu::RowStats(kind);
}

}  // namespace fastdl::bind::attention_args
