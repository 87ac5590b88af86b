"""The torch.special functions beyond the erf/gamma families: the Bessel functions J0, J1,
Y0, Y1, I0, I1, K0, K1 (K also exponentially scaled), the spherical j0, Airy Ai, the
regularized incomplete gamma functions (gammainc / gammaincc, also fastdl.igamma / igammac),
the Hurwitz zeta function and the classical orthogonal polynomials.

Gradients are torch's (derivatives.yaml): igamma / igammac / zeta are differentiable in their
second argument only (backward raises torch's NotImplementedError for the first); the Bessel
and Airy functions and the polynomials have no derivative in torch, so their results never
require grad. Integer (and bool) inputs give the default float dtype, except igamma / igammac,
which (as in torch) take floating point tensors only.
"""
from __future__ import annotations

import numpy as np

from fastdl._argcheck import check_tensor_arg
from fastdl.autograd.op import defop, sync_view
from fastdl.functional import _special_bessel as B, _special_gamma as G, \
    _special_polynomials as P
from fastdl.functional._core import _wrap, grad_for, promote_pair
from fastdl.functional.arithmetic import add_scalar_op, exp, log, mul, neg, sub
from fastdl.functional.elementwise_math import lgamma
from fastdl.functional.elementwise_more import _not_implemented, _require_a_tensor
from fastdl.tensor import get_default_dtype


def _floating(input, name):
    check_tensor_arg(input, name)
    if input._view is not None:
        sync_view(input)
    return input if input._data.dtype.kind == "f" else input.to(get_default_dtype())


def _floating_pair(input, other, name):
    _require_a_tensor(input, other, name)
    a, b = promote_pair(input, other)
    if a._data.dtype.kind != "f":
        a, b = a.to(get_default_dtype()), b.to(get_default_dtype())
    for t in (a, b):
        if t._view is not None:
            sync_view(t)
    return a, b


def _no_grad_unary(array_fn, name, summary, example, shown):
    def fn(input):
        return _wrap(array_fn(_floating(input, name)._data))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"{summary} Integer inputs give the default float dtype; the result does not "
                  f"require grad (torch defines no derivative).\n\nShape: input's.\n\n"
                  f">>> y = fastdl.special.{name}(fastdl.tensor({example}))\n"
                  f">>> [round(v, 6) for v in y.tolist()]\n{shown}\n")
    return fn


# name -> (its summary, an example input, the example's rounded output); each becomes the
# module-level function of that name
_UNARY = {
    "bessel_j0": ("The Bessel function of the first kind of order 0.",
                  "[0.0, 2.0]", "[1.0, 0.223891]"),
    "bessel_j1": ("The Bessel function of the first kind of order 1 (odd).",
                  "[0.0, -2.0]", "[0.0, -0.576725]"),
    "bessel_y0": ("The Bessel function of the second kind of order 0: -inf at 0, NaN for "
                  "x < 0.", "[0.0, 2.0]", "[-inf, 0.510376]"),
    "bessel_y1": ("The Bessel function of the second kind of order 1: -inf at 0, NaN for "
                  "x < 0.", "[0.0, 2.0]", "[-inf, -0.107032]"),
    "modified_bessel_i0": ("The modified Bessel function of the first kind of order 0 "
                           "(``fastdl.i0`` with torch's NaN at +-inf and no gradient).",
                           "[0.0, 1.0]", "[1.0, 1.266066]"),
    "modified_bessel_i1": ("The modified Bessel function of the first kind of order 1 (odd; "
                           "NaN at +-inf).", "[0.0, -1.0]", "[0.0, -0.565159]"),
    "modified_bessel_k0": ("The modified Bessel function of the second kind of order 0: inf "
                           "at 0, NaN for x < 0.", "[0.0, 1.0]", "[inf, 0.421024]"),
    "modified_bessel_k1": ("The modified Bessel function of the second kind of order 1: inf "
                           "at 0, NaN for x < 0.", "[0.0, 1.0]", "[inf, 0.601907]"),
    "scaled_modified_bessel_k0": ("``exp(x) * modified_bessel_k0(x)``, finite for large x.",
                                  "[1.0, 1000.0]", "[1.144463, 0.039628]"),
    "scaled_modified_bessel_k1": ("``exp(x) * modified_bessel_k1(x)``, finite for large x.",
                                  "[1.0, 1000.0]", "[1.636153, 0.039648]"),
    "spherical_bessel_j0": ("The spherical Bessel function of the first kind of order 0, "
                            "``sin(x) / x`` (1 at 0, 0 at +-inf).", "[0.0, 3.0]",
                            "[1.0, 0.04704]"),
    "airy_ai": ("The Airy function Ai (NaN at +-inf, as torch).", "[0.0, -1.0]",
                "[0.355028, 0.535561]"),
}
for _name, (_summary, _example, _shown) in _UNARY.items():
    globals()[_name] = _no_grad_unary(getattr(B, _name), _name, _summary, _example, _shown)


# ---- the incomplete gamma functions -----------------------------------------------------------
def _incomplete_gamma_backward(name, sign):
    def backward(ctx, g):
        a, x = ctx.inputs
        wants_a, wants_x = ctx.edges
        if wants_a is not None:
            raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
        # d/dx P(a, x) = x^(a - 1) e^-x / Gamma(a), torch's formula (Q's is its negative)
        density = exp(sub(sub(mul(add_scalar_op.apply((a,), -1.0), log(x)), x), lgamma(a)))
        return None, grad_for(mul(g, density) if sign > 0 else neg(mul(g, density)), x)
    return backward


_igamma_op = defop("igamma", forward=G.gammainc, saves=(0, 1),
                   backward=_incomplete_gamma_backward("igamma", 1))
_igammac_op = defop("igammac", forward=G.gammaincc, saves=(0, 1),
                    backward=_incomplete_gamma_backward("igammac", -1))


def _incomplete_gamma_args(input, other, name):
    _require_a_tensor(input, other, name)
    a, x = promote_pair(input, other)
    if a._data.dtype.kind != "f":
        raise _not_implemented(name, a._data.dtype)
    return a, x


def igamma(input, other):
    """The regularized lower incomplete gamma function ``P(input, other)`` =
    ``gamma(a, x) / Gamma(a)``, for a, x >= 0 (NaN for negative arguments and at a = x = 0).
    Floating point tensors only, as in torch. Differentiable in ``other`` only (backward
    raises NotImplementedError for ``input``, as torch's).

    Shape: input and other broadcast together.

    >>> p = fastdl.igamma(fastdl.tensor([1.0, 2.0]), fastdl.tensor([1.0, 0.0]))
    >>> [round(v, 6) for v in p.tolist()]
    [0.632121, 0.0]
    """
    return _igamma_op.apply(_incomplete_gamma_args(input, other, "igamma"))


def igammac(input, other):
    """The regularized upper incomplete gamma function ``Q(input, other) = 1 - P(input,
    other)``, accurate where P is close to 1. Floating point tensors only; differentiable in
    ``other`` only, as in torch.

    Shape: input and other broadcast together.

    >>> q = fastdl.igammac(fastdl.tensor([1.0], dtype=fastdl.float64), 30.0)
    >>> f"{q.item():.10e}"
    '9.3576229688e-14'
    """
    return _igammac_op.apply(_incomplete_gamma_args(input, other, "igammac"))


def gammainc(input, other):
    """torch.special's name of :func:`fastdl.igamma`, ``P(input, other)``.

    >>> round(fastdl.special.gammainc(fastdl.tensor([0.5]), fastdl.tensor([0.5])).item(), 6)
    0.682689
    """
    return igamma(input, other)


def gammaincc(input, other):
    """torch.special's name of :func:`fastdl.igammac`, ``Q(input, other)``.

    >>> round(fastdl.special.gammaincc(fastdl.tensor([0.5]), fastdl.tensor([0.5])).item(), 6)
    0.317311
    """
    return igammac(input, other)


# ---- Hurwitz zeta -----------------------------------------------------------------------------
def _zeta_backward(ctx, g):
    x, q = ctx.inputs
    wants_x, wants_q = ctx.edges
    if wants_x is not None:
        raise NotImplementedError("the derivative for 'zeta' is not implemented.")
    # d/dq zeta(x, q) = -x zeta(x + 1, q), torch's formula
    return None, grad_for(neg(mul(g, mul(x, _zeta_op.apply((add_scalar_op.apply((x,), 1.0),
                                                                 q))))), q)


_zeta_op = defop("zeta", forward=G.zeta, backward=_zeta_backward, saves=(0, 1))


def zeta(input, other):
    """The Hurwitz zeta function ``sum_{k >= 0} (other + k) ** -input``; with other = 1 the
    Riemann zeta function. inf at input = 1 and at other = 0, -1, -2 ...; NaN for input < 1
    and, unless input is an integer, for other < 0. Either argument may be a Python number.
    Integer inputs give the default float dtype. Differentiable in ``other`` only (as torch).

    Shape: input and other broadcast together.

    >>> round(fastdl.special.zeta(fastdl.tensor([2.0], dtype=fastdl.float64), 1.0).item(), 12)
    1.644934066848
    """
    return _zeta_op.apply(_floating_pair(input, other, "zeta"))


# ---- orthogonal polynomials -------------------------------------------------------------------
def _polynomial(array_fn, name, summary, example):
    def fn(input, n):
        x, k = _floating_pair(input, n, name)
        return _wrap(array_fn(x._data, k._data))
    fn.__name__ = fn.__qualname__ = name
    values = example[1]
    fn.__doc__ = (
        f"{summary} at ``input`` of degree ``n`` (a tensor or a number, truncated to an "
        f"integer; negative degrees give 0). Evaluated by the three-term recurrence as torch "
        f"does (a recurrence that overflows gives NaN); the result does not require grad "
        f"(torch defines no derivative). Integer inputs give the default float dtype.\n\n"
        f"Shape: input and n broadcast together.\n\n"
        f">>> fastdl.special.{name}(fastdl.tensor([0.5, 2.0]), {example[0]}).tolist()\n"
        f"{values}\n")
    return fn


def _chebyshev(kind, shifted):
    return lambda x, n: P.chebyshev_polynomial(kind, x, n, shifted)


_KINDS = {"t": "first", "u": "second", "v": "third", "w": "fourth"}
_CHEBYSHEV_EXAMPLES = {  # (kind, shifted) -> (the example's degree, its output)
    ("t", False): ("3", "[-1.0, 26.0]"), ("u", False): ("2", "[0.0, 15.0]"),
    ("v", False): ("2", "[-1.0, 11.0]"), ("w", False): ("2", "[1.0, 19.0]"),
    ("t", True): ("2", "[-1.0, 17.0]"), ("u", True): ("2", "[-1.0, 35.0]"),
    ("v", True): ("2", "[-1.0, 29.0]"), ("w", True): ("2", "[-1.0, 41.0]"),
}
for (_kind, _shifted), _example in _CHEBYSHEV_EXAMPLES.items():
    _name = f"{'shifted_' if _shifted else ''}chebyshev_polynomial_{_kind}"
    _upper = _kind.upper()
    _summary = (f"The shifted Chebyshev polynomial of the {_KINDS[_kind]} kind "
                f"{_upper}*_n(x) = {_upper}_n(2x - 1)" if _shifted else
                f"The Chebyshev polynomial of the {_KINDS[_kind]} kind {_upper}_n")
    globals()[_name] = _polynomial(_chebyshev(_kind, _shifted), _name, _summary, _example)

hermite_polynomial_h = _polynomial(
    P.hermite_polynomial_h, "hermite_polynomial_h",
    "The physicists' Hermite polynomial H_n (NaN above degree 512, 128 in float32, as torch)",
    ("2", "[-1.0, 14.0]"))
hermite_polynomial_he = _polynomial(
    P.hermite_polynomial_he, "hermite_polynomial_he",
    "The probabilists' Hermite polynomial He_n (NaN above degree 512, 128 in float32)",
    ("2", "[-0.75, 3.0]"))
laguerre_polynomial_l = _polynomial(
    P.laguerre_polynomial_l, "laguerre_polynomial_l", "The Laguerre polynomial L_n",
    ("2", "[0.125, -1.0]"))
legendre_polynomial_p = _polynomial(
    P.legendre_polynomial_p, "legendre_polynomial_p", "The Legendre polynomial P_n",
    ("2", "[-0.125, 5.5]"))

__all__ = [
    "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t",
    "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "gammainc",
    "gammaincc", "hermite_polynomial_h", "hermite_polynomial_he", "igamma", "igammac",
    "laguerre_polynomial_l", "legendre_polynomial_p", "modified_bessel_i0",
    "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
    "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "spherical_bessel_j0", "zeta"]
