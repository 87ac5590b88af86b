"""torch's ``native_layer_norm``, ``native_batch_norm`` and ``native_group_norm``: the
normalization plus the statistics ATen saves for its backward (mean and 1 / sqrt(var + eps),
the biased variance). The output is nn.functional's layer_norm / batch_norm / group_norm, with
their gradients; the statistics of layer and batch norm do not require grad (torch's do not),
those of group norm do (torch differentiates them). Where ATen differs from nn.functional, these
follow ATen: one value per channel trains (rstd 1 / sqrt(eps)), an empty batch does not, an
empty normalized region has mean 0 and rstd NaN, and every tensor must have input's dtype.
"""
from __future__ import annotations

import math

import numpy as np

from fastdl.autograd import no_grad
from fastdl.functional.arithmetic import rsqrt
from fastdl.nn import functional as F
from fastdl.nn.functional.normalization import _batch_norm, batch_invstd
from fastdl.tensor import _wrap, uint8


def _statistics(x, dims, eps, batch=False):
    """(mean, 1 / sqrt(biased variance + eps)) of x over ``dims``, keeping them; ``batch``:
    batch_norm's rule, rstd 0 where variance and eps are both 0 (not differentiated)."""
    if any(x.shape[d] == 0 for d in dims):
        # ATen's pass over no values: mean 0, variance 0 / 0 (no numpy warnings)
        total = x.sum(dims, keepdim=True)
        return total, total + math.nan
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dims, keepdim=True)
    if batch:
        return mean, _wrap(batch_invstd(var._data, eps))
    with np.errstate(divide="ignore", invalid="ignore"):  # eps <= 0: inf or NaN, as torch's
        return mean, rsqrt(var + eps)


def _check_dtypes(fn, input, **tensors):
    """ATen's CPU kernels take no mixed dtypes (nn.functional's TypeError, as RuntimeError)."""
    from fastdl.nn.functional._checks import check_float
    check_float(input, fn)
    for name, t in tensors.items():
        if t is not None and t.dtype != input.dtype:
            raise RuntimeError(f"{fn}(): expected {name} to have input's dtype {input.dtype}, "
                               f"got {t.dtype}")


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """(layer_norm(input, normalized_shape, weight, bias, eps), mean, rstd) with mean and
    rstd of shape input.shape[:-k] + (1,) * k for k = len(normalized_shape).

    >>> out, mean, rstd = fastdl.native_layer_norm(fastdl.tensor([[1.0, 3.0]]), [2], None,
    ...                                            None, 1e-5)
    >>> out.round(decimals=3).tolist(), mean.tolist(), tuple(rstd.shape)
    ([[-1.0, 1.0]], [[2.0]], (1, 1))
    """
    _check_dtypes("native_layer_norm", input, weight=weight, bias=bias)
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    out = F.layer_norm(input, normalized_shape, weight, bias, eps)
    with no_grad():
        dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
        mean, rstd = _statistics(input.detach(), dims, eps)
    return out, mean, rstd


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum,
                      eps):
    """(batch_norm(...), save_mean, save_rstd): the per-channel batch mean and
    1 / sqrt(biased var + eps) when ``training`` (running statistics updated in place), empty
    tensors otherwise, as in torch.

    >>> x = fastdl.tensor([[1.0], [3.0]])
    >>> out, mean, rstd = fastdl.native_batch_norm(x, None, None, None, None, True, 0.1, 1e-5)
    >>> out.round(decimals=3).tolist(), mean.tolist()
    ([[-1.0], [1.0]], [2.0])
    """
    _check_dtypes("native_batch_norm", input, weight=weight, bias=bias, running_mean=running_mean,
                  running_var=running_var)
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be None or neither be "
                         "None")
    if input.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(input.ndim, 1)}, {max(input.ndim, 1) - 1}], but got 1)")
    if training and input.numel() == 0:
        raise RuntimeError(f"input tensor must have at least one element, but got input_sizes "
                           f"= {list(input.shape)}")
    out = _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    with no_grad():
        if not training:
            empty = input.new_empty(0)
            return out, empty, empty.clone()
        dims = (0,) + tuple(range(2, input.ndim))
        mean, rstd = _statistics(input.detach(), dims, eps, batch=True)
    return out, mean.reshape(-1), rstd.reshape(-1)


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """(group_norm(input, group, weight, bias, eps), mean, rstd) for an input of N x C x HxW
    elements; mean and rstd have shape (N, group).

    >>> x = fastdl.tensor([[[1.0], [3.0]]])
    >>> out, mean, rstd = fastdl.native_group_norm(x, None, None, 1, 2, 1, 1, 1e-5)
    >>> out.round(decimals=3).tolist(), mean.tolist()
    ([[[-1.0], [1.0]]], [[2.0]])
    """
    _check_dtypes("native_group_norm", input, weight=weight, bias=bias)
    if group <= 0:
        raise RuntimeError(f"Expected num groups to be greater than 0, got {group}")
    if input.numel() != N * C * HxW or (input.ndim > 1 and input.shape[1] != C):
        raise RuntimeError(f"native_group_norm: expected an input of N * C * HxW = "
                           f"{N} * {C} * {HxW} elements with C channels, got shape "
                           f"{tuple(input.shape)}")
    out = F.group_norm(input, group, weight, bias, eps)
    per_group = C // group * HxW
    mean, rstd = _statistics(input.reshape(N, group, per_group), (2,), eps)
    return out, mean.reshape(N, group), rstd.reshape(N, group)


_LEGIT_STATS = ("running_mean", "running_var", "training", "momentum", "eps")
_LEGIT_NO_STATS = ("training", "momentum", "eps")


def _native_batch_norm_legit(input, weight, bias, *args, **kwargs):
    """``native_batch_norm`` under ATen's two overloads: ``(input, weight, bias, running_mean,
    running_var, training, momentum, eps)`` (running statistics updated in place when
    training) and ``no_stats``, ``(input, weight, bias, training, momentum, eps)``.

    >>> x = fastdl.tensor([[1.0], [3.0]])
    >>> out, mean, rstd = fastdl._native_batch_norm_legit(x, None, None, True, 0.1, 1e-5)
    >>> out.round(decimals=3).tolist(), mean.tolist()
    ([[-1.0], [1.0]], [2.0])
    """
    names = _LEGIT_STATS if len(args) + len(kwargs) == len(_LEGIT_STATS) else _LEGIT_NO_STATS
    if len(args) > len(names) or len(args) + len(kwargs) != len(names) or \
            set(kwargs) - set(names[len(args):]):
        raise TypeError(f"_native_batch_norm_legit() expects (input, weight, bias, "
                        f"{', '.join(_LEGIT_STATS)}) or (input, weight, bias, "
                        f"{', '.join(_LEGIT_NO_STATS)}), got {len(args) + 3} arguments with "
                        f"keywords {sorted(kwargs)}")
    bound = {**dict(zip(names, args)), **kwargs}
    if names is _LEGIT_NO_STATS and not bound["training"]:
        # (torch crashes here: there is nothing to normalize by)
        raise RuntimeError("_native_batch_norm_legit.no_stats: training=False needs running "
                           "statistics")
    return native_batch_norm(input, weight, bias, bound.get("running_mean"),
                             bound.get("running_var"), bound["training"], bound["momentum"],
                             bound["eps"])


def _batch_norm_with_update(input, weight, bias, running_mean, running_var, momentum, eps):
    """``native_batch_norm`` in training mode with the running statistics (required) updated
    in place, plus torch's empty uint8 ``reserve`` (cuDNN's workspace, unused on the CPU).

    >>> x = fastdl.tensor([[1.0], [3.0]])
    >>> mean, var = fastdl.zeros(1), fastdl.ones(1)
    >>> out, _, _, reserve = fastdl._batch_norm_with_update(x, None, None, mean, var, 0.5,
    ...                                                     1e-5)
    >>> mean.tolist(), var.tolist(), tuple(reserve.shape)
    ([1.0], [1.5], (0,))
    """
    from fastdl.tensor import Tensor
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if not isinstance(t, Tensor):
            raise TypeError(f"_batch_norm_with_update(): argument '{name}' must be Tensor, "
                            f"not {type(t).__name__}")
    out, mean, rstd = native_batch_norm(input, weight, bias, running_mean, running_var, True,
                                        momentum, eps)
    return out, mean, rstd, input.new_empty(0, dtype=uint8)


__all__ = ["_batch_norm_with_update", "_native_batch_norm_legit", "native_batch_norm",
           "native_group_norm", "native_layer_norm"]
