"""Negative log-likelihood losses of distributions: Poisson and Gaussian.

Both are composed from registered differentiable ops with torch's formulas, so input, target
and variance all get torch's gradients (double backward included).
"""
from __future__ import annotations

import math

import numpy as np

from fastdl.functional import arithmetic as A
from fastdl.functional import indexing as I
from fastdl.nn.functional._checks import check_tensor, reject_bool
from fastdl.nn.functional._reduction import legacy_reduction
from fastdl.nn.functional.loss_margin import reduce_loss
from fastdl.tensor import Tensor, _wrap


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean"):
    """exp(input) - target * input (``log_input``: input is the log of the rate), else
    input - target * log(input + eps); ``full`` adds Stirling's approximation of log(target!)
    where target > 1."""
    name = "poisson_nll_loss"
    reduction = legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not a valid value for reduction")
    check_tensor(input, name)
    check_tensor(target, name, "target")
    if not log_input:
        reject_bool(name, input=input)  # torch's input - target * log(input + eps)
    if log_input:
        loss = A.exp(input) - target * input
    else:
        loss = input - target * A.log(input + eps)
    if full:
        reject_bool(name, target=target)
        with np.errstate(divide="ignore", invalid="ignore"):  # masked below, as in torch
            stirling = target * A.log(target) - target + 0.5 * A.log(2 * math.pi * target)
        loss = loss + I.masked_fill(stirling, target <= 1, 0)
    return reduce_loss(loss, reduction)


def _homoscedastic_var(var, input):
    """``var`` shaped to broadcast against ``input`` as torch accepts it: the input's shape, the
    input's shape without its last dim (one variance per row), or the input's shape with one
    dim of size 1."""
    if tuple(var.shape) == tuple(input.shape):
        return var
    if tuple(var.shape) == tuple(input.shape[:-1]):
        return var.unsqueeze(-1)
    if var.ndim == input.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
        return var
    raise ValueError("var is of incorrect size")


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean"):
    """0.5 (log(var) + (input - target)^2 / var) (+ 0.5 log(2 pi) with ``full``); var is
    clamped to at least ``eps`` for the value while its gradient passes unchanged (torch clamps
    under no_grad)."""
    name = "gaussian_nll_loss"
    check_tensor(input, name)
    check_tensor(target, name, "target")
    if isinstance(var, float):  # only a float: torch's check of an int var fails (TypeError)
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = _wrap(np.full(input.shape, var, dtype=input._data.dtype))
    elif not isinstance(var, Tensor):
        raise TypeError(f"{name}(): var must be a Tensor or a float, got {type(var).__name__}")
    elif np.any(var._data < 0):
        raise ValueError("var has negative entry/entries")
    var = _homoscedastic_var(var, input)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    if var._data.dtype.kind != "f":  # torch clamps a copy of var in place to eps
        raise RuntimeError(f"{name}(): var must be a floating point tensor, got {var._data.dtype}")
    reject_bool(name, input=input, target=target)  # torch's input - target
    # the clamped value with the identity's gradient: var + (clamp(var) - var), the bracket
    # a constant
    var = var + _wrap(np.maximum(var._data, eps) - var._data)
    loss = 0.5 * (A.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)
