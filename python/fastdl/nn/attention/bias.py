"""``torch.nn.attention.bias``: causal masks that ``scaled_dot_product_attention`` runs without
building them where it can.

``causal_upper_left(L, S)``: query i sees keys j <= i (``is_causal=True``);
``causal_lower_right(L, S)``: query i sees keys j <= i + S - L, the mask aligned to the lower
right corner (the last query sees every key). They agree when L == S.

Passed as ``attn_mask``, an upper-left bias (or any with L == S) runs as ``is_causal=True``;
a lower-right one with L != S runs with its materialized boolean mask (as torch does on the
CPU). With L > S its first L - S rows see no key and give 0, as torch's CPU kernels do.

A ``CausalBias`` is a Tensor, as torch's is. torch's holds uninitialized data of a meaningless
shape; fastdl's data is the (L, S) boolean mask itself, made on first use, so the bias also
works as a plain boolean mask anywhere a mask is taken.
"""
from __future__ import annotations

import enum
import warnings

import numpy as np

from fastdl.tensor import Tensor, _wrap

__all__ = ["causal_upper_left", "causal_lower_right", "CausalVariant", "CausalBias"]


class CausalVariant(enum.IntEnum):
    """``UPPER_LEFT`` (1): tril(ones(L, S)); ``LOWER_RIGHT`` (2): tril(ones(L, S), S - L)."""

    UPPER_LEFT = enum.auto()
    LOWER_RIGHT = enum.auto()


class CausalBias(Tensor):
    """A causal mask of ``seq_len_q`` queries by ``seq_len_kv`` keys (see the module docstring).

    >>> from fastdl.nn.attention.bias import causal_lower_right
    >>> causal_lower_right(2, 3)._materialize().tolist()
    [[True, True, False], [True, True, True]]
    """

    def __init__(self, variant: CausalVariant, seq_len_q: int, seq_len_kv: int) -> None:
        if not isinstance(variant, CausalVariant):
            raise AssertionError(f"variant must be a CausalVariant, got {type(variant).__name__}")
        self._requires_grad = False
        self._grad_fn = None
        self._vc = None
        self._mask = None
        self.variant = variant
        self.seq_len_q = seq_len_q
        self.seq_len_kv = seq_len_kv
        if seq_len_q > seq_len_kv and variant == CausalVariant.LOWER_RIGHT:
            warnings.warn("Lower right causal bias will produce NaNs in the output when "
                          "seq_len_q > seq_len_kv!", stacklevel=2)

    @property
    def _data(self):
        # made on first use: attention takes the upper-left variant as is_causal, without it
        if self._mask is None:
            self._mask = self._materialize()._data
        return self._mask

    @_data.setter
    def _data(self, value):
        self._mask = value

    def _mask_array(self, diagonal):
        return np.tril(np.ones((self.seq_len_q, self.seq_len_kv), dtype=np.bool_), diagonal)

    def _upper_left(self, device):
        return _on(self._mask_array(0), device)

    def _lower_right(self, device):
        return _on(self._mask_array(self.seq_len_kv - self.seq_len_q), device)

    def _materialize(self, device=None) -> Tensor:
        """The boolean (seq_len_q, seq_len_kv) mask, True where a key takes part."""
        if self.variant == CausalVariant.UPPER_LEFT:
            return self._upper_left(device)
        if self.variant == CausalVariant.LOWER_RIGHT:
            return self._lower_right(device)
        return None

    @staticmethod
    def _dispatch(query, key, value, attn_mask, dropout_p=0.0, is_causal=False, scale=None,
                  enable_gqa=False):
        from fastdl.nn.functional.attention import scaled_dot_product_attention as sdpa
        if is_causal:
            raise ValueError("CausalBias should not be used with causal=True")
        if (attn_mask.seq_len_q == attn_mask.seq_len_kv
                or attn_mask.variant == CausalVariant.UPPER_LEFT):
            return sdpa(query, key, value, attn_mask=None, dropout_p=dropout_p, is_causal=True,
                        scale=scale, enable_gqa=enable_gqa)
        if attn_mask.variant == CausalVariant.LOWER_RIGHT:
            return sdpa(query, key, value, attn_mask=attn_mask._materialize(query.device),
                        dropout_p=dropout_p, is_causal=False, scale=scale,
                        enable_gqa=enable_gqa)
        raise ValueError("CausalBias.variant must be a CausalVariant type, but found: "
                         f"{attn_mask.variant}")

    def __repr__(self) -> str:
        return self._materialize().__repr__()


def _on(mask, device):
    t = _wrap(mask)
    if device is not None and str(device).split(":")[0] == "cuda":
        t = t.to(device)
    return t


def causal_upper_left(*size) -> CausalBias:
    """The upper-left causal bias of ``size`` = (seq_len_q, seq_len_kv) (``is_causal=True``)."""
    if len(size) != 2:
        raise AssertionError("causal_upper_left only supports 2D tensors")
    seq_len_q, seq_len_kv = size
    return CausalBias(CausalVariant.UPPER_LEFT, seq_len_q, seq_len_kv)


def causal_lower_right(*size) -> CausalBias:
    """The lower-right causal bias of ``size`` = (seq_len_q, seq_len_kv)."""
    if len(size) != 2:
        raise AssertionError("causal_lower_right only supports 2D tensors")
    seq_len_q, seq_len_kv = size
    return CausalBias(CausalVariant.LOWER_RIGHT, seq_len_q, seq_len_kv)
