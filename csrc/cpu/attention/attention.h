#pragma once
// Scaled-dot-product attention, flash style (FlashAttention-2's loop order on the CPU), for
// T = float or double: out = softmax(scale * Q K^T + mask) V computed one query block at a time
// against one key block at a time with an online softmax, so memory is O(L * D), never O(L * S).
// The forward leaves each row's log-sum-exp; the backward recomputes the probabilities from it.
//
// Layouts (C-contiguous, element strides implied):
//   q (B, Hq, L, D), k (B, Hk, S, D), v (B, Hk, S, Dv), out (B, Hq, L, Dv), lse (B, Hq, L);
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

struct AttentionShape {
  int64_t batch = 1, heads_q = 1, heads_kv = 1, len_q = 0, len_kv = 0, dim_qk = 0, dim_v = 0;
  bool causal = false;
  double scale = 1.0;
  MaskKind mask_kind = MaskKind::none;
  const void* mask = nullptr;
  int64_t mask_strides[4] = {0, 0, 0, 0};  // b, h, i, j in elements
};

template <typename T>
void attention_forward(const AttentionShape& s, const T* q, const T* k, const T* v, T* out,
                       T* lse);

// grad_q/grad_k/grad_v are overwritten. grad_mask (optional, (B, Hq, L, S) contiguous) receives
// dS, the gradient with respect to the additive mask before any broadcast reduction.
template <typename T>
void attention_backward(const AttentionShape& s, const T* q, const T* k, const T* v,
                        const T* out, const T* grad_out, const T* lse, T* grad_q, T* grad_k,
                        T* grad_v, T* grad_mask);

}  // namespace fastdl::cpu
