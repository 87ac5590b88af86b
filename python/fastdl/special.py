"""``fastdl.special``: torch.special's functions (the scipy.special names).

Most are other names of fastdl functions (``expit`` is ``sigmoid``, ``gammaln`` is ``lgamma``,
``psi`` is ``digamma`` ...); entr, ndtr, ndtri, log_ndtr, xlog1py, erfcx and the scaled Bessel
functions i0e / i1e and i1 exist only here, as do the functions of
functional/elementwise_special.py: the Bessel functions (bessel_j0 ... scaled_modified_bessel_k1,
spherical_bessel_j0), airy_ai, gammainc / gammaincc (fastdl.igamma / igammac), the Hurwitz zeta
function and the orthogonal polynomials (chebyshev_polynomial_t ... legendre_polynomial_p). All
take and return tensors, with torch's dtypes and gradients.
"""
from __future__ import annotations

import math

import numpy as np

from fastdl.autograd.op import defop
from fastdl.functional import _special_arrays as S
from fastdl.functional.activations import log_softmax, softmax
from fastdl.functional.arithmetic import (_float_only, add_scalar_op, exp, expm1, log, log1p,
                                          mul, mul_scalar_op, neg, reciprocal, round, sigmoid,
                                          where)
from fastdl.functional.pointwise_edges import logit, sinc, x_times_log_op, xlogy
from fastdl.functional.elementwise_math import (digamma, erf, erfc, erfcx, erfinv, exp2, i0,
                                                i0e, i1, i1e, lgamma, mvlgamma, polygamma)
from fastdl.functional.elementwise_more import _float_pair
from fastdl.functional.elementwise_special import *  # noqa: F401,F403  (bessel_j0, zeta ...)
from fastdl.functional.elementwise_special import __all__ as _MORE
from fastdl.functional.reductions import logsumexp

expit, gammaln, psi, multigammaln = sigmoid, lgamma, digamma, mvlgamma
_SQRT_HALF = math.sqrt(0.5)
_SQRT_TWO_PI = math.sqrt(2.0 * math.pi)


def _scaled(t, s):
    return mul_scalar_op.apply((t,), s)


# ---- entropy ------------------------------------------------------------------------------
def _entr_forward(d):
    with np.errstate(all="ignore"):
        inside = -d * np.log(d)
    return np.where(d > 0, inside, np.where(d == 0, 0.0, np.where(d < 0, -np.inf, d))
                    ).astype(d.dtype, copy=False)


_entr_op = defop("entr", forward=_entr_forward, saves=(0,), float_only=True,
                 backward=lambda ctx, g: (neg(mul(g, add_scalar_op.apply((log(ctx.inputs[0]),),
                                                                         1.0))),))


def entr(input):
    """``-x ln(x)`` elementwise: 0 at 0, -inf for x < 0. Integer inputs give float32.

    Shape: input's.

    >>> fastdl.special.entr(fastdl.tensor([0.0, 1.0, -1.0])).tolist()
    [0.0, -0.0, -inf]
    """
    return _entr_op.unary(_float_only(input, "entr"))


# ---- the standard normal distribution ------------------------------------------------------
def ndtr(input):
    """The standard normal CDF, ``(1 + erf(x / sqrt(2))) / 2`` (computed from erfc, accurate
    in the lower tail). Integer inputs give float32.

    Shape: input's.

    >>> fastdl.special.ndtr(fastdl.tensor([0.0])).tolist()
    [0.5]
    """
    return _scaled(erfc(_scaled(_float_only(input, "ndtr"), -_SQRT_HALF)), 0.5)


def _log_ndtr_forward(d):
    x = d.astype(np.float64)
    with np.errstate(all="ignore"):
        lower = np.log(S.erfcx(-x * _SQRT_HALF) / 2) - 0.5 * x * x  # no underflow for x << 0
        upper = np.log1p(-0.5 * S.erfc(x * _SQRT_HALF))
    return np.where(x < -1, lower, upper).astype(d.dtype, copy=False)


def _log_ndtr_backward(ctx, g):
    (x,), y = ctx.inputs, ctx.output
    # d/dx log Phi(x) = phi(x) / Phi(x). torch takes exp(-x^2 / 2 - log Phi(x)) / sqrt(2 pi),
    # which cancels for x << 0 (x^2 / 2 ~ -log Phi(x)); there sqrt(2 / pi) / erfcx(-x / sqrt 2)
    # is the same ratio without cancellation
    lower = x < -1
    x_lower, x_upper = where(lower, x, -1.0), where(lower, 0.0, x)
    tail = _scaled(reciprocal(erfcx(_scaled(x_lower, -_SQRT_HALF))), math.sqrt(2.0 / math.pi))
    y_upper = where(lower, 0.0, y)
    body = _scaled(exp(neg(y_upper + _scaled(mul(x_upper, x_upper), 0.5))), 1.0 / _SQRT_TWO_PI)
    return (mul(g, where(lower, tail, body)),)


_log_ndtr_op = defop("log_ndtr", forward=_log_ndtr_forward, backward=_log_ndtr_backward,
                     saves=(0,), saves_output=True, float_only=True)


def log_ndtr(input):
    """``log(ndtr(x))``, finite far into the lower tail (-x^2 / 2 - ...). Integer inputs give
    float32.

    Shape: input's.

    >>> round(fastdl.special.log_ndtr(fastdl.tensor([-20.0])).item(), 3)
    -203.917
    """
    return _log_ndtr_op.unary(_float_only(input, "log_ndtr"))


_ndtri_op = defop("ndtri", forward=S.ndtri, saves_output=True, float_only=True,
                  backward=lambda ctx, g: (_scaled(mul(g, exp(_scaled(mul(ctx.output, ctx.output),
                                                                       0.5))), _SQRT_TWO_PI),))


def ndtri(input):
    """The standard normal quantile, the inverse of ndtr: -inf at 0, inf at 1, NaN outside
    [0, 1]. Integer inputs give float32.

    Shape: input's.

    >>> round(fastdl.special.ndtri(fastdl.tensor([0.975])).item(), 4)
    1.96
    """
    return _ndtri_op.unary(_float_only(input, "ndtri"))


# ---- x * log1p(y) -------------------------------------------------------------------------
_xlog1py_op = x_times_log_op("xlog1py", np.log1p, 1)


def xlog1py(input, other):
    """``input * log1p(other)``, 0 where input is 0 (unless other is NaN). Integer inputs give
    float32.

    Shape: input and other broadcast together.

    >>> fastdl.special.xlog1py(fastdl.tensor([0.0, 2.0]), fastdl.tensor([-1.0, 0.0])).tolist()
    [0.0, 0.0]
    """
    return _xlog1py_op.apply(_float_pair(input, other, "xlog1py"))


__all__ = ["digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1",
           "gammaln", "i0", "i0e", "i1", "i1e", "log1p", "log_ndtr", "log_softmax", "logit",
           "logsumexp", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round", "sinc",
           "softmax", "xlog1py", "xlogy"] + [n for n in _MORE if n not in ("igamma", "igammac")]
