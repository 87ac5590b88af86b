#pragma once
// Scaled-dot-product attention, flash style (FlashAttention-2's loop order on the CPU), for
// T = float or double: out = softmax(scale * Q K^T + mask) V computed one query block at a time
// against one key block at a time with an online softmax, so memory is O(L * D), never O(L * S).
// The forward leaves each row's log-sum-exp; the backward recomputes the probabilities from it.
//
// Layouts: q (B, Hq, L, D), k (B, Hk, S, D), v (B, Hk, S, Dv), out (B, Hq, L, Dv) and the
//   gradients with rows contiguous, placed by a RowLayout each (C order unless the CPU binding
//   was given row-strided views, e.g. heads split from a (B, L, H, D) projection); lse (B, Hq, L)
//   C order;
//   Hq is a multiple of Hk (grouped-query attention: query head h reads key/value head
//   h / (Hq / Hk)). The mask, if any, is read at mask[b*sb + h*sh + i*si + j*sj] (any strides,
//   0 = broadcast): bool (1 byte, true = take part) or additive (T, -inf = masked out).
// Causal: key j takes part in query row i only when j <= i (top-left aligned, like PyTorch when
// L != S); key blocks entirely above the diagonal are never visited. A row in which no key takes
// part gives out = 0, lse = +inf (so the backward's probabilities are 0 there, never NaN).
// Results do not depend on the thread count's scheduling: each output element is computed by
// one task in a fixed order.
#include <cstdint>

namespace fastdl::cpu {

enum class MaskKind : int { none = 0, boolean = 1, additive = 2 };

// What a forward left in AttentionShape::row_stats: nothing, or per row (its score maximum m,
// the log of its sum l) in log2 units (scores times log2 e: the fused float kernels) or natural
// ones (the GEMM-tile kernels). A backward of the same kind computes P = exp((S - m) - log l)
// from them, else P = exp(S - lse): lse rounded to T loses log l next to a large m -- a row
// every key of which a finite mask (finfo.min, -1e9) removes gave P = 1 for each key instead
// of 1 / n, and scores of 1e4 gradients off by 1e-4.
enum class RowStats : int { none = 0, log2_units = 1, natural = 2 };

// Element (b, h, i, c) of a (B, H, rows, cols) operand with contiguous rows is at
// b * batch + h * head + i * row + c.
struct RowLayout {
  int64_t batch = 0, head = 0, row = 0;
  static RowLayout packed(int64_t heads, int64_t rows, int64_t cols) {
    return {heads * rows * cols, rows * cols, cols};
  }
  // The same placement as C order for these extents (a stride of an extent-1 dim is unused).
  bool is_packed(int64_t batches, int64_t heads, int64_t rows, int64_t cols) const {
    return (batches <= 1 || batch == heads * rows * cols) && (heads <= 1 || head == rows * cols) &&
           (rows <= 1 || row == cols);
  }
  int64_t at(int64_t b, int64_t h, int64_t i) const { return b * batch + h * head + i * row; }
};

struct AttentionShape {
  int64_t batch = 1, heads_q = 1, heads_kv = 1, len_q = 0, len_kv = 0, dim_qk = 0, dim_v = 0;
  bool causal = false;
  double scale = 1.0;
  MaskKind mask_kind = MaskKind::none;
  const void* mask = nullptr;
  int64_t mask_strides[4] = {0, 0, 0, 0};  // b, h, i, j in elements
  // (B, Hq, L, 2) of T, C order, or null: written by the forward (it returns the kind), read by
  // the backward when stats_kind is its own kind
  void* row_stats = nullptr;
  RowStats stats_kind = RowStats::none;
  // Where the operands' rows are (the backward's gradients too); C order when all are packed.
  RowLayout q_rows, k_rows, v_rows, out_rows, grad_out_rows, grad_q_rows, grad_k_rows, grad_v_rows;
  void set_packed_layouts() {
    q_rows = grad_q_rows = RowLayout::packed(heads_q, len_q, dim_qk);
    k_rows = grad_k_rows = RowLayout::packed(heads_kv, len_kv, dim_qk);
    v_rows = grad_v_rows = RowLayout::packed(heads_kv, len_kv, dim_v);
    out_rows = grad_out_rows = RowLayout::packed(heads_q, len_q, dim_v);
  }
  bool packed() const {
    const int64_t B = batch, Hq = heads_q, Hk = heads_kv;
    return q_rows.is_packed(B, Hq, len_q, dim_qk) &&
           grad_q_rows.is_packed(B, Hq, len_q, dim_qk) &&
           k_rows.is_packed(B, Hk, len_kv, dim_qk) &&
           grad_k_rows.is_packed(B, Hk, len_kv, dim_qk) &&
           v_rows.is_packed(B, Hk, len_kv, dim_v) && grad_v_rows.is_packed(B, Hk, len_kv, dim_v) &&
           out_rows.is_packed(B, Hq, len_q, dim_v) && grad_out_rows.is_packed(B, Hq, len_q, dim_v);
  }
};

template <typename T>
RowStats attention_forward(const AttentionShape& s, const T* q, const T* k, const T* v, T* out,
                           T* lse);

// grad_q/grad_k/grad_v are overwritten. grad_mask (optional, (B, Hq, L, S) contiguous) receives
// dS, the gradient with respect to the additive mask before any broadcast reduction.
template <typename T>
void attention_backward(const AttentionShape& s, const T* q, const T* k, const T* v,
                        const T* out, const T* grad_out, const T* lse, T* grad_q, T* grad_k,
                        T* grad_v, T* grad_mask);

}  // namespace fastdl::cpu
