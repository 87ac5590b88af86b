"""Activation functions (torch.nn.functional names and signatures).

Each is one fused graph node (see ``_fused``): array forward, array backward, and a composed
twin made of fastdl ops that serves create_graph. ``sigmoid``, ``tanh``, ``softmax`` and
``log_softmax`` are fastdl.functional's fused ops.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from fastdl.functional import activations as _core_act
from fastdl.functional import arithmetic as A
from fastdl.functional._core import record
from fastdl.nn.functional._checks import check_float, check_tensor
from fastdl.nn.functional._fused import fused
from fastdl.nn.functional._special import normal_cdf
from fastdl.tensor import _wrap
from fastdl.autograd.grad_mode import is_grad_enabled

sigmoid = A.sigmoid
tanh = A.tanh

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEFF = 0.044715


def _cast(value, dtype):
    return value.astype(dtype, copy=False)


def _finish(input, out, inplace, array_backward, composed, name):
    """Return the op result, or write it into ``input`` for ``inplace=True`` (never recorded:
    fastdl does not rewrite graphs in place, so that needs grad off or a tensor without grad)."""
    if inplace:
        from fastdl.functional.indexing import copy_op
        if input._requires_grad and is_grad_enabled():
            raise RuntimeError("in-place activation on a tensor that requires grad: use the "
                               "out-of-place form")
        return copy_op.apply_inplace(input, (_wrap(out),))
    return fused(out, (input,), array_backward, composed, name)


def relu(input, inplace: bool = False):
    """max(x, 0); the gradient at 0 is 0 (torch's choice)."""
    check_float(input, "relu")
    if not inplace:
        return A.relu(input)
    return _finish(input, np.maximum(input._data, 0), True, None, None, "ReluBackward")


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """x if x > 0 else negative_slope * x."""
    check_float(input, "leaky_relu")
    x = input._data
    positive = x > 0
    out = np.where(positive, x, x * negative_slope).astype(x.dtype, copy=False)

    def array_backward(g):
        return (g * _cast(np.where(positive, 1.0, negative_slope), g.dtype),)

    def composed(x_t):
        return A.where(_wrap(positive), x_t, x_t * negative_slope)

    return _finish(input, out, inplace, array_backward, composed, "LeakyReluBackward")


def elu(input, alpha: float = 1.0, inplace: bool = False):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    check_float(input, "elu")
    x = input._data
    positive = x > 0
    negative_part = alpha * np.expm1(np.minimum(x, 0))
    out = np.where(positive, x, negative_part).astype(x.dtype, copy=False)

    def array_backward(g):
        return (g * _cast(np.where(positive, 1.0, negative_part + alpha), g.dtype),)

    def composed(x_t):
        # out with a derivative built from ops: 1 for x > 0, alpha * exp(x) for x <= 0, whose
        # own derivative is 0 for x >= 0 (torch's double backward masks with x < 0)
        def backward(g):
            strictly_negative = A.where(_wrap(x < 0), x_t, _wrap(np.zeros((), x.dtype)))
            slope = A.where(_wrap(positive), _wrap(np.ones((), x.dtype)),
                            A.exp(strictly_negative) * alpha)
            return (g * slope,)

        return record(out, backward, (x_t,))

    return _finish(input, out, inplace, array_backward, composed, "EluBackward")


def _normal_cdf_op(x_t):
    """Phi(x) as a differentiable op (the composed GELU needs it; numpy has no erf)."""
    def backward(g):
        return (g * (A.exp(x_t * x_t * -0.5) * _INV_SQRT_2PI),)

    return record(normal_cdf(x_t._data), backward, (x_t,))


def gelu(input, approximate: str = "none"):
    """x * Phi(x) (``approximate='none'``) or its tanh approximation (``'tanh'``)."""
    check_float(input, "gelu")
    x = input._data
    if approximate == "none":
        cdf = normal_cdf(x)
        out = x * cdf

        def array_backward(g):
            pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
            return (g * _cast(cdf + x * pdf, g.dtype),)

        def composed(x_t):
            return x_t * _normal_cdf_op(x_t)
    elif approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEFF * x * x * x)
        t = np.tanh(inner)
        out = 0.5 * x * (1.0 + t)

        def array_backward(g):
            d_inner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_COEFF * x * x)
            return (g * _cast(0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner, g.dtype),)

        def composed(x_t):
            inner_t = (x_t + x_t * x_t * x_t * _GELU_TANH_COEFF) * _SQRT_2_OVER_PI
            return x_t * 0.5 * (A.tanh(inner_t) + 1.0)
    else:
        raise ValueError(f"gelu(): approximate must be 'none' or 'tanh', got {approximate!r}")
    return fused(_cast(out, x.dtype), (input,), array_backward, composed, "GeluBackward")


def _sigmoid_array(x):
    # exp(-x) overflows to inf for x << 0, and 1 / (1 + inf) = 0 is the right limit
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-x))).astype(x.dtype, copy=False)


def silu(input, inplace: bool = False):
    """x * sigmoid(x)."""
    check_float(input, "silu")
    x = input._data
    s = _sigmoid_array(x)
    out = x * s

    def array_backward(g):
        return (g * (s * (1.0 + x * (1.0 - s))),)

    def composed(x_t):
        return x_t * A.sigmoid(x_t)

    return _finish(input, out, inplace, array_backward, composed, "SiluBackward")


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + exp(beta * x)) / beta, or x where beta * x > threshold (as torch)."""
    check_float(input, "softplus")
    x = input._data
    z = x * beta
    linear = z > threshold
    # relu(z) + log1p(exp(-|z|)) never overflows
    soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
    out = np.where(linear, x, soft).astype(x.dtype, copy=False)

    def array_backward(g):
        return (g * _cast(np.where(linear, 1.0, _sigmoid_array(z)), g.dtype),)

    def composed(x_t):
        # out with its derivative, sigmoid(beta * x), built from ops (a relu/abs form of the
        # value would have kinks at 0 and a wrong second derivative there)
        def backward(g):
            slope = A.where(_wrap(linear), _wrap(np.ones((), x.dtype)), A.sigmoid(x_t * beta))
            return (g * slope,)

        return record(out, backward, (x_t,))

    return fused(out, (input,), array_backward, composed, "SoftplusBackward")


def _softmax_dim(ndim: int, name: str) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _check_softmax_input(input, dtype, name):
    # with dtype given, integer inputs are cast first, as in torch
    if dtype is None:
        check_float(input, name)
    else:
        check_tensor(input, name)


def softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim`` (max-shifted, so large inputs do not overflow)."""
    _check_softmax_input(input, dtype, "softmax")
    if dim is None:
        dim = _softmax_dim(input.ndim, "softmax")
    if input.ndim == 0:
        return _core_act.softmax(input.reshape(1), 0, dtype).reshape(())
    return _core_act.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    """x - logsumexp(x) along ``dim``."""
    _check_softmax_input(input, dtype, "log_softmax")
    if dim is None:
        dim = _softmax_dim(input.ndim, "log_softmax")
    if input.ndim == 0:
        return _core_act.log_softmax(input.reshape(1), 0, dtype).reshape(())
    return _core_act.log_softmax(input, dim, dtype)
