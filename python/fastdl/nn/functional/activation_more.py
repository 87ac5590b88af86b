"""More activations (torch.nn.functional names and signatures): SELU/CELU (torch's scaled ELU),
Mish, Hardswish, Hardsigmoid, Hardshrink, Softshrink, LogSigmoid and Threshold are ops built
with activation.py's ``_activation`` (a fused array forward, a ``*_backward`` op with torch's
derivative, and its own second derivative); Tanhshrink, Softsign, Softmin, GLU and PReLU are
compositions of differentiable ops, as torch defines them. The ``*_`` functions are the
``inplace=True`` forms.
"""
from __future__ import annotations

import numpy as np

from fastdl.functional import arithmetic as A
from fastdl.functional import shape as S
from fastdl.nn.functional._checks import check_dim, check_float, check_tensor
from fastdl.nn.functional.activation import (_activation, _apply, _cast, _sigmoid_array,
                                             _softplus_array, elu,
                                             hardtanh, leaky_relu, relu, softmax, softplus)

# SELU's constants (Klambauer et al. 2017), to the digits torch uses
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ---- scaled ELU (torch's elu with scale and input_scale): SELU and CELU ----
# grad_input_scale is the input_scale the derivatives use: torch's derivative of celu takes
# 1 / alpha with alpha rounded to float32 (derivatives.yaml), its forward 1 / alpha in double
def _scaled_elu_fwd(x, alpha, scale, input_scale, grad_input_scale, saved):
    negative = (scale * alpha) * np.expm1(np.minimum(x, 0) * input_scale)
    return _cast(np.where(x > 0, x * scale, negative), x.dtype)


def _scaled_elu_bwd_fwd(g, x, alpha, scale, input_scale, grad_input_scale, saved):
    # alpha exp(x), not out + alpha, as elu's backward (no cancellation for x << 0)
    input_scale = grad_input_scale
    with np.errstate(over="ignore"):
        slope = np.where(x <= 0, (input_scale * scale * alpha)
                         * np.exp(np.minimum(x, 0) * input_scale), scale)
    return g * _cast(slope, g.dtype)


def _scaled_elu_second(x, alpha, scale, input_scale, grad_input_scale):  # torch masks x < 0
    input_scale = grad_input_scale
    negative = x < 0
    curvature = input_scale * input_scale * scale * alpha
    return A.where(negative, A.exp(A.where(negative, x, 0.0) * input_scale) * curvature, 0.0)


scaled_elu_op = _activation("scaled_elu", _scaled_elu_fwd, _scaled_elu_bwd_fwd,
                            _scaled_elu_second)


# ---- Mish: x tanh(softplus(x)) ----
def _mish_fwd(x, saved):
    t = saved.values = np.tanh(_softplus_array(x))
    with np.errstate(invalid="ignore"):  # -inf * tanh(0) is NaN, as in torch
        return _cast(x * t, x.dtype)


def _mish_bwd_fwd(g, x, saved):
    t = saved.values  # tanh(softplus(x)) from the forward (x is version-checked)
    with np.errstate(invalid="ignore"):
        return g * _cast(t + x * _sigmoid_array(x) * (1.0 - t * t), g.dtype)


def _mish_second(x):  # (1 - t^2) s (2 + x (1 - s) - 2 x t s), t = tanh(softplus(x)), s = sig(x)
    t = A.tanh(softplus(x))
    s = A.sigmoid(x)
    return (1.0 - t * t) * s * (x * (1.0 - s) - x * t * s * 2.0 + 2.0)


mish_op = _activation("mish", _mish_fwd, _mish_bwd_fwd, _mish_second)


# ---- Hardswish x relu6(x + 3) / 6 and Hardsigmoid relu6(x + 3) / 6 ----
def _hardswish_fwd(x, saved):
    return _cast(x * np.clip(x + 3.0, 0.0, 6.0) / 6.0, x.dtype)


def _hardswish_bwd_fwd(g, x, saved):
    # torch's slopes: 0 up to -3, x / 3 + 1/2 on (-3, 3), 1 from 3 on
    slope = np.where(x <= -3.0, 0.0, np.where(x < 3.0, x / 3.0 + 0.5, 1.0))
    return g * _cast(slope, g.dtype)


def _inside_open(x, low, high):
    return A.logical_and(x > low, x < high)


def _hardswish_second(x):  # 1/3 inside (-3, 3) in x's dtype (a bare 1/3 would be float32)
    return _inside_open(x, -3.0, 3.0).type_as(x) * (1.0 / 3.0)


def _hardsigmoid_fwd(x, saved):
    return _cast(np.clip(x + 3.0, 0.0, 6.0) / 6.0, x.dtype)


# torch's hardsigmoid backward multiplies by 1/6 rounded to float32, in float64 too
_HARDSIGMOID_SLOPE = float(np.float32(1.0 / 6.0))


def _hardsigmoid_bwd_fwd(g, x, saved):
    return g * _cast(np.where((x > -3.0) & (x < 3.0), _HARDSIGMOID_SLOPE, 0.0), g.dtype)


hardswish_op = _activation("hardswish", _hardswish_fwd, _hardswish_bwd_fwd, _hardswish_second)
hardsigmoid_op = _activation("hardsigmoid", _hardsigmoid_fwd, _hardsigmoid_bwd_fwd, None)


# ---- shrinks: 0 on [-lambd, lambd]; the gradient is 0 there, bounds included (torch's) ----
def _hardshrink_fwd(x, lambd, saved):
    return _cast(np.where((x >= -lambd) & (x <= lambd), 0.0, x), x.dtype)


def _softshrink_fwd(x, lambd, saved):
    # x * 0 in the zone keeps NaN (torch's kernel); outside it moves lambd towards 0
    shrunk = np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, x * 0.0))
    return _cast(shrunk, x.dtype)


def _shrink_bwd_fwd(g, x, lambd, saved):
    # the gradient passes only outside [-lambd, lambd]: 0 at NaN, as torch's vectorized loop
    # (its scalar tail passes it)
    return _cast(np.where((x > lambd) | (x < -lambd), g, 0.0), g.dtype)


hardshrink_op = _activation("hardshrink", _hardshrink_fwd, _shrink_bwd_fwd, None)
softshrink_op = _activation("softshrink", _softshrink_fwd, _shrink_bwd_fwd, None)


# ---- LogSigmoid: -softplus(-x), derivative sigmoid(-x) ----
def _logsigmoid_fwd(x, saved):
    return _cast(-_softplus_array(-x), x.dtype)


def _logsigmoid_bwd_fwd(g, x, saved):
    return g * _sigmoid_array(-x)


def _logsigmoid_second(x):
    s = A.sigmoid(x)
    return s * (s - 1.0)


logsigmoid_op = _activation("logsigmoid", _logsigmoid_fwd, _logsigmoid_bwd_fwd,
                            _logsigmoid_second)


# ---- Threshold: x if x > threshold else value (NaN stays NaN: torch tests x <= threshold) ----
def _threshold_fwd(x, threshold, value, saved):
    return _cast(np.where(x <= threshold, value, x), x.dtype)


def _threshold_bwd_fwd(g, x, threshold, value, saved):
    return _cast(np.where(x <= threshold, 0.0, g), g.dtype)


# "threshold_backward" is relu's op already
threshold_op = _activation("threshold_value", _threshold_fwd, _threshold_bwd_fwd, None)


# ---- public functions ----
def selu(input, inplace: bool = False):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)) with SELU's fixed alpha and scale.

    Shape: output the same shape as input.

    >>> [round(v, 4) for v in fastdl.selu(fastdl.tensor([-1.0, 0.0, 2.0])).tolist()]
    [-1.1113, 0.0, 2.1014]
    """
    check_float(input, "selu")
    return _apply(scaled_elu_op, input, inplace, SELU_ALPHA, SELU_SCALE, 1.0, 1.0)


def selu_(input):
    """selu written into ``input``.

    >>> x = fastdl.tensor([2.0]); fastdl.selu_(x) is x
    True
    """
    return selu(input, inplace=True)


def celu(input, alpha: float = 1.0, inplace: bool = False):
    """x if x > 0 else alpha * (exp(x / alpha) - 1).

    Shape: output the same shape as input.

    >>> [round(v, 4) for v in fastdl.celu(fastdl.tensor([-1.0, 3.0]), alpha=2.0).tolist()]
    [-0.7869, 3.0]
    """
    check_float(input, "celu")
    if alpha == 0:
        raise ValueError("celu(): alpha must not be 0 (the negative part divides by it)")
    return _apply(scaled_elu_op, input, inplace, float(alpha), 1.0, 1.0 / alpha,
                  1.0 / float(np.float32(alpha)))


def celu_(input, alpha: float = 1.0):
    """celu written into ``input``.

    >>> x = fastdl.tensor([3.0]); fastdl.celu_(x, 2.0).tolist()
    [3.0]
    """
    return celu(input, alpha, inplace=True)


def mish(input, inplace: bool = False):
    """x * tanh(softplus(x))."""
    check_float(input, "mish")
    return _apply(mish_op, input, inplace)


def hardswish(input, inplace: bool = False):
    """x * relu6(x + 3) / 6; the gradient is x / 3 + 1/2 on [-3, 3] (torch's)."""
    check_float(input, "hardswish")
    return _apply(hardswish_op, input, inplace)


def hardsigmoid(input, inplace: bool = False):
    """relu6(x + 3) / 6."""
    check_float(input, "hardsigmoid")
    return _apply(hardsigmoid_op, input, inplace)


def hardshrink(input, lambd: float = 0.5):
    """x where |x| > lambd, else 0.

    Shape: output the same shape as input.

    >>> fastdl.hardshrink(fastdl.tensor([-1.0, 0.25, 2.0])).tolist()
    [-1.0, 0.0, 2.0]
    >>> fastdl.tensor([0.75, -0.25]).hardshrink(0.5).tolist()
    [0.75, 0.0]
    """
    check_float(input, "hardshrink")
    return _apply(hardshrink_op, input, False, float(lambd))


def softshrink(input, lambd: float = 0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0."""
    check_float(input, "softshrink")
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return _apply(softshrink_op, input, False, float(lambd))


def tanhshrink(input):
    """x - tanh(x)."""
    check_float(input, "tanhshrink")
    return input - A.tanh(input)


def softsign(input):
    """x / (1 + |x|)."""
    check_float(input, "softsign")
    return input / (A.abs(input) + 1.0)


def logsigmoid(input):
    """log(sigmoid(x)), computed without overflow."""
    check_float(input, "logsigmoid")
    return _apply(logsigmoid_op, input, False)


def threshold(input, threshold: float, value: float, inplace: bool = False):
    """x where x > threshold, else value.

    Shape: output the same shape as input.

    >>> fastdl.threshold(fastdl.tensor([0.5, 2.0]), 1.0, -1.0).tolist()
    [-1.0, 2.0]
    """
    check_float(input, "threshold")
    return _apply(threshold_op, input, inplace, float(threshold), float(value))


_threshold = threshold  # threshold_'s own argument named threshold hides the function


def threshold_(input, threshold: float, value: float):
    """threshold written into ``input``.

    >>> x = fastdl.tensor([0.5, 2.0]); fastdl.threshold_(x, 1.0, 0.0) is x, x.tolist()
    (True, [0.0, 2.0])
    """
    return _threshold(input, threshold, value, inplace=True)


def relu_(input):
    return relu(input, inplace=True)


def elu_(input, alpha: float = 1.0):
    return elu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope: float = 0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val: float = -1.0, max_val: float = 1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def softmin(input, dim=None, _stacklevel: int = 3, dtype=None):
    """softmax(-x) along ``dim``."""
    check_tensor(input, "softmin")
    return softmax(-input, dim, _stacklevel, dtype)


def glu(input, dim: int = -1):
    """a * sigmoid(b), where a and b are the halves of ``input`` along ``dim``."""
    check_float(input, "glu")
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    dim = check_dim(dim, input.ndim, "glu")
    size = input.shape[dim]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim} is size {size}")
    half = size // 2
    return S.narrow(input, dim, 0, half) * A.sigmoid(S.narrow(input, dim, half, half))


def prelu(input, weight):
    """x if x > 0 else weight * x, with one weight per channel (dim 1 of the input) or a single
    weight shared by all.

    Shape: input (N, C, *) or any shape with one weight; weight (C,), (1,) or ().

    >>> fastdl.prelu(fastdl.tensor([[-1.0, -1.0], [2.0, -4.0]]), fastdl.tensor([0.5, 0.25])).tolist()
    [[-0.5, -0.25], [2.0, -1.0]]
    >>> fastdl.tensor([-2.0, 3.0]).prelu(fastdl.tensor([0.5])).tolist()
    [-1.0, 3.0]
    """
    check_float(input, "prelu")
    check_tensor(weight, "prelu", "weight")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    if weight.numel() != 1:
        if input.ndim == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = input.shape[1] if input.ndim >= 2 else 1
        if weight.numel() != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {weight.numel()} and channel size = "
                               f"{channels}.")
    if input.ndim == 0:
        slope = weight.reshape(())
    elif weight.ndim == 0:
        slope = weight
    else:  # weight along the channel dim, broadcast over the rest
        channel_dim = 0 if input.ndim == 1 else 1
        shape = [1] * input.ndim
        shape[channel_dim] = weight.numel()
        slope = weight.reshape(tuple(shape))
    return A.where(input > 0, input, input * slope)
