"""Tensor methods for the functions of ``elementwise_math`` and ``elementwise_more``, and the
in-place ``x.name_(...)`` variants torch has of the elementwise functions.

An in-place variant computes the out-of-place method and copies the result into self
(``tensor._inplace_composite``: recorded as a copy, so gradients flow to self's earlier value;
a result whose dtype cannot be cast back to self's raises, as in torch: ``int_tensor.sin_()``).
"""
from __future__ import annotations

from fastdl.functional import (arithmetic as A, elementwise_math as M, elementwise_more as E,
                               elementwise_special as SP)


def _polygamma_method(self, n):
    """``polygamma(n, self)``: the n-th derivative of digamma.

    >>> round(fastdl.tensor([1.0]).polygamma(1).item(), 6)
    1.644934
    """
    return M.polygamma(n, self)


# the new out-of-place methods (each one the function of the same name, self first)
_OUT_OF_PLACE = {name: getattr(M, name) for name in (
    "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "arcsin", "arccos",
    "arctan", "arcsinh", "arccosh", "arctanh", "exp2", "erf", "erfc", "erfinv", "lgamma",
    "digamma", "mvlgamma", "i0", "frac", "fix", "absolute")}
_OUT_OF_PLACE.update({name: getattr(E, name) for name in (
    "atan2", "fmax", "fmin", "ldexp", "frexp", "nextafter", "gcd", "lcm",
    "bitwise_left_shift", "bitwise_right_shift", "isclose", "isposinf", "isneginf", "isreal",
    "sgn", "positive", "greater", "greater_equal", "less", "less_equal", "not_equal")})
_OUT_OF_PLACE.update({name: getattr(A, name) for name in (
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "logical_xor")})
_OUT_OF_PLACE.update({"igamma": SP.igamma, "igammac": SP.igammac})
_OUT_OF_PLACE.update({
    "arctan2": E.atan2, "polygamma": _polygamma_method,
    "__lshift__": E.bitwise_left_shift, "__rshift__": E.bitwise_right_shift,
    "__rlshift__": E._reflected_shift(True), "__rrshift__": E._reflected_shift(False),
})

# in-place variant -> (an example self, the example's arguments), for its docstring
_FLOAT, _INT = "fastdl.tensor([0.25, 0.5])", "fastdl.tensor([12, 5])"
_OTHER_FLOAT, _OTHER_INT = "fastdl.tensor([0.5, 2.0])", "fastdl.tensor([8, 1])"
_UNARY_FLOAT = (
    "abs absolute acos arccos acosh arccosh asin arcsin asinh arcsinh atan arctan atanh arctanh "
    "ceil cos cosh deg2rad digamma erf erfc erfinv exp exp2 expm1 fix floor frac i0 lgamma log "
    "log10 log1p log2 logit nan_to_num neg negative rad2deg reciprocal relu round rsqrt sgn "
    "sigmoid sign sin sinc sinh sqrt square tan tanh trunc logical_not").split()
_BINARY_FLOAT = (
    "atan2 arctan2 copysign divide eq ge greater greater_equal gt heaviside hypot le "
    "less less_equal logical_and logical_or logical_xor lt multiply ne nextafter not_equal "
    "subtract true_divide xlogy floor_divide igamma igammac").split()
_BINARY_INT = "bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift gcd lcm"
INPLACE_EXAMPLES = {name: (_FLOAT, "") for name in _UNARY_FLOAT}
INPLACE_EXAMPLES.update({name: (_FLOAT, _OTHER_FLOAT) for name in _BINARY_FLOAT})
INPLACE_EXAMPLES.update({name: (_INT, _OTHER_INT) for name in _BINARY_INT.split()})
INPLACE_EXAMPLES.update({"bitwise_not": (_INT, ""), "pow": (_FLOAT, "2"),
                         "ldexp": (_FLOAT, "fastdl.tensor([1, 2])"), "polygamma": (_FLOAT, "1"),
                         "mvlgamma": ("fastdl.tensor([1.5, 2.5])", "2")})


def _inplace(name, example):
    def method(self, *args, **kwargs):
        from fastdl.tensor import _inplace_composite
        return _inplace_composite(self, name, lambda x: getattr(x, name)(*args, **kwargs))

    method.__name__ = f"{name}_"
    self_value, args = example
    method.__doc__ = (f"``{name}`` in place: self's values replaced by ``self.{name}("
                      f"{'...' if args else ''})``; self keeps its dtype (a result that cannot "
                      f"be cast back raises). Returns self.\n\n>>> x = {self_value}\n"
                      f">>> x.{name}_({args}) is x\nTrue")
    return method


METHODS = {**_OUT_OF_PLACE,
           **{f"{name}_": _inplace(name, example) for name, example in INPLACE_EXAMPLES.items()}}
