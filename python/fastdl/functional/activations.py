"""Activations whose backward is fused into one expression for stability and speed."""
from __future__ import annotations

import numpy as np

from fastdl.functional._core import float_data, norm_dim, record, saved_output
from fastdl.functional import arithmetic as A
from fastdl.functional.reductions import sum as _sum
from fastdl.functional.arithmetic import relu, sigmoid, tanh  # noqa: F401  (re-exported)


def _softmax_array(d, ax):
    if d.size == 0:  # the max below has no identity for an empty axis
        return d.copy()
    shifted = d - d.max(axis=ax, keepdims=True)
    e = np.exp(shifted)
    e /= e.sum(axis=ax, keepdims=True)
    return e


def softmax(input, dim, dtype=None):
    x = input if dtype is None else input.to(dtype)
    d = float_data(x)
    ax = norm_dim(dim, d.ndim)
    out = _softmax_array(d, ax)

    def softmax_backward(g):
        y = saved_output(out, lambda: softmax(x, ax))
        return (y * (g - _sum(g * y, ax, keepdim=True)),)

    return record(out, softmax_backward, (x,))


def log_softmax(input, dim, dtype=None):
    x = input if dtype is None else input.to(dtype)
    d = float_data(x)
    ax = norm_dim(dim, d.ndim)
    if d.size == 0:
        out = d.copy()
    else:
        shifted = d - d.max(axis=ax, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=ax, keepdims=True))

    def log_softmax_backward(g):
        y = saved_output(out, lambda: log_softmax(x, ax))
        return (g - A.exp(y) * _sum(g, ax, keepdim=True),)

    return record(out, log_softmax_backward, (x,))
