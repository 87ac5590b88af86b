"""``multi_head_attention_forward``: torch.nn.functional's multi-head attention, the one
implementation behind ``nn.MultiheadAttention``.

Inputs are sequence first: query (L, N, E) (or unbatched (L, E)), key and value (S, N, E*).
Without ``need_weights`` the heads run through ``scaled_dot_product_attention`` (the flash
kernels, no (L, S) probabilities formed); with it the probabilities are formed explicitly and
returned, averaged over heads or per head. Masks follow torch's MHA convention: a bool
``attn_mask`` / ``key_padding_mask`` is True where attention is NOT allowed; float masks are
added to the scores. Errors are torch's (mostly AssertionError for shapes).
"""
from __future__ import annotations

import math

import numpy as np

from fastdl.functional import shape as S
from fastdl.nn.functional.activation import softmax
from fastdl.nn.functional.attention import (_scaled_dot_product_attention_with_dropout_mask,
                                            dropout_keep_mask, scaled_dot_product_attention)
from fastdl.nn.functional.linear import linear
from fastdl.tensor import _wrap

# Draws the scaled keep mask of attention dropout (fastdl's generator); looked up at each call
# so that tests can substitute torch's Bernoulli draws and compare dropout samples by value.
_draw_keep_mask = dropout_keep_mask


def _to_additive(mask, dtype):
    """A bool mask (True = masked) as an additive float mask (-inf where masked)."""
    if mask is None:
        return None
    if mask._data.dtype == np.bool_:
        return _wrap(np.where(mask._data, -np.inf, 0.0).astype(dtype))
    return mask


def _pad_last(mask, n=1):
    """Append n columns (not masked) to a mask's last dimension."""
    if mask is None:
        return None
    d = mask._data
    return S.cat([mask, _wrap(np.zeros(d.shape[:-1] + (n,), dtype=d.dtype))], -1)


def _check_inputs(query, key, value, key_padding_mask, attn_mask, num_heads):
    """torch's _mha_shape_check and mask dtype check; returns whether the input is batched."""
    if query.ndim not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                             f"{query.ndim}-D query tensor")
    batched = query.ndim == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be "
                             f"{query.ndim}-D but found {key.ndim}-D and {value.ndim}-D tensors "
                             f"respectively")
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
                             f"{query.ndim - 1}-D but found {key_padding_mask.ndim}-D tensor "
                             f"instead")
    if attn_mask is not None:
        if attn_mask.ndim not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D "
                                 f"or 3-D but found {attn_mask.ndim}-D tensor instead")
        expected = (num_heads, query.shape[0], key.shape[0])
        if not batched and attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
            raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                 f"{tuple(attn_mask.shape)}")
    for mask, name in ((key_padding_mask, "key_padding_mask"), (attn_mask, "attn_mask")):
        if mask is not None and mask._data.dtype != np.bool_ and mask._data.dtype.kind != "f":
            raise AssertionError(f"only bool and floating types of {name} are supported")
    return batched


def _project(query, key, value, in_proj_weight, in_proj_bias, use_separate_proj_weight,
             q_proj_weight, k_proj_weight, v_proj_weight):
    E = query.shape[-1]
    b = in_proj_bias
    bq, bk, bv = (None,) * 3 if b is None else (b[:E], b[E:2 * E], b[2 * E:])
    if not use_separate_proj_weight:
        if key.shape != value.shape:
            raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                                 f"{tuple(value.shape)}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        w = in_proj_weight
        wq, wk, wv = w[:E], w[E:2 * E], w[2 * E:]
    else:
        if key.shape[:2] != value.shape[:2]:
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not "
                                 f"match value's {tuple(value.shape[:2])}")
        for w, name in ((q_proj_weight, "q"), (k_proj_weight, "k"), (v_proj_weight, "v")):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {name}_proj_weight "
                                     f"is None")
        wq, wk, wv = q_proj_weight, k_proj_weight, v_proj_weight
    return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)


def _as_3d_mask(attn_mask, L, S, NH):
    if attn_mask.ndim == 2:
        if tuple(attn_mask.shape) != (L, S):
            raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but "
                               f"should be {(L, S)}.")
        return attn_mask.unsqueeze(0)
    if tuple(attn_mask.shape) != (NH, L, S):
        raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but "
                           f"should be {(NH, L, S)}.")
    return attn_mask


def _heads(x, static, NH, hd, name):
    """(S, N, E) -> (N H, S, hd), or the given static (N H, S, hd) keys/values."""
    if static is None:
        return x.reshape(x.shape[0], NH, hd).transpose(0, 1)
    if static.shape[0] != NH:
        raise AssertionError(f"expecting {name}.size(0) of {NH}, but got {static.shape[0]}")
    if static.shape[2] != hd:
        raise AssertionError(f"expecting {name}.size(2) of {hd}, but got {static.shape[2]}")
    return static


def _merge_padding(attn_mask, key_padding_mask, N, H, Sk, dtype):
    if tuple(key_padding_mask.shape) != (N, Sk):
        raise AssertionError(f"Expected key_padding_mask of shape {(N, Sk)} (batch, source "
                             f"length after bias_k / add_zero_attn), but got "
                             f"{tuple(key_padding_mask.shape)}")
    kpm = key_padding_mask.reshape(N, 1, 1, Sk).expand(N, H, 1, Sk).reshape(N * H, 1, Sk)
    if attn_mask is None:
        return kpm
    if attn_mask._data.dtype == np.bool_ and kpm._data.dtype == np.bool_:
        return _wrap(attn_mask._data | kpm._data)
    return _to_additive(attn_mask, dtype) + _to_additive(kpm, dtype)


def _weighted(q, k, v, attn_mask, dropout_p):
    """The probabilities formed explicitly: (N H, L, hd) output and (N H, L, S) weights."""
    scores = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-2, -1)
    if attn_mask is not None:
        scores = scores + _to_additive(attn_mask, q._data.dtype)
    weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = weights * _wrap(_draw_keep_mask(tuple(weights.shape), dropout_p,
                                                  weights._data.dtype, q.device))
    return weights @ v, weights


def _flash(q, k, v, attn_mask, dropout_p, causal, N, H):
    """The heads through scaled_dot_product_attention: (N H, L, hd) output, no weights."""
    NH, L, hd = q.shape
    Sk = k.shape[1]
    m = attn_mask
    if m is not None:
        rows = m.shape[1]  # L, or 1 for a key padding mask alone
        m = m.reshape(N, H, rows, Sk) if m.shape[0] == NH else m.reshape(1, 1, rows, Sk)
        if m._data.dtype == np.bool_:
            m = _wrap(~m._data)  # SDPA's bool masks say where attention IS allowed
    q4, k4, v4 = q.reshape(N, H, L, hd), k.reshape(N, H, Sk, hd), v.reshape(N, H, Sk, hd)
    if dropout_p > 0.0:
        keep = _wrap(_draw_keep_mask((N, H, L, Sk), dropout_p, q._data.dtype, q.device))
        out = _scaled_dot_product_attention_with_dropout_mask(q4, k4, v4, keep, attn_mask=m,
                                                              is_causal=causal)
    else:
        out = scaled_dot_product_attention(q4, k4, v4, attn_mask=m, is_causal=causal)
    return out.reshape(NH, L, hd)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """Multi-head attention as ``torch.nn.functional.multi_head_attention_forward``.

    Shapes (sequence first): query (L, N, E) or unbatched (L, E); key and value (S, N, Ek) /
    (S, Ek); ``in_proj_weight`` (3E, E) (or ``q/k/v_proj_weight`` with
    ``use_separate_proj_weight``); ``bias_k``/``bias_v`` (1, 1, E) appended as one more key;
    ``key_padding_mask`` (N, S); ``attn_mask`` (L, S) or (N * num_heads, L, S); ``static_k`` /
    ``static_v`` (N * num_heads, S, E / num_heads) replace the projected keys/values. Returns
    (output (L, N, E), weights (N, L, S) averaged over heads, (N, num_heads, L, S) without
    ``average_attn_weights``, or None without ``need_weights``). ``is_causal`` is a hint: it
    needs ``attn_mask`` and replaces it by causal attention only when no weights and no padding
    mask are wanted.

    >>> import fastdl.nn.functional as F
    >>> x = fastdl.randn(5, 2, 8)
    >>> w_in, b_in = fastdl.randn(24, 8), fastdl.zeros(24)
    >>> w_out, b_out = fastdl.randn(8, 8), fastdl.zeros(8)
    >>> out, weights = F.multi_head_attention_forward(x, x, x, 8, 2, w_in, b_in, None, None,
    ...                                               False, 0.0, w_out, b_out)
    >>> out.shape, weights.shape
    ((5, 2, 8), (2, 5, 5))
    """
    batched = _check_inputs(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = (x.unsqueeze(1) for x in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    dtype = query._data.dtype
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use "
                           "Transformer.generate_square_subsequent_mask to create this mask.")
    # torch's hint: with no padding mask and no weights, causal attention replaces the mask
    # (over the keys as they are after bias_k / add_zero_attn)
    causal = bool(is_causal) and key_padding_mask is None and not need_weights
    if causal:
        attn_mask = None
    if E != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {E}")
    H = num_heads
    hd = E // H
    if hd * H != E:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {H}")
    q, k, v = _project(query, key, value, in_proj_weight, in_proj_bias,
                       use_separate_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight)
    if attn_mask is not None:
        attn_mask = _as_3d_mask(attn_mask, L, key.shape[0], N * H)
    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key or value.")
        k = S.cat([k, bias_k.reshape(1, 1, E).expand(1, N, E)], 0)
        v = S.cat([v, bias_v.reshape(1, 1, E).expand(1, N, E)], 0)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k and bias_v must be given together")
    q = q.reshape(L, N * H, hd).transpose(0, 1)  # (N H, L, hd)
    k = _heads(k, static_k, N * H, hd, "static_k")
    v = _heads(v, static_v, N * H, hd, "static_v")
    if add_zero_attn:
        zeros = _wrap(np.zeros((N * H, 1, hd), dtype=dtype))
        k, v = S.cat([k, zeros], 1), S.cat([v, zeros], 1)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    if key_padding_mask is not None:
        attn_mask = _merge_padding(attn_mask, key_padding_mask, N, H, k.shape[1], dtype)
    dropout_p = dropout_p if training else 0.0
    if need_weights:
        out, weights = _weighted(q, k, v, attn_mask, dropout_p)
        weights = weights.reshape(N, H, L, k.shape[1])
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            weights = weights.squeeze(0)
    else:
        out, weights = _flash(q, k, v, attn_mask, dropout_p, causal, N, H), None
    out = linear(out.transpose(0, 1).reshape(L, N, E), out_proj_weight, out_proj_bias)
    return (out if batched else out.squeeze(1)), weights
