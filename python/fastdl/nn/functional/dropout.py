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


def _feature_dropout(input, p, training, inplace, fn):
    """Zero whole channels: one Bernoulli(1 - p) draw per (sample, channel) of an (N, C, *)
    input, broadcast over the spatial dims; survivors scaled by 1 / (1 - p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    x = input._data
    if x.ndim < 2:
        raise ValueError(f"{fn}(): expected an input with a batch and a channel dim, got shape "
                         f"{tuple(x.shape)}")
    mask_shape = tuple(x.shape[:2]) + (1,) * (x.ndim - 2)
    keep = fastdl_random.uniform_array(mask_shape, 0.0, 1.0, x.dtype, input.device) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = _wrap(keep.astype(x.dtype) * x.dtype.type(scale))
    return input.mul_(mask) if inplace else input * mask


def _channel_dropout(input, p, training, inplace, fn, spatial):
    """dropout1d/3d: an input without the batch dim (rank other than spatial + 2, as torch's
    dropout3d decides) is treated as a batch of one."""
    check_float(input, fn)
    nd = input._data.ndim
    if spatial == 1 and nd not in (2, 3):
        raise RuntimeError(f"{fn}(): expected a 2D or 3D input (an optional batch dim, a "
                           f"channel dim and a spatial dim), got shape "
                           f"{tuple(input._data.shape)}")
    if nd == spatial + 2:
        return _feature_dropout(input, p, training, inplace, fn)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    batched = input.unsqueeze(0)
    out = _feature_dropout(batched, p, training, False, fn).squeeze(0)
    return input.copy_(out) if inplace else out


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Channel dropout for (N, C, L) or (C, L) inputs."""
    return _channel_dropout(input, p, training, inplace, "dropout1d", 1)


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Channel dropout for (N, C, H, W) inputs. As in torch, a 3D input is taken as (N, C, L)
    (torch warns that this will change), other ranks as (N, C, *)."""
    check_float(input, "dropout2d")
    return _feature_dropout(input, p, training, inplace, "dropout2d")


def dropout3d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Channel dropout for (N, C, D, H, W) or (C, D, H, W) inputs."""
    return _channel_dropout(input, p, training, inplace, "dropout3d", 3)
