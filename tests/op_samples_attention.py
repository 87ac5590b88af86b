"""Float64 samples of the attention ops (see op_samples.py): scaled_dot_product_attention and its
backward op, over masks (bool, additive with its own gradient), causal (square and L != S),
grouped-query heads, a custom scale and a fully masked row. Small shapes: gradgradcheck of the
backward op differentiates the composed attention twice."""
import numpy as np

from op_samples import G, U, sample

_BOOL = np.array([[True, False, True, True, False],
                  [False, False, False, False, False],  # a row with no key: 0 out, 0 gradient
                  [True, True, False, True, True]])


def _qkv(r, b=1, hq=2, hk=2, L=3, S=5, E=4, Ev=3):
    return [U(r, (b, hq, L, E)), U(r, (b, hk, S, E)), U(r, (b, hk, S, Ev))]


sample("scaled_dot_product_attention", "plain",
       lambda L, q, k, v: L.F.scaled_dot_product_attention(q, k, v), lambda r: _qkv(r))
sample("scaled_dot_product_attention", "causal_L_gt_S_scale",
       lambda L, q, k, v: L.F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.7),
       lambda r: _qkv(r, L=5, S=3))
sample("scaled_dot_product_attention", "gqa_causal",
       lambda L, q, k, v: L.F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                          enable_gqa=True),
       lambda r: _qkv(r, hq=4, hk=2, L=4, S=4))
sample("scaled_dot_product_attention", "bool_mask_dead_row",
       lambda L, q, k, v: L.F.scaled_dot_product_attention(q, k, v,
                                                          attn_mask=L.const(_BOOL)),
       lambda r: _qkv(r))
sample("scaled_dot_product_attention", "additive_mask_grad_3d",
       lambda L, q, k, v, m: L.F.scaled_dot_product_attention(q, k, v, attn_mask=m),
       lambda r: [U(r, (2, 3, 4)), U(r, (2, 5, 4)), U(r, (2, 5, 2)), U(r, (3, 5))])
sample("scaled_dot_product_attention_backward", "grad_of_attention",
       lambda L, q, k, v, g: L.grad(L.F.scaled_dot_product_attention(q, k, v, is_causal=True),
                                    [q, k, v], g),
       lambda r: _qkv(r, L=4, S=4) + [G(r, (1, 2, 4, 3))])
sample("scaled_dot_product_attention_backward", "grad_of_masked_gqa",
       lambda L, q, k, v, m, g: L.grad(L.F.scaled_dot_product_attention(
           q, k, v, attn_mask=m, enable_gqa=True), [q, k, v, m], g),
       lambda r: _qkv(r, hq=2, hk=1) + [U(r, (1, 1, 3, 5)), G(r, (1, 2, 3, 3))])
# The backward op has several outputs (dq, dk, dv, dmask): each reaches the graph through a select
# op; its sample is the same first derivative, checked through each output.
sample("scaled_dot_product_attention_backward.select", "each_gradient_output",
       lambda L, q, k, v, m, g: L.grad(L.F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                                       [q, k, v, m], g),
       lambda r: _qkv(r, L=2, S=3) + [U(r, (2, 3)), G(r, (1, 2, 2, 3))])
