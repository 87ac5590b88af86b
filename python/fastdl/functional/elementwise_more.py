"""Binary and miscellaneous elementwise functions torch has beyond the basic ones: atan2,
fmax/fmin, ldexp, frexp, nextafter, gcd/lcm, the bit shifts, isclose, isposinf/isneginf/isreal,
sgn and positive, and torch's alias names for the comparisons.

Operands broadcast and promote as in torch (``promote_pair``). Integer-only functions (gcd,
lcm, the shifts) and float-only ones (nextafter) raise torch's NotImplementedError for other
dtypes; the differentiable ones are registered ops with torch's derivatives.
"""
from __future__ import annotations

import numpy as np

from fastdl.autograd.op import defop
from fastdl.functional._core import (Tensor, _wrap, as_tensor_arg, grad_for, promote_pair,
                                     torch_dtype_name, xp_of, zeros_like)
from fastdl.functional.arithmetic import (_operand_arrays, div, ge, gt, isnan, le,
                                          lt, mul, ne, neg, pow, sign, where)
from fastdl.functional.elementwise_math import exp2
from fastdl.tensor import float32, int32


def _not_implemented(kernel, dtype):
    return NotImplementedError(f'"{kernel}_cpu" not implemented for \'{torch_dtype_name(dtype)}\'')


def _require_a_tensor(input, other, name):
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"{name}(): expected at least one Tensor argument, got "
                        f"{type(input).__name__} and {type(other).__name__}")


def _float_pair(input, other, name):
    """Both operands promoted together, then to float32 if that is not floating (torch's rule
    for atan2)."""
    _require_a_tensor(input, other, name)
    a, b = promote_pair(input, other)
    if a._data.dtype.kind != "f":
        a, b = a.to(float32), b.to(float32)
    return a, b


# ---- atan2 ------------------------------------------------------------------------------------
def _atan2_backward(ctx, g):
    a, b = ctx.inputs
    radius2 = mul(a, a) + mul(b, b)
    at_origin = radius2 == 0  # torch: no gradient at (0, 0), not 0 / 0
    scale = where(at_origin, 0.0, div(g, where(at_origin, 1.0, radius2)))
    wants_a, wants_b = ctx.edges
    return (None if wants_a is None else grad_for(mul(scale, b), a),
            None if wants_b is None else grad_for(neg(mul(scale, a)), b))


_atan2_op = defop("atan2", forward=np.arctan2, backward=_atan2_backward, saves=(0, 1))


def atan2(input, other):
    """The angle of the point (other, input), in (-pi, pi]: ``atan(input / other)`` with the
    quadrant from both signs. Integer inputs give float32.

    Shape: input and other broadcast together.

    >>> fastdl.atan2(fastdl.tensor([1.0, -1.0]), fastdl.tensor([0.0, 0.0])).tolist()
    [1.5707963705062866, -1.5707963705062866]
    """
    return _atan2_op.apply(_float_pair(input, other, "atan2"))


# ---- fmax, fmin: NaN loses ------------------------------------------------------------------
def _nan_ignoring_extremum(name, ufunc, keeps_input):
    def backward(ctx, g):
        a, b = ctx.inputs
        # torch: input's gradient where it was chosen (ties included) or other is NaN
        input_chosen = keeps_input(a, b) | isnan(b)
        return grad_for(where(input_chosen, g, 0.0), a), grad_for(where(input_chosen, 0.0, g), b)

    op = defop(name, forward=ufunc, backward=backward, saves=(0, 1))

    def function(input, other):
        _require_a_tensor(input, other, name)
        a, b = promote_pair(input, other)
        return op.apply((a, b))

    function.__name__ = name
    function.__doc__ = (
        f"The elementwise {'larger' if name == 'fmax' else 'smaller'} value, ignoring NaN (NaN "
        f"only where both are NaN; ``{'maximum' if name == 'fmax' else 'minimum'}`` propagates "
        f"it). On a tie input gets the gradient, as in torch.\n\nShape: input and other "
        f"broadcast together.\n\n>>> fastdl.{name}(fastdl.tensor([1.0, float('nan')]), "
        f"fastdl.tensor([2.0, 3.0])).tolist()\n[{'2.0' if name == 'fmax' else '1.0'}, 3.0]")
    return function


fmax = _nan_ignoring_extremum("fmax", np.fmax, ge)
fmin = _nan_ignoring_extremum("fmin", np.fmin, le)


# ---- ldexp, frexp, nextafter ---------------------------------------------------------------
def ldexp(input, other):
    """``input * 2 ** other`` (torch computes it so: 2 ** other is float32 for an integer
    exponent, and the product promotes with input).

    Shape: input and other broadcast together.

    >>> fastdl.ldexp(fastdl.tensor([1.0, 3.0]), fastdl.tensor([3, -1])).tolist()
    [8.0, 1.5]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"ldexp(): input must be a Tensor, got {type(input).__name__}")
    return mul(input, pow(2.0, as_tensor_arg(other)))


def _frexp_mantissa_backward(ctx, g):
    (x,) = ctx.inputs
    _, exponent = np.frexp(x._data)
    return (div(g, exp2(_wrap(exponent.astype(g._data.dtype)))),)


_frexp_op = defop("frexp", forward=lambda d: np.frexp(d)[0], backward=_frexp_mantissa_backward,
                  saves=(0,), float_only=True)


def frexp(input):
    """``(mantissa, exponent)`` with ``input = mantissa * 2 ** exponent``, |mantissa| in
    [0.5, 1) (0, inf and NaN keep their value with exponent 0). The exponent is int32 and has
    no gradient; the mantissa's gradient is ``grad / 2 ** exponent`` (torch's).

    Shape: both input's.

    >>> m, e = fastdl.frexp(fastdl.tensor([8.0, -0.75]))
    >>> m.tolist(), e.tolist(), e.dtype
    ([0.5, -0.75], [4, 0], dtype('int32'))
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"frexp(): expected a Tensor, got {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    _, exponent = np.frexp(input._data)
    return _frexp_op.unary(input), _wrap(exponent.astype(int32, copy=False))


def nextafter(input, other):
    """The next floating-point value after input in the direction of other (float tensors
    only, as in torch). As torch's, its gradient is 1 for input (0 where input == other)
    and 0 for other.

    Shape: input and other broadcast together.

    >>> one = fastdl.tensor([1.0], dtype=fastdl.float64)
    >>> fastdl.nextafter(one, fastdl.tensor([2.0])).item() - 1
    2.220446049250313e-16
    """
    _require_a_tensor(input, other, "nextafter")
    a, b = promote_pair(input, other)
    if a._data.dtype.kind != "f":
        raise _not_implemented("nextafter", a._data.dtype)
    return _nextafter_op.apply((a, b))


def _nextafter_backward(ctx, g):
    a, b = ctx.inputs
    # torch's: the gradient passes to input (one ulp away) except where input == other (the
    # result is other there), none to other
    return grad_for(where(ne(a, b), g, 0.0), a), zeros_like(b)


_nextafter_op = defop("nextafter", forward=np.nextafter, backward=_nextafter_backward,
                      saves=(0, 1))


# ---- integer-only: gcd, lcm, shifts (no gradient, as torch's) -----------------------------------
def _integer_operands(input, other, kernel):
    _require_a_tensor(input, other, kernel)
    ad, bd = _operand_arrays(input, other)
    dtype = ad.dtype
    if dtype.kind not in "iu":
        raise _not_implemented(kernel, dtype)
    return ad, bd


def gcd(input, other):
    """The greatest common divisor, >= 0 (``gcd(0, 0) = 0``); integer tensors only.

    Shape: input and other broadcast together.

    >>> fastdl.gcd(fastdl.tensor([12, -4, 0]), fastdl.tensor([18, 6, 5])).tolist()
    [6, 2, 5]
    """
    return _wrap(np.gcd(*_integer_operands(input, other, "gcd")))


def lcm(input, other):
    """The least common multiple, >= 0 (0 if either is 0); integer tensors only.

    Shape: input and other broadcast together.

    >>> fastdl.lcm(fastdl.tensor([4, -4, 0]), fastdl.tensor([6, 6, 5])).tolist()
    [12, 12, 0]
    """
    return _wrap(np.lcm(*_integer_operands(input, other, "lcm")))


def _shift(input, other, left):
    ad, bd = _integer_operands(input, other, "lshift" if left else "rshift")
    bits = ad.dtype.itemsize * 8
    xp = xp_of(ad)
    bd = xp.asarray(bd)
    # torch: a shift by a negative count or by the width or more gives 0 (left), or fills
    # with the sign bit (right); C and numpy leave those undefined
    in_range = (bd >= 0) & (bd < bits)
    count = xp.where(in_range, bd, 0).astype(ad.dtype)
    with np.errstate(all="ignore"):
        if left:
            out = xp.where(in_range, xp.left_shift(ad, count), 0)
        else:
            out = xp.where(in_range, xp.right_shift(ad, count), xp.where(ad < 0, -1, 0))
    return _wrap(out.astype(ad.dtype, copy=False))


def bitwise_left_shift(input, other):
    """``input << other`` (integer tensors; a count outside [0, bits) gives 0, as in torch).

    Shape: input and other broadcast together.

    >>> fastdl.bitwise_left_shift(fastdl.tensor([1, 3]), fastdl.tensor([4, 1])).tolist()
    [16, 6]
    """
    return _shift(input, other, True)


def bitwise_right_shift(input, other):
    """``input >> other``, arithmetic (the sign bit fills; a count outside [0, bits) gives 0 or
    -1, as in torch).

    Shape: input and other broadcast together.

    >>> (fastdl.tensor([16, -16]) >> 2).tolist()
    [4, -4]
    """
    return _shift(input, other, False)


def _reflected_shift(left):
    def shift(self, other):
        return _shift(other, self, left)
    shift.__name__ = "__rlshift__" if left else "__rrshift__"
    shift.__doc__ = (f"``other {'<<' if left else '>>'} self`` for a number ``other``.\n\n"
                     f">>> (1 {'<<' if left else '>>'} fastdl.tensor([2])).tolist()\n"
                     f"[{4 if left else 0}]")
    return shift


# ---- predicates ---------------------------------------------------------------------------
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``|input - other| <= atol + rtol * |other|`` elementwise (equal infinities are close;
    NaN is close to NaN only with equal_nan). Both must have the same dtype, as in torch.

    Shape: input and other broadcast together.

    >>> fastdl.isclose(fastdl.tensor([1.0, 1.1]), fastdl.tensor([1.0 + 1e-7, 1.0])).tolist()
    [True, False]
    """
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"isclose(): expected two Tensors, got {type(input).__name__} and "
                        f"{type(other).__name__}")
    a, b = input._data, other._data
    if a.dtype != b.dtype:
        raise RuntimeError(f"{torch_dtype_name(a.dtype)} did not match {torch_dtype_name(b.dtype)}")
    if rtol < 0 or atol < 0:
        raise RuntimeError(f"rtol and atol must be greater than or equal to zero, but got "
                           f"{rtol} and {atol}")
    close = a == b
    if equal_nan and a.dtype.kind == "f":
        close = close | (np.isnan(a) & np.isnan(b))
    if rtol == 0 and atol == 0:
        return _wrap(close)
    if a.dtype.kind == "b":
        a, b = a.astype(float32), b.astype(float32)
    with np.errstate(all="ignore"):
        allowed = atol + np.abs(rtol * b)
        actual = np.abs(a - b)
        return _wrap(close | (np.isfinite(actual) & (actual <= allowed)))


def _float_predicate(name, test):
    def predicate(input):
        d = as_tensor_arg(input)._data
        return _wrap(test(d) if d.dtype.kind == "f" else xp_of(d).zeros(d.shape, dtype=bool))

    predicate.__name__ = name
    return predicate


isposinf = _float_predicate("isposinf", np.isposinf)
isneginf = _float_predicate("isneginf", np.isneginf)
isposinf.__doc__ = ("True where input is +inf (never for integer tensors).\n\nShape: input's."
                    "\n\n>>> fastdl.isposinf(fastdl.tensor([1.0, float('inf'), -float('inf')]))"
                    ".tolist()\n[False, True, False]")
isneginf.__doc__ = ("True where input is -inf (never for integer tensors).\n\nShape: input's."
                    "\n\n>>> fastdl.isneginf(fastdl.tensor([1.0, float('inf'), -float('inf')]))"
                    ".tolist()\n[False, False, True]")


def isreal(input):
    """True where input has no imaginary part: everywhere (fastdl has no complex dtypes).

    Shape: input's.

    >>> fastdl.isreal(fastdl.tensor([1.5, 2.0])).tolist()
    [True, True]
    """
    d = as_tensor_arg(input)._data
    return _wrap(xp_of(d).ones(d.shape, dtype=bool))


# ---- sgn, positive ----------------------------------------------------------------------------
def sgn(input):
    """``sign`` (for real tensors torch's sgn is sign; its gradient is 0).

    Shape: input's.

    >>> fastdl.sgn(fastdl.tensor([-2.0, 0.0, 3.0])).tolist()
    [-1.0, 0.0, 1.0]
    """
    return sign(input)


def positive(input):
    """input itself (``+input``); bool tensors raise, as in torch.

    Shape: input's.

    >>> x = fastdl.tensor([1.0, -2.0]); fastdl.positive(x) is x
    True
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"positive(): expected a Tensor, got {type(input).__name__}")
    if input._data.dtype.kind == "b":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
