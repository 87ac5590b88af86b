"""Position information for attention models and a key/value cache for incremental decoding.

- ``SinusoidalPositionalEncoding``: Vaswani et al.'s fixed sin/cos table added to the input.
- ``LearnedPositionalEmbedding``: a trained (max_len, d_model) table added to the input.
- ``RotaryEmbedding``: RoPE (Su et al.), rotating each (x_i, x_{i + d/2}) pair of a query or key
  head by the angle pos * base^(-2i/d) (the "half-split" layout of GPT-NeoX / LLaMA), so that
  q_m . k_n depends on m - n only.
- ``KVCache``: keys and values of the positions seen so far, appended step by step.
All take ``start`` (the position of the first element) for incremental decoding.
"""
from __future__ import annotations

import math

import numpy as np

from fastdl.functional import shape as S
from fastdl.nn.modules.dropout import Dropout
from fastdl.nn.modules.module import Module
from fastdl.nn.modules.sparse import Embedding
from fastdl.autograd.grad_mode import grad_wanted
from fastdl.backend import array_module
from fastdl.tensor import _wrap, as_dtype, get_default_dtype


def _check_length(start, length, max_len, who):
    if start < 0 or start + length > max_len:
        raise ValueError(f"{who}: positions [{start}, {start + length}) exceed max_len {max_len}")


class SinusoidalPositionalEncoding(Module):
    """x + PE[start : start + L], PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...);
    x is (N, L, d) with ``batch_first`` (default) or (L, N, d); then dropout.

    Shape: output the same shape as x; start + L <= max_len.

    >>> m = fastdl.nn.SinusoidalPositionalEncoding(4)
    >>> m(fastdl.zeros(2, 5, 4)).shape
    (2, 5, 4)
    >>> m(fastdl.zeros(1, 2, 4))[0, 0].tolist()  # position 0: sin 0, cos 0, ...
    [0.0, 1.0, 0.0, 1.0]
    """

    def __init__(self, d_model, max_len=5000, dropout=0.0, batch_first=True, dtype=None):
        super().__init__()
        pos = np.arange(max_len)[:, None]
        div = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = np.zeros((max_len, d_model))
        pe[:, 0::2] = np.sin(pos * div)
        pe[:, 1::2] = np.cos(pos * div)[:, : d_model // 2]
        self.register_buffer("pe", _wrap(pe.astype(as_dtype(dtype or get_default_dtype()))),
                             persistent=False)
        self.max_len, self.batch_first = max_len, batch_first
        self.dropout = Dropout(dropout)

    def forward(self, x, start=0):
        L = x.shape[1] if self.batch_first else x.shape[0]
        _check_length(start, L, self.max_len, "SinusoidalPositionalEncoding")
        pe = self.pe[start:start + L]
        return self.dropout(x + (pe if self.batch_first else pe.unsqueeze(1)))


class LearnedPositionalEmbedding(Module):
    """x + weight[start : start + L] with a trained (max_len, d_model) table (GPT-2's wpe).

    Shape: x (N, L, d_model) (or (L, N, d_model) without batch_first), L + start <= max_len;
    output the same shape.

    >>> m = fastdl.nn.LearnedPositionalEmbedding(16, 8)
    >>> m(fastdl.zeros(2, 5, 8)).shape
    (2, 5, 8)
    """

    def __init__(self, max_len, d_model, batch_first=True, dtype=None):
        super().__init__()
        self.embedding = Embedding(max_len, d_model, dtype=dtype)
        self.max_len, self.batch_first = max_len, batch_first

    def forward(self, x, start=0):
        L = x.shape[1] if self.batch_first else x.shape[0]
        _check_length(start, L, self.max_len, "LearnedPositionalEmbedding")
        pe = self.embedding.weight[start:start + L]
        return x + (pe if self.batch_first else pe.unsqueeze(1))


class RotaryEmbedding(Module):
    """Rotates (..., L, head_dim) queries or keys by their positions start .. start + L - 1.

    Shape: output the same shape as input; start + L <= max_len. Position 0 is not rotated.
    ``position_ids`` (L,) or (N, L) replace positions start .. start + L - 1 (each row of a
    left-padded batch counts from its first token); ``scaling_factor`` divides every position
    (linear position interpolation, transformers' "linear" rope_scaling).

    >>> m = fastdl.nn.RotaryEmbedding(8)
    >>> m(fastdl.randn(2, 4, 5, 8)).shape
    (2, 4, 5, 8)
    >>> m(fastdl.ones(3, 8))[0].tolist()  # (L, head_dim): the first row, position 0
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, head_dim, max_len=4096, base=10000.0, dtype=None, scaling_factor=1.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"RotaryEmbedding: head_dim must be even, got {head_dim}")
        if not scaling_factor > 0:
            raise ValueError(f"RotaryEmbedding: scaling_factor must be > 0, got {scaling_factor}")
        inv_freq = base ** (-np.arange(0, head_dim, 2) / head_dim)
        positions = np.arange(max_len) / scaling_factor
        angles = positions[:, None] * inv_freq[None, :]  # (max_len, head_dim / 2)
        dt = as_dtype(dtype or get_default_dtype())
        self.register_buffer("cos", _wrap(np.cos(angles).astype(dt)), persistent=False)
        self.register_buffer("sin", _wrap(np.sin(angles).astype(dt)), persistent=False)
        self.head_dim, self.max_len = head_dim, max_len

    def forward(self, x, start=0, position_ids=None):
        L, d = x.shape[-2], x.shape[-1]
        if d != self.head_dim:
            raise ValueError(f"RotaryEmbedding: last dimension {d} != head_dim {self.head_dim}")
        if position_ids is None:
            _check_length(start, L, self.max_len, "RotaryEmbedding")
            cos, sin = self.cos[start:start + L], self.sin[start:start + L]
        else:
            cos, sin = self._rows(position_ids, x.ndim, L)
        x1, x2 = x[..., : d // 2], x[..., d // 2:]
        return S.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)

    def _rows(self, position_ids, ndim, L):
        """cos and sin at each row's own positions: (L,) -> (L, d/2); (N, L) -> (N, 1, L, d/2),
        broadcasting over the heads of (N, H, L, d)."""
        pos = np.asarray(position_ids.numpy() if hasattr(position_ids, "numpy")
                         else position_ids).astype(np.int64)
        if pos.ndim not in (1, 2) or pos.shape[-1] != L or (pos.ndim == 2 and ndim != 4):
            raise ValueError(f"RotaryEmbedding: position_ids must be (L,) or (N, L) with L = {L} "
                             f"(the latter for (N, H, L, head_dim) input), got {pos.shape}")
        if pos.size and (pos.min() < 0 or pos.max() >= self.max_len):
            raise ValueError(f"RotaryEmbedding: position_ids must lie in [0, {self.max_len})")
        cos, sin = self.cos[pos], self.sin[pos]
        return (cos, sin) if pos.ndim == 1 else (cos.unsqueeze(1), sin.unsqueeze(1))


class KVCache:
    """Keys and values (N, H, S, D) of the positions processed so far. ``update(k, v)`` appends
    the new positions along S and returns the full keys and values for attention. A single new
    query attends to every cached key (no causal mask needed); a chunk of several new queries
    needs the bottom-right aligned causal mask from ``chunk_mask``.

    Outside autograd (``no_grad``, or no tensor requiring a gradient) the positions are written
    into a buffer with room to grow (doubling) and ``k``, ``v`` are views of its first S
    positions, so a decoding step copies only its new positions, not the whole cache; inside a
    graph they are concatenated, so that gradients reach the cached keys and values."""

    def __init__(self):
        self.k = self.v = None
        self._buffers = None  # (keys, values) arrays (N, H, capacity, D), or None

    def __len__(self):
        return 0 if self.k is None else self.k.shape[-2]

    def reset(self):
        self.k = self.v = None
        self._buffers = None

    def update(self, k, v):
        if self.k is None:
            self.k, self.v = k, v
            self._buffers = None
        elif grad_wanted(k, v, self.k, self.v):
            self.k = S.cat([self.k, k], -2)
            self.v = S.cat([self.v, v], -2)
            self._buffers = None
        else:
            self.k, self.v = self._append(k, v)
        return self.k, self.v

    def _append(self, k, v):
        past, new = len(self), k.shape[-2]
        kd, vd = k._data, v._data
        bufs = self._buffers
        if self.k.shape[:-2] != k.shape[:-2] or self.k.shape[-1] != k.shape[-1] \
                or self.v.shape[:-2] != v.shape[:-2] or self.v.shape[-1] != v.shape[-1] \
                or k.shape[-2] != v.shape[-2]:
            self._buffers = None  # cat raises the shape error
            return S.cat([self.k, k], -2), S.cat([self.v, v], -2)
        if (bufs is None or bufs[0].shape[-2] < past + new or type(bufs[0]) is not type(kd)
                or bufs[0].dtype != kd.dtype or bufs[1].dtype != vd.dtype):
            xp = array_module(kd)
            capacity = max(64, 2 * (past + new))
            bufs = tuple(xp.empty(old.shape[:-2] + (capacity, old.shape[-1]),
                                  dtype=xp.result_type(old.dtype, cur.dtype))
                         for old, cur in ((self.k._data, kd), (self.v._data, vd)))
            bufs[0][..., :past, :] = self.k._data
            bufs[1][..., :past, :] = self.v._data
            self._buffers = bufs
        bufs[0][..., past:past + new, :] = kd
        bufs[1][..., past:past + new, :] = vd
        return _wrap(bufs[0][..., :past + new, :]), _wrap(bufs[1][..., :past + new, :])

    def chunk_mask(self, new):
        """Bool (new, len) mask, True where query (past + i) may see key j: j <= past + i."""
        total = len(self)
        past = total - new
        return _wrap(np.arange(total)[None, :] <= past + np.arange(new)[:, None])
