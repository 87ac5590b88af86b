"""What every masked operation shares: the canonical dims, the mask broadcast to the input,
and the input with its masked-out elements replaced by the operation's identity value (so the
plain reduction over the result is the masked one, and ``where`` routes the gradient only to
the elements kept)."""
from __future__ import annotations

import functools
import math

import numpy as np

from fastdl.creation import full
from fastdl.functional.arithmetic import where
from fastdl.functional.reductions import any as _any
from fastdl.functional.shape import broadcast_to
from fastdl.tensor import Tensor, bool_

_LOWEST_FIRST = {"amax", "argmax", "logaddexp", "logsumexp"}  # identity -inf / the dtype's min
_HIGHEST_FIRST = {"amin", "argmin"}                            # identity +inf / the dtype's max
_REDUCTIONS = {"sum", "prod", "amax", "amin", "argmax", "argmin", "mean", "median", "norm",
               "var", "std", "logsumexp"}
_NORMALIZATIONS = {"softmax", "log_softmax", "softmin", "normalize", "cumsum", "cumprod"}


def canonical_dim(dim, ndim):
    """``dim`` as a sorted tuple of non-negative dims (all of them for None or ()); a 0-d
    input has dim 0 (torch.masked's ``_canonical_dim``, with its errors)."""
    if dim is None or dim == ():  # () still means "every dim" to torch's reductions
        return tuple(range(ndim))
    bound = max(ndim, 1)
    dims = []
    for d in ((dim,) if isinstance(dim, int) else dim):
        if d in dims:
            raise RuntimeError(f"dim={d} appears multiple times in the list of dims")
        if not -bound <= d < bound:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-bound}, {bound - 1}], but got {d})")
        dims.append(d % bound)
    return tuple(sorted(dims))


def input_mask(input, mask):
    """``mask`` broadcast to ``input``'s shape, as bool (torch converts any dtype with
    ``.to(bool)``: non-zero is kept)."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"masked: mask must be a Tensor, got {type(mask).__name__}")
    if tuple(mask.shape) != tuple(input.shape):
        if mask.ndim > input.ndim:
            raise IndexError(f"masked: expected a broadcastable mask (got a mask of shape "
                             f"{tuple(mask.shape)}, with more dims than the input's "
                             f"{tuple(input.shape)})")
        try:
            mask = broadcast_to(mask, tuple(input.shape))
        except RuntimeError:
            raise RuntimeError(f"masked: the mask of shape {tuple(mask.shape)} does not "
                               f"broadcast to the input's shape {tuple(input.shape)}") from None
    return mask if mask.dtype == np.bool_ else mask.to(bool_)


def identity(name, input, ord=2.0):
    """The value that leaves the reduction ``name`` unchanged (torch.masked's
    ``_reduction_identity``)."""
    dt = input.dtype
    if name in ("sum", "cumsum"):
        return 0
    if name in ("prod", "cumprod"):
        return 1
    if name == "median":  # nanmedian skips it; a fully masked slice gives NaN
        return math.nan
    if name == "norm":
        if ord == -math.inf and dt.kind != "f":
            raise TypeError(f"masked norm: ord=-inf needs a floating point input, got {dt}")
        return math.inf if ord == -math.inf else 0
    if name in _LOWEST_FIRST | _HIGHEST_FIRST:
        low = name in _LOWEST_FIRST
        if dt.kind == "f":
            return -math.inf if low else math.inf
        if dt.kind in "iu":
            return int(np.iinfo(dt).min if low else np.iinfo(dt).max)
    raise NotImplementedError(f"identity of {name} on {dt} input")


def combine(name, input, mask, ord=2.0):
    """``input`` with the masked-out elements set to the identity of ``name``."""
    if mask is None:
        return input
    fill = full((), identity(name, input, ord), dtype=input.dtype, device=input.device)
    return where(input_mask(input, mask), input, fill)


def output_mask(op, input, *args, **kwargs):
    """Which elements of ``op(input, *args, **kwargs)`` saw at least one kept element (torch's
    ``torch.masked._output_mask``; the OpInfo gradient checks zero the others)."""
    name = op.__name__
    if name in _NORMALIZATIONS:
        return input_mask(input, kwargs["mask"])
    if name not in _REDUCTIONS:
        raise ValueError(f"output_mask expected a masked operation, got {name}")
    if name == "norm" and args:
        args = args[1:]  # ord comes before dim
    dim = args[0] if args else kwargs.get("dim")
    dims = canonical_dim(dim, input.ndim)
    return _any(input_mask(input, kwargs["mask"]), dims, bool(kwargs.get("keepdim", False)))


def quiet(fn):
    """Runs ``fn`` without numpy's divide/invalid warnings: a fully masked slice divides by a
    zero count or takes log(0) and exp(-inf - -inf) on purpose, and torch says nothing there."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        with np.errstate(divide="ignore", invalid="ignore"):
            return fn(*args, **kwargs)
    return run
