"""Differentiable lgamma, digamma, polygamma, erf and erfinv for the distributions' densities.

Private to fastdl.distributions until fastdl grows public ones: numpy/cupy forwards (Lanczos for
lgamma, recurrence plus asymptotic series for the polygammas, Newton-polished Giles start for
erfinv) and backwards written with fastdl ops, so gradients of gradients also work.
"""
from __future__ import annotations

import math

import numpy as np

from fastdl import backend
from fastdl.autograd.function import Function
from fastdl.nn.functional._special import erf as _erf_array
from fastdl.tensor import _wrap

_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7)
# Bernoulli numbers B_2, B_4, ... B_12 of the asymptotic polygamma series
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730)
_ASYMPTOTIC_FROM = 10.0  # shift arguments up to here: the series is then exact to ~1e-14


def _lgamma_array(x):
    xp = backend.array_module(x)
    z = x.astype(np.float64)
    # reflection for z < 0.5: lgamma(z) = log(pi / |sin(pi z)|) - lgamma(1 - z)
    reflect = z < 0.5
    w = xp.where(reflect, 1.0 - z, z) - 1.0
    series = xp.full(w.shape, _LANCZOS[0])
    for i, c in enumerate(_LANCZOS[1:], start=1):
        series = series + c / (w + i)
    t = w + _LANCZOS_G + 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 0.5 * math.log(2 * math.pi) + (w + 0.5) * xp.log(t) - t + xp.log(series)
        reflected = math.log(math.pi) - xp.log(xp.abs(xp.sin(math.pi * z))) - out
    return xp.where(reflect, reflected, out).astype(x.dtype)


def _shift_up(z, xp, term):
    """Move every z below _ASYMPTOTIC_FROM up by recurrence, summing term(z) per step."""
    acc = xp.zeros_like(z)
    for _ in range(int(_ASYMPTOTIC_FROM)):
        small = z < _ASYMPTOTIC_FROM
        acc = acc + xp.where(small, term(z), 0.0)
        z = xp.where(small, z + 1.0, z)
    return z, acc


def _digamma_array(x):
    xp = backend.array_module(x)
    z = x.astype(np.float64)
    reflect = z < 0.5
    # reflection: digamma(z) = digamma(1 - z) - pi / tan(pi z)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = xp.where(reflect, 1.0 - z, z)
        w, acc = _shift_up(w, xp, lambda v: -1.0 / v)
        inv2 = 1.0 / (w * w)
        series = xp.zeros_like(w)
        for k in range(len(_BERNOULLI), 0, -1):
            series = (series + _BERNOULLI[k - 1] / (2 * k)) * inv2
        out = xp.log(w) - 0.5 / w - series + acc
        out = xp.where(reflect, out - math.pi / xp.tan(math.pi * z), out)
        out = xp.where((z <= 0) & (z == xp.floor(z)), xp.nan, out)
    return out.astype(x.dtype)


def _polygamma_array(n, x):
    """polygamma(n, x) for n >= 1 and x > 0 (NaN elsewhere: the densities never need more)."""
    xp = backend.array_module(x)
    z = x.astype(np.float64)
    sign = -1.0 if n % 2 == 0 else 1.0  # (-1)^(n + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w, acc = _shift_up(z, xp, lambda v: math.factorial(n) / v ** (n + 1))
        out = math.factorial(n - 1) / w ** n + math.factorial(n) / (2 * w ** (n + 1))
        for k, b in enumerate(_BERNOULLI, start=1):
            out = out + b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) / w ** (2 * k + n)
        out = sign * (out + acc)
    return xp.where(z > 0, out, xp.nan).astype(x.dtype)


def _elementwise_function(name, forward_array, derivative):
    """A Function applying ``forward_array`` to x's array, with gradient grad * derivative(x)
    (derivative written with fastdl ops, so the backward is differentiable too)."""

    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _wrap(forward_array(x._data).astype(x._data.dtype))

    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * derivative(x)

    return type(name, (Function,), {"forward": staticmethod(forward),
                                    "backward": staticmethod(backward)})


_Lgamma = _elementwise_function("_Lgamma", _lgamma_array, lambda x: digamma(x))
_Digamma = _elementwise_function("_Digamma", _digamma_array, lambda x: polygamma(1, x))
_Erf = _elementwise_function("_Erf", _erf_array,
                             lambda x: (2.0 / math.sqrt(math.pi)) * (-(x * x)).exp())


class _Polygamma(Function):
    @staticmethod
    def forward(ctx, n, x):
        ctx.order = n
        ctx.save_for_backward(x)
        return _wrap(_polygamma_array(n, x._data))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return None, grad * polygamma(ctx.order + 1, x)


def _erfinv_array(x):
    xp = backend.array_module(x)
    z = x.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Giles' single-precision start ("Approximating the erfinv function", 2010) ...
        w = -xp.log((1.0 - z) * (1.0 + z))
        central, tail = w - 2.5, xp.sqrt(w) - 3.0
        p_c = xp.full(z.shape, 2.81022636e-08)
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941):
            p_c = c + p_c * central
        p_t = xp.full(z.shape, -0.000200214257)
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                  -0.0076224613, 0.00943887047, 1.00167406, 2.83297682):
            p_t = c + p_t * tail
        y = xp.where(w < 5.0, p_c, p_t) * z
        # ... then Newton steps on erf(y) = z (quadratic: two reach double precision)
        for _ in range(2):
            step = (_erf_array(y) - z) / ((2.0 / math.sqrt(math.pi)) * xp.exp(-y * y))
            y = y - xp.where(xp.isfinite(step), step, 0.0)
        y = xp.where(xp.abs(z) == 1.0, xp.copysign(xp.inf, z), y)
        y = xp.where(xp.abs(z) > 1.0, xp.nan, y)
    return y.astype(x.dtype)


class _Erfinv(Function):
    @staticmethod
    def forward(ctx, x):
        out = _wrap(_erfinv_array(x._data))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (math.sqrt(math.pi) / 2.0) * (y * y).exp()


def lgamma(x):
    return _Lgamma.apply(x)


def digamma(x):
    return _Digamma.apply(x)


def polygamma(n, x):
    return _Polygamma.apply(n, x)


def erf(x):
    return _Erf.apply(x)


def erfinv(x):
    return _Erfinv.apply(x)
