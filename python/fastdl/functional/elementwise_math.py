"""Unary float functions torch has beyond the basic ones: inverse trigonometric and hyperbolic
functions, erf and relatives, lgamma / digamma / polygamma / mvlgamma, the modified Bessel
functions I0 and I1, exp2 and frac.

Each is a registered op (``arithmetic._unary``) whose backward is torch's derivatives.yaml
formula written with registered ops, so higher derivatives work. Integer and bool inputs become
float32 (torch's default dtype), as torch does for these functions. The array functions without
a numpy counterpart are in ``_special_arrays``.
"""
from __future__ import annotations

import math

import numpy as np

from fastdl.autograd.op import defop
from fastdl.functional import _special_arrays as S
from fastdl.functional._core import Tensor
from fastdl.functional.arithmetic import (_float_only, _unary, abs as _abs, add, add_scalar_op,
                                          div, exp, mul, mul_scalar_op, neg, reciprocal, rsqrt,
                                          rsub, sign, sub, trunc, where)
from fastdl.nn.functional._special import erf as _erf_array


def _quiet(fn):
    """``fn`` without numpy's warnings: NaN outside the domain (asin(2)) and inf at poles are
    results, as in torch, which warns about neither."""
    def forward(d):
        with np.errstate(all="ignore"):
            return fn(d)
    forward.__name__ = fn.__name__
    return forward


def _plus(t, s):
    return add_scalar_op.apply((t,), s)


def _times(t, s):
    return mul_scalar_op.apply((t,), s)


def _square(t):
    return mul(t, t)


def _documented(fn, what, values, result):
    """Give a one-line-defined function its docstring, with an example of its values."""
    call = f"fastdl.special.{fn.__name__}" if fn.__name__ in _SPECIAL_ONLY else \
        f"fastdl.{fn.__name__}"
    fn.__doc__ = (f"Elementwise {what}, with torch's gradient. Integer inputs give float32.\n\n"
                  f"Shape: input's.\n\n>>> [round(v, 4) for v in {call}(fastdl.tensor({values}))."
                  f"tolist()]\n{result}")
    return fn


_SPECIAL_ONLY = ("erfcx", "i1", "i0e", "i1e")  # in fastdl.special only, as in torch


# ---- inverse trigonometric and hyperbolic functions -----------------------------------------
def _inverse_sine_slope(x):  # 1 / sqrt(1 - x^2)
    return rsqrt(rsub(_square(x), 1.0))


asin = _documented(
    _unary("asin", _quiet(np.arcsin), lambda g, x, y: mul(g, _inverse_sine_slope(x))),
    "the arcsine, in [-pi/2, pi/2] (NaN outside [-1, 1])", "[0.0, 1.0]", "[0.0, 1.5708]")
acos = _documented(
    _unary("acos", _quiet(np.arccos), lambda g, x, y: neg(mul(g, _inverse_sine_slope(x)))),
    "the arccosine, in [0, pi] (NaN outside [-1, 1])", "[1.0, 0.0]", "[0.0, 1.5708]")
atan = _documented(
    _unary("atan", _quiet(np.arctan), lambda g, x, y: div(g, _plus(_square(x), 1.0))),
    "the arctangent, in (-pi/2, pi/2)", "[0.0, 1.0]", "[0.0, 0.7854]")
sinh = _documented(_unary("sinh", _quiet(np.sinh), lambda g, x, y: mul(g, cosh(x))),
                   "the hyperbolic sine", "[0.0, 1.0]", "[0.0, 1.1752]")
cosh = _documented(_unary("cosh", _quiet(np.cosh), lambda g, x, y: mul(g, sinh(x))),
                   "the hyperbolic cosine", "[0.0, 1.0]", "[1.0, 1.5431]")
asinh = _documented(
    _unary("asinh", _quiet(np.arcsinh), lambda g, x, y: mul(g, rsqrt(_plus(_square(x), 1.0)))),
    "the inverse hyperbolic sine", "[0.0, 1.0]", "[0.0, 0.8814]")
acosh = _documented(
    _unary("acosh", _quiet(np.arccosh), lambda g, x, y: mul(g, rsqrt(_plus(_square(x), -1.0)))),
    "the inverse hyperbolic cosine (NaN below 1)", "[1.0, 2.0]", "[0.0, 1.317]")
atanh = _documented(
    _unary("atanh", _quiet(np.arctanh), lambda g, x, y: div(g, rsub(_square(x), 1.0))),
    "the inverse hyperbolic tangent (+-inf at +-1, NaN outside)", "[0.0, 0.5]", "[0.0, 0.5493]")

# ---- exponentials -------------------------------------------------------------------------
exp2 = _documented(
    _unary("exp2", _quiet(np.exp2), lambda g, x, y: mul(g, _times(y, math.log(2.0))), False, True),
    "2 ** x", "[3.0, -1.0]", "[8.0, 0.5]")

# ---- the error function and its relatives -------------------------------------------------
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _gaussian(x, scale):
    """scale * exp(-x^2), the derivative shared by erf and erfc."""
    return _times(exp(neg(_square(x))), scale)


erf = _documented(
    _unary("erf", _erf_array, lambda g, x, y: mul(g, _gaussian(x, _TWO_OVER_SQRT_PI))),
    "the error function 2 / sqrt(pi) * integral_0^x exp(-t^2) dt", "[0.0, 1.0]", "[0.0, 0.8427]")
erfc = _documented(
    _unary("erfc", S.erfc, lambda g, x, y: mul(g, _gaussian(x, -_TWO_OVER_SQRT_PI))),
    "1 - erf(x), accurate where erf(x) is near 1", "[0.0, 5.0]", "[1.0, 0.0]")


def _erfcx_backward(ctx, g):
    (x,), y = ctx.inputs, ctx.output
    return (mul(g, _plus(_times(mul(x, y), 2.0), -_TWO_OVER_SQRT_PI)),)


_erfcx_op = defop("erfcx", forward=S.erfcx, backward=_erfcx_backward, saves=(0,),
                  saves_output=True, float_only=True)


def erfcx(input):
    return _erfcx_op.unary(_float_only(input, "erfcx"))


_documented(erfcx, "exp(x^2) * erfc(x), the scaled complementary error function",
            "[0.0, 10.0]", "[1.0, 0.0561]")
erfinv = _documented(
    _unary("erfinv", S.erfinv,
           lambda g, x, y: mul(g, _times(exp(_square(y)), 0.5 * math.sqrt(math.pi))), False, True),
    "the inverse of erf: +-inf at +-1, NaN outside [-1, 1]", "[0.0, 0.5]", "[0.0, 0.4769]")

# ---- the gamma function's logarithm and derivatives --------------------------------------
lgamma = _documented(_unary("lgamma", S.lgamma, lambda g, x, y: mul(g, digamma(x))),
                     "ln|Gamma(x)| (inf at 0, -1, -2 ...)", "[1.0, 0.5]", "[0.0, 0.5724]")
digamma = _documented(
    _unary("digamma", S.digamma, lambda g, x, y: mul(g, polygamma(1, x))),
    "digamma, Gamma'(x) / Gamma(x) (-inf at 0, NaN at the negative integers)", "[1.0, 2.0]",
    "[-0.5772, 0.4228]")


def _polygamma_forward(d, n):
    if n == 0:
        return S.digamma(d)
    out = S.polygamma_positive_order(d, n)
    if n == 1:
        return _torch_trigamma_at_negative_integers(d, out)
    # torch's n >= 2 is (-1)^(n+1) n! zeta(n + 1, x) with Cephes' zeta, whose series does not
    # converge at x = inf (NaN; the limit is 0) and which has the poles' inf at x = -inf
    xp = S._xp(d)
    out = xp.where(d == xp.inf, xp.nan, xp.where(d == -xp.inf, (-1.0) ** (n + 1) * xp.inf, out))
    return out.astype(d.dtype, copy=False)


def _torch_trigamma_at_negative_integers(d, out):
    """out with torch's trigamma at the poles x = -1, -2 ...: its reflection
    pi^2 / sin(pi x)^2 - trigamma(1 - x), in d's dtype, where sin(pi x) is the rounding error
    of pi x (about 1e-7 in float32, 1e-16 in float64), gives a large finite value there rather
    than the pole's inf. Taken over (torch's n >= 2 go through zeta, inf at the poles, as
    ours) so digamma's gradient there is torch's."""
    xp = S._xp(d)
    poles = (d < 0) & (d == xp.floor(d)) & (d != -xp.inf)
    if not poles.any():
        return out
    pi = d.dtype.type(math.pi)
    with np.errstate(all="ignore"):
        sine = xp.sin(pi * d)
        reflected = pi * pi / (sine * sine) - S.polygamma_positive_order(1 - d, 1)
    return xp.where(poles, reflected, out).astype(d.dtype, copy=False)


def _polygamma_backward(ctx, g):
    (x,), (n,) = ctx.inputs, ctx.args
    return (mul(g, polygamma(n + 1, x)),)


_polygamma_op = defop("polygamma", forward=_polygamma_forward, backward=_polygamma_backward,
                      saves=(0,), float_only=True)


def polygamma(n, input):
    """The n-th derivative of digamma (``polygamma(0, x)`` is ``digamma(x)``); n an integer
    >= 0. Integer inputs give float32.

    Shape: input's.

    >>> round(fastdl.polygamma(1, fastdl.tensor([1.0])).item(), 6)  # pi^2 / 6
    1.644934
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"polygamma(): n must be an int, got {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return _polygamma_op.unary(_float_only(input, "polygamma"), int(n))


def mvlgamma(input, p):
    """The multivariate log-gamma function of dimension p:
    ``p (p - 1) / 4 log(pi) + sum_{i < p} lgamma(input - i / 2)``. Integer inputs give
    float32.

    Shape: input's.

    >>> round(fastdl.mvlgamma(fastdl.tensor([2.5]), 2).item(), 6)
    0.857048
    """
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
        raise RuntimeError(f"p has to be greater than or equal to 1, got {p!r}")
    x = _float_only(input, "mvlgamma")
    total = lgamma(x)
    for i in range(1, int(p)):
        total = total + lgamma(_plus(x, -0.5 * i))
    return _plus(total, p * (p - 1) / 4 * math.log(math.pi))


# ---- modified Bessel functions of the first kind ------------------------------------------
def _at_zero_half(x, value):
    """``value`` (a function of x, never evaluated near 0) where |x| > eps, else 0.5: the
    derivative of I1 and of its scaled form at 0, as torch's i1_backward takes it (NaN
    included: ``|nan| > eps`` is false, so torch gives 0.5 there too)."""
    eps = float(np.finfo(x._data.dtype).eps)
    not_tiny = _abs(x) > eps
    return where(not_tiny, value(where(not_tiny, x, eps)), 0.5)


i0 = _documented(_unary("i0", S.i0, lambda g, x, y: mul(g, i1(x))),
                 "the modified Bessel function I0", "[0.0, 1.0]", "[1.0, 1.2661]")
i1 = _documented(
    _unary("i1", S.i1, lambda g, x, y: mul(g, _at_zero_half(
        x, lambda s: sub(i0(s), div(i1(s), s))))),
    "the modified Bessel function I1", "[0.0, 1.0]", "[0.0, 0.5652]")
i0e = _documented(
    _unary("i0e", S.i0e, lambda g, x, y: mul(g, sub(i1e(x), mul(sign(x), y))), True, True),
    "exp(-|x|) * i0(x), finite for large |x|", "[0.0, 1.0]", "[1.0, 0.4658]")
i1e = _documented(
    _unary("i1e", S.i1e, lambda g, x, y: mul(g, _at_zero_half(
        x, lambda s: sub(i0e(s), mul(i1e(s), add(sign(s), reciprocal(s))))))),
    "exp(-|x|) * i1(x), finite for large |x|", "[0.0, 1.0]", "[0.0, 0.2079]")


# ---- the fractional part ------------------------------------------------------------------
_frac_op = defop("frac", forward=lambda d: d - np.trunc(d), backward=lambda ctx, g: (g,),
                 float_only=True)


def frac(input):
    """``input - trunc(input)``: the fractional part, with input's sign (float tensors only,
    as in torch). Gradient 1.

    Shape: input's.

    >>> fastdl.frac(fastdl.tensor([1.5, -2.25])).tolist()
    [0.5, -0.25]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"frac(): expected a Tensor, got {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f'"frac_cpu" not implemented for {input._data.dtype}')
    return _frac_op.unary(input)


fix = trunc
absolute = _abs
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh
