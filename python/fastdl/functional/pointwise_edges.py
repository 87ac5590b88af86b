"""Pointwise functions whose gradient torch gives by a formula of its own (derivatives.yaml),
which the chain rule through a composition does not reproduce at edge values: zeros, infinities,
NaN, points outside the domain. copysign, hypot, logaddexp (and logaddexp2), xlogy (and the op of
special.xlog1py), sinc and logit.

Each but logit and logaddexp2 is a registered op whose backward is torch's formula written with
registered ops (so double backward works); logit is composed, its edge values picked by masks.
"""
from __future__ import annotations

import math

import numpy as np

from fastdl.autograd.op import defop
from fastdl.functional import arithmetic as A
from fastdl.functional._core import Tensor, grad_for, promote_pair, torch_dtype_name, zeros_like
from fastdl._argcheck import check_tensor_arg
from fastdl.functional.composites import _float_pair, _floating


def _quiet(backward):
    """backward without numpy's warnings: torch's formulas take 0 / 0, inf - inf and exp of a
    large difference at edge values on purpose (NaN, 0 are their gradient there), and torch
    says nothing."""
    def run(ctx, g):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return backward(ctx, g)
    return run


def _plus(t, s):
    return A.add_scalar_op.apply((t,), s)


def _times(t, s):
    return A.mul_scalar_op.apply((t,), s)


# ---- copysign ---------------------------------------------------------------------------------
@_quiet
def _copysign_backward(ctx, g):
    (a, b), y = ctx.inputs, ctx.output
    wants_a, wants_b = ctx.edges
    # torch's copysign_tensor_self_backward: grad * result / input, 0 where input is 0 (so NaN
    # at an infinite or NaN input); other gets zeros
    ratio = A.where(a == 0, 0.0, A.div(y, a))
    return (None if wants_a is None else grad_for(A.mul(g, ratio), a),
            None if wants_b is None else zeros_like(b))


_copysign_op = defop("copysign", forward=np.copysign, backward=_copysign_backward, saves=(0,),
                     saves_output=True)


def copysign(input, other):
    """``|input|`` with the sign of ``other`` (-0.0 counts as negative). The gradient goes to
    input only: ``grad * result / input``, 0 where input is 0 (NaN where it is infinite or
    NaN), as torch's.

    Shape: input and other broadcast together (float).

    >>> fastdl.copysign(fastdl.tensor([1.0, -2.0, 3.0]), fastdl.tensor([-0.0, 1.0, -1.0])).tolist()
    [-1.0, 2.0, -3.0]
    """
    return _copysign_op.apply(_float_pair("copysign", input, other))


# ---- hypot ------------------------------------------------------------------------------------
@_quiet
def _hypot_backward(ctx, g):
    (a, b), y = ctx.inputs, ctx.output
    wants_a, wants_b = ctx.edges
    # torch's: grad * input / result for each (0 / 0 = NaN at the origin)
    return (None if wants_a is None else grad_for(A.div(A.mul(g, a), y), a),
            None if wants_b is None else grad_for(A.div(A.mul(g, b), y), b))


_hypot_op = defop("hypot", forward=np.hypot, backward=_hypot_backward, saves=(0, 1),
                  saves_output=True)


def hypot(input, other):
    """``sqrt(input**2 + other**2)`` elementwise (float tensors), without overflow or
    underflow of the squares; inf if either is infinite, even with a NaN. The gradient is
    torch's ``grad * input / result`` (NaN at the origin).

    Shape: input and other broadcast together.

    >>> fastdl.hypot(fastdl.tensor([3.0]), fastdl.tensor([4.0])).tolist()
    [5.0]
    """
    check_tensor_arg(input, "hypot")
    check_tensor_arg(other, "hypot", "other", 2)
    a, b = promote_pair(input, other)
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"hypot(): expected floating point tensors, got {a._data.dtype}")
    return _hypot_op.apply((a, b))


# ---- logaddexp --------------------------------------------------------------------------------
@_quiet
def _logaddexp_backward(ctx, g):
    a, b = ctx.inputs
    wants_a, wants_b = ctx.edges
    # torch's: grad / (1 + exp(other - input)) and its mirror (NaN where both are the same
    # infinity, 0 and grad where they are opposite infinities)
    return (None if wants_a is None else grad_for(A.div(g, _plus(A.exp(A.sub(b, a)), 1.0)), a),
            None if wants_b is None else grad_for(A.div(g, _plus(A.exp(A.sub(a, b)), 1.0)), b))


def _logaddexp_forward(a, b):
    with np.errstate(invalid="ignore"):  # inf and -inf: numpy warns, torch does not
        return np.logaddexp(a, b)


_logaddexp_op = defop("logaddexp", forward=_logaddexp_forward, backward=_logaddexp_backward,
                      saves=(0, 1))


def logaddexp(input, other):
    """``log(exp(input) + exp(other))`` without overflow (float tensors; both must be
    tensors, as in torch).

    Shape: input and other broadcast together.

    >>> round(fastdl.logaddexp(fastdl.tensor([1000.0]), fastdl.tensor([1000.0])).item(), 2)
    1000.69
    """
    check_tensor_arg(input, "logaddexp")
    check_tensor_arg(other, "logaddexp", "other", 2)
    a, b = promote_pair(input, other)
    if a._data.dtype.kind != "f":
        raise NotImplementedError(
            f"\"logaddexp_cpu\" not implemented for '{torch_dtype_name(a._data.dtype)}'")
    return _logaddexp_op.apply((a, b))


def logaddexp2(input, other):
    """``log2(2**input + 2**other)`` without overflow.

    Shape: input and other broadcast together.

    >>> fastdl.logaddexp2(fastdl.tensor([3.0]), fastdl.tensor([3.0])).tolist()
    [4.0]
    """
    check_tensor_arg(input, "logaddexp2")
    check_tensor_arg(other, "logaddexp2", "other", 2)
    a, b = _float_pair("logaddexp2", input, other)
    ln2 = float(np.log(2.0))
    return A.div(logaddexp(A.mul(a, ln2), A.mul(b, ln2)), ln2)


# ---- x * log(y) and x * log1p(y) ----------------------------------------------------------------
def x_times_log_op(name, log_array, shift):
    """The op for ``x * log(y + shift)`` (xlogy: shift 0, np.log; xlog1py: shift 1, np.log1p):
    0 where x is 0 unless y is NaN. torch's gradients: ``op(grad, y)`` for x (the op itself, so
    a zero grad gives 0 even where the log is infinite), 0 where x == 0 and y <= -shift (where
    the value is that 0); ``grad * x / (y + shift)`` for y."""
    def forward(x, y):
        with np.errstate(all="ignore"):
            out = x * log_array(y)
        return np.where((x == 0) & ~np.isnan(y), 0.0, out).astype(out.dtype, copy=False)

    @_quiet
    def backward(ctx, g):
        x, y = ctx.inputs
        wants_x, wants_y = ctx.edges
        gx = gy = None
        if wants_x is not None:
            gx = grad_for(A.where((x == 0) & (y <= -shift), 0.0, op.apply((g, y))), x)
        if wants_y is not None:
            gy = grad_for(A.div(A.mul(g, x), _plus(y, float(shift)) if shift else y), y)
        return gx, gy

    op = defop(name, forward=forward, backward=backward, saves=(0, 1))
    return op


_xlogy_op = x_times_log_op("xlogy", np.log, 0)


def xlogy(input, other):
    """``input * log(other)``, 0 where input is 0 (unless other is NaN). The gradients are
    torch's: ``log(other)`` for input (0 where input == 0 and other <= 0) and
    ``input / other`` for other (NaN where both are 0).

    Shape: input and other broadcast together.

    >>> fastdl.xlogy(fastdl.tensor([0.0, 2.0]), fastdl.tensor([0.0, 1.0])).tolist()
    [0.0, 0.0]
    """
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("xlogy(): expected at least one Tensor argument")
    x, y = promote_pair(input, other)
    return _xlogy_op.apply((_floating(x), _floating(y)))


# ---- sinc -------------------------------------------------------------------------------------
def _sinc_forward(d):
    u = d * d.dtype.type(np.pi)  # pi in input's dtype, as torch's kernel
    with np.errstate(all="ignore"):
        out = np.sin(u) / u
    return np.where(d == 0, 1.0, out).astype(d.dtype, copy=False)


# sinc'(x) = pi^2 x sum_k>=1 (-1)^k 2k (pi x)^(2k-2) / (2k+1)!, used for |pi x| < 1/2 (7 terms:
# the next is < 3e-17 of the first), where the closed form cancels
_SINC_SLOPE_SERIES = tuple((-1) ** k * 2 * k / math.factorial(2 * k + 1) for k in range(1, 8))
_SINC_SERIES_END = 0.5 / math.pi


def _sinc_slope(x):
    small = A.abs(x) < _SINC_SERIES_END
    xs = A.where(small, x, 0.0)
    v = _times(A.mul(xs, xs), float(np.pi ** 2))
    acc = _plus(_times(v, _SINC_SLOPE_SERIES[-1]), _SINC_SLOPE_SERIES[-2])
    for c in reversed(_SINC_SLOPE_SERIES[:-2]):
        acc = _plus(A.mul(acc, v), c)
    series = _times(A.mul(xs, acc), float(np.pi ** 2))
    # elsewhere torch's (pi x cos(pi x) - sin(pi x)) / (pi x^2), as (cos(pi x) - sinc(x)) / x
    xl = A.where(small, 1.0, x)
    u = _times(xl, float(np.pi))
    closed = A.div(A.sub(A.cos(u), A.div(A.sin(u), u)), xl)
    return A.where(small, series, closed)


_sinc_op = defop("sinc", forward=_sinc_forward, saves=(0,), float_only=True,
                 backward=_quiet(lambda ctx, g: (A.mul(g, _sinc_slope(ctx.inputs[0])),)))


def sinc(input):
    """The normalized sinc, ``sin(pi x) / (pi x)``, and 1 at 0. The gradient is torch's
    ``(pi x cos(pi x) - sin(pi x)) / (pi x^2)`` (0 at 0), from its Taylor series for
    |pi x| < 1/2, where that form loses its digits to cancellation (1% at x = 1e-3 in float32).

    Shape: input's.

    >>> fastdl.sinc(fastdl.tensor([0.0, 1.0, 0.5])).tolist()[0], round(fastdl.sinc(fastdl.tensor(0.5)).item(), 4)
    (1.0, 0.6366)
    """
    check_tensor_arg(input, "sinc")
    return _sinc_op.unary(_floating(input))


# ---- logit ------------------------------------------------------------------------------------
def logit(input, eps=None):
    """``log(p / (1 - p))``; with ``eps >= 0``, p is input clamped to ``[eps, 1 - eps]`` as
    torch clamps it (below eps -> eps, else above 1 - eps -> 1 - eps: for eps > 0.5 every
    value becomes one of the two), the gradient 0 where it was clamped; a negative eps is
    none. Without eps the value and the gradient are NaN outside [0, 1], as torch's.

    Shape: input's.

    >>> round(fastdl.logit(fastdl.tensor([0.75])).item(), 4)
    1.0986
    """
    check_tensor_arg(input, "logit")
    p = _floating(input)
    if eps is not None and eps >= 0:
        lo, hi = float(eps), 1.0 - float(eps)
        p = A.where(p < lo, lo, A.where(p > hi, hi, p))
        return A.sub(A.log(p), A.log1p(A.neg(p)))
    outside = (p < 0) | (p > 1)
    inside = A.where(outside, 0.5, p)
    # + p * (NaN outside, 0 inside): NaN value and gradient exactly outside (a where would
    # send its zero gradient through the NaN branch, 0 * NaN, everywhere)
    nan_outside = A.where(outside, float("nan"), zeros_like(p))
    return A.add(A.sub(A.log(inside), A.log1p(A.neg(inside))), A.mul(p, nan_outside))
