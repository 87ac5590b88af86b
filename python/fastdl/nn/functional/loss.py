"""Elementwise losses: MSE, L1, Huber, SmoothL1, BCE, BCE-with-logits, KL divergence.

Each is one fused node: per-element values and derivatives on arrays, then the reduction. When
the target also requires grad, the loss is built from fastdl ops instead (autograd then covers
both arguments). The composed form also serves create_graph.
"""
from __future__ import annotations

import numpy as np

from fastdl.autograd.grad_mode import state as _grad_state
from fastdl.functional import arithmetic as A
from fastdl.nn.functional._checks import (check_float, check_reduction, check_same_dtype,
                                          check_same_shape)
from fastdl.nn.functional._fused import fused
from fastdl.nn.functional._reduction import (legacy_reduction, reduce_array, reduce_tensor,
                                             scale_for_reduction)
from fastdl.tensor import _wrap


def _pointwise_loss(name, input, target, reduction, values, derivative, composed_elements,
                    extra_inputs=()):
    """Reduce per-element ``values``; the input gradient is ``derivative()`` (per element) times
    the upstream gradient. ``composed_elements(input, target)`` rebuilds the values from ops."""
    check_reduction(reduction, name)

    def composed(x_t):
        return reduce_tensor(composed_elements(x_t, target), reduction)

    if target._requires_grad and _grad_state.enabled:
        return composed(input)
    out = reduce_array(values, reduction).astype(values.dtype, copy=False)
    count = values.size

    def array_backward(g):
        grad = derivative() * scale_for_reduction(g, reduction, count)
        return (grad.astype(values.dtype, copy=False),)

    return fused(out, (input,), array_backward, composed, name)


def _check_pair(name, input, target):
    check_float(input, name)
    check_float(target, name, "target")
    check_same_shape(name, input, target)
    check_same_dtype(name, input=input, target=target)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """(input - target)^2."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_pair("mse_loss", input, target)
    diff = input._data - target._data

    def composed_elements(x_t, t_t):
        d = x_t - t_t
        return d * d

    return _pointwise_loss("mse_loss", input, target, reduction, diff * diff,
                           lambda: 2.0 * diff, composed_elements)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """|input - target|; the gradient at 0 is 0."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_pair("l1_loss", input, target)
    diff = input._data - target._data
    return _pointwise_loss("l1_loss", input, target, reduction, np.abs(diff),
                           lambda: _sign_nan_zero(diff), lambda x_t, t_t: A.abs(x_t - t_t))


def _sign_nan_zero(d):
    """sign(d) with 0 for NaN, as torch's abs backward."""
    return (d > 0).astype(d.dtype) - (d < 0).astype(d.dtype)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0):
    """0.5 d^2 where |d| < delta, else delta * (|d| - 0.5 delta), with d = input - target."""
    _check_pair("huber_loss", input, target)
    if delta <= 0:
        raise ValueError(f"huber_loss(): delta must be positive, got {delta}")
    diff = input._data - target._data
    abs_diff = np.abs(diff)
    quadratic = abs_diff < delta
    values = np.where(quadratic, 0.5 * diff * diff, delta * (abs_diff - 0.5 * delta))

    def composed_elements(x_t, t_t):
        d = x_t - t_t
        return A.where(_wrap(quadratic), d * d * 0.5, (A.abs(d) - 0.5 * delta) * delta)

    return _pointwise_loss("huber_loss", input, target, reduction, values.astype(diff.dtype),
                           lambda: np.clip(diff, -delta, delta), composed_elements)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta = 0 gives the L1 loss)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_pair("smooth_l1_loss", input, target)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss(): beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    diff = input._data - target._data
    abs_diff = np.abs(diff)
    quadratic = abs_diff < beta
    values = np.where(quadratic, 0.5 * diff * diff / beta, abs_diff - 0.5 * beta)

    def composed_elements(x_t, t_t):
        d = x_t - t_t
        return A.where(_wrap(quadratic), d * d * (0.5 / beta), A.abs(d) - 0.5 * beta)

    return _pointwise_loss("smooth_l1_loss", input, target, reduction,
                           values.astype(diff.dtype),
                           lambda: np.where(quadratic, diff / beta, np.sign(diff)),
                           composed_elements)


def _check_weight(name, weight, shape):
    if weight is None:
        return None
    check_float(weight, name, "weight")
    try:
        np.broadcast_shapes(tuple(weight._data.shape), tuple(shape))
    except ValueError:
        raise ValueError(f"{name}(): weight shape {tuple(weight._data.shape)} does not "
                         f"broadcast to input shape {tuple(shape)}") from None
    return weight._data


_BCE_LOG_FLOOR = -100.0  # torch clamps log terms so that p = 0 or 1 gives a finite loss
_BCE_EPS = 1e-12


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean"):
    """-w (t log p + (1 - t) log(1 - p)) for probabilities p = input in [0, 1]."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "binary_cross_entropy"
    _check_pair(name, input, target)
    w = _check_weight(name, weight, input.shape)
    p, t = input._data, target._data
    if p.size and (float(p.min()) < 0 or float(p.max()) > 1):
        raise ValueError(f"{name}(): all elements of input should be between 0 and 1 (got range "
                         f"[{float(p.min())}, {float(p.max())}])")
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), _BCE_LOG_FLOOR)
        log_1mp = np.maximum(np.log1p(-p), _BCE_LOG_FLOOR)
    values = -(t * log_p + (1 - t) * log_1mp)
    if w is not None:
        values = values * w

    def derivative():
        d = (p - t) / np.maximum((1 - p) * p, _BCE_EPS)
        return d if w is None else d * w

    def composed_elements(x_t, t_t):
        log_x = A.clamp(A.log(x_t), min=_BCE_LOG_FLOOR)
        log_1mx = A.clamp(A.log1p(-x_t), min=_BCE_LOG_FLOOR)
        out = -(t_t * log_x + (1 - t_t) * log_1mx)
        return out if weight is None else out * weight

    return _pointwise_loss(name, input, target, reduction, values.astype(p.dtype, copy=False),
                           derivative, composed_elements)


def _sigmoid(x):
    with np.errstate(over="ignore"):  # exp(-x) = inf gives the right limit 0
        return 1.0 / (1.0 + np.exp(-x))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None):
    """BCE on logits x, computed stably: (1 - t) x + (1 + (pw - 1) t) softplus(-x)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "binary_cross_entropy_with_logits"
    _check_pair(name, input, target)
    w = _check_weight(name, weight, input.shape)
    pw = None
    if pos_weight is not None:
        check_float(pos_weight, name, "pos_weight")
        try:
            np.broadcast_shapes(tuple(pos_weight._data.shape), tuple(input.shape))
        except ValueError:
            raise ValueError(f"{name}(): pos_weight shape {tuple(pos_weight._data.shape)} does "
                             f"not broadcast to input shape {tuple(input.shape)}") from None
        pw = pos_weight._data
    x, t = input._data, target._data
    softplus_neg = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))
    log_weight = 1.0 if pw is None else 1.0 + (pw - 1.0) * t
    values = (1 - t) * x + log_weight * softplus_neg
    if w is not None:
        values = values * w

    def derivative():
        s = _sigmoid(x)
        d = s - t if pw is None else log_weight * s - pw * t
        return d if w is None else d * w

    def composed_elements(x_t, t_t):
        sp = A.relu(-x_t) + A.log1p(A.exp(-A.abs(x_t)))
        lw = 1.0 if pos_weight is None else (pos_weight - 1.0) * t_t + 1.0
        out = (1 - t_t) * x_t + lw * sp
        return out if weight is None else out * weight

    return _pointwise_loss(name, input, target, reduction, values.astype(x.dtype, copy=False),
                           derivative, composed_elements)


def _xlogx(t):
    """t * log(t) with 0 at t = 0 (torch's xlogy(t, t)); NaN for t < 0, as in torch."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t == 0, 0, t * np.log(np.where(t == 0, 1, t))).astype(t.dtype, copy=False)


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False):
    """KL(target || exp(input)) per element: t log t - t input, t log t = 0 at t = 0 (input holds
    log-probabilities; with ``log_target`` so does target). 'batchmean' divides the sum by the
    batch size (the true KL divergence); 'mean' divides by the number of elements."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "kl_div"
    _check_pair(name, input, target)
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"{name}(): reduction must be one of ('none', 'mean', 'sum', "
                         f"'batchmean'), got {reduction!r}")
    x, t = input._data, target._data
    if log_target:
        values = np.exp(t) * (t - x)
    else:
        values = _xlogx(t) - t * x
    values = values.astype(x.dtype, copy=False)

    def derivative():
        return -np.exp(t) if log_target else -t

    def composed_elements(x_t, t_t):
        if log_target:
            return A.exp(t_t) * (t_t - x_t)
        zero = _wrap(t_t._data == 0)
        safe_t = A.where(zero, _wrap(np.ones((), x.dtype)), t_t)
        with np.errstate(invalid="ignore"):  # negative targets give NaN silently, as in torch
            log_t = A.log(safe_t)
        return t_t * log_t - t_t * x_t

    if reduction != "batchmean":
        return _pointwise_loss(name, input, target, reduction, values, derivative,
                               composed_elements)
    batch = x.shape[0] if x.ndim else 1
    return _pointwise_loss(name, input, target, "sum", values, derivative,
                           composed_elements) / batch
