"""Elementwise arithmetic with broadcasting, comparisons, and elementwise math functions.

Each differentiable op is one ``defop`` declaration (see ``fastdl.autograd.op``): forward on
arrays, backward as a formula over registered ops. Tensor-tensor and tensor-scalar forms are
separate ops (PyTorch's ``.Tensor`` / ``.Scalar`` overloads), so a scalar never becomes a graph
input. The public functions apply torch's type promotion and pick the op.
"""
from __future__ import annotations

import math

import numpy as np

from fastdl.amp._dispatch import autocast_op
from fastdl import _C
from fastdl.autograd.op import defop
from fastdl.backend import kernel_arrays
from fastdl.functional._core import (Tensor, _wrap, as_tensor_arg, grad_for, promote,
                                     promote_pair, xp_of, zeros_like)
from fastdl.tensor import float32, int64


def _zero_backward(ctx, g):
    """Piecewise-constant ops (sign, rounding, floor division): like torch, the result stays in
    the graph with a zero gradient for every input."""
    return tuple(zeros_like(t) for t in ctx.inputs)


def _float_only(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): expected a Tensor, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        from fastdl.functional.conversion import to
        return to(x, float32)
    return x


# ---- add, sub, mul, div ----
# alpha (add(a, b, alpha=2)) scales b with mul_scalar first, so add and sub are plain ufuncs.
def _add_backward(ctx, g):
    a, b = ctx.inputs
    return grad_for(g, a), grad_for(g, b)


add_op = defop("add", forward=np.add, backward=_add_backward,
               inplace=lambda a, b: np.add(a, b, out=a, casting="same_kind"))


def _sub_backward(ctx, g):
    a, b = ctx.inputs
    return grad_for(g, a), grad_for(neg(g), b)


sub_op = defop("sub", forward=np.subtract, backward=_sub_backward,
               inplace=lambda a, b: np.subtract(a, b, out=a, casting="same_kind"))
add_scalar_op = defop("add_scalar", forward=lambda a, s: a + s, backward=lambda ctx, g: (g,),
                      inplace=lambda a, s: np.add(a, s, out=a, casting="same_kind"))


def _mul_backward(ctx, g):
    a, b = ctx.inputs
    wants_a, wants_b = ctx.edges
    return (None if wants_a is None else grad_for(mul(g, b), a),
            None if wants_b is None else grad_for(mul(g, a), b))


mul_op = defop("mul", forward=np.multiply, backward=_mul_backward,
               saves={0: (1,), 1: (0,)},  # each factor is read for the other's gradient
               inplace=lambda a, b: np.multiply(a, b, out=a, casting="same_kind"))
mul_scalar_op = defop("mul_scalar", forward=lambda a, s: a * s,
                      backward=lambda ctx, g: (mul_scalar_op.apply((g,), ctx.args[0]),),
                      inplace=lambda a, s: np.multiply(a, s, out=a, casting="same_kind"))


def _div_backward(ctx, g):
    a, b = ctx.inputs
    wants_a, wants_b = ctx.edges
    return (None if wants_a is None else grad_for(div(g, b), a),
            None if wants_b is None else grad_for(neg(div(mul(g, a), mul(b, b))), b))


div_op = defop("div", forward=np.true_divide, backward=_div_backward,
               saves={0: (1,), 1: (0, 1)},
               inplace=lambda a, b: np.true_divide(a, b, out=a, casting="same_kind"))


def _rdiv_scalar_backward(ctx, g):  # d(s / x) = -s / x^2 = -out / x
    (x,) = ctx.inputs
    return (neg(div(mul(g, ctx.output), x)),)


rdiv_scalar_op = defop("rdiv_scalar", forward=lambda a, s: s / a, backward=_rdiv_scalar_backward,
                       saves=(0,), saves_output=True)


def _is_scalar(v):
    t = type(v)
    return t is float or t is int or t is bool


def _scalar_operand(x, s):
    """``x`` cast as torch does next to a Python scalar: a float scalar makes integer and bool
    tensors float32; an int scalar makes a bool tensor int64."""
    k = x._data.dtype.kind
    if type(s) is float and k != "f":
        return x.to(float32)
    if type(s) is int and k == "b":
        return x.to(int64)
    return x


_BOOL_ALPHA = "Boolean alpha only supported for Boolean results."
_FLOAT_ALPHA = "For integral input tensors, argument alpha must not be a floating point number."


def checked_alpha(dtype, alpha):
    """alpha after torch's checks against the result dtype: a bool alpha only for a bool
    result, no float alpha for an integral one; a bool result takes alpha as a bool (its
    add is a logical or, so alpha=-1 or 2 means True there)."""
    if isinstance(alpha, (bool, np.bool_)):
        if dtype != np.bool_:
            raise RuntimeError(_BOOL_ALPHA)
    elif dtype.kind not in "fc" and not isinstance(alpha, (int, np.integer)):
        raise RuntimeError(_FLOAT_ALPHA)
    return bool(alpha) if dtype == np.bool_ else alpha


def scale_scalar(s, alpha):
    """``s * alpha`` for a Python scalar s, kept a bool when both are (True * True is 1)."""
    return (bool(s) and alpha) if type(s) is bool and type(alpha) is bool else s * alpha


def _plain_alpha(alpha) -> bool:
    return alpha.__class__ is int and alpha == 1


def add(input, other, *, alpha=1):
    plain = _plain_alpha(alpha)
    if other.__class__ is Tensor and input.__class__ is Tensor and plain and \
            input._data.dtype == other._data.dtype:
        return add_op.binary(input, other)
    if isinstance(input, Tensor) and _is_scalar(other):
        x = _scalar_operand(input, other)
        if not plain:
            other = scale_scalar(other, checked_alpha(x._data.dtype, alpha))
        return add_scalar_op.unary(x, other)
    a, b = promote_pair(input, other)
    if not plain:
        alpha = checked_alpha(a._data.dtype, alpha)
    return add_op.binary(a, b if alpha == 1 else mul(b, alpha))


_SUB_TWO_BOOLS = ("Subtraction, the `-` operator, with two bool tensors is not supported. Use "
                  "the `^` or `logical_xor()` operator instead.")
_SUB_BOOL = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
             "trying to invert a mask, use the `~` or `logical_not()` operator instead.")
_NEG_BOOL = ("Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
             "to invert a mask, use the `~` or `logical_not()` operator instead.")


def _is_bool(x):
    return type(x) is bool or isinstance(x, Tensor) and x._data.dtype == np.bool_


def check_sub_operands(a, b):
    """torch refuses subtraction with any bool operand (a Python bool included), whatever
    the other one is, rather than promoting."""
    bool_a, bool_b = _is_bool(a), _is_bool(b)
    if bool_a or bool_b:
        raise RuntimeError(_SUB_TWO_BOOLS if bool_a and bool_b else _SUB_BOOL)


def sub(input, other, *, alpha=1):
    check_sub_operands(input, other)
    plain = _plain_alpha(alpha)
    if isinstance(input, Tensor) and _is_scalar(other):
        x = _scalar_operand(input, other)
        if not plain:
            alpha = checked_alpha(x._data.dtype, alpha)
        return add_scalar_op.apply((x,), -other * alpha)
    a, b = promote_pair(input, other)
    if not plain:
        alpha = checked_alpha(a._data.dtype, alpha)
    return sub_op.binary(a, b if alpha == 1 else mul(b, alpha))


def rsub(input, other, *, alpha=1):
    """``other - alpha * input``.

    Shape: input and other broadcast together.

    >>> fastdl.rsub(fastdl.tensor([1, 2]), 10).tolist()
    [9, 8]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"rsub(): input must be a Tensor, got {type(input).__name__}")
    check_sub_operands(other, input)
    if isinstance(other, Tensor):
        return sub(other, input, alpha=alpha)
    if not _plain_alpha(alpha):
        from fastdl.functional.toplevel_utils import result_type
        alpha = checked_alpha(result_type(input, other), alpha)
    return add(neg(input) if alpha == 1 else mul(input, -alpha), other)


def mul(input, other):
    if other.__class__ is Tensor and input.__class__ is Tensor and \
            input._data.dtype == other._data.dtype:
        return mul_op.binary(input, other)
    if isinstance(input, Tensor) and _is_scalar(other):
        return mul_scalar_op.unary(_scalar_operand(input, other), other)
    a, b = promote_pair(input, other)
    return mul_op.apply((a, b))


def div(input, other, *, rounding_mode=None):
    if rounding_mode is not None:
        if rounding_mode == "floor":
            return floor_divide(input, other)
        if rounding_mode == "trunc":
            a, b = promote_pair(input, other)
            return trunc_divide_op.apply((a, b))
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    if isinstance(input, Tensor) and _is_scalar(other):
        x = input if input._data.dtype.kind == "f" else input.to(float32)
        return mul_scalar_op.apply((x,), 1.0 / other) if other != 0 and type(other) is not bool \
            else div_scalar_op.apply((x,), other)
    a, b = promote_pair(input, other)
    if a._data.dtype.kind != "f":  # true division of integers gives float32 in torch
        a, b = a.to(float32), b.to(float32)
    return div_op.apply((a, b))


div_scalar_op = defop("div_scalar", forward=lambda a, s: a / s,
                      backward=lambda ctx, g: (div_scalar_op.apply((g,), ctx.args[0]),),
                      inplace=lambda a, s: np.true_divide(a, s, out=a, casting="same_kind"))


def rdiv(input, other):
    """``other / input``."""
    if _is_scalar(other):
        x = input if input._data.dtype.kind == "f" else input.to(float32)
        return rdiv_scalar_op.apply((x,), other)
    return div(other, input)


def _check_integer_divisor(b, name):
    """Integer division by zero raises like torch's ("ZeroDivisionError"), instead of numpy's
    warning and a 0."""
    if b.dtype.kind in "iub" and not b.all():
        raise RuntimeError(f"{name}: ZeroDivisionError (integer division by zero; the divisor "
                           f"of shape {tuple(b.shape)} and dtype {b.dtype} has a 0)")


def _floor_divide_forward(a, b):
    _check_integer_divisor(b, "floor_divide")
    return np.floor_divide(a, b)


def _remainder_forward(a, b):
    _check_integer_divisor(b, "remainder")
    return np.remainder(a, b)


def _trunc_divide_forward(a, b):
    _check_integer_divisor(b, "div(rounding_mode='trunc')")
    q = np.trunc(np.true_divide(a, b))
    return q.astype(a.dtype) if a.dtype.kind != "f" else q


trunc_divide_op = defop("trunc_divide", forward=_trunc_divide_forward, backward=_zero_backward)
floor_divide_op = defop("floor_divide", forward=_floor_divide_forward, backward=_zero_backward)


def floor_divide(input, other):
    a, b = promote_pair(input, other)
    return floor_divide_op.apply((a, b))


def _remainder_backward(ctx, g):
    a, b = ctx.inputs
    return grad_for(g, a), grad_for(mul(neg(g), floor_divide(a, b)), b)


remainder_op = defop("remainder", forward=_remainder_forward, backward=_remainder_backward,
                     saves=(0, 1))


def remainder(input, other):
    """Python-style remainder (sign of the divisor); gradient 1 w.r.t. input, like torch.

    Shape: input and other broadcast together.

    >>> fastdl.remainder(fastdl.tensor([-1, 5]), 3).tolist()
    [2, 2]
    """
    a, b = promote_pair(input, other)
    return remainder_op.apply((a, b))


def _fmod_forward(a, b):
    _check_integer_divisor(b, "fmod")
    with np.errstate(invalid="ignore"):  # a float x % 0 is NaN, as torch's, without a warning
        return np.fmod(a, b)


def _fmod_backward(ctx, g):
    a, b = ctx.inputs
    wants_a, wants_b = ctx.edges
    return (None if wants_a is None else grad_for(g, a),
            None if wants_b is None else
            grad_for(mul(neg(g), trunc_divide_op.apply((a, b))), b))


fmod_op = defop("fmod", forward=_fmod_forward, backward=_fmod_backward,
                saves={0: (1,), 1: (1,)})  # both are read for other's gradient only


def fmod(input, other):
    """C-style remainder ``input - trunc(input / other) * other``: the sign of the dividend
    (``remainder`` takes the divisor's). Gradient 1 for input, ``-trunc(input / other)`` for
    other, like torch; an integer divisor of 0 raises, a float one gives NaN.

    Shape: input and other (a tensor or a number) broadcast together.

    >>> fastdl.fmod(fastdl.tensor([-3, 3]), 2).tolist()
    [-1, 1]
    >>> fastdl.tensor([-3.5, 3.5]).fmod(fastdl.tensor([2.0, -2.0])).tolist()
    [-1.5, 1.5]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"fmod(): input must be a Tensor, got {type(input).__name__}")
    a, b = promote_pair(input, other)
    return fmod_op.apply((a, b))


def _negative(d):
    if d.dtype == np.bool_:  # numpy says TypeError; torch RuntimeError, with its own words
        raise RuntimeError(_NEG_BOOL)
    return np.negative(d)


neg_op = defop("neg", forward=_negative, backward=lambda ctx, g: (neg(g),))


def neg(input):
    return neg_op.apply((input,))


# ---- powers ----
def _pow_scalar_backward(ctx, g):
    (a,) = ctx.inputs
    e = ctx.args[0]
    if e == 0:
        return (zeros_like(g),)
    return (grad_for(mul_scalar_op.apply((mul(g, pow_scalar_op.apply((a,), e - 1)),), e), a),)


def _pow_scalar_forward(a, e):
    if isinstance(e, int) and e < 0 and a.dtype.kind in "iu":
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return a ** e


pow_scalar_op = defop("pow_scalar", forward=_pow_scalar_forward, backward=_pow_scalar_backward,
                      saves=(0,))


def _pow_backward(ctx, g):
    a, b = ctx.inputs
    ga = gb = None
    if ctx.edges[0] is not None:  # torch: 0 where the exponent is 0 (even for a base of 0)
        ga = grad_for(where(b == 0, 0.0, mul(g, mul(b, pow(a, sub(b, 1))))), a)
    if ctx.edges[1] is not None:
        # d/db a**b = a**b * log(a); torch defines it as 0 where a == 0 and b >= 0
        safe = where((a == 0) & (b >= 0), 1.0, a)
        gb = grad_for(mul(mul(g, ctx.output), log(safe)), b)
    return ga, gb


def _pow_forward(a, b):
    return _int_power(a, b) if b.dtype.kind in "iub" else np.power(a, b)


pow_op = defop("pow", forward=_pow_forward, backward=_pow_backward, saves=(0, 1),
               saves_output=True)


@autocast_op("pow")
def pow(input, exponent):
    if not isinstance(input, Tensor):
        return _rpow(input, exponent)
    if _is_scalar(exponent):
        return pow_scalar_op.apply((_scalar_operand(input, exponent),), exponent)
    a, b = promote_pair(input, exponent)
    return pow_op.apply((a, b))


def _int_power(base, exp):
    """Integer ``base ** exp`` as torch computes it: a negative exponent gives 0, except for the
    bases 1 and -1 (numpy refuses negative integer exponents)."""
    if exp.size == 0 or exp.min() >= 0:
        return np.power(base, exp)
    pos = np.power(base, np.maximum(exp, 0))
    unit = np.where(base == 1, 1, np.where(base == -1, 1 - 2 * (exp & 1), 0))
    return np.where(exp < 0, unit, pos).astype(pos.dtype, copy=False)


def _rpow_forward(e, base):
    return _int_power(base, e) if e.dtype.kind in "iu" else np.power(base, e)


def _rpow_backward(ctx, g):
    base = ctx.args[0]
    with np.errstate(divide="ignore"):
        log_base = float(np.log(base))
    grad = mul_scalar_op.apply((mul(g, ctx.output),), log_base)
    if base == 0:  # torch: no gradient where 0 ** e is finite (e >= 0), not 0 * -inf = NaN
        return (where(ctx.inputs[0] >= 0, 0.0, grad),)
    return (grad,)


rpow_scalar_op = defop("rpow_scalar", forward=_rpow_forward, backward=_rpow_backward,
                       saves=(0,), saves_output=True)


def _rpow(base, exponent):
    """``base ** exponent`` with a scalar base and a tensor exponent."""
    if not isinstance(exponent, Tensor):
        raise TypeError(f"pow(): expected a Tensor base or exponent, got "
                        f"{type(base).__name__} and {type(exponent).__name__}")
    e = exponent.to(float32) if isinstance(base, float) and exponent._data.dtype.kind != "f" \
        else exponent
    return rpow_scalar_op.apply((e,), base)


# ---- unary float functions: y = f(x), dy/dx from registered ops ----
def _unary(name, fwd, grad_rule, saves_input=True, saves_output=False):
    """``grad_rule(g, x, y)`` gives the input gradient (``x``/``y`` are None unless saved)."""

    def backward(ctx, g):
        x = ctx.inputs[0] if saves_input else None
        y = ctx.output if saves_output else None
        return (grad_rule(g, x, y),)

    op_def = defop(name, forward=fwd, backward=backward, saves=(0,) if saves_input else (),
                   saves_output=saves_output, float_only=True)

    def op(input):
        return op_def.unary(_float_only(input, name))

    op.__name__ = name
    op.op = op_def
    return op


def _scaled(t, s):
    return mul_scalar_op.apply((t,), s)


exp = _unary("exp", np.exp, lambda g, x, y: mul(g, y), False, True)
expm1 = _unary("expm1", np.expm1, lambda g, x, y: mul(g, add_scalar_op.apply((y,), 1.0)),
               False, True)
log = _unary("log", np.log, lambda g, x, y: div(g, x))
log2 = _unary("log2", np.log2, lambda g, x, y: div(g, _scaled(x, math.log(2.0))))
log10 = _unary("log10", np.log10, lambda g, x, y: div(g, _scaled(x, math.log(10.0))))
log1p = _unary("log1p", np.log1p, lambda g, x, y: div(g, add_scalar_op.apply((x,), 1.0)))
sqrt = _unary("sqrt", np.sqrt, lambda g, x, y: div(g, _scaled(y, 2.0)), False, True)
rsqrt = _unary("rsqrt", lambda d: 1.0 / np.sqrt(d),
               lambda g, x, y: _scaled(mul(g, pow_scalar_op.apply((y,), 3)), -0.5), False, True)
sin = _unary("sin", np.sin, lambda g, x, y: mul(g, cos(x)))
cos = _unary("cos", np.cos, lambda g, x, y: neg(mul(g, sin(x))))
tan = _unary("tan", np.tan, lambda g, x, y: mul(g, add_scalar_op.apply((mul(y, y),), 1.0)),
             False, True)
tanh = _unary("tanh", np.tanh, lambda g, x, y: mul(g, rsub(mul(y, y), 1.0)), False, True)
reciprocal = _unary("reciprocal", np.reciprocal, lambda g, x, y: neg(mul(g, mul(y, y))),
                    False, True)
_float_square = _unary("square", np.square, lambda g, x, y: mul(g, _scaled(x, 2.0)))
# torch's CUDA autocast runs these in float32 (fastdl/amp/policies.py)
exp, expm1, log, log2, log10 = (autocast_op(n)(f) for n, f in (
    ("exp", exp), ("expm1", expm1), ("log", log), ("log2", log2), ("log10", log10)))
log1p, rsqrt, tan, reciprocal = (autocast_op(n)(f) for n, f in (
    ("log1p", log1p), ("rsqrt", rsqrt), ("tan", tan), ("reciprocal", reciprocal)))


def square(input):
    """``input * input``; integer tensors stay integer, bool becomes int64 (torch's rules).

    Shape: input's.

    >>> fastdl.square(fastdl.tensor([2, -3])).tolist()
    [4, 9]
    """
    k = input._data.dtype.kind
    if k == "f":
        return _float_square(input)
    d = input._data.astype(np.int64) if k == "b" else input._data
    return _wrap(d * d)


def _sigmoid_array(d):
    # exp(-softplus(-x)) stays accurate for large |x| (1/(1+exp(-x)) overflows in exp)
    return np.exp(-np.logaddexp(0, -d)).astype(d.dtype, copy=False)


sigmoid = _unary("sigmoid", _sigmoid_array, lambda g, x, y: mul(g, mul(y, rsub(y, 1.0))),
                 False, True)

abs_op = defop("abs", forward=np.abs, backward=lambda ctx, g: (mul(g, sign(ctx.inputs[0])),),
               saves=(0,))


def abs(input):
    return abs_op.apply((input,))


def _sign_forward(d):
    if d.dtype.kind == "b":
        return d.copy()
    out = np.asarray(np.sign(d))
    if d.dtype.kind == "f":
        out[d != d] = 0  # torch: sign(nan) = 0
    return out


sign_op = defop("sign", forward=_sign_forward, backward=_zero_backward)


def sign(input):
    return sign_op.apply((input,))


floor_op = defop("floor", forward=np.floor, backward=_zero_backward)
ceil_op = defop("ceil", forward=np.ceil, backward=_zero_backward)
trunc_op = defop("trunc", forward=np.trunc, backward=_zero_backward)
round_op = defop("round", forward=np.round, backward=_zero_backward)


def floor(input):
    return floor_op.apply((input,))


def ceil(input):
    return ceil_op.apply((input,))


def trunc(input):
    return trunc_op.apply((input,))


def round(input, *, decimals=0):
    """Round half to even; ``decimals`` digits after the point (negative: before it).

    Shape: input's.

    >>> fastdl.round(fastdl.tensor([0.5, 1.5, 2.4])).tolist()
    [0.0, 2.0, 2.0]
    >>> fastdl.round(fastdl.tensor([1234.0]), decimals=-2).tolist()
    [1200.0]
    """
    return round_op.apply((input,), decimals)


def _kernel_pair(a, b):
    """Both contiguous numpy arrays of one float dtype and shape: the C++ element-wise kernels
    take them."""
    return kernel_arrays(a, b) and a.shape == b.shape


def _threshold_backward_forward(g, out):
    # torch's threshold_backward: the gradient passes where not (out <= 0), so NaN keeps it.
    if _kernel_pair(g, out):  # one multithreaded pass (_C.relu_backward)
        grad_in = np.empty_like(g)
        _C.relu_backward(g, out, grad_in)
        return grad_in
    # A product with the mask is twice as fast as np.where (only an infinite gradient where
    # out <= 0 would differ: NaN instead of 0).
    return g * np.logical_not(out <= 0)


def _relu_forward(d):
    if _kernel_pair(d, d):
        out = np.empty_like(d)
        _C.relu_forward(d, out)
        return out
    return np.maximum(d, 0)  # a weak 0 keeps d's dtype


def _relu_inplace(d):
    if _kernel_pair(d, d):
        _C.relu_forward(d, d)
    else:
        np.maximum(d, 0, out=d)


def _threshold_backward_backward(ctx, gg):
    return threshold_backward_op.apply((gg, ctx.inputs[1])), None


threshold_backward_op = defop("threshold_backward", forward=_threshold_backward_forward,
                              backward=_threshold_backward_backward, saves=(1,))
relu_op = defop("relu", cpu=_relu_forward, cuda=lambda d: np.maximum(d, 0),
                backward=lambda ctx, g: (threshold_backward_op.apply((g, ctx.output)),),
                saves_output=True, inplace=_relu_inplace)


def relu(input):
    return relu_op.unary(input)


# ---- clamp, maximum, minimum, where ----
def _clamp_backward(ctx, g):
    (x,) = ctx.inputs
    lo, hi = ctx.args
    inside = None
    if lo is not None:
        inside = x >= lo
    if hi is not None:
        inside = (x <= hi) if inside is None else inside & (x <= hi)
    return (where(inside, g, 0.0),)


def _clamp_forward(d, lo, hi):
    return np.clip(d, lo, hi)


clamp_op = defop("clamp", forward=_clamp_forward, backward=_clamp_backward, saves=(0,),
                 inplace=lambda d, lo, hi: np.clip(d, lo, hi, out=d, casting="same_kind"))


def clamp(input, min=None, max=None):
    """Limit to [min, max]; the gradient passes where min <= input <= max (torch's rule).

    Shape: input's (``clip`` is another name).

    >>> fastdl.clamp(fastdl.tensor([-2.0, 0.5, 3.0]), min=0, max=1).tolist()
    [0.0, 0.5, 1.0]
    >>> fastdl.tensor([-2.0, 3.0]).clip(max=1).tolist()
    [-2.0, 1.0]
    """
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensors(input, min, max)
    x = input
    if x._data.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
        x = x.to(float32)
    return clamp_op.apply((x,), min, max)


def _clamp_tensors(input, min, max):
    """``minimum(maximum(input, min), max)`` with tensor bounds (NaN in any operand gives NaN).
    Gradients follow torch: input where min <= input <= max; min where input < min < max; max
    where input > max or max < min (the result is max then)."""
    bounds = [None if b is None else as_tensor_arg(b) for b in (min, max)]
    dt = input._data
    for b in bounds:
        if b is not None:
            dt = dt.astype(promote(dt, b._data), copy=False)
    x = input if input._data.dtype == dt.dtype else input.to(dt.dtype)
    lo, hi = (None if b is None else (b if b._data.dtype == dt.dtype else b.to(dt.dtype))
              for b in bounds)
    inputs = tuple(t for t in (x, lo, hi) if t is not None)
    return clamp_tensor_op.apply(inputs, lo is not None, hi is not None)


def _clamp_tensor_forward(x, *bounds_and_flags):
    *bounds, has_lo, has_hi = bounds_and_flags
    out = x
    it = iter(bounds)
    if has_lo:
        out = np.maximum(out, next(it))
    if has_hi:
        out = np.minimum(out, next(it))
    return out


def _clamp_tensor_backward(ctx, g):
    has_lo, has_hi = ctx.args
    x, *rest = ctx.inputs
    lo = rest.pop(0) if has_lo else None
    hi = rest.pop(0) if has_hi else None
    zero = 0.0
    inside = None
    if lo is not None:
        inside = x >= lo
    if hi is not None:
        inside = (x <= hi) if inside is None else inside & (x <= hi)
    grads = [grad_for(where(inside, g, zero), x)]
    if lo is not None:
        below = (x < lo) if hi is None else (x < lo) & (lo < hi)
        grads.append(grad_for(where(below, g, zero), lo))
    if hi is not None:
        above = (x > hi) if lo is None else (x > hi) | (hi < lo)
        grads.append(grad_for(where(above, g, zero), hi))
    return tuple(grads)


clamp_tensor_op = defop("clamp_tensor", forward=_clamp_tensor_forward,
                        backward=_clamp_tensor_backward, saves=(0, 1, 2))

clip = clamp


def _extremum_backward(a_loses, b_loses):
    """torch's maximum/minimum rule: ties split the gradient evenly; an input gets none where
    it loses; where either is NaN, both get all of it."""
    def backward(ctx, g):
        a, b = ctx.inputs
        ad, bd = a._data, b._data
        dt = g._data.dtype
        tie = ad == bd
        share_a = _wrap(np.where(tie, 0.5, np.logical_not(a_loses(ad, bd))).astype(dt))
        share_b = _wrap(np.where(tie, 0.5, np.logical_not(b_loses(ad, bd))).astype(dt))
        return grad_for(mul(g, share_a), a), grad_for(mul(g, share_b), b)

    return backward


maximum_op = defop("maximum", forward=np.maximum,
                   backward=_extremum_backward(np.less, np.greater), saves=(0, 1))
minimum_op = defop("minimum", forward=np.minimum,
                   backward=_extremum_backward(np.greater, np.less), saves=(0, 1))


def maximum(input, other):
    a, b = promote_pair(input, other)
    return maximum_op.apply((a, b))


def minimum(input, other):
    a, b = promote_pair(input, other)
    return minimum_op.apply((a, b))


def _where_backward(ctx, g):
    cond, a, b = ctx.inputs
    zero = 0.0 if g._data.dtype.kind == "f" else 0
    return None, grad_for(where(cond, g, zero), a), grad_for(where(cond, zero, g), b)


where_op = defop("where", forward=np.where, backward=_where_backward, saves=(0,))


def where(condition, input, other):
    """``input`` where ``condition`` is true, else ``other`` (either may be a scalar).

    Shape: condition, input and other broadcast together.

    >>> cond = fastdl.tensor([True, False])
    >>> fastdl.where(cond, fastdl.tensor([1, 2]), fastdl.tensor([3, 4])).tolist()
    [1, 4]
    >>> x = fastdl.tensor([1.0, -1.0])
    >>> fastdl.where(x > 0, x, 0.0).tolist()
    [1.0, 0.0]
    """
    cond = condition if isinstance(condition, Tensor) else _wrap(np.asarray(condition))
    if cond._data.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got {cond._data.dtype}")
    if isinstance(input, Tensor) and _is_scalar(other):
        a = _scalar_operand(input, other)
        b = _wrap(xp_of(a._data).asarray(other, dtype=a._data.dtype))
    elif isinstance(other, Tensor) and _is_scalar(input):
        b = _scalar_operand(other, input)
        a = _wrap(xp_of(b._data).asarray(input, dtype=b._data.dtype))
    else:
        a, b = promote_pair(input, other)
    return where_op.apply((cond, a, b))


def _root_grad(g, x, y):
    """d sqrt = g / (2 y), and 0 where y = 0 (torch's norm and std: a zero vector or a constant
    row has no gradient there, not inf * 0 = NaN); the division never sees 0, so the higher
    derivatives stay finite too."""
    positive = y > 0
    return where(positive, div(g, _scaled(where(positive, y, 1.0), 2.0)), 0.0)


# sqrt with a zero gradient at 0, for the norms and standard deviations built on it
sqrt_flat_at_zero = _unary("sqrt_flat_at_zero", np.sqrt, _root_grad, False, True)


def _operand_arrays(x, y):
    """Arrays for a non-differentiable binary op (comparisons, logical and bitwise ops), cast to
    torch's result dtype; a Python scalar stays a scalar."""
    if isinstance(x, Tensor) and _is_scalar(y):
        return _scalar_operand(x, y)._data, y
    a, b = promote_pair(x, y)
    return a._data, b._data


def _compare(ufunc, name):
    def op(input, other):
        ad, bd = _operand_arrays(input, other)
        return _wrap(ufunc(ad, bd))

    op.__name__ = name
    return op


_eq, _ne = _compare(np.equal, "eq"), _compare(np.not_equal, "ne")


def eq(input, other):
    """input == other elementwise; ``tensor == None`` is False (Python's rule, as torch).

    >>> fastdl.eq(fastdl.tensor([1, 2]), 2).tolist()
    [False, True]
    >>> fastdl.tensor([1, 2]) == None
    False
    """
    return False if other is None else _eq(input, other)


def ne(input, other):
    return True if other is None else _ne(input, other)


lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")
logical_and = _compare(np.logical_and, "logical_and")
logical_or = _compare(np.logical_or, "logical_or")
logical_xor = _compare(np.logical_xor, "logical_xor")
bitwise_and = _compare(np.bitwise_and, "bitwise_and")
bitwise_or = _compare(np.bitwise_or, "bitwise_or")
bitwise_xor = _compare(np.bitwise_xor, "bitwise_xor")


def logical_not(input):
    return _wrap(np.logical_not(input._data))


def bitwise_not(input):
    d = input._data
    if d.dtype.kind == "f":
        raise TypeError(f"bitwise_not (~) is only defined for bool and integer tensors, got {d.dtype}")
    return _wrap(np.invert(d))


def isnan(input):
    return _wrap(np.isnan(input._data))


def isinf(input):
    return _wrap(np.isinf(input._data))


def isfinite(input):
    return _wrap(np.isfinite(input._data))


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    return bool(np.allclose(input._data, other._data if isinstance(other, Tensor) else other,
                            rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other) -> bool:
    return input._data.shape == other._data.shape and bool((input._data == other._data).all())
