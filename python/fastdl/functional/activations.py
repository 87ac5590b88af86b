"""Softmax and log-softmax: one op each, whose backward reads the saved output."""
from __future__ import annotations

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl.autograd.op import defop
from fastdl.functional._core import norm_dim
from fastdl.functional import arithmetic as A
from fastdl.functional.reductions import sum as _sum
from fastdl.functional.arithmetic import relu, sigmoid, tanh  # noqa: F401  (re-exported)


def _softmax_forward(d, ax):
    if d.size == 0:  # the max below has no identity for an empty axis
        return d.copy()
    e = np.exp(d - d.max(axis=ax, keepdims=True))
    e /= e.sum(axis=ax, keepdims=True)
    return e


def _softmax_backward(ctx, g):
    y = ctx.output
    return (y * (g - _sum(g * y, ctx.args[0], keepdim=True)),)


softmax_op = defop("softmax", forward=_softmax_forward, backward=_softmax_backward,
                   saves_output=True)


def _log_softmax_forward(d, ax):
    if d.size == 0:
        return d.copy()
    shifted = d - d.max(axis=ax, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=ax, keepdims=True))


def _log_softmax_backward(ctx, g):
    return (g - A.exp(ctx.output) * _sum(g, ctx.args[0], keepdim=True),)


log_softmax_op = defop("log_softmax", forward=_log_softmax_forward,
                       backward=_log_softmax_backward, saves_output=True)


@autocast_op("softmax")
def softmax(input, dim, dtype=None):
    x = A._float_only(input if dtype is None else input.to(dtype), "softmax")
    return softmax_op.apply((x,), norm_dim(dim, x._data.ndim))


@autocast_op("log_softmax")
def log_softmax(input, dim, dtype=None):
    x = A._float_only(input if dtype is None else input.to(dtype), "log_softmax")
    return log_softmax_op.apply((x,), norm_dim(dim, x._data.ndim))
