"""Activation functions (torch.nn.functional names and signatures).

Each is one op (``defop``) whose backward is a dedicated ``*_backward`` op, as in PyTorch's
derivatives.yaml: a fused array forward (reading what the forward left in ``Saved``) and its own
backward written with registered ops, so higher derivatives are exact. ``relu``, ``sigmoid``,
``tanh``, ``softmax`` and ``log_softmax`` are fastdl.functional's ops. ``inplace=True`` goes
through ``apply_inplace``: recorded on a non-leaf, refused on a leaf that requires grad.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl import _C
from fastdl.autograd.op import defop
from fastdl.backend import kernel_arrays
from fastdl.backend.pool import result_array
from fastdl.functional import activations as _core_act
from fastdl.functional import arithmetic as A
from fastdl.nn.functional._checks import check_float, check_tensor
from fastdl.autograd.op import Saved
from fastdl.nn.functional._special import normal_cdf

sigmoid = A.sigmoid
tanh = A.tanh

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEFF = 0.044715


def _cast(value, dtype):
    return value.astype(dtype, copy=False)


def _sigmoid_array(x):
    # exp(-x) overflows to inf for x << 0, and 1 / (1 + inf) = 0 is the right limit
    with np.errstate(over="ignore"):
        return (1.0 / (1.0 + np.exp(-x))).astype(x.dtype, copy=False)


def _softplus_array(z):
    # relu(z) + log1p(exp(-|z|)): log(1 + e^z) without overflow for large z or loss for small
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


# ---- forwards on arrays: out = f(x), leaving in ``saved`` what f'(x) reuses ----
def _leaky_relu_fwd(x, slope, saved):
    positive = saved.values = x > 0
    return _cast(np.where(positive, x, x * slope), x.dtype)


def _elu_fwd(x, alpha, saved):
    positive = x > 0
    negative_part = alpha * np.expm1(np.minimum(x, 0))
    return _cast(np.where(positive, x, negative_part), x.dtype)


def _gelu_fwd(x, approximate, saved):
    if approximate == "none":
        cdf = saved.values = normal_cdf(x)
        return _cast(x * cdf, x.dtype)
    if kernel_arrays(x):  # one threaded C++ pass (the array version: ~8 passes over x)
        out, t = result_array(x.shape, x.dtype), result_array(x.shape, x.dtype)
        _C.gelu_tanh_forward(x, out, t)
        saved.values = t
        return out
    t = saved.values = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_TANH_COEFF * x * x * x))
    return _cast(0.5 * x * (1.0 + t), x.dtype)


def _silu_fwd(x, saved):
    s = saved.values = _sigmoid_array(x)
    return x * s


def _softplus_fwd(x, beta, threshold, saved):
    z = x * beta
    linear = z > threshold
    saved.values = z, linear
    soft = _softplus_array(z) / beta
    return _cast(np.where(linear, x, soft), x.dtype)


# ---- backward ops' forwards: g * f'(x) on arrays ----
def _leaky_relu_bwd_fwd(g, x, slope, saved):
    return _cast(np.where(saved.values, g, g * slope), g.dtype)


def _elu_bwd_fwd(g, x, alpha, saved):
    # alpha exp(x), not out + alpha: that cancels to 0 in float32 below x = -17 (torch keeps
    # 2e-9 at -20); NaN takes the slope 1, as torch (its test is x <= 0)
    with np.errstate(over="ignore"):
        slope = np.where(x <= 0, alpha * np.exp(np.minimum(x, 0)), 1.0)
    return g * _cast(slope, g.dtype)


def _gelu_bwd_fwd(g, x, approximate, saved):
    if approximate == "none":
        pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return g * _cast(saved.values + x * pdf, g.dtype)
    t = saved.values
    if kernel_arrays(g, x, t) and g.shape == x.shape:
        grad_in = result_array(g.shape, g.dtype)
        _C.gelu_tanh_backward(g, x, t, grad_in)
        return grad_in
    d_inner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_COEFF * x * x)
    return g * _cast(0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner, g.dtype)


def _silu_bwd_fwd(g, x, saved):
    s = saved.values
    return g * (s * (1.0 + x * (1.0 - s)))


def _softplus_bwd_fwd(g, x, beta, threshold, saved):
    z, linear = saved.values
    return g * _cast(np.where(linear, 1.0, _sigmoid_array(z)), g.dtype)


# ---- second derivatives f''(x) with registered ops (the backward ops' backward) ----
def _elu_second(x, alpha):  # alpha * exp(x) for x < 0, else 0 (torch masks with x < 0)
    negative = x < 0
    return A.where(negative, A.exp(A.where(negative, x, 0.0)) * alpha, 0.0)


def _gelu_second(x, approximate):
    x2 = x * x
    if approximate == "none":  # phi(x) * (2 - x^2)
        return A.exp(x2 * -0.5) * _INV_SQRT_2PI * (2.0 - x2)
    # with u = k (x + c x^3), t = tanh(u): (1 - t^2) (u' - x t u'^2 + 3 k c x^2)
    k, c = _SQRT_2_OVER_PI, _GELU_TANH_COEFF
    t = A.tanh((x + x2 * x * c) * k)
    du = (x2 * (3.0 * c) + 1.0) * k
    return (1.0 - t * t) * (du - x * t * du * du + x2 * (3.0 * k * c))


def _silu_second(x):  # s (1 - s) (2 + x (1 - 2 s))
    s = A.sigmoid(x)
    return s * (1.0 - s) * (x * (1.0 - s * 2.0) + 2.0)


def _softplus_second(x, beta, threshold):  # beta s (1 - s) with s = sigmoid(beta x), 0 if linear
    z = x * beta
    s = A.sigmoid(z)
    return A.where(z > threshold, 0.0, s * (1.0 - s) * beta)


def _activation(name, forward, backward_forward, second):
    """``name`` and ``name_backward`` ops: y = f(x); the backward op is g * f'(x), whose own
    backward is ``(g_backward(gg, x), gg * g * f''(x))`` (None for piecewise-linear f)."""
    def backward_backward(ctx, gg):
        g, x = ctx.inputs
        grad_g = backward_op.apply((gg, x), *ctx.args)
        if second is None or ctx.edges[1] is None:
            return grad_g, None
        return grad_g, gg * g * second(x, *ctx.args[:-1])

    backward_op = defop(f"{name}_backward", forward=backward_forward,
                        backward=backward_backward, saves=(0, 1))
    op = defop(name, forward=forward, saves=(0,),
               backward=lambda ctx, g: (backward_op.apply((g, ctx.inputs[0]), *ctx.args),))
    return op


leaky_relu_op = _activation("leaky_relu", _leaky_relu_fwd, _leaky_relu_bwd_fwd, None)
elu_op = _activation("elu", _elu_fwd, _elu_bwd_fwd, _elu_second)
gelu_op = _activation("gelu", _gelu_fwd, _gelu_bwd_fwd, _gelu_second)
silu_op = _activation("silu", _silu_fwd, _silu_bwd_fwd, _silu_second)
softplus_op = _activation("softplus", _softplus_fwd, _softplus_bwd_fwd, _softplus_second)


def _apply(op, input, inplace, *args):
    if inplace:
        return op.apply_inplace(input, (), *args, Saved())
    return op.apply((input,), *args, Saved())


def relu(input, inplace: bool = False):
    """max(x, 0); the gradient at 0 is 0 (torch's choice)."""
    check_float(input, "relu")
    return A.relu_op.apply_inplace(input, ()) if inplace else A.relu(input)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """x if x > 0 else negative_slope * x."""
    check_float(input, "leaky_relu")
    return _apply(leaky_relu_op, input, inplace, negative_slope)


def elu(input, alpha: float = 1.0, inplace: bool = False):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    check_float(input, "elu")
    return _apply(elu_op, input, inplace, alpha)


def gelu(input, approximate: str = "none"):
    """x * Phi(x) (``approximate='none'``) or its tanh approximation (``'tanh'``)."""
    check_float(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu(): approximate must be 'none' or 'tanh', got {approximate!r}")
    return _apply(gelu_op, input, False, approximate)


def silu(input, inplace: bool = False):
    """x * sigmoid(x)."""
    check_float(input, "silu")
    return _apply(silu_op, input, inplace)


@autocast_op("softplus")
def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + exp(beta * x)) / beta, or x where beta * x > threshold (as torch)."""
    check_float(input, "softplus")
    return _apply(softplus_op, input, False, beta, threshold)


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


@autocast_op("softmax")
def softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim`` (max-shifted, so large inputs do not overflow)."""
    _check_softmax_input(input, dtype, "softmax")
    if dim is None:
        dim = _softmax_dim(input.ndim, "softmax")
    if input.ndim == 0:
        return _core_act.softmax(input.reshape(1), 0, dtype).reshape(())
    return _core_act.softmax(input, dim, dtype)


@autocast_op("log_softmax")
def log_softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    """x - logsumexp(x) along ``dim``."""
    _check_softmax_input(input, dtype, "log_softmax")
    if dim is None:
        dim = _softmax_dim(input.ndim, "log_softmax")
    if input.ndim == 0:
        return _core_act.log_softmax(input.reshape(1), 0, dtype).reshape(())
    return _core_act.log_softmax(input, dim, dtype)


def _hardtanh_backward(ctx, g):
    # torch's hardtanh rule (relu6 is hardtanh(0, 6)): no gradient where x <= low or
    # x >= high (NaN passes it on: torch itself gives 0 or g at NaN depending on the element's
    # position)
    x = ctx.inputs[0]._data
    low, high = ctx.args
    return (A.where(A._wrap((x <= low) | (x >= high)), 0.0, g),)


hardtanh_op = defop("hardtanh",
                    forward=lambda d, low, high: np.clip(d, low, high).astype(d.dtype, copy=False),
                    backward=_hardtanh_backward, saves=(0,),
                    inplace=lambda d, low, high: np.clip(d, low, high, out=d))


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """min(max(x, min_val), max_val); no gradient at or beyond the bounds (torch's rule)."""
    check_float(input, "hardtanh")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    low, high = float(min_val), float(max_val)
    if inplace:
        return hardtanh_op.apply_inplace(input, (), low, high)
    return hardtanh_op.apply((input,), low, high)


def relu6(input, inplace: bool = False):
    """min(max(x, 0), 6); the gradient is 0 at 0 and 6 (torch's hardtanh rule)."""
    check_float(input, "relu6")
    if inplace:
        return hardtanh_op.apply_inplace(input, (), 0.0, 6.0)
    return hardtanh_op.apply((input,), 0.0, 6.0)
