"""Elementwise arithmetic with broadcasting, comparisons, and elementwise math functions."""
from __future__ import annotations

import numpy as np

from fastdl.functional._core import (Node, Tensor, _gm, _wrap, as_tensor_arg, float_data,
                                     grad_for, operands, promote, record, saved_output, xp_of)
from fastdl.tensor import float32


def _wants(t):
    return t is not None and t._requires_grad


def _zero_grad_result(out, a, b=None):
    """A piecewise-constant op (sign, rounding, floor/trunc division): like torch, the result
    stays in the graph, with a zero gradient for every input."""
    inputs = (a,) if b is None else (a, b)

    def zero_backward(g):
        return tuple(_wrap(xp_of(t._data).zeros(t._data.shape, dtype=t._data.dtype))
                     if t._requires_grad else None for t in inputs)

    return _binary_result(out, zero_backward, a, b)


def _binary_result(out, backward, a, b):
    t = _wrap(out)
    if _gm.enabled and (a._requires_grad or (b is not None and b._requires_grad)):
        t._requires_grad = True
        t._grad_fn = Node(backward, (a, b) if b is not None else (a,))
    return t


def add(input, other, *, alpha=1):
    a, b, ad, bd = operands(input, other)
    if alpha != 1:
        bd = bd * alpha
    out = ad + bd

    def add_backward(g):
        return (grad_for(g, a) if a._requires_grad else None,
                grad_for(g * alpha if alpha != 1 else g, b) if _wants(b) else None)

    return _binary_result(out, add_backward, a, b)


def sub(input, other, *, alpha=1):
    a, b, ad, bd = operands(input, other)
    if alpha != 1:
        bd = bd * alpha
    out = ad - bd

    def sub_backward(g):
        return (grad_for(g, a) if a._requires_grad else None,
                grad_for(-g if alpha == 1 else g * -alpha, b) if _wants(b) else None)

    return _binary_result(out, sub_backward, a, b)


def rsub(input, other, *, alpha=1):
    """``other - alpha * input``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"rsub(): input must be a Tensor, got {type(input).__name__}")
    return sub(other, input, alpha=alpha) if isinstance(other, Tensor) else \
        add(neg(input) if alpha == 1 else mul(input, -alpha), other)


def mul(input, other):
    a, b, ad, bd = operands(input, other)
    out = ad * bd

    def mul_backward(g):
        return (grad_for(g * (b if b is not None else bd), a) if a._requires_grad else None,
                grad_for(g * a, b) if _wants(b) else None)

    return _binary_result(out, mul_backward, a, b)


def div(input, other, *, rounding_mode=None):
    if rounding_mode is not None:
        if rounding_mode == "floor":
            return floor_divide(input, other)
        if rounding_mode == "trunc":
            a, b, ad, bd = operands(input, other)
            q = np.trunc(np.true_divide(ad, bd))
            return _zero_grad_result(q.astype(ad.dtype) if ad.dtype.kind != "f" else q, a, b)
        raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")
    a, b, ad, bd = operands(input, other)
    if ad.dtype.kind != "f":  # true division of integers gives float32 in torch
        ad = ad.astype(float32)
        if b is not None:
            bd = bd.astype(float32)
    out = ad / bd

    def div_backward(g):
        ga = gb = None
        if a._requires_grad:
            ga = grad_for(g / (b if b is not None else bd), a)
        if _wants(b):
            gb = grad_for(-(g * a) / (b * b), b)
        return ga, gb

    return _binary_result(out, div_backward, a, b)


def rdiv(input, other):
    """``other / input``."""
    return div(other, input)


def floor_divide(input, other):
    a, b, ad, bd = operands(input, other)
    return _zero_grad_result(np.floor_divide(ad, bd), a, b)


def remainder(input, other):
    """Python-style remainder (sign of the divisor); gradient 1 w.r.t. input, like torch."""
    a, b, ad, bd = operands(input, other)
    out = np.remainder(ad, bd)

    def remainder_backward(g):
        gb = None
        if _wants(b):
            gb = grad_for(-g * floor_divide(a, b), b)
        return (grad_for(g, a) if a._requires_grad else None), gb

    return _binary_result(out, remainder_backward, a, b)


def neg(input):
    def neg_backward(g):
        return (-g,)

    return record(-input._data, neg_backward, (input,))


def pow(input, exponent):
    if not isinstance(input, Tensor):
        return _rpow(input, exponent)
    a, b, ad, bd = operands(input, exponent)
    if b is None:
        e = bd
        if isinstance(e, int) and e < 0 and ad.dtype.kind in "iu":
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        out = ad ** e

        def pow_backward(g):
            if e == 0:
                return (g * 0.0,)
            return (grad_for(g * e * a ** (e - 1), a),)

        return record(out, pow_backward, (a,))
    out = _int_power(ad, bd) if bd.dtype.kind in "iub" else np.power(ad, bd)

    def pow_tensor_backward(g):
        ga = gb = None
        if a._requires_grad:  # torch: 0 where the exponent is 0 (even for a base of 0)
            ga = grad_for(where(b == 0, 0.0, g * b * a ** (b - 1)), a)
        if b._requires_grad:
            # d/db a**b = a**b * log(a); torch defines it as 0 where a == 0 and b >= 0
            y = saved_output(out, lambda: pow(a, b))
            safe = where((a == 0) & (b >= 0), 1.0, a)
            gb = grad_for(g * y * log(safe), b)
        return ga, gb

    return record(out, pow_tensor_backward, (a, b))


def _int_power(base, exp):
    """Integer ``base ** exp`` as torch computes it: a negative exponent gives 0, except for the
    bases 1 and -1 (numpy refuses negative integer exponents)."""
    if exp.size == 0 or exp.min() >= 0:
        return np.power(base, exp)
    pos = np.power(base, np.maximum(exp, 0))
    unit = np.where(base == 1, 1, np.where(base == -1, 1 - 2 * (exp & 1), 0))
    return np.where(exp < 0, unit, pos).astype(pos.dtype, copy=False)


def _rpow(base, exponent):
    """``base ** exponent`` with a scalar base and a tensor exponent."""
    if not isinstance(exponent, Tensor):
        raise TypeError(f"pow(): expected a Tensor base or exponent, got "
                        f"{type(base).__name__} and {type(exponent).__name__}")
    e = exponent
    ed = float_data(e) if isinstance(base, float) else e._data
    out = _int_power(base, ed) if ed.dtype.kind in "iu" else np.power(base, ed)

    def rpow_backward(g):
        y = saved_output(out, lambda: _rpow(base, e))
        return (g * y * float(np.log(base)),)

    return record(out, rpow_backward, (e,))


def _unary(fwd, grad_rule, name):
    """An elementwise float function: ``grad_rule(g, x, y_lazy)`` gives the input gradient."""

    def op(input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): expected a Tensor, got {type(input).__name__}")
        out = fwd(float_data(input))

        def backward(g):
            return (grad_rule(g, input, lambda: saved_output(out, lambda: op(input))),)

        backward.__name__ = f"{name}_backward"
        return record(out, backward, (input,))

    op.__name__ = name
    return op


exp = _unary(np.exp, lambda g, x, y: g * y(), "exp")
expm1 = _unary(np.expm1, lambda g, x, y: g * (y() + 1.0), "expm1")
log = _unary(np.log, lambda g, x, y: g / x, "log")
log2 = _unary(np.log2, lambda g, x, y: g / (x * float(np.log(2.0))), "log2")
log10 = _unary(np.log10, lambda g, x, y: g / (x * float(np.log(10.0))), "log10")
log1p = _unary(np.log1p, lambda g, x, y: g / (x + 1.0), "log1p")
sqrt = _unary(np.sqrt, lambda g, x, y: g / (y() * 2.0), "sqrt")
rsqrt = _unary(lambda d: 1.0 / np.sqrt(d), lambda g, x, y: g * y() ** 3 * -0.5, "rsqrt")
sin = _unary(np.sin, lambda g, x, y: g * cos(x), "sin")
cos = _unary(np.cos, lambda g, x, y: -g * sin(x), "cos")
tan = _unary(np.tan, lambda g, x, y: g * (y() ** 2 + 1.0), "tan")
tanh = _unary(np.tanh, lambda g, x, y: g * (1.0 - y() ** 2), "tanh")
reciprocal = _unary(np.reciprocal, lambda g, x, y: -g * y() ** 2, "reciprocal")
_float_square = _unary(np.square, lambda g, x, y: g * x * 2.0, "square")


def square(input):
    """``input * input``; integer tensors stay integer, bool becomes int64 (torch's rules)."""
    k = input._data.dtype.kind
    if k == "f":
        return _float_square(input)
    d = input._data.astype(np.int64) if k == "b" else input._data
    return _wrap(d * d)


def _sigmoid_array(d):
    # exp(-softplus(-x)) stays accurate for large |x| (1/(1+exp(-x)) overflows in exp)
    return np.exp(-np.logaddexp(0, -d)).astype(d.dtype, copy=False)


sigmoid = _unary(_sigmoid_array, lambda g, x, y: g * (y() * (1.0 - y())), "sigmoid")


def abs(input):
    def abs_backward(g):
        return (g * sign(input),)

    return record(np.abs(input._data), abs_backward, (input,))


def sign(input):
    d = input._data
    if d.dtype.kind == "b":
        return _zero_grad_result(d.copy(), input)
    out = np.asarray(np.sign(d))
    if d.dtype.kind == "f":
        out[d != d] = 0  # torch: sign(nan) = 0
    return _zero_grad_result(out, input)


def _no_grad_round(fn, name):
    def op(input):
        def backward(g):
            return (g * 0.0,)

        backward.__name__ = f"{name}_backward"
        return record(fn(input._data), backward, (input,))

    op.__name__ = name
    return op


floor = _no_grad_round(np.floor, "floor")
ceil = _no_grad_round(np.ceil, "ceil")
trunc = _no_grad_round(np.trunc, "trunc")
_round_half_even = _no_grad_round(np.round, "round")


def round(input, *, decimals=0):
    """Round half to even; ``decimals`` digits after the point (negative: before it)."""
    if decimals == 0:
        return _round_half_even(input)
    return _zero_grad_result(np.round(input._data, decimals), input)


def relu(input):
    d = input._data
    out = np.maximum(d, 0).astype(d.dtype, copy=False)

    def relu_backward(g):
        # torch passes the gradient where not (out <= 0): NaN inputs keep theirs
        return (g * _wrap(np.logical_not(out <= 0).astype(g._data.dtype)),)

    return record(out, relu_backward, (input,))


def clamp(input, min=None, max=None):
    """Limit to [min, max]; the gradient passes where min <= input <= max (torch's rule)."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensors(input, min, max)
    d = input._data
    if d.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
        d = d.astype(float32)
    out = np.clip(d, min, max)

    def clamp_backward(g):
        inside = np.ones(d.shape, dtype=bool)
        if min is not None:
            inside &= d >= min
        if max is not None:
            inside &= d <= max
        return (g * _wrap(inside.astype(g._data.dtype)),)

    return record(out, clamp_backward, (input,))


def _clamp_tensors(input, min, max):
    """``minimum(maximum(input, min), max)`` with tensor bounds (NaN in any operand gives NaN).
    Gradients follow torch: input where min <= input <= max; min where input < min < max; max
    where input > max or max < min (the result is max then)."""
    bounds = [None if b is None else as_tensor_arg(b) for b in (min, max)]
    arrays = [input._data] + [b._data for b in bounds if b is not None]
    ref = arrays[0]
    for a in arrays[1:]:
        ref = ref.astype(promote(ref, a), copy=False)
    dt = ref.dtype
    x = input._data.astype(dt, copy=False)
    lo, hi = (None if b is None else b._data.astype(dt, copy=False) for b in bounds)
    out = x
    if lo is not None:
        out = np.maximum(out, lo)
    if hi is not None:
        out = np.minimum(out, hi)
    inputs = tuple(t for t in [input] + bounds if t is not None)

    def clamp_backward(g):
        fdt = g._data.dtype
        masks = [True if lo is None else x >= lo]
        masks[0] = np.logical_and(masks[0], True if hi is None else x <= hi)
        if lo is not None:
            masks.append(x < lo if hi is None else (x < lo) & (lo < hi))
        if hi is not None:
            masks.append(x > hi if lo is None else (x > hi) | (hi < lo))
        return tuple(grad_for(g * _wrap(np.asarray(m).astype(fdt)), t) if t._requires_grad
                     else None for m, t in zip(masks, inputs))

    return record(out, clamp_backward, inputs)


clip = clamp


def _extremum_grads(g, a, b, ad, bd, a_loses, b_loses):
    """torch's maximum/minimum rule: ties split the gradient evenly; an input gets none where it
    loses; where either is NaN, both get all of it."""
    dt = g._data.dtype
    tie = ad == bd
    ga = gb = None
    if a._requires_grad:
        ga = grad_for(g * _wrap(np.where(tie, 0.5, np.logical_not(a_loses(ad, bd))).astype(dt)), a)
    if _wants(b):
        gb = grad_for(g * _wrap(np.where(tie, 0.5, np.logical_not(b_loses(ad, bd))).astype(dt)), b)
    return ga, gb


def maximum(input, other):
    a, b, ad, bd = operands(input, other)
    out = np.maximum(ad, bd)

    def maximum_backward(g):
        return _extremum_grads(g, a, b, ad, bd, np.less, np.greater)

    return _binary_result(out, maximum_backward, a, b)


def minimum(input, other):
    a, b, ad, bd = operands(input, other)
    out = np.minimum(ad, bd)

    def minimum_backward(g):
        return _extremum_grads(g, a, b, ad, bd, np.greater, np.less)

    return _binary_result(out, minimum_backward, a, b)


def where(condition, input, other):
    """``input`` where ``condition`` is true, else ``other`` (either may be a scalar)."""
    c = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if c.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got {c.dtype}")
    a, b, ad, bd = operands(input, other)
    out = np.where(c, ad, bd)
    if b is None and ad.dtype.kind == "f" and out.dtype != ad.dtype:
        out = out.astype(ad.dtype)
    cond = _wrap(c)

    def where_backward(g):
        zero = 0.0 if g._data.dtype.kind == "f" else 0
        ga = grad_for(where(cond, g, zero), a) if a._requires_grad else None
        gb = grad_for(where(cond, zero, g), b) if _wants(b) else None
        return ga, gb

    return _binary_result(out, where_backward, a, b)


def _compare(ufunc, name):
    def op(input, other):
        a, b, ad, bd = operands(input, other)
        return _wrap(ufunc(ad, bd))

    op.__name__ = name
    return op


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
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
