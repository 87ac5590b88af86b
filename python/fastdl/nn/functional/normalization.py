"""``batch_norm`` and ``layer_norm``: fused forward and backward over the normalized axes.

With xhat = (x - mean) * invstd over n values, the input gradient is
    dx = invstd / n * (n * dy - sum(dy) - xhat * sum(dy * xhat)),   dy = g * weight,
when the statistics come from the batch, and dy * invstd when they are fixed (eval mode).
"""
from __future__ import annotations

import math

import numpy as np

from fastdl import backend
from fastdl.functional import arithmetic as A
from fastdl.functional import reductions as R
from fastdl.nn.functional._checks import check_float, check_same_dtype
from fastdl.nn.functional._fused import fused
from fastdl.tensor import _wrap


def _normalize_backward(g, xhat, invstd, w_b, axes, n, batch_stats):
    dy = g if w_b is None else g * w_b
    if not batch_stats:
        return dy * invstd
    sum_dy = dy.sum(axis=axes, keepdims=True)
    sum_dy_xhat = (dy * xhat).sum(axis=axes, keepdims=True)
    return (invstd / n) * (n * dy - sum_dy - xhat * sum_dy_xhat)


def _affine_grads(g, xhat, weight, bias, param_axes, param_shape):
    grad_w = grad_b = None
    if weight is not None and weight._requires_grad:
        grad_w = (g * xhat).sum(axis=param_axes).reshape(param_shape)
    if bias is not None and bias._requires_grad:
        grad_b = g.sum(axis=param_axes).reshape(param_shape)
    return grad_w, grad_b


def _composed_normalize(x_t, axes, eps, stats):
    """xhat from fastdl ops: batch statistics (``stats is None``) or fixed ones."""
    if stats is None:
        mean = R.mean(x_t, axes, keepdim=True)
        centered = x_t - mean
        var = R.mean(centered * centered, axes, keepdim=True)
        return centered * A.rsqrt(var + eps)
    mean, invstd = stats
    return (x_t - _wrap(mean)) * _wrap(invstd)


def _check_param(t, fn, name, shape):
    if t is None:
        return
    check_float(t, fn, name)
    if tuple(t._data.shape) != tuple(shape):
        raise ValueError(f"{fn}(): {name} must have shape {tuple(shape)}, got "
                         f"{tuple(t._data.shape)}")


def _empty_normalization(input, weight, bias, name):
    """An empty output like ``input``; weight and bias get zero gradients."""
    inputs = tuple(t for t in (input, weight, bias) if t is not None)
    out = input._data.copy()

    def array_backward(g):
        return tuple(g if t is input else backend.array_module(t._data).zeros_like(t._data)
                     for t in inputs)

    def composed(*tensors):
        y = tensors[0] * 1.0
        for t in tensors[1:]:
            y = y + R.sum(t) * 0.0
        return y

    return fused(out, inputs, array_backward, composed, name)


def _scale_shift(input, weight, bias, xhat, invstd, *, axes, n, training, stats, eps,
                 param_view, grad_axes, param_shape, name):
    """``xhat * weight + bias`` (parameters viewed as ``param_view``) as one graph node whose
    backward runs on arrays and whose create_graph form is rebuilt from differentiable ops;
    shared by batch_norm and layer_norm."""
    w = None if weight is None else weight._data.reshape(param_view)
    b = None if bias is None else bias._data.reshape(param_view)
    out = xhat if w is None else xhat * w
    if b is not None:
        out = out + b
    out = out.astype(input._data.dtype, copy=False)
    inputs = tuple(t for t in (input, weight, bias) if t is not None)

    def array_backward(g):
        grad_x = None
        if input._requires_grad:
            grad_x = _normalize_backward(g, xhat, invstd, w, axes, n, training)
        grad_w, grad_b = _affine_grads(g, xhat, weight, bias, grad_axes, param_shape)
        return tuple(gr for gr, t in ((grad_x, input), (grad_w, weight), (grad_b, bias))
                     if t is not None)

    def composed(*tensors):
        it = iter(tensors)
        x_t = next(it)
        w_t = next(it) if weight is not None else None
        b_t = next(it) if bias is not None else None
        y = _composed_normalize(x_t, axes, eps, stats)
        if w_t is not None:
            y = y * w_t.reshape(param_view)
        if b_t is not None:
            y = y + b_t.reshape(param_view)
        return y

    return fused(out, inputs, array_backward, composed, name)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5):
    """Normalize each channel (dim 1) of an (N, C, *) input by batch statistics (``training``)
    or by the running ones; training updates the running buffers in place (unbiased variance).
    """
    check_float(input, "batch_norm")
    x = input._data
    if training and not eps > 0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if eps < 0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    if x.size == 0:
        # torch returns an empty result for an empty batch (any shape) and leaves the
        # running statistics alone
        return _empty_normalization(input, weight, bias, "BatchNormBackward")
    if x.ndim < 2:
        raise ValueError(f"batch_norm(): expected an input of shape (N, C, *), got "
                         f"{tuple(x.shape)}")
    channels = x.shape[1]
    for t, name in ((running_mean, "running_mean"), (running_var, "running_var"),
                    (weight, "weight"), (bias, "bias")):
        _check_param(t, "batch_norm", name, (channels,))
    check_same_dtype("batch_norm", input=input, weight=weight, bias=bias)
    axes = (0,) + tuple(range(2, x.ndim))
    stat_shape = (1, channels) + (1,) * (x.ndim - 2)
    n = x.size // channels if channels else 0
    if training:
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {tuple(x.shape)}")
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        invstd = 1.0 / np.sqrt(var + eps)
        if running_mean is not None:
            running_mean._data[...] = ((1.0 - momentum) * running_mean._data
                                       + momentum * mean.reshape(channels))
        if running_var is not None:
            unbiased = var.reshape(channels) * (n / (n - 1))
            running_var._data[...] = (1.0 - momentum) * running_var._data + momentum * unbiased
        stats = None
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm(): running_mean and running_var are required when "
                             "training=False")
        mean = running_mean._data.reshape(stat_shape).astype(x.dtype, copy=True)
        invstd = (1.0 / np.sqrt(running_var._data.reshape(stat_shape) + eps)).astype(x.dtype)
        centered = x - mean
        stats = (mean, invstd)
    xhat = centered * invstd
    return _scale_shift(input, weight, bias, xhat, invstd, axes=axes, n=n, training=training,
                        stats=stats, eps=eps, param_view=stat_shape, grad_axes=axes,
                        param_shape=(channels,), name="BatchNormBackward")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalize over the trailing ``normalized_shape`` dims, then scale and shift."""
    check_float(input, "layer_norm")
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    x = input._data
    k = len(normalized_shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(f"layer_norm(): input shape {tuple(x.shape)} does not end with "
                         f"normalized_shape {normalized_shape}")
    _check_param(weight, "layer_norm", "weight", normalized_shape)
    _check_param(bias, "layer_norm", "bias", normalized_shape)
    check_same_dtype("layer_norm", input=input, weight=weight, bias=bias)
    axes = tuple(range(x.ndim - k, x.ndim))
    lead_axes = tuple(range(x.ndim - k))
    n = math.prod(normalized_shape)
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axis=axes, keepdims=True)
    invstd = 1.0 / np.sqrt(var + eps)
    xhat = centered * invstd
    return _scale_shift(input, weight, bias, xhat, invstd, axes=axes, n=n, training=True,
                        stats=None, eps=eps, param_view=normalized_shape, grad_axes=lead_axes,
                        param_shape=normalized_shape, name="LayerNormBackward")

