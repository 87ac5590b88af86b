"""Dropout: zero each element with probability p and scale the survivors by 1 / (1 - p)."""
from __future__ import annotations

from fastdl import random as fastdl_random
from fastdl.nn.functional._checks import check_float
from fastdl.tensor import _wrap


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            generator=None):
    """In training, ``input * mask / (1 - p)`` with mask ~ Bernoulli(1 - p) drawn from fastdl's
    generator (``fastdl.manual_seed``) or from ``generator`` (a ``fastdl.Generator``; a fastdl
    extension); in eval, ``input`` unchanged."""
    check_float(input, "dropout")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    x = input._data
    keep = fastdl_random.uniform_array(x.shape, 0.0, 1.0, x.dtype, input.device, generator) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = _wrap(keep.astype(x.dtype) * x.dtype.type(scale))
    return input.mul_(mask) if inplace else input * mask
